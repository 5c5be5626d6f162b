"""Two-dimensional toy classification sets for MLPs, and a grid for decision-boundary images.

Every generator returns ``X (N, 2)`` float64 and ``y (N,)`` int64 in a shuffled order, with class
sizes that differ by at most one. The same ``seed`` gives the same arrays bit for bit.
"""

from __future__ import annotations

import numpy as np

from ._validate import check_float, check_int
from .seeding import Seed, as_generator
from .split import train_test_split

__all__ = ["blobs", "circles", "grid", "spirals", "train_test_split", "xor"]


def _sizes(n: int, k: int) -> np.ndarray:
    """Split ``n`` into ``k`` counts that differ by at most one."""
    return np.full(k, n // k) + (np.arange(k) < n % k)


def _shuffled(parts: list[np.ndarray], labels: list[int], rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    X = np.concatenate(parts).astype(np.float64)
    y = np.concatenate([np.full(len(p), c, dtype=np.int64) for p, c in zip(parts, labels)])
    perm = rng.permutation(len(y))
    return X[perm], y[perm]


def xor(n: int = 200, noise: float = 0.25, seed: Seed = 0) -> tuple[np.ndarray, np.ndarray]:
    """XOR: Gaussian clusters (std ``noise``) at the four corners ``(+-1, +-1)``.

    Class 0 at ``(1, 1)`` and ``(-1, -1)``, class 1 at ``(1, -1)`` and ``(-1, 1)``.
    Returns ``X (n, 2)``, ``y (n,)``; needs ``n >= 4``.
    """
    n = check_int("n", n, 4)
    noise = check_float("noise", noise, 0.0)
    rng = as_generator(seed)
    corners = np.array([[1.0, 1.0], [-1.0, -1.0], [1.0, -1.0], [-1.0, 1.0]])
    parts, labels = [], []
    for c, size in enumerate(_sizes(n, 2)):
        for corner, m in zip(corners[2 * c : 2 * c + 2], _sizes(int(size), 2)):
            parts.append(corner + noise * rng.standard_normal((int(m), 2)))
            labels.append(c)
    return _shuffled(parts, labels, rng)


def circles(n: int = 200, noise: float = 0.1, seed: Seed = 0, factor: float = 0.5) -> tuple[np.ndarray, np.ndarray]:
    """Two concentric circles: class 0 on radius 1, class 1 on radius ``factor`` (0 < f < 1),
    angles uniform, plus Gaussian noise of std ``noise``. Returns ``X (n, 2)``, ``y (n,)``."""
    n = check_int("n", n, 2)
    noise = check_float("noise", noise, 0.0)
    factor = check_float("factor", factor, 0.0, 1.0, open_min=True, open_max=True)
    rng = as_generator(seed)
    parts = []
    for radius, size in zip((1.0, factor), _sizes(n, 2)):
        angle = rng.uniform(0.0, 2.0 * np.pi, size=int(size))
        pts = radius * np.column_stack([np.cos(angle), np.sin(angle)])
        parts.append(pts + noise * rng.standard_normal(pts.shape))
    return _shuffled(parts, [0, 1], rng)


def spirals(n: int = 200, noise: float = 0.1, seed: Seed = 0, turns: float = 1.5) -> tuple[np.ndarray, np.ndarray]:
    """Two interleaved spirals: ``r = 0.1 + 0.9 u``, ``angle = 2 pi turns u + c pi`` for class
    ``c`` and ``u ~ U[0, 1)``, plus Gaussian noise of std ``noise``.
    Returns ``X (n, 2)``, ``y (n,)`` with ``|X| <~ 1``."""
    n = check_int("n", n, 2)
    noise = check_float("noise", noise, 0.0)
    turns = check_float("turns", turns, 0.0, open_min=True)
    rng = as_generator(seed)
    parts = []
    for c, size in enumerate(_sizes(n, 2)):
        u = rng.random(int(size))
        r = 0.1 + 0.9 * u
        angle = 2.0 * np.pi * turns * u + c * np.pi
        pts = r[:, None] * np.column_stack([np.cos(angle), np.sin(angle)])
        parts.append(pts + noise * rng.standard_normal(pts.shape))
    return _shuffled(parts, [0, 1], rng)


def blobs(n: int = 200, noise: float = 0.5, seed: Seed = 0, n_classes: int = 3) -> tuple[np.ndarray, np.ndarray]:
    """Isotropic Gaussian blobs (std ``noise``), one per class, centred evenly on the circle of
    radius 2 (class 0 at the top). Returns ``X (n, 2)``, ``y (n,)`` with ``y`` in
    ``[0, n_classes)``."""
    n_classes = check_int("n_classes", n_classes, 2)
    n = check_int(f"n (for n_classes={n_classes})", n, n_classes)
    noise = check_float("noise", noise, 0.0)
    rng = as_generator(seed)
    angles = np.pi / 2 + 2.0 * np.pi * np.arange(n_classes) / n_classes
    centres = 2.0 * np.column_stack([np.cos(angles), np.sin(angles)])
    parts = [
        centre + noise * rng.standard_normal((int(size), 2)) for centre, size in zip(centres, _sizes(n, n_classes))
    ]
    return _shuffled(parts, list(range(n_classes)), rng)


def grid(X: np.ndarray, resolution: int = 100, margin: float = 0.5) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A regular grid covering ``X (N, 2)`` plus ``margin`` on every side.

    Returns ``xx (R, R)``, ``yy (R, R)`` and ``points (R*R, 2)`` with ``R = resolution``, where
    ``xx[i, j]`` is the j-th x value and ``yy[i, j]`` the i-th y value (``np.meshgrid``'s "xy"
    indexing), and ``points = column_stack(xx.ravel(), yy.ravel())``. So predictions for
    ``points`` reshaped to ``(R, R)`` form a row-major image whose rows run along y.
    """
    X = np.asarray(X, dtype=np.float64)
    if X.ndim != 2 or X.shape[1] != 2 or X.shape[0] == 0 or not np.isfinite(X).all():
        raise ValueError(f"X must be a finite (N, 2) array with N >= 1, got shape {X.shape}")
    resolution = check_int("resolution", resolution, 2)
    margin = check_float("margin", margin, 0.0)
    lo = X.min(axis=0) - margin
    hi = X.max(axis=0) + margin
    hi = np.where(hi > lo, hi, lo + 1.0)  # a degenerate axis (all equal, no margin) gets width 1
    xs = np.linspace(lo[0], hi[0], resolution)
    ys = np.linspace(lo[1], hi[1], resolution)
    xx, yy = np.meshgrid(xs, ys)
    points = np.column_stack([xx.ravel(), yy.ravel()])
    return xx, yy, points
