"""The LSTM's forward and backward steps, explained term by term."""

from __future__ import annotations

from typing import Any

from ..records import (
    BackwardStep,
    ForwardStep,
)
from .common import (
    EXAMPLE,
    Explanation,
    _Context,
    _future_label,
    _p,
    _pct,
    _Terms,
    _truncation_clause,
    _width,
    fmt,
    sub,
)


def _lstm_gates(fw: ForwardStep, b: int, j: int) -> dict[str, float]:
    return {k: float(fw.extras[k][b, j]) for k in ("i", "f", "g", "o", "c", "tanh_c")}


def _lstm_c_prev(t: int, gates: dict[str, float], ctx: _Context, b: int, j: int) -> tuple[float, str]:
    prev = ctx.forward.get(t - 1)
    if prev is not None and "c" in prev.extras:
        return float(prev.extras["c"][b, j]), f"the cell state at t = {t - 1}"
    if gates["f"] > 1e-12:
        return ((gates["c"] - gates["i"] * gates["g"]) / gates["f"],
                f"solved from c{sub(t)} = f⊙c{sub(t - 1)} + i⊙g (the previous record is not in the context)")
    return 0.0, "unknown (the forget gate is 0, so it does not matter)"


def _lstm_forward(rec: ForwardStep, model: Any, j: int, ctx: _Context) -> Explanation:
    H, b, t = model.hidden_size, EXAMPLE, rec.t
    _width(rec.h, H, "h")
    s, sp = sub(t), sub(t - 1)
    gv = _lstm_gates(rec, b, j)
    c_prev, c_note = _lstm_c_prev(t, gv, ctx, b, j)
    tm = _Terms()
    for k, (name, act) in enumerate(zip(model.GATE_NAMES, ("σ", "σ", "tanh", "σ"))):
        a = float(rec.pre[b, k * H + j])
        tm.add(f"a_{name}", f"a_{name}", a, "gate pre-activation (recorded)")
        tm.add(name, f"{name}{s} = {act}(a_{name})", gv[name], "")
    tm.add("c_prev", f"c{sp}", c_prev, c_note)
    keep = tm.add("f_c_prev", f"f{s} ⊙ c{sp}", gv["f"] * c_prev, "what the forget gate keeps")
    write = tm.add("i_g", f"i{s} ⊙ g{s}", gv["i"] * gv["g"], "what the input gate writes")
    tm.add("c", f"c{s}", gv["c"], "the new cell state (recorded)")
    tm.add("tanh_c", f"tanh(c{s})", gv["tanh_c"], "")
    h = tm.add("h", f"h{s} = o{s} ⊙ tanh(c{s})", float(rec.h[b, j]), "the new state (recorded)")
    equation = (f"i{s} = σ(a_i),  f{s} = σ(a_f),  g{s} = tanh(a_g),  o{s} = σ(a_o),   a{s} = x{s} W_x + h{sp} W_h + b\n"
                f"c{s} = f{s} ⊙ c{sp} + i{s} ⊙ g{s}\n"
                f"h{s} = o{s} ⊙ tanh(c{s})")
    substituted = (f"c{s} = {fmt(gv['f'])} × {_p(c_prev)} + {fmt(gv['i'])} × {_p(gv['g'])} = {fmt(gv['c'])};   "
                   f"h{s} = {fmt(gv['o'])} × tanh({fmt(gv['c'])}) = {fmt(h)}")
    sentence = (f"The forget gate keeps {_pct(gv['f'])} of the old cell state ({fmt(keep)}) and the input gate "
                f"writes {fmt(write)} of new content: the cell state changes by addition, not through a weight "
                "matrix, which is what lets gradient travel far back along it.")
    return tm.build(f"LSTM forward through t = {t} · unit {j}", equation, sentence, substituted)


