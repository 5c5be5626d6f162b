"""Gradient checks (float64, central differences) for the vanilla RNN and the MLP over every
activation x loss x reduction x output mode x truncation, on random small shapes."""

import itertools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bpttviz import engine
from bpttviz.engine.gradients.gradcheck import noise_floor, numerical_grads, relative_error, truncated_loss_fn

TOL = 1e-6
ACTS = ["tanh", "sigmoid", "relu", "linear"]
LOSSES = ["cross_entropy", "mse"]
REDUCTIONS = ["mean", "sum"]
OUTPUTS = ["all", "last"]
TRUNCS = [None, 1, 2, 3]


def make_problem(rng, B, T, D, O, loss, output, ids):
    # Moderate scales: saturated units make true gradients so small that central differences
    # cannot resolve them in float64 (round-off ~1e-16 |L| / eps), whatever the code.
    inputs = rng.integers(0, D, (B, T)) if ids else 0.5 * rng.normal(size=(B, T, D))
    if loss == "cross_entropy":
        targets = rng.integers(0, O, (B, T) if output == "all" else (B,))
    else:
        targets = rng.normal(size=(B, T, O) if output == "all" else (B, O))
    return inputs, targets


def randomise_biases(model, rng):
    # Random biases keep relu pre-activations away from the kink at 0, where a central difference
    # straddles a non-differentiable point and nothing can agree with it.
    for name, p in model.params.items():
        if name.startswith("b"):
            p[...] = rng.normal(size=p.shape) * 0.5


@pytest.mark.parametrize("act,loss,reduction,output,truncation",
                         list(itertools.product(ACTS, LOSSES, REDUCTIONS, OUTPUTS, TRUNCS)))
@settings(max_examples=3, deadline=None)
@given(B=st.integers(1, 3), T=st.integers(1, 5), D=st.integers(1, 4), H=st.integers(1, 4),
       O=st.integers(2, 4), ids=st.booleans(), seed=st.integers(0, 2**16))
def test_rnn_gradients(act, loss, reduction, output, truncation, B, T, D, H, O, ids, seed):
    rng = np.random.default_rng(seed)
    model = engine.RNN(D, H, O, activation=act, seed=seed)
    randomise_biases(model, rng)
    inputs, targets = make_problem(rng, B, T, D, O, loss, output, ids)
    h0 = rng.normal(size=(B, H)) * 0.5
    fn_opts = dict(reduction=reduction, output=output, loss=loss, truncation=truncation)
    value, grads = model.loss_and_grads(inputs, targets, h0=h0, **fn_opts)
    fn = truncated_loss_fn(model, inputs, targets, truncation, h0=h0, reduction=reduction,
                           output=output, loss=loss)
    num = numerical_grads(fn, model.params)
    errs = {k: relative_error(grads[k], num[k], noise_floor(value)) for k in grads}
    assert max(errs.values()) < TOL, errs


def test_untruncated_rnn_matches_plain_numerical_gradient():
    # Without truncation the reference is simply the loss itself, not our surrogate.
    rng = np.random.default_rng(0)
    model = engine.RNN(3, 5, 4, seed=3)
    x, y = make_problem(rng, 2, 7, 3, 4, "cross_entropy", "all", ids=False)
    errs = engine.gradients.gradcheck.check_model(model, x, y)
    assert max(errs.values()) < TOL


@pytest.mark.parametrize("loss,reduction", list(itertools.product(LOSSES, REDUCTIONS)))
@settings(max_examples=6, deadline=None)
@given(sizes=st.lists(st.integers(1, 5), min_size=2, max_size=4), B=st.integers(1, 4),
       acts=st.lists(st.sampled_from(ACTS), min_size=3, max_size=3), seed=st.integers(0, 2**16))
def test_mlp_gradients(loss, reduction, sizes, B, acts, seed):
    rng = np.random.default_rng(seed)
    sizes = list(sizes)
    if loss == "cross_entropy":
        sizes[-1] = max(2, sizes[-1])
    model = engine.MLP(sizes, activation=acts[: len(sizes) - 2],
                       output="softmax" if loss == "cross_entropy" else "linear", seed=seed)
    randomise_biases(model, rng)
    X = rng.normal(size=(B, sizes[0]))
    y = rng.integers(0, sizes[-1], B) if loss == "cross_entropy" else rng.normal(size=(B, sizes[-1]))
    errs = engine.gradients.gradcheck.check_model(model, X, y, reduction=reduction)
    assert max(errs.values()) < TOL, errs


def test_gradcheck_detects_a_wrong_gradient():
    # The checker itself must fail loudly on a wrong backward pass.
    rng = np.random.default_rng(1)
    model = engine.RNN(3, 4, 3, seed=1)
    model.set_bugs({"drop_dh_next"})
    x, y = make_problem(rng, 2, 5, 3, 3, "cross_entropy", "all", ids=False)
    errs = engine.gradients.gradcheck.check_model(model, x, y)
    assert errs["W_hh"] > 1e-3 and errs["W_hy"] < TOL


def test_reduction_mean_is_sum_over_batch_size():
    rng = np.random.default_rng(2)
    model = engine.RNN(4, 3, 4, seed=0)
    x, y = make_problem(rng, 5, 6, 4, 4, "cross_entropy", "all", ids=True)
    ls, gs = model.loss_and_grads(x, y, reduction="sum")
    lm, gm = model.loss_and_grads(x, y, reduction="mean")
    assert np.isclose(lm, ls / 5)
    for k in gs:
        np.testing.assert_allclose(gm[k], gs[k] / 5, rtol=1e-12, atol=1e-15)


def test_token_ids_equal_one_hot_floats():
    rng = np.random.default_rng(3)
    model = engine.RNN(6, 4, 6, seed=2)
    ids = rng.integers(0, 6, (3, 5))
    onehot = np.eye(6)[ids]
    y = rng.integers(0, 6, (3, 5))
    l1, g1 = model.loss_and_grads(ids, y)
    l2, g2 = model.loss_and_grads(onehot, y)
    assert np.isclose(l1, l2, rtol=1e-13)
    for k in g1:
        np.testing.assert_allclose(g1[k], g2[k], rtol=1e-10, atol=1e-14)
