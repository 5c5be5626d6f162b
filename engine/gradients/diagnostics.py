"""Gradient-flow diagnostics: how much of the error reaches back in time, and why.

Definitions follow Pascanu, Mikolov & Bengio (2013), "On the difficulty of training recurrent
neural networks" (ICML), who write the gradient of the loss at step t with respect to an earlier
state as a product of Jacobians,

    dL_t/dh_s = dL_t/dh_t * prod_{i=s+1..t} dh_i/dh_{i-1},     s <= t,

and bound each factor of the vanilla RNN by ``||dh_i/dh_{i-1}|| <= ||W_hh^T|| ||diag f'(z_i)||
<= sigma_max(W_hh) * gamma`` (gamma = sup |f'|: 1 for tanh, 1/4 for sigmoid). Below 1 the product
vanishes at least geometrically; exploding gradients need ``sigma_max(W_hh) > 1 / gamma``.

What this module computes (row-vector convention, ``h_t = f(x_t W_xh + h_{t-1} W_hh + b)``;
``dh_i/dh_{i-1}`` is ``(H, H)`` with entry [a, b] = d h_i[a] / d h_{i-1}[b]):

- ``gradient_decay``: entry k = ``||dL_{T-1}/dh_{T-1-k}||`` (2-norm over batch and hidden units),
  the gradient of the loss at the last timestep alone. The headline curve.
- ``delta_norms``: ``||dL/dh_t||`` of the full loss at every t, the ``dh`` of the backward records.
- ``jacobian_products`` / ``jacobian_norms``: ``P_k = dh_{T-1}/dh_{T-1-k} = prod_{i=T-k..T-1}
  dh_i/dh_{i-1}`` and ``||P_k||_2`` for k = 0..K, with the reference ``(sigma_max(W_hh) gamma)^k``.
- ``largest_singular_value``, ``spectral_radius``: of the recurrent matrix, by power iteration.
- ``clip_log``: the pre-clip global norm and clip events of optimiser updates.
- ``spectrum`` / ``SpectralHistory``: sigma_max (and the vanilla RNN's spectral radius) over training.
- ``Diagnostics``: the one pipeline built from these, which the app's views and a training loop
  share: the spectrum over training, the decay curves of a batch (cached, warm-started) and of
  earlier iterations, whole passes for a training loop, throttled.

Every backward quantity goes through the model's own ``_step_backward`` (the same code the
gradients use), so LSTM and GRU are covered exactly, and the bug lab's ``deriv_wrong_variable``
shows here too. The loss-side and loop-side bugs (softmax axis, dropped ``dh_next``...) are not
applied: these curves describe the model's true gradient flow.
"""

from __future__ import annotations

import math
import time
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

import numpy as np

from ..checks import positive_int
from ..models.recurrent import Forward, Options, RecurrentModel
from ..nn.activations import ACTIVATIONS
from ..nn.losses import cross_entropy, squared_error
from ..records import BackwardStep, Step, UpdateStep

Array = np.ndarray


# ---------------------------------------------------------------------------- helpers
def _recurrent(model: Any) -> RecurrentModel:
    if not isinstance(model, RecurrentModel):
        raise ValueError(f"model: expected a recurrent model (RNN, LSTM, GRU), got {type(model).__name__}")
    return model


def _forward_last(model: RecurrentModel, inputs, targets, h0, opts: Options) -> Forward:
    """Validated forward pass with the many-to-one output (only ``y_{T-1}`` is needed)."""
    batch = model._batch(inputs, targets, opts)
    last = Options(opts.reduction, opts.truncation, "last", opts.loss)
    return model._forward(batch, model._state0(h0, batch.B), last)


def _last_output_delta(model: RecurrentModel, fw: Forward, opts: Options) -> Array:
    """``dL_{T-1}/dh_{T-1} = dL_{T-1}/dy_{T-1} W_hy^T`` ``(B, H)``, after reduction."""
    tg = fw.batch.targets
    if opts.output == "all":
        tg = tg[:, -1]
    if opts.loss == "cross_entropy":
        _, dy, _ = cross_entropy(fw.Y, tg)
    else:
        _, dy = squared_error(fw.Y, tg)
    if opts.reduction == "mean":
        dy /= fw.batch.B
    return dy @ model.params[model.W_Y].T


def _state_delta(model: RecurrentModel, fw: Forward, t: int, D: tuple[Array, ...], state: str) -> Array:
    """The total delta on state component ``state`` at time t, ``(S, B, H)``. For h it is the
    carried ``D[0]``; the LSTM's ``c`` also collects what reaches it through ``h_t``."""
    if state == "h":
        return D[0]
    return model._cell_delta(fw, t, D)


