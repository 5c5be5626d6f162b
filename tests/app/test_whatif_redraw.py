"""How a what-if redraws: without laying the window out again (the banners lie over their views,
captions and titles sit in fixed-height holders, log axes have fixed widths), with the decay
banner over room kept free above the curves, every change showing its own numbers, and the decay
view's faint curves moving one step fainter instead of being drawn anew."""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6 import QtCore, QtGui, QtWidgets

from bpttviz.engine.explain import fmt
from bpttviz.engine.gradients import attribution as at
from bpttviz.presenters.decay import DecayFrame
from bpttviz.views.decay_view import HISTORY, DecayView
from bpttviz.views.theme import LabelHolder, decade_ticks, default_theme, fix_axis_width, set_ticks
from bpttviz.views.whatif_banner import WhatIfBanner

from .conftest import small_session
from .test_whatif import on_top, ready


class Requests(QtCore.QObject):
    """Counts the layout requests each watched widget receives."""

    def __init__(self, widgets) -> None:
        super().__init__()
        self.widgets = list(widgets)
        self.count = {id(w): 0 for w in self.widgets}

    def eventFilter(self, obj, ev) -> bool:
        if ev.type() == QtCore.QEvent.Type.LayoutRequest and id(obj) in self.count:
            self.count[id(obj)] += 1
        return False

    def total(self) -> int:
        return sum(self.count.values())


def geometries(win) -> dict:
    out = {name: d.geometry() for name, d in win.docks.items() if d.isVisible()}
    out["decay plot"] = win.decay.plotw.geometry()
    out["decay plot area"] = win.decay.plot.getViewBox().sceneBoundingRect()
    out["deltas plots"] = win.deltas.glw.geometry()
    out["attribution plot"] = win.whatif.view.plotw.geometry()
    out["panel plots"] = win.whatif.panel.plots.geometry()
    return out


def settle() -> None:
    app = QtWidgets.QApplication.instance()
    for _ in range(4):
        app.processEvents()


def all_on_screen(win) -> None:
    """The attribution, what-if, decay and deltas views side by side (some share tabs)."""
    for name in ("attribution", "whatif", "decay", "deltas"):
        dock = win.docks[name]
        win.removeDockWidget(dock)
        win.addDockWidget(QtCore.Qt.DockWidgetArea.TopDockWidgetArea, dock, QtCore.Qt.Orientation.Horizontal)
        dock.show()
    settle()
    win.controller.refresh_all()
    settle()


def test_the_first_what_if_after_a_narration_lays_nothing_out_again(qtbot, make_window):
    win = make_window(session=small_session(seq_len=8, hidden_size=16), size=(1600, 900))
    lab = ready(win, qtbot)
    all_on_screen(win)
    before = geometries(win)
    app = QtWidgets.QApplication.instance()
    watch = Requests([win, *win.docks.values(), win.decay, win.deltas, lab.view, lab.panel])
    app.installEventFilter(watch)
    try:
        lab.panel.nudge(-3)  # the first what-if: both banners appear
        win.controller.paint()
        settle()
        assert win.decay.banner.isVisible() and win.deltas.banner.isVisible()
        after = geometries(win)
        assert watch.total() == 0, {type(w).__name__: watch.count[id(w)] for w in watch.widgets}
        for key, rect in before.items():
            assert after[key] == rect, key
        lab.panel.nudge(-1)  # and the next one
        win.controller.paint()
        settle()
        assert watch.total() == 0
    finally:
        app.removeEventFilter(watch)
    # the deltas banner, in the selector's row
    assert win.deltas.banner.parent() is win.deltas.header
    assert win.deltas.banner.geometry().left() >= win.deltas.quantity.geometry().right()
    assert win.controller.last_error is None


