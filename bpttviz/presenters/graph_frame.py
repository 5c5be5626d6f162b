"""The unrolled graph as plain data: node positions and colours, edge widths, the highlighted
step, the moving delta and the truncation window. The graph view only draws what this says.

Recurrent models: columns are timesteps, rows are ``x_t`` (0), ``h_t`` (1), outputs ``ŷ_t`` (2; y: the target) and the
loss ``L_t`` (3); an extra node at column -1 is the initial state. MLPs: columns are layers, one
node per unit when every layer has at most ``UNIT_LIMIT`` units, else one node per layer.

Colour: ``mode="activation"`` shows how strongly a node is active (RMS of the state, the
probability of the target at an output); ``mode="delta"`` shows the size of the delta that
reached it, on a log scale spanning ``DECADES`` decades below the iteration's largest delta.
Edge width during the backward pass is the norm of the delta flowing along the edge, on the same
kind of log scale; the scales are fixed per iteration so colours do not shift while stepping.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from functools import lru_cache

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
from bpttviz.presenters.trace_data import MLPTrace, RecurrentTrace, norm, sub

Array = np.ndarray
DECADES = 4.0
UNIT_LIMIT = 16
IDLE, FORWARD, BACKWARD = 0, 1, 2


@dataclass
class GraphFrame:
    """What the graph view draws. Node values are in [0, 1] (NaN: not yet computed, drawn hollow)."""

    key: tuple  # changes when the structure (positions, edges, ticks) changes
    pos: Array  # (N, 2)
    node_value: Array  # (N,)
    node_size: Array  # (N,) relative size, 1 = normal
    edges: Array  # (E, 2) node indices, drawn from the first to the second
    edge_state: Array  # (E,) IDLE / FORWARD / BACKWARD
    edge_width: Array  # (E,) in [0, 1]
    highlight: list[int] = field(default_factory=list)
    pulses: list[tuple[int, int, str]] = field(default_factory=list)  # (from, to, FORWARD/BACKWARD name)
    region: tuple[float, float, float, float] | None = None  # x0, x1, y0, y1
    region_label: str = ""
    region_dashed: bool = False
    column: float | None = None  # x of the current step's column
    bottom_ticks: list[tuple[float, str]] = field(default_factory=list)
    left_ticks: list[tuple[float, str]] = field(default_factory=list)
    node_labels: list[tuple[int, str]] = field(default_factory=list)  # text drawn on node i
    texts: list[tuple[float, float, str]] = field(default_factory=list)  # text at data positions
    node_bad: Array | None = None  # (N,) bool: the node's value is NaN or infinite
    caption: str = ""
    legend: str = ""
    tip: Callable[[int], str] = lambda i: ""
    x_range: tuple[float, float] = (0.0, 1.0)
    y_range: tuple[float, float] = (0.0, 1.0)


def log_scale(v: Array, vmax: float, decades: float = DECADES) -> Array:
    """Map magnitudes to [0, 1]: ``vmax`` -> 1, ``vmax / 10**decades`` and below -> 0; NaN kept."""
    v = np.asarray(v, dtype=float)
    out = np.full(v.shape, np.nan)
    ok = np.isfinite(v)
    if not np.isfinite(vmax) or vmax <= 0:
        out[ok] = 0.0
        return out
    with np.errstate(divide="ignore"):
        lv = np.log10(np.maximum(v[ok], 1e-300))
    out[ok] = np.clip((lv - (np.log10(vmax) - decades)) / decades, 0.0, 1.0)
    return out


def _vmax(*arrays: Array) -> float:
    m = 0.0
    for a in arrays:
        a = np.asarray(a, dtype=float)
        a = a[np.isfinite(a)]
        if a.size:
            m = max(m, float(a.max()))
    return m


def summary(v: Array | None, n: int = 6) -> str:
    """One vector in two lines: its norm and range, then its first values."""
    if v is None:
        return "not computed yet"
    v = np.asarray(v, dtype=float).ravel()
    if not np.all(np.isfinite(v)):
        return "not computed yet" if np.all(np.isnan(v)) else "contains NaN/Inf"
    head = " ".join(f"{x:+.3f}" for x in v[:n]) + (" …" if v.size > n else "")
    return f"‖·‖ = {norm(v):.4g}   min {v.min():+.3g}   max {v.max():+.3g}   ({v.size} values)\n[{head}]"


# ---------------------------------------------------------------------------------- recurrent
IN, REC, OUT, LOSS = range(4)  # edge kinds of the unrolled RNN


@lru_cache(maxsize=16)
def _recurrent_layout(T: int, out_bytes: bytes) -> tuple[Array, Array, Array, Array, Array]:
    """The unrolled graph's fixed part for ``T`` steps with outputs at ``out`` (bool bytes):
    node positions ``(4T+1, 2)`` (x_t row 0, h_t row 1, y_t row 2, L_t row 3 at column t; the
    initial state at column -1 of row 1), relative sizes ``(4T+1,)``, and edges ``(E, 2)`` with
    their kind (IN/REC/OUT/LOSS) and timestep. Built once per shape, read-only."""
    out = np.frombuffer(out_bytes, dtype=bool)
    X, Hn, Y, Lo, H0 = 0, T, 2 * T, 3 * T, 4 * T
    t = np.arange(T)
    pos = np.zeros((4 * T + 1, 2))
    pos[:4 * T, 0] = np.tile(t, 4)
    pos[:4 * T, 1] = np.repeat(np.arange(4.0), T)
    pos[H0] = (-1.0, 1.0)
    size = np.ones(4 * T + 1)
    size[Y:Y + T][~out] = 0.0  # many-to-one: no output before the last step
    size[Lo:Lo + T][~out] = 0.0
    size[H0] = 0.8
    # per step: x->h, h_{t-1}->h (the initial state at t=0), and where there is an output h->y, y->L
    rec_src = np.where(t == 0, H0, Hn + t - 1)
    cols = [np.stack([X + t, Hn + t], 1), np.stack([rec_src, Hn + t], 1),
            np.stack([Hn + t, Y + t], 1), np.stack([Y + t, Lo + t], 1)]
    kinds = np.repeat(np.arange(4)[None, :], T, 0)
    present = np.stack([np.ones(T, bool), np.ones(T, bool), out, out], 1)  # (T, 4)
    edges = np.stack(cols, 1)[present]  # in timestep order, then kind
    kinds = kinds[present]
    ts = np.repeat(t[:, None], 4, 1)[present]
    for a in (pos, size, edges, kinds, ts):
        a.flags.writeable = False
    return pos, size, edges, kinds, ts


def recurrent_frame(td: RecurrentTrace, cursor: int, mode: str = "activation") -> GraphFrame:
    """The unrolled RNN/LSTM/GRU at record ``cursor`` of its trace (see the module docstring)."""
    T = td.T
    fwd_on = td.revealed_forward(cursor)
    bwd_on = td.revealed_backward(cursor)
    loss_on = cursor >= td.loss_at
    out = td.has_output
    X, Hn, Y, Lo, H0 = 0, T, 2 * T, 3 * T, 4 * T  # node layout (see _recurrent_layout)
    pos, size, edges_a, kinds_a, ts_a = _recurrent_layout(T, np.asarray(out, dtype=bool).tobytes())
    value = np.full(4 * T + 1, np.nan)

    if mode == "delta":
        vmax_h = _vmax(td.dh_norm)
        value[Hn:Hn + T] = np.where(bwd_on, log_scale(td.dh_norm, vmax_h), np.nan)
        value[Y:Y + T] = np.where(loss_on & out, log_scale(td.dy_norm, _vmax(td.dy_norm)), np.nan)
        value[Lo:Lo + T] = np.where(loss_on & out, 1.0, np.nan)
        value[X:X + T] = np.where(bwd_on, log_scale(td.dpre_norm, _vmax(td.dpre_norm)), np.nan)
        legend = (f"colour: size of the delta reaching each node (log scale, {DECADES:g} decades); "
                  "edge width: delta flowing back along it")
    else:
        hmax = max(1.0, _vmax(td.h_rms))
        value[Hn:Hn + T] = np.where(fwd_on, td.h_rms / hmax, np.nan)
        conf = td.p_target if np.any(np.isfinite(td.p_target)) else np.full(T, 0.5)
        value[Y:Y + T] = np.where(fwd_on & out, conf, np.nan)
        lmax = _vmax(td.per_step_loss)
        value[Lo:Lo + T] = np.where(loss_on & out, td.per_step_loss / lmax if lmax > 0 else 0.0, np.nan)
        value[X:X + T] = np.where(fwd_on, 0.5, np.nan)
        legend = ("colour: h = RMS activation, y = probability given to the target, L = loss at that step; "
                  "edge width: delta flowing back")
    value[H0] = 0.3 if mode != "delta" else np.nan
    bad = np.zeros(4 * T + 1, dtype=bool)  # non-finite values (a blow-up): drawn in red
    bad[Hn:Hn + T] = (fwd_on & ~np.isfinite(td.h_rms)) | (bwd_on & ~np.isfinite(td.dh_norm))
    bad[Y:Y + T] = fwd_on & out & ~np.all(np.isfinite(td.y), axis=1)
    bad[Lo:Lo + T] = loss_on & out & ~np.isfinite(td.per_step_loss)
    if bad.any():
        legend += "   ·   red: NaN or Inf"

    state = np.full(len(edges_a), IDLE)
    width = np.zeros(len(edges_a))
    # forward: an edge lights up once the step it feeds has been computed
    state[fwd_on[ts_a]] = FORWARD
    loss_edges = kinds_a == LOSS
    state[loss_edges & loss_on] = FORWARD
    # backward: the delta flowing along y->h (dh_out), h_{t+1}->h_t (dh_future), L->y (dy)
    flows = np.full(len(edges_a), np.nan)
    m = kinds_a == OUT
    flows[m] = np.where(bwd_on[ts_a[m]], td.dh_out_norm[ts_a[m]], np.nan)
    m = (kinds_a == REC) & (ts_a > 0)
    prev = ts_a[m] - 1  # the edge into h_t carries dh_future[t-1] back to h_{t-1}
    flows[m] = np.where(bwd_on[prev], td.dh_future_norm[prev], np.nan)
    m = loss_edges
    flows[m] = np.where(loss_on, td.dy_norm[ts_a[m]], np.nan)
    vmax = _vmax(td.dh_out_norm, td.dh_future_norm, td.dy_norm)
    lit = np.isfinite(flows) & (flows > 0)
    width[lit] = log_scale(flows[lit], vmax)
    state[lit] = BACKWARD

    rec = td.trace[cursor] if 0 <= cursor < len(td.trace) else None
    hl: list[int] = []
    pulses: list[tuple[int, int, str]] = []
    region = None
    region_label = ""
    dashed = False
    column = None
    caption = _recurrent_caption(td, rec)
    if isinstance(rec, ForwardStep):
        t = rec.t
        column = float(t)
        hl = [X + t, Hn + t] + ([Y + t] if out[t] else [])
        pulses = [(X + t, Hn + t, "forward"), (H0 if t == 0 else Hn + t - 1, Hn + t, "forward")]
        if out[t]:
            pulses.append((Hn + t, Y + t, "forward"))
    elif isinstance(rec, LossStep):
        hl = [Lo + t for t in range(T) if out[t]]
        pulses = [(Lo + t, Y + t, "backward") for t in range(T) if out[t]]
    elif isinstance(rec, BackwardStep):
        t = rec.t
        column = float(t)
        hl = [Hn + t]
        if out[t]:
            pulses.append((Y + t, Hn + t, "backward"))
        if t < T - 1:
            pulses.append((Hn + t + 1, Hn + t, "backward"))
        w = rec.window
        if len(w):
            region = (w.start - 0.42, w.stop - 1 + 0.42, 1.58, 3.42)
            who = f"L{sub(w.start)}" if len(w) == 1 else f"L{sub(w.start)}…L{sub(w.stop - 1)}"
            region_label = f"{who} reach h{sub(t)}" + (f" (window k={td.truncation})" if td.truncation else "")
        else:
            region_label = f"no loss reaches h{sub(t)} (window k={td.truncation})"
    elif isinstance(rec, (GradientStep, UpdateStep)):
        hl = []
    if region is None and td.truncation is not None and td.truncation < T and not isinstance(rec, BackwardStep):
        k = td.truncation
        region = (T - k - 0.42, T - 1 + 0.42, 0.58, 3.42)
        region_label = f"BPTT window k={k}: L{sub(T - 1)} reaches h{sub(T - k)}…h{sub(T - 1)}"
        dashed = True

    step = 1 if T <= 30 else int(np.ceil(T / 25))
    bottom = [(float(t), f"{t}") for t in range(0, T, step)]
    node_labels = [(X + t, td.x_labels[t]) for t in range(T) if td.x_labels[t]]
    texts = [(float(t), 3.5, td.y_labels[t]) for t in range(T) if td.y_labels[t]]  # the targets
    left = [(0.0, "input x"), (1.0, "state h"), (2.0, "output ŷ"), (3.0, "loss L")]
    if texts:
        left.append((3.5, "target"))

    def tip(i: int) -> str:
        return _recurrent_tip(td, cursor, i)

    return GraphFrame(
        key=("rnn", td.kind, T, tuple(out)), pos=pos, node_value=value, node_size=size, edges=edges_a,
        edge_state=state, edge_width=width, highlight=hl, pulses=pulses, region=region,
        region_label=region_label, region_dashed=dashed, column=column, bottom_ticks=bottom,
        left_ticks=left, node_labels=node_labels, texts=texts, node_bad=bad, caption=caption, legend=legend, tip=tip,
        x_range=(-1.6, T - 0.4), y_range=(-0.55, 3.8))


def _recurrent_caption(td: RecurrentTrace, rec) -> str:
    act = {"tanh": "tanh", "sigmoid": "σ", "relu": "relu", "linear": ""}.get(td.activation, td.activation)
    if rec is None:
        return "Press → to step through an iteration one record at a time, Space to train."
    if isinstance(rec, ForwardStep):
        t = rec.t
        if td.kind == "rnn":
            eq = f"h{sub(t)} = {act}(x{sub(t)} W_xh + h{sub(t - 1)} W_hh + b_h)"
        elif td.kind == "lstm":
            eq = f"c{sub(t)} = f ⊙ c{sub(t - 1)} + i ⊙ g,   h{sub(t)} = o ⊙ tanh(c{sub(t)})"
        else:
            eq = f"h{sub(t)} = (1 − z) ⊙ n + z ⊙ h{sub(t - 1)}"
        tail = f",   ŷ{sub(t)} = h{sub(t)} W_hy + b_y" if td.has_output[t] else ""
        return f"Forward, step t={t}:  {eq}{tail}"
    if isinstance(rec, LossStep):
        return (f"Loss: L = Σₜ Lₜ = {td.loss_total:.4g}  ({rec.reduction}); at each output "
                f"dL/dyₜ = {'p − onehot(target)' if rec.loss == 'cross_entropy' else 'y − target'}")
    if isinstance(rec, BackwardStep):
        t = rec.t
        bugs = getattr(td, "bugs", frozenset())  # bug lab: say what was computed, not the textbook
        future = t < td.T - 1 and "drop_dh_next" not in bugs
        output = td.has_output[t] and not ("overwrite_dh_next" in bugs and t < td.T - 1)
        parts, names = [], []
        if output:
            parts.append(f"dy{sub(t)} W_hyᵀ")
            names.append("from the output")
        if future:
            parts.append(f"dL/dh{sub(t + 1)} · ∂h{sub(t + 1)}/∂h{sub(t)}")
            names.append("from the future")
        rhs = "  +  ".join(parts) or "0"
        lab = " · bug lab: the future term is dropped" if "drop_dh_next" in bugs and t < td.T - 1 else (
            " · bug lab: the future term overwrites the output's" if not output and td.has_output[t] else "")
        return (f"Backward, step t={t}:  dL/dh{sub(t)} = {rhs}   ({' + '.join(names) or 'no loss reaches it'})"
                + lab)
    if isinstance(rec, GradientStep):
        return ("Gradients complete: each parameter's gradient is the sum of its per-step contributions "
                f"(loss {rec.loss:.4g})")
    if isinstance(rec, UpdateStep):
        clip = f", clipped ({rec.clip})" if rec.clipped else ""
        return f"Update: ‖g‖ = {rec.norm:.4g}{clip}; parameters moved with learning rate {rec.lr:g}"
    return ""


def _recurrent_tip(td: RecurrentTrace, cursor: int, i: int) -> str:
    T = td.T
    row, t = divmod(i, T) if i < 4 * T else (4, -1)
    fwd_on = bool(t >= 0 and td.fwd_at[t] <= cursor)
    bwd_on = bool(t >= 0 and td.bwd_at[t] <= cursor)
    s = sub(t)
    if row == 4:
        return f"h{sub(-1)}: the initial state (carried from the previous chunk, no gradient flows into it)\n" \
               + summary(td.h0)
    if row == 0:
        lab = f" = '{td.x_labels[t]}'" if td.x_labels[t] else ""
        txt = f"x{s}{lab}: the input at step {t}"
        if bwd_on:
            txt += f"\ndL/dz{s} (pre-activation delta, sequence 1):\n{summary(td.dpre[t])}"
        return txt
    if row == 1:
        eq = {"rnn": f"h{s} = {td.activation}(x{s} W_xh + h{sub(t - 1)} W_hh + b_h)",
              "lstm": f"h{s} = o ⊙ tanh(c{s}),  c{s} = f ⊙ c{sub(t - 1)} + i ⊙ g",
              "gru": f"h{s} = (1 − z) ⊙ n + z ⊙ h{sub(t - 1)}"}.get(td.kind, "")
        txt = f"{eq}\nh{s} (sequence 1): " + (summary(td.h[t]) if fwd_on else "not computed yet")
        if bwd_on:
            txt += (f"\n\ndL/dh{s} = from y{s} + from the future\n  from y{s}: ‖·‖ = {td.dh_out_norm[t]:.4g}"
                    f"\n  from h{sub(t + 1)}: ‖·‖ = {td.dh_future_norm[t]:.4g}\n  total: {summary(td.dh[t])}")
            if td.dc is not None:
                txt += f"\ndL/dc{s}: {summary(td.dc[t])}"
        return txt
    if row == 2:
        txt = f"ŷ{s} = h{s} W_hy + b_y\n" + (summary(td.y[t]) if fwd_on else "not computed yet")
        if np.isfinite(td.p_target[t]) and fwd_on:
            lab = f" '{td.y_labels[t]}'" if td.y_labels[t] else ""
            txt += f"\np(target{lab}) = {td.p_target[t]:.3f}"
        if cursor >= td.loss_at:
            txt += f"\n‖dL/dy{s}‖ = {td.dy_norm[t]:.4g}"
        return txt
    txt = f"L{s}: the loss at step {t}"
    if cursor >= td.loss_at:
        txt += f" = {td.per_step_loss[t]:.4g} ({td.reduction} over the batch)"
    return txt


# ---------------------------------------------------------------------------------- MLP
def mlp_frame(td: MLPTrace, cursor: int, weights: dict[str, Array], mode: str = "activation") -> GraphFrame:
    """The MLP at record ``cursor``: unit-level when small, else one node per layer."""
    L = td.L
    unit_level = max(td.sizes) <= UNIT_LIMIT
    fwd_on = td.fwd_at <= cursor
    bwd_on = td.bwd_at <= cursor
    loss_on = cursor >= td.loss_at
    layer_of: list[int] = []
    unit_of: list[int] = []
    pos = []
    for l, n in enumerate(td.sizes):
        units = range(n) if unit_level else range(1)
        for j in units:
            layer_of.append(l)
            unit_of.append(j)
            y = ((n - 1) / 2 - j) * 0.9 if unit_level else 0.0
            pos.append((float(l), y))
    loss_node = len(pos)
    pos.append((L + 1.0, 0.0))
    layer_of.append(L + 1)
    unit_of.append(0)
    pos_a = np.array(pos)
    lay = np.array(layer_of)
    unit = np.array(unit_of)
    N = len(pos)
    value = np.full(N, np.nan)
    size = np.ones(N)
    if not unit_level:
        size[:-1] = 1.0
    size[loss_node] = 1.2

    # per-node magnitudes
    act = np.full(N, np.nan)
    dlt = np.full(N, np.nan)
    for l in range(L + 1):
        idx = np.nonzero(lay == l)[0]
        a = td.p if (l == L and td.p is not None) else td.a[l]
        if unit_level:
            act[idx] = np.sqrt(np.mean(np.square(a), axis=0))
            if td.dz[l] is not None:
                dlt[idx] = np.sqrt(np.sum(np.square(td.dz[l]), axis=0))
        else:
            act[idx] = np.sqrt(np.mean(np.square(a)))
            if td.dz[l] is not None:
                dlt[idx] = norm(td.dz[l])
    if mode == "delta":
        for l in range(1, L + 1):
            idx = lay == l
            value[idx] = np.where(bwd_on[l], log_scale(dlt[idx], _vmax(dlt[lay >= 1])), np.nan)
        value[loss_node] = 1.0 if loss_on else np.nan
        legend = f"colour: size of dL/dz at each unit (log scale, {DECADES:g} decades); edge width: |gradient|"
    else:
        for l in range(L + 1):
            idx = lay == l
            m = _vmax(act[idx])
            value[idx] = np.where(fwd_on[l], act[idx] / (m if m > 1 else 1.0), np.nan)
        value[loss_node] = 0.8 if loss_on else np.nan
        legend = "colour: RMS activation over the batch (output: probability); edge width: |weight| or |gradient|"

    edges, el, wmag, gmag = [], [], [], []
    for l in range(1, L + 1):
        W = weights.get(f"W{l}")
        G = td.grads[l].get(f"W{l}")
        src = np.nonzero(lay == l - 1)[0]
        dst = np.nonzero(lay == l)[0]
        for a in src:
            for b in dst:
                edges.append((a, b))
                el.append(l)
                if unit_level:
                    wmag.append(abs(W[unit[a], unit[b]]) if W is not None else np.nan)
                    gmag.append(abs(G[unit[a], unit[b]]) if G is not None else np.nan)
                else:
                    wmag.append(norm(W) if W is not None else np.nan)
                    gmag.append(norm(G) if G is not None else np.nan)
    for a in np.nonzero(lay == L)[0]:
        edges.append((a, loss_node))
        el.append(L + 1)
        wmag.append(np.nan)
        gmag.append(np.nan)
    el_a = np.array(el)
    wmag_a, gmag_a = np.array(wmag, dtype=float), np.array(gmag, dtype=float)
    state = np.full(len(edges), IDLE)
    width = np.zeros(len(edges))
    fw_lit = np.array([fwd_on[l] if l <= L else loss_on for l in el])
    state[fw_lit] = FORWARD
    finite_w = np.isfinite(wmag_a)
    width[finite_w & fw_lit] = 0.25 * np.clip(wmag_a[finite_w & fw_lit] / max(_vmax(wmag_a), 1e-12), 0, 1)
    bw_lit = np.array([bwd_on[l] if l <= L else loss_on for l in el]) & (np.isfinite(gmag_a) | (el_a == L + 1))
    state[bw_lit] = BACKWARD
    g = np.where(el_a == L + 1, np.nan, gmag_a)
    gl = bw_lit & np.isfinite(g)
    width[gl] = log_scale(g[gl], _vmax(g))
    width[(el_a == L + 1) & loss_on] = 0.5

    rec = td.trace[cursor] if 0 <= cursor < len(td.trace) else None
    hl: list[int] = []
    pulses: list[tuple[int, int, str]] = []
    centre = {l: int(np.nonzero(lay == l)[0][len(np.nonzero(lay == l)[0]) // 2]) for l in range(L + 2)}
    column = None
    caption = ""
    names = ["x"] + [f"h{sub(l)}" for l in range(1, L)] + ["ŷ"]
    if isinstance(rec, LayerForward):
        l = rec.index
        column = float(l)
        hl = list(np.nonzero(lay == l)[0])
        pulses = [(centre[l - 1], centre[l], "forward")]
        f = td.activations[l - 1] if l < L else ("softmax" if td.p is not None else "identity")
        caption = (f"Forward, layer {l}:  z{sub(l)} = {names[l - 1]} W{sub(l)} + b{sub(l)},   "
                   f"{names[l]} = {f}(z{sub(l)})")
    elif isinstance(rec, LossStep):
        hl = [loss_node]
        pulses = [(loss_node, centre[L], "backward")]
        column = L + 1.0
        d = "p − onehot(target)" if rec.loss == "cross_entropy" else "y − target"
        caption = f"Loss L = {rec.total:.4g} ({rec.reduction} over the batch); output delta dL/dy = {d}"
    elif isinstance(rec, LayerBackward):
        l = rec.index
        column = float(l)
        hl = list(np.nonzero(lay == l)[0])
        pulses = [(centre[l], centre[l - 1], "backward")]
        if l == L:
            caption = f"Backward, layer {l}:  dL/dz{sub(l)} = dL/dy;   dW{sub(l)} = {names[l - 1]}ᵀ dz{sub(l)}"
        else:
            caption = (f"Backward, layer {l}:  dz{sub(l)} = (dz{sub(l + 1)} W{sub(l + 1)}ᵀ) ⊙ f′(z{sub(l)});   "
                       f"dW{sub(l)} = {names[l - 1]}ᵀ dz{sub(l)}")
    elif isinstance(rec, GradientStep):
        caption = f"Gradients complete (loss {rec.loss:.4g})"
    elif isinstance(rec, UpdateStep):
        caption = f"Update: ‖g‖ = {rec.norm:.4g}" + (f", clipped ({rec.clip})" if rec.clipped else "") + \
                  f"; learning rate {rec.lr:g}"
    else:
        caption = "Press → to step through an iteration one record at a time, Space to train."

    bottom = [(float(l), f"{names[l]}\n({td.sizes[l]})") for l in range(L + 1)] + [(L + 1.0, "L")]

    def tip(i: int) -> str:
        l, j = int(lay[i]), int(unit[i])
        if l == L + 1:
            return f"L = {td.loss_total:.4g} ({td.reduction} over {td.B} examples)"
        who = f"{names[l]}[{j}]" if unit_level else names[l]
        col = (lambda a: a[:, j]) if unit_level else (lambda a: a[0])
        txt = f"{who}" + (" (inputs)" if l == 0 else "") + "\n"
        txt += (summary(col(td.a[l])) if fwd_on[l] else "not computed yet") + \
               ("  (over the batch)" if unit_level else "  (example 1)")
        if l >= 1 and bwd_on[l] and td.dz[l] is not None:
            txt += f"\ndL/dz{sub(l)}: " + summary(col(td.dz[l]))
        return txt

    ymax = max(((n - 1) / 2) * 0.9 for n in td.sizes) if unit_level else 0.0
    return GraphFrame(
        key=("mlp", tuple(td.sizes), unit_level), pos=pos_a, node_value=value, node_size=size,
        edges=np.array(edges, dtype=int), edge_state=state, edge_width=width, highlight=hl, pulses=pulses,
        column=column, bottom_ticks=bottom, left_ticks=[], caption=caption, legend=legend, tip=tip,
        x_range=(-0.6, L + 1.6), y_range=(-ymax - 0.7, ymax + 0.7))
