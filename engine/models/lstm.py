"""The long short-term memory cell (Hochreiter & Schmidhuber 1997, with the forget gate of
Gers, Schmidhuber & Cummins 2000), in PyTorch's formulation and gate order i, f, g, o.

    a_t = x_t W_x + h_{t-1} W_h + b                       (B, 4H), sliced [a_i | a_f | a_g | a_o]
    i_t = σ(a_i)   f_t = σ(a_f)   g_t = tanh(a_g)   o_t = σ(a_o)         each (B, H)
    c_t = f_t * c_{t-1} + i_t * g_t                                      (B, H)
    h_t = o_t * tanh(c_t)                                                (B, H)
    y_t = h_t W_hy + b_y                                                 (B, O)

Parameters: ``W_x (D, 4H)``, ``W_h (H, 4H)``, ``b (4H,)``, ``W_hy (H, O)``, ``b_y (O,)``.
``W_x`` is PyTorch's ``weight_ih_l0`` transposed, ``W_h`` is ``weight_hh_l0`` transposed. PyTorch
keeps two biases, ``b_ih`` and ``b_hh``, which only ever appear as their sum; we keep that sum as
the single ``b`` (its gradient equals the gradient of either of PyTorch's biases).

Backward through one step, given ``dh_t = dL/dh_t`` and the cell delta from the future
``dc_future = dL/dc_{t+1} * f_{t+1}`` (all (B, H)):

    dc_t  = dc_future + dh_t * o_t * (1 - tanh²(c_t))      the total cell-state delta dL/dc_t
    da_i  = dc_t * g_t     * i_t (1 - i_t)
    da_f  = dc_t * c_{t-1} * f_t (1 - f_t)
    da_g  = dc_t * i_t     * (1 - g_t²)
    da_o  = dh_t * tanh(c_t) * o_t (1 - o_t)
    dh_{t-1} = da_t W_h^T,     dL/dc_{t-1} (from the future) = dc_t * f_t

The additive path ``dc_{t-1} = dc_t * f_t`` is the "constant error carousel": with f near 1 the
cell delta is carried back almost unchanged, which is why the LSTM keeps gradient over long spans.
"""

from __future__ import annotations

import numpy as np

from ..checks import finite_float
from ..nn.activations import ACTIVATIONS
from .recurrent import Forward, RecurrentModel, _dot_rows, _total

Array = np.ndarray
_SIGMOID = ACTIVATIONS["sigmoid"]
_TANH = ACTIVATIONS["tanh"]


