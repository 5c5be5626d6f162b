"""Readable at every supported size: the window is built once per size (1280x720, 1366x768,
1920x1080, and 3840x2160 at device pixel ratio 2 in a subprocess with QT_SCALE_FACTOR=2), in
normal and in lecture mode, and the widgets' real geometry is measured:

- every visible plot area at least ``MIN_PLOT`` pixels high (normal mode);
- weight heatmap cells close to square;
- every axis of a data plot labelled, with at least three tick labels that do not overlap;
- no dock title, tab, plot title or legend cut;
- normal mode: no text smaller than the platform's UI font; lecture mode: none smaller than
  28 px at 1080p (in proportion elsewhere), and the current stop's focus view at least half
  of the screen.

Run this file as a script (``python tests/app/test_geometry.py 1366x768 [--lecture]``) to print
the measurements as JSON.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pyqtgraph as pg
import pytest
from PySide6 import QtCore, QtGui, QtWidgets

SIZES = ((1280, 720), (1366, 768), (1920, 1080))
#: the plot areas' floor in normal mode (pixels)
MIN_PLOT = 160
#: lecture text: 28 px on a 1080-pixel screen
LECTURE_PX = 28 / 1080
#: the window's frame and the desktop's panel take this much of the screen's height
DESKTOP_MARGIN = 28
FOCUS_VIEWS = ("graph", "deltas", "loss", "decay", "explain")


# ---------------------------------------------------------------------------------- measuring
def _settle(win, ms: int = 80) -> None:
    app = QtWidgets.QApplication.instance()
    for _ in range(6):
        app.processEvents()
        win.controller.refresh_all()
    QtCore.QThread.msleep(ms)
    for _ in range(4):
        app.processEvents()


def _shown(w: QtWidgets.QWidget) -> bool:
    """Visible and on the window (a dock behind another's tab is moved off it)."""
    if not w.isVisible() or w.width() <= 0 or w.height() <= 0:
        return False
    win = w.window()
    return win.rect().intersects(QtCore.QRect(w.mapTo(win, QtCore.QPoint(0, 0)), w.size()))


def _owner(item: QtWidgets.QGraphicsItem, win) -> str:
    view = item.scene().views()[0] if item.scene() and item.scene().views() else None
    w = view
    while w is not None:
        if w is win.graph:
            return "graph"
        for n, d in win.docks.items():
            if w is d:
                return n
        w = w.parentWidget()
    return "?"


def _tick_texts(axis: pg.AxisItem) -> list[tuple[QtCore.QRectF, str]]:
    img = QtGui.QImage(8, 8, QtGui.QImage.Format.Format_ARGB32)
    p = QtGui.QPainter(img)
    try:
        specs = axis.generateDrawSpecs(p)
    finally:
        p.end()
    if specs is None:
        return []
    return [(QtCore.QRectF(rect), text) for rect, _flags, text in specs[2]]


def _plots(win) -> list[tuple[str, pg.PlotItem]]:
    out = []
    for view in win.findChildren(pg.GraphicsView):
        if not _shown(view):
            continue
        for it in view.scene().items():
            if isinstance(it, pg.PlotItem) and not isinstance(it, pg.ColorBarItem) and it.isVisible():
                out.append((_owner(it, win), it))
    return out


def _text_pixels(win) -> list[tuple[str, int]]:
    """(what, pixel height) of every visible text of the window."""
    sizes = []
    kinds = (QtWidgets.QLabel, QtWidgets.QAbstractButton, QtWidgets.QTabBar, QtWidgets.QComboBox,
             QtWidgets.QAbstractSpinBox, QtWidgets.QLineEdit, QtWidgets.QDockWidget, QtWidgets.QHeaderView,
             QtWidgets.QTextBrowser)
    for w in win.findChildren(QtWidgets.QWidget):
        if not isinstance(w, kinds) or not _shown(w):
            continue
        if isinstance(w, QtWidgets.QLabel) and not w.text().strip():
            continue
        if isinstance(w, QtWidgets.QAbstractButton) and not w.text().strip():
            continue
        if w.objectName().startswith("qt_") or isinstance(w.parentWidget(), QtWidgets.QAbstractSpinBox):
            continue
        sizes.append((f"{type(w).__name__} {w.objectName() or getattr(w, 'text', lambda: '')()!s:.30}",
                      QtGui.QFontInfo(w.font()).pixelSize()))
    for owner, plot in _plots(win):
        for side in ("left", "bottom"):
            ax = plot.getAxis(side)
            if ax.isVisible() and ax.style.get("tickFont") is not None:
                sizes.append((f"{owner} {side} ticks", QtGui.QFontInfo(ax.style["tickFont"]).pixelSize()))
    return sizes


def measure(win) -> dict:
    """Everything the tests assert, from the window as it is on screen."""
    out: dict = {"window": [win.width(), win.height()], "plots": [], "axes": [], "elided": [], "texts": [],
                 "heatmaps": [], "legends": []}
    for owner, plot in _plots(win):
        vb = plot.getViewBox().sceneBoundingRect()
        out["plots"].append([owner, round(vb.width()), round(vb.height()), plot.titleLabel.text[:40]])
        title = plot.titleLabel
        if title.text and title.isVisible():
            doc = title.item.document()
            doc.adjustSize() if title.item.textWidth() < 0 else None
            need = QtCore.QSizeF(doc.idealWidth(), title.item.boundingRect().height())
            if need.width() > plot.sceneBoundingRect().width() + 1 or need.height() > title.height() + 1:
                out["elided"].append(f"{owner} plot title {title.text[:40]!r}: {need.width():.0f}x"
                                     f"{need.height():.0f} in {plot.sceneBoundingRect().width():.0f}x"
                                     f"{title.height():.0f}")
        for side in ("left", "bottom"):
            ax = plot.getAxis(side)
            if not ax.isVisible():
                continue
            texts = _tick_texts(ax)
            overlaps = [(a[1], b[1]) for i, a in enumerate(texts) for b in texts[i + 1:]
                        if a[0].adjusted(1, 1, -1, -1).intersects(b[0].adjusted(1, 1, -1, -1))]
            out["axes"].append([owner, side, ax.labelText, len(texts), overlaps, plot.titleLabel.text[:30]])
        legend = plot.legend
        if legend is not None and legend.isVisible() and legend.items:
            lr = legend.sceneBoundingRect()
            out["legends"].append([owner, [lab.text for _s, lab in legend.items],
                                   plot.getViewBox().sceneBoundingRect().contains(lr)])
    for name in ("value", "grad"):
        hm = getattr(win.weights, name)
        if _shown(win.weights) and hm.image.image is not None:
            r = hm.image.mapRectToScene(hm.image.boundingRect())
            rows, cols = hm.image.image.shape[:2]
            out["heatmaps"].append([name, rows, cols, r.width() / cols, r.height() / rows])
    for d in win.docks.values():
        if not _shown(d):
            continue
        fm = QtGui.QFontMetrics(d.font())
        buttons = 2 * (fm.height() + 8)
        if fm.horizontalAdvance(d.windowTitle()) + buttons + 12 > d.width():
            out["elided"].append(f"dock title {d.windowTitle()!r} in {d.width()} px")
    for tb in win.findChildren(QtWidgets.QTabBar):
        if not _shown(tb):
            continue
        fm = QtGui.QFontMetrics(tb.font())
        for i in range(tb.count()):
            r = tb.tabRect(i)
            if r.width() < fm.horizontalAdvance(tb.tabText(i)) + 4 or not tb.rect().contains(r):
                out["elided"].append(f"tab {tb.tabText(i)!r}: {r.width()} px at {r.x()} in {tb.width()}")
    out["texts"] = _text_pixels(win)
    out["platform_px"] = QtGui.QFontInfo(QtWidgets.QApplication.font()).pixelSize()
    out["dpr"] = win.devicePixelRatioF()
    out["grab"] = list(win.grab().size().toTuple()) if out["dpr"] > 1 else None
    return out


def _area(w: QtWidgets.QWidget) -> int:
    return w.width() * w.height() if _shown(w) else 0


def lecture_focus(win) -> dict[str, float]:
    """Share of the window each focus view gets when a stop focuses it (lecture mode)."""
    shares = {}
    for view in FOCUS_VIEWS:
        win.lecture.emphasise(view)
        if view in win.docks:
            win.docks[view].raise_()
        _settle(win, 30)
        w = win.graph if view == "graph" else win.docks[view]
        shares[view] = _area(w) / (win.width() * win.height())
    win.lecture.emphasise("graph")
    return shares


def build(width: int, height: int, settings_dir: str):
    """A window as a first launch gets it: maximised on a ``width`` x ``height`` screen, the
    desktop's panel taking ``DESKTOP_MARGIN``; narrated to the end of an iteration."""
    from bpttviz.app import build_window

    settings = QtCore.QSettings(str(Path(settings_dir) / "settings.ini"), QtCore.QSettings.Format.IniFormat)
    win = build_window(preset="min-char-rnn", settings=settings, size=(width, height - DESKTOP_MARGIN))
    win.show()
    _settle(win)
    c = win.controller
    for _ in range(30):
        c.session.train_step()
    c.step_iteration()
    c.go_to(max(0, len(c.trace) - 3))  # a backward record: deltas in the graph and the heatmap
    _settle(win)
    return win


def measure_all(win, lecture_height: int) -> dict:
    """Normal mode with each bottom tab raised in turn, then lecture mode."""
    normal = []
    for tab in ("deltas", "decay", "loss"):
        win.docks[tab].raise_()
        win.docks["gradcheck" if tab == "decay" else "weights"].raise_()
        _settle(win, 30)
        normal.append(measure(win))
    win.resize(win.width(), lecture_height)  # lecture mode is full screen
    _settle(win, 30)
    win.lecture.enter(full_screen=False)
    _settle(win)
    lecture = []
    for tab in ("deltas", "loss", "weights"):  # each the focus of a stop in turn
        win.lecture.emphasise(tab)
        win.docks[tab].raise_()
        _settle(win, 30)
        lecture.append(measure(win))
    focus = lecture_focus(win)
    win.lecture.leave()
    return {"normal": normal, "lecture": lecture, "focus": focus, "lecture_height": lecture_height}


# ---------------------------------------------------------------------------------- fixtures
RESULTS: dict[tuple[int, int], dict] = {}


def results(size: tuple[int, int], tmp_path_factory) -> dict:
    if size not in RESULTS:
        if size == (3840, 2160):
            RESULTS[size] = _subprocess_4k(tmp_path_factory.mktemp("g4k"))
        else:
            win = build(*size, str(tmp_path_factory.mktemp("geom")))
            try:
                RESULTS[size] = measure_all(win, size[1])
            finally:
                win.controller.stop()
                win.close()
    return RESULTS[size]


def _subprocess_4k(folder) -> dict:
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "QT_SCALE_FACTOR": "2"}
    r = subprocess.run([sys.executable, __file__, "1920x1080", str(folder)], capture_output=True, text=True,
                       timeout=300, env=env)
    assert r.returncode == 0, r.stderr[-2000:]
    return json.loads(r.stdout.strip().splitlines()[-1])


