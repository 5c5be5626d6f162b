"""Bad input: a ValueError naming the argument and what was expected, never a deep NumPy error."""

import numpy as np
import pytest

from bpttviz import engine


@pytest.fixture
def rnn():
    return engine.RNN(5, 4, 3, seed=0)


@pytest.mark.parametrize("inputs,targets,match", [
    (np.zeros((2, 3, 4)), np.zeros((2, 3), int), r"inputs: expected shape \(\*, \*, 5\)"),
    (np.zeros((2, 3, 5, 1)), np.zeros((2, 3), int), r"inputs: expected shape"),
    (np.array([[0, 1, 7]]), np.zeros((1, 3), int), r"inputs: id 7 out of range; allowed 0..4"),
    (np.array([[0, -1, 2]]), np.zeros((1, 3), int), r"inputs: id -1 out of range"),
    (np.full((1, 2, 5), np.nan), np.zeros((1, 2), int), r"inputs: contains NaN or Inf"),
    (np.zeros((1, 2, 5)), np.zeros((1, 3), int), r"targets: expected shape \(1, 2\)"),
    (np.zeros((1, 2, 5)), np.full((1, 2), 3), r"targets: id 3 out of range; allowed 0..2"),
    (np.zeros((1, 2, 5)), np.zeros((1, 2)), r"targets: expected integer ids"),
    (np.zeros((0, 2, 5)), np.zeros((0, 2), int), r"inputs: expected at least one sequence"),
    ([["a", "b"]], np.zeros((1, 2), int), r"inputs: expected an array of numbers"),
    (np.array([[0.0, 1.5]]), np.zeros((1, 2), int),
     r"inputs: \(batch, time\) token ids must be integers, got dtype float64; float features need shape"),
    (np.array([[True, False]]), np.zeros((1, 2), int), r"inputs: \(batch, time\) token ids must be integers"),
])
def test_rnn_bad_arrays(rnn, inputs, targets, match):
    with pytest.raises(ValueError, match=match):
        rnn.loss_and_grads(inputs, targets)


@pytest.mark.parametrize("kwargs,match", [
    (dict(reduction="avg"), r"reduction: expected one of 'mean', 'sum', got 'avg'"),
    (dict(truncation=0), r"truncation: expected a positive integer, got 0"),
    (dict(truncation=2.5), r"truncation: expected a positive integer"),
    (dict(output="first"), r"output: expected one of 'all', 'last'"),
    (dict(loss="hinge"), r"loss: expected one of 'cross_entropy', 'mse'"),
    (dict(h0=np.zeros((2, 4))), r"h0 \(h\): expected shape \(1, 4\)"),
])
def test_rnn_bad_options(rnn, kwargs, match):
    with pytest.raises(ValueError, match=match):
        rnn.loss_and_grads(np.zeros((1, 2), int), np.zeros((1, 2), int), **kwargs)


def test_steps_validates_before_the_first_record(rnn):
    with pytest.raises(ValueError, match="truncation"):
        rnn.steps(np.zeros((1, 2), int), np.zeros((1, 2), int), truncation=-1)


@pytest.mark.parametrize("args,kwargs,match", [
    ((0, 4, 3), {}, r"input_size: expected a positive integer, got 0"),
    ((5, -1, 3), {}, r"hidden_size: expected a positive integer, got -1"),
    ((5, 4, 2.0), {}, r"output_size: expected a positive integer"),
    ((5, 4, 3), dict(activation="softplus"), r"activation: unknown activation 'softplus'; allowed: tanh"),
    ((5, 4, 3), dict(init="he"), r"init: expected one of 'xavier', 'small', 'orthogonal'"),
    ((5, 4, 3), dict(seed="x"), r"seed: expected an integer"),
])
def test_rnn_bad_construction(args, kwargs, match):
    with pytest.raises(ValueError, match=match):
        engine.RNN(*args, **kwargs)


@pytest.mark.parametrize("args,kwargs,match", [
    (([2],), {}, r"layer_sizes: expected a list of at least two"),
    (([2, 0, 2],), {}, r"layer_sizes\[1\]: expected a positive integer, got 0"),
    (([2, 3, 2],), dict(activation=["tanh", "relu"]), r"activation: expected one name per hidden layer \(1\), got 2"),
    (([2, 3, 2],), dict(output="sigmoid"), r"output: expected one of 'softmax', 'linear'"),
])
def test_mlp_bad_construction(args, kwargs, match):
    with pytest.raises(ValueError, match=match):
        engine.MLP(*args, **kwargs)


def test_mlp_bad_inputs():
    m = engine.MLP([2, 3, 2])
    with pytest.raises(ValueError, match=r"inputs: expected shape \(\*, 2\)"):
        m.loss_and_grads(np.zeros((4, 3)), np.zeros(4, int))
    with pytest.raises(ValueError, match=r"loss: 'mse' does not match output='softmax'"):
        m.loss_and_grads(np.zeros((4, 2)), np.zeros((4, 2)), loss="mse")
    with pytest.raises(ValueError, match=r"targets: id 2 out of range"):
        m.loss_and_grads(np.zeros((1, 2)), np.array([2]))


@pytest.mark.parametrize("make,match", [
    (lambda: engine.make_optimizer("rmsprop", 0.1), r"optimizer: expected one of"),
    (lambda: engine.make_optimizer("sgd", float("nan")), r"lr: expected a finite number, got nan"),
    (lambda: engine.make_optimizer("sgd", -1), r"lr: expected a number > 0"),
    (lambda: engine.make_optimizer("adam", 0.1, beta1=1.5), r"beta1: expected a number in \[0, 1\)"),
    (lambda: engine.make_optimizer("sgd", 0.1, momentum=0.9), r"unknown setting"),
    (lambda: engine.Clipper("abs", 5), r"clip: expected one of 'none', 'value', 'norm'"),
    (lambda: engine.Clipper("norm", 0), r"clip_threshold: expected a number > 0"),
])
def test_bad_optimiser_settings(make, match):
    with pytest.raises(ValueError, match=match):
        make()
