"""The configuration panel: live settings, validation messages, and rebuilds on structural changes."""

from __future__ import annotations

from PySide6 import QtCore, QtWidgets

Key = QtCore.Qt.Key


def type_into(qtbot, edit, text: str) -> None:
    edit.setFocus()
    edit.selectAll()
    qtbot.keyClicks(edit, text)
    qtbot.keyClick(edit, Key.Key_Return)


def test_learning_rate_applies_live_without_a_rebuild(qtbot, shared_window):
    win = shared_window
    c = win.controller
    for _ in range(3):
        c.step_iteration()
    session = c.session
    type_into(qtbot, win.config.widgets["lr"], "0.05")
    assert c.session is session  # same model, same history
    assert session.iteration == 3
    assert session.cfg.lr == 0.05 and session.optimizer.lr == 0.05
    assert not win.config.apply_button.isEnabled()
    c.step_iteration()
    assert session.history["lr"].last() == 0.05


def test_clipping_and_truncation_apply_live(qtbot, shared_window):
    win = shared_window
    c = win.controller
    session = c.session
    win.config.widgets["clip"].setCurrentText("norm")
    type_into(qtbot, win.config.widgets["clip_threshold"], "2.5")
    win.config.widgets["truncation"].setValue(2)
    assert c.session is session
    assert (session.cfg.clip, session.cfg.clip_threshold, session.cfg.truncation) == ("norm", 2.5, 2)
    # the truncation window shows up in the graph while stepping backward
    for _ in range(9):  # forward x6, loss, backward t=5, t=4
        qtbot.keyClick(win.graph, Key.Key_Right)
    f = win.graph.frame
    assert f.region is not None and "window k=2" in f.region_label
    assert c.record.window == range(4, 6)


def test_invalid_value_shows_the_engine_message_and_changes_nothing(qtbot, shared_window):
    win = shared_window
    c = win.controller
    session = c.session
    type_into(qtbot, win.config.widgets["lr"], "fast")
    msg = win.config.error.text()
    assert "lr" in msg and "'fast'" in msg and "expected" in msg
    assert win.config.error.isVisible()
    assert session.cfg.lr == 0.1 and c.session is session
    assert not win.config.apply_button.isEnabled()
    type_into(qtbot, win.config.widgets["lr"], "0.2")
    assert win.config.error.text() == "" and session.cfg.lr == 0.2


def test_structural_change_rebuilds_after_confirmation(qtbot, make_window):
    win = make_window()
    c = win.controller
    for _ in range(2):
        c.step_iteration()
    old = c.session
    win.config.widgets["hidden_size"].setValue(7)
    assert win.config.apply_button.isEnabled()
    assert "hidden_size" in win.config.pending.text()
    asked = []
    win.config.confirm = lambda text: asked.append(text) or False
    qtbot.mouseClick(win.config.apply_button, QtCore.Qt.MouseButton.LeftButton)
    assert asked and c.session is old  # cancelled: nothing happens
    win.config.confirm = lambda text: True
    qtbot.mouseClick(win.config.apply_button, QtCore.Qt.MouseButton.LeftButton)
    assert c.session is not old
    assert c.session.cfg.hidden_size == 7 and c.session.iteration == 0
    assert not win.config.apply_button.isEnabled()
    c.step_iteration()
    assert win.weights.value.image.image.shape == (7, 7)
    assert win.deltas.heat.image.image.shape == (7, 6)


def test_switching_to_a_2d_task_picks_the_mlp(qtbot, make_window):
    win = make_window()
    c = win.controller
    win.config.confirm = lambda text: True
    win.config.widgets["task"].setCurrentText("xor")
    assert win.config.widgets["model"].currentText() == "mlp"
    assert win.config.rows["hidden_layers"][1].isVisibleTo(win.config)
    assert not win.config.rows["seq_len"][1].isVisibleTo(win.config)
    assert win.config.apply_structural()
    assert c.session.cfg.task == "xor" and c.session.cfg.model == "mlp"
    c.step_iteration()
    assert win.graph.frame.key[0] == "mlp"


def test_impossible_combination_is_refused_inline(qtbot, shared_window):
    win = shared_window
    c = win.controller
    old = c.session
    win.config.widgets["task"].setCurrentText("adding")
    win.config.widgets["seq_len"].setValue(5)
    win.config.widgets["lag"].setValue(9)
    assert "lag" in win.config.error.text() and "longer than the sequence" in win.config.error.text()
    assert not win.config.apply_button.isEnabled()
    assert c.session is old


def test_reset_key_restarts_at_iteration_zero(qtbot, shared_window):
    win = shared_window
    c = win.controller
    c.step_iteration()
    c.step_iteration()
    qtbot.keyClick(win.graph, Key.Key_R)
    assert c.session.iteration == 0 and c.trace is None
    assert "iteration 0" in win.status_labels["iteration"].text()


