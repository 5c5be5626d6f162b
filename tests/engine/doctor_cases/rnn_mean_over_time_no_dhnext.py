"""Two bugs at once in a one-hot character RNN (inputs are one-hot rows, vocabulary 5): the loss
is averaged over time but the gradients are summed, and the gradient from the future, dh_next,
is never added."""

import numpy as np

SEQ_AXIS = 0


def softmax(z):
    e = np.exp(z - z.max())
    return e / e.sum()


def loss_and_grads(params, inputs, targets):
    Wx, Wh, Wy, bh, by = params["Wx"], params["Wh"], params["Wy"], params["bh"], params["by"]
    T, H = len(inputs), Wh.shape[0]
    hs, ps = [np.zeros(H)], []
    loss = 0.0
    for t in range(T):
        hs.append(np.tanh(inputs[t] @ Wx + hs[-1] @ Wh + bh))
        ps.append(softmax(hs[-1] @ Wy + by))
        loss -= np.log(ps[-1] @ targets[t])
    loss /= T                                  # BUG 1: a mean over time ...
    g = {k: np.zeros_like(v) for k, v in params.items()}
    dh_next = np.zeros(H)
    for t in reversed(range(T)):
        dy = ps[t] - targets[t]                # ... but no 1/T here
        g["Wy"] += np.outer(hs[t + 1], dy)
        g["by"] += dy
        dh = dy @ Wy.T                         # BUG 2: + dh_next is missing
        dz = dh * (1 - hs[t + 1] ** 2)
        g["Wx"] += np.outer(inputs[t], dz)
        g["Wh"] += np.outer(hs[t], dz)
        g["bh"] += dz
        dh_next = dz @ Wh.T  # noqa: F841
    return loss, g


def example():
    rng = np.random.default_rng(4)
    V, H, T = 5, 7, 6
    ids = rng.integers(0, V, T + 1)
    onehot = np.eye(V)[ids]
    params = {"Wx": rng.normal(0, 0.5, (V, H)), "Wh": rng.normal(0, 0.4, (H, H)),
              "Wy": rng.normal(0, 0.5, (H, V)), "bh": np.zeros(H), "by": np.zeros(V)}
    return params, onehot[:-1], onehot[1:]