def test_the_decay_banner_covers_no_data(qtbot, make_window):
    win = make_window(session=small_session(seq_len=8, hidden_size=16))
    lab = ready(win, qtbot)
    view = on_top(win, "decay")
    for notches in (8, 30, -30):  # growing, exploding and vanishing curves
        lab.panel.nudge(notches)
        on_top(win, "decay")
        settle()
        f = view.frame
        top = max(np.nanmax(np.log10(c[c > 0])) for c in (f.curve, view.whatif[1]) if np.any(c > 0))
        vb = view.plot.getViewBox()
        y = view.plotw.mapFromScene(vb.mapViewToScene(QtCore.QPointF(0.0, float(top)))).y()
        banner = view.banner.geometry()
        assert view.banner.isVisible() and banner.bottom() < y, (notches, banner, y)
        # across the plot area, under the legend
        area = view.plotw.mapFromScene(vb.sceneBoundingRect()).boundingRect()
        assert abs(banner.top() - area.top()) <= 1 and abs(banner.width() - area.width()) <= 1
        if f.reference is not None:  # the bound stops at the banner's lower edge
            _, ry = view.ref.getOriginalDataset()
            edge = vb.mapSceneToView(view.plotw.mapToScene(QtCore.QPoint(0, banner.bottom()))).y()
            assert np.nanmax(np.log10(ry)) <= edge + 1e-6


def test_each_change_shows_its_own_numbers(qtbot, make_window):
    win = make_window(session=small_session(seq_len=8, hidden_size=16))
    lab = ready(win, qtbot)
    win.act["connectivity"].setChecked(True)
    c = win.controller
    st = at.trace_setup(c.trace, c.session.model)
    for notches in (4, -7, 2):
        lab.panel.nudge(notches)
        s = lab.settings
        new = at.scale_recurrent(st.model, s.sigma)
        fr = at.what_if_frame(new, st.inputs, st.targets, h0=st.h0, t=lab.output_step(), **st.options)
        for name in ("decay", "deltas"):
            on_top(win, name)
        lab.attribution_dock.raise_()
        c.paint()
        settle()
        np.testing.assert_array_equal(win.decay.frame.curve, fr.decay)
        np.testing.assert_allclose(win.deltas.frame.norms["‖dL/dhₜ‖"], fr.deltas, rtol=1e-12)
        att = fr.attribution
        ok = att.mask() & (att.A > 0)
        np.testing.assert_allclose(lab.view.frame.image[ok], np.log10(att.A[ok]), rtol=1e-6)
        assert f"keeps {fmt(fr.decay[-1] / fr.decay[0])} of its size" in lab.panel.caption.text()
        assert f"σ_max = {s.sigma:.3g}" in win.decay.banner.text() and f"{s.sigma:.3g}" in lab.view.title.text()
        raw = fr.connectivity[0]
        t = lab.output_step()
        assert f"strongest t′ = {int(np.argmax(raw[:t + 1]))}" in win.graph._shade_label
    assert c.last_error is None


def test_a_new_caption_changes_the_holders_height_only_for_another_line_count(qapp):
    label = QtWidgets.QLabel("")
    label.setWordWrap(True)
    box = LabelHolder(label)
    box.resize(200, 10)
    box.fit(20)
    assert box.height() == 20  # the least height, for an empty text
    label.setText("a caption long enough to need several lines at two hundred pixels, " * 3)
    box.fit(20)
    need = box.needed_height(200)
    lines = need / label.fontMetrics().lineSpacing()
    assert lines > 2 and box.height() == need and label.height() == need
    label.setText(label.text().replace("a caption", "one caption"))  # as many lines: nothing changes
    box.fit(20)
    assert box.height() == box.needed_height(200) == need
    label.setText("short")
    box.fit(20, steady=True)  # steady: no shrinking while the width stays...
    assert box.height() == need
    box.fit(20)  # ...the exact height otherwise
    assert box.height() == max(20, box.needed_height(200)) < need


