"""Single-stepping from the keyboard and the buttons: records, phases, iterations, replay."""

from __future__ import annotations

import numpy as np
from PySide6 import QtCore

from bpttviz.engine.records import BackwardStep, ForwardStep, GradientStep, LossStep, UpdateStep

Key = QtCore.Qt.Key
Mod = QtCore.Qt.KeyboardModifier


def press(qtbot, win, key, mod=Mod.NoModifier):
    qtbot.keyClick(win.graph, key, mod)


def test_right_steps_through_forward_records_one_timestep_at_a_time(qtbot, shared_window):
    win = shared_window
    c = win.controller
    assert c.trace is None
    press(qtbot, win, Key.Key_Right)
    assert c.session.iteration == 1  # one narrated iteration was fetched
    assert isinstance(c.record, ForwardStep) and c.record.t == 0
    assert "Forward, step t=0" in win.graph.caption.text()
    assert "forward, t = 0" in win.status_labels["phase"].text()
    for t in range(1, 6):
        press(qtbot, win, Key.Key_Right)
        assert isinstance(c.record, ForwardStep) and c.record.t == t
    press(qtbot, win, Key.Key_Right)
    assert isinstance(c.record, LossStep)
    press(qtbot, win, Key.Key_Right)
    assert isinstance(c.record, BackwardStep) and c.record.t == 5  # backward starts at T-1
    press(qtbot, win, Key.Key_Right)
    assert isinstance(c.record, BackwardStep) and c.record.t == 4
    assert "backward, t = 4" in win.status_labels["phase"].text()


def test_left_replays_the_earlier_record_without_recomputing(qtbot, shared_window, monkeypatch):
    win = shared_window
    c = win.controller
    for _ in range(9):  # forward x6, loss, backward t=5, t=4
        press(qtbot, win, Key.Key_Right)
    rec_before = c.record
    img_before = win.deltas.heat.image.image.copy()
    caption_before = win.graph.caption.text()
    press(qtbot, win, Key.Key_Right)
    assert c.record is not rec_before

    calls = []
    monkeypatch.setattr(c.session, "narrated_step", lambda: calls.append(1))
    monkeypatch.setattr(c.session, "train_step", lambda: calls.append(1))
    press(qtbot, win, Key.Key_Left)
    assert c.record is rec_before  # the very same immutable record
    assert calls == []  # replay: nothing recomputed
    np.testing.assert_array_equal(win.deltas.heat.image.image, img_before)
    assert win.graph.caption.text() == caption_before
    assert c.session.iteration == 1


def test_deltas_heatmap_reveals_one_timestep_per_backward_record(qtbot, shared_window):
    win = shared_window
    for _ in range(8):  # forward x6, loss, backward t=5
        press(qtbot, win, Key.Key_Right)
    img = win.deltas.heat.image.image  # (units, time)
    assert img.shape == (12, 6)
    assert np.all(np.isfinite(img[:, 5])) and np.all(np.isnan(img[:, :5]))
    press(qtbot, win, Key.Key_Right)
    img = win.deltas.heat.image.image
    assert np.all(np.isfinite(img[:, 4:])) and np.all(np.isnan(img[:, :4]))
    # the norm curve has a point for each revealed timestep
    x, y = win.deltas.curves["‖dL/dhₜ‖"].getData()
    assert np.sum(np.isfinite(y)) == 2
    # the heatmap holds exactly the engine's dL/dh of sequence 1
    rec = win.controller.record
    np.testing.assert_allclose(img[:, 4], np.asarray(rec.dh[0], dtype=np.float32))


def test_shift_right_walks_the_phases(qtbot, shared_window):
    win = shared_window
    c = win.controller
    press(qtbot, win, Key.Key_Right)
    seen = [type(c.record)]
    for _ in range(4):
        press(qtbot, win, Key.Key_Right, Mod.ShiftModifier)
        seen.append(type(c.record))
    assert seen == [ForwardStep, LossStep, BackwardStep, GradientStep, UpdateStep]
    assert c.record.phase == "update"
    press(qtbot, win, Key.Key_Left, Mod.ShiftModifier)  # back to the start of the previous phase
    assert isinstance(c.record, GradientStep)
    # after the last record, the next phase is the forward pass of a new iteration
    press(qtbot, win, Key.Key_Right, Mod.ShiftModifier)
    press(qtbot, win, Key.Key_Right, Mod.ShiftModifier)
    assert isinstance(c.record, ForwardStep) and c.record.t == 0
    assert c.session.iteration == 2


