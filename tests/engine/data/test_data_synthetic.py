"""Synthetic long-range tasks: correctness of inputs/targets, lag placement, metrics, baselines."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from bpttviz.engine.data import (
    ADDING_BASELINE_MSE,
    BLANK,
    TASKS,
    adding_baseline,
    adding_metric,
    adding_problem,
    copy_baseline,
    copy_chance,
    copy_metric,
    copy_task,
    parity_baseline,
    parity_metric,
    parity_task,
    sine_baseline,
    sine_metric,
    sine_task,
)

# ---------------------------------------------------------------------------- adding problem


@given(
    T=st.integers(2, 60),
    lag_frac=st.one_of(st.none(), st.floats(0, 1)),
    seed=st.integers(0, 2**32 - 1),
)
def test_adding_markers_targets_and_lag(T, lag_frac, seed):
    lag = None if lag_frac is None else max(1, int(round(lag_frac * T)))
    b = adding_problem(16, T, lag, seed=seed)
    assert b.inputs.shape == (16, T, 2) and b.inputs.dtype == np.float64
    assert b.targets.shape == (16, 1)
    values, markers = b.inputs[..., 0], b.inputs[..., 1]
    assert ((values >= 0) & (values < 1)).all()
    assert set(np.unique(markers)) <= {0.0, 1.0}
    assert (markers.sum(axis=1) == 2).all()
    assert np.allclose(b.targets[:, 0], (values * markers).sum(axis=1))
    pos = np.argwhere(markers == 1)[:, 1].reshape(16, 2)  # row-major: (p1, p2) per row
    p1, p2 = pos[:, 0], pos[:, 1]
    assert (p1 < p2).all()
    if lag is None:
        assert (p1 < T // 2).all() and (p2 >= T // 2).all()
    else:
        assert (T - p1 >= lag).all()  # distance from the first marker to the end


def test_adding_lag_uses_the_whole_allowed_range():
    b = adding_problem(4000, 10, lag=3, seed=0)
    p1 = b.inputs[..., 1].argmax(axis=1)
    assert p1.min() == 0 and p1.max() == 10 - 3


def test_adding_lag_equal_to_T_pins_the_first_marker_to_step_0():
    b = adding_problem(200, 12, lag=12, seed=1)
    assert (b.inputs[:, 0, 1] == 1).all()


@pytest.mark.parametrize("lag", [0, 11, -3])
def test_adding_bad_lag_is_named(lag):
    with pytest.raises(ValueError, match=rf"lag \(for seq_len=10\) must be an int in \[1, 10\], got {lag}"):
        adding_problem(4, 10, lag, seed=0)


def test_adding_baseline_is_about_one_sixth():
    b = adding_problem(50_000, 20, seed=3)
    assert abs(adding_baseline(b) - ADDING_BASELINE_MSE) < 0.005
    assert abs(ADDING_BASELINE_MSE - 0.1667) < 1e-3
    assert adding_metric(b.targets, b.targets) == 0.0
    assert b.many_to_one and b.n_classes is None and b.input_size == 2


# ---------------------------------------------------------------------------- copy task


@given(
    n=st.integers(1, 6),
    extra=st.integers(1, 20),
    k=st.integers(2, 10),
    seed=st.integers(0, 2**32 - 1),
)
def test_copy_task_layout(n, extra, k, seed):
    lag = n + extra
    b = copy_task(8, n, lag, k, seed=seed)
    T = lag + n
    assert b.inputs.shape == b.targets.shape == b.mask.shape == (8, T)
    assert b.input_size == k + 2 and b.n_classes == k + 1 and not b.many_to_one
    symbols = b.inputs[:, :n]
    assert ((symbols >= 1) & (symbols <= k)).all()
    assert (b.inputs[:, lag - 1] == k + 1).all()
    assert ((b.inputs == k + 1).sum(axis=1) == 1).all()
    assert (b.inputs[:, n : lag - 1] == BLANK).all() and (b.inputs[:, lag:] == BLANK).all()
    assert np.array_equal(b.targets[:, lag:], symbols)  # symbol i recalled exactly lag later
    assert (b.targets[:, :lag] == BLANK).all()
    assert np.array_equal(b.mask, b.targets != BLANK)


def test_copy_metric_counts_only_recall_positions():
    b = copy_task(32, 4, 12, 6, seed=5)
    one_hot = np.eye(b.n_classes)[b.targets]
    assert copy_metric(one_hot, b.targets) == 1.0
    blank = np.zeros_like(b.targets)
    assert copy_metric(blank, b.targets) == 0.0
    assert copy_baseline(b) == pytest.approx(12 / 16)  # blank is right at 12 of 16 steps
    wrong_one = b.targets.copy()
    wrong_one[0, 12] = (wrong_one[0, 12] % 6) + 1
    assert copy_metric(wrong_one, b.targets) == pytest.approx(1 - 1 / (32 * 4))
    assert copy_chance(b) == pytest.approx(1 / 6)


def test_copy_bad_lag_is_named():
    with pytest.raises(ValueError, match=r"lag \(for n_remember=5\) must be an int >= 6, got 5"):
        copy_task(2, 5, 5, seed=0)


# ---------------------------------------------------------------------------- parity


@given(T=st.integers(1, 50), seed=st.integers(0, 2**32 - 1))
def test_parity_targets(T, seed):
    b = parity_task(32, T, seed=seed)
    assert b.inputs.shape == (32, T, 1) and b.targets.shape == (32,)
    assert set(np.unique(b.inputs)) <= {0.0, 1.0}
    assert np.array_equal(b.targets, b.inputs[:, :, 0].sum(axis=1).astype(int) % 2)
    assert b.many_to_one and b.n_classes == 2


def test_parity_metric_and_baseline():
    b = parity_task(20_000, 7, seed=2)
    assert parity_metric(np.eye(2)[b.targets], b.targets) == 1.0
    assert parity_metric(1 - b.targets, b.targets) == 0.0
    assert abs(parity_baseline(b) - 0.5) < 0.02
    with pytest.raises(ValueError, match=r"outputs shape \(20000, 1\)"):
        parity_metric(np.zeros((20000, 1)), b.targets)


# ---------------------------------------------------------------------------- sine


def test_sine_targets_are_next_values_along_time():
    b = sine_task(6, 40, n_components=3, noise=0.1, seed=4)
    assert b.inputs.shape == b.targets.shape == (6, 40, 1)
    assert np.array_equal(b.targets[:, :-1], b.inputs[:, 1:])
    assert not np.array_equal(b.targets[:-1], b.inputs[1:])  # not a shift along the batch
    assert sine_metric(b.targets, b.targets) == 0.0
    assert sine_baseline(b) == pytest.approx(np.mean((b.inputs - b.targets) ** 2))


def test_noise_free_sine_is_bounded_and_smooth():
    b = sine_task(50, 100, n_components=2, noise=0.0, seed=0)
    assert np.abs(b.inputs).max() <= 1.0
    assert sine_baseline(b) < 0.5 * np.var(b.targets)


# ---------------------------------------------------------------------------- shared


MAKERS = {
    "adding": lambda seed: adding_problem(5, 15, 4, seed=seed),
    "copy": lambda seed: copy_task(5, 3, 9, seed=seed),
    "parity": lambda seed: parity_task(5, 15, seed=seed),
    "sine": lambda seed: sine_task(5, 15, seed=seed),
}


@pytest.mark.parametrize("name", sorted(MAKERS))
def test_same_seed_same_arrays_bit_for_bit(name):
    make = MAKERS[name]
    a, b, c = make(123), make(123), make(124)
    assert a.inputs.tobytes() == b.inputs.tobytes() and a.targets.tobytes() == b.targets.tobytes()
    assert a.inputs.tobytes() != c.inputs.tobytes()
    rng1, rng2 = np.random.default_rng(9), np.random.default_rng(9)
    first, second = make(rng1), make(rng1)  # a Generator advances: a new batch each call
    assert first.inputs.tobytes() != second.inputs.tobytes()
    assert make(rng2).inputs.tobytes() == first.inputs.tobytes()


@pytest.mark.parametrize("name", sorted(MAKERS))
def test_batches_are_read_only(name):
    b = MAKERS[name](0)
    with pytest.raises(ValueError):
        b.inputs[0, 0] = 1


@pytest.mark.parametrize("seed", [-1, 1.5, True, "0", None])
def test_bad_seed_is_named(seed):
    with pytest.raises(ValueError, match=r"seed must be a non-negative int or a numpy"):
        parity_task(2, 3, seed=seed)


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: adding_problem(0, 10, seed=0), r"batch_size must be an int >= 1, got 0"),
        (lambda: adding_problem(2, 1, seed=0), r"seq_len must be an int >= 2, got 1"),
        (lambda: parity_task(2, 0, seed=0), r"seq_len must be an int >= 1, got 0"),
        (lambda: copy_task(2, 0, seed=0), r"n_remember must be an int >= 1, got 0"),
        (lambda: copy_task(2, 2, 5, 1, seed=0), r"n_symbols must be an int >= 2, got 1"),
        (lambda: sine_task(2, 5, noise=-0.1, seed=0), r"noise must be a finite number in \[0.0, inf\), got -0.1"),
        (lambda: sine_task(2, 5, n_components=0, seed=0), r"n_components must be an int >= 1"),
        (lambda: sine_task(2, 5, seed=0, min_period=9, max_period=8), r"max_period .* got 8"),
    ],
)
def test_bad_arguments_are_named(call, message):
    with pytest.raises(ValueError, match=message):
        call()


@pytest.mark.parametrize("name", sorted(TASKS))
def test_registry_metric_of_perfect_outputs_beats_baseline(name):
    spec = TASKS[name]
    b = MAKERS[name](0)
    perfect = np.eye(b.n_classes)[b.targets] if b.n_classes else b.targets
    score, base = spec.metric(perfect, b.targets), spec.baseline(b)
    assert (score > base) if spec.higher_is_better else (score < base)
