"""A character RNN whose forward pass forgets the output bias (`ys = Why @ hs[t]`), while the
backward pass still returns a gradient for it."""

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
        ys = Why @ hs[t]                        # BUG: + by forgotten
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
        dWhh += dhraw @ hs[t - 1].T
        dhnext = Whh.T @ dhraw
    return loss, {"Wxh": dWxh, "Whh": dWhh, "Why": dWhy, "bh": dbh, "by": dby}


def example():
    rng = np.random.default_rng(7)
    V, H = 6, 8
    params = {"Wxh": rng.normal(0, 0.3, (H, V)), "Whh": rng.normal(0, 0.3, (H, H)),
              "Why": rng.normal(0, 0.3, (V, H)), "bh": np.zeros((H, 1)), "by": np.zeros((V, 1))}
    return params, list(rng.integers(0, V, 7)), list(rng.integers(0, V, 7))