def test_ctrl_right_runs_one_whole_iteration(qtbot, shared_window):
    win = shared_window
    c = win.controller
    for n in range(1, 4):
        press(qtbot, win, Key.Key_Right, Mod.ControlModifier)
        assert c.session.iteration == n
        assert isinstance(c.record, UpdateStep)
        assert f"iteration {n}" in win.status_labels["iteration"].text()
    assert c.session.history["loss"].n == 3


def test_right_after_the_last_record_fetches_the_next_iteration(qtbot, shared_window):
    win = shared_window
    c = win.controller
    press(qtbot, win, Key.Key_Right, Mod.ControlModifier)
    first = c.trace
    press(qtbot, win, Key.Key_Right)
    assert c.trace is not first
    assert c.session.iteration == 2 and c.cursor == 0
    assert "iteration 2" in win.status_labels["iteration"].text()


def test_transport_buttons_do_what_the_keys_do(qtbot, shared_window):
    win = shared_window
    c = win.controller
    buttons = {a.objectName(): win.transport.widgetForAction(a) for a in win.transport.actions()}
    qtbot.mouseClick(buttons["step"], QtCore.Qt.MouseButton.LeftButton)
    qtbot.mouseClick(buttons["step"], QtCore.Qt.MouseButton.LeftButton)
    assert isinstance(c.record, ForwardStep) and c.record.t == 1
    qtbot.mouseClick(buttons["back"], QtCore.Qt.MouseButton.LeftButton)
    assert c.record.t == 0
    qtbot.mouseClick(buttons["phase"], QtCore.Qt.MouseButton.LeftButton)
    assert isinstance(c.record, LossStep)
    qtbot.mouseClick(buttons["iteration"], QtCore.Qt.MouseButton.LeftButton)
    assert isinstance(c.record, UpdateStep) and c.session.iteration == 2
    qtbot.mouseClick(buttons["reset"], QtCore.Qt.MouseButton.LeftButton)
    assert c.session.iteration == 0 and c.trace is None


def test_graph_highlights_the_current_step_and_the_moving_delta(qtbot, shared_window):
    win = shared_window
    for _ in range(9):  # ... backward t=4
        press(qtbot, win, Key.Key_Right)
    f = win.graph.frame
    T = 6
    assert f.column == 4.0
    assert f.highlight == [T + 4]  # h_4
    # the delta flows into h_4 from y_4 and from h_5
    assert set(f.pulses) == {(2 * T + 4, T + 4, "backward"), (T + 5, T + 4, "backward")}
    # the nodes item got the ring on h_4
    nodes = win.graph.nodes
    ring_ids = [int(nodes.ids[i]) for i in nodes.rings]
    assert ring_ids == [T + 4]
    # edge widths grow with the revealed deltas: the y_4 -> h_4 edge is lit now
    kinds = f.edges.tolist()
    i = kinds.index([T + 4, 2 * T + 4])
    assert f.edge_state[i] == 2 and f.edge_width[i] > 0
    # the dots move along the edges, then rest part-way (an arrowhead)
    qtbot.wait(600)
    pts = win.graph.pulses.getData()
    assert len(pts[0]) == 2
    assert win.graph.animate() is False


def test_hover_tooltip_shows_vector_norm_and_equation(qtbot, shared_window):
    win = shared_window
    for _ in range(9):
        qtbot.keyClick(win.graph, Key.Key_Right)
    f = win.graph.frame
    text = f.tip(6 + 4)  # h_4
    assert "h₄ = tanh(x₄ W_xh + h₃ W_hh + b_h)" in text
    assert "‖·‖ =" in text and "dL/dh₄" in text
    # the nodes item finds the node under a point
    nodes = win.graph.nodes
    k = list(nodes.ids).index(10)
    pt = QtCore.QPointF(*nodes.points[k])
    assert nodes.node_at(pt) == k


def test_hovering_a_node_shows_its_tooltip(qtbot, make_window):

    win = make_window()
    for _ in range(9):
        qtbot.keyClick(win.graph, Key.Key_Right)
    nodes = win.graph.nodes
    k = list(nodes.ids).index(6 + 4)  # h_4
    view = win.graph.plot
    pos = view.mapFromScene(nodes.mapToScene(QtCore.QPointF(*nodes.points[k])))
    qtbot.mouseMove(view.viewport(), pos)
    qtbot.waitUntil(lambda: nodes.hovered == k, timeout=2000)
    from bpttviz.views.tip_panel import panel_for  # a tip that stays (and can be pinned), not a QToolTip

    tip = panel_for(win.graph)
    assert tip.isVisible() and tip.text.text().startswith("h₄ = tanh(")
