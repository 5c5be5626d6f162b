"""Iteration numbering (iteration N is the N-th update; history x = N), the narrated iteration
kept with its parameters before and after the update, and saving the state captured before it."""

from __future__ import annotations

import json
import zipfile

import numpy as np
import pytest

from bpttviz.engine.gradients import diagnostics
from bpttviz.engine.training.config import Config
from bpttviz.engine.training.session import Session, model_with
from bpttviz.engine.training.session_io import capture_state, load_session, read_session_info, save_session

SMALL = dict(task="chars", corpus="names", model="rnn", hidden_size=10, seq_len=5, batch_size=2, optimizer="adagrad",
             lr=0.1, clip="value", clip_threshold=5.0, init="small", reduction="sum", eval_every=2,
             sample_every=3, sample_length=20)


def small(**changes) -> Session:
    return Session(Config.from_dict({**SMALL, **changes}, "test"))


def test_iterations_are_numbered_from_one_and_history_points_sit_at_their_number():
    s = small()
    losses = []
    for n in range(1, 6):
        before = {k: v.copy() for k, v in s.model.params.items()}
        tr = s.narrated_step()
        assert s.iteration == n and tr[-1].index == n  # the n-th update
        losses.append(tr.loss)
        x, y = s.last_batch
        loss, _ = model_with(s.model, before).loss_and_grads(x, y, **s.last_narration.options,
                                                            **({"h0": s.last_narration.h0}
                                                               if s.last_narration.h0 is not None else {}))
        assert loss == tr.loss
    lx, ly = s.history["loss"].data()
    assert list(lx) == [1, 2, 3, 4, 5] and list(ly) == losses
    assert list(s.history["grad_norm"].data()[0]) == [1, 2, 3, 4, 5]
    assert list(s.history["val_metric"].data()[0]) == [1, 2, 4]  # after the first update, then every 2
    assert [i for i, _ in s.samples] == [3]
    assert s.last_loss == losses[-1]


def test_a_narration_keeps_the_parameters_before_and_after_its_update():
    s = small()
    s.train(2)
    before = {k: v.copy() for k, v in s.model.params.items()}
    tr = s.narrated_step()
    n = s.last_narration
    assert n.iteration == 3 and n.trace is tr and n.updated and n.update_index == len(tr) - 1
    for k in before:
        assert n.before[k].tobytes() == before[k].tobytes()
        assert n.after[k].tobytes() == s.model.params[k].tobytes()
        np.testing.assert_allclose(n.after[k] - n.before[k], tr[-1].delta[k], rtol=0, atol=1e-15)
        assert not n.before[k].flags.writeable
    s.train(3)  # the session moves on; the narration does not
    for k in before:
        assert n.before[k].tobytes() == before[k].tobytes()
    # a diagnostic of that moment, recomputed from the kept parameters
    curve = diagnostics.gradient_decay(model_with(s.model, n.before), n.inputs, n.targets, **n.options)
    assert curve.shape == (5,) and curve[0] > 0
    assert s.model.params["W_hh"].tobytes() != n.before["W_hh"].tobytes()  # model_with left the model alone


def test_a_blow_up_is_named_by_the_iteration_it_happened_in():
    s = small(task="sine", activation="relu", optimizer="sgd", lr=1.0, clip="none")
    s.train(2)
    s.model.params["W_hh"][...] = 1e200
    tr = s.narrated_step()
    assert s.blowup.iteration == 3 and s.iteration == 2 and "at iteration 3" in s.blowup.message()
    n = s.last_narration
    assert not n.updated and n.update_index is None and n.after is n.before and tr is n.trace


def test_a_state_captured_before_an_iteration_saves_that_moment(tmp_path):
    s = small()
    s.train(4)
    state = capture_state(s)
    s.narrated_step()
    n = s.last_narration
    s.train(3)  # later: the learner saves while looking at iteration 5
    path = save_session(state, tmp_path / "m.npz", position={"moment": {"iteration": 5, "record": 7}})
    info = read_session_info(path)
    assert info["iteration"] == 4 and info["position"]["moment"] == {"iteration": 5, "record": 7}
    opened, _ = load_session(path)
    tr = opened.narrated_step()  # the same iteration again: the same batch and records
    assert opened.iteration == 5 and tr.loss == n.trace.loss
    np.testing.assert_array_equal(opened.last_narration.inputs, n.inputs)
    for k in n.after:
        assert opened.model.params[k].tobytes() == n.after[k].tobytes()
    opened.train(3)
    for k, v in s.model.params.items():
        assert opened.model.params[k].tobytes() == v.tobytes()


def test_a_file_from_before_the_numbering_was_written_down_is_shifted(tmp_path):
    s = small()
    s.train(3)
    path = save_session(s, tmp_path / "old.npz")
    with zipfile.ZipFile(path) as zf:  # make it look like an older file: 0-based points, no marker
        members = {n: zf.read(n) for n in zf.namelist()}
    meta = json.loads(members["meta.json"])
    del meta["numbering"]
    members["meta.json"] = json.dumps(meta).encode()
    import io

    for name in [n for n in members if n.startswith("history/") and n.endswith("/x.npy")]:
        arr = np.load(io.BytesIO(members[name])) - 1
        buf = io.BytesIO()
        np.save(buf, arr)
        members[name] = buf.getvalue()
    old = tmp_path / "older.npz"
    with zipfile.ZipFile(old, "w") as zf:
        for n, b in members.items():
            zf.writestr(n, b)
    opened, _ = load_session(old)
    assert list(opened.history["loss"].data()[0]) == [1, 2, 3]


@pytest.mark.parametrize("model", ["lstm", "gru"])
def test_gated_narrations_keep_their_carried_state(model):
    s = small(model=model)
    s.train(2)
    s.narrated_step()
    n = s.last_narration
    kw = dict(n.options, **({"h0": n.h0} if n.h0 is not None else {}))
    loss, _ = model_with(s.model, n.before).loss_and_grads(n.inputs, n.targets, **kw)
    assert loss == n.trace.loss
