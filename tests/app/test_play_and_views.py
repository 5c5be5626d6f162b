"""Play/pause, speed, and that every view receives the data (read back from its items)."""

from __future__ import annotations

import time

import numpy as np
from PySide6 import QtCore

from bpttviz.engine.records import UpdateStep

from .conftest import FakeClock, small_session

Key = QtCore.Qt.Key


def test_space_plays_and_pauses(qtbot, shared_window):
    win = shared_window
    c = win.controller
    qtbot.keyClick(win.graph, Key.Key_Space)
    assert c.playing
    assert "Pause" in win.act["play"].text()
    qtbot.waitUntil(lambda: c.session.iteration >= 5, timeout=5000)
    qtbot.keyClick(win.graph, Key.Key_Space)
    assert not c.playing
    n = c.session.iteration
    qtbot.wait(200)
    assert c.session.iteration == n  # paused means paused
    assert "Play" in win.act["play"].text()


def test_play_button_and_speed(qtbot, shared_window):
    """At 10 iterations a second the training timer trains 2.5 iterations per 0.25 s of the
    controller's clock (a fake one the test moves on: no waiting for the wall clock)."""
    win = shared_window
    c = win.controller
    clock = FakeClock()
    c.clock = clock
    win.transport.set_speed(10)
    assert c.speed == 10
    button = win.transport.widgetForAction(win.act["play"])
    qtbot.mouseClick(button, QtCore.Qt.MouseButton.LeftButton)
    assert c.playing
    for k in range(1, 4):  # 0.75 s: 2, 5, then 7 iterations (the half iteration is owed)
        clock.advance(0.25)
        qtbot.waitUntil(lambda k=k: c.session.iteration >= int(2.5 * k), timeout=5000)
    qtbot.mouseClick(button, QtCore.Qt.MouseButton.LeftButton)
    assert not c.playing
    assert c.session.iteration == 7  # 10 per second, to the iteration
    c.clock = time.perf_counter
    win.transport.set_speed(None)


def test_playing_keeps_every_view_fed(qtbot, shared_window):
    win = shared_window
    c = win.controller
    c.play()
    qtbot.waitUntil(lambda: c.session.iteration >= 30, timeout=10000)
    c.pause()
    qtbot.wait(50)
    # unrolled graph: the latest narrated iteration, shown complete
    assert isinstance(c.record, UpdateStep)
    assert np.all(np.isfinite(win.graph.frame.node_value[6:12]))  # h nodes coloured
    # deltas heatmap: (hidden units, time) filled
    img = win.deltas.heat.image.image
    assert img.shape == (12, 6) and np.all(np.isfinite(img))
    assert win.deltas.heat.image.levels[0] == -win.deltas.heat.image.levels[1]  # symmetric
    # loss view: one raw point per iteration, a smoothed curve, the metric
    win.docks["loss"].raise_()  # the bottom plots share tabs at this size: only a shown view is painted
    qtbot.wait(20)
    c.refresh_all()
    x, y = win.loss.raw.getData()
    assert len(x) == c.session.iteration and np.all(np.isfinite(y))
    assert len(win.loss.smooth.getData()[0]) == len(x)
    assert len(win.loss.metric_curve.getData()[0]) >= 1
    # weights view: the recurrent matrix and its gradient
    assert win.weights.current_parameter() == "W_hh"
    np.testing.assert_allclose(win.weights.value.image.image, c.session.model.params["W_hh"].astype(np.float32))
    assert win.weights.grad.image.image.shape == (12, 12)
    assert any(len(curve.getData()[0]) > 1 for curve in win.weights.curves.values())
    # decay view: one point per step back, with the reference line
    win.docks["decay"].raise_()
    qtbot.wait(20)
    c.refresh_all()
    kx, ky = win.decay.curve.xData, win.decay.curve.yData  # (getData gives log10 values)
    assert len(kx) == 6 and np.all(ky > 0)
    rk, _ry = win.decay.ref.getData()  # the bound, drawn up to the plot's top edge (a crossing point added)
    assert rk[0] == 0 and 2 <= len(rk) <= 7
    # task view: generated text
    win.docks["task"].raise_()
    c.refresh_all()
    assert "sampled now" in win.task.text.toPlainText()


def test_hidden_views_are_not_painted(qtbot, shared_window):
    win = shared_window
    c = win.controller
    win.docks["loss"].hide()
    before = c.binding("loss view").pushes
    c.play()
    qtbot.waitUntil(lambda: c.session.iteration >= 10, timeout=5000)
    c.pause()
    assert c.binding("loss view").pushes == before
    assert c.binding("unrolled graph").pushes > 0
    win.docks["loss"].show()
    win.docks["loss"].raise_()  # its tab, where the bottom plots share tabs
    qtbot.wait(100)
    assert c.binding("loss view").pushes > before  # catches up once visible


