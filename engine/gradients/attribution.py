"""Where each gradient comes from: the exact attribution of ``dL/dh_t`` to the losses ``L_t'``.

The loss of a recurrent iteration is a sum over timesteps, ``L = sum_t' L_t'``, so the delta on a
hidden state splits exactly into one part per loss term (RNNbow, Cashman et al. 2017):

    dL/dh_t = sum_{t' >= t} dL_t'/dh_t,    dL_t'/dh_t = dL_t'/dh_t' prod_{i=t'..t+1} dh_i/dh_{i-1}

``attribution`` computes every part at once. The parts are linear in the loss deltas, so the T
sources travel back together as one stack ``(T, B, H)`` through the model's own backward step
(``_step_backward``, the code the gradients use): source t' enters its slot at step t' as
``dy_t' W_hy^T`` and is carried back from there. At step t only the sources that are alive take
part (t' >= t, and t' - t < k under window truncation), so the whole matrix costs about one
backward pass on a stack of T/2 deltas (k deltas with a window) instead of T separate passes.

- ``A[t, t'] = ||dL_t'/dh_t||`` (2-norm over the batch and hidden units), ``(T, T)``; zero below
  the diagonal (t' < t), and under window truncation k zero wherever ``t' - t >= k`` (the loss at
  t' reaches h_t', ..., h_{t'-k+1} only: a band of width k). Many-to-one: only column T-1.
- LSTM: ``A_c[t, t'] = ||dL_t'/dc_t||``, the total cell-state delta (what reaches c_t through the
  carousel plus what reaches it through h_t).
- ``A_w[t, t'] = ||h_{t-1}^T d(ah)_t^{(t')}||_F``: the part of step t's contribution to dL/dW_hh
  (gated cells: dL/dW_h) that comes from L_t'.
- ``parts`` (optional, ``(T, T, B, H)``): the vectors themselves; ``parts[t].sum(0)`` is exactly the
  ``dh`` of the engine's ``BackwardStep`` t.

Connectivity (Distill, "Visualizing memorization in RNNs", 2019): how strongly output y_t depends
on the input at t' <= t, ``||dy_t/dx_t'||_F``; for token inputs, on the input row ``x_t' W_x``
(the embedding row of W_x the token selects), ``||dy_t/d(x_t' W_x)||_F``. This is the model's
true derivative: truncation changes what training sends back, not what the output depends on.

The chain-rule path of one cell (``path``) lists the factors of the Jacobian product with the real
numbers for one hidden unit of one example, and the what-if transforms (``scale_recurrent``,
``set_forget_bias``, ``with_activation``, ``set_truncation``) build changed copies of a model
without training; ``snapshot`` / ``restore`` bring the trained weights back bit for bit.

The loss-side and loop-side bug-lab mistakes are not applied here (these quantities describe the
model's true gradient flow, as ``engine.gradients.diagnostics`` does); ``deriv_wrong_variable`` lives in the
cell's backward step and shows here too. With no bug switched on, the rows sum to the engine's
``dh`` (tested).
"""

from __future__ import annotations

import copy
import math
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

import numpy as np

from ..checks import finite_float, positive_int
from ..explain import Explanation, Term, fmt, sub
from ..models.recurrent import Forward, Options, RecurrentModel
from ..nn.activations import ACTIVATIONS, get_activation
from ..nn.losses import cross_entropy, squared_error

Array = np.ndarray


# ---------------------------------------------------------------------------- helpers
def _recurrent(model: Any) -> RecurrentModel:
    if not isinstance(model, RecurrentModel):
        raise ValueError(f"model: expected a recurrent model (RNN, LSTM, GRU), got {type(model).__name__}")
    return model


def _prepare(model: RecurrentModel, inputs, targets, h0, opts: Options) -> Forward:
    """Validated forward pass with an output at every step (``Y (T, B, O)``)."""
    batch = model._batch(inputs, targets, opts)
    every = Options(opts.reduction, opts.truncation, "all", opts.loss)
    return model._forward(batch, model._state0(h0, batch.B), every)


def _output_deltas(model: RecurrentModel, fw: Forward, opts: Options) -> Array:
    """``dL_t/dh_t = dL_t/dy_t W_hy^T`` for every t, after reduction, ``(T, B, H)``; a
    many-to-one model has a loss at T-1 only (the other rows are zero)."""
    tg = fw.batch.targets
    Y = fw.Y
    if opts.output == "last":  # (a many-to-one forward pass keeps the last output only, (B, O))
        Y = Y[-1:] if Y.ndim == 3 else Y[None]
        tg = tg[None]
    else:
        tg = tg.T if tg.ndim == 2 else tg.transpose(1, 0, 2)
    if opts.loss == "cross_entropy":
        _, dY, _ = cross_entropy(Y, tg)
    else:
        _, dY = squared_error(Y, tg)
    if opts.reduction == "mean":
        dY /= fw.batch.B
    d = dY @ model.params[model.W_Y].T
    if opts.output == "last":
        out = np.zeros((fw.batch.T,) + d.shape[1:])
        out[-1] = d[0]
        return out
    return d


