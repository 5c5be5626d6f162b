"""A character-level LSTM language model at the size people train it: 100 hidden units, 25 steps,
column vectors, the gates computed from the stacked vector z = [h_{t-1}; x_t], the loss summed
over time. Correct.

    z_t = [h_{t-1}; onehot(inputs[t])]                        (H + V, 1)
    f, i, o = sigmoid(Wf z + bf), sigmoid(Wi z + bi), sigmoid(Wo z + bo)
    g = tanh(Wc z + bc);  c_t = f * c_{t-1} + i * g;  h_t = o * tanh(c_t)
    p_t = softmax(Wy h_t + by);  loss = -sum_t log p_t[targets[t]]

Check it:  python -m bpttviz check examples/lstm_lm.py
"""

import numpy as np

SEQ_AXIS = 0
TEXT = ("It was the best of times, it was the worst of times, it was the age of wisdom, it was the age of "
        "foolishness, it was the epoch of belief, it was the epoch of incredulity, it was the season of Light.")
GATES = ("f", "i", "o", "c")


def sigmoid(x):
    return 1 / (1 + np.exp(-x))


def loss_and_grads(params, inputs, targets):
    H = params["Wf"].shape[0]
    V = params["Wf"].shape[1] - H
    zs, hs, cs, gates, ps = {}, {-1: np.zeros((H, 1))}, {-1: np.zeros((H, 1))}, {}, {}
    loss = 0.0
    for t in range(len(inputs)):
        x = np.zeros((V, 1))
        x[inputs[t]] = 1
        zs[t] = np.vstack([hs[t - 1], x])
        f = sigmoid(params["Wf"] @ zs[t] + params["bf"])
        i = sigmoid(params["Wi"] @ zs[t] + params["bi"])
        o = sigmoid(params["Wo"] @ zs[t] + params["bo"])
        g = np.tanh(params["Wc"] @ zs[t] + params["bc"])
        cs[t] = f * cs[t - 1] + i * g
        hs[t] = o * np.tanh(cs[t])
        gates[t] = (f, i, o, g)
        y = params["Wy"] @ hs[t] + params["by"]
        e = np.exp(y - y.max())
        ps[t] = e / e.sum()
        loss += -np.log(ps[t][targets[t], 0])
    grads = {k: np.zeros_like(v) for k, v in params.items()}
    dh_next, dc_next = np.zeros((H, 1)), np.zeros((H, 1))
    for t in reversed(range(len(inputs))):
        f, i, o, g = gates[t]
        dy = ps[t].copy()
        dy[targets[t]] -= 1
        grads["Wy"] += dy @ hs[t].T
        grads["by"] += dy
        dh = params["Wy"].T @ dy + dh_next
        tc = np.tanh(cs[t])
        do = dh * tc * o * (1 - o)
        dc = dh * o * (1 - tc ** 2) + dc_next
        df = dc * cs[t - 1] * f * (1 - f)
        di = dc * g * i * (1 - i)
        dg = dc * i * (1 - g ** 2)
        dz = np.zeros_like(zs[t])
        for name, d in zip(GATES, (df, di, do, dg)):
            grads["W" + name] += d @ zs[t].T
            grads["b" + name] += d
            dz += params["W" + name].T @ d
        dh_next = dz[:H]
        dc_next = f * dc
    return loss, grads


def example():
    chars = sorted(set(TEXT))
    ix = {c: i for i, c in enumerate(chars)}
    V, H, T = len(chars), 100, 25
    rng = np.random.default_rng(0)
    params = {}
    for name in GATES:
        params["W" + name] = rng.normal(0, 0.1, (H, H + V))
        params["b" + name] = np.zeros((H, 1))
    params["Wy"] = rng.normal(0, 0.1, (V, H))
    params["by"] = np.zeros((V, 1))
    data = [ix[c] for c in TEXT]
    return params, data[:T], data[1:T + 1]
