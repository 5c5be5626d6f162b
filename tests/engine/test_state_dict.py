"""state_dict / load_state_dict of everything a session file holds: each round trip restores the
object exactly, so what it does next is what the original does next."""

from __future__ import annotations

import ast
import copy
import inspect
import math

import numpy as np
import pytest

import bpttviz.engine.training.session_io as sio
from bpttviz.engine.nn.optim import LossAnnealer, make_optimizer
from bpttviz.engine.training.config import Config
from bpttviz.engine.training.session import Series, Session
from bpttviz.engine.training.tasks import ClassificationTask, LanguageModelTask, SyntheticTask, make_task


# ------------------------------------------------------------------------------------ Series
def test_series_round_trip_keeps_points_and_decimation_phase():
    s = Series(8)
    for i in range(30):  # decimated twice, mid-phase
        s.append(i, i * i)
    assert s.stride == 4 and s.state_dict()["skip"] != 0
    other = Series(2)  # a different capacity: taken from the state
    other.load_state_dict(s.state_dict())
    assert other.state_dict()["capacity"] == 8
    for i in range(30, 60):
        s.append(i, -i)
        other.append(i, -i)
    assert (s.n, s.stride) == (other.n, other.stride)
    assert np.array_equal(s.data()[0], other.data()[0]) and np.array_equal(s.data()[1], other.data()[1])


def test_series_load_copies_and_refuses_inconsistent_states():
    s = Series(4)
    s.append(1.0, 2.0)
    state = s.state_dict()
    other = Series(4)
    other.load_state_dict(state)
    state["x"][0] = 99.0  # the state's arrays are the original's views ...
    assert s.data()[0][0] == 99.0 and other.data()[0][0] == 1.0  # ... the loaded copy is independent
    for bad, msg in ((dict(n=5), "capacity"), (dict(stride=3), "power of two"), (dict(skip=1), "skip"),
                     (dict(x=np.zeros(2)), "shapes"), (dict(n=True), "whole number")):
        with pytest.raises(ValueError, match=msg):
            Series(4).load_state_dict({**state, **bad})


# ------------------------------------------------------------------------------------ LossAnnealer
def test_annealer_round_trip_continues_identically():
    a = LossAnnealer(0.5, 3, min_lr=1e-4, smoothing=0.8)
    fresh = a.state_dict()
    assert fresh["smooth"] is None and fresh["best"] == math.inf and fresh["bad"] == 0
    opt_a, opt_b = make_optimizer("sgd", 0.1), make_optimizer("sgd", 0.1)
    losses = [1.0, 0.9, 0.95, 0.97, 0.99, 1.2, 1.3, 0.5, 0.6, 0.7, 0.8, 0.9]
    for loss in losses[:5]:
        a.observe(loss, opt_a)
    b = LossAnnealer()
    b.load_state_dict(a.state_dict())
    opt_b.lr = opt_a.lr
    assert b.state_dict() == a.state_dict()
    for loss in losses[5:]:
        assert a.observe(loss, opt_a) == b.observe(loss, opt_b)
        assert opt_a.lr == opt_b.lr and a.state_dict() == b.state_dict()


# ------------------------------------------------------------------------------------ Tasks
def _draw(task, rng, n):
    return [tuple(np.array(a, copy=True) for a in task.batch(rng)) for _ in range(n)]


@pytest.mark.parametrize("cfg, cls, kind", [
    (Config(task="chars", corpus="names", seq_len=25, batch_size=4), LanguageModelTask, "stream"),
    (Config(model="mlp", task="xor", hidden_layers=[4], batch_size=16, n_samples=100), ClassificationTask,
     "shuffle"),
    (Config(task="adding", seq_len=10, batch_size=4), SyntheticTask, "none"),
])
def test_task_round_trip_continues_the_same_stream(cfg, cls, kind):
    task = make_task(cfg)
    assert isinstance(task, cls) and task.state_dict()["kind"] == kind
    fresh = make_task(cfg)
    fresh.load_state_dict(task.state_dict())  # before any batch
    rng1, rng2 = np.random.default_rng(3), np.random.default_rng(3)
    for (x1, y1), (x2, y2) in zip(_draw(task, rng1, 3), _draw(fresh, rng2, 3)):
        assert np.array_equal(x1, x2) and np.array_equal(y1, y2)
    n = len(task.stream) + 2 if kind == "stream" else 9  # across an epoch boundary / a reshuffle
    _draw(task, rng1, n)
    state = copy.deepcopy(task.state_dict())
    other = make_task(cfg)
    other.load_state_dict(state)
    assert {k: v for k, v in other.state_dict().items() if k != "order"} == \
        {k: v for k, v in state.items() if k != "order"}
    rng2 = copy.deepcopy(rng1)
    for (x1, y1), (x2, y2) in zip(_draw(task, rng1, 6), _draw(other, rng2, 6)):
        assert np.array_equal(x1, x2) and np.array_equal(y1, y2)
    assert task.epoch_start == other.epoch_start