def _norms(stack: Array) -> Array:
    """2-norm of every slice of ``(S, ...)``, ``(S,)``."""
    flat = stack.reshape(len(stack), -1)
    return np.sqrt(np.einsum("sn,sn->s", flat, flat))


# ---------------------------------------------------------------------------- attribution
@dataclass(frozen=True)
class Attribution:
    """The attribution of one iteration (see the module docstring). Arrays are read-only.

    A ``(T, T)``: ``A[t, t'] = ||dL_t'/dh_t||``; A_c: LSTM ``||dL_t'/dc_t||`` else None;
    A_w: ``||h_{t-1}^T d(ah)_t^{(t')}||_F`` (the recurrent weights' gradient, by source) or None;
    dh_norm ``(T,)``: ``||dL/dh_t||`` (of the row's vector sum, as the backward records have it);
    parts: ``(T, T, B, H)`` the vectors ``dL_t'/dh_t`` or None; truncation: the window k or None;
    output: ``"all"`` or ``"last"``; kind: ``"rnn"``, ``"lstm"`` or ``"gru"``; totals: the summed
    deltas a backward pass's records would show, each ``(T, B, .)``: ``"dh"`` (dL/dh_t),
    ``"dh_out"`` (the part from the output at t), ``"dpre"`` (the (gate) pre-activation delta)
    and, LSTM, ``"dc"`` (the total cell-state delta)."""

    A: Array
    A_c: Array | None
    A_w: Array | None
    dh_norm: Array
    parts: Array | None
    truncation: int | None
    output: str
    kind: str
    totals: Mapping[str, Array] | None = None

    @property
    def T(self) -> int:
        return int(self.A.shape[0])

    @property
    def decay(self) -> Array:
        """``decay[k] = ||dL_{T-1}/dh_{T-1-k}||``: the last column read upwards, the same numbers
        as ``engine.gradients.diagnostics.gradient_decay`` (``(T,)``)."""
        return self.A[::-1, -1].copy()

    @property
    def decay_c(self) -> Array | None:
        """LSTM: ``||dL_{T-1}/dc_{T-1-k}||`` (``(T,)``), else None."""
        return None if self.A_c is None else self.A_c[::-1, -1].copy()

    def mask(self) -> Array:
        """``(T, T)`` bool: the cells that can be non-zero (t <= t', inside the window, and a
        column with a loss)."""
        T = self.T
        t, tp = np.indices((T, T))
        m = tp >= t
        if self.truncation is not None:
            m &= tp - t < self.truncation
        if self.output == "last":
            m &= tp == T - 1
        return m

    def reach(self, fraction: float = 1e-2, state: str = "h") -> Array:
        """For each source t', how many steps back its gradient keeps at least ``fraction`` of
        its size at h_t' (``state`` ``"c"``: at c_t', LSTM) (``(T,)`` ints, 0 for a column
        without a loss): the width of the band."""
        A = self.A_c if state == "c" and self.A_c is not None else self.A
        T = self.T
        out = np.zeros(T, dtype=int)
        for tp in range(T):
            top = A[tp, tp]
            if not top > 0:
                continue
            col = A[:tp + 1, tp]
            alive = np.nonzero((col >= fraction * top) & (col > 0))[0]
            out[tp] = tp - int(alive.min())
        return out


def attribution(model, inputs, targets, *, h0=None, reduction: str = "mean",
                truncation: int | None = None, output: str = "all", loss: str = "cross_entropy",
                parts: bool = False, weights: bool = True, forward: Forward | None = None) -> Attribution:
    """The exact attribution matrix of one batch (module docstring).

    inputs, targets, h0 and the options are those of ``loss_and_grads``. ``parts=True`` also keeps
    the vectors ``(T, T, B, H)`` (memory T² B H floats); ``weights=False`` skips ``A_w``;
    ``forward``: the forward pass of these inputs through these weights if the caller has it
    (``Setup.forward``; read, never written). Cost: a forward pass (none with ``forward``) and
    one backward sweep over a stack of the alive sources: ``sum_t`` (alive sources at t)
    vector-Jacobian products where a backward pass takes T (T(T+1)/2 untruncated, about kT with
    a window k).
    """
    model = _recurrent(model)
    opts = model._options(reduction, truncation, output, loss)
    fw = _prepare(model, inputs, targets, h0, opts) if forward is None else forward
    return _attribute(model, fw, opts, parts=parts, weights=weights)


#: buffer the per-step stacks (and take every norm at the end, in one call each) up to this many
#: floats per buffer; beyond it the norms are taken step by step (less memory, more calls)
_BUFFER_LIMIT = 1 << 22