def test_a_fixed_axis_width_holds_for_any_decade(qtbot):
    theme = default_theme()
    w = pg.PlotWidget()
    qtbot.addWidget(w)
    w.resize(400, 300)
    w.show()
    plot = w.getPlotItem()
    plot.setLabel("left", "norm")
    plot.setLogMode(y=True)
    fix_axis_width(plot, theme)
    ax = plot.getAxis("left")
    widths = []
    for values in ([0.01, 1.0], [1e-45, 1e-3], [1e-120, 1e40], [0.5, 2.0]):
        plot.setYRange(*np.log10(values), padding=0)
        set_ticks(ax, decade_ticks(np.array(values)))
        settle()
        widths.append(ax.geometry().width())
    wide = QtGui.QFontMetrics(theme.font(0.9)).horizontalAdvance("1e-100")
    assert len(set(widths)) == 1 and widths[0] > wide


def test_the_banner_cuts_its_text_but_keeps_all_of_it(qapp):
    theme = default_theme()
    parent = QtWidgets.QWidget()
    banner = WhatIfBanner(theme, parent)
    banner.show_label("what-if: σ_max = 0.8, k = 4")
    banner.place(0, 0, 60)
    assert banner.text() == "WHAT-IF  σ_max = 0.8, k = 4  ·  Ctrl+Backspace: back to the trained weights"
    assert banner.toolTip() == banner.text() and banner.label == "what-if: σ_max = 0.8, k = 4"
    assert banner.height() == banner.strip_height() and banner.width() == 60
    banner.show_label("")
    assert banner.isHidden()


def _decay_frame(curve, history) -> DecayFrame:
    T = curve.size
    return DecayFrame(k=np.arange(T, dtype=float), curve=curve, history=list(history), iteration=len(history),
                      note="")


def test_the_faint_curves_keep_their_items_and_fade_with_age(qtbot):
    view = DecayView(default_theme())
    qtbot.addWidget(view)
    curves = [np.exp(-np.arange(10) * (0.3 + 0.05 * i)) for i in range(30)]
    for n in (3, 12, 13, 20, 5):
        hist = curves[n - min(n, HISTORY):n]
        data_before = {id(it): it.getOriginalDataset()[1] for it in view.history_items}
        view.show_frame(_decay_frame(curves[n], hist))
        pad = HISTORY - len(hist)
        shown = []
        for age, h in enumerate(hist):
            items = [it for it in view.history_items
                     if it.getOriginalDataset()[1] is not None and len(it.getOriginalDataset()[1]) == len(h)
                     and np.array_equal(it.getOriginalDataset()[1], h)]
            assert len(items) == 1, (n, age)
            it = items[0]
            assert it.curve.opts["pen"].color().alpha() == view._history_pens[pad + age].color().alpha()
            shown.append(it)
        alphas = [it.curve.opts["pen"].color().alpha() for it in shown]
        zs = [it.zValue() for it in shown]
        assert alphas == sorted(alphas) and zs == sorted(zs) and len(set(zs)) == len(zs)  # the newest on top
        assert all(z < view.curve.zValue() for z in zs)  # below every other curve
        rest = [it for it in view.history_items if all(it is not s for s in shown)]
        assert all(it.getOriginalDataset()[1] is None or len(it.getOriginalDataset()[1]) == 0 for it in rest)
        if n == 13:  # one curve more: only the item of the one that dropped out took new data
            changed = [it for it in view.history_items
                       if data_before[id(it)] is None or it.getOriginalDataset()[1] is None
                       or not np.array_equal(data_before[id(it)], it.getOriginalDataset()[1])]
            assert len(changed) == 1


def test_a_steady_colour_bar_only_widens(qtbot):
    from bpttviz.views.heatmap import Heatmap

    glw = pg.GraphicsLayoutWidget()
    qtbot.addWidget(glw)
    widths = {}
    for steady in (False, True):
        h = Heatmap(glw.ci, default_theme(), row=0, col=int(steady))
        h.steady_bar = steady
        img = np.ones((4, 5))
        got = []
        for level in (0.25, 2.0, 0.25):  # "-0.25" is wider than "-2"
            h.set_image(img * level, level)
            got.append(h.bar.axis.fixedWidth)
        widths[steady] = got
    assert widths[False][1] < widths[False][0] == widths[False][2]  # the exact width each time
    assert widths[True][0] == widths[True][1] == widths[True][2]  # never narrower
