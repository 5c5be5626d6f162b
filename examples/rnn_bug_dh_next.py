"""A vanilla RNN written by hand in NumPy, the way a learner writes one after a course: column
vectors, one sequence of character ids, the loss summed over time. Its backward pass has the
classic bug behind "my gradient check fails only for the recurrent weights": the gradient
arriving from the future, dhnext, is computed at every step but never added to dh, so each step
only sees its own output. One step is still right;
from two steps on, the gradients are wrong.

    x_t = onehot(inputs[t])                      (V, 1)
    h_t = tanh(Wxh x_t + Whh h_{t-1} + bh)       (H, 1), h_{-1} = 0
    p_t = softmax(Why h_t + by)                  (V, 1)
    loss = -sum_t log p_t[targets[t]]

Check it:  python -m bpttviz check examples/rnn_bug_dh_next.py
"""

import numpy as np

SEQ_AXIS = 0  # inputs and targets are lists of character ids: time is their only axis


def loss_and_grads(params, inputs, targets):
    Wxh, Whh, Why = params["Wxh"], params["Whh"], params["Why"]
    bh, by = params["bh"], params["by"]
    V, H = Wxh.shape[1], Whh.shape[0]

    # forward pass
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

    # backward pass through time
    dWxh, dWhh, dWhy = np.zeros_like(Wxh), np.zeros_like(Whh), np.zeros_like(Why)
    dbh, dby = np.zeros_like(bh), np.zeros_like(by)
    dhnext = np.zeros_like(hs[0])
    for t in reversed(range(len(inputs))):
        dy = ps[t].copy()
        dy[targets[t]] -= 1  # softmax + cross-entropy: p - onehot(target)
        dWhy += dy @ hs[t].T
        dby += dy
        dh = Why.T @ dy  # BUG: the future's contribution dhnext is never added
        dhraw = (1 - hs[t] * hs[t]) * dh  # back through tanh: 1 - h^2
        dbh += dhraw
        dWxh += dhraw @ xs[t].T
        dWhh += dhraw @ hs[t - 1].T
        dhnext = Whh.T @ dhraw  # noqa: F841 (computed, then never used: the bug)
    return loss, {"Wxh": dWxh, "Whh": dWhh, "Why": dWhy, "bh": dbh, "by": dby}


def example():
    text = "hello world"
    chars = sorted(set(text))
    ix = {c: i for i, c in enumerate(chars)}
    V, H = len(chars), 12
    rng = np.random.default_rng(0)
    params = {
        "Wxh": rng.normal(0, 0.3, (H, V)),
        "Whh": rng.normal(0, 0.3, (H, H)),
        "Why": rng.normal(0, 0.3, (V, H)),
        "bh": np.zeros((H, 1)),
        "by": np.zeros((V, 1)),
    }
    inputs = [ix[c] for c in text[:-1]]
    targets = [ix[c] for c in text[1:]]
    return params, inputs, targets
