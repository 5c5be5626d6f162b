"""Everything the views read from one narrated iteration, gathered once per trace.

A ``Trace`` is a tuple of immutable step records. Views want arrays over time ("the deltas of
every timestep revealed so far"), so this module stacks the records' fields once per trace into
``(T, H)`` arrays and remembers which record revealed each row. Revealing a prefix of the trace
(single-stepping) is then a mask, never a recomputation. Nothing here imports Qt.

Heatmaps show the first sequence of the batch (``[0]``); norms are taken over the whole batch and
all units, like the engine's diagnostics (so they match the gradients that are applied).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from bpttviz.engine.records import (
    BackwardStep,
    ForwardStep,
    GradientStep,
    LayerBackward,
    LayerForward,
    LossStep,
    UpdateStep,
)
from bpttviz.engine.trace import Trace

Array = np.ndarray

_SUB = str.maketrans("0123456789-", "₀₁₂₃₄₅₆₇₈₉₋")


def sub(n: int | str) -> str:
    """Subscript digits: ``sub(17) == '₁₇'``."""
    return str(n).translate(_SUB)


def norm(a: Array | None) -> float:
    return float(np.sqrt(np.sum(np.square(a)))) if a is not None else float("nan")


_LABELS: dict[tuple[int, int], str] = {}


def token_label(vocab, token: int, width: int = 12) -> str:
    """A short printable label for a token id: characters made visible, words shortened (cached)."""
    if vocab is None:
        return str(int(token))
    key = (id(vocab), int(token))
    label = _LABELS.get(key)
    if label is None:
        if len(_LABELS) > 50_000:
            _LABELS.clear()
        label = _LABELS[key] = _token_label(vocab, int(token), width)
    return label


def _token_label(vocab, token: int, width: int) -> str:
    if hasattr(vocab, "chars"):
        ch = vocab.decode([int(token)])
        return {"\n": "⏎", " ": "␣", "\t": "⇥"}.get(ch, ch)
    words = vocab.lookup([int(token)]) if hasattr(vocab, "lookup") else [str(token)]
    w = words[0]
    return w if len(w) <= width else w[: width - 1] + "…"


@dataclass
class RecurrentTrace:
    """Arrays of one recurrent iteration. Rows are timesteps t = 0..T-1; per-sequence arrays show
    sequence 0 of the batch; ``*_norm`` are 2-norms over the batch and units."""

    trace: Trace
    iteration: int
    kind: str
    activation: str
    T: int
    B: int
    H: int
    has_output: Array  # (T,) bool: an output (and loss) at step t
    x_labels: list[str]
    y_labels: list[str]  # target tokens of sequence 0 ('' when not a token task)
    fwd_at: Array  # (T,) record index revealing the forward step t
    bwd_at: Array  # (T,) record index revealing the backward step t
    loss_at: int
    grad_at: int
    update_at: int  # -1 when the update was not applied (blow-up)
    h: Array  # (T, H)
    h0: Array  # (H,) the state before step 0
    h_rms: Array  # (T,)
    z: Array  # (T, G) pre-activations (stacked gates for LSTM/GRU)
    y: Array  # (T, O) outputs (NaN rows where no output)
    p_target: Array  # (T,) probability of the target (cross-entropy), else NaN
    per_step_loss: Array  # (T,)
    dy_norm: Array  # (T,)
    dh: Array  # (T, H)
    dh_out: Array
    dh_future: Array
    dpre: Array  # (T, G)
    dh_norm: Array  # (T,)
    dh_out_norm: Array
    dh_future_norm: Array
    dpre_norm: Array
    windows: list[range]
    c: Array | None = None  # LSTM cell state (T, H)
    dc: Array | None = None  # LSTM cell-state delta (T, H)
    dc_norm: Array | None = None
    gates: dict[str, Array] = field(default_factory=dict)  # name -> (T, H) for sequence 0
    loss_total: float = float("nan")
    reduction: str = "sum"
    loss_name: str = "cross_entropy"
    truncation: int | None = None

    @property
    def n_records(self) -> int:
        return len(self.trace)

    def revealed_forward(self, cursor: int) -> Array:
        return self.fwd_at <= cursor

    def revealed_backward(self, cursor: int) -> Array:
        return self.bwd_at <= cursor


@dataclass
class MLPTrace:
    """Arrays of one MLP iteration. ``a[l]`` for l = 0..L (a[0] = inputs, a[L] = outputs), each
    ``(B, n_l)``; ``dz[l]``, ``da[l]`` for l = 1..L (index 0 unused)."""

    trace: Trace
    iteration: int
    sizes: list[int]
    activations: list[str]
    B: int
    a: list[Array]
    z: list[Array | None]
    p: Array | None
    dz: list[Array | None]
    da: list[Array | None]
    grads: list[dict[str, Array]]
    fwd_at: Array  # (L+1,) record revealing layer l's forward (0 for the inputs)
    bwd_at: Array  # (L+1,) record revealing layer l's backward (index 0: never)
    loss_at: int
    grad_at: int
    update_at: int
    loss_total: float = float("nan")
    reduction: str = "mean"
    loss_name: str = "cross_entropy"

    @property
    def L(self) -> int:
        return len(self.sizes) - 1

    @property
    def n_records(self) -> int:
        return len(self.trace)


def _indices(trace: Trace):
    grad_at = update_at = loss_at = -1
    for i, r in enumerate(trace):
        if isinstance(r, LossStep):
            loss_at = i
        elif isinstance(r, GradientStep):
            grad_at = i
        elif isinstance(r, UpdateStep):
            update_at = i
    return loss_at, grad_at, update_at


def recurrent_trace(trace: Trace, *, iteration: int, kind: str, activation: str, targets: Array | None,
                    vocab=None, truncation: int | None = None) -> RecurrentTrace:
    """Stack a recurrent trace's records into per-timestep arrays (see ``RecurrentTrace``)."""
    fwd = [r for r in trace if isinstance(r, ForwardStep)]
    bwd = {r.t: r for r in trace if isinstance(r, BackwardStep)}
    loss_at, grad_at, update_at = _indices(trace)
    ls: LossStep = trace[loss_at]
    T = len(fwd)
    B, H = fwd[0].h.shape
    fwd_at = np.array([i for i, r in enumerate(trace) if isinstance(r, ForwardStep)])
    bwd_at = np.full(T, len(trace) + 1)
    for i, r in enumerate(trace):
        if isinstance(r, BackwardStep):
            bwd_at[r.t] = i
    try:  # an output at every step (the common case): whole buffers, no per-record reads
        YS, PS = trace.series(ForwardStep, "y"), trace.series(ForwardStep, "p")
    except ValueError:
        YS = PS = None
    has_output = np.ones(T, dtype=bool) if YS is not None else np.array([r.y is not None for r in fwd])
    HS = trace.series(ForwardStep, "h")  # (T, B, H), the iteration's own buffer (read-only)
    h = np.array(HS[:, 0])
    z = np.array(trace.series(ForwardStep, "pre")[:, 0])
    O = YS.shape[-1] if YS is not None else next((r.y.shape[-1] for r in fwd if r.y is not None), None)
    y = np.full((T, O or 1), np.nan)
    p_target = np.full(T, np.nan)
    x0 = trace.series(ForwardStep, "x")[:, 0]
    tok = np.ndim(fwd[0].x) == 1
    x_labels = [token_label(vocab, int(v)) for v in x0] if tok else [""] * T
    y_labels = [""] * T
    tg0 = None
    if targets is not None:
        tg = np.asarray(targets)
        tg0 = tg[0]
    if YS is not None:
        y[:] = YS[:, 0]
        if tg0 is not None:
            targets_t = (np.asarray(tg0, dtype=int) if np.ndim(tg0) == 1 else np.full(T, int(tg0)))
            p_target[:] = PS[np.arange(T), 0, targets_t]
            if tok and vocab is not None:
                y_labels = [token_label(vocab, int(v)) for v in targets_t]
    else:
        for t, r in enumerate(fwd):
            if r.y is None:
                continue
            y[t] = r.y[0]
            if r.p is not None and tg0 is not None:
                target = int(tg0[t]) if np.ndim(tg0) == 1 else int(tg0)
                p_target[t] = r.p[0, target]
                if tok and vocab is not None:
                    y_labels[t] = token_label(vocab, target)
    per_step = np.asarray(ls.per_step, dtype=float)
    dy = np.asarray(ls.dy)
    if dy.ndim == 3:  # (B, T, O)
        dy_norm = np.sqrt(np.sum(dy * dy, axis=(0, 2)))
    else:  # many-to-one (B, O): only the last step has an output delta
        dy_norm = np.zeros(T)
        dy_norm[-1] = norm(dy)
    G = fwd[0].pre.shape[-1]
    dh = np.full((T, H), np.nan)
    dh_out = np.full((T, H), np.nan)
    dh_fut = np.full((T, H), np.nan)
    dpre = np.full((T, G), np.nan)
    dh_n, dho_n, dhf_n, dp_n = (np.full(T, np.nan) for _ in range(4))
    windows = [range(0)] * T
    lstm = "c" in fwd[0].extras
    dc = np.full((T, H), np.nan) if lstm else None
    dc_n = np.full(T, np.nan) if lstm else None
    ts = sorted(bwd)
    if ts:  # stack once, then take norms over (batch, units) in one call each
        def stacked(get):
            return np.stack([get(bwd[t]) for t in ts])

        def norms(a: Array) -> Array:
            return np.sqrt(np.einsum("tbh,tbh->t", a, a))

        DH, DO, DF, DP = (trace.series(BackwardStep, f) for f in ("dh", "dh_out", "dh_future", "dpre"))
        dh[ts], dh_out[ts], dh_fut[ts], dpre[ts] = DH[:, 0], DO[:, 0], DF[:, 0], DP[:, 0]
        dh_n[ts], dho_n[ts], dhf_n[ts], dp_n[ts] = norms(DH), norms(DO), norms(DF), norms(DP)
        for t in ts:
            windows[t] = bwd[t].window
        if lstm and "dc" in bwd[ts[0]].extras:
            DC = stacked(lambda r: r.extras["dc"])
            dc[ts] = DC[:, 0]
            dc_n[ts] = norms(DC)
    gate_names = [k for k in fwd[0].extras if k not in ("c", "tanh_c", "hn")]
    gates = {k: np.stack([r.extras[k][0] for r in fwd]) for k in gate_names}
    return RecurrentTrace(
        trace=trace, iteration=iteration, kind=kind, activation=activation, T=T, B=B, H=H,
        has_output=has_output, x_labels=x_labels, y_labels=y_labels, fwd_at=fwd_at, bwd_at=bwd_at,
        loss_at=loss_at, grad_at=grad_at, update_at=update_at, h=h, h0=np.array(fwd[0].h_prev[0]),
        h_rms=np.sqrt(np.einsum("tbh,tbh->t", HS, HS) / (B * H)), z=z, y=y, p_target=p_target,
        per_step_loss=per_step, dy_norm=dy_norm, dh=dh, dh_out=dh_out, dh_future=dh_fut, dpre=dpre,
        dh_norm=dh_n, dh_out_norm=dho_n, dh_future_norm=dhf_n, dpre_norm=dp_n, windows=windows,
        c=np.stack([r.extras["c"][0] for r in fwd]) if lstm else None, dc=dc, dc_norm=dc_n, gates=gates,
        loss_total=float(ls.total), reduction=ls.reduction, loss_name=ls.loss, truncation=truncation)


