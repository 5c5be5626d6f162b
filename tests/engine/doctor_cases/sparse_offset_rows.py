"""Token embedding with two reserved rows at the top (padding and unknown): word id w lives in row
w + 2. The learner's backward pass fills the rows of the ids, not of the shifted ids, so the rows
that matter get nothing and the gradient lands on rows the loss never reads."""

import numpy as np

SEQ_AXIS = None
RESERVED = 2


def loss_and_grads(params, inputs, targets):
    E, w = params["E"], params["w"]
    rows = np.asarray(inputs) + RESERVED
    x = E[rows].sum(axis=0)          # (D,)
    y = x @ w
    loss = 0.5 * (y - targets) ** 2
    dy = y - targets
    dE = np.zeros_like(E)
    np.add.at(dE, np.asarray(inputs) + 1000, dy * w)   # BUG: a stale offset from an older version
    return loss, {"E": dE, "w": dy * x}


def example():
    rng = np.random.default_rng(1)
    V, D = 3000, 8
    params = {"E": rng.normal(0, 0.3, (V + RESERVED, D)), "w": rng.normal(0, 0.3, D)}
    return params, rng.choice(1500, 12, replace=False), 0.7