def _own_forward(fw: Forward) -> Forward:
    """A forward pass sharing ``fw``'s buffers (read only) but with its own scratch entries: the
    cells cache their backward multipliers in ``cell`` (shared: they depend on the forward alone)
    and the LSTM writes each step's cell delta into ``cell["dcs"]``, which a narrated iteration's
    records read later, so the sweep must never write into the original's list."""
    cell = dict(fw.cell)
    if "dcs" in cell:
        cell["dcs"] = [None] * len(cell["dcs"])
    return Forward(fw.batch, cell, fw.Y)


def _attribute(model: RecurrentModel, fw: Forward, opts: Options, *, parts: bool, weights: bool) -> Attribution:
    """The sweep: every alive source of step t goes back through the cell's own backward step
    (``_backstep``) at once, written straight into the buffers (no per-step copies)."""
    fw = _own_forward(fw)
    T, B, H = fw.batch.T, fw.batch.B, model.hidden_size
    G = model.GATES * H
    k = opts.truncation
    out = _output_deltas(model, fw, opts)
    lstm = "c" in model.STATE
    separate = model._separate_dah  # the GRU's recurrent delta differs from its input delta
    Hs = fw.cell["h"]
    ctx = model._backward_context(fw)
    dcs = fw.cell.get("dcs")  # the LSTM's cell deltas, written by each step
    # S[j][r, s]: the delta that source s sends to state component j at step t, in row r = t
    # (buffered: every step's stack is kept and the norms are taken once at the end) or r = t % 2
    # (large sizes: two rows, the norms taken step by step)
    buffered = parts or T * T * B * G <= _BUFFER_LIMIT
    rows = T if buffered else 2
    S = tuple(np.zeros((rows, T, B, H)) for _ in model.STATE)
    A = np.zeros((T, T))
    A_c = np.zeros((T, T)) if lstm else None
    A_w = np.zeros((T, T)) if weights else None
    dh_norm = np.zeros(T)
    if buffered:
        Pc = np.zeros((T, T, B, H)) if lstm else None
        Pw = np.zeros((T, T, B, G)) if weights else None
    first = T - 1 if opts.output == "last" else 0  # the earliest source with a loss
    scratch = np.empty((2, T, B, G))  # dax (and the GRU's dah) when they are not kept
    dpre = np.zeros((T, B, G))  # the summed input-side delta of each step (the records' dpre)
    if not buffered:
        dh, dc = np.zeros((T, B, H)), (np.zeros((T, B, H)) if lstm else None)

    # the live sources of each step: t' in [lo, hi)
    ranges = [(max(t, first), T if k is None else min(T, t + k)) for t in range(T)]
    keep_w = buffered and weights
    # dax is kept whole (the weight parts' buffer) when it is dah: its sum over the sources, the
    # records' dpre, is then taken once at the end instead of step by step
    sum_later = keep_w and not separate
    for t in range(T - 1, -1, -1):
        lo, hi = ranges[t]
        if hi <= lo:  # no loss reaches h_t (many-to-one beyond the window)
            continue
        n = hi - lo
        r = t if buffered else t % 2
        S[0][r, t] = out[t]  # source t enters at its own step (its slot held nothing yet)
        alive = tuple([s[r, lo:hi] for s in S])
        dah = Pw[t, lo:hi] if keep_w else scratch[1, :n]
        dax = (scratch[0, :n] if separate else dah)
        prev = None
        if t > 0:  # carried straight into step t-1's rows; a source whose window ends here is not
            hi2 = ranges[t - 1][1]
            r2 = t - 1 if buffered else (t - 1) % 2
            prev = tuple([s[r2, lo:hi] for s in S]) if hi2 == hi else tuple([np.empty((n, B, H)) for _ in S])
        model._backstep(ctx, alive, t, dax, dah, prev)
        if not sum_later:
            np.sum(dax, 0, out=dpre[t])
        if prev is not None and hi2 != hi:
            for s, p in zip(S, prev):
                s[r2, lo:hi2] = p[:hi2 - lo]
        if buffered:
            if lstm:
                Pc[t, lo:hi] = dcs[t]
        else:
            A[t, lo:hi] = _norms(alive[0])
            np.sum(alive[0], 0, out=dh[t])
            dh_norm[t] = _norms(dh[t][None])[0]
            if lstm:
                A_c[t, lo:hi] = _norms(dcs[t])
                np.sum(dcs[t], 0, out=dc[t])
            if weights:
                A_w[t, lo:hi] = _weight_norms(Hs[t][None], dah[None])[0]
    if sum_later:
        np.sum(Pw, 1, out=dpre)  # rows outside a step's live range are zero
    if buffered:
        P = S[0]
        A = _norms(P.reshape(T * T, -1)).reshape(T, T)
        if lstm:
            A_c = _norms(Pc.reshape(T * T, -1)).reshape(T, T)
        if weights:
            A_w = _weight_norms(Hs[:-1], Pw)
        dh = P.sum(1)
        dh_norm = _norms(dh)
        dc = Pc.sum(1) if lstm else None
    totals = {"dh": dh, "dh_out": out, "dpre": dpre}
    if lstm:
        totals["dc"] = dc
    for a in (A, A_c, A_w, dh_norm, *totals.values()):
        if a is not None:
            a.flags.writeable = False
    kept = None
    if parts:
        kept = S[0]
        kept.flags.writeable = False
    return Attribution(A, A_c, A_w, dh_norm, kept, opts.truncation, opts.output, model.kind,
                       MappingProxyType(totals))


