"""The training session, tasks and presets: every preset trains and its loss falls."""

import numpy as np
import pytest

from bpttviz.engine.records import UpdateStep
from bpttviz.engine.training.config import Config
from bpttviz.engine.training.presets import list_presets, load_preset
from bpttviz.engine.training.session import Series, Session

# Small iteration counts that still show the loss falling for each preset.
FALLS = {
    "min-char-rnn": 150, "names-lstm": 60, "adding-rnn": 150, "adding-lstm": 150, "parity-rnn": 400,
    "sine-rnn": 80, "xor-mlp": 60, "spirals-mlp": 100, "digits-mlp": 60, "word-lm": 100,
}


def test_all_required_presets_ship():
    assert set(FALLS) <= set(list_presets())


@pytest.mark.parametrize("name", sorted(FALLS))
def test_preset_loss_falls(name):
    s = Session.from_preset(name)
    s.train(FALLS[name])
    assert s.blowup is None
    _, losses = s.history["loss"].data()
    k = max(5, len(losses) // 5)
    # the start is the first iteration's loss or the first fifth's mean, whichever is larger: a large
    # vocabulary's first fifth already holds most of the fall, and its last fifth's batch noise is large
    start = max(losses[0], losses[:k].mean())
    assert losses[-k:].mean() < 0.9 * start, (start, losses[-k:].mean())
    assert np.isfinite(s.metric())


def test_same_seed_same_run_and_different_seed_differs():
    def run(seed):
        s = Session(load_preset("sine-rnn").replace(seed=seed))
        s.train(15)
        return s.model.params, s.history["loss"].data()[1]
    p1, l1 = run(1)
    p2, l2 = run(1)
    p3, l3 = run(2)
    np.testing.assert_array_equal(l1, l2)
    for k in p1:
        np.testing.assert_array_equal(p1[k], p2[k])
    assert not np.array_equal(l1, l3)


def test_narrated_step_equals_fast_step():
    a = Session.from_preset("min-char-rnn")
    b = Session.from_preset("min-char-rnn")
    for _ in range(3):
        rec = a.train_step()
        trace = b.narrated_step()
        assert isinstance(trace[-1], UpdateStep)
        assert trace.loss == a.history["loss"].last() == b.history["loss"].last()
        assert rec.norm == trace[-1].norm
    for k in a.model.params:
        np.testing.assert_array_equal(a.model.params[k], b.model.params[k])


def test_stateful_training_carries_hidden_state_between_chunks():
    s = Session.from_preset("min-char-rnn")
    s.train_step()
    carried = s.state[0].copy()
    assert carried.shape == (1, 100) and np.any(carried != 0)
    # the next iteration starts from the carried state: reproduce its loss by hand
    s2 = Session.from_preset("min-char-rnn")
    s2.train_step()
    x2, y2 = s2.next_batch()
    expect, _ = s2.model.loss_and_grads(x2, y2, h0=s2.state[0], **s2.options())
    s.train_step()
    assert s.history["loss"].last() == expect


def test_clipping_by_value_reports_events():
    s = Session(load_preset("min-char-rnn").replace(clip_threshold=0.01))
    s.train(3)
    assert s.last_update.clipped and s.last_update.clip == "value" and len(s.clip_events) == 3


def test_set_hyper_changes_lr_live_and_refuses_structural_changes():
    s = Session.from_preset("xor-mlp")
    s.set_hyper(lr=0.5, clip="norm", clip_threshold=1.0)
    assert s.optimizer.lr == 0.5 and s.clipper.mode == "norm"
    with pytest.raises(ValueError, match="hidden_layers change the model"):
        s.set_hyper(hidden_layers=[3])
    with pytest.raises(ValueError, match="field 'lr'"):
        s.set_hyper(lr=float("nan"))


def test_blowup_is_caught_where_it_appears_and_rolls_back():
    cfg = Config(task="sine", model="rnn", hidden_size=8, seq_len=10, optimizer="sgd", lr=1.0,
                 clip="none", init="xavier", activation="relu", init_scale=3.0, recurrent_norm=3.0,
                 reduction="sum", batch_size=4, noise=0.05)
    s = Session(cfg)
    s.model.params["W_hh"][...] = 1e200  # relu: h explodes to inf within a few steps
    before = {k: v.copy() for k, v in s._last_finite.items()}
    assert s.train_step() is None
    assert s.blowup is not None and s.blowup.phase == "forward" and s.blowup.name == "h"
    assert s.blowup.timestep is not None and s.blowup.timestep <= 3
    assert "iteration 1" in s.blowup.message() and "forward pass in h at timestep" in s.blowup.message()
    assert s.blowup.iteration == 1 and s.iteration == 0  # the first iteration blew up; nothing applied
    n = s.iteration
    assert s.train_step() is None and s.iteration == n  # never continues silently
    s.rollback()
    for k in before:
        np.testing.assert_array_equal(s.model.params[k], before[k])
    assert s.blowup is None and s.train_step() is not None


def test_series_is_bounded_and_decimates():
    series = Series(capacity=100)
    for i in range(10_000):
        series.append(i, float(i))
    x, y = series.data()
    assert len(x) <= 100 and x[0] == 0 and x[-1] > 9000
    assert np.all(np.diff(x) > 0)


def test_language_model_sample_and_word_task():
    s = Session.from_preset("word-lm")
    s.train(2)
    text = s.sample(n=10)
    assert len(text.split()) >= 10
    c = Session.from_preset("min-char-rnn")
    assert len(c.sample(n=30)) >= 30
    assert c.sample(n=5, prime="ann").startswith("ann")


def test_user_text_file_as_corpus(tmp_path):
    f = tmp_path / "mine.txt"
    f.write_text("hello world\n" * 200, encoding="utf-8")
    s = Session(load_preset("min-char-rnn").replace(corpus=str(f)))
    assert s.task.vocab.size == len(set("hello world\n"))
    s.train(3)


@pytest.mark.parametrize("content,match", [
    (b"", "empty"),
    (b"abc\x00def" * 10, "NUL"),
    (b"caf\xe9 latte" * 10, "UTF-8"),
])
def test_bad_corpus_files(tmp_path, content, match):
    f = tmp_path / "bad.txt"
    f.write_bytes(content)
    with pytest.raises(ValueError, match=match):
        Session(load_preset("min-char-rnn").replace(corpus=str(f)))


def test_missing_corpus_file():
    with pytest.raises(ValueError, match="corpus: no such file"):
        Session(load_preset("min-char-rnn").replace(corpus="/nonexistent/file.txt"))


def test_stride_is_settable_for_language_models():
    s = Session(load_preset("min-char-rnn").replace(seq_len=10, stride=5))
    x1, y1 = s.next_batch()
    x2, _ = s.next_batch()
    np.testing.assert_array_equal(x2[:, :5], x1[:, 5:])  # overlapping chunks, 5 tokens apart
    np.testing.assert_array_equal(y1[:, :-1], x1[:, 1:])  # targets: next token along time
