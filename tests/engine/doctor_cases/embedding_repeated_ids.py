"""A word-level RNN language model with an embedding table. The embedding gradient is scattered
with `dE[inputs] += dx`: NumPy's fancy-index `+=` adds only once for a repeated index, so words
that occur twice in the sequence lose all but one of their contributions."""

import numpy as np

SEQ_AXIS = 0


def loss_and_grads(params, inputs, targets):
    E, Wx, Wh, Wy, b = (params[k] for k in ("E", "Wx", "Wh", "Wy", "b"))
    T, H = len(inputs), Wh.shape[0]
    xs = E[inputs]
    hs, ps = [np.zeros(H)], []
    loss = 0.0
    for t in range(T):
        hs.append(np.tanh(xs[t] @ Wx + hs[-1] @ Wh + b))
        z = hs[-1] @ Wy
        ps.append(np.exp(z - z.max()) / np.exp(z - z.max()).sum())
        loss -= np.log(ps[-1][targets[t]])
    g = {k: np.zeros_like(v) for k, v in params.items()}
    dxs = np.zeros_like(xs)
    dh_next = np.zeros(H)
    for t in reversed(range(T)):
        dy = ps[t].copy()
        dy[targets[t]] -= 1
        g["Wy"] += np.outer(hs[t + 1], dy)
        dz = (dy @ Wy.T + dh_next) * (1 - hs[t + 1] ** 2)
        g["Wx"] += np.outer(xs[t], dz)
        g["Wh"] += np.outer(hs[t], dz)
        g["b"] += dz
        dxs[t] = dz @ Wx.T
        dh_next = dz @ Wh.T
    g["E"][inputs] += dxs                      # BUG: repeated words are added only once
    return loss, g


def example():
    rng = np.random.default_rng(8)
    V, D, H = 40, 5, 6
    words = [3, 17, 5, 3, 22, 9, 17, 3, 30, 11]   # 3 three times, 17 twice
    params = {"E": rng.normal(0, 0.5, (V, D)), "Wx": rng.normal(0, 0.5, (D, H)),
              "Wh": rng.normal(0, 0.4, (H, H)), "Wy": rng.normal(0, 0.5, (H, V)), "b": np.zeros(H)}
    return params, words[:-1], words[1:]
