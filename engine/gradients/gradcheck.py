"""Numerical gradient checking by central differences.

``dL/dθ_i ≈ (L(θ + ε e_i) - L(θ - ε e_i)) / (2ε)``, truncation error O(ε²); in float64 with
ε = 1e-5 the round-off is about 1e-16 |L| / ε, so agreement to ~1e-9 relative is expected.

The relative error of a parameter is ``max_i |a_i - n_i| / max(max|a| + max|n|, atol)``: the worst
entry measured against the scale of that parameter's gradient, so entries that are tiny in a
parameter whose gradient is large do not produce meaningless huge ratios.

``atol`` is the finite-difference noise floor: round-off puts an error of about
``1e-16 |L| / eps`` on every numerical entry, so a parameter whose whole gradient is smaller than
``noise_floor(L, eps) = 1e-4 max(1, |L|) (1e-5 / eps)`` (a vanished gradient, or two examples
cancelling) is judged by its absolute error against that floor instead: below 1e-6 still means
an absolute error under ~1e-10 |L|, far below what any real bug produces.

The gradient doctor (``engine.gradients.doctor.check``) builds on these tools to check anyone's
``f(params, inputs, targets) -> (loss, grads)`` and explain the pattern of the errors in plain
language; this module does not import it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

import numpy as np

Array = np.ndarray


def numerical_gradient(loss_fn: Callable[[], float], param: Array, eps: float = 1e-5) -> Array:
    """Central differences of ``loss_fn()`` with respect to every entry of ``param``, perturbed
    in place and restored to its exact original value."""
    grad = np.zeros_like(param, dtype=np.float64)
    flat, gflat = param.reshape(-1), grad.reshape(-1)
    for i in range(flat.size):
        orig = flat[i]
        flat[i] = orig + eps
        plus = loss_fn()
        flat[i] = orig - eps
        minus = loss_fn()
        flat[i] = orig
        gflat[i] = (plus - minus) / (2.0 * eps)
    return grad


def relative_error(analytic: Array, numerical: Array, atol: float = 1e-8) -> float:
    """The per-parameter relative error described in the module docstring."""
    analytic = np.asarray(analytic, dtype=np.float64)
    numerical = np.asarray(numerical, dtype=np.float64)
    if analytic.size == 0:
        return 0.0
    diff = np.max(np.abs(analytic - numerical))
    scale = np.max(np.abs(analytic)) + np.max(np.abs(numerical))
    return float(diff / max(scale, atol))


def noise_floor(loss: float, eps: float = 1e-5) -> float:
    """The ``atol`` for ``relative_error`` given the loss value and the step (module docstring)."""
    return 1e-4 * max(1.0, abs(float(loss))) * (1e-5 / eps)


def check_model(model, inputs, targets, eps: float = 1e-5, **options) -> dict[str, float]:
    """Relative error of ``model.loss_and_grads(inputs, targets, **options)`` against central
    differences, per parameter name. ``model.params`` is perturbed in place and restored."""
    value, grads = model.loss_and_grads(inputs, targets, **options)

    def loss() -> float:
        return model.loss_and_grads(inputs, targets, **options)[0]

    atol = noise_floor(value, eps)
    return {name: relative_error(grads[name], numerical_gradient(loss, p, eps), atol)
            for name, p in model.params.items()}


def numerical_grads(loss_fn: Callable[[], float], params: Mapping[str, Array],
                    eps: float = 1e-5) -> dict[str, Array]:
    """Numerical gradients of every array in ``params`` (each perturbed in place, restored)."""
    return {name: numerical_gradient(loss_fn, p, eps) for name, p in params.items()}


def truncated_loss_fn(model, inputs, targets, truncation: int | None, *, h0=None,
                      reduction: str = "mean", output: str = "all", loss: str = "cross_entropy"):
    """A scalar function of ``model.params`` whose exact gradient is the window-truncated BPTT
    gradient: the brute-force *definition* of truncation, for checking it numerically.

    Loss at step t is recomputed from the state ``h_{t-k}``, which is frozen at its value under
    the parameters as they are *now* (a stop-gradient), through the k steps t-k+1..t with the
    parameters as they are at call time. Summing over t and differentiating numerically gives
    ``sum_t sum_{s=t-k+1..t} (dL_t/dh_s)(dh_s/dθ)``. With ``truncation=None`` it is the plain loss.
    """
    ids_or_x = np.asarray(inputs)
    targets = np.asarray(targets)
    B, T = ids_or_x.shape[:2]
    state0 = model._state0(h0, B)
    batch = model._batch(ids_or_x, None, model._options(reduction, None, "all", loss))
    fw = model._forward(batch, state0, model._options(reduction, None, "all", loss))
    frozen_states = [tuple(fw.cell[name][s].copy() for name in model.STATE) for s in range(T + 1)]
    scale = 1.0 / B if reduction == "mean" else 1.0
    loss_steps = range(T) if output == "all" else [T - 1]
    k = T if truncation is None else min(truncation, T)

    def fn() -> float:
        total = 0.0
        for t in loss_steps:
            start = t - k + 1
            tg = targets[:, t] if output == "all" else targets
            start_state = frozen_states[max(start, 0)] if start > 0 else state0
            total += model.loss_and_grads(ids_or_x[:, max(start, 0):t + 1], tg, h0=start_state,
                                          output="last", loss=loss, reduction="sum")[0]
        return total * scale

    return fn

