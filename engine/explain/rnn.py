"""The vanilla RNN's forward and backward steps, explained term by term."""

from __future__ import annotations

import math
from typing import Any

from ..records import (
    BackwardStep,
    ForwardStep,
)
from .common import (
    _ACT_EQ,
    _DERIV_EQ,
    EXAMPLE,
    Explanation,
    _act_remark,
    _Context,
    _deriv,
    _future_label,
    _p,
    _param,
    _pct,
    _share_sentence,
    _stale,
    _Terms,
    _truncation_clause,
    _width,
    fmt,
    sub,
)


def _rnn_forward(rec: ForwardStep, model: Any, j: int, ctx: _Context) -> Explanation:
    H, b, t = model.hidden_size, EXAMPLE, rec.t
    _width(rec.h, H, "h")
    act = model.activation.name
    s, sp = sub(t), sub(t - 1)
    x = rec.x
    if x.ndim == 1:
        tok = int(x[b])
        inp = float(_param(model, ctx, "W_xh")[tok, j])
        inp_note = f"x{s} is token {tok} (one-hot): row {tok} of W_xh"
    else:
        inp = float(x[b] @ _param(model, ctx, "W_xh")[:, j])
        inp_note = "the input's weighted sum"
    rec_part = float(rec.h_prev[b] @ _param(model, ctx, "W_hh")[:, j])
    bias = float(_param(model, ctx, "b_h")[j])
    z, h = float(rec.pre[b, j]), float(rec.h[b, j])
    d = _deriv(act, z, h)
    tm = _Terms()
    tm.add("input", f"x{s} W_xh", inp, inp_note)
    tm.add("recurrent", f"h{sp} W_hh", rec_part,
           "the previous state's part" + (" (the initial state)" if t == 0 else ""))
    tm.add("bias", "b_h", bias)
    tm.add("pre", f"z{s}", z, "pre-activation (recorded)")
    tm.add("h", f"h{s} = {_ACT_EQ[act].format(z=f'z{s}')}", h, "the new state (recorded)")
    tm.add("deriv", f"f′(z{s}) = {_DERIV_EQ[act].format(h=f'h{s}', z=f'z{s}')}", d,
           "what the backward pass will multiply by")
    equation = (f"z{s} = x{s} W_xh + h{sp} W_hh + b_h\n"
                f"h{s} = {_ACT_EQ[act].format(z=f'z{s}')}")
    substituted = (f"z{s} = {fmt(inp)} + {_p(rec_part)} + {_p(bias)} = {fmt(z)};   "
                   f"h{s} = {_ACT_EQ[act].format(z=fmt(z))} = {fmt(h)}")
    stale = _stale((inp, rec_part, bias), z)
    remark = _act_remark(act, z, h, d, f"Unit {j}", "this step")
    if stale:
        sentence = "The pre-activation adds the input's part, the previous state's part and the bias." + stale
    elif remark:
        sentence = remark
    elif t == 0 and rec_part == 0:
        sentence = ("At the first step the previous state is the initial state (zeros here), so only the input "
                    "and the bias drive the unit.")
    else:
        share = abs(rec_part) / max(abs(rec_part) + abs(inp), 1e-300)
        sentence = (f"The previous state supplies {_pct(share)} of this unit's input (by size), the current input "
                    f"{_pct(1 - share)}: this is how the memory of earlier steps enters h{s}.")
    return tm.build(f"Forward through t = {t} · unit {j}", equation, sentence, substituted)


def _rnn_backward(rec: BackwardStep, model: Any, j: int, ctx: _Context) -> Explanation:
    H, b, t = model.hidden_size, EXAMPLE, rec.t
    _width(rec.dh, H, "dh")
    act = model.activation.name
    s, sn = sub(t), sub(t + 1)
    out, fut = float(rec.dh_out[b, j]), float(rec.dh_future[b, j])
    dh, dz = float(rec.dh[b, j]), float(rec.dpre[b, j])
    fw = ctx.forward.get(t)
    deq = _DERIV_EQ[act].format(h=f"h{s}", z=f"z{s}")
    tm = _Terms()
    if fw is not None:
        z, h = float(fw.pre[b, j]), float(fw.h[b, j])
        if act == "relu":
            tm.add("z", f"z{s}", z, f"the pre-activation at t = {t}")
        elif act != "linear":
            tm.add("h", f"h{s}", h, f"the state at t = {t} (forward)")
        d = tm.add("deriv", f"f′ = {deq}", _deriv(act, z, h), f"{act}'s derivative")
        remark = _act_remark(act, z, h, d, f"Unit {j}", "this step")
    else:
        d = dz / dh if dh != 0 else (1.0 if act == "linear" else 0.0)
        tm.add("deriv", f"f′ = {deq}", d, "from the recorded deltas (add this step's forward record to see h)")
        remark = ""
    tm.add("dh_out", f"δy{s} W_hyᵀ", out, f"from the output at t = {t}")
    tm.add("dh_future", _future_label(t), fut, f"from t = {t + 1} through W_hh")
    tm.add("dh", f"δh{s}", dh, "their sum (recorded)")
    tm.add("dpre", f"δz{s}", dz, "pre-activation delta (recorded)")
    equation = (f"δz{s} = {deq} ⊙ (δy{s} W_hyᵀ + {_future_label(t)}),   {_future_label(t)} = δz{sn} W_hhᵀ\n"
                f"and this step passes on {_future_label(t - 1)} = δz{s} W_hhᵀ")
    substituted = f"δz{s} = {_p(d)} × ({fmt(out)} + {_p(fut)}) = {_p(d)} × {_p(dh)} = {fmt(dz)}"
    sentence = _share_sentence(out, fut, t, ctx)
    if not math.isclose(out + fut, dh, rel_tol=1e-9, abs_tol=1e-12):
        sentence = (f"The recorded δh{s} = {fmt(dh)} is not the output's part plus the future's "
                    f"({fmt(out + fut)}): the future's contribution was dropped or overwritten.")
    elif remark and abs(dh) > 0:
        sentence = sentence.rstrip(".") + f"; then the derivative {fmt(d)} shrinks it to {fmt(dz)}."
    sentence += _truncation_clause(rec, ctx)
    return tm.build(f"Backward through t = {t} · unit {j}", equation, sentence, substituted)