def _weight_norms(Hp: Array, dah: Array) -> Array:
    """``||h_{t-1}^T d(ah)_t^{(s)}||_F`` for every step and source: Hp ``(n, B, H)`` the states
    h_{t-1}, dah ``(n, S, B, G)`` -> ``(n, S)``. ``||h^T d||_F^2 = sum_{b,c} (h_b . h_c)(d_b . d_c)``,
    which for one example is ``||h|| ||d||``."""
    n, S, B = dah.shape[:3]
    if B == 1:
        return _norms(dah.reshape(n * S, -1)).reshape(n, S) * _norms(Hp)[:, None]
    K = np.einsum("tbh,tch->tbc", Hp, Hp)
    E = np.einsum("tsbg,tscg->tsbc", dah, dah)
    return np.sqrt(np.maximum(np.einsum("tbc,tsbc->ts", K, E), 0.0))


# ---------------------------------------------------------------------------- connectivity
def connectivity(model, inputs, t: int, *, h0=None, forward: Forward | None = None) -> Array:
    """``C[b, t'] = ||dy_t / dx_t'||_F`` for example b, ``(B, T)``; zero for t' > t.

    Float inputs ``(B, T, D)``: the Jacobian of the output ``y_t (O,)`` with respect to the input
    vector ``x_t' (D,)``. Token ids ``(B, T)``: with respect to the input row ``x_t' W_x``
    (``(G,)``, the row of W_x the token selects plus the input bias), i.e. the norm of the
    gradients that y_t's O outputs send to that embedding row. Exact: the O output units are
    pushed back together as a stack of O deltas, ``t + 1`` backward steps. ``forward``: the
    forward pass of these inputs through these weights if the caller has it (read only).
    """
    model = _recurrent(model)
    opts = Options()
    batch = model._batch(inputs, None, opts) if forward is None else forward.batch
    T, B = batch.T, batch.B
    if isinstance(t, bool) or not isinstance(t, (int, np.integer)) or not 0 <= t < T:
        raise ValueError(f"t: expected an output timestep in [0, {T}), got {t!r}")
    fw = model._forward(batch, model._state0(h0, B), opts) if forward is None else forward
    return _connect(model, fw, int(t))


def _connect(model: RecurrentModel, fw: Forward, t: int) -> Array:
    fw = _own_forward(fw)
    batch = fw.batch
    T, B, H = batch.T, batch.B, model.hidden_size
    W_y = model.params[model.W_Y]  # (H, O): output unit o sends W_y[:, o] back to h_t
    O = W_y.shape[1]
    D = (np.broadcast_to(W_y.T[:, None, :], (O, B, H)).copy(),) + tuple(
        np.zeros((O, B, H)) for _ in model.STATE[1:])
    C = np.zeros((B, T))
    Wx_T = None if batch.ids is not None else model.params[model.W_X].T  # (G, D)
    for i in range(t, -1, -1):
        dax, _, D = model._step_backward(D, i, fw)  # dax (O, B, G) = dy_t/d(ax_i)
        g = dax if Wx_T is None else dax @ Wx_T
        C[:, i] = np.sqrt(np.einsum("obn,obn->b", g, g))
    return C


def connectivity_matrix(model, inputs, *, h0=None) -> Array:
    """Connectivity of every output step: ``(T, B, T)``, entry ``[t, b, t'] = ||dy_t/dx_t'||``
    (``connectivity`` for t = 0..T-1; T times its cost)."""
    model = _recurrent(model)
    opts = Options()
    batch = model._batch(inputs, None, opts)
    fw = model._forward(batch, model._state0(h0, batch.B), opts)
    return np.stack([_connect(model, fw, t) for t in range(batch.T)])


# ---------------------------------------------------------------------------- the chain-rule path
@dataclass(frozen=True)
class PathStep:
    """One link of the path: the delta from L_t' on the state at ``step`` and how it moves one
    step back. ``terms``/``keys``: the link's factors for the selected unit (``Term``s);
    ``norm``: ``||dL_t'/dh_step||`` of the example; ``gain``: the norm one step back divided by
    this one (None on the last link, which stops at h_t)."""

    step: int
    keys: tuple[str, ...]
    terms: tuple[Term, ...]
    norm: float
    gain: float | None

    def value(self, key: str) -> float:
        return self.terms[self.keys.index(key)].value


