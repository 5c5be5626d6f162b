"""A character RNN (hidden size 24, so the recurrent matrix has 576 entries and is checked on a
sample) whose recurrent weight gradient is written the wrong way round: `hs[t-1] @ dhraw.T`
instead of `dhraw @ hs[t-1].T`."""

import numpy as np

SEQ_AXIS = 0


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
        ps[t] = np.exp(ys - ys.max()) / np.sum(np.exp(ys - ys.max()))
        loss += -np.log(ps[t][targets[t], 0])
    dWxh, dWhh, dWhy = np.zeros_like(Wxh), np.zeros_like(Whh), np.zeros_like(Why)
    dbh, dby = np.zeros_like(bh), np.zeros_like(by)
    dhnext = np.zeros((H, 1))
    for t in reversed(range(len(inputs))):
        dy = ps[t].copy()
        dy[targets[t]] -= 1
        dWhy += dy @ hs[t].T
        dby += dy
        dh = Why.T @ dy + dhnext
        dhraw = (1 - hs[t] ** 2) * dh
        dbh += dhraw
        dWxh += dhraw @ xs[t].T
        dWhh += hs[t - 1] @ dhraw.T             # BUG: transposed
        dhnext = Whh.T @ dhraw
    return loss, {"Wxh": dWxh, "Whh": dWhh, "Why": dWhy, "bh": dbh, "by": dby}


def example():
    rng = np.random.default_rng(9)
    V, H = 10, 24
    params = {"Wxh": rng.normal(0, 0.3, (H, V)), "Whh": rng.normal(0, 0.3, (H, H)),
              "Why": rng.normal(0, 0.3, (V, H)), "bh": rng.normal(0, 0.1, (H, 1)),
              "by": rng.normal(0, 0.1, (V, 1))}
    return params, list(rng.integers(0, V, 8)), list(rng.integers(0, V, 8))
