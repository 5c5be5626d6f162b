"""Which entries to check, and how many the time allows.

A large parameter is checked on a seeded sample. Uniform sampling misses sparse gradients (an
embedding, or ``W_xh`` with one-hot inputs, where only the rows of the ids in the batch get any
gradient), so a third of the sample is drawn from the slices the inputs touch, a third from the
entries where the analytic gradient is non-zero, and the rest uniformly (a pool that is too small
hands its share on). The time per call is the median of several calls, so one slow first call
(imports, caches, a cold CPU) does not cut the coverage.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

Array = np.ndarray


def timed_calls(call: Callable[[], Any], *, at_least: int = 3, at_most: int = 7,
                seconds: float = 0.5) -> tuple[list[Any], float]:
    """Call ``call()`` ``at_least`` times, then more while under ``seconds`` (at most ``at_most``);
    returns the results and the median time per call."""
    results, times = [], []
    start = time.perf_counter()
    while len(results) < at_least or (len(results) < at_most and time.perf_counter() - start < seconds):
        t0 = time.perf_counter()
        results.append(call())
        times.append(time.perf_counter() - t0)
    return results, float(np.median(times))


def ids_in(inputs: Any) -> Array | None:
    """The token ids in ``inputs``: the values of integer arrays (or lists of ints, also inside
    dicts, lists and tuples), or the hot positions of one-hot float arrays along their last axis.
    A sorted array of unique non-negative ints, or None when there are none."""
    found: list[Array] = []

    def visit(obj: Any, depth: int = 0) -> None:
        if depth > 3:
            return
        if isinstance(obj, Mapping):
            for v in obj.values():
                visit(v, depth + 1)
            return
        try:
            a = np.asarray(obj)
        except (ValueError, TypeError):
            a = None
        if a is None or a.dtype == object:
            if isinstance(obj, (list, tuple)):
                for v in obj:
                    visit(v, depth + 1)
            return
        if a.size == 0:
            return
        if np.issubdtype(a.dtype, np.integer):
            found.append(a.reshape(-1).astype(np.int64))
        elif np.issubdtype(a.dtype, np.floating) and a.ndim >= 1 and a.shape[-1] > 2:
            hot = (a == 1) | (a == 0)
            if hot.all() and np.all(a.sum(axis=-1) <= 1):
                found.append(np.nonzero(a.reshape(-1, a.shape[-1]))[1].astype(np.int64))

    visit(inputs)
    if not found:
        return None
    ids = np.unique(np.concatenate(found))
    ids = ids[ids >= 0]
    return ids if ids.size else None


def id_counts(inputs: Any) -> Array | None:
    """How often each id occurs in the integer inputs (``np.bincount``), None without integer ids."""
    try:
        a = np.asarray(inputs)
    except (ValueError, TypeError):
        return None
    if a.dtype == object or not np.issubdtype(a.dtype, np.integer) or a.size == 0 or a.min() < 0:
        return None
    return np.bincount(a.reshape(-1))


def touched(shape: tuple[int, ...], ids: Array | None) -> Array:
    """Flat indices of the entries of a parameter of ``shape`` on the slices of the ids, along
    every axis long enough to be indexed by them (an embedding's rows, ``W_xh``'s columns)."""
    if ids is None or not shape:
        return np.empty(0, dtype=np.int64)
    size = int(np.prod(shape))
    grid = np.arange(size).reshape(shape)
    out = []
    for axis, n in enumerate(shape):
        if n > ids[-1] and n > 2:
            out.append(np.take(grid, ids, axis=axis).reshape(-1))
    return np.unique(np.concatenate(out)) if out else np.empty(0, dtype=np.int64)


def pick(shape: tuple[int, ...], count: int, grad: Array | None, ids: Array | None,
         rng: np.random.Generator) -> tuple[Array, bool]:
    """``count`` flat indices of a parameter of ``shape`` (all of them when it is not larger), and
    whether the sample was steered to where the gradient lives (see the module docstring)."""
    size = int(np.prod(shape, dtype=np.int64))
    if size <= count:
        return np.arange(size), False
    pools = [touched(shape, ids)]
    if grad is not None:
        live = np.flatnonzero(grad.reshape(-1))
        if 0 < live.size < size:
            pools.append(live)
    pools = [p for p in pools if p.size]
    if not pools:
        return np.sort(rng.choice(size, count, replace=False)), False
    chosen = np.empty(0, dtype=np.int64)
    share = count // (len(pools) + 1)
    for pool in pools:
        rest = np.setdiff1d(pool, chosen, assume_unique=False)
        k = min(share, rest.size, count - chosen.size)
        if k:
            chosen = np.union1d(chosen, rng.choice(rest, k, replace=False))
    others = np.setdiff1d(np.arange(size), chosen, assume_unique=True)
    k = min(count - chosen.size, others.size)
    if k:
        chosen = np.union1d(chosen, rng.choice(others, k, replace=False))
    return np.sort(chosen), True