@dataclass(frozen=True)
class Path:
    """The chain-rule path from L_{source} back to h_t for hidden unit ``unit`` of ``example``.

    ``start``: ``dL_t'/dh_t'`` at the unit (what the output sends in); ``value``: ``dL_t'/dh_t``
    at the unit (the cell's vector part); ``start_norm``/``norm``: the example's norms at h_t'
    and h_t (``norm / start_norm`` is the product of the links' gains); ``equation``: the product
    of Jacobians in plain Unicode; ``steps``: the links from t' down to t; ``window``: False when
    truncation stops this loss before h_t (then every delta is zero)."""

    kind: str
    t: int
    source: int
    unit: int
    example: int
    equation: str
    start: float
    value: float
    start_norm: float
    norm: float
    steps: tuple[PathStep, ...]
    window: bool = True

    @property
    def ratio(self) -> float:
        """``||dL_t'/dh_t|| / ||dL_t'/dh_t'||`` (0 when nothing arrives)."""
        return self.norm / self.start_norm if self.start_norm > 0 else 0.0

    def explanation(self) -> Explanation:
        """The path as an explain-panel ``Explanation`` (title, equation, terms, sentence)."""
        tp, t, j = self.source, self.t, self.unit
        terms: list[Term] = [Term(f"∂L{sub(tp)}/∂h{sub(tp)}[{j}]", self.start, "what the output sends in")]
        keys: list[str] = ["start"]
        for st in self.steps:
            for key, term in zip(st.keys, st.terms):
                terms.append(term)
                keys.append(f"{key}@{st.step}")
        terms.append(Term(f"∂L{sub(tp)}/∂h{sub(t)}[{j}]", self.value, "the cell's part at this unit"))
        keys.append("value")
        title = f"Path L{sub(tp)} → h{sub(t)} · unit {j}"
        if not self.window:
            sentence = (f"Truncation stops the loss at t = {tp} before it reaches h{sub(t)}: "
                        f"this part of the gradient is exactly 0.")
        elif t == tp:
            sentence = (f"This is the loss at the state's own step: ‖∂L{sub(tp)}/∂h{sub(t)}‖ = "
                        f"{fmt(self.norm)}, with no Jacobian in between.")
        else:
            sentence = (f"{self.source - self.t} Jacobians carry ‖∂L{sub(tp)}/∂h{sub(tp)}‖ = "
                        f"{fmt(self.start_norm)} back to ‖∂L{sub(tp)}/∂h{sub(t)}‖ = {fmt(self.norm)}: "
                        f"{fmt(self.ratio)} of it arrives, the product of the per-step gains.")
        return Explanation(title, self.equation, tuple(terms), sentence, "", tuple(keys))


_EQUATIONS = {
    "rnn": "∂L{tp}/∂h{t} = ∂L{tp}/∂h{tp} · Π_i diag(f′(z_i)) W_hhᵀ,  i = {tp} … {t1}",
    "lstm": ("∂L{tp}/∂h{t}: per step i = {tp} … {t1}\n"
             "δc_i = δc_i^future + δh_i · o_i tanh′(c_i),  δc_{{i−1}}^future = δc_i · f_i\n"
             "δh_{{i−1}} = [δc_i g_i σ′ | δc_i c_{{i−1}} σ′ | δc_i i_i tanh′ | δh_i tanh(c_i) σ′] W_hᵀ"),
    "gru": ("∂L{tp}/∂h{t}: per step i = {tp} … {t1}\n"
            "δh_{{i−1}} = δh_i · z_i + [δr_pre | δz_pre | δn_pre · r_i] W_hᵀ"),
}


def path(model, inputs, targets, t: int, source: int, *, unit: int = 0, example: int = 0, h0=None,
         reduction: str = "mean", truncation: int | None = None, output: str = "all",
         loss: str = "cross_entropy") -> Path:
    """The chain-rule path of cell ``(t, source)`` of the attribution matrix, with the real numbers
    for hidden ``unit`` of batch row ``example`` (``Path``). Options as in ``attribution``."""
    model = _recurrent(model)
    opts = model._options(reduction, truncation, output, loss)
    fw = _prepare(model, inputs, targets, h0, opts)
    T, B, H = fw.batch.T, fw.batch.B, model.hidden_size
    for name, v, hi in (("t", t, T), ("source", source, T), ("unit", unit, H), ("example", example, B)):
        if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or not 0 <= v < hi:
            raise ValueError(f"{name}: expected an integer in [0, {hi}), got {v!r}")
    t, source, j, b = int(t), int(source), int(unit), int(example)
    if source < t:
        raise ValueError(f"source: the loss at t' = {source} does not depend on h_{t} (t' must be >= t = {t})")
    out = _output_deltas(model, fw, opts)
    k = opts.truncation
    inside = (k is None or source - t < k) and (opts.output == "all" or source == T - 1)
    D = tuple((out[source] if n == 0 else np.zeros((B, H)))[None] for n in range(len(model.STATE)))
    if not inside:
        D = tuple(np.zeros_like(d) for d in D)
    eq = _EQUATIONS[model.kind].format(tp=sub(source), t=sub(t), t1=sub(t + 1))
    start = float(D[0][0, b, j])
    start_norm = math.sqrt(float(np.vdot(D[0][0, b], D[0][0, b])))
    steps = []
    for i in range(source, t, -1):
        keys, terms, D_next = _link(model, fw, D, i, b, j)
        n_now = math.sqrt(float(np.vdot(D[0][0, b], D[0][0, b])))
        n_next = math.sqrt(float(np.vdot(D_next[0][0, b], D_next[0][0, b])))
        steps.append(PathStep(i, keys, terms, n_now, n_next / n_now if n_now > 0 else 0.0))
        D = D_next
    norm = math.sqrt(float(np.vdot(D[0][0, b], D[0][0, b])))
    return Path(model.kind, t, source, j, b, eq, start, float(D[0][0, b, j]), start_norm, norm,
                tuple(steps), inside)