def test_task_view_for_a_2d_mlp_draws_the_decision_boundary(qtbot, make_window):
    win = make_window(preset="xor-mlp")
    c = win.controller
    win.docks["task"].raise_()
    qtbot.keyClick(win.graph, Key.Key_Right, QtCore.Qt.KeyboardModifier.ControlModifier)
    qtbot.wait(50)
    assert win.task.kind == "boundary"
    img = win.task.boundary.image
    assert img.ndim == 3 and img.shape[-1] == 3
    assert len(win.task.points.data) == len(c.session.task.y_train)


def test_mlp_graph_has_a_node_per_unit_and_steps_by_layer(qtbot, make_window):
    win = make_window(preset="xor-mlp")
    c = win.controller
    sizes = c.session.model.layer_sizes  # [2, 8, 2]
    qtbot.keyClick(win.graph, Key.Key_Right)
    f = win.graph.frame
    assert len(f.pos) == sum(sizes) + 1  # units + the loss
    assert "Forward, layer 1" in f.caption
    for _ in range(len(sizes)):  # the rest of the forward pass, then the loss
        qtbot.keyClick(win.graph, Key.Key_Right)
    assert c.record.phase == "backward" and c.record.index == len(sizes) - 1
    assert "dL/dz" in win.graph.frame.caption
    img = win.deltas.heat.image.image  # units x layers
    assert img.shape == (max(sizes[1:]), len(sizes) - 1)
    assert np.all(np.isfinite(img[: sizes[-1], -1])) and np.all(np.isnan(img[:, 0]))


def test_lstm_offers_the_cell_state_delta(qtbot, make_window):
    win = make_window(small_session(model="lstm"))
    c = win.controller
    for _ in range(8):  # forward x6, loss, backward t=5
        qtbot.keyClick(win.graph, Key.Key_Right)
    choices = [win.deltas.quantity.itemData(i) for i in range(win.deltas.quantity.count())]
    assert choices == ["dh", "dpre", "dc"]
    win.deltas.quantity.setCurrentIndex(2)
    qtbot.wait(20)
    img = win.deltas.heat.image.image
    np.testing.assert_allclose(img[:, 5], np.asarray(c.record.extras["dc"][0], dtype=np.float32))
    assert "‖dL/dcₜ‖" in win.deltas.curves
    assert win.weights.current_parameter() == "W_h"


def test_training_in_the_app_is_deterministic(qtbot, shared_window):
    """Which iterations get narrated depends on timing; the numbers must not."""
    win = shared_window
    c = win.controller
    c.play()
    qtbot.waitUntil(lambda: c.session.iteration >= 40, timeout=10000)
    c.pause()
    n = c.session.iteration
    headless = small_session()
    headless.train(n)
    for name, p in headless.model.params.items():
        np.testing.assert_array_equal(c.session.model.params[name], p)


def test_colour_blind_safe_map(qtbot, make_window):
    win = make_window()
    win.controller.step_iteration()
    before = win.deltas.heat.bar.colorMap().getColors()
    win.act["colourblind"].trigger()
    assert win.theme.diverging.startswith("purple-orange")
    after = win.deltas.heat.bar.colorMap().getColors()
    assert not np.array_equal(before, after)
    assert tuple(after[0][:3]) == (0x54, 0x27, 0x88)  # PuOr's purple end for negative values


def test_the_weights_line_is_whole_on_a_laptop_screen(qtbot, make_window):
    """At 1366x768 the weights dock is narrow: its line of numbers (longest at the update record,
    before → after) wraps instead of being cut, and says the moment it belongs to."""
    from bpttviz.engine.records import UpdateStep

    win = make_window(preset="min-char-rnn", size=(1366, 768))
    c = win.controller
    for _ in range(400):
        c.step_record()
        if isinstance(c.record, UpdateStep):
            break
    assert isinstance(c.record, UpdateStep)
    c.paint()
    qtbot.wait(20)
    info = win.weights.info
    f = win.weights.frame
    assert info.isVisible() and f"‖{f.name}‖ {f.norm_before:.4g} → {f.norm:.4g}" in info.text()
    assert info.text().endswith(f"({c.moment.label()})")
    assert info.heightForWidth(info.width()) <= info.height(), (info.width(), info.text())