def _check_state(model: RecurrentModel, state: str) -> str:
    if state not in model.STATE:
        raise ValueError(f"state: expected one of {', '.join(map(repr, model.STATE))} for "
                         f"{type(model).__name__}, got {state!r}")
    return state


def _decay_curves(model: RecurrentModel, fw: Forward, opts: Options, states: tuple[str, ...]) -> dict[str, Array]:
    T, B, H = fw.batch.T, fw.batch.B, model.hidden_size
    K = T if opts.truncation is None else min(T, opts.truncation)
    dh = _last_output_delta(model, fw, opts)
    D = (dh[None],) + tuple(np.zeros((1, B, H)) for _ in model.STATE[1:])
    curves = {s: np.zeros(T) for s in states}
    for k in range(K):
        t = T - 1 - k
        for s in states:
            d = _state_delta(model, fw, t, D, s)
            curves[s][k] = math.sqrt(float(np.vdot(d, d)))
        if k < K - 1:
            D = model._step_backward(D, t, fw)[2]
    return curves


# ---------------------------------------------------------------------------- the curves
def gradient_decay(model, inputs, targets, *, state: str = "h", h0=None, reduction: str = "mean",
                   truncation: int | None = None, output: str = "all",
                   loss: str = "cross_entropy") -> Array:
    """How much of the final error reaches k steps back: ``(T,)`` with

        decay[k] = || dL_{T-1} / dh_{T-1-k} ||_2      (norm over batch and hidden units)

    where ``L_{T-1}`` is the loss at the last timestep alone (with ``output="last"``, the whole
    loss), reduced as ``reduction`` says. ``state="c"`` (LSTM) gives ``||dL_{T-1}/dc_{T-1-k}||``,
    the cell-state delta including what reaches ``c_t`` through ``h_t``. Under window truncation
    k, the loss reaches only ``h_{T-1} .. h_{T-k}``: entries from k on are 0.

    Inputs, targets and options are those of ``loss_and_grads``. Cost: one forward pass and one
    delta-only backward chain (no parameter gradients).
    """
    model = _recurrent(model)
    _check_state(model, state)
    opts = model._options(reduction, truncation, output, loss)
    fw = _forward_last(model, inputs, targets, h0, opts)
    return _decay_curves(model, fw, opts, (state,))[state]


def decay_curves(model, inputs, targets, *, h0=None, reduction: str = "mean", truncation: int | None = None,
                 output: str = "all", loss: str = "cross_entropy") -> dict[str, Array]:
    """``gradient_decay`` for every state component at once (one forward pass, one backward
    chain): ``{"h": (T,)}``, and ``"c"`` for the LSTM's cell state. Bit-identical to calling
    ``gradient_decay`` per state."""
    model = _recurrent(model)
    opts = model._options(reduction, truncation, output, loss)
    return _decay_curves(model, _forward_last(model, inputs, targets, h0, opts), opts, model.STATE)


def delta_norms_from_records(records: Iterable[Step]) -> Array:
    """``||dh_t||`` for t = 0..T-1 from a narrated iteration's ``BackwardStep`` records (free when
    the iteration was narrated anyway). ``(T,)``."""
    dh = {r.index: r.dh for r in records if isinstance(r, BackwardStep)}
    if not dh:
        raise ValueError("records: expected the BackwardStep records of a recurrent iteration, found none")
    T = max(dh) + 1
    return np.array([math.sqrt(float(np.vdot(dh[t], dh[t]))) for t in range(T)])


def delta_norms(model, inputs, targets, **options) -> Array:
    """Per-timestep delta norms of the full loss, ``(T,)``:

        norms[t] = || dL/dh_t ||_2,   dL/dh_t = dy_t W_hy^T + dL/dh_{t+1} dh_{t+1}/dh_t

    (over batch and hidden units; under window truncation only the losses whose window reaches
    h_t contribute). Exactly the ``dh`` of the backward step records, which this narrates;
    options are those of ``loss_and_grads``."""
    return delta_norms_from_records(_recurrent(model).steps(inputs, targets, **options))


