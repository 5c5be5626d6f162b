"""The loss plot's baseline line says when validation is worse than it: for a character model,
"validation 5.38: worse than chance (4.75)" -- checked against the session's live numbers."""

from __future__ import annotations

import numpy as np
import pytest

from bpttviz.engine.training.session import Session
from bpttviz.presenters.panels import loss_frame


def _confidently_wrong(s: Session) -> None:
    """Outputs that put almost all probability on one symbol: far worse than uniform guessing."""
    s.model.params["b_y"][...] = 0.0
    s.model.params["b_y"][s.task.vocab.size - 1] = 12.0


def test_the_label_says_when_validation_is_worse_than_chance():
    s = Session.from_preset("min-char-rnn")
    _confidently_wrong(s)
    s.cfg = s.cfg.replace("test", lr=1e-6)  # the one recorded iteration keeps the model as it is
    s.train(1)
    f = loss_frame(s)
    v, chance = f.val[-1], np.log2(s.task.vocab.size)
    assert f.baseline == pytest.approx(chance) and v == s.metric() and v > chance
    assert f.baseline_label == f"validation {v:.3g}: worse than chance ({chance:.3g})"


def test_the_label_names_chance_once_validation_is_below_it():
    s = Session.from_preset("min-char-rnn")
    s.train(200)
    f = loss_frame(s)
    assert f.val[-1] < f.baseline
    assert f.baseline_label == f"chance {f.baseline:.3g}"


def test_other_tasks_name_their_trivial_baseline():
    from bpttviz.engine.training.config import Config

    s = Session(Config.from_dict({"task": "adding", "model": "rnn", "hidden_size": 4, "seq_len": 8}))
    s.train(1)
    f = loss_frame(s)
    word = "worse than trivial baseline" if f.val[-1] > f.baseline else "trivial baseline"
    assert word in f.baseline_label and f"{f.baseline:.3g}" in f.baseline_label


def test_the_loss_view_shows_the_label(qtbot):
    from bpttviz.views.loss_view import LossView
    from bpttviz.views.theme import Theme

    s = Session.from_preset("min-char-rnn")
    _confidently_wrong(s)
    s.cfg = s.cfg.replace("test", lr=1e-6)
    s.train(1)
    view = LossView(Theme())
    qtbot.addWidget(view)
    f = loss_frame(s)
    view.show_frame(f)
    assert view.baseline_text.textItem.toPlainText() == f.baseline_label
    assert "worse than chance" in f.baseline_label