def mlp_trace(trace: Trace, *, iteration: int, activations: list[str]) -> MLPTrace:
    """Gather an MLP trace's per-layer arrays (see ``MLPTrace``)."""
    fwd = [r for r in trace if isinstance(r, LayerForward)]
    bwd = {r.index: r for r in trace if isinstance(r, LayerBackward)}
    loss_at, grad_at, update_at = _indices(trace)
    ls: LossStep = trace[loss_at]
    L = len(fwd)
    sizes = [fwd[0].a_in.shape[1]] + [r.a.shape[1] for r in fwd]
    a = [np.asarray(fwd[0].a_in)] + [np.asarray(r.a) for r in fwd]
    z: list[Array | None] = [None] + [np.asarray(r.z) for r in fwd]
    dz: list[Array | None] = [None] * (L + 1)
    da: list[Array | None] = [None] * (L + 1)
    grads: list[dict[str, Array]] = [{} for _ in range(L + 1)]
    fwd_at = np.zeros(L + 1, dtype=int)
    bwd_at = np.full(L + 1, len(trace) + 1)
    for i, r in enumerate(trace):
        if isinstance(r, LayerForward):
            fwd_at[r.index] = i
        elif isinstance(r, LayerBackward):
            bwd_at[r.index] = i
    for l, r in bwd.items():
        dz[l], da[l], grads[l] = np.asarray(r.dz), np.asarray(r.da), dict(r.grads)
    return MLPTrace(trace=trace, iteration=iteration, sizes=sizes, activations=activations,
                    B=a[0].shape[0], a=a, z=z, p=None if fwd[-1].p is None else np.asarray(fwd[-1].p),
                    dz=dz, da=da, grads=grads, fwd_at=fwd_at, bwd_at=bwd_at, loss_at=loss_at,
                    grad_at=grad_at, update_at=update_at, loss_total=float(ls.total),
                    reduction=ls.reduction, loss_name=ls.loss)


