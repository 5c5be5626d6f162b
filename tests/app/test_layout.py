"""The layout policy and the newcomer's helpers: first launch, reset layout, enlarging a view, the
log loss axis, the Presets and Help menus, hover read-outs, plot data as CSV, tips that stay,
explain text that never breaks a number, and task legends that list only what is drawn."""

from __future__ import annotations

import csv

import numpy as np
import pytest
from PySide6 import QtCore, QtGui, QtWidgets

from bpttviz.views.decay_view import clip_top
from bpttviz.window.main_window import layout_plan, preset_groups, preset_line

from .conftest import small_session

SIZE = (1366, 740)


def _shown(w: QtWidgets.QWidget) -> bool:
    win = w.window()
    return w.isVisible() and win.rect().intersects(QtCore.QRect(w.mapTo(win, QtCore.QPoint(0, 0)), w.size()))


def test_layout_plan_shares_tabs_only_where_side_by_side_is_unreadable():
    small, big = layout_plan(1366, 740), layout_plan(3000, 1600)
    assert small.bottom_tabbed and not big.bottom_tabbed
    assert small.left + small.right < 0.65 * 1366 and small.bottom >= 340
    assert layout_plan(1280, 692).bottom >= 340


def test_first_launch_is_maximised_unless_a_geometry_was_remembered(qtbot, make_window):
    win = make_window(show=False)
    assert not win.geometry_remembered
    win.show_first()
    qtbot.waitUntil(win.isMaximized, timeout=3000)
    win.showNormal()
    win.resize(1000, 700)
    win.save_settings()
    again = make_window(show=False)
    assert again.geometry_remembered
    again.show_first()
    qtbot.wait(50)
    assert not again.isMaximized()


def test_reset_layout_never_collapses_a_view(qtbot, make_window):
    win = make_window(size=SIZE)
    qtbot.wait(50)
    win.docks["gradcheck"].setFloating(True)
    win.docks["weights"].hide()
    win.docks["loss"].hide()
    win.act["reset_layout"].trigger()
    qtbot.wait(50)
    for name in ("weights", "gradcheck", "buglab", "config", "task", "explain", "deltas", "decay", "loss"):
        d = win.docks[name]
        d.raise_()
        qtbot.wait(10)
        assert _shown(d) and not d.isFloating(), name
        assert d.width() >= 280 and d.height() >= 300, (name, d.size())
    assert win.size() == QtCore.QSize(*SIZE)


def test_enlarge_a_view_and_back(qtbot, make_window):
    win = make_window(size=SIZE)
    qtbot.wait(50)
    win.docks["decay"].raise_()
    qtbot.wait(20)
    before = win.docks["decay"].geometry()
    win.toggle_enlarged("decay")
    qtbot.wait(50)
    assert win.enlarged_view() == "decay" and not win.graph.isVisible()
    d = win.docks["decay"]
    assert d.width() * d.height() >= 0.8 * win.centralWidget().parentWidget().width() * 0.8 * 600
    assert all(not other.isVisible() for n, other in win.docks.items() if n != "decay")
    win.act["enlarge"].trigger()  # Ctrl+Shift+F: back
    qtbot.wait(50)
    assert win.enlarged_view() is None and win.graph.isVisible() and win.docks["config"].isVisible()
    win.docks["decay"].raise_()
    qtbot.wait(20)
    assert win.docks["decay"].geometry() == before
    # a double-click on a dock's title does the same
    title = QtCore.QPointF(20, 8)
    for _ in range(2):
        ev = QtGui.QMouseEvent(QtCore.QEvent.Type.MouseButtonDblClick, title, title,
                               QtCore.Qt.MouseButton.LeftButton, QtCore.Qt.MouseButton.LeftButton,
                               QtCore.Qt.KeyboardModifier.NoModifier)
        QtWidgets.QApplication.sendEvent(win.docks["weights"], ev)
        qtbot.wait(30)
        if win.enlarged_view():
            assert win.enlarged_view() == "weights" and not win.docks["weights"].isFloating()
    assert win.enlarged_view() is None


def test_loss_on_a_log_axis(qtbot, make_window):
    win = make_window(size=SIZE)
    c = win.controller
    for _ in range(40):
        c.session.train_step()
    win.docks["loss"].raise_()
    qtbot.wait(20)
    c.refresh_all()
    x, y = win.loss.smooth.getOriginalDataset()
    win.loss.log.trigger()  # View ▸ Loss on a log scale
    c.refresh_all()
    qtbot.wait(20)
    assert win.loss.loss_plot.ctrl.logYCheck.isChecked()
    x2, y2 = win.loss.smooth.getOriginalDataset()
    np.testing.assert_array_equal(y, y2)  # the same numbers, another axis
    ticks = win.loss.loss_plot.getAxis("left")._tickLevels[0]
    assert len(ticks) >= 3
    for pos, label in ticks:  # each label is the value at its height on the log axis
        assert float(label) == pytest.approx(10.0**pos, rel=1e-9)
    lo, hi = win.loss.loss_plot.getViewBox().viewRange()[1]
    finite = y2[np.isfinite(y2)]
    assert 10**lo <= finite.min() and finite.max() <= 10**hi
    win.loss.log.trigger()
    assert not win.loss.loss_plot.ctrl.logYCheck.isChecked()