def jacobian_products(model, inputs, *, h0=None, example: int = 0, max_span: int | None = None) -> Array:
    """The explicit Jacobian products ``P_k = dh_{T-1}/dh_{T-1-k}`` for k = 0..K, ``(K+1, H, H)``
    (``P_0 = I``; K = T-1 or ``max_span``), for one sequence of the batch (``example``).

        P_k = prod_{i=T-k..T-1} dh_i/dh_{i-1};   vanilla RNN: dh_i/dh_{i-1} = diag(f'(z_i)) W_hh^T

    Row s of ``P_k`` is what the cell's backward step makes of the unit delta ``e_s`` on
    ``h_{T-1}`` after k steps, so all H rows are pushed back at once as a stack of H deltas.
    For the LSTM the cell state rides along: ``P_k`` is the derivative with respect to
    ``h_{T-1-k}`` with ``c_{T-1-k}`` held fixed. Cost: K backward steps on H deltas, O(K H^2 G).
    """
    model = _recurrent(model)
    if max_span is not None and (isinstance(max_span, bool) or not isinstance(max_span, (int, np.integer))
                                 or max_span < 0):
        raise ValueError(f"max_span: expected a non-negative integer or None, got {max_span!r}")
    x = np.asarray(inputs)
    B = x.shape[0] if x.ndim >= 2 else 0
    if isinstance(example, bool) or not isinstance(example, (int, np.integer)) or not 0 <= example < max(B, 1):
        raise ValueError(f"example: expected an index into the batch [0, {B}), got {example!r}")
    opts = Options()
    state0 = None
    if h0 is not None:
        parts = model._state0(h0, B)
        state0 = tuple(p[example:example + 1] for p in parts)
    batch = model._batch(x[example:example + 1], None, opts)
    fw = model._forward(batch, model._state0(state0, 1), opts)
    T, H = batch.T, model.hidden_size
    K = T - 1 if max_span is None else min(T - 1, max_span)
    P = np.empty((K + 1, H, H))
    P[0] = np.eye(H)
    D = (np.eye(H)[:, None, :],) + tuple(np.zeros((H, 1, H)) for _ in model.STATE[1:])
    for k in range(1, K + 1):
        D = model._step_backward(D, T - k, fw)[2]
        P[k] = D[0][:, 0, :]
    return P


def _power_norms(P: Array, v: Array | None, iters: int, tol: float) -> tuple[Array, Array]:
    """Largest singular value of each matrix of the stack ``P (K, n, m)`` by power iteration on
    ``P^T P``, warm-started from ``v (K, m)``. Returns (sigma (K,), v)."""
    K, _, m = P.shape
    if v is None or v.shape != (K, m):
        v = np.random.default_rng(0).standard_normal((K, m))
    v = v / np.maximum(np.linalg.norm(v, axis=1, keepdims=True), 1e-300)
    sigma = np.zeros(K)
    for _ in range(iters):
        u = np.matmul(P, v[:, :, None])[:, :, 0]
        new_sigma = np.linalg.norm(u, axis=1)
        w = np.matmul(u[:, None, :], P)[:, 0, :]
        nw = np.linalg.norm(w, axis=1, keepdims=True)
        v = np.where(nw > 0, w / np.maximum(nw, 1e-300), v)
        done = np.all(np.abs(new_sigma - sigma) <= tol * np.maximum(new_sigma, 1e-300))
        sigma = new_sigma
        if done:
            break
    return np.linalg.norm(np.matmul(P, v[:, :, None])[:, :, 0], axis=1), v


@dataclass(frozen=True)
class JacobianNorms:
    """``norms[k] = ||P_k||_2`` for ``spans = 0..K``; ``reference[k] = (sigma_max(W_hh) gamma)^k``
    (vanilla RNN only, else None): Pascanu et al.'s upper bound. ``vectors`` are the power
    iteration's right singular vectors ``(K+1, H)``, to warm-start the next call."""

    spans: Array
    norms: Array
    reference: Array | None
    vectors: Array | None = None


def jacobian_norms(model, inputs, *, h0=None, example: int = 0, max_span: int | None = None,
                   method: str = "power", iters: int = 50, tol: float = 1e-6,
                   warm: Array | None = None, sigma_max: float | None = None) -> JacobianNorms:
    """``||dh_{T-1}/dh_{T-1-k}||_2`` for growing spans k = 0..K, one sequence (``example``).

        ||P_k||_2 <= prod ||dh_i/dh_{i-1}||_2 <= (sigma_max(W_hh) * gamma)^k   (vanilla RNN)

    ``method="power"``: power iteration on ``P_k^T P_k`` (at most ``iters`` rounds, stopping at
    relative change ``tol``; ``warm`` = last call's ``vectors`` makes a few rounds enough);
    ``method="svd"``: exact, one SVD per span (slow: use it for checks). The reference line needs
    ``sigma_max(W_hh)``: pass it if known (e.g. from ``largest_singular_value``), else it is
    computed exactly.
    """
    model = _recurrent(model)
    if method not in ("power", "svd"):
        raise ValueError(f"method: expected 'power' or 'svd', got {method!r}")
    P = jacobian_products(model, inputs, h0=h0, example=example, max_span=max_span)
    spans = np.arange(P.shape[0])
    vectors = None
    if method == "svd":
        norms = np.linalg.norm(P, 2, axis=(1, 2))
    else:
        norms, vectors = _power_norms(P, warm, positive_int(iters, "iters"), tol)
    reference = None
    activation = getattr(model, "activation", None)
    if model.GATES == 1 and activation is not None:
        if sigma_max is None:
            sigma_max = float(np.linalg.norm(model.params[model.W_H], 2))
        reference = (sigma_max * ACTIVATIONS[activation.name].gamma) ** spans.astype(float)
    return JacobianNorms(spans, norms, reference, vectors)


