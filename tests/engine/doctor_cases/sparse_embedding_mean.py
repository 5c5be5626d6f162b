"""Bag-of-words sentiment classifier with an embedding table (vocabulary 8,000): the sentence is
the mean of its word vectors, then a softmax layer. The backward pass forgets the 1/T of the mean
when it sends the gradient to the embedding rows. Only the 12 rows of the words in the sentence
get any gradient, out of 8,000."""

import numpy as np

SEQ_AXIS = None


def loss_and_grads(params, inputs, targets):
    E, W, b = params["E"], params["W"], params["b"]
    x = E[inputs]                    # (T, D)
    m = x.mean(axis=0)               # (D,)
    s = m @ W + b                    # (C,)
    p = np.exp(s - s.max())
    p /= p.sum()
    loss = -np.log(p[targets])

    ds = p.copy()
    ds[targets] -= 1
    dW = np.outer(m, ds)
    db = ds
    dm = W @ ds
    dE = np.zeros_like(E)
    dE[inputs] += dm                 # BUG: the mean divides by T, so each row gets dm / T
    return loss, {"E": dE, "W": dW, "b": db}


def example():
    rng = np.random.default_rng(1)
    V, D, C = 8000, 16, 3
    params = {"E": rng.normal(0, 0.5, (V, D)), "W": rng.normal(0, 0.5, (D, C)), "b": np.zeros(C)}
    words = rng.choice(V, 12, replace=False)  # twelve different words
    return params, words, 1