def trace_data_of(session, n) -> RecurrentTrace | MLPTrace:
    """The trace arrays of narrated iteration ``n`` (an engine ``Narration``) of ``session``
    (no Qt: a training worker makes them too)."""
    if session.cfg.is_recurrent:
        td = recurrent_trace(n.trace, iteration=n.iteration, kind=session.model.kind, activation=session.cfg.activation,
                             targets=n.targets, vocab=getattr(session.task, "vocab", None),
                             truncation=n.options.get("truncation"))
        td.bugs = n.bugs  # the graph's captions say what this iteration computed
        return td
    return mlp_trace(n.trace, iteration=n.iteration, activations=[a.name for a in session.model.activations])


def gradients_so_far(trace: Trace, cursor: int, name: str) -> Array | None:
    """The gradient of parameter ``name`` accumulated over the records up to ``cursor``: what the
    backward pass has contributed so far (the full gradient once the pass is complete). The
    per-timestep contributions of a recurrent pass are summed in one product (``since``): adding
    them one outer product at a time cost seconds for a large model."""
    total = None
    last_step = None  # the latest backward record so far whose contributions can be summed at once
    for r in trace.records[: cursor + 1]:
        if isinstance(r, (GradientStep, UpdateStep)):
            return np.asarray(r.grads[name]) if name in r.grads else _plus(total, last_step, name)
        grads = getattr(r, "grads", None)
        if not grads or name not in grads:
            continue
        if hasattr(grads, "since"):
            last_step = grads
            continue
        g = np.asarray(grads[name])
        total = g.copy() if total is None else total + g
    return _plus(total, last_step, name)


