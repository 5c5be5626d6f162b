"""Seeded, stratified train/test split for classification data sets."""

from __future__ import annotations

import numpy as np

from ._validate import check_float
from .seeding import Seed, as_generator


def train_test_split(
    X: np.ndarray,
    y: np.ndarray,
    test_fraction: float = 0.2,
    seed: Seed = 0,
    *,
    stratify: bool = True,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Split ``X (N, ...)`` and ``y (N,)`` into ``X_train, X_test, y_train, y_test``.

    With ``stratify`` (default) each class contributes ``round(n_c * test_fraction)`` of its
    ``n_c`` rows to the test part, so class proportions are kept; otherwise ``round(N *
    test_fraction)`` random rows are. Both parts come in a shuffled order. Returns copies.
    """
    X = np.asarray(X)
    y = np.asarray(y)
    test_fraction = check_float("test_fraction", test_fraction, 0.0, 1.0, open_min=True, open_max=True)
    if y.ndim != 1 or X.ndim < 1 or X.shape[0] != y.shape[0]:
        raise ValueError(f"X must have shape (N, ...) and y shape (N,) with the same N; got X {X.shape}, y {y.shape}")
    rng = as_generator(seed)
    n = y.shape[0]
    if stratify:
        test_parts = []
        train_parts = []
        for c in np.unique(y):
            idx = rng.permutation(np.flatnonzero(y == c))
            k = int(round(idx.size * test_fraction))
            test_parts.append(idx[:k])
            train_parts.append(idx[k:])
        test_idx = rng.permutation(np.concatenate(test_parts))
        train_idx = rng.permutation(np.concatenate(train_parts))
    else:
        perm = rng.permutation(n)
        k = int(round(n * test_fraction))
        test_idx, train_idx = perm[:k], perm[k:]
    if test_idx.size == 0 or train_idx.size == 0:
        raise ValueError(
            f"test_fraction={test_fraction} with {n} rows leaves an empty "
            f"{'test' if test_idx.size == 0 else 'train'} part; use more rows or another fraction"
        )
    return X[train_idx], X[test_idx], y[train_idx], y[test_idx]
