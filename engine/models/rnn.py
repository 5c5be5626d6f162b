"""The vanilla (Elman) recurrent network.

    z_t = x_t W_xh + h_{t-1} W_hh + b_h        (B, H)
    h_t = f(z_t)                               (B, H)
    y_t = h_t W_hy + b_y                       (B, O)

Parameters: ``W_xh (D, H)``, ``W_hh (H, H)``, ``b_h (H,)``, ``W_hy (H, O)``, ``b_y (O,)``.
Backward through one step: ``dz_t = dh_t * f'(z_t)`` and ``dh_{t-1} = dz_t W_hh^T``.
"""

from __future__ import annotations

import numpy as np

from ..activations import get_activation
from .recurrent import Forward, RecurrentModel


class RNN(RecurrentModel):
    """Vanilla RNN; ``activation`` is one of tanh, sigmoid, relu, linear."""

    kind = "rnn"

    def __init__(self, input_size: int, hidden_size: int, output_size: int,
                 activation: str = "tanh", *, seed: int = 0, init: str = "xavier",
                 init_scale: float = 1.0, recurrent_init: str | None = None,
                 recurrent_scale: float | None = None) -> None:
        self.activation = get_activation(activation)
        super().__init__(input_size, hidden_size, output_size, seed=seed, init=init,
                         init_scale=init_scale, recurrent_init=recurrent_init,
                         recurrent_scale=recurrent_scale)

    def describe(self) -> dict:
        return {**super().describe(), "activation": self.activation.name}

    def _sequence(self, AX, state0):
        T, B, H = AX.shape
        f = self.activation.fn
        W = self.params["W_hh"]
        Z = np.empty((T, B, H))
        Hs = np.empty((T + 1, B, H))
        Hs[0] = state0[0]
        for t in range(T):
            z = Z[t]
            np.dot(Hs[t], W, out=z)
            z += AX[t]
            f(z, out=Hs[t + 1])
        return {"h": Hs, "z": Z, "dfdz": None}

    def _derivative(self, fw: Forward) -> np.ndarray:
        """``f'(z_t)`` for all t at once, ``(T, B, H)``, computed once per backward pass."""
        cell = fw.cell
        if cell["dfdz"] is None:
            cell["dfdz"] = self._deriv(self.activation, cell["z"], cell["h"][1:])
        return cell["dfdz"]

    def _step_backward(self, D, t, fw):
        dz = D[0] * self._derivative(fw)[t]
        S, B, H = dz.shape  # one (S*B, H) product: a stack of S deltas is one BLAS call, not S
        return dz, dz, ((dz.reshape(S * B, H) @ self.params["W_hh"].T).reshape(S, B, H),)
