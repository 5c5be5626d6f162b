"""A correct character RNN that keeps its parameters and states in float32 to save memory, the
way many tutorials do. Its gradients are right; only the arithmetic is single precision."""

import numpy as np

SEQ_AXIS = 0


def loss_and_grads(params, inputs, targets):
    Wxh, Whh, Why = (params[k].astype(np.float32) for k in ("Wxh", "Whh", "Why"))
    bh, by = params["bh"].astype(np.float32), params["by"].astype(np.float32)
    V, H = Wxh.shape[1], Whh.shape[0]
    xs, hs, ps = {}, {-1: np.zeros((H, 1), dtype=np.float32)}, {}
    loss = np.float32(0)
    for t in range(len(inputs)):
        xs[t] = np.zeros((V, 1), dtype=np.float32)
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
    text = "the quick brown fox jumps over the lazy dog"
    chars = sorted(set(text))
    ix = {c: i for i, c in enumerate(chars)}
    V, H = len(chars), 32
    rng = np.random.default_rng(3)
    params = {"Wxh": rng.normal(0, 0.1, (H, V)).astype(np.float32),
              "Whh": rng.normal(0, 0.1, (H, H)).astype(np.float32),
              "Why": rng.normal(0, 0.1, (V, H)).astype(np.float32),
              "bh": np.zeros((H, 1), dtype=np.float32), "by": np.zeros((V, 1), dtype=np.float32)}
    return params, [ix[c] for c in text[:-1]], [ix[c] for c in text[1:]]