def test_loss_reduction_is_labelled(qtbot, shared_window):
    win = shared_window
    c = win.controller
    c.step_iteration()
    assert "sum over batch and time" in win.status_labels["loss"].full_text()
    win.config.widgets["reduction"].setCurrentText("mean")
    c.step_iteration()
    assert "mean over batch, sum over time" in win.status_labels["loss"].full_text()
    win.docks["loss"].raise_()  # the bottom plots share tabs at this size: only a shown view is painted
    qtbot.wait(20)
    c.refresh_all()
    assert "mean over batch" in win.loss.loss_plot.titleLabel.text


def test_escape_gives_the_keyboard_back_to_stepping(qtbot, shared_window):
    win = shared_window
    edit = win.config.widgets["hidden_size"]
    edit.setFocus()
    qtbot.keyClick(edit, Key.Key_Right)  # inside a field, the arrows edit
    assert win.controller.trace is None
    qtbot.keyClick(edit, Key.Key_Escape)
    qtbot.keyClick(win.focusWidget() or win, Key.Key_Right)
    assert win.controller.trace is not None


def test_an_invalid_value_names_only_what_changed(qtbot, make_window):
    win = make_window(preset="xor-mlp")  # an MLP: hidden_layers is a list, the form shows it as text
    c = win.controller
    type_into(qtbot, win.config.widgets["lr"], "1e9x")
    assert "lr" in win.config.error.text()
    assert win.config.structural_pending() == set()
    assert not win.config.pending.isVisible() and "hidden_layers" not in win.config.pending.text()
    # a structural change next to the invalid value is named, and only it
    type_into(qtbot, win.config.widgets["hidden_layers"], "8, 8")
    assert win.config.structural_pending() == ({"hidden_layers"} if tuple(c.session.cfg.hidden_layers) != (8, 8)
                                               else set())


def test_out_of_range_numbers_get_a_message_not_a_silent_clamp(qtbot, shared_window):
    win = shared_window
    c = win.controller
    session = c.session
    spin = win.config.widgets["hidden_size"]
    for typed, shown in (("99999", "99999"), ("0", "0")):
        spin.setFocus()
        spin.selectAll()
        qtbot.keyClicks(spin, typed)
        qtbot.keyClick(spin, Key.Key_Return)
        assert spin.text() == shown  # kept as typed
        msg = win.config.error.text()
        assert "hidden_size" in msg and "1 to 1024" in msg and f"got {typed}" in msg, msg
        assert not win.config.apply_button.isEnabled() and c.session is session
    spin.setValue(session.cfg.hidden_size)
    assert win.config.error.text() == ""


def test_messages_appearing_never_move_the_form_under_the_pointer(qtbot, shared_window):
    win = shared_window
    panel = win.config
    win.docks["config"].raise_()
    qtbot.wait(20)
    scroll = panel.findChild(QtWidgets.QScrollArea)
    scroll.verticalScrollBar().setValue(scroll.verticalScrollBar().maximum())  # the lr field in view
    qtbot.wait(20)
    lr = panel.widgets["lr"]
    before = (lr.mapTo(panel, QtCore.QPoint(0, 0)), scroll.viewport().height(), scroll.verticalScrollBar().value())
    type_into(qtbot, lr, "fast")
    qtbot.wait(20)
    assert panel.error.isVisible()
    after = (lr.mapTo(panel, QtCore.QPoint(0, 0)), scroll.viewport().height(), scroll.verticalScrollBar().value())
    assert after == before
    type_into(qtbot, lr, "0.1")
    panel.widgets["hidden_size"].setValue(7)  # the "Changed" line appears: nothing moves either
    qtbot.wait(20)
    assert panel.pending.isVisible() and panel.pending.text() == "Changed (rebuilds the model): hidden_size"
    assert (lr.mapTo(panel, QtCore.QPoint(0, 0)), scroll.viewport().height()) == before[:2]


def test_title_and_default_file_name_follow_the_configuration(qtbot, make_window):
    from bpttviz.features.file_actions import default_name

    win = make_window(preset="min-char-rnn")
    c = win.controller
    c.load_preset("min-char-rnn")
    win._load_preset("min-char-rnn")
    title = c.session.cfg.title
    assert title and win.windowTitle() == f"bpttviz — {title}"
    assert win.preset_actions["min-char-rnn"].isChecked()
    type_into(qtbot, win.config.widgets["lr"], "0.05")
    assert c.session.cfg.lr == 0.05
    assert title not in win.windowTitle() and "lr 0.05" in win.windowTitle()
    assert f"{c.session.cfg.model.upper()} {c.session.cfg.hidden_size}" in win.windowTitle()
    assert not win.preset_actions["min-char-rnn"].isChecked()
    assert default_name(win).startswith(f"{c.session.cfg.model}-{c.session.cfg.hidden_size}")
    win.config.confirm = lambda _text: True
    win.config.widgets["hidden_size"].setValue(16)
    win.config.apply_structural()
    assert c.session.cfg.hidden_size == 16 and "RNN 16" in win.windowTitle()
    assert default_name(win).startswith("rnn-16")