def _lstm_backward(rec: BackwardStep, model: Any, j: int, ctx: _Context) -> Explanation:
    H, b, t = model.hidden_size, EXAMPLE, rec.t
    _width(rec.dh, H, "dh")
    s, sp, sn = sub(t), sub(t - 1), sub(t + 1)
    out, fut = float(rec.dh_out[b, j]), float(rec.dh_future[b, j])
    dh = float(rec.dh[b, j])
    dc, dc_fut = float(rec.extras["dc"][b, j]), float(rec.extras["dc_future"][b, j])
    deltas = {k: float(rec.extras["d" + k][b, j]) for k in model.GATE_NAMES}
    fw = ctx.forward.get(t)
    tm = _Terms()
    tm.add("dh_out", f"δy{s} W_hyᵀ", out, f"from the output at t = {t}")
    tm.add("dh_future", _future_label(t), fut, f"from t = {t + 1} through W_h")
    tm.add("dh", f"δh{s}", dh, "their sum (recorded)")
    if fw is not None:
        gv = _lstm_gates(fw, b, j)
        c_prev, c_note = _lstm_c_prev(t, gv, ctx, b, j)
        tm.add("o", f"o{s}", gv["o"], "output gate (forward)")
        tm.add("dtanh", f"1 − tanh²(c{s})", 1.0 - gv["tanh_c"] ** 2, "")
        from_h = tm.add("dc_from_h", f"δh{s} ⊙ o{s} ⊙ (1 − tanh²c{s})", dh * gv["o"] * (1.0 - gv["tanh_c"] ** 2),
                        "through h")
    else:
        gv, c_prev, c_note = None, 0.0, ""
        from_h = tm.add("dc_from_h", f"δh{s} ⊙ o{s} ⊙ (1 − tanh²c{s})", dc - dc_fut,
                        "through h (recorded δc minus the future's part)")
    tm.add("dc_future", f"δc{s}^future = δc{sn} ⊙ f{sn}", dc_fut, "straight along the cell state")
    tm.add("dc", f"δc{s}", dc, "the cell-state delta (recorded)")
    if gv is not None:
        tm.add("i", f"i{s}", gv["i"], "")
        tm.add("f", f"f{s}", gv["f"], "")
        tm.add("g", f"g{s}", gv["g"], "")
        tm.add("c_prev", f"c{sp}", c_prev, c_note)
        tm.add("tanh_c", f"tanh(c{s})", gv["tanh_c"], "")
    notes = {"i": "δc ⊙ g ⊙ i(1 − i)", "f": f"δc ⊙ c{sp} ⊙ f(1 − f)", "g": "δc ⊙ i ⊙ (1 − g²)",
             "o": "δh ⊙ tanh(c) ⊙ o(1 − o)"}
    for k in model.GATE_NAMES:
        tm.add("d" + k, f"δa_{k}", deltas[k], notes[k] + " (recorded)")
    equation = (f"δh{s} = δy{s} W_hyᵀ + {_future_label(t)}\n"
                f"δc{s} = δc{s}^future + δh{s} ⊙ o{s} ⊙ (1 − tanh²c{s})\n"
                f"δa_i = δc{s} ⊙ g{s} ⊙ i{s}(1 − i{s}),   δa_f = δc{s} ⊙ c{sp} ⊙ f{s}(1 − f{s})\n"
                f"δa_g = δc{s} ⊙ i{s} ⊙ (1 − g{s}²),   δa_o = δh{s} ⊙ tanh(c{s}) ⊙ o{s}(1 − o{s})\n"
                f"δc{sp}^future = δc{s} ⊙ f{s},   {_future_label(t - 1)} = δa{s} W_hᵀ")
    substituted = f"δc{s} = {fmt(dc_fut)} + {_p(from_h)} = {fmt(dc)}"
    T = ctx.T()
    if dc_fut == 0 and from_h == 0:
        sentence = "No gradient reaches this unit's cell state at this step."
    elif dc_fut == 0 and T is not None and t == T - 1:
        sentence = (f"At the last step the cell delta comes only through h{s} from its own output; nothing arrives "
                    "along the cell state from the future yet.")
    elif dc_fut == 0:
        sentence = f"Nothing arrives along the cell state from the future here: all of δc{s} comes through h{s}."
    else:
        share = abs(dc_fut) / (abs(dc_fut) + abs(from_h))
        sentence = (f"{_pct(share)} of δc{s} arrives straight from the future along the cell state, scaled only by "
                    "the forget gate and never squashed by a weight matrix: the LSTM's constant error carousel.")
    sentence += _truncation_clause(rec, ctx)
    return tm.build(f"LSTM backward through t = {t} · unit {j}", equation, sentence, substituted)