def _plus(total: Array | None, last_step, name: str) -> Array | None:
    if last_step is None:
        return total
    g = np.asarray(last_step.since(name))
    return g.copy() if total is None else total + g


NEVER = 10**9  # a record index no cursor reaches: "not revealed"


def empty_recurrent_trace(*, T: int, H: int, G: int, has_output: Array, kind: str, activation: str,
                          truncation: int | None, lstm: bool = False) -> RecurrentTrace:
    """A trace with nothing computed yet: the graph's skeleton before the first step."""
    nan_t = np.full(T, np.nan)
    nan_th = np.full((T, H), np.nan)
    return RecurrentTrace(
        trace=Trace([]), iteration=0, kind=kind, activation=activation, T=T, B=1, H=H,
        has_output=np.asarray(has_output, dtype=bool), x_labels=[""] * T, y_labels=[""] * T,
        fwd_at=np.full(T, NEVER), bwd_at=np.full(T, NEVER), loss_at=NEVER, grad_at=NEVER, update_at=NEVER,
        h=nan_th, h0=np.zeros(H), h_rms=nan_t, z=np.full((T, G), np.nan), y=np.full((T, 1), np.nan),
        p_target=nan_t, per_step_loss=nan_t, dy_norm=nan_t, dh=nan_th, dh_out=nan_th, dh_future=nan_th,
        dpre=np.full((T, G), np.nan), dh_norm=nan_t, dh_out_norm=nan_t, dh_future_norm=nan_t,
        dpre_norm=nan_t, windows=[range(0)] * T, c=nan_th if lstm else None, dc=nan_th if lstm else None,
        dc_norm=nan_t if lstm else None, truncation=truncation)


def empty_mlp_trace(sizes: list[int], activations: list[str]) -> MLPTrace:
    """An MLP trace with nothing computed yet."""
    L = len(sizes) - 1
    a = [np.zeros((1, n)) for n in sizes]
    return MLPTrace(trace=Trace([]), iteration=0, sizes=list(sizes), activations=activations, B=1, a=a,
                    z=[None] * (L + 1), p=None, dz=[None] * (L + 1), da=[None] * (L + 1),
                    grads=[{} for _ in range(L + 1)], fwd_at=np.full(L + 1, NEVER), bwd_at=np.full(L + 1, NEVER),
                    loss_at=NEVER, grad_at=NEVER, update_at=NEVER)


def skeleton(session) -> RecurrentTrace | MLPTrace:
    """The empty trace of a session's model (its unrolled shape, nothing computed yet)."""
    m, cfg = session.model, session.cfg
    if not cfg.is_recurrent:
        return empty_mlp_trace(list(m.layer_sizes), [a.name for a in m.activations])
    T = cfg.seq_len
    out = np.ones(T, dtype=bool) if session.task.output == "all" else np.arange(T) == T - 1
    return empty_recurrent_trace(T=T, H=m.hidden_size, G=m.GATES * m.hidden_size, has_output=out, kind=m.kind,
                                 activation=cfg.activation, truncation=cfg.truncation, lstm=m.kind == "lstm")
