"""The shipped 8x8 digits."""

import numpy as np

from bpttviz.engine.data import load_digits, load_digits_split


def test_shape_range_and_labels():
    X, y = load_digits()
    assert X.shape == (1797, 64) and X.dtype == np.float64
    assert y.shape == (1797,) and y.dtype == np.int64
    assert X.min() == 0.0 and X.max() == 1.0
    assert np.allclose(X * 16, np.round(X * 16))  # pixel counts 0..16 scaled by 1/16
    assert sorted(set(y.tolist())) == list(range(10))
    assert np.bincount(y).min() >= 170


def test_first_row_matches_the_file():
    X, y = load_digits()
    assert (X[0, :8] * 16).tolist() == [0, 0, 5, 13, 9, 1, 0, 0]
    assert y[0] == 0 and y[1] == 1


def test_each_call_returns_fresh_arrays():
    X, y = load_digits()
    X[:] = -1
    y[:] = -1
    X2, y2 = load_digits()
    assert X2.min() == 0.0 and y2.min() == 0


def test_split_is_stratified_and_seeded():
    X_tr, X_te, y_tr, y_te = load_digits_split(0.2, seed=0)
    assert X_tr.shape[1] == X_te.shape[1] == 64
    assert len(y_tr) + len(y_te) == 1797
    assert abs(len(y_te) - 0.2 * 1797) <= 10
    assert set(y_te.tolist()) == set(range(10))
    assert np.bincount(y_te).min() >= 34
    again = load_digits_split(0.2, seed=0)
    assert again[3].tobytes() == y_te.tobytes()