# ---------------------------------------------------------------------------- the recurrent matrix
def recurrent_matrices(model) -> dict[str, Array]:
    """The square recurrent matrices, ``(H, H)`` views: ``{"W_hh": W_hh}`` for the vanilla RNN;
    one block per gate for gated cells (LSTM ``W_hi, W_hf, W_hg, W_ho``; GRU ``W_hr, W_hz, W_hn``),
    the column slices of ``W_h``."""
    model = _recurrent(model)
    W, H = model.params[model.W_H], model.hidden_size
    names = getattr(model, "GATE_NAMES", None)
    if model.GATES == 1 or names is None:
        return {model.W_H: W}
    return {f"W_h{g}": W[:, k * H:(k + 1) * H] for k, g in enumerate(names)}


def largest_singular_value(W: Array, v: Array | None = None, *, iters: int = 100,
                           tol: float = 1e-10) -> tuple[float, Array]:
    """``sigma_max(W) = max_{||v||=1} ||W v||`` by power iteration on ``W^T W`` (v <- W^T W v / ||.||),
    warm-started from ``v`` (a previous call's vector: W changes little between iterations, so a
    few rounds suffice). An exact SVD of a 100x100 matrix costs ~1 ms, of 512x512 tens of ms, every
    iteration; a round here costs two matrix-vector products. Returns ``(sigma, v)``; sigma is a
    lower bound that converges to sigma_max (linearly, at rate (sigma_2 / sigma_1)^2)."""
    sigma, v = _power_norms(np.asarray(W, dtype=np.float64)[None], None if v is None else v[None], iters, tol)
    return float(sigma[0]), v[0]


