"""The 8x8 handwritten digits shipped in ``assets/datasets/digits.csv.gz``.

UCI "Optical Recognition of Handwritten Digits", E. Alpaydin & C. Kaynak (1998), CC BY 4.0:
see assets/PROVENANCE.md. 1,797 images; each row of the file is 64 pixel counts in 0..16
(row-major 8x8) followed by the label 0..9.
"""

from __future__ import annotations

import gzip
from functools import lru_cache

import numpy as np

from .paths import asset_path
from .seeding import Seed
from .split import train_test_split

N_DIGITS = 1797
IMAGE_SHAPE = (8, 8)
N_CLASSES = 10


@lru_cache(maxsize=1)
def _read() -> tuple[np.ndarray, np.ndarray]:
    path = asset_path("datasets", "digits.csv.gz")
    with gzip.open(path, "rt", encoding="ascii") as f:
        raw = np.loadtxt(f, delimiter=",", dtype=np.int64, ndmin=2)
    if raw.shape != (N_DIGITS, 65):
        raise ValueError(f"{path}: expected {N_DIGITS} rows of 65 values, got shape {raw.shape}")
    pixels, labels = raw[:, :64], raw[:, 64]
    if pixels.min() < 0 or pixels.max() > 16 or labels.min() < 0 or labels.max() > 9:
        raise ValueError(f"{path}: pixel values must be in 0..16 and labels in 0..9")
    return pixels, labels


def load_digits() -> tuple[np.ndarray, np.ndarray]:
    """Return ``X (1797, 64)`` float64 in ``[0, 1]`` (pixel count / 16) and ``y (1797,)`` int64
    labels 0..9, in the file's order. ``X.reshape(-1, 8, 8)`` gives the images (row-major).
    Fresh copies each call."""
    pixels, labels = _read()
    return pixels / 16.0, labels.copy()


def load_digits_split(
    test_fraction: float = 0.2, seed: Seed = 0
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """:func:`load_digits` split by :func:`train_test_split` (stratified, seeded):
    ``X_train (N_tr, 64), X_test (N_te, 64), y_train (N_tr,), y_test (N_te,)``."""
    X, y = load_digits()
    return train_test_split(X, y, test_fraction, seed)
