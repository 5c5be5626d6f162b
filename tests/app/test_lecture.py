"""Lecture mode (F5 / Ctrl+L / --lecture) and the explain panel."""

from __future__ import annotations

import subprocess
import sys

import pytest
from PySide6 import QtCore, QtGui

from bpttviz.features.lecture import LECTURE_LINES, lecture_scale
from bpttviz.views.theme import DIVERGING_NAMES

from .conftest import small_session

Key = QtCore.Qt.Key
Mod = QtCore.Qt.KeyboardModifier


def _fonts(win) -> dict[str, float]:
    return {
        "status": win.status_labels["iteration"].font().pointSizeF(),
        "graph caption": win.graph.caption.font().pointSizeF(),
        "loss axis": win.loss.loss_plot.getAxis("bottom").style["tickFont"].pointSizeF(),
        "decay axis": win.decay.plot.getAxis("left").style["tickFont"].pointSizeF(),
        "explain": win.explain.unit.font().pointSizeF(),
        "button": win.transport.widgetForAction(win.act["step"]).font().pointSizeF(),
    }


def _placed(win) -> dict[str, tuple[int, int, int, int]]:
    return {n: d.geometry().getRect() for n, d in win.docks.items() if d.isVisible() and d.x() >= 0}


def test_lecture_mode_scales_everything_and_leaving_restores_the_layout(qtbot, shared_window):
    win = shared_window
    win.docks["loss"].hide()  # a layout of the user's own, to be restored exactly
    win.addDockWidget(QtCore.Qt.DockWidgetArea.RightDockWidgetArea, win.docks["deltas"])
    qtbot.wait(50)
    before = _fonts(win)
    geometry, placed = win.geometry(), _placed(win)
    visible = {n: d.isVisible() for n, d in win.docks.items()}
    areas = {n: win.dockWidgetArea(d) for n, d in win.docks.items()}
    theme = win.theme

    qtbot.keyClick(win.graph, Key.Key_F5)
    qtbot.waitUntil(win.isFullScreen, timeout=3000)
    assert win.lecture.active and win.act["lecture"].isChecked()
    after = _fonts(win)
    for name, size in after.items():
        assert size > before[name] * 1.3, f"{name}: {before[name]} -> {size}"
    t = win.theme
    assert t.diverging == DIVERGING_NAMES[1] and t.line_scale == LECTURE_LINES and t.background == "#FFFFFF"
    assert win.decay.curve.opts["pen"].widthF() > 2.6  # thicker lines
    assert not win.docks["config"].isVisible() and not win.menuBar().isVisible()
    assert not win.transport.isVisible() and win.classroom.presenter.isVisible()
    shown = {a.objectName() for a in win.classroom.presenter.actions() if a.objectName()}
    assert {"back", "step", "play", "lecture"} <= shown and "reset" not in shown
    assert not win.graph.mode.isVisible()
    qtbot.keyClick(win.graph, Key.Key_PageDown)  # no scenario: the clicker steps records
    assert win.controller.trace is not None and win.controller.cursor == 0
    qtbot.keyClick(win.graph, Key.Key_PageDown)
    assert win.controller.cursor == 1
    qtbot.keyClick(win.graph, Key.Key_PageUp)
    assert win.controller.cursor == 0

    qtbot.keyClick(win.graph, Key.Key_L, Mod.ControlModifier)  # Ctrl+L leaves it too
    qtbot.waitUntil(lambda: not win.isFullScreen(), timeout=3000)
    qtbot.wait(120)  # the dock sizes are restored once more when the window has its size back
    assert not win.lecture.active and not win.act["lecture"].isChecked()
    assert win.theme == theme and _fonts(win) == before
    assert win.geometry() == geometry
    assert {n: d.isVisible() for n, d in win.docks.items()} == visible
    assert {n: win.dockWidgetArea(d) for n, d in win.docks.items()} == areas
    now = _placed(win)
    assert now.keys() == placed.keys()
    for name, rect in placed.items():  # where every visible dock is, to the pixel (Qt may round by one)
        assert all(abs(a - b) <= 1 for a, b in zip(now[name], rect)), (name, rect, now[name])
    assert win.menuBar().isVisible() and win.transport.isVisible() and not win.classroom.presenter.isVisible()
    assert win.graph.mode.isVisible()