def test_task_load_refuses_another_kind_and_bad_values():
    lm = make_task(Config(task="chars", corpus="names", seq_len=25, batch_size=4))
    mlp = make_task(Config(model="mlp", task="xor", hidden_layers=[4], batch_size=16, n_samples=100))
    with pytest.raises(ValueError, match="expected kind 'stream'"):
        lm.load_state_dict({"kind": "none"})
    with pytest.raises(ValueError, match="chunk"):
        lm.load_state_dict({**lm.state_dict(), "chunk": len(lm.stream) + 1})
    with pytest.raises(ValueError, match="true or false"):
        lm.load_state_dict({**lm.state_dict(), "started": 1})
    with pytest.raises(ValueError, match="permutation"):
        mlp.load_state_dict({**mlp.state_dict(), "order": np.zeros(len(mlp.y_train), dtype=np.int64)})
    with pytest.raises(ValueError, match="pos"):
        mlp.load_state_dict({**mlp.state_dict(), "pos": len(mlp.y_train) + 1})


# ------------------------------------------------------------------------------------ Session
@pytest.mark.parametrize("preset, overrides", [
    ("min-char-rnn", dict(hidden_size=8, sample_every=3, sample_length=5, eval_every=4)),
    ("xor-mlp", dict(anneal=True, anneal_patience=2, batch_size=16)),
    ("parity-rnn", dict(model="lstm", hidden_size=6, eval_every=5, optimizer="adam")),
])
def test_session_round_trip_in_memory_then_training_is_bit_identical(preset, overrides):
    a = Session.from_preset(preset, **overrides)
    a.train(13)
    b = Session(a.cfg)
    b.load_state_dict(copy.deepcopy(a.state_dict()))
    a.train(9)
    b.train(9)
    sa, sb = a.state_dict(), b.state_dict()
    assert sa.keys() == sb.keys()
    for key in ("iteration", "rng", "annealer", "samples", "bugs", "blowup", "task"):
        if key == "task" and sa[key]["kind"] == "shuffle":
            assert np.array_equal(sa[key]["order"], sb[key]["order"]) and sa[key]["pos"] == sb[key]["pos"]
        else:
            assert sa[key] == sb[key], key
    for key in ("params", "last_finite"):
        for name in sa[key]:
            assert sa[key][name].tobytes() == sb[key][name].tobytes(), (key, name)
    for name in sa["history"]:
        ha, hb = sa["history"][name], sb["history"][name]
        assert ha["x"].tobytes() == hb["x"].tobytes() and ha["y"].tobytes() == hb["y"].tobytes(), name
    oa, ob = sa["optimizer"], sb["optimizer"]
    assert oa["lr"] == ob["lr"] and oa["state"].keys() == ob["state"].keys()
    assert all(np.array_equal(oa["state"][k], ob["state"][k]) for k in oa["state"])
    assert (sa["state"] is None) == (sb["state"] is None)
    if sa["state"] is not None:
        assert all(x.tobytes() == y.tobytes() for x, y in zip(sa["state"], sb["state"]))


def test_session_load_refuses_a_state_of_another_configuration():
    rnn = Session.from_preset("parity-rnn", hidden_size=6)
    rnn.train(2)
    state = rnn.state_dict()
    with pytest.raises(ValueError, match="shape"):
        Session(rnn.cfg.replace("test", hidden_size=7)).load_state_dict(state)
    with pytest.raises(ValueError, match="optimizer"):
        Session(rnn.cfg.replace("test", optimizer="sgd" if rnn.cfg.optimizer != "sgd" else "adam")) \
            .load_state_dict(state)
    with pytest.raises(ValueError, match="annealer"):
        Session(rnn.cfg.replace("test", anneal=not rnn.cfg.anneal)).load_state_dict(state)
    with pytest.raises(ValueError, match="rng"):
        Session(rnn.cfg).load_state_dict({**state, "rng": {"bit_generator": "PCG64", "state": {}}})


# ------------------------------------------------------------------------------------ session_io
def test_session_io_touches_no_private_attribute_of_another_object():
    """session_io goes through the state_dict methods only: no ``obj._name`` except its own
    module-level helpers."""
    tree = ast.parse(inspect.getsource(sio))
    own = {n.name for n in tree.body if isinstance(n, (ast.FunctionDef, ast.ClassDef))}
    private = [node.attr for node in ast.walk(tree)
               if isinstance(node, ast.Attribute) and node.attr.startswith("_") and not node.attr.startswith("__")
               and not (isinstance(node.value, ast.Name) and node.value.id == "self")]
    assert private == [], private
    assert "_Refused" in own  # the walk did see the module