def _link(model: RecurrentModel, fw: Forward, D: tuple[Array, ...], i: int, b: int, j: int):
    """One step back from state i to i-1 for a single source: the factors at unit j."""
    H = model.hidden_size
    dax, dah, prev = model._step_backward(D, i, fw)
    dh = float(D[0][0, b, j])
    W = model.params[model.W_H]
    via_w = float(dah[0, b] @ W[j])  # (d(ah) W_h^T)[j]
    I, P = sub(i), sub(i - 1)
    if model.kind == "rnn":
        fprime = float(model._derivative(fw)[i, b, j])
        dz = float(dax[0, b, j])
        self_w = float(W[j, j]) * dz
        pairs = [("dh", f"δh{I}[{j}]", dh, ""), ("fprime", f"f′(z{I})[{j}]", fprime, "the activation's slope"),
                 ("dz", f"δz{I}[{j}] = δh{I} · f′", dz, ""),
                 ("self", f"W_hh[{j},{j}] δz{I}[{j}]", self_w, "through the unit's own weight"),
                 ("others", "Σ other units", via_w - self_w, "through the other units' weights"),
                 ("dh_prev", f"δh{P}[{j}]", float(prev[0][0, b, j]), "= (δz W_hhᵀ)[j]")]
    elif model.kind == "lstm":
        gates = fw.cell["gates"][i, b]
        M, K = model._multipliers(fw)
        dc = float(model._cell_delta(fw, i, D)[0, b, j])
        f = float(gates[H + j])
        pairs = [("dh", f"δh{I}[{j}]", dh, ""), ("dc_future", f"δc{I} future[{j}]", float(D[1][0, b, j]),
                                                "arriving along the carousel"),
                 ("K", f"o{I} tanh′(c{I})[{j}]", float(K[i, b, j]), "h's way into c"),
                 ("dc", f"δc{I}[{j}]", dc, "= future + δh · o tanh′(c)"),
                 ("f", f"f{I}[{j}]", f, "the forget gate: the carousel's factor"),
                 ("dc_prev", f"δc{P} future[{j}]", float(prev[1][0, b, j]), "= δc · f"),
                 ("dh_prev", f"δh{P}[{j}]", float(prev[0][0, b, j]), "= (δa W_hᵀ)[j], all four gates")]
    else:  # gru
        z = float(fw.cell["gates"][i, b, H + j])
        carry = dh * z
        pairs = [("dh", f"δh{I}[{j}]", dh, ""), ("z", f"z{I}[{j}]", z, "the update gate: the direct path"),
                 ("carry", f"δh{I} · z{I}[{j}]", carry, "skips the weights"),
                 ("weights", f"(δah W_hᵀ)[{j}]", via_w, "through r, z, n and W_h"),
                 ("dh_prev", f"δh{P}[{j}]", float(prev[0][0, b, j]), "= carry + weights")]
    keys = tuple(p[0] for p in pairs)
    terms = tuple(Term(p[1], p[2], p[3]) for p in pairs)
    return keys, terms, prev


# ---------------------------------------------------------------------------- what-if transforms
def snapshot(model) -> dict[str, Array]:
    """Copies of the model's parameters (the trained weights, to come back to)."""
    return {name: p.copy() for name, p in _recurrent(model).params.items()}


def restore(model, saved: Mapping[str, Array]) -> None:
    """Write ``saved`` (a ``snapshot``) back into the model's parameter arrays, in place, bit for
    bit; the arrays keep their identity (an optimiser's state stays attached to them)."""
    model = _recurrent(model)
    if set(saved) != set(model.params):
        raise ValueError(f"saved: expected the parameters {', '.join(model.params)}, got {', '.join(saved)}")
    for name, p in model.params.items():
        if np.shape(saved[name]) != p.shape:
            raise ValueError(f"saved: {name} has shape {np.shape(saved[name])}, the model's is {p.shape}")
        np.copyto(p, saved[name])