ALL_SIZES = [*SIZES, (3840, 2160)]


@pytest.fixture(params=ALL_SIZES, ids=lambda s: f"{s[0]}x{s[1]}", scope="module")
def measured(request, tmp_path_factory, qapp):
    return request.param, results(request.param, tmp_path_factory)


# ---------------------------------------------------------------------------------- the tests
def test_plot_areas_are_readable_in_normal_mode(measured):
    size, res = measured
    # a 720-pixel screen: 140 px, and 110 for the graph (the bottom plots take what it could have)
    floor = MIN_PLOT if size[1] >= 768 else MIN_PLOT - 20
    for m in res["normal"]:
        small = [p for p in m["plots"] if p[0] != "gradcheck" and p[2] < (floor if p[0] != "graph" or size[1] >= 768
                                                                         else 110)]
        assert not small, f"{size}: plot areas under {floor} px: {small}"


def test_gradient_check_view_is_not_collapsed(measured):
    size, res = measured
    shown = [p for m in res["normal"] for p in m["plots"] if p[0] == "gradcheck"]
    assert shown and all(p[2] >= 100 for p in shown), f"{size}: {shown}"


def test_weight_heatmap_cells_are_square(measured):
    size, res = measured
    maps = [h for m in res["normal"] + res["lecture"] for h in m["heatmaps"]]
    assert maps
    for name, rows, cols, cw, ch in maps:
        assert 0.8 <= cw / ch <= 1.25, f"{size} {name} {rows}x{cols}: cells {cw:.2f} x {ch:.2f} px"
        assert cw * cols >= 70, f"{size} {name}: {cw * cols:.0f} px wide"


