"""Task metrics: classification accuracy and mean squared error, as plain floats."""

from __future__ import annotations

import numpy as np


def accuracy(outputs: np.ndarray, targets: np.ndarray, mask: np.ndarray | None = None) -> float:
    """Fraction of correct predictions.

    ``targets``: integer class ids of any shape ``S`` (e.g. ``(B,)`` or ``(B, T)``).
    ``outputs``: either scores ``S + (C,)`` with ``C >= 2`` (logits or probabilities; the
    prediction is the argmax over the last axis) or integer labels of shape ``S``.
    ``mask``: optional bool array of shape ``S``; only positions where it is True count.
    """
    targets = np.asarray(targets)
    outputs = np.asarray(outputs)
    if targets.dtype.kind not in "iu":
        raise ValueError(f"targets must be integer class ids, got dtype {targets.dtype}")
    if outputs.shape == targets.shape:
        if outputs.dtype.kind not in "iu":
            raise ValueError(
                f"outputs has the targets' shape {targets.shape} but dtype {outputs.dtype}; "
                "pass integer labels, or scores with a trailing class axis of size >= 2"
            )
        pred = outputs
    elif outputs.shape[:-1] == targets.shape and outputs.ndim >= 1 and outputs.shape[-1] >= 2:
        pred = outputs.argmax(axis=-1)
    else:
        raise ValueError(
            f"outputs shape {outputs.shape} does not fit targets shape {targets.shape}: "
            f"expected {targets.shape} integer labels or {targets.shape + ('C',)} scores with "
            "C >= 2 classes"
        )
    correct = pred == targets
    if mask is None:
        if correct.size == 0:
            raise ValueError("targets is empty; accuracy is undefined")
        return float(correct.mean())
    mask = np.asarray(mask)
    if mask.shape != targets.shape or mask.dtype != bool:
        raise ValueError(
            f"mask must be a bool array of the targets' shape {targets.shape}, got shape "
            f"{mask.shape} dtype {mask.dtype}"
        )
    if not mask.any():
        raise ValueError("mask selects no positions; accuracy is undefined")
    return float(correct[mask].mean())


def mse(outputs: np.ndarray, targets: np.ndarray) -> float:
    """Mean over all elements of ``(outputs - targets) ** 2``; both arrays have the same shape."""
    outputs = np.asarray(outputs, dtype=np.float64)
    targets = np.asarray(targets, dtype=np.float64)
    if outputs.shape != targets.shape:
        raise ValueError(f"outputs shape {outputs.shape} must equal targets shape {targets.shape}")
    if targets.size == 0:
        raise ValueError("targets is empty; mse is undefined")
    return float(np.mean((outputs - targets) ** 2))
