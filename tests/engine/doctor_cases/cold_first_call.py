"""A correct MLP that builds a lookup table the first time it is called (as code that loads a
vocabulary or warms a cache does): the first call takes about a second, every later one a
fraction of a millisecond."""

import time

import numpy as np

SEQ_AXIS = None
_cache = {}


def loss_and_grads(params, X, y):
    if "classes" not in _cache:
        time.sleep(1.0)                        # stands for reading a file on the first call
        _cache["classes"] = np.eye(5)
    W1, b1, W2, b2 = params["W1"], params["b1"], params["W2"], params["b2"]
    h = np.tanh(X @ W1 + b1)
    s = h @ W2 + b2
    p = np.exp(s - s.max(1, keepdims=True))
    p /= p.sum(1, keepdims=True)
    Y = _cache["classes"][y]
    loss = -np.sum(Y * np.log(p)) / len(X)
    ds = (p - Y) / len(X)
    dh = ds @ W2.T * (1 - h ** 2)
    return loss, {"W1": X.T @ dh, "b1": dh.sum(0), "W2": h.T @ ds, "b2": ds.sum(0)}


def example():
    rng = np.random.default_rng(11)
    params = {"W1": rng.normal(0, 0.3, (20, 30)), "b1": np.zeros(30),
              "W2": rng.normal(0, 0.3, (30, 5)), "b2": np.zeros(5)}
    return params, rng.normal(size=(16, 20)), rng.integers(0, 5, 16)
