"""The GRU's forward and backward steps, explained term by term."""

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
    _share_sentence,
    _Terms,
    _truncation_clause,
    _width,
    fmt,
    sub,
)


def _gru_forward(rec: ForwardStep, model: Any, j: int, ctx: _Context) -> Explanation:
    H, b, t = model.hidden_size, EXAMPLE, rec.t
    _width(rec.h, H, "h")
    s, sp = sub(t), sub(t - 1)
    r, z, n = (float(rec.extras[k][b, j]) for k in model.GATE_NAMES)
    hn = float(rec.extras["hn"][b, j])
    h_prev, h = float(rec.h_prev[b, j]), float(rec.h[b, j])
    tm = _Terms()
    tm.add("a_r", "a_r = ax_r + ah_r", float(rec.pre[b, j]), "reset-gate pre-activation (recorded)")
    tm.add("r", f"r{s} = σ(a_r)", r, "reset gate")
    tm.add("a_z", "a_z = ax_z + ah_z", float(rec.pre[b, H + j]), "update-gate pre-activation (recorded)")
    tm.add("z", f"z{s} = σ(a_z)", z, "update gate")
    tm.add("hn", f"h{sp} W_hn + b_hn", hn, "what the reset gate scales")
    tm.add("r_hn", f"r{s} ⊙ (h{sp} W_hn + b_hn)", r * hn, "")
    tm.add("a_n", f"a_n = ax_n + r{s} ⊙ (h{sp} W_hn + b_hn)", float(rec.pre[b, 2 * H + j]), "recorded")
    tm.add("n", f"n{s} = tanh(a_n)", n, "candidate state")
    tm.add("h_prev", f"h{sp}", h_prev, "the previous state" + (" (the initial state)" if t == 0 else ""))
    tm.add("h", f"h{s} = (1 − z{s}) ⊙ n{s} + z{s} ⊙ h{sp}", h, "the new state (recorded)")
    equation = (f"r{s} = σ(x{s} W_xr + b_xr + h{sp} W_hr + b_hr),   z{s} = σ(x{s} W_xz + b_xz + h{sp} W_hz + b_hz)\n"
                f"n{s} = tanh(x{s} W_xn + b_xn + r{s} ⊙ (h{sp} W_hn + b_hn))\n"
                f"h{s} = (1 − z{s}) ⊙ n{s} + z{s} ⊙ h{sp}")
    substituted = f"h{s} = (1 − {fmt(z)}) × {_p(n)} + {fmt(z)} × {_p(h_prev)} = {fmt(h)}"
    sentence = (f"The update gate z{s} = {fmt(z)} keeps {_pct(z)} of the old state h{sp} and takes {_pct(1 - z)} of "
                f"the new candidate n{s}; the reset gate r{s} = {fmt(r)} decides how much of the old state the "
                "candidate sees.")
    return tm.build(f"GRU forward through t = {t} · unit {j}", equation, sentence, substituted)


def _gru_backward(rec: BackwardStep, model: Any, j: int, ctx: _Context) -> Explanation:
    H, b, t = model.hidden_size, EXAMPLE, rec.t
    _width(rec.dh, H, "dh")
    s, sp = sub(t), sub(t - 1)
    out, fut, dh = float(rec.dh_out[b, j]), float(rec.dh_future[b, j]), float(rec.dh[b, j])
    dr, dz, dn = (float(rec.extras["d" + k][b, j]) for k in model.GATE_NAMES)
    carry = float(rec.extras["dh_carry"][b, j])
    fw = ctx.forward.get(t)
    tm = _Terms()
    tm.add("dh_out", f"δy{s} W_hyᵀ", out, f"from the output at t = {t}")
    tm.add("dh_future", _future_label(t), fut, f"from t = {t + 1}")
    tm.add("dh", f"δh{s}", dh, "their sum (recorded)")
    z = None
    if fw is not None:
        r, z, n = (float(fw.extras[k][b, j]) for k in model.GATE_NAMES)
        tm.add("r", f"r{s}", r, "reset gate (forward)")
        tm.add("z", f"z{s}", z, "update gate (forward)")
        tm.add("n", f"n{s}", n, "candidate (forward)")
        tm.add("h_prev", f"h{sp}", float(fw.h_prev[b, j]), "the previous state")
        tm.add("hn", f"h{sp} W_hn + b_hn", float(fw.extras["hn"][b, j]), "")
    tm.add("dn", f"δa_n = δh{s} ⊙ (1 − z{s}) ⊙ (1 − n{s}²)", dn, "recorded")
    tm.add("dz", f"δa_z = δh{s} ⊙ (h{sp} − n{s}) ⊙ z{s}(1 − z{s})", dz, "recorded")
    tm.add("dr", f"δa_r = δa_n ⊙ (h{sp} W_hn + b_hn) ⊙ r{s}(1 − r{s})", dr, "recorded")
    tm.add("dh_carry", f"δh{s} ⊙ z{s}", carry, f"goes straight to h{sp}, skipping the weights (recorded)")
    equation = (f"δh{s} = δy{s} W_hyᵀ + {_future_label(t)}\n"
                f"δa_n = δh{s} ⊙ (1 − z{s}) ⊙ (1 − n{s}²)\n"
                f"δa_z = δh{s} ⊙ (h{sp} − n{s}) ⊙ z{s}(1 − z{s})\n"
                f"δa_r = δa_n ⊙ (h{sp} W_hn + b_hn) ⊙ r{s}(1 − r{s})\n"
                f"{_future_label(t - 1)} = δh{s} ⊙ z{s} + [δa_r | δa_z | r{s} ⊙ δa_n] W_hᵀ")
    substituted = f"δh{s} = {fmt(out)} + {_p(fut)} = {fmt(dh)};   δh{s} ⊙ z{s} = {fmt(carry)}"
    sentence = _share_sentence(out, fut, t, ctx)
    if z is not None and dh != 0 and fut != 0:
        sentence = (sentence.rstrip(".") + f"; the update gate z{s} = {fmt(z)} passes {_pct(z)} of δh{s} straight "
                    f"back to h{sp}, with no weight matrix in the way.")
    sentence += _truncation_clause(rec, ctx)
    return tm.build(f"GRU backward through t = {t} · unit {j}", equation, sentence, substituted)


