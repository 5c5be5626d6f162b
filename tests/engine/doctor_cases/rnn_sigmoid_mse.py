"""An RNN that predicts a value in [0, 1] at every step: sigmoid output, squared error. The output
delta forgets the sigmoid's derivative y(1 - y)."""

import numpy as np

SEQ_AXIS = 0


def sigmoid(z):
    return 1 / (1 + np.exp(-z))


def loss_and_grads(params, inputs, targets):
    Wx, Wh, Wy, b, c = params["Wx"], params["Wh"], params["Wy"], params["b"], params["c"]
    T, H = len(inputs), Wh.shape[0]
    hs, ys = [np.zeros(H)], []
    loss = 0.0
    for t in range(T):
        hs.append(np.tanh(inputs[t] @ Wx + hs[-1] @ Wh + b))
        ys.append(sigmoid(hs[-1] @ Wy + c))
        loss += 0.5 * np.sum((ys[-1] - targets[t]) ** 2)
    g = {k: np.zeros_like(v) for k, v in params.items()}
    dh_next = np.zeros(H)
    for t in reversed(range(T)):
        dz_out = ys[t] - targets[t]            # BUG: times ys[t] * (1 - ys[t]) is missing
        g["Wy"] += np.outer(hs[t + 1], dz_out)
        g["c"] += dz_out
        dh = dz_out @ Wy.T + dh_next
        dz = dh * (1 - hs[t + 1] ** 2)
        g["Wx"] += np.outer(inputs[t], dz)
        g["Wh"] += np.outer(hs[t], dz)
        g["b"] += dz
        dh_next = dz @ Wh.T
    return loss, g


def example():
    rng = np.random.default_rng(5)
    D, H, O, T = 3, 6, 2, 5
    params = {"Wx": rng.normal(0, 0.5, (D, H)), "Wh": rng.normal(0, 0.4, (H, H)),
              "Wy": rng.normal(0, 0.5, (H, O)), "b": np.zeros(H), "c": np.zeros(O)}
    return params, rng.normal(size=(T, D)), rng.uniform(size=(T, O))