def spectral_radius(W: Array, Q: Array | None = None, *, iters: int = 100, block: int = 4,
                    tol: float = 1e-8) -> tuple[float, Array]:
    """``rho(W) = max |lambda_i(W)|`` of a square matrix by block power (subspace) iteration with
    Rayleigh-Ritz: ``Q <- qr(W Q)``, then ``rho ~ max |eig(Q^T W Q)|``. A block (default 4) rather
    than one vector, because a real matrix's dominant eigenvalues often come as a complex pair,
    around which single-vector power iteration oscillates. Warm-started from ``Q`` ``(H, block)``
    (a previous call's); converges at rate ``|lambda_{block+1} / lambda_1|`` per round. Exact
    eigenvalues (``np.linalg.eigvals``) cost several ms at H=100 and far more at H=512."""
    W = np.asarray(W, dtype=np.float64)
    n = W.shape[0]
    p = min(block, n)
    if Q is None or Q.shape != (n, p):
        Q = np.random.default_rng(0).standard_normal((n, p))
    Q, _ = np.linalg.qr(Q)
    rho = 0.0
    check = max(1, min(10, iters // 4))
    for i in range(1, iters + 1):
        Z = W @ Q
        if i % check == 0 or i == iters:
            new_rho = float(np.max(np.abs(np.linalg.eigvals(Q.T @ Z))))
            if abs(new_rho - rho) <= tol * max(new_rho, 1e-300):
                rho = new_rho
                break
            rho = new_rho
        Q, _ = np.linalg.qr(Z)
    return rho, Q


# ---------------------------------------------------------------------------- clipping
@dataclass(frozen=True)
class ClipLog:
    """Per optimiser update: ``iterations (N,)``, ``norms (N,)`` the global gradient norm before
    clipping ``||g|| = sqrt(sum_p ||g_p||^2)``, ``clipped (N,)`` whether clipping changed anything,
    ``scales (N,)`` the factor norm clipping applied (1.0 otherwise)."""

    iterations: Array
    norms: Array
    clipped: Array
    scales: Array

    @property
    def events(self) -> Array:
        """The iterations at which clipping acted."""
        return self.iterations[self.clipped]


def clip_log(updates: Iterable[UpdateStep]) -> ClipLog:
    """Collect pre-clip norms and clip events from ``UpdateStep`` records (other records are
    skipped); the record's ``index`` is its iteration."""
    ups = [u for u in updates if isinstance(u, UpdateStep)]
    return ClipLog(np.array([u.index for u in ups], dtype=np.int64), np.array([u.norm for u in ups], dtype=float),
                   np.array([u.clipped for u in ups], dtype=bool), np.array([u.scale for u in ups], dtype=float))


# ---------------------------------------------------------------------------- the spectrum over training
#: power-iteration rounds of one spectrum measurement (from a fixed start: see ``spectrum``)
SPECTRUM_ITERS = 60


def spectrum(model, iters: int = SPECTRUM_ITERS) -> dict[str, float]:
    """The numbers the weights view plots over training, ``{label: value}``:

    - recurrent models: ``"σ_max(W)"`` for each matrix of ``recurrent_matrices`` and, for the
      vanilla RNN, ``"ρ(W_hh) spectral radius"`` (the linearised dynamics of ``h_t``);
    - an MLP: ``"σ_max(W)"`` of each weight matrix.

    By power iteration from the fixed start (at most ``iters`` rounds, no warm start), so the
    values are a function of the weights alone: a session opened from a file measures exactly
    what the original did. NaN for a matrix that is not finite."""
    out: dict[str, float] = {}
    with np.errstate(all="ignore"):
        if not isinstance(model, RecurrentModel):
            for name, W in model.params.items():
                if W.ndim == 2:
                    out[f"σ_max({name})"] = _cold_sigma(W, iters)
            return out
        for name, W in recurrent_matrices(model).items():
            out[f"σ_max({name})"] = _cold_sigma(W, iters)
            if model.kind == "rnn":
                out[f"ρ({name}) spectral radius"] = (spectral_radius(W, None, iters=iters)[0]
                                                     if np.all(np.isfinite(W)) else float("nan"))
    return out


def _cold_sigma(W: Array, iters: int) -> float:
    return largest_singular_value(W, None, iters=iters)[0] if np.all(np.isfinite(W)) else float("nan")


class SpectralHistory:
    """A bounded record of ``spectrum`` over training: ``iterations`` and, per label, ``values``
    (each series ends with the last iteration)."""

    def __init__(self, capacity: int = 2000) -> None:
        self.iterations: deque[int] = deque(maxlen=capacity)
        self.values: dict[str, deque[float]] = {}
        self.capacity = capacity

    def add(self, iteration: int, stats: Mapping[str, float]) -> None:
        """The values of ``iteration`` (ignored when it is the last one already)."""
        if self.iterations and self.iterations[-1] == iteration:
            return
        self.iterations.append(iteration)
        for k, v in stats.items():
            self.values.setdefault(k, deque(maxlen=self.capacity)).append(v)

    def data(self, until: float | None = None) -> tuple[Array, dict[str, Array]]:
        """(iterations, {label: values}), the points with iteration <= ``until`` (None: all)."""
        x = np.array(self.iterations, dtype=float)
        series = {k: np.array(v, dtype=float)[-len(x):] for k, v in self.values.items()}
        if until is not None:
            keep = x <= until
            x = x[keep]
            series = {k: v[keep[len(keep) - len(v):]] for k, v in series.items()}  # values end with x
        return x, series

    def drop_after(self, iteration: int) -> None:
        """Forget the points of iterations after ``iteration`` (a history saved later than the
        state it is restored with)."""
        while self.iterations and self.iterations[-1] > iteration:
            self.iterations.pop()
            for v in self.values.values():
                if v:
                    v.pop()

    def to_json(self) -> dict:
        """Plain JSON (non-finite values as None), for session files."""
        def clean(v):
            return [float(a) if np.isfinite(a) else None for a in v]
        return {"iterations": [int(i) for i in self.iterations],
                "values": {k: clean(v) for k, v in self.values.items()}}

    @classmethod
    def from_json(cls, d: dict, capacity: int = 2000) -> SpectralHistory:
        """The inverse of ``to_json``; ``ValueError`` on anything malformed."""
        out = cls(capacity)
        its = d.get("iterations") if isinstance(d, dict) else None
        vals = d.get("values") if isinstance(d, dict) else None
        if not isinstance(its, list) or not isinstance(vals, dict) or len(its) > capacity:
            raise ValueError("spectral history: expected iterations and values")
        if not all(isinstance(i, int) and not isinstance(i, bool) for i in its):
            raise ValueError("spectral history: iterations must be whole numbers")
        out.iterations.extend(its)
        for k, v in vals.items():
            if not isinstance(v, list) or len(v) > len(its):
                raise ValueError(f"spectral history: values of {str(k)[:40]!r} do not match the iterations")
            out.values[str(k)] = deque((float("nan") if a is None else float(a) for a in v), maxlen=capacity)
        return out

    def __len__(self) -> int:
        return len(self.iterations)


# ---------------------------------------------------------------------------- the decay curves of a batch
#: the Jacobian lines multiply (H, H) matrices once per step back: (T - 1) * H**3 multiply-adds.
#: Above this they would take seconds, so ``Diagnostics.decay`` leaves them out.
JACOBIAN_BUDGET = 1e8


def jacobian_cost(hidden: int, points: int) -> float:
    """Multiply-adds of the Jacobian lines for ``points`` decay points of an ``hidden``-unit model."""
    return max(points - 1, 0) * float(hidden) ** 3


@dataclass(frozen=True)
class DecayCurves:
    """The decay curves of one batch (k = steps back from the last timestep, ``(T,)`` each):

    curve[k] = ||dL_{T-1}/dh_{T-1-k}|| (``gradient_decay``); cell: the same through the LSTM's
    cell state, else None; jacobian: ``||dh_{T-1}/dh_{T-1-k}||_2`` of one sequence and
    reference: its bound ``(sigma_max(W_hh) gamma)^k`` (vanilla RNN) -- None when left out (over
    ``JACOBIAN_BUDGET`` or switched off); sigma: the sigma_max(W_hh) of the reference (None
    without one or with a single point)."""

    curve: Array
    cell: Array | None
    jacobian: Array | None
    reference: Array | None
    sigma: float | None


# ---------------------------------------------------------------------------- the one pipeline
@dataclass(frozen=True)
class Snapshot:
    """One diagnostics pass (arrays are fresh and never mutated).

    decay ``(T,)`` = gradient_decay for h; decay_c ``(T,)`` for the LSTM's cell state, else None;
    deltas ``(T,)`` = delta_norms; jacobian: the Jacobian-product norms (None when switched off or
    over budget); sigma_max / spectral_radius: per recurrent matrix, from ``spectrum`` (the
    spectral radius for the vanilla RNN only); seconds: what the pass cost."""

    iteration: int
    decay: Array
    decay_c: Array | None
    deltas: Array
    jacobian: JacobianNorms | None
    sigma_max: Mapping[str, float]
    spectral_radius: Mapping[str, float]
    seconds: float


class Diagnostics:
    """Gradient-flow diagnostics over training: the one pipeline the app's views and the training
    loop of a script (or benchmark) share.

    - ``measure(iteration, model)``: ``spectrum`` into ``spectral`` (a ``SpectralHistory``);
    - ``decay(model, inputs, targets, key=...)``: the ``DecayCurves`` of a batch, the last one
      cached by ``key``, the Jacobian power iteration warm-started from the previous call (the
      model changes little from one call to the next: ``power_iters`` rounds then suffice, else
      ``cold_iters``);
    - ``remember_decay`` / ``earlier_decays``: the curves of earlier iterations (faint in a plot);
    - ``step`` / ``run``: a whole pass for a training loop (decay, delta norms, Jacobian lines,
      spectrum), as a ``Snapshot``, plus pre-clip norms and clip events (``clip_log``).

    Throttling (``step`` and ``spectrum_due``): a pass costs a few training iterations, so it
    does not run every time:

    - ``every=N``: on iterations 0, N, 2N, ... (deterministic);
    - otherwise (default) a cost budget: a pass runs once the training time since the last one is
      at least ``last pass cost / budget``, so diagnostics take about ``budget / (1 + budget)`` of
      the wall time (default budget 0.1: ~9%, so training keeps over 90% of its speed) whatever the
      model size;
    - ``min_interval`` (seconds): ``spectrum_due()`` says whether that long has passed since the
      last ``measure`` (an app measures while playing at most that often, and at every pause).

    Timing only decides *when* a pass runs; training itself is untouched and stays bit-for-bit
    reproducible. ``clock`` is the time source (seconds).
    """

    def __init__(self, every: int | None = None, *, budget: float = 0.1, min_interval: float = 0.0,
                 jacobian: bool = True, max_span: int | None = None, example: int = 0, power_iters: int = 8,
                 cold_iters: int = 100, jacobian_budget: float = JACOBIAN_BUDGET,
                 spectrum_iters: int = SPECTRUM_ITERS, history: int = 10000, spectral_capacity: int = 2000,
                 decay_capacity: int = 24, clock: Callable[[], float] = time.perf_counter) -> None:
        self.every = None if every is None else positive_int(every, "every")
        if not 0 < float(budget) <= 1:
            raise ValueError(f"budget: expected a fraction in (0, 1], got {budget!r}")
        self.budget = float(budget)
        if not float(min_interval) >= 0:
            raise ValueError(f"min_interval: expected seconds >= 0, got {min_interval!r}")
        self.min_interval = float(min_interval)
        self.jacobian = bool(jacobian)
        self.max_span = max_span
        self.example = example
        self.power_iters = positive_int(power_iters, "power_iters")
        self.cold_iters = positive_int(cold_iters, "cold_iters")
        self.jacobian_budget = float(jacobian_budget)
        self.spectrum_iters = positive_int(spectrum_iters, "spectrum_iters")
        self.spectral_capacity = positive_int(spectral_capacity, "spectral_capacity")
        self.clock = clock
        self.latest: Snapshot | None = None
        self.spectral = SpectralHistory(self.spectral_capacity)
        self.decay_history: deque[tuple[int, Array]] = deque(maxlen=positive_int(decay_capacity, "decay_capacity"))
        self._warm: Array | None = None  # the Jacobian power iteration's vectors
        self._cache: tuple[Any, DecayCurves] | None = None
        self._updates: deque[tuple[int, float, bool, float]] = deque(maxlen=positive_int(history, "history"))
        self._train_seconds = 0.0  # training time since the last pass
        self._last_call: float | None = None
        self._pass_seconds = 0.0
        self._ran_once = False
        self._last_measure = -math.inf

    def reset(self) -> None:
        """A new training run: empty histories (the warm-start vectors stay: only a start)."""
        self.spectral = SpectralHistory(self.spectral_capacity)
        self.decay_history.clear()
        self.latest = None
        self._updates.clear()

    # ------------------------------------------------------------------ the spectrum
    def spectrum_due(self) -> bool:
        """At least ``min_interval`` seconds since the last ``measure``."""
        return self.clock() - self._last_measure >= self.min_interval

    def measured_now(self) -> None:
        """A measurement made elsewhere (a worker thread calling ``spectrum``) counts for
        ``spectrum_due`` too."""
        self._last_measure = self.clock()

    def measure(self, iteration: int, model) -> dict[str, float]:
        """``spectrum(model)``, added to ``spectral`` as iteration ``iteration``."""
        try:
            values = spectrum(model, self.spectrum_iters)
            self.spectral.add(int(iteration), values)
            return values
        finally:
            self._last_measure = self.clock()

    # ------------------------------------------------------------------ the decay curves
    def decay(self, model, inputs, targets, *, h0=None, key: Any = None, sigma_max: float | None = None,
              **options) -> DecayCurves:
        """The ``DecayCurves`` of this batch (``options``: ``loss_and_grads``'s reduction,
        truncation, output, loss). ``key`` names what the inputs are (e.g. a narrated
        iteration): the same key again returns the same curves without computing. The
        reference line uses ``sigma_max`` (exact when None)."""
        if key is not None and self._cache is not None and self._cache[0] == key:
            return self._cache[1]
        model = _recurrent(model)
        with np.errstate(all="ignore"):
            curves = decay_curves(model, inputs, targets, h0=h0, **options)
            T = curves["h"].size
            jac = sigma = None
            if self.jacobian and jacobian_cost(model.hidden_size, T) <= self.jacobian_budget:
                span = T - 1 if self.max_span is None else min(T - 1, self.max_span)
                warm = self._warm if self._warm is not None and len(self._warm) == span + 1 else None
                if sigma_max is None and model.GATES == 1 and getattr(model, "activation", None) is not None:
                    sigma_max = float(np.linalg.norm(model.params[model.W_H], 2))
                jac = jacobian_norms(model, inputs, h0=h0, example=self.example, max_span=self.max_span,
                                     iters=self.power_iters if warm is not None else self.cold_iters, warm=warm,
                                     sigma_max=sigma_max)
                if jac.reference is not None and len(jac.reference) > 1:
                    sigma = sigma_max
        self._warm = None if jac is None else jac.vectors
        out = DecayCurves(curves["h"], curves.get("c"), None if jac is None else jac.norms,
                          None if jac is None else jac.reference, sigma)
        self._cache = (key, out) if key is not None else None
        return out

    def remember_decay(self, iteration: int, curve: Array) -> None:
        """Keep ``curve`` (finite) as iteration ``iteration``'s, once."""
        curve = np.asarray(curve, dtype=float)
        if np.all(np.isfinite(curve)) and not any(it == iteration for it, _ in self.decay_history):
            self.decay_history.append((int(iteration), curve.copy()))

    def earlier_decays(self, iteration: int, count: int = 12) -> list[Array]:
        """The last ``count`` remembered curves of iterations before ``iteration``, oldest first."""
        return [c for it, c in self.decay_history if it < iteration][-count:]

    # ------------------------------------------------------------------ saving
    def histories_json(self) -> dict[str, Any]:
        """``{"spectral": SpectralHistory.to_json(), "decay_history": [[iteration, curve], ...]}``
        (non-finite values as None), for session files."""
        def floats(a):
            return [float(v) if math.isfinite(v) else None for v in map(float, a)]
        return {"spectral": self.spectral.to_json(),
                "decay_history": [[int(it), floats(curve)] for it, curve in self.decay_history]}

    def load_histories(self, spectral: Any, decay_history: Any, iteration: int) -> bool:
        """Put back what ``histories_json`` gave, for a run now at ``iteration`` (points of later
        iterations are dropped). A malformed spectral history is ignored (the current one stays);
        malformed decay entries are skipped. True when the spectral history was put back."""
        loaded = False
        if spectral is not None:
            try:
                history = SpectralHistory.from_json(spectral, self.spectral_capacity)
            except ValueError:
                history = None
            if history is not None:
                history.drop_after(iteration)
                self.spectral = history
                loaded = True
        if isinstance(decay_history, list):
            self.decay_history.clear()
            for item in decay_history[-self.decay_history.maxlen:]:
                if (isinstance(item, list) and len(item) == 2 and isinstance(item[0], int)
                        and isinstance(item[1], list) and len(item[1]) <= 100_000 and item[0] <= iteration):
                    self.decay_history.append(
                        (item[0], np.array([np.nan if v is None else float(v) for v in item[1]])))
        return loaded

    # ------------------------------------------------------------------ a training loop
    def due(self, iteration: int) -> bool:
        """Whether ``step(iteration, ...)`` would run a pass now."""
        if self.every is not None:
            return iteration % self.every == 0
        return not self._ran_once or self._train_seconds * self.budget >= self._pass_seconds

    def step(self, iteration: int, model, inputs, targets, *, update: UpdateStep | None = None,
             records: Iterable[Step] | None = None, **options) -> Snapshot | None:
        """Record ``update`` (if given) and, when due, run a pass on this batch. ``options`` are
        the iteration's ``loss_and_grads`` options (h0, reduction, truncation, output, loss);
        ``records``: the iteration's narrated records, if any (the delta norms then come free).
        Returns the new ``Snapshot`` or None."""
        now = self.clock()
        if self._last_call is not None:
            self._train_seconds += now - self._last_call
        if update is not None:
            self._updates.append((int(update.index), float(update.norm), bool(update.clipped), float(update.scale)))
        snap = None
        if self.due(iteration):
            snap = self.run(iteration, model, inputs, targets, records=records, **options)
            self._ran_once = True
            self._train_seconds = 0.0
            self._pass_seconds = snap.seconds
        self._last_call = self.clock()
        return snap

    def run(self, iteration: int, model, inputs, targets, *, records: Iterable[Step] | None = None,
            **options) -> Snapshot:
        """One pass now, regardless of throttling: ``measure``, ``decay`` (remembered), the
        delta norms; kept as ``latest``."""
        t0 = self.clock()
        model = _recurrent(model)
        h0 = options.pop("h0", None)
        opts = model._options(options.pop("reduction", "mean"), options.pop("truncation", None),
                              options.pop("output", "all"), options.pop("loss", "cross_entropy"))
        if options:
            raise ValueError(f"options: unknown {', '.join(sorted(options))}")
        values = self.measure(iteration, model)
        names = recurrent_matrices(model)
        sigma = {n: values[f"σ_max({n})"] for n in names}
        radius = {n: values[f"ρ({n}) spectral radius"] for n in names if f"ρ({n}) spectral radius" in values}
        kw = {"reduction": opts.reduction, "truncation": opts.truncation, "output": opts.output, "loss": opts.loss}
        curves = self.decay(model, inputs, targets, h0=h0, sigma_max=sigma.get(model.W_H), **kw)
        self.remember_decay(iteration, curves.curve)
        if records is None:
            records = model.steps(inputs, targets, h0=h0, **kw)
        deltas = delta_norms_from_records(records)
        jac = None
        if curves.jacobian is not None:
            jac = JacobianNorms(np.arange(curves.jacobian.size), curves.jacobian, curves.reference, self._warm)
        snap = Snapshot(int(iteration), curves.curve, curves.cell, deltas, jac, MappingProxyType(sigma),
                        MappingProxyType(radius), self.clock() - t0)
        self.latest = snap
        return snap

    def clip_log(self) -> ClipLog:
        """Pre-clip norms and clip events of the updates seen so far (bounded history)."""
        if not self._updates:
            e = np.array([])
            return ClipLog(e.astype(np.int64), e, e.astype(bool), e)
        it, norms, clipped, scales = zip(*self._updates)
        return ClipLog(np.array(it, dtype=np.int64), np.array(norms), np.array(clipped, dtype=bool), np.array(scales))
