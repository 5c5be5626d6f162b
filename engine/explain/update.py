"""The update record: clipping and the optimiser's rule applied to one parameter entry."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from ..records import UpdateStep
from .common import Explanation, _Context, _p, _Terms, fmt
from .gradients import _entry, _focus

_RULES = {
    "sgd": "θ ← θ − lr · ĝ",
    "momentum": "v ← μ v − lr · ĝ,   θ ← θ + v",
    "adagrad": "m ← m + ĝ²,   θ ← θ − lr · ĝ / √(m + ε)",
    "adam": "m ← β₁ m + (1 − β₁) ĝ,   v ← β₂ v + (1 − β₂) ĝ²,   θ ← θ − lr · m̂ / (√v̂ + ε)",
}
_CLIP_EQ = {"none": "ĝ = g      (no clipping)", "norm": "ĝ = g · min(1, c / ‖g‖)      (clip by global norm)",
            "value": "ĝ = clip(g, −c, c)      (clip each entry)"}


def _update(rec: UpdateStep, model: Any, j: int, ctx: _Context) -> Explanation:
    name, index, what = _focus(model, j, ctx)
    entry = _entry(name, index)
    g = float(rec.grads[name][index])
    delta = float(rec.delta[name][index])
    opt = ctx.options.get("optimizer")
    clipper = ctx.options.get("clipper")
    c = ctx.options.get("clip_threshold", getattr(clipper, "threshold", None))
    if c is None and rec.clip == "norm" and rec.clipped:
        c = rec.norm * rec.scale  # scale = c / ‖g‖
    tm = _Terms()
    tm.add("g", f"g = ∂L/∂{entry}", g, what + " (raw gradient)" if what else "raw gradient")
    tm.add("norm", "‖g‖", rec.norm, "global norm over all parameters, before clipping")
    if c is not None and rec.clip != "none":
        tm.add("threshold", "c", float(c), "the clipping threshold")
    if rec.clip == "norm":
        tm.add("scale", "min(1, c / ‖g‖)", rec.scale, "applied to every gradient" if rec.clipped else "no change")
        g_hat: float | None = g * rec.scale
    elif rec.clip == "value":
        g_hat = float(np.clip(g, -c, c)) if c is not None else (g if not rec.clipped else None)
    else:
        g_hat = g
    if g_hat is not None:
        tm.add("g_hat", "ĝ", g_hat, "the gradient the optimiser uses")
    lr = tm.add("lr", "lr", rec.lr, "learning rate")
    oname = getattr(opt, "name", None) or (rec.extras.get("optimizer") if rec.extras else None)
    predicted: float | None = None
    if g_hat is not None:
        if oname == "sgd" or (oname is None and math.isclose(delta, -lr * g_hat, rel_tol=1e-6, abs_tol=1e-15)):
            oname = oname or "sgd"
            predicted = -lr * g_hat
        elif oname in ("momentum", "adagrad", "adam") and opt is not None:
            predicted = _optimizer_terms(tm, opt, name, index, g_hat, lr)
    tm.add("delta", f"Δ{entry}", delta, "the change applied (recorded)")
    rule = _RULES.get(oname, "θ ← θ + Δθ      (optimiser unknown: give it in the context)")
    equation = f"{_CLIP_EQ[rec.clip]}\n{rule}"
    if oname == "sgd" and g_hat is not None:
        substituted = f"Δ{entry} = −{fmt(lr)} × {_p(g_hat)} = {fmt(delta)}"
    elif g_hat is not None and g_hat != 0:
        substituted = f"Δ{entry} = {fmt(delta)}   (= {fmt(delta / g_hat)} × ĝ)"
    else:
        substituted = f"Δ{entry} = {fmt(delta)}"
    cs = fmt(c) if c is not None else "the threshold"
    if rec.clip == "norm":
        clause = (f"The global gradient norm {fmt(rec.norm)} exceeded {cs}, so every gradient was scaled by "
                  f"{fmt(rec.scale)}, keeping its direction" if rec.clipped
                  else f"The global gradient norm {fmt(rec.norm)} is within {cs}, so nothing was clipped")
    elif rec.clip == "value":
        clause = (f"{rec.n_clipped} gradient entries were clipped to ±{cs} (element-wise, which can turn the "
                  "gradient's direction)" if rec.clipped
                  else f"No entry exceeded ±{cs}, so nothing was clipped (global norm {fmt(rec.norm)})")
    else:
        clause = f"No clipping (the global gradient norm is {fmt(rec.norm)})"
    oname_text = {"sgd": "SGD", "momentum": "momentum", "adagrad": "Adagrad", "adam": "Adam"}.get(oname)
    if oname_text is None:
        clause += f"; then the optimiser changed {entry} by {fmt(delta)} with lr = {fmt(lr)}."
    else:
        clause += f"; then {oname_text} stepped against the gradient with lr = {fmt(lr)}."
    if predicted is not None and not math.isclose(predicted, delta, rel_tol=1e-6, abs_tol=1e-12):
        clause += (" (The optimiser's state has moved on since this update, so its terms no longer reproduce the "
                   "recorded change.)")
    return tm.build(f"Update (iteration {rec.index})", equation, clause, substituted)


def _optimizer_terms(tm: _Terms, opt: Any, name: str, index: tuple[int, ...], g_hat: float, lr: float) -> float | None:
    """Add the optimiser's own terms (state after this update); return the change they predict."""
    if opt.name == "momentum":
        v = opt.v.get(name)
        if v is None:
            return None
        mu = tm.add("mu", "μ", opt.momentum, "momentum")
        vn = tm.add("v", "v (after)", float(v[index]), "the velocity, which is the change")
        tm.add("mu_v", "μ v (before)", vn + lr * g_hat, f"the old velocity times μ = {fmt(mu)}")
        return vn
    if opt.name == "adagrad":
        m = opt.m.get(name)
        if m is None:
            return None
        mv = tm.add("m", "m (after)", float(m[index]), "the running sum of ĝ², this ĝ² included")
        root = tm.add("root", "√(m + ε)", math.sqrt(mv + opt.eps), f"ε = {fmt(opt.eps)}")
        return -lr * g_hat / root
    if opt.name == "adam":
        m, v = opt.m.get(name), opt.v.get(name)
        if m is None or v is None or opt.t < 1:
            return None
        c1, c2 = 1.0 - opt.beta1 ** opt.t, 1.0 - opt.beta2 ** opt.t
        mh = tm.add("m_hat", "m̂ = m / (1 − β₁ᵗ)", float(m[index]) / c1, f"β₁ = {fmt(opt.beta1)}, t = {opt.t}")
        vh = tm.add("v_hat", "v̂ = v / (1 − β₂ᵗ)", float(v[index]) / c2, f"β₂ = {fmt(opt.beta2)}")
        return -lr * mh / (math.sqrt(vh) + opt.eps)
    return None


