"""Argument checking shared by every engine entry point.

Every failure is a ``ValueError`` whose message names the argument, what it got and what is
allowed, so nobody meets a NumPy broadcasting error from deep inside a backward pass.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

import numpy as np

Array = np.ndarray


def positive_int(value: Any, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value <= 0:
        raise ValueError(f"{name}: expected a positive integer, got {value!r}")
    return int(value)


def choice(value: Any, allowed: Iterable[str], name: str) -> str:
    allowed = tuple(allowed)
    if not isinstance(value, str) or value not in allowed:
        raise ValueError(f"{name}: expected one of {', '.join(map(repr, allowed))}, got {value!r}")
    return value


def finite_float(value: Any, name: str, *, positive: bool = False, minimum: float | None = None) -> float:
    try:
        f = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{name}: expected a number, got {value!r}") from None
    if isinstance(value, bool) or not math.isfinite(f):
        raise ValueError(f"{name}: expected a finite number, got {value!r}")
    if positive and f <= 0:
        raise ValueError(f"{name}: expected a number > 0, got {value!r}")
    if minimum is not None and f < minimum:
        raise ValueError(f"{name}: expected a number >= {minimum}, got {value!r}")
    return f


def float_array(value: Any, name: str, shape: tuple[int | None, ...] | None = None,
                what: str = "") -> Array:
    """As a float64 array with an optional expected shape (None = any size); NaN/Inf refused."""
    try:
        a = np.asarray(value)
    except Exception:  # noqa: BLE001 - anything unconvertible is the caller's input error
        raise ValueError(f"{name}: expected an array of numbers, got {type(value).__name__}") from None
    if a.dtype == object or not (np.issubdtype(a.dtype, np.number) or a.dtype == bool):
        raise ValueError(f"{name}: expected an array of numbers, got dtype {a.dtype}")
    a = a.astype(np.float64, copy=False)
    if shape is not None:
        check_shape(a, shape, name, what)
    if not np.all(np.isfinite(a)):
        bad = np.argwhere(~np.isfinite(a))[0]
        raise ValueError(f"{name}: contains NaN or Inf (first at index {tuple(int(i) for i in bad)})")
    return a


def int_array(value: Any, name: str, shape: tuple[int | None, ...] | None = None,
              upper: int | None = None, what: str = "") -> Array:
    """As an int64 array of ids in ``[0, upper)``; floats holding whole numbers are refused too,
    because a float input means the caller meant features, not token ids."""
    a = np.asarray(value)
    if a.dtype.kind not in "iu":  # (bool is kind "b")
        raise ValueError(f"{name}: expected integer ids, got dtype {a.dtype}")
    a = a.astype(np.int64, copy=False)
    if shape is not None:
        check_shape(a, shape, name, what)
    if a.size and ((lo := a.min()) < 0 or (upper is not None and a.max() >= upper)):
        bad = lo if lo < 0 else a.max()
        hi = f"{upper - 1}" if upper is not None else "inf"
        raise ValueError(f"{name}: id {int(bad)} out of range; allowed 0..{hi}")
    return a


def check_shape(a: Array, shape: tuple[int | None, ...], name: str, what: str = "") -> None:
    want = "(" + ", ".join("*" if s is None else str(s) for s in shape) + ")"
    ok = a.ndim == len(shape) and all(s is None or s == n for s, n in zip(shape, a.shape))
    if not ok:
        extra = f" {what}" if what else ""
        raise ValueError(f"{name}: expected shape {want}{extra}, got {a.shape}")
