"""Synthetic long-range sequence tasks, each with its metric and trivial baseline.

Every generator draws a fresh batch from ``seed`` (an int, or a ``numpy.random.Generator`` that
is advanced in place: pass one generator to draw successive batches). ``seed`` is required: a
silent default would hand a training loop the same batch every step.

| task            | inputs              | targets          | metric            | trivial baseline   |
|-----------------|---------------------|------------------|-------------------|--------------------|
| adding_problem  | (B, T, 2) float64   | (B, 1) float64   | MSE               | predict 1.0: 1/6   |
| copy_task       | (B, T) int64 ids    | (B, T) int64     | recall accuracy   | predict blank      |
| parity_task     | (B, T, 1) float64   | (B,) int64       | accuracy          | 0.5                |
| sine_task       | (B, T, 1) float64   | (B, T, 1) float  | MSE               | repeat last input  |
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from ._validate import check_float, check_int
from .metrics import accuracy, mse
from .seeding import Seed, as_generator


def _frozen(a: np.ndarray) -> np.ndarray:
    a.setflags(write=False)
    return a


@dataclass(frozen=True)
class Batch:
    """One batch of a synthetic task (arrays are read-only).

    ``inputs``: ``(B, T, D)`` float64, or ``(B, T)`` int64 token ids.
    ``targets``: task-specific, see the generator.
    ``mask``: ``(B, T)`` bool marking the positions the metric scores, or None for all.
    ``input_size``: ``D`` for float inputs, the number of token ids for int inputs.
    ``n_classes``: number of target classes, or None for a regression task.
    ``many_to_one``: True when there is one target per sequence (read at the last step).
    """

    inputs: np.ndarray
    targets: np.ndarray
    mask: np.ndarray | None
    input_size: int
    n_classes: int | None
    many_to_one: bool

    @property
    def batch_size(self) -> int:
        return int(self.inputs.shape[0])

    @property
    def seq_len(self) -> int:
        return int(self.inputs.shape[1])


# ---------------------------------------------------------------------------------------------
# adding problem

#: Expected MSE of always predicting 1.0: the variance of a sum of two U[0, 1) values, 2/12.
ADDING_BASELINE_MSE = 1.0 / 6.0


def adding_problem(batch_size: int, seq_len: int, lag: int | None = None, *, seed: Seed) -> Batch:
    """The adding problem (Hochreiter & Schmidhuber 1997), in the form of Le et al. (2015).

    ``inputs (B, T, 2)``: channel 0 is uniform in ``[0, 1)``; channel 1 is a marker, 1.0 at
    exactly two positions ``p1 < p2`` and 0.0 elsewhere. ``targets (B, 1)``: the sum of the two
    marked values, read after the last step (many-to-one).

    Marker placement: with ``lag=None`` (Le et al.) ``p1`` is uniform in the first half
    ``[0, T//2)`` and ``p2`` in the second half ``[T//2, T)``. With ``lag`` given, ``p1`` is
    uniform in ``[0, min(T - lag, T - 2)]`` — so the distance ``T - p1`` from the first marker to
    the end of the sequence (counting the marker's own step) is at least ``lag`` — and ``p2`` is
    uniform in ``(p1, T)``. ``lag = T`` pins the first marker to step 0.
    """
    batch_size = check_int("batch_size", batch_size, 1)
    T = check_int("seq_len", seq_len, 2)
    if lag is not None:
        lag = check_int(f"lag (for seq_len={T})", lag, 1, T)
    rng = as_generator(seed)
    values = rng.random((batch_size, T))
    if lag is None:
        p1 = rng.integers(0, T // 2, size=batch_size)
        p2 = rng.integers(T // 2, T, size=batch_size)
    else:
        p1 = rng.integers(0, min(T - lag, T - 2) + 1, size=batch_size)
        p2 = rng.integers(p1 + 1, T)
    rows = np.arange(batch_size)
    markers = np.zeros((batch_size, T))
    markers[rows, p1] = 1.0
    markers[rows, p2] = 1.0
    inputs = np.stack([values, markers], axis=-1)
    targets = (values[rows, p1] + values[rows, p2])[:, None]
    return Batch(_frozen(inputs), _frozen(targets), None, 2, None, True)


def adding_metric(outputs: np.ndarray, targets: np.ndarray) -> float:
    """MSE between ``outputs (B, 1)`` and ``targets (B, 1)``."""
    return mse(outputs, targets)


def adding_baseline(batch: Batch) -> float:
    """MSE of always predicting 1.0 on this batch (about :data:`ADDING_BASELINE_MSE`)."""
    return mse(np.ones_like(batch.targets), batch.targets)


# ---------------------------------------------------------------------------------------------
# copy / delayed recall

#: The blank id (inputs and targets); data symbols are 1..n_symbols, the marker n_symbols + 1.
BLANK = 0


def copy_task(
    batch_size: int,
    n_remember: int = 5,
    lag: int = 10,
    n_symbols: int = 8,
    *,
    seed: Seed,
) -> Batch:
    """Copy / delayed recall: see ``n_remember`` symbols, wait, then repeat them in order.

    Ids: ``0`` = blank, ``1..n_symbols`` = data symbols, ``n_symbols + 1`` = recall marker.
    Sequence length ``T = lag + n_remember``; with ``n = n_remember``:

    - ``inputs (B, T)`` int64: symbols at steps ``[0, n)``, blanks, the marker at step
      ``lag - 1``, blanks at ``[lag, T)``.
    - ``targets (B, T)`` int64: blank everywhere except steps ``[lag, T)``, where
      ``targets[:, lag + i] = inputs[:, i]``. So every symbol must be carried exactly ``lag``
      steps; ``lag >= n + 1`` so the marker comes after the symbols.
    - ``mask (B, T)``: True at the recall steps ``[lag, T)``.

    ``input_size = n_symbols + 2``, ``n_classes = n_symbols + 1`` (blank + symbols).
    """
    batch_size = check_int("batch_size", batch_size, 1)
    n = check_int("n_remember", n_remember, 1)
    lag = check_int(f"lag (for n_remember={n})", lag, n + 1)
    k = check_int("n_symbols", n_symbols, 2)
    rng = as_generator(seed)
    T = lag + n
    symbols = rng.integers(1, k + 1, size=(batch_size, n))
    inputs = np.full((batch_size, T), BLANK, dtype=np.int64)
    inputs[:, :n] = symbols
    inputs[:, lag - 1] = k + 1
    targets = np.full((batch_size, T), BLANK, dtype=np.int64)
    targets[:, lag:] = symbols
    mask = np.zeros((batch_size, T), dtype=bool)
    mask[:, lag:] = True
    return Batch(_frozen(inputs), _frozen(targets), _frozen(mask), k + 2, k + 1, False)


def copy_metric(outputs: np.ndarray, targets: np.ndarray) -> float:
    """Accuracy at the recall positions only (where ``targets != BLANK``).

    ``outputs``: scores ``(B, T, C)`` or labels ``(B, T)``; ``targets (B, T)``. Predicting blank
    everywhere scores 0 here; a model that knows when to recall but forgot the symbols scores
    about ``1 / n_symbols``.
    """
    targets = np.asarray(targets)
    return accuracy(outputs, targets, mask=targets != BLANK)


def copy_baseline(batch: Batch) -> float:
    """Accuracy over *all* positions of always predicting blank: ``lag / T``.

    This is the plateau a network reaches by learning "blank" and nothing else; it is why the
    task's metric (:func:`copy_metric`) scores the recall positions only.
    """
    return float(np.mean(batch.targets == BLANK))


def copy_chance(batch: Batch) -> float:
    """:func:`copy_metric` of a memoryless guess at the recall positions: ``1 / n_symbols``."""
    if batch.n_classes is None or batch.inputs.ndim != 2:
        raise ValueError("batch must come from copy_task (token inputs and n_classes set)")
    return 1.0 / (batch.n_classes - 1)


# ---------------------------------------------------------------------------------------------
# parity

#: Accuracy of a constant guess when the two parities are equally likely.
PARITY_BASELINE_ACCURACY = 0.5


def parity_task(batch_size: int, seq_len: int, *, seed: Seed) -> Batch:
    """Parity of a bit string (many-to-one); the lag is the whole sequence length ``T``.

    ``inputs (B, T, 1)`` float64 bits 0.0/1.0 (uniform); ``targets (B,)`` int64: 1 if the
    number of ones is odd, else 0. ``n_classes = 2``: score it with ``(B, 2)`` outputs.
    """
    batch_size = check_int("batch_size", batch_size, 1)
    T = check_int("seq_len", seq_len, 1)
    rng = as_generator(seed)
    bits = rng.integers(0, 2, size=(batch_size, T))
    targets = (bits.sum(axis=1) % 2).astype(np.int64)
    inputs = bits.astype(np.float64)[:, :, None]
    return Batch(_frozen(inputs), _frozen(targets), None, 1, 2, True)


def parity_metric(outputs: np.ndarray, targets: np.ndarray) -> float:
    """Accuracy of ``outputs`` (``(B, 2)`` scores or ``(B,)`` labels) against ``targets (B,)``."""
    return accuracy(outputs, targets)


def parity_baseline(batch: Batch) -> float:
    """Accuracy of always predicting 0 on this batch (about 0.5)."""
    return float(np.mean(batch.targets == 0))


# ---------------------------------------------------------------------------------------------
# sine regression


def sine_task(
    batch_size: int,
    seq_len: int,
    n_components: int = 2,
    noise: float = 0.05,
    *,
    seed: Seed,
    min_period: float = 8.0,
    max_period: float = 32.0,
) -> Batch:
    """Next-value prediction on a noisy sum of sines (many-to-many regression).

    Per sequence, ``x_t = sum_k a_k sin(2 pi t / P_k + phi_k) + noise * N(0, 1)`` for
    ``t = 0..T``, with periods ``P_k ~ U[min_period, max_period]``, phases ``U[0, 2 pi)`` and
    amplitudes ``U[0.5, 1] / n_components``. ``inputs (B, T, 1) = x_0..x_{T-1}`` and
    ``targets (B, T, 1) = x_1..x_T``: the target at step ``t`` is the input at step ``t + 1``.
    """
    batch_size = check_int("batch_size", batch_size, 1)
    T = check_int("seq_len", seq_len, 1)
    n_components = check_int("n_components", n_components, 1)
    noise = check_float("noise", noise, 0.0)
    min_period = check_float("min_period", min_period, 2.0)
    max_period = check_float(f"max_period (min_period={min_period})", max_period, min_period)
    rng = as_generator(seed)
    shape = (batch_size, 1, n_components)
    period = rng.uniform(min_period, max_period, size=shape)
    phase = rng.uniform(0.0, 2.0 * np.pi, size=shape)
    amp = rng.uniform(0.5, 1.0, size=shape) / n_components
    t = np.arange(T + 1, dtype=np.float64)[None, :, None]
    series = (amp * np.sin(2.0 * np.pi * t / period + phase)).sum(axis=-1)
    series = series + noise * rng.standard_normal(series.shape)
    inputs = series[:, :-1, None].copy()
    targets = series[:, 1:, None].copy()
    return Batch(_frozen(inputs), _frozen(targets), None, 1, None, False)


def sine_metric(outputs: np.ndarray, targets: np.ndarray) -> float:
    """MSE between ``outputs (B, T, 1)`` and ``targets (B, T, 1)``."""
    return mse(outputs, targets)


def sine_baseline(batch: Batch) -> float:
    """MSE of the persistence forecast (predict that the next value equals the current one)."""
    return mse(batch.inputs, batch.targets)


# ---------------------------------------------------------------------------------------------
# registry, so presets (data files) can name a task


@dataclass(frozen=True)
class TaskSpec:
    """A task by name: ``make(batch_size, ..., seed=...) -> Batch``, its metric, and
    ``baseline(batch)``: the metric's value for a trivial predictor, in the metric's units (so
    it can be drawn as a reference line on the metric's plot)."""

    name: str
    make: Callable[..., Batch]
    metric: Callable[[np.ndarray, np.ndarray], float]
    baseline: Callable[[Batch], float]
    metric_name: str  # "mse" or "accuracy"
    higher_is_better: bool


TASKS: dict[str, TaskSpec] = {
    "adding": TaskSpec("adding", adding_problem, adding_metric, adding_baseline, "mse", False),
    "copy": TaskSpec("copy", copy_task, copy_metric, copy_chance, "accuracy", True),
    "parity": TaskSpec("parity", parity_task, parity_metric, parity_baseline, "accuracy", True),
    "sine": TaskSpec("sine", sine_task, sine_metric, sine_baseline, "mse", False),
}
