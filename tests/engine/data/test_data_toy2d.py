"""2-D toy sets, the decision-boundary grid and the train/test split."""

import numpy as np
import pytest

from bpttviz.engine.data import blobs, circles, grid, spirals, train_test_split, xor

GENERATORS = {
    "xor": (xor, 2),
    "circles": (circles, 2),
    "spirals": (spirals, 2),
    "blobs": (blobs, 3),
}


@pytest.mark.parametrize("name", sorted(GENERATORS))
@pytest.mark.parametrize("n", [4, 7, 201])
def test_shapes_dtypes_and_class_balance(name, n):
    make, k = GENERATORS[name]
    X, y = make(n, 0.1, 0)
    assert X.shape == (n, 2) and X.dtype == np.float64
    assert y.shape == (n,) and y.dtype == np.int64
    counts = np.bincount(y, minlength=k)
    assert len(counts) == k and counts.max() - counts.min() <= 1
    assert np.isfinite(X).all()


@pytest.mark.parametrize("name", sorted(GENERATORS))
def test_same_seed_same_arrays(name):
    make, _ = GENERATORS[name]
    X1, y1 = make(50, 0.2, 7)
    X2, y2 = make(50, 0.2, 7)
    X3, _ = make(50, 0.2, 8)
    assert X1.tobytes() == X2.tobytes() and y1.tobytes() == y2.tobytes()
    assert X1.tobytes() != X3.tobytes()


def test_classes_are_shuffled():
    _, y = circles(100, 0.1, 0)
    assert not (np.all(y[:50] == 0) and np.all(y[50:] == 1))


def test_xor_labels_follow_the_quadrant_without_noise():
    X, y = xor(40, 0.0, 0)
    assert np.array_equal(y, (X[:, 0] * X[:, 1] < 0).astype(int))


def test_circles_radii_without_noise():
    X, y = circles(60, 0.0, 0, factor=0.3)
    r = np.hypot(X[:, 0], X[:, 1])
    assert np.allclose(r[y == 0], 1.0) and np.allclose(r[y == 1], 0.3)


def test_spirals_are_point_symmetric_classes():
    X, y = spirals(400, 0.0, 0)
    r = np.hypot(X[:, 0], X[:, 1])
    assert r.min() >= 0.1 - 1e-12 and r.max() <= 1.0 + 1e-12
    # class 1 is class 0 rotated by pi: both have the same radius/angle relation
    for c in (0, 1):
        Xc = X[y == c]
        rc = np.hypot(Xc[:, 0], Xc[:, 1])
        angle = 2 * np.pi * 1.5 * (rc - 0.1) / 0.9 + c * np.pi
        assert np.allclose(Xc, rc[:, None] * np.column_stack([np.cos(angle), np.sin(angle)]))


def test_blobs_cluster_around_their_centres():
    X, y = blobs(300, 0.1, 0, n_classes=4)
    centres = np.array([X[y == c].mean(axis=0) for c in range(4)])
    assert np.allclose(np.hypot(centres[:, 0], centres[:, 1]), 2.0, atol=0.1)


def test_grid_shapes_layout_and_bounds():
    X = np.array([[0.0, -1.0], [2.0, 3.0]])
    xx, yy, pts = grid(X, resolution=5, margin=0.5)
    assert xx.shape == yy.shape == (5, 5) and pts.shape == (25, 2)
    assert np.array_equal(pts[:, 0].reshape(5, 5), xx)
    assert np.array_equal(pts[:, 1].reshape(5, 5), yy)
    assert np.allclose(xx[0], np.linspace(-0.5, 2.5, 5))  # x runs along columns
    assert np.allclose(yy[:, 0], np.linspace(-1.5, 3.5, 5))  # y runs along rows


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: xor(3), r"n must be an int >= 4, got 3"),
        (lambda: circles(10, -1.0), r"noise must be a finite number in \[0.0, inf\), got -1.0"),
        (lambda: circles(10, 0.1, 0, factor=1.5), r"factor must be a finite number in \(0.0, 1.0\)"),
        (lambda: spirals(10, 0.1, 0, turns=0), r"turns must be a finite number in \(0.0, inf\)"),
        (lambda: blobs(2, 0.1, 0, n_classes=3), r"n \(for n_classes=3\) must be an int >= 3, got 2"),
        (lambda: blobs(10, 0.1, 0, n_classes=1), r"n_classes must be an int >= 2, got 1"),
        (lambda: xor(10, 0.1, -5), r"seed must be a non-negative int"),
        (lambda: grid(np.zeros((3, 2)), resolution=1), r"resolution must be an int >= 2, got 1"),
        (lambda: grid(np.zeros((3, 3))), r"X must be a finite \(N, 2\) array"),
        (lambda: grid(np.zeros((3, 2)), margin=-1), r"margin must be a finite number"),
    ],
)
def test_bad_arguments_are_named(call, message):
    with pytest.raises(ValueError, match=message):
        call()


def test_split_partitions_rows_and_keeps_class_proportions():
    X, y = blobs(300, 0.3, 0, n_classes=3)
    X_tr, X_te, y_tr, y_te = train_test_split(X, y, 0.2, seed=1)
    assert X_tr.shape == (240, 2) and X_te.shape == (60, 2)
    assert np.bincount(y_te).tolist() == [20, 20, 20]
    rows = {tuple(r) for r in np.concatenate([X_tr, X_te])}
    assert rows == {tuple(r) for r in X}
    for Xp, yp in ((X_tr, y_tr), (X_te, y_te)):  # rows keep their labels
        lookup = {tuple(r): c for r, c in zip(X, y)}
        assert all(lookup[tuple(r)] == c for r, c in zip(Xp, yp))
    again = train_test_split(X, y, 0.2, seed=1)
    assert all(a.tobytes() == b.tobytes() for a, b in zip((X_tr, X_te, y_tr, y_te), again))


def test_split_bad_arguments():
    X, y = xor(20)
    with pytest.raises(ValueError, match=r"test_fraction must be a finite number in \(0.0, 1.0\)"):
        train_test_split(X, y, 1.0)
    with pytest.raises(ValueError, match=r"same N; got X \(20, 2\), y \(19,\)"):
        train_test_split(X, y[:-1])
    with pytest.raises(ValueError, match=r"empty test part"):
        train_test_split(X[:2], y[:2], 0.1)
