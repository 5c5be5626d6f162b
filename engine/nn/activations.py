"""Element-wise activation functions and their derivatives.

Each activation knows its derivative in terms of *both* the pre-activation ``z`` and the
activation ``a = f(z)``; the correct derivative uses whichever is natural (tanh and sigmoid from
``a``, relu from ``z``). Keeping both arguments lets the bug lab evaluate the derivative at the
wrong variable (``1 - z²`` in place of ``1 - h²`` for tanh), a classic slip in hand-written
backward passes.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

Array = np.ndarray


def _sigmoid(z: Array, out: Array | None = None) -> Array:
    # Numerically stable logistic: tanh form never overflows.
    out = np.multiply(z, 0.5, out=out)
    np.tanh(out, out=out)
    out += 1.0
    out *= 0.5
    return out


def _relu(z: Array, out: Array | None = None) -> Array:
    return np.maximum(z, 0.0, out=out)


def _linear(z: Array, out: Array | None = None) -> Array:
    if out is None:
        return z.copy()
    out[...] = z
    return out


def _tanh_deriv(z: Array, a: Array) -> Array:
    return 1.0 - a * a


def _sigmoid_deriv(z: Array, a: Array) -> Array:
    return a * (1.0 - a)


def _relu_deriv(z: Array, a: Array) -> Array:
    return (z > 0).astype(z.dtype)


def _linear_deriv(z: Array, a: Array) -> Array:
    return np.ones_like(z)


@dataclass(frozen=True)
class Activation:
    """An element-wise nonlinearity.

    ``fn(z, out=None)`` computes ``a = f(z)``; ``deriv(z, a)`` returns ``f'(z)`` with the same shape.
    ``gamma`` is an upper bound of ``|f'|`` (Pascanu et al. 2013 use it to bound Jacobian norms).
    ``equation`` is how the app prints it.
    """

    name: str
    fn: Callable[..., Array]
    deriv: Callable[[Array, Array], Array]
    gamma: float
    equation: str
    deriv_equation: str


ACTIVATIONS: dict[str, Activation] = {
    "tanh": Activation("tanh", np.tanh, _tanh_deriv, 1.0, "tanh(z)", "1 - h²"),
    "sigmoid": Activation(
        "sigmoid", _sigmoid, _sigmoid_deriv, 0.25, "σ(z)", "h (1 - h)"
    ),
    "relu": Activation(
        "relu", _relu, _relu_deriv, 1.0, "max(z, 0)", "[z > 0]"
    ),
    "linear": Activation(
        "linear", _linear, _linear_deriv, 1.0, "z", "1"
    ),
}


def get_activation(name: str, argument: str = "activation") -> Activation:
    """Look up an activation by name; a clear ``ValueError`` for an unknown one."""
    if not isinstance(name, str) or name not in ACTIVATIONS:
        raise ValueError(
            f"{argument}: unknown activation {name!r}; allowed: {', '.join(ACTIVATIONS)}"
        )
    return ACTIVATIONS[name]
