"""The gated recurrent unit (Cho et al. 2014), in PyTorch's formulation and gate order r, z, n.

    ax_t = x_t W_x + b_x,   ah_t = h_{t-1} W_h + b_h              (B, 3H), sliced [r | z | n]
    r_t = σ(ax_r + ah_r)                   reset gate              (B, H)
    z_t = σ(ax_z + ah_z)                   update gate             (B, H)
    n_t = tanh(ax_n + r_t * ah_n)          candidate state         (B, H)
    h_t = (1 - z_t) * n_t + z_t * h_{t-1}                          (B, H)
    y_t = h_t W_hy + b_y                                           (B, O)

Parameters: ``W_x (D, 3H)``, ``W_h (H, 3H)``, ``b_x (3H,)``, ``b_h (3H,)``, ``W_hy (H, O)``,
``b_y (O,)`` -- PyTorch's ``weight_ih_l0``, ``weight_hh_l0`` transposed, ``bias_ih_l0``,
``bias_hh_l0``. The two biases are *not* redundant here: ``b_hn`` sits inside ``r * (...)``.

Backward through one step, given ``dh_t = dL/dh_t`` (B, H):

    dn_pre = dh_t * (1 - z_t) * (1 - n_t²)                    delta on ax_n + r * ah_n
    dz_pre = dh_t * (h_{t-1} - n_t) * z_t (1 - z_t)
    dr_pre = dn_pre * ah_n * r_t (1 - r_t)
    d(ax) = [dr_pre | dz_pre | dn_pre]                        (B, 3H), also the bias b_x delta
    d(ah) = [dr_pre | dz_pre | dn_pre * r_t]                  (B, 3H), differs from d(ax) in n
    dh_{t-1} = d(ah) W_h^T + dh_t * z_t

Because ``d(ah) != d(ax)``, the shared BPTT loop keeps both (``_separate_dah``); ``W_h`` and
``b_h`` take their gradients from ``d(ah)``, ``W_x`` and ``b_x`` from ``d(ax)``.
"""

from __future__ import annotations

import numpy as np

from ..nn.activations import ACTIVATIONS
from .recurrent import Forward, RecurrentModel, _dot_rows, _total

Array = np.ndarray
_SIGMOID = ACTIVATIONS["sigmoid"]
_TANH = ACTIVATIONS["tanh"]


