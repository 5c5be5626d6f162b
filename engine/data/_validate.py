"""Argument checks shared by the data modules; every failure names the argument and value."""

from __future__ import annotations

import math

import numpy as np


def check_int(name: str, value: object, minimum: int, maximum: int | None = None) -> int:
    """Return ``value`` as int if it is an integer in ``[minimum, maximum]``, else ValueError."""
    ok = isinstance(value, (int, np.integer)) and not isinstance(value, bool)
    if ok and value >= minimum and (maximum is None or value <= maximum):
        return int(value)
    allowed = f">= {minimum}" if maximum is None else f"in [{minimum}, {maximum}]"
    raise ValueError(f"{name} must be an int {allowed}, got {value!r}")


def check_float(
    name: str,
    value: object,
    minimum: float,
    maximum: float | None = None,
    *,
    open_min: bool = False,
    open_max: bool = False,
) -> float:
    """Return ``value`` as float if it is a finite real within the bounds, else ValueError."""
    ok = isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool)
    if ok:
        v = float(value)
        ok = math.isfinite(v)
        ok = ok and (v > minimum if open_min else v >= minimum)
        if maximum is not None:
            ok = ok and (v < maximum if open_max else v <= maximum)
    if ok:
        return v
    lo = f"{'(' if open_min else '['}{minimum}"
    hi = f"{maximum}{')' if open_max else ']'}" if maximum is not None else "inf)"
    raise ValueError(f"{name} must be a finite number in {lo}, {hi}, got {value!r}")