def test_presets_menu_is_grouped_with_descriptions_and_a_check_mark(qtbot, make_window):
    win = make_window(size=SIZE)
    groups = preset_groups()
    assert set(groups) >= {"Language models", "Sequence tasks", "Lectures (guided scenarios)"}
    assert all(n.startswith("lecture") for n in groups["Lectures (guided scenarios)"])
    sections = [a.text() for a in win.presets_menu.actions() if a.isSeparator() and a.text()]
    assert sections == list(groups)
    for names in groups.values():
        for n in names:
            a = win.preset_actions[n]
            assert n in a.text() and preset_line(n) in a.text() and a.toolTip()
    win.config.confirm = lambda _t: True
    win.preset_actions["parity-rnn"].trigger()
    assert win.preset_actions["parity-rnn"].isChecked()
    assert sum(a.isChecked() for a in win.preset_actions.values()) == 1
    assert win.controller.session.cfg.task == "parity"


def test_getting_started_names_every_view(qtbot, make_window):
    win = make_window(size=SIZE)
    win.act["getting_started"].trigger()
    box = win.findChild(QtWidgets.QMessageBox, "getting_started")
    assert box is not None and box.isVisible()
    text = QtGui.QTextDocumentFragment.fromHtml(box.text()).toPlainText()
    for title in ("Unrolled graph", *(d.windowTitle() for n, d in win.docks.items()
                                      if n in ("config", "task", "explain", "weights", "deltas", "decay", "loss"))):
        assert title in text, title
    box.close()


def test_hover_read_out_gives_the_value_under_the_pointer(qtbot, make_window):
    win = make_window(size=SIZE)
    c = win.controller
    for _ in range(25):
        c.session.train_step()
    win.docks["loss"].raise_()
    qtbot.wait(30)
    c.refresh_all()
    qtbot.wait(30)
    readout = next(r for r in win.readouts if r.view is win.loss.glw)
    x, y = win.loss.smooth.getOriginalDataset()
    i = 10
    scene = win.loss.loss_plot.getViewBox().mapViewToScene(QtCore.QPointF(x[i], y[i]))
    text = readout.read(scene)
    assert f"{y[i]:.4g} at x = {x[i]:.4g}" in text, text
    heat = win.weights.value
    img = heat.image.image
    r, col = 3, 7
    at = heat.image.mapToScene(QtCore.QPointF(col + 0.5, r + 0.5))
    wr = next(rd for rd in win.readouts if rd.view is win.weights.glw)
    assert f"row {r}, column {col}: {float(img[r, col]):.4g}" in wr.read(at)


def test_plot_data_as_csv(qtbot, make_window, tmp_path):
    win = make_window(size=SIZE)
    c = win.controller
    for _ in range(12):
        c.session.train_step()
    win.docks["loss"].raise_()
    qtbot.wait(20)
    c.refresh_all()
    path = win.save_plot_csv(win.loss.glw, str(tmp_path / "loss.csv"))
    rows = list(csv.reader(open(path, encoding="utf-8")))
    assert rows[0] == ["plot", "series", "x / row", "y / column", "value"]
    x, y = win.loss.raw.getOriginalDataset()
    got = [(float(r[2]), float(r[3])) for r in rows[1:] if r[0].startswith("loss") and r[1] == "curve 0"]
    assert len(got) == len(x) and np.allclose(got, np.column_stack([x, y]), equal_nan=True)
    path = win.save_plot_csv(win.weights.glw, str(tmp_path / "w.csv"))
    cells = [r for r in csv.reader(open(path, encoding="utf-8")) if r[1] == "image" and r[0].startswith("W_hh")]
    W = c.session.model.params["W_hh"]
    assert len(cells) == W.size
    assert float(cells[5][4]) == pytest.approx(float(np.float32(W.flat[5])))


