"""The MLP's layer-by-layer forward and backward steps, explained term by term."""

from __future__ import annotations

from typing import Any

from ..records import (
    LayerBackward,
    LayerForward,
)
from .common import (
    _ACT_EQ,
    _DERIV_EQ,
    EXAMPLE,
    Explanation,
    _act_remark,
    _Context,
    _deriv,
    _p,
    _param,
    _stale,
    _Terms,
    _width,
    fmt,
    sub,
)


def _mlp_act(model: Any, layer: int) -> str | None:
    """The hidden activation's name, or None for the (linear) output layer."""
    return model.activations[layer - 1].name if layer < model.n_layers else None


def _mlp_forward(rec: LayerForward, model: Any, j: int, ctx: _Context) -> Explanation:
    layer, b = rec.index, EXAMPLE
    n = model.layer_sizes[layer]
    _width(rec.z, n, "z")
    jj = min(j, n - 1)
    s, sp = sub(layer), sub(layer - 1)
    wsum = float(rec.a_in[b] @ _param(model, ctx, f"W{layer}")[:, jj])
    bias = float(_param(model, ctx, f"b{layer}")[jj])
    z, a = float(rec.z[b, jj]), float(rec.a[b, jj])
    act = _mlp_act(model, layer)
    inp = "x" if layer == 1 else f"a{sp}"
    tm = _Terms()
    tm.add("input", f"{inp} W{s}", wsum, "the weighted inputs" + (" (x is the input)" if layer == 1 else ""))
    tm.add("bias", f"b{s}", bias, "")
    stale = _stale((wsum, bias), z)
    if act is not None:
        tm.add("pre", f"z{s}", z, "pre-activation (recorded)")
        tm.add("a", f"a{s} = {_ACT_EQ[act].format(z=f'z{s}')}", a, "the activation (recorded)")
        d = tm.add("deriv", f"f′(z{s}) = {_DERIV_EQ[act].format(h=f'a{s}', z=f'z{s}')}", _deriv(act, z, a),
                   "what the backward pass will multiply by")
        equation = f"z{s} = {inp} W{s} + b{s}\na{s} = {_ACT_EQ[act].format(z=f'z{s}')}"
        substituted = f"z{s} = {fmt(wsum)} + {_p(bias)} = {fmt(z)};   a{s} = {_ACT_EQ[act].format(z=fmt(z))} = {fmt(a)}"
        sentence = _act_remark(act, z, a, d, f"Unit {jj}", "this layer", "a") or (
            f"Layer {layer} mixes the {model.layer_sizes[layer - 1]} values below it with its weights, adds the bias "
            f"and bends the result with {act}.")
    else:
        tm.add("y", f"y[{jj}]", z, "the output score (recorded)")
        equation = f"y = {inp} W{s} + b{s}"
        substituted = f"y[{jj}] = {fmt(wsum)} + {_p(bias)} = {fmt(z)}"
        if rec.p is not None:
            pj = tm.add("p", f"p[{jj}] = softmax(y)[{jj}]", float(rec.p[b, jj]), "probability of class " + str(jj))
            equation += "\np = softmax(y) = exp(y) / Σ_k exp(y_k)"
            sentence = (f"The softmax turns the output scores into probabilities over the classes (each example's "
                        f"sum to 1): class {jj} gets {fmt(pj)}.")
        else:
            sentence = "The output layer is linear: its scores are the predictions the squared error compares."
    if stale:
        sentence = f"The pre-activation adds the weighted inputs and the bias.{stale}"
    title = f"Layer {layer} forward · unit {jj}" + (" (output)" if act is None else "")
    return tm.build(title, equation, sentence, substituted)


def _mlp_backward(rec: LayerBackward, model: Any, j: int, ctx: _Context) -> Explanation:
    layer, b = rec.index, EXAMPLE
    n = model.layer_sizes[layer]
    _width(rec.dz, n, "dz")
    jj = min(j, n - 1)
    s, sn = sub(layer), sub(layer + 1)
    da, dz = float(rec.da[b, jj]), float(rec.dz[b, jj])
    act = _mlp_act(model, layer)
    gb = float(rec.grads[f"b{layer}"][jj])
    tm = _Terms()
    if act is None:
        loss = ctx.loss.loss if ctx.loss is not None else ("cross_entropy" if model.output == "softmax" else "mse")
        red = ctx.loss.reduction if ctx.loss is not None else None
        scale = " / B" if red == "mean" else ""
        form = f"(p − onehot(target)){scale}" if loss == "cross_entropy" else f"(y − target){scale}"
        tm.add("da", f"δy[{jj}] = {form}", da, "the output delta from the loss (recorded)")
        tm.add("dpre", f"δz{s}[{jj}]", dz, "the same number: no activation at the output (recorded)")
        tm.add("bias_grad", f"∂L/∂b{s}[{jj}] = Σ_b δz{s}[b, {jj}]", gb, "summed over the batch (recorded)")
        sp = sub(layer - 1)
        equation = (f"δz{s} = δy = {form}\n"
                    f"∂L/∂W{s} = a{sp}ᵀ δz{s},   ∂L/∂b{s} = Σ_b δz{s}[b, ·],   δa{sp} = δz{s} W{s}ᵀ")
        substituted = f"δz{s}[{jj}] = δy[{jj}] = {fmt(dz)}"
        sentence = ("At the output, softmax and cross-entropy combine into δ = p − onehot(target), so the layer's "
                    "delta needs no softmax derivative at all." if loss == "cross_entropy" else
                    "At a linear output with squared error the delta is just the error y − target.")
        return tm.build(f"Layer {layer} backward · unit {jj} (output)", equation, sentence, substituted)
    lf = ctx.layer_forward.get(layer)
    deq = _DERIV_EQ[act].format(h=f"a{s}", z=f"z{s}")
    tm.add("da", f"δa{s} = (δz{sn} W{sn}ᵀ)[{jj}]", da, f"from layer {layer + 1} (recorded)")
    if lf is not None:
        z, a = float(lf.z[b, jj]), float(lf.a[b, jj])
        if act == "relu":
            tm.add("z", f"z{s}", z, "pre-activation (forward)")
        elif act != "linear":
            tm.add("a", f"a{s}", a, "activation (forward)")
        d = tm.add("deriv", f"f′ = {deq}", _deriv(act, z, a), f"{act}'s derivative")
        remark = _act_remark(act, z, a, d, f"Unit {jj}", "this layer", "a")
    else:
        d = tm.add("deriv", f"f′ = {deq}", dz / da if da != 0 else (1.0 if act == "linear" else 0.0),
                   "from the recorded deltas (add this layer's forward record to see a)")
        remark = ""
    tm.add("dpre", f"δz{s}[{jj}]", dz, "pre-activation delta (recorded)")
    tm.add("bias_grad", f"∂L/∂b{s}[{jj}] = Σ_b δz{s}[b, {jj}]", gb, "summed over the batch (recorded)")
    equation = (f"δz{s} = δa{s} ⊙ {deq},   δa{s} = δz{sn} W{sn}ᵀ\n"
                f"∂L/∂W{s} = a{sub(layer - 1)}ᵀ δz{s},   ∂L/∂b{s} = Σ_b δz{s}[b, ·]")
    substituted = f"δz{s}[{jj}] = {_p(da)} × {_p(d)} = {fmt(dz)}"
    sentence = remark or (f"The delta from layer {layer + 1} ({fmt(da)}) is multiplied by this unit's derivative "
                          f"{fmt(d)}: where that is small, the layers below learn slowly.")
    return tm.build(f"Layer {layer} backward · unit {jj}", equation, sentence, substituted)

