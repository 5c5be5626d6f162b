"""A tutorial-style RNN language model (parameters U, V, W; no biases; 100 hidden units, a
vocabulary of 100, 40 steps) whose backward pass only goes back `bptt_truncate` steps from each
output: fine for training, but it is not the gradient of the loss it returns."""

import numpy as np

SEQ_AXIS = 0
bptt_truncate = 4


def loss_and_grads(params, x, y):
    U, V, W = params["U"], params["V"], params["W"]
    T, H = len(x), W.shape[0]
    s = np.zeros((T + 1, H))
    o = np.zeros((T, V.shape[0]))
    for t in range(T):
        s[t] = np.tanh(U[:, x[t]] + W.dot(s[t - 1]))
        z = V.dot(s[t])
        o[t] = np.exp(z - z.max()) / np.sum(np.exp(z - z.max()))
    loss = -np.sum(np.log(o[np.arange(T), y]))
    dLdU, dLdV, dLdW = np.zeros(U.shape), np.zeros(V.shape), np.zeros(W.shape)
    delta_o = o.copy()
    delta_o[np.arange(T), y] -= 1.0
    for t in np.arange(T)[::-1]:
        dLdV += np.outer(delta_o[t], s[t].T)
        delta_t = V.T.dot(delta_o[t]) * (1 - s[t] ** 2)
        for bptt_step in np.arange(max(0, t - bptt_truncate), t + 1)[::-1]:
            dLdW += np.outer(delta_t, s[bptt_step - 1])
            dLdU[:, x[bptt_step]] += delta_t
            delta_t = W.T.dot(delta_t) * (1 - s[bptt_step - 1] ** 2)
    return loss, {"U": dLdU, "V": dLdV, "W": dLdW}


def example():
    rng = np.random.default_rng(10)
    vocab, H, T = 100, 100, 40
    params = {"U": rng.uniform(-np.sqrt(1 / vocab), np.sqrt(1 / vocab), (H, vocab)),
              "V": rng.uniform(-np.sqrt(1 / H), np.sqrt(1 / H), (vocab, H)),
              "W": rng.uniform(-np.sqrt(1 / H), np.sqrt(1 / H), (H, H))}
    ids = rng.integers(0, vocab, T + 1)
    return params, ids[:-1], ids[1:]