def test_node_tips_stay_and_can_be_pinned(qtbot, make_window):
    from bpttviz.views.tip_panel import GRACE_MS, hide_tip, panel_for, show_tip

    win = make_window(size=SIZE)
    text = "\n".join(f"line {i}" for i in range(10))
    show_tip(win.graph.plot, win.mapToGlobal(QtCore.QPoint(300, 300)), text)
    panel = panel_for(win.graph)
    assert panel.isVisible() and panel.text.text() == text
    # the tip's only clock is its grace timer: rather than waiting on the wall clock, the test
    # checks when it runs and for how long, and lets a countdown end at once
    qtbot.wait(20)
    assert panel.isVisible() and not panel.timer.isActive()  # resting: nothing counts down, it stays
    panel.pin.setChecked(True)
    hide_tip(win.graph.plot)
    assert not panel.timer.isActive()  # pinned: the pointer leaving starts no countdown
    panel.timer.start(0)  # and were the grace period over, a pinned tip would stay
    qtbot.wait(20)
    assert panel.isVisible()
    panel.close_tip()
    assert not panel.isVisible()
    show_tip(win.graph.plot, win.mapToGlobal(QtCore.QPoint(300, 300)), "x")
    hide_tip(win.graph.plot)
    assert panel.isVisible() and panel.timer.isActive() and panel.timer.interval() == GRACE_MS
    assert panel.timer.isSingleShot()
    panel.timer.start(0)  # the grace period ends now
    qtbot.waitUntil(lambda: not panel.isVisible(), timeout=1000)


def _line_breaks(doc: QtGui.QTextDocument) -> list[tuple[str, str]]:
    """(end of a line, start of the next) for every line break the layout made inside a block."""
    out = []
    block = doc.begin()
    while block.isValid():
        lay, text = block.layout(), block.text()
        for i in range(lay.lineCount() - 1):
            end = lay.lineAt(i).textStart() + lay.lineAt(i).textLength()
            out.append((text[max(0, end - 8):end], text[end:end + 8]))
        block = block.next()
    return out


def test_explain_breaks_lines_only_at_spaces(qtbot, make_window):
    win = make_window(session=small_session(hidden_size=5), size=SIZE)
    win.docks["explain"].raise_()
    c = win.controller
    c.step_phase()
    c.step_phase()
    c.step_phase()  # the update: numbers with exponents
    c.refresh_all()
    win.docks["explain"].setMinimumWidth(10)
    win.resizeDocks([win.docks["explain"]], [200], QtCore.Qt.Orientation.Horizontal)
    qtbot.wait(50)
    doc = win.explain.text.document()
    doc.setTextWidth(150)
    breaks = _line_breaks(doc)
    assert breaks  # narrow enough to wrap
    for before, after in breaks:
        assert before.endswith((" ", "\u00a0")) is True or not before[-1:].isalnum() or not after[:1].isalnum(), \
            (before, after)
        assert not (before[-1:].isdigit() and after[:1].isdigit()), (before, after)


def test_decay_bound_stops_at_the_top_of_the_plot():
    k = np.arange(6.0)
    y = 10.0 ** k  # 1 ... 1e5
    x2, y2 = clip_top(k, y, 1e3)
    assert y2.max() == pytest.approx(1e3) and list(x2[:-1]) == [0, 1, 2, 3] and x2[-1] == pytest.approx(3.0)
    x3, y3 = clip_top(k, y, 10**2.5)
    assert x3[-1] == pytest.approx(2.5) and y3[-1] == pytest.approx(10**2.5)
    assert clip_top(k, y, 1e9)[0].tolist() == k.tolist()


@pytest.mark.parametrize("preset, drawn", [("parity-rnn", ["input"]), ("sine-rnn", ["input", "target", "prediction"]),
                                           ("adding-rnn", ["input", "marked values"])])
def test_task_legend_lists_only_what_is_drawn(qtbot, make_window, preset, drawn):
    win = make_window(preset=preset, size=SIZE)
    s = win.controller.session
    s.train_step()
    win.task.show_view(s.task.view(s.model), [], s.task.describe())
    assert [label.text for _sample, label in win.task.legend.items] == drawn
    for item, name in ((win.task.s_target, "target"), (win.task.s_pred, "prediction")):
        assert (len(item.getData()[0] if item.getData()[0] is not None else []) > 0) == (name in drawn)
    if preset == "parity-rnn":  # bits held for a whole step: a staircase, not a zig-zag
        assert win.task.s_input.opts["stepMode"] == "center"
        xs, ys = win.task.s_input.getData()
        assert set(np.unique(ys)) <= {0.0, 1.0}


@pytest.mark.parametrize("size, lecture", [((1280, 692), False), ((1366, 740), False), ((1920, 1080), True)])
def test_shortcut_overlay_fits_the_window(qtbot, make_window, size, lecture):
    win = make_window(size=size)
    if lecture:
        win.lecture.enter(full_screen=False)
        qtbot.wait(80)
    win.show_shortcuts()
    qtbot.wait(20)
    fit = win.overlay.fit()
    assert fit["fits"], (size, fit["size"], win.overlay.size())
    w, h = fit["size"]
    assert w <= win.overlay.width() - 40 and h <= win.overlay.height() - 40
    body = win.theme.pixels(1.0)
    assert all(QtGui.QFontInfo(f).pixelSize() >= body for f in fit["fonts"])
    win.overlay.hide()
