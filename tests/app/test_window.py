"""The window: remembered layout, zoom, full screen, the shortcut overlay, rendering, errors."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
from PySide6 import QtCore, QtGui

Key = QtCore.Qt.Key
Mod = QtCore.Qt.KeyboardModifier


def test_layout_is_remembered(qtbot, make_window):
    win = make_window()
    win.docks["loss"].hide()
    win.addDockWidget(QtCore.Qt.DockWidgetArea.RightDockWidgetArea, win.docks["deltas"])
    qtbot.keyClick(win.graph, Key.Key_D)  # colour nodes by delta size
    win.close()
    again = make_window()
    assert not again.docks["loss"].isVisible()
    assert again.dockWidgetArea(again.docks["deltas"]) == QtCore.Qt.DockWidgetArea.RightDockWidgetArea
    assert again.graph.current_mode() == "delta"
    again.reset_layout()
    assert again.docks["loss"].isVisible()
    assert again.dockWidgetArea(again.docks["deltas"]) == QtCore.Qt.DockWidgetArea.BottomDockWidgetArea


def test_zoom_scales_fonts_including_plot_axes(qtbot, make_window):
    win = make_window()

    def axis_points():
        return win.loss.loss_plot.getAxis("bottom").style["tickFont"].pointSizeF()

    base_axis, base_ui = axis_points(), win.status_labels["iteration"].font().pointSizeF()
    qtbot.keyClick(win.graph, Key.Key_Equal, Mod.ControlModifier)
    qtbot.keyClick(win.graph, Key.Key_Equal, Mod.ControlModifier)
    assert win.theme.scale == pytest.approx(1.15**2)
    assert axis_points() == pytest.approx(base_axis * 1.15**2, rel=0.02)
    assert win.status_labels["iteration"].font().pointSizeF() > base_ui
    assert win.graph.caption.font().pointSizeF() > base_ui
    qtbot.keyClick(win.graph, Key.Key_Minus, Mod.ControlModifier)
    assert win.theme.scale == pytest.approx(1.15)
    qtbot.keyClick(win.graph, Key.Key_0, Mod.ControlModifier)
    assert win.theme.scale == 1.0 and axis_points() == pytest.approx(base_axis)
    qtbot.keyClick(win.graph, Key.Key_Equal, Mod.ControlModifier)
    win.close()
    assert make_window().theme.scale == pytest.approx(1.15)  # remembered


def test_full_screen_and_escape(qtbot, shared_window):
    win = shared_window
    qtbot.keyClick(win.graph, Key.Key_F11)
    qtbot.waitUntil(win.isFullScreen, timeout=2000)
    qtbot.keyClick(win.graph, Key.Key_Escape)
    qtbot.waitUntil(lambda: not win.isFullScreen(), timeout=2000)


def test_question_mark_shows_the_shortcuts(qtbot, shared_window):
    win = shared_window
    qtbot.keyClick(win.graph, Key.Key_Question, Mod.ShiftModifier)
    assert win.overlay.isVisible()
    assert any("Space" in k for k, _ in win.overlay.rows)
    img = win.overlay.grab().toImage()
    assert img.width() == win.width()
    qtbot.keyClick(win.overlay, Key.Key_A)
    assert not win.overlay.isVisible()


def _distinct_colours(img: QtGui.QImage, step: int = 7) -> int:
    img = img.convertToFormat(QtGui.QImage.Format.Format_RGB32)
    ptr = img.constBits()
    a = np.frombuffer(ptr, dtype=np.uint32, count=img.width() * img.height()).reshape(img.height(), img.width())
    return len(np.unique(a[::step, ::step]))


def test_window_renders_non_blank_at_1280x800(qtbot, shared_window):
    win = shared_window
    c = win.controller
    for _ in range(5):
        c.session.train_step()
    c.step_iteration()
    c.refresh_all()
    qtbot.wait(50)
    img = win.grab().toImage()
    assert (img.width(), img.height()) == (1280, 800)
    assert _distinct_colours(img) > 200
    graph = win.graph.plot.grab().toImage()
    assert graph.width() > 500 and _distinct_colours(graph, 3) > 30


def test_screenshot_from_the_command_line(tmp_path):
    out = tmp_path / "shot.png"
    res = subprocess.run([sys.executable, "-m", "bpttviz", "--screenshot", str(out), "--steps", "3",
                          "--size", "900x600"], capture_output=True, text=True, timeout=120,
                         env={**__import__("os").environ, "QT_QPA_PLATFORM": "offscreen"})
    assert res.returncode == 0, res.stderr
    img = QtGui.QImage(str(out))
    assert (img.width(), img.height()) == (900, 600)
    assert _distinct_colours(img) > 100


def test_bad_screenshot_size_is_one_line_and_exit_2(tmp_path):
    res = subprocess.run([sys.executable, "-m", "bpttviz", "--screenshot", str(tmp_path / "x.png"),
                          "--size", "huge"], capture_output=True, text=True, timeout=60)
    assert res.returncode == 2
    assert res.stderr.strip().count("\n") == 0 and "--size" in res.stderr


def test_an_exception_while_painting_is_reported_and_the_app_goes_on(qtbot, make_window, monkeypatch):
    win = make_window()
    c = win.controller

    def broken(frame):
        raise RuntimeError("the deltas view broke")

    monkeypatch.setattr(win.deltas, "show_frame", broken)
    qtbot.keyClick(win.graph, Key.Key_Right)
    assert c.last_error is not None and "the deltas view broke" in c.last_error[0]
    assert "drawing the deltas view" in win.statusBar().currentMessage()
    assert any(box.objectName() == "error_dialog" and "RuntimeError" in box.detailedText() for box in win.dialogs)
    qtbot.keyClick(win.graph, Key.Key_Right)  # still steps, and the other views still paint
    assert c.record.t == 1
    assert "t=1" in win.graph.caption.text()
    n_dialogs = len(win.dialogs)
    qtbot.keyClick(win.graph, Key.Key_Right)
    assert len(win.dialogs) == n_dialogs  # one dialog per distinct error, not one per frame


def test_an_exception_while_stepping_is_reported(qtbot, make_window, monkeypatch):
    win = make_window()
    c = win.controller

    def boom():
        raise ValueError("no more data")

    monkeypatch.setattr(c.session, "narrated_step", boom)
    qtbot.keyClick(win.graph, Key.Key_Right)
    assert "no more data" in c.last_error[0]
    assert win.isVisible() and c.trace is None


def test_a_blow_up_pauses_and_offers_a_roll_back(qtbot, make_window):
    from .conftest import small_session

    win = make_window(small_session(task="sine", activation="relu", optimizer="sgd", lr=1.0, clip="none",
                                    init="xavier", init_scale=3.0))
    c = win.controller
    c.play()
    qtbot.waitUntil(lambda: c.session.blowup is not None, timeout=10000)
    assert not c.playing
    assert "Non-finite" in win.statusBar().currentMessage()
    assert "non-finite" in win.status_labels["state"].text()
    box = next(b for b in win.dialogs if b.objectName() == "blowup_dialog")
    c.play()
    assert not c.playing  # refuses to train on NaN
    roll = next(b for b in box.buttons() if b.text() == "Roll back")
    roll.click()
    assert c.session.blowup is None
    assert all(np.all(np.isfinite(p)) for p in c.session.model.params.values())


def test_gui_without_a_display_says_so(tmp_path):
    import os

    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM")}
    res = subprocess.run([sys.executable, "-m", "bpttviz"], capture_output=True, text=True, timeout=60, env=env)
    assert res.returncode == 2 and "no display" in res.stderr and res.stderr.count("\n") == 1


def test_unknown_preset_is_one_line_and_exit_2():
    res = subprocess.run([sys.executable, "-m", "bpttviz", "--preset", "nosuch", "--screenshot", "x.png"],
                         capture_output=True, text=True, timeout=60)
    assert res.returncode == 2 and "unknown preset 'nosuch'" in res.stderr and res.stderr.count("\n") == 1


def test_the_iteration_that_blew_up_can_be_stepped_through(qtbot, make_window):
    from .conftest import small_session

    win = make_window(small_session(task="sine", activation="relu", optimizer="sgd", lr=1.0, clip="none",
                                    init="xavier", init_scale=3.0))
    c = win.controller
    for _ in range(20):
        qtbot.keyClick(win.graph, Key.Key_Right, Mod.ControlModifier)
        if c.session.blowup is not None:
            break
    assert c.session.blowup is not None
    n = c.session.iteration
    trace = c.trace
    qtbot.keyClick(win.graph, Key.Key_Right, Mod.ControlModifier)  # no new iteration on NaN
    assert c.session.iteration == n and c.trace is trace
    c.go_to(0)
    while c.cursor < len(trace) - 1 and not win.graph.frame.node_bad.any():
        qtbot.keyClick(win.graph, Key.Key_Right)
    assert win.graph.frame.node_bad.any()  # the non-finite node shows in red
    assert "NaN or Inf" in win.graph.legend.text()
