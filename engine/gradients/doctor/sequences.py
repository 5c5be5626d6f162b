"""Sequences: cutting inputs and targets to their first L timesteps, the batch size, and the search
for the first sequence length at which a gradient is wrong.

The search checks T=1, then T=2, then bisects between the last good and the first bad length
(a backward pass that is right up to T=k is right for every shorter length too: the errors of a
truncated or broken path through time only appear once the sequence is longer than what the code
handles). With at most 6 timesteps every length is checked in turn. Bisection needs about
log2(T) re-checks, so the first bad length survives a time budget at realistic sizes.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

#: Up to this many timesteps every prefix length is re-checked in turn; beyond it, bisection.
LINEAR_UP_TO = 6


def shape_of(obj: Any) -> tuple[int, ...] | None:
    try:
        return np.shape(obj)
    except (ValueError, TypeError):
        return None


def prefix(obj: Any, axis: int, L: int) -> Any:
    """The first ``L`` entries of ``obj`` along ``axis``, keeping its type where it can."""
    if isinstance(obj, np.ndarray):
        sl = [slice(None)] * obj.ndim
        sl[axis] = slice(0, L)
        return obj[tuple(sl)].copy()
    if isinstance(obj, (list, tuple)) and axis == 0:
        return obj[:L]
    a = np.asarray(obj)
    sl = [slice(None)] * a.ndim
    sl[axis] = slice(0, L)
    a = a[tuple(sl)]
    return a.tolist() if isinstance(obj, list) else a


def target_axis(targets: Any, seq_axis: int, inputs_ndim: int, T: int) -> int | None:
    """The time axis of ``targets``: ``seq_axis`` if it has length T there, else the same axis
    counted after the inputs' missing trailing (feature) axes; None for many-to-one targets."""
    shape = shape_of(targets)
    if shape is None:
        return None
    candidates = [seq_axis]
    if len(shape) < inputs_ndim:
        candidates.append(seq_axis - (inputs_ndim - len(shape)))
    for a in candidates:
        if 0 <= a < len(shape) and shape[a] == T:
            return a
    return None


def batch_size(inputs: Any, targets: Any, seq_axis: int | None, batch_axis: int | None) -> int | None:
    """The batch size: ``inputs.shape[batch_axis]`` when given. Otherwise only an axis that can be
    nothing else: integer inputs (token ids) have no feature axis, so every non-time axis is a
    batch candidate; float inputs keep their features on the last non-time axis, which is never
    called the batch. With no candidate left the input is one sequence (B=1); otherwise the batch
    is the first candidate whose length the targets share at the same axis (a bag of word ids with
    one label has none). None if unknown."""
    shape = shape_of(inputs) or ()
    nd = len(shape)
    if batch_axis is not None:
        return shape[batch_axis % nd] if nd and -nd <= batch_axis < nd else None
    axes = [k for k in range(nd) if k != seq_axis]
    try:
        integer = np.issubdtype(np.asarray(inputs).dtype, np.integer)
    except (ValueError, TypeError):
        integer = False
    if not integer and axes:
        axes = axes[:-1]  # the feature axis
    if integer and nd == 1 and seq_axis is None:
        return None  # a list of ids with no time axis given: a sequence as likely as a batch
    if not axes:
        return 1 if seq_axis is not None else None
    tshape = shape_of(targets) or ()
    shared = [k for k in axes if k < len(tshape) and tshape[k] == shape[k]]
    return shape[shared[0]] if shared else None


@dataclass
class Scan:
    """What the search found: the comparison at every length checked, the first bad length (None
    if none was found or the time ran out), and why it stopped early (or None)."""

    done: dict[int, Any] = field(default_factory=dict)
    first_bad: int | None = None
    stopped: str | None = None
    unresolved: tuple[int, int] | None = None  # (last good, first bad) when the time ran out


def scan(T: int, compare_at: Callable[[int], Any], is_bad: Callable[[Any], bool], *, deadline: float) -> Scan:
    """Find the first prefix length L <= T at which ``is_bad(compare_at(L))``, T itself known bad.
    ``compare_at`` may raise ``StopIteration(reason)`` to end the search (unusable output)."""
    out = Scan()

    def at(L: int) -> bool | None:
        if time.perf_counter() > deadline:
            out.stopped = f"Stopped re-checking shorter sequences at T={L} to stay within the time budget."
            return None
        try:
            comp = compare_at(L)
        except StopIteration as e:
            out.stopped = str(e)
            return None
        out.done[L] = comp
        return is_bad(comp)

    if T <= LINEAR_UP_TO:
        for L in range(1, T):
            bad = at(L)
            if bad is None:
                return out
            if bad:
                out.first_bad = L
                return out
        out.first_bad = T
        return out
    good = 0
    for L in (1, 2):
        bad = at(L)
        if bad is None:
            return out
        if bad:
            out.first_bad = L
            return out
        good = L
    hi = T
    while hi - good > 1:
        mid = (good + hi) // 2
        bad = at(mid)
        if bad is None:
            out.unresolved = (good, hi)
            return out
        if bad:
            hi = mid
        else:
            good = mid
    out.first_bad = hi
    return out