def recurrent_sigma(model) -> float:
    """``sigma_max`` of the recurrent weights: ``W_hh (H, H)`` for the vanilla RNN, the whole
    ``W_h (H, G)`` for gated cells (exact, from the Gram matrix's largest eigenvalue)."""
    model = _recurrent(model)
    W = model.params[model.W_H]
    # sigma_max^2 is the largest eigenvalue of the smaller Gram matrix W W^T (H x H): a symmetric
    # eigenvalue problem several times cheaper than an SVD of the (H, 4H) LSTM matrix, and exact
    # for the largest singular value to rounding
    G = W @ W.T if W.shape[0] <= W.shape[1] else W.T @ W
    return math.sqrt(max(float(np.linalg.eigvalsh(G)[-1]), 0.0))


def _copy(model: RecurrentModel) -> RecurrentModel:
    new = copy.copy(model)
    new.params = {name: p.copy() for name, p in model.params.items()}
    return new


def scale_recurrent(model, sigma: float) -> RecurrentModel:
    """A copy of ``model`` whose recurrent weights are scaled so that ``recurrent_sigma`` equals
    ``sigma`` (>= 0): ``W <- W sigma / sigma_max(W)``. The direction of W is kept: only the
    size changes, which moves ``sigma_max gamma`` through 1 (Pascanu et al. 2013)."""
    model = _recurrent(model)
    sigma = finite_float(sigma, "sigma", minimum=0.0)
    now = recurrent_sigma(model)
    if not now > 0:
        raise ValueError(f"sigma: the recurrent weights {model.W_H} are all zero, so scaling cannot give "
                         f"sigma_max = {sigma}; train or re-initialise first")
    new = _copy(model)
    new.params[new.W_H] *= sigma / now
    return new


def set_forget_bias(model, value: float) -> RecurrentModel:
    """A copy of an LSTM with the forget-gate bias ``b[H:2H]`` set to ``value`` for every unit:
    f = σ(a_f) starts near σ(value), the carousel's factor."""
    model = _recurrent(model)
    if model.kind != "lstm":
        raise ValueError(f"forget bias: only an LSTM has a forget gate, this model is {model.kind!r}")
    value = finite_float(value, "forget_bias")
    new = _copy(model)
    H = new.hidden_size
    new.params["b"][H:2 * H] = value
    return new


def with_activation(model, name: str) -> RecurrentModel:
    """A copy of a vanilla RNN with the recurrent activation ``name`` (tanh, sigmoid, relu,
    linear) and the same weights. Gated cells fix their activations by their equations."""
    model = _recurrent(model)
    if model.kind != "rnn":
        raise ValueError(f"activation: only the vanilla RNN's activation can be switched; the {model.kind.upper()}'s "
                         f"sigmoid and tanh are part of its equations")
    new = _copy(model)
    new.activation = get_activation(name)
    return new


def set_truncation(options: Mapping[str, Any], k: int | None) -> dict[str, Any]:
    """New ``loss_and_grads`` options with window truncation ``k`` (None: full BPTT)."""
    if k is not None:
        k = positive_int(k, "truncation")
    return {**options, "truncation": k}


def what_if(model, *, sigma: float | None = None, forget_bias: float | None = None,
            activation: str | None = None) -> RecurrentModel:
    """All what-if changes at once, applied to a copy of ``model`` (None leaves a setting alone):
    activation, then the forget bias, then the recurrent scale."""
    new = _copy(_recurrent(model))
    if activation is not None:
        new = with_activation(new, activation)
    if forget_bias is not None:
        new = set_forget_bias(new, forget_bias)
    if sigma is not None:
        new = scale_recurrent(new, sigma)
    return new


# ---------------------------------------------------------------------------- one redraw's data
@dataclass(frozen=True)
class WhatIfFrame:
    """Everything a what-if change redraws, from one forward pass of the changed model.

    attribution: the ``Attribution``; decay ``(T,)`` and decay_c: its last column (the decay
    curve); bound: ``decay[0] (sigma_max gamma)^k`` for a vanilla RNN (Pascanu et al.'s bound of a
    batch of one), else None; deltas ``(T,)``: ``||dL/dh_t||``; connectivity ``(B, T)`` for output
    step ``t`` (None if not asked for); sigma: ``recurrent_sigma``; gamma: sup |f'| or None;
    forward: the forward pass it was computed from (read only: ``connectivity(..., forward=)``
    takes it for another output step)."""

    attribution: Attribution
    decay: Array
    decay_c: Array | None
    bound: Array | None
    deltas: Array
    connectivity: Array | None
    t: int | None
    sigma: float
    gamma: float | None
    forward: Forward | None = None


