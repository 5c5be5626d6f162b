"""The loss record of every model, explained term by term."""

from __future__ import annotations

from typing import Any

import numpy as np

from ..records import (
    ForwardStep,
    LossStep,
)
from .common import EXAMPLE, Explanation, _Context, _p, _Terms, fmt, sub


def _loss(rec: LossStep, model: Any, j: int, ctx: _Context) -> Explanation:
    b = EXAMPLE
    dy, losses = rec.dy, rec.losses
    per_time = dy.ndim == 3  # (B, T, O): a prediction at every step
    T = dy.shape[1] if per_time else None
    if per_time:
        t = int(ctx.options.get("t", T - 1))
        if not 0 <= t < T:
            raise ValueError(f"context['t']: expected a timestep in [0, {T}), got {t}")
        row, loss_v = dy[b, t], float(losses[b, t])
        fw = ctx.forward.get(t)
    else:
        t = None
        if losses.ndim == 1 and rec.per_step.size > 1:  # many-to-one recurrent: the output at the last step
            t = rec.per_step.size - 1
        row, loss_v = dy[b], float(losses[b])
        fw = ctx.forward.get(t) if t is not None else ctx.layer_forward.get(getattr(model, "n_layers", -1))
    at = f" at t = {t}" if t is not None else ""
    s = sub(t) if t is not None else ""
    scale = float(rec.scale)
    how = "mean over the batch" if rec.reduction == "mean" else "sum over the batch"
    if model.kind != "mlp" and per_time:
        how += ", summed over time"
    B = dy.shape[0]
    tm = _Terms()
    if rec.loss == "cross_entropy":
        c = int(np.argmin(row))  # p − 1 < 0 only at the target
        p_rec = getattr(fw, "p", None) if fw is not None else None
        if p_rec is not None:
            p = float(p_rec[b, c])
            p_note = "(forward record)"
        else:
            p = float(row[c]) / scale + 1.0
            p_note = "(from the recorded delta)"
        tm.add("p", f"p{s}[{c}]", p, f"probability of the target class {c}{at} {p_note}")
        tm.add("onehot", f"onehot{s}[{c}]", 1.0, "the target is class " + str(c))
        tm.add("scale", "1/B" if rec.reduction == "mean" else "scale", scale,
               f"B = {B}, mean over the batch" if rec.reduction == "mean" else "sum: no scaling")
        tm.add("dy", f"δy{s}[{c}] = (p − 1)·{'1/B' if rec.reduction == 'mean' else '1'}", float(row[c]),
               "output delta at the target (recorded)")
        other = int(np.argmax(np.where(np.arange(row.size) == c, -np.inf, row)))
        if row.size > 1:
            tm.add("dy_other", f"δy{s}[{other}] = p{s}[{other}]·{'1/B' if rec.reduction == 'mean' else '1'}",
                   float(row[other]), f"the most likely wrong class, {other} (recorded)")
        tm.add("loss", f"ℓ{s} = −log p{s}[{c}]", loss_v, "this example's loss (recorded)")
        tm.add("total", "L", float(rec.total), f"the total loss ({how})")
        equation = (f"p{s} = softmax(y{s}),   ℓ{s} = −log p{s}[target]\n"
                    f"δy{s} = (p{s} − onehot(target)){' / B' if rec.reduction == 'mean' else ''}")
        substituted = f"δy{s}[{c}] = ({fmt(p)} − 1){f' / {B}' if rec.reduction == 'mean' else ''} = {fmt(row[c])}"
        sentence = (f"With softmax and cross-entropy the output delta is simply p − onehot(target): {fmt(p - 1)} for "
                    f"the target class {c} and +p for every other class, no softmax derivative p(1 − p) needed")
        sentence += f"; it is scaled by 1/B = 1/{B} because the loss is a mean over the batch." \
            if rec.reduction == "mean" else "; with a summed loss it is not rescaled."
    else:
        o = int(np.argmax(np.abs(row)))
        y_rec = None
        if fw is not None:
            y_rec = fw.y if isinstance(fw, ForwardStep) else fw.a
        resid = float(row[o]) / scale
        if y_rec is not None:
            y = tm.add("y", f"y{s}[{o}]", float(y_rec[b, o]), "the output (forward record)")
            tm.add("target", f"target{s}[{o}]", y - resid, "y − δy/scale")
        tm.add("residual", f"y{s}[{o}] − target{s}[{o}]", resid, "the error")
        tm.add("scale", "1/B" if rec.reduction == "mean" else "scale", scale,
               f"B = {B}, mean over the batch" if rec.reduction == "mean" else "sum: no scaling")
        tm.add("dy", f"δy{s}[{o}]", float(row[o]), "output delta (recorded)")
        tm.add("loss", f"ℓ{s} = ½‖y{s} − target{s}‖²", loss_v, "this example's loss (recorded)")
        tm.add("total", "L", float(rec.total), f"the total loss ({how})")
        equation = (f"ℓ{s} = ½ ‖y{s} − target{s}‖²\n"
                    f"δy{s} = (y{s} − target{s}){' / B' if rec.reduction == 'mean' else ''}")
        substituted = (f"δy{s}[{o}] = {_p(resid)}{f' / {B}' if rec.reduction == 'mean' else ''} = {fmt(row[o])}")
        sentence = ("With squared error and a linear output the delta is just the error y − target (the ½ in the "
                    f"loss cancels the 2), shown for output {o}, the one with the largest error")
        sentence += f"; it is divided by B = {B} because the loss is a mean over the batch." \
            if rec.reduction == "mean" else "; with a summed loss it is not rescaled."
    return tm.build(f"Loss{at}: {'cross-entropy' if rec.loss == 'cross_entropy' else 'squared error'} ({how})",
                    equation, sentence, substituted)