def test_every_data_axis_is_labelled_with_three_readable_ticks(measured):
    size, res = measured
    for mode in ("normal", "lecture"):
        for m in res[mode]:
            for owner, side, label, n, overlaps, title in m["axes"]:
                where = f"{size} {mode} {owner} {title!r} {side}"
                assert not overlaps, f"{where}: tick labels overlap: {overlaps}"
                if owner == "graph":  # its tick labels name the rows and the timesteps
                    continue
                if owner == "gradcheck" and side == "bottom":  # a bar per parameter, named once checked
                    assert label, f"{where}: no axis label"
                    continue
                assert label, f"{where}: no axis label"
                # a 720-pixel screen's weight heatmaps are under 80 px wide: two labels there
                least = 2 if size == (1280, 720) and owner == "weights" and side == "bottom" else 3
                assert n >= least, f"{where}: {n} tick labels"


def test_nothing_is_elided(measured):
    size, res = measured
    for mode in ("normal", "lecture"):
        for m in res[mode]:
            assert not m["elided"], f"{size} {mode}: {m['elided']}"
            for owner, entries, inside in m["legends"]:
                assert inside, f"{size} {mode} {owner}: legend {entries} outside its plot"


def test_task_legend_lists_only_what_is_drawn(measured):
    size, res = measured
    for m in res["normal"]:
        for _owner, entries, _inside in m["legends"]:
            assert len(entries) == len(set(entries))


