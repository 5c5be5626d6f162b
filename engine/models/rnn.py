"""The vanilla (Elman) recurrent network.

    z_t = x_t W_xh + h_{t-1} W_hh + b_h        (B, H)
    h_t = f(z_t)                               (B, H)
    y_t = h_t W_hy + b_y                       (B, O)

Parameters: ``W_xh (D, H)``, ``W_hh (H, H)``, ``b_h (H,)``, ``W_hy (H, O)``, ``b_y (O,)``.
Backward through one step: ``dz_t = dh_t * f'(z_t)`` and ``dh_{t-1} = dz_t W_hh^T``.
"""

from __future__ import annotations

import numpy as np

from ..nn.activations import get_activation
from .recurrent import Forward, RecurrentModel, _dot_rows


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
        h = Hs[0]
        # zip over the buffers hands out row views from C; np.dot with out= is the cheapest
        # (B, H) x (H, H) product NumPy offers
        for z, ax, h_next in zip(Z, AX, Hs[1:]):
            np.dot(h, W, out=z)
            z += ax
            f(z, out=h_next)
            h = h_next
        return {"h": Hs, "z": Z, "dfdz": None}

    def _derivative(self, fw: Forward) -> np.ndarray:
        """``f'(z_t)`` for all t at once, ``(T, B, H)``, computed once per backward pass."""
        cell = fw.cell
        if cell["dfdz"] is None:
            cell["dfdz"] = self._deriv(self.activation, cell["z"], cell["h"][1:])
        return cell["dfdz"]

    def _backward_context(self, fw):
        return self._derivative(fw), self.params["W_hh"].T

    def _backstep(self, ctx, D, t, dax, dah, prev):
        """``dz_t = dh_t * f'(z_t)`` into dax; ``dh_{t-1} = dz_t W_hh^T`` into prev."""
        dfdz, WT = ctx
        np.multiply(D[0], dfdz[t], out=dax)
        if prev is not None:
            np.dot(dax, WT, out=prev[0]) if dax.ndim == 2 else _dot_rows(dax, WT, prev[0])