class GRU(RecurrentModel):
    """GRU with PyTorch's equations (see the module docstring)."""

    kind = "gru"
    W_X, W_H, B_X, B_H = "W_x", "W_h", "b_x", "b_h"
    STATE = ("h",)
    GATES = 3
    PRE = "a"
    GATE_NAMES = ("r", "z", "n")
    _separate_dah = True

    # ------------------------------------------------------------------ forward
    def _sequence(self, AX: Array, state0: tuple[Array, ...]) -> dict[str, Array]:
        """AX ``(T, B, 3H)`` = x W_x + b_x. Returns time-major buffers: ``h`` ``(T+1, B, H)``
        (index 0 = initial state); ``ah`` = h_{t-1} W_h + b_h, ``a`` the gate pre-activations
        ``[ax_r + ah_r | ax_z + ah_z | ax_n + r * ah_n]`` and ``gates`` = ``[r | z | n]``, each
        ``(T, B, 3H)``."""
        T, B, G = AX.shape
        H = G // 3
        W, bh = self.params["W_h"], self.params["b_h"]
        AH = np.empty((T, B, G))
        A = np.empty((T, B, G))
        Gt = np.empty((T, B, G))
        Hs = np.empty((T + 1, B, H))
        Hs[0] = state0[0]
        for t in range(T):
            ah, a, gt, ax = AH[t], A[t], Gt[t], AX[t]
            np.dot(Hs[t], W, out=ah)
            ah += bh
            rz, rz_pre = gt[:, :2 * H], a[:, :2 * H]
            np.add(ax[:, :2 * H], ah[:, :2 * H], out=rz_pre)
            # σ(a) = (1 + tanh(a / 2)) / 2
            np.multiply(rz_pre, 0.5, out=rz)
            np.tanh(rz, out=rz)
            rz += 1.0
            rz *= 0.5
            n, n_pre = gt[:, 2 * H:], a[:, 2 * H:]
            np.multiply(gt[:, :H], ah[:, 2 * H:], out=n_pre)
            n_pre += ax[:, 2 * H:]
            np.tanh(n_pre, out=n)
            h = Hs[t + 1]
            np.subtract(Hs[t], n, out=h)  # h_t = n + z (h_{t-1} - n)
            h *= gt[:, H:2 * H]
            h += n
        return {"h": Hs, "ah": AH, "a": A, "gates": Gt, "back": None}

    # ------------------------------------------------------------------ backward
    def _multipliers(self, fw: Forward) -> tuple[Array, Array, Array, Array]:
        """For all t at once, once per pass, each ``(T, B, H)``:
        ``Kn = (1 - z) tanh'(n)``, ``Kz = (h_{t-1} - n) σ'(z)``, ``Kr = ah_n σ'(r)`` and ``r``."""
        cell = fw.cell
        if cell["back"] is None:
            H = self.hidden_size
            a, gates, ah, Hs = cell["a"], cell["gates"], cell["ah"], cell["h"]
            deriv = self._deriv  # the bug lab may evaluate it at the wrong variable
            r, z, n = (gates[..., k * H:(k + 1) * H] for k in range(3))
            Kn = (1.0 - z) * deriv(_TANH, a[..., 2 * H:], n)
            Kz = (Hs[:-1] - n) * deriv(_SIGMOID, a[..., H:2 * H], z)
            Kr = ah[..., 2 * H:] * deriv(_SIGMOID, a[..., :H], r)
            cell["back"] = (Kn, Kz, Kr, np.ascontiguousarray(r), np.ascontiguousarray(z))
        return cell["back"]

    def _backward_context(self, fw: Forward):
        return self._multipliers(fw) + (self.params["W_h"].T,)

    def _backstep(self, ctx, D, t, dax, dah, prev):
        """D = (dh,) ``(..., B, H)``: d(ax) into dax, d(ah) into dah, ``dh_{t-1}`` into prev."""
        Kn, Kz, Kr, r, z, WT = ctx
        dh = D[0]
        H = dh.shape[-1]
        dn = dax[..., 2 * H:]
        np.multiply(dh, Kn[t], out=dn)
        np.multiply(dn, Kr[t], out=dax[..., :H])
        np.multiply(dh, Kz[t], out=dax[..., H:2 * H])
        dah[..., :2 * H] = dax[..., :2 * H]
        np.multiply(dn, r[t], out=dah[..., 2 * H:])
        if prev is not None:
            dprev = np.dot(dah, WT, out=prev[0]) if dah.ndim == 2 else _dot_rows(dah, WT, prev[0])
            dprev += dh * z[t]

    # ------------------------------------------------------------------ step records
    def _forward_extras(self, fw: Forward, t: int) -> dict[str, Array]:
        """Gate activations ``r, z, n`` and ``hn`` = h_{t-1} W_hn + b_hn (what r scales), (B, H)."""
        H = self.hidden_size
        gates = fw.cell["gates"][t]
        out = {name: gates[:, k * H:(k + 1) * H] for k, name in enumerate(self.GATE_NAMES)}
        out["hn"] = fw.cell["ah"][t, :, 2 * H:]
        return out

    def _backward_extras(self, fw: Forward, t: int, D, dax: Array, dah: Array) -> dict[str, Array]:
        """``dr, dz, dn`` = deltas on the gate *pre-activations* (the slices of ``dpre``), and
        ``dh_carry`` = dh_t * z_t, the part of dh_{t-1} that skips the weights, each (B, H)."""
        H = self.hidden_size
        out = {"d" + name: dax[:, k * H:(k + 1) * H] for k, name in enumerate(self.GATE_NAMES)}
        z = self._multipliers(fw)[4][t]
        out["dh_carry"] = _total(D[0] * z)
        return out