def test_closing_in_lecture_mode_remembers_the_normal_layout(qtbot, make_window):
    win = make_window()
    scale = win.theme.scale
    qtbot.keyClick(win.graph, Key.Key_F5)
    assert win.lecture.active
    win.close()
    again = make_window()
    assert again.theme.scale == scale and again.docks["config"].isVisible() and not again.lecture.active


def test_lecture_scale_follows_the_screen_height():
    # body text 28 px tall on a 1080-pixel screen (10 pt at 96 dpi is 13.3 px), in proportion elsewhere
    assert lecture_scale(1080, 10.0, 96.0) == pytest.approx(2.1)
    assert lecture_scale(800, 10.0, 96.0) == pytest.approx(1.56)
    assert lecture_scale(1080) > lecture_scale(800)
    assert lecture_scale(100) >= 1.4 and lecture_scale(10000) <= 4.0


def test_lecture_from_the_command_line(tmp_path):
    out = tmp_path / "lecture.png"
    r = subprocess.run([sys.executable, "-m", "bpttviz", "--preset", "lecture-1-bptt-tiny", "--lecture",
                        "--screenshot", str(out), "--steps", "0", "--size", "1280x800"],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    img = QtGui.QImage(str(out))
    assert (img.width(), img.height()) == (1280, 800)


def test_explain_panel_follows_the_current_record(qtbot, make_window):
    win = make_window(session=small_session(hidden_size=5))
    win.docks["explain"].raise_()
    c = win.controller
    c.refresh_all()
    assert win.explain.title == "" and "Step" in win.explain.plain_text()
    assert win.explain.unit.maximum() == 4
    qtbot.keyClick(win.graph, Key.Key_Right)
    assert "Forward" in win.explain.title and "t = 0" in win.explain.title
    first = win.explain.title
    assert first in win.explain.plain_text()
    qtbot.keyClick(win.graph, Key.Key_Right)
    assert win.explain.title != first and "t = 1" in win.explain.title
    qtbot.keyClick(win.graph, Key.Key_U)  # the next unit
    assert win.explain.current_unit() == 1 and "unit 1" in win.explain.title
    qtbot.keyClick(win.graph, Key.Key_U, Mod.ShiftModifier)
    qtbot.keyClick(win.graph, Key.Key_U, Mod.ShiftModifier)  # wraps around
    assert win.explain.current_unit() == 4 and "unit 4" in win.explain.title
    c.step_phase()
    c.step_phase()
    assert c.record.phase == "backward" and "Backward" in win.explain.title
    text = win.explain.plain_text()
    assert "future" in text  # the delta's two sources, with their numbers
    assert win.explain.sentence.isVisible() and len(win.explain.sentence.text()) > 20  # the one-sentence reading
    # the unit selector is reachable from the keyboard
    win.explain.unit.setFocus()
    qtbot.keyClick(win.explain.unit, Key.Key_Down)
    assert win.explain.current_unit() == 3 and "unit 3" in win.explain.title


def test_explain_panel_is_legible_in_lecture_mode(qtbot, shared_window):
    win = shared_window
    win.docks["explain"].raise_()
    small = win.explain.body_pixels()
    qtbot.keyClick(win.graph, Key.Key_Right)
    qtbot.keyClick(win.graph, Key.Key_F5)
    assert win.explain.body_pixels() >= small * 1.4
    assert win.docks["explain"].isVisible() and win.explain.title  # raised in its group, still shown
    html = win.explain.text.toHtml()
    assert f"font-size:{win.explain.body_pixels()}px" in html.replace(" ", "")


def test_esc_in_lecture_mode_leaves_it_whole_and_f5_twice_gives_a_proper_layout(qtbot, shared_window):
    """Esc never leaves a half state (full screen gone, lecture layout kept); F5 F5 afterwards
    enters and leaves again with the Explain panel at a readable width and the layout restored."""
    win = shared_window
    qtbot.wait(50)
    theme, geometry, placed = win.theme, win.geometry(), _placed(win)
    qtbot.keyClick(win.graph, Key.Key_F5)
    qtbot.waitUntil(win.isFullScreen, timeout=3000)
    qtbot.keyClick(win.graph, Key.Key_Escape)
    qtbot.waitUntil(lambda: not win.isFullScreen(), timeout=3000)
    qtbot.wait(120)
    assert not win.lecture.active and not win.act["lecture"].isChecked()
    assert win.theme == theme and win.menuBar().isVisible() and win.transport.isVisible()
    assert not win.classroom.presenter.isVisible() and win.geometry() == geometry
    qtbot.keyClick(win.graph, Key.Key_F5)
    qtbot.waitUntil(win.isFullScreen, timeout=3000)
    qtbot.wait(120)
    assert win.lecture.active
    explain = win.docks["explain"]
    assert explain.isVisible() and explain.width() >= 0.25 * win.width()  # not one word per line
    qtbot.keyClick(win.graph, Key.Key_F5)
    qtbot.waitUntil(lambda: not win.isFullScreen(), timeout=3000)
    qtbot.wait(120)
    assert not win.lecture.active and win.theme == theme and win.geometry() == geometry
    now = _placed(win)
    assert now.keys() == placed.keys()
    for name, rect in placed.items():
        assert all(abs(a - b) <= 1 for a, b in zip(now[name], rect)), (name, rect, now[name])


def test_esc_closes_the_shortcut_overlay_before_leaving_lecture_mode(qtbot, shared_window):
    win = shared_window
    qtbot.keyClick(win.graph, Key.Key_F5)
    win.show_shortcuts()
    assert win.overlay.isVisible()
    qtbot.keyClick(win.graph, Key.Key_Escape)
    assert not win.overlay.isVisible() and win.lecture.active
    qtbot.keyClick(win.graph, Key.Key_Escape)
    assert not win.lecture.active


@pytest.mark.parametrize("key", [Key.Key_B, Key.Key_Period])
def test_blank_screen_keys_black_out_the_window_and_bring_it_back(qtbot, shared_window, key):
    win = shared_window
    qtbot.keyClick(win.graph, Key.Key_F5)
    qtbot.waitUntil(win.isFullScreen, timeout=3000)
    blank = win.lecture.blank
    qtbot.keyClick(win.graph, key)
    assert blank.isVisible() and blank.geometry() == win.rect()
    img = win.grab().toImage()
    for x, y in ((5, 5), (win.width() // 2, win.height() // 2), (win.width() - 5, win.height() - 5)):
        assert QtGui.QColor(img.pixel(x, y)).name() == "#000000"
    qtbot.keyClick(win.graph, key)
    assert not blank.isVisible() and win.lecture.active
    qtbot.keyClick(win.graph, Key.Key_B)
    qtbot.keyClick(win.graph, Key.Key_Escape)  # Esc brings the picture back first
    assert not blank.isVisible() and win.lecture.active


def test_non_finite_nodes_have_their_own_colour():
    from bpttviz.views.theme import Theme

    t = Theme()
    assert t.nonfinite not in (t.highlight, t.backward, t.forward)


#: the most lines a lecture caption may take in lecture mode on a 1080p projector: the views
#: below it keep most of the screen
CAPTION_LINES = 4


def test_status_fields_never_overlap_in_lecture_mode(qtbot, make_window):
    """The loss field's description is the longest text on the status bar: with lecture type it
    is cut with "…" (the number stays whole), never drawn under the play state beside it."""
    win = make_window(session=small_session(reduction="mean"), size=(1920, 1080))
    win.lecture.enter(full_screen=False)
    win.controller.step_record()
    win.refresh_status()
    qtbot.wait(50)
    labels = [lab for lab in win.status_labels.values() if lab.isVisible()]
    sb = win.statusBar()
    boxes = sorted((QtCore.QRect(lab.mapTo(sb, QtCore.QPoint(0, 0)), lab.size()) for lab in labels),
                   key=lambda r: r.x())
    assert all(sb.rect().contains(r) for r in boxes), (boxes, sb.rect())
    for a, b in zip(boxes, boxes[1:]):
        assert a.right() < b.left(), (a, b)
    loss = win.status_labels["loss"]
    full, shown = loss.full_text(), loss.text()
    assert full.startswith("loss ") and "mean over batch" in full
    number = full.split("  ·  ")[0]
    assert shown.startswith(number), (shown, full)
    assert shown == full or (shown.endswith("…") and full.startswith(shown[:-1]))
    fm = loss.fontMetrics()
    m = loss.contentsMargins()
    assert fm.horizontalAdvance(shown) <= loss.width() - m.left() - m.right()
    win.lecture.leave()


def test_a_new_status_never_lays_the_window_out_again(qtbot, shared_window):
    """The status bar changes ten times a second while training: its fields have fixed sizes, so
    a new loss or iteration number asks no layout of the window."""
    win = shared_window
    requests = []

    class Count(QtCore.QObject):
        def eventFilter(self, obj, ev):
            if ev.type() == QtCore.QEvent.Type.LayoutRequest:
                requests.append(obj.objectName())
            return False

    counter = Count()
    watched = [win, win.statusBar()]
    c = win.controller
    c.step_iteration()
    win.refresh_status()
    qtbot.wait(10)
    for w in watched:
        w.installEventFilter(counter)
    try:
        for _ in range(5):
            c.session.train_step()
            win.refresh_status()
            QtCore.QCoreApplication.processEvents()
        assert "loss" in win.status_labels["loss"].full_text()
    finally:
        for w in watched:
            w.removeEventFilter(counter)
    assert requests == []


def test_every_lecture_stop_fits_its_caption_and_keeps_the_graphs_row_labels_at_1080p(qtbot, make_window):
    """Every caption fits in four lines on a 1080p projector. A stop that focuses a plot below
    the graph squeezes the graph; under a caption of four lines its left axis had no room for
    "loss L" and "state h" (labels that would touch are left out). Every stop of every lecture,
    with its own focus and caption, keeps all four."""
    from bpttviz.engine.training.presets import list_presets, load_preset
    from bpttviz.engine.training.scenario import parse_scenario

    win = make_window(size=(1920, 1080))
    win.controller.step_iteration()
    win.controller.paint()
    win.lecture.enter(full_screen=False)
    bar = win.classroom.caption
    win.classroom.caption_bar.show()
    rows = {"input x", "state h", "output ŷ", "loss L"}
    image = QtGui.QImage(8, 8, QtGui.QImage.Format.Format_ARGB32)
    cut = []
    for name in (n for n in list_presets() if n.startswith("lecture-")):
        stops = parse_scenario(load_preset(name), name)
        for i, stop in enumerate(stops):
            bar.show_stop(i, len(stops), stop.caption, "Page Down ▸ next stop<br/>Page Up ◂ back")
            win.lecture.emphasise(stop.focus or "graph")
            qtbot.wait(30)
            win.controller.paint()
            painter = QtGui.QPainter(image)
            try:
                drawn = {spec[2] for spec in win.graph.pi.getAxis("left").generateDrawSpecs(painter)[2]}
            finally:
                painter.end()
            if bar.lines() > CAPTION_LINES:
                cut.append(f"{name} stop {i + 1}: {bar.lines()} lines of caption")
            if not rows <= drawn:
                cut.append(f"{name} stop {i + 1} (focus {stop.focus}, {bar.lines()} lines): "
                           f"no {sorted(rows - drawn)}")
    win.lecture.leave()
    assert not cut, "\n".join(cut)