def what_if_frame(model, inputs, targets, *, t: int | None = None, h0=None, reduction: str = "mean",
                  truncation: int | None = None, output: str = "all", loss: str = "cross_entropy",
                  weights: bool = True, forward: Forward | None = None, connect: bool = True) -> WhatIfFrame:
    """The data of one what-if redraw: attribution, decay curve and bound, delta norms and the
    connectivity of output step ``t`` (None: the last step), sharing one forward pass.

    ``forward``: the forward pass of these inputs through these very weights when the caller
    has it already (``Setup.forward``, a narrated iteration's): it is read, never written, and
    not computed again. ``connect=False`` leaves the connectivity out (``connectivity`` is None),
    for a caller that computes it only when it is shown."""
    model = _recurrent(model)
    opts = model._options(reduction, truncation, output, loss)
    fw = _prepare(model, inputs, targets, h0, opts) if forward is None else _own_forward(forward)
    T = fw.batch.T
    if t is None:
        t = T - 1
    if isinstance(t, bool) or not isinstance(t, (int, np.integer)) or not 0 <= t < T:
        raise ValueError(f"t: expected an output timestep in [0, {T}), got {t!r}")
    att = _attribute(model, fw, opts, parts=False, weights=weights)
    conn = _connect(model, fw, int(t)) if connect else None
    sigma = recurrent_sigma(model)
    decay = att.decay
    gamma = bound = None
    act = getattr(model, "activation", None)
    if model.kind == "rnn" and act is not None:
        gamma = ACTIVATIONS[act.name].gamma
        bound = decay[0] * (sigma * gamma) ** np.arange(T, dtype=float)
        if truncation is not None:
            bound[truncation:] = 0.0
    return WhatIfFrame(att, decay, att.decay_c, bound, att.dh_norm.copy(), conn, int(t), sigma, gamma, fw)


# ---------------------------------------------------------------------------- a narrated iteration
@dataclass(frozen=True)
class Setup:
    """Everything needed to recompute a narrated iteration: ``model`` (a copy holding the
    parameters the records were made with), ``inputs`` (batch-first ids or floats), ``targets``,
    ``h0`` (the state tuple the iteration started from) and ``options`` (reduction, truncation,
    output, loss) for ``attribution``, ``path``, ``what_if_frame``...; ``forward``: the
    iteration's own forward pass (read only), so the trained weights' attribution needs no
    forward pass of its own (``what_if_frame(..., forward=setup.forward)``)."""

    model: RecurrentModel
    inputs: Array
    targets: Array
    h0: tuple[Array, ...]
    options: dict[str, Any]
    forward: Forward | None = None


def trace_setup(trace, model) -> Setup:
    """The ``Setup`` of a narrated recurrent iteration (an ``engine.trace.Trace``) of ``model``.

    The inputs, targets and initial state come from the iteration's own buffers; the options from
    its loss record and the backward records' windows. When the trace holds the iteration's
    ``UpdateStep``, the model has been updated since, so the parameters the records saw are
    rebuilt as ``params - delta`` (equal up to the rounding of one subtraction), as the explain
    panel does."""
    from ..records import BackwardStep, LossStep, UpdateStep

    model = _recurrent(model)
    back = {r.index: r for r in trace if isinstance(r, BackwardStep)}
    loss_rec = next((r for r in trace if isinstance(r, LossStep)), None)
    fwd = next((r for r in trace if getattr(r, "phase", "") == "forward" and hasattr(r, "_tape")), None)
    if fwd is None or loss_rec is None:
        raise ValueError("trace: expected a narrated recurrent iteration (forward and loss records)")
    fw = fwd._tape._fw  # the iteration's forward buffers (read here, never written)
    batch = fw.batch
    T = batch.T
    inputs = batch.ids.T.copy() if batch.ids is not None else batch.X.transpose(1, 0, 2).copy()
    last = loss_rec.losses.ndim == 1  # many-to-one: one loss per sequence
    truncation = None
    if back:  # step t's window: the loss steps whose gradient reaches h_t
        if not last:  # t .. min(T, t + k) - 1: the widest window is k (T or more: full BPTT)
            k = max(len(r.window) for r in back.values())
        else:  # T-1 alone while T-1-t < k: the earliest step reached is T-k
            reached = [t for t, r in back.items() if len(r.window)]
            k = T - min(reached) if reached else 1
        truncation = None if k >= T else k
    params = {name: p.copy() for name, p in model.params.items()}
    upd = next((r for r in trace if isinstance(r, UpdateStep)), None)
    if upd is not None:
        for name, d in upd.delta.items():
            params[name] = params[name] - d
    new = _copy(model)
    new.params = params
    h0 = tuple(np.array(fw.cell[s][0]) for s in model.STATE)
    options = {"reduction": loss_rec.reduction, "truncation": truncation,
               "output": "last" if last else "all", "loss": loss_rec.loss}
    return Setup(new, inputs, np.array(batch.targets), h0, options, fw)
