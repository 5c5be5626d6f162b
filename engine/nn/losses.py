"""Losses with their output deltas, fused and numerically stable.

Shapes: the last axis is the class/output axis; any leading axes are positions (batch, time).

- Softmax cross-entropy: ``p = softmax(y)`` over the *class* axis, ``loss = -log p[target]``,
  delta ``dL/dy = p - onehot(target)`` (Bridle 1990; the softmax Jacobian and the log cancel,
  so the element-wise ``p (1 - p)`` that learners often expect here is never needed).
- Squared error: ``loss = 0.5 * ||y - target||²`` summed over the output axis, delta ``y - target``.
  The ½ makes the delta the residual, the regression twin of ``p - y``.

Reduction is applied by the caller: ``"sum"`` sums over batch and time, ``"mean"`` divides that
sum by the batch size B (not by B*T).
"""

from __future__ import annotations

import numpy as np

Array = np.ndarray

LOSSES = ("cross_entropy", "mse")
REDUCTIONS = ("mean", "sum")


def log_softmax(logits: Array, axis: int = -1) -> Array:
    """``log softmax`` along ``axis`` (default: the class axis), stable via the max shift."""
    shifted = logits - logits.max(axis=axis, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=axis, keepdims=True))


def softmax(logits: Array, axis: int = -1) -> Array:
    """Softmax along ``axis`` (default: the class axis, which is the only right choice)."""
    shifted = logits - logits.max(axis=axis, keepdims=True)
    e = np.exp(shifted)
    e /= e.sum(axis=axis, keepdims=True)
    return e


def cross_entropy(
    logits: Array, targets: Array, *, softmax_axis: int = -1, elementwise_derivative: bool = False
) -> tuple[Array, Array, Array]:
    """Softmax cross-entropy.

    logits ``(..., O)``, integer targets ``(...)`` -> ``(losses (...), delta (..., O), probs (..., O))``.
    ``softmax_axis`` and ``elementwise_derivative`` exist only for the bug lab: normalising over a
    non-class axis, or using ``dL/dp * p (1 - p)`` in place of ``p - y``.

    Fused over every position at once: one shift, one ``exp``, one sum; ``p`` is exactly
    ``softmax(logits)``, ``log p = shifted - log(sum)``; the target entries are picked by flat
    index (the positions' rows of the C-contiguous arrays).
    """
    shifted = logits - logits.max(axis=softmax_axis, keepdims=True)
    probs = np.exp(shifted)
    sums = probs.sum(axis=softmax_axis, keepdims=True)
    probs /= sums
    O = logits.shape[-1]
    pick = np.arange(0, targets.size * O, O)
    pick += targets.reshape(-1)  # flat index of each position's target entry
    flat_shift = shifted.reshape(-1)
    if softmax_axis in (-1, logits.ndim - 1):
        log_sums = np.log(sums.reshape(-1))
    else:  # bug lab: the normaliser differs along the class axis; take each target's own
        log_sums = np.log(np.broadcast_to(sums, logits.shape).reshape(-1)[pick])
    losses = (log_sums - flat_shift[pick]).reshape(targets.shape)
    if elementwise_derivative:
        # dL/dp = -1/p at the target; times p(1-p): -(1-p) at the target, 0 elsewhere.
        delta = np.zeros_like(probs)
        delta.reshape(-1)[pick] = probs.reshape(-1)[pick] - 1.0
    else:
        delta = probs.copy()
        delta.reshape(-1)[pick] -= 1.0
    return losses, delta, probs


def squared_error(outputs: Array, targets: Array) -> tuple[Array, Array]:
    """``0.5 * ||y - t||²`` per position: ``(..., O)`` -> ``(losses (...), delta (..., O))``."""
    diff = outputs - targets
    return 0.5 * np.einsum("...o,...o->...", diff, diff), diff
