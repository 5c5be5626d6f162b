"""The gradient record: which entry of a weight gradient is followed, and its sum over time."""

from __future__ import annotations

import math
from typing import Any

from ..records import GradientStep
from .common import EXAMPLE, Explanation, _Context, _p, _pct, _Terms, fmt, sub


def _focus(model: Any, j: int, ctx: _Context) -> tuple[str, tuple[int, ...], str]:
    """The parameter entry gradient and update explanations follow, with a note saying what it is."""
    if "param" in ctx.options:
        name, index = ctx.options["param"]
        index = tuple(int(i) for i in (index if isinstance(index, (tuple, list)) else (index,)))
        if name not in model.params:
            raise ValueError(f"context['param']: unknown parameter {name!r}; allowed: {', '.join(model.params)}")
        try:
            model.params[name][index]
        except IndexError:
            raise ValueError(f"context['param']: index {index} is outside {name} "
                             f"{model.params[name].shape}") from None
        return name, index, ""
    if model.kind == "mlp":
        jj = min(j, model.layer_sizes[1] - 1)
        return "b1", (jj,), f"the first layer's bias of unit {jj}"
    H = model.hidden_size
    if model.kind == "rnn":
        return model.W_H, (j, j), f"unit {j}'s weight on its own previous value"
    names = model.GATE_NAMES
    gate = ctx.options.get("gate", "g" if model.kind == "lstm" else "n")
    if gate not in names:
        raise ValueError(f"context['gate']: expected one of {', '.join(names)}, got {gate!r}")
    k = names.index(gate)
    return model.W_H, (j, k * H + j), f"unit {j}'s previous value into its own {gate} gate"


def _entry(name: str, index: tuple[int, ...]) -> str:
    return f"{name}[{', '.join(map(str, index))}]"


def _gradients(rec: GradientStep, model: Any, j: int, ctx: _Context) -> Explanation:
    from ..nn.optim import global_norm

    tm = _Terms()
    norm = global_norm(rec.grads)
    if model.kind == "mlp":
        L = model.n_layers
        for layer in range(1, L + 1):
            jj = min(j, model.layer_sizes[layer] - 1)
            lb = ctx.layer_backward.get(layer)
            note = (f"example {EXAMPLE}'s δz{sub(layer)}: {fmt(lb.dz[EXAMPLE, jj])} + the rest of the batch"
                    if lb is not None else "")
            tm.add(f"b{layer}", f"∂L/∂b{sub(layer)}[{jj}] = Σ_b δz{sub(layer)}[b, {jj}]",
                   float(rec.grads[f"b{layer}"][jj]), note)
        tm.add("norm", "‖∇L‖", norm, "global norm over all parameters")
        equation = ("∂L/∂Wₗ = aₗ₋₁ᵀ δzₗ,   ∂L/∂bₗ = Σ_b δzₗ[b, ·]      (l = 1 … L, a₀ = x)\n"
                    "δzₗ = (δzₗ₊₁ Wₗ₊₁ᵀ) ⊙ f′(zₗ),   δz_L = δy")
        sentence = (f"Each layer's gradient is its input activations times its deltas, summed over the batch of "
                    f"{_batch(rec, ctx)}; the whole gradient has norm {fmt(norm)}.")
        return tm.build("Gradients: collected layer by layer", equation, sentence)
    name, index, what = _focus(model, j, ctx)
    total = float(rec.grads[name][index])
    T = ctx.T()
    contrib: dict[int, float] = {}
    if T is not None and all(t in ctx.backward for t in range(T)):
        contrib = {t: float(ctx.backward[t].grads[name][index]) for t in range(T)}
    dname = {"rnn": "δz", "lstm": "δa", "gru": "δa"}[model.kind]
    if model.kind == "gru" and name == model.W_H:
        dname = "δ(ah)"
    if name == model.W_H:
        gen = f"∂L/∂{name} = Σₜ hₜ₋₁ᵀ {dname}ₜ"
    elif name == model.W_X:
        gen = f"∂L/∂{name} = Σₜ xₜᵀ {dname}ₜ"
    else:
        gen = f"∂L/∂{name} = Σₜ (its share at each step)"
    equation = (f"{gen}      (t = 0 … T−1: one sum over the reversed loop)\n"
                f"∂L/∂W_hy = Σₜ hₜᵀ δyₜ,   biases: Σₜ Σ_b of their deltas")
    if contrib:
        order = sorted(contrib, key=lambda t: -abs(contrib[t]))
        shown = sorted(order[:5], reverse=True)
        for t in shown:
            tm.add(f"t{t}", f"t = {t}", contrib[t], "this step's contribution (backward record)")
        rest = [t for t in contrib if t not in shown]
        if rest:
            tm.add("rest", f"the other {len(rest)} steps", math.fsum(contrib[t] for t in rest),
                   f"t = {min(rest)} … {max(rest)}" if len(rest) > 1 else f"t = {rest[0]}")
    tm.add("total", f"∂L/∂{_entry(name, index)}", total, what + " (recorded)" if what else "recorded")
    tm.add("norm", "‖∇L‖", norm, "global norm over all parameters")
    if contrib:
        biggest = max(contrib, key=lambda t: abs(contrib[t]))
        size = sum(abs(v) for v in contrib.values())
        share = abs(contrib[biggest]) / size if size > 0 else 0.0
        sentence = (f"The gradient is the sum of every timestep's contribution, collected by one reversed loop (that "
                    f"is full BPTT); the largest comes from t = {biggest} ({_pct(share)} by size).")
        substituted = f"∂L/∂{_entry(name, index)} = " + " + ".join(_p(contrib[t]) for t in sorted(contrib)[:8]) + \
            (" + …" if len(contrib) > 8 else "") + f" = {fmt(total)}"
    else:
        sentence = ("The gradient is the sum of every timestep's contribution, collected by one reversed loop (that is "
                    "full BPTT); give the iteration's backward records as the context to see each step's share.")
        substituted = ""
    return tm.build("Gradients: summed over time", equation, sentence, substituted)


def _batch(rec: GradientStep, ctx: _Context) -> str:
    if ctx.loss is not None:
        return f"{ctx.loss.dy.shape[0]} examples"
    return "examples"