class LSTM(RecurrentModel):
    """LSTM with PyTorch's equations (see the module docstring).

    ``forget_bias`` initialises the forget slice ``b[H:2H]`` (Jozefowicz et al. 2015 recommend
    +1, so that f starts near σ(1) ≈ 0.73 and gradient flows back from the start); the rest of
    ``b`` starts at zero. Initial state ``h0`` is a tuple ``(h0, c0)``, each ``(B, H)``.
    """

    kind = "lstm"
    W_X, W_H, B_X, B_H = "W_x", "W_h", "b", None
    STATE = ("h", "c")
    GATES = 4
    PRE = "a"
    GATE_NAMES = ("i", "f", "g", "o")

    def __init__(self, input_size: int, hidden_size: int, output_size: int, *, seed: int = 0,
                 init: str = "xavier", init_scale: float = 1.0, forget_bias: float = 0.0,
                 recurrent_init: str | None = None, recurrent_scale: float | None = None) -> None:
        self.forget_bias = finite_float(forget_bias, "forget_bias")
        super().__init__(input_size, hidden_size, output_size, seed=seed, init=init,
                         init_scale=init_scale, recurrent_init=recurrent_init,
                         recurrent_scale=recurrent_scale)
        H = self.hidden_size
        self.params["b"][H:2 * H] = self.forget_bias
        # σ(a) = (1 + tanh(a / 2)) / 2, so one tanh over all 4H pre-activations computes every
        # gate: scale the sigmoid slices by 1/2 before and after, and shift them by 1/2.
        self._half = np.full(4 * H, 0.5)
        self._half[2 * H:3 * H] = 1.0
        self._shift = 1.0 - self._half

    def describe(self) -> dict:
        return {**super().describe(), "forget_bias": self.forget_bias}

    # ------------------------------------------------------------------ forward
    def _sequence(self, AX: Array, state0: tuple[Array, ...]) -> dict[str, Array]:
        """AX ``(T, B, 4H)`` = x W_x + b. Returns time-major buffers: ``h``, ``c`` ``(T+1, B, H)``
        (index 0 = initial state), ``a`` the gate pre-activations and ``gates`` the activations
        ``[i | f | g | o]`` ``(T, B, 4H)``, ``tc`` = tanh(c_t) ``(T, B, H)``."""
        T, B, G = AX.shape
        H = G // 4
        W = self.params["W_h"]
        half, shift = self._half, self._shift
        A = np.empty((T, B, G))
        Gt = np.empty((T, B, G))
        Hs = np.empty((T + 1, B, H))
        Cs = np.empty((T + 1, B, H))
        TC = np.empty((T, B, H))
        ig = np.empty((B, H))
        Hs[0], Cs[0] = state0
        for t in range(T):
            a, gt = A[t], Gt[t]
            np.dot(Hs[t], W, out=a)
            a += AX[t]
            np.multiply(a, half, out=gt)
            np.tanh(gt, out=gt)
            gt *= half
            gt += shift
            c = Cs[t + 1]
            np.multiply(gt[:, H:2 * H], Cs[t], out=c)
            np.multiply(gt[:, :H], gt[:, 2 * H:3 * H], out=ig)
            c += ig
            np.tanh(c, out=TC[t])
            np.multiply(gt[:, 3 * H:], TC[t], out=Hs[t + 1])
        # dcs[t]: the total cell delta of the backward pass at t, kept for step t's record
        return {"h": Hs, "c": Cs, "a": A, "gates": Gt, "tc": TC, "back": None, "dcs": [None] * T}

    # ------------------------------------------------------------------ backward
    def _multipliers(self, fw: Forward) -> tuple[Array, Array]:
        """Everything the backward step multiplies by, for all t at once (computed once per pass):
        ``M (T, B, 4H) = [g σ'(a_i) | c_{t-1} σ'(a_f) | i tanh'(a_g) | tanh(c) σ'(a_o)]`` and
        ``K (T, B, H) = o tanh'(c)``, so that ``da = [dc, dc, dc, dh] * M`` and
        ``dc = dc_future + dh * K``."""
        cell = fw.cell
        if cell["back"] is None:
            H = self.hidden_size
            a, gates, tc, c = cell["a"], cell["gates"], cell["tc"], cell["c"]
            deriv = self._deriv  # the bug lab may evaluate it at the wrong variable
            i, f, g, o = (gates[..., k * H:(k + 1) * H] for k in range(4))
            M = np.empty_like(gates)
            M[..., :H] = g * deriv(_SIGMOID, a[..., :H], i)
            M[..., H:2 * H] = c[:-1] * deriv(_SIGMOID, a[..., H:2 * H], f)
            M[..., 2 * H:3 * H] = i * deriv(_TANH, a[..., 2 * H:3 * H], g)
            M[..., 3 * H:] = tc * deriv(_SIGMOID, a[..., 3 * H:], o)
            K = o * deriv(_TANH, c[1:], tc)
            cell["back"] = (M, K)
        return cell["back"]

    def _cell_delta(self, fw: Forward, t: int, D: tuple[Array, ...]) -> Array:
        """``dc_t = dc_future + dh_t * o_t tanh'(c_t)``: the total delta on ``c_t``, ``(S, B, H)``."""
        K = self._multipliers(fw)[1][t]
        dc = D[0] * K
        dc += D[1]
        return dc

    def _backward_context(self, fw: Forward):
        M, K = self._multipliers(fw)
        H = self.hidden_size
        T, B = M.shape[:2]
        # the i, f, g slices of M seen as (T, B, 3, H): one product with dc broadcast over them
        return (M[..., :3 * H].reshape(T, B, 3, H), M[..., 3 * H:], K, fw.cell["gates"][..., H:2 * H],
                fw.cell["dcs"], self.params["W_h"].T)

    def _backstep(self, ctx, D, t, dax, dah, prev):
        """D = (dh, dc_future), each ``(..., B, H)``: ``dc = dc_future + dh * K``,
        ``da = [dc, dc, dc, dh] * M`` into dax, ``(da W_h^T, dc * f)`` into prev."""
        M3, Mo, K, F, dcs, WT = ctx
        dh = D[0]
        H = dh.shape[-1]
        dc = dh * K[t]
        dc += D[1]
        np.multiply(dc[..., None, :], M3[t], out=dax[..., :3 * H].reshape(dh.shape[:-1] + (3, H)))
        np.multiply(dh, Mo[t], out=dax[..., 3 * H:])
        dcs[t] = dc  # kept for step t's record, so narrating need not recompute it
        if prev is not None:
            np.dot(dax, WT, out=prev[0]) if dax.ndim == 2 else _dot_rows(dax, WT, prev[0])
            np.multiply(dc, F[t], out=prev[1])

    # ------------------------------------------------------------------ step records
    def _forward_extras(self, fw: Forward, t: int) -> dict[str, Array]:
        """Gate activations ``i, f, g, o`` and the cell state ``c`` (tanh(c) as ``tanh_c``), (B, H)."""
        H = self.hidden_size
        gates = fw.cell["gates"][t]
        out = {name: gates[:, k * H:(k + 1) * H] for k, name in enumerate(self.GATE_NAMES)}
        out["c"] = fw.cell["c"][t + 1]
        out["tanh_c"] = fw.cell["tc"][t]
        return out

    def _backward_extras(self, fw: Forward, t: int, D, dax: Array, dah: Array) -> dict[str, Array]:
        """``dc`` = dL/dc_t (total cell-state delta), ``dc_future`` = the part arriving through
        c_{t+1}; ``di, df, dg, do`` = deltas on the gate *pre-activations* a_i, a_f, a_g, a_o
        (the slices of ``dpre``), each (B, H)."""
        H = self.hidden_size
        out = {"d" + name: dax[:, k * H:(k + 1) * H] for k, name in enumerate(self.GATE_NAMES)}
        dc = fw.cell["dcs"][t]  # filled by the backward step at t, before step t's record exists
        out["dc"] = _total(dc)
        out["dc_future"] = _total(D[1])
        return out