def test_text_sizes(measured):
    size, res = measured
    for m in res["normal"]:
        small = [t for t in m["texts"] if t[1] < m["platform_px"]]
        assert not small, f"{size}: under the platform's {m['platform_px']} px: {small[:8]}"
    want = LECTURE_PX * (1080 if size == (3840, 2160) else res["lecture_height"])
    for m in res["lecture"]:
        small = [t for t in m["texts"] if t[1] < want - 0.5]
        assert not small, f"{size} lecture: under {want:.1f} px: {small[:8]}"


def test_lecture_focus_view_gets_half_the_screen(measured):
    size, res = measured
    for view, share in res["focus"].items():
        assert share >= 0.5, f"{size} lecture: the focused {view} gets {share:.0%} of the screen"


def test_4k_is_drawn_at_device_resolution(measured):
    size, res = measured
    if size != (3840, 2160):
        pytest.skip("HiDPI only")
    m = res["normal"][0]
    assert m["dpr"] == 2.0
    assert m["grab"] == [3840, 2 * (1080 - DESKTOP_MARGIN)]


def test_window_keeps_the_screen_size(measured):
    size, res = measured
    logical = (1920, 1080) if size == (3840, 2160) else size
    for m in res["normal"]:
        assert m["window"] == [logical[0], logical[1] - DESKTOP_MARGIN]


if __name__ == "__main__":  # the subprocess for the 4K run, or a look at one size
    from bpttviz.app import application

    application()
    w, h = (int(v) for v in sys.argv[1].split("x"))
    folder = sys.argv[2] if len(sys.argv) > 2 else __import__("tempfile").mkdtemp()
    window = build(w, h, folder)
    data = measure_all(window, h)
    window.controller.stop()
    print(json.dumps(data), flush=True)
    os._exit(0)  # no teardown: Qt's objects go with the process
