"""A character-level RNN language model at the size people train it: 100 hidden units, 25 steps,
column vectors, the loss summed over time (the well-known "min-char-rnn" layout). Correct.

    x_t = onehot(inputs[t])                      (V, 1)
    h_t = tanh(Wxh x_t + Whh h_{t-1} + bh)       (H, 1), h_{-1} = 0
    p_t = softmax(Why h_t + by)                  (V, 1)
    loss = -sum_t log p_t[targets[t]]

Check it:  python -m bpttviz check examples/rnn_lm.py
"""

import numpy as np

SEQ_AXIS = 0
TEXT = ("It was the best of times, it was the worst of times, it was the age of wisdom, it was the age of "
        "foolishness, it was the epoch of belief, it was the epoch of incredulity, it was the season of Light.")


def loss_and_grads(params, inputs, targets):
    Wxh, Whh, Why, bh, by = (params[k] for k in ("Wxh", "Whh", "Why", "bh", "by"))
    V, H = Wxh.shape[1], Whh.shape[0]
    xs, hs, ps = {}, {-1: np.zeros((H, 1))}, {}
    loss = 0.0
    for t in range(len(inputs)):
        xs[t] = np.zeros((V, 1))
        xs[t][inputs[t]] = 1
        hs[t] = np.tanh(Wxh @ xs[t] + Whh @ hs[t - 1] + bh)
        ys = Why @ hs[t] + by
        e = np.exp(ys - np.max(ys))
        ps[t] = e / np.sum(e)
        loss += -np.log(ps[t][targets[t], 0])
    dWxh, dWhh, dWhy = np.zeros_like(Wxh), np.zeros_like(Whh), np.zeros_like(Why)
    dbh, dby = np.zeros_like(bh), np.zeros_like(by)
    dhnext = np.zeros_like(hs[0])
    for t in reversed(range(len(inputs))):
        dy = ps[t].copy()
        dy[targets[t]] -= 1
        dWhy += dy @ hs[t].T
        dby += dy
        dh = Why.T @ dy + dhnext
        dhraw = (1 - hs[t] * hs[t]) * dh
        dbh += dhraw
        dWxh += dhraw @ xs[t].T
        dWhh += dhraw @ hs[t - 1].T
        dhnext = Whh.T @ dhraw
    return loss, {"Wxh": dWxh, "Whh": dWhh, "Why": dWhy, "bh": dbh, "by": dby}


def example():
    chars = sorted(set(TEXT))
    ix = {c: i for i, c in enumerate(chars)}
    V, H, T = len(chars), 100, 25
    rng = np.random.default_rng(0)
    params = {"Wxh": rng.normal(0, 0.01, (H, V)) * 10, "Whh": rng.normal(0, 0.01, (H, H)) * 10,
              "Why": rng.normal(0, 0.01, (V, H)) * 10, "bh": np.zeros((H, 1)), "by": np.zeros((V, 1))}
    data = [ix[c] for c in TEXT]
    return params, data[:T], data[1:T + 1]
