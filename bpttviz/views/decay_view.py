"""The gradient-norm decay view: ``||dL_T/dh_{T-1-k}||`` against k on a log axis, the Jacobian
reference line ``(sigma_max * gamma)^k``, and a faint history of earlier iterations. While a
what-if is shown (``set_whatif``) a banner across the top of the plot area says so (the y range
then keeps a banner's height free above the curves: the banner hides no data, and showing it lays
nothing out again) and the trained curve is drawn dashed for comparison."""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6 import QtCore, QtGui, QtWidgets

from bpttviz.presenters.decay import DecayFrame
from bpttviz.views.theme import (
    GREEN,
    PURPLE,
    LabelHolder,
    Theme,
    decade_ticks,
    fit_range,
    fix_axis_width,
    inner_range,
    legend_html,
    log_curves,
    redraw_last,
    set_axis_label,
    set_ticks,
    steady_title,
    style_plot,
    tick_room,
)
from bpttviz.views.whatif_banner import WhatIfBanner

HISTORY = 12


def clip_top(x: np.ndarray, y: np.ndarray, top: float) -> tuple[np.ndarray, np.ndarray]:
    """The curve ``(x, y)`` (y > 0, on a log axis) up to where it first leaves through ``top``:
    points above are dropped and the crossing is added, interpolated in log10(y)."""
    x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    above = np.flatnonzero(np.isfinite(y) & (y > top))
    if above.size == 0:
        return x, y
    i = int(above[0])
    if i == 0 or not np.isfinite(y[i - 1]):
        return x[:i], y[:i]
    a, b = np.log10(y[i - 1]), np.log10(y[i])
    t = (np.log10(top) - a) / (b - a)
    return np.append(x[:i], x[i - 1] + t * (x[i] - x[i - 1])), np.append(y[:i], top)


class DecayView(QtWidgets.QWidget):
    """``show_frame(DecayFrame)``, or ``show_message(text)`` when there is nothing to plot (MLP)."""

    #: an exception while redrawing the last frame for a new size (the window reports it)
    redraw_failed = QtCore.Signal(object)

    def __init__(self, theme: Theme, parent: QtWidgets.QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("decay_view")
        self.theme = theme
        self.plotw = pg.PlotWidget(enableMenu=False)
        self.plotw.setFocusPolicy(QtCore.Qt.FocusPolicy.NoFocus)
        self.plot: pg.PlotItem = self.plotw.getPlotItem()
        self.plot.hideButtons()
        self.plot.setMenuEnabled(False)
        self.plot.setMouseEnabled(x=False, y=False)
        self.plot.setLogMode(y=True)
        self.plot.disableAutoRange()
        steady_title(self.plot)  # (the legend differs while a what-if shows)
        self.plot.showGrid(x=True, y=True, alpha=theme.grid_alpha)
        self.history_items = [pg.PlotDataItem() for _ in range(HISTORY)]
        for it in self.history_items:
            self.plot.addItem(it)
            it._bpttviz_slot = -1  # the age the item's pen shows (see _show_history)
        # id of a shown curve -> (the curve, its item); holding the curve keeps its id its own
        self._history_of: dict[int, tuple[np.ndarray, pg.PlotDataItem]] = {}
        self._history_pens: list[QtGui.QPen] = []
        self.ref = self.plot.plot([], [])
        self.cell = self.plot.plot([], [])
        self.jacobian = self.plot.plot([], [])
        self.curve = self.plot.plot([], [])
        self._history_z = self.curve.zValue() - 0.5  # the faint curves below every other one
        # a second model's curve, side by side: (this model's label, its label, k, curve, its curve
        # through the cell state or None)
        self.overlay: tuple | None = None
        self.overlay_curve = self.plot.plot([], [])
        self.overlay_cell = self.plot.plot([], [])
        self.trained = self.plot.plot([], [])  # a what-if's trained curve
        log_curves(*self.history_items, self.ref, self.cell, self.jacobian, self.curve, self.overlay_curve,
                   self.overlay_cell, self.trained)
        self.whatif: tuple[str, np.ndarray] | None = None  # (label, trained curve) while a what-if shows
        # over the plot widget, not in the layout (see the module's docstring)
        self.banner = WhatIfBanner(theme, self.plotw)
        self.plot.getViewBox().sigResized.connect(lambda _vb: self._place_banner())
        self.note = QtWidgets.QLabel(" ")
        self.note.setWordWrap(True)
        # (a fixed two lines, its width given by the holder: a new note every frame lays nothing out)
        self._note_box = LabelHolder(self.note)
        self.message = QtWidgets.QLabel("")
        self.message.setWordWrap(True)
        self.message.setAlignment(QtCore.Qt.AlignmentFlag.AlignCenter)
        self.pages = QtWidgets.QStackedWidget()
        self.pages.addWidget(self.plotw)
        self.pages.addWidget(self.message)
        lay = QtWidgets.QVBoxLayout(self)
        lay.setContentsMargins(4, 2, 4, 2)
        lay.setSpacing(2)
        lay.addWidget(self.pages, 1)
        lay.addWidget(self._note_box)
        self.frame: DecayFrame | None = None
        self._history_ids: list = []
        self.apply_theme(theme)

    def apply_theme(self, theme: Theme) -> None:
        self.theme = theme
        self.plotw.setBackground(theme.background)
        style_plot(self.plot, theme)
        set_axis_label(self.plot, "bottom", "k (steps back from the last timestep)", theme)
        set_axis_label(self.plot, "left", "‖dL_T / dh_(T−1−k)‖", theme)
        fix_axis_width(self.plot, theme)  # (new decades lay nothing out again)
        self.curve.setPen(theme.pen(theme.backward, 2.6))
        self.curve.setSymbol("o")
        self.curve.setSymbolSize(5)
        self.curve.setSymbolBrush(theme.backward)
        self.curve.setSymbolPen(None)
        self.cell.setPen(theme.pen(GREEN, 2.0))
        self.overlay_curve.setPen(theme.pen(PURPLE, 2.6))
        self.overlay_curve.setSymbol("s")
        self.overlay_curve.setSymbolSize(5)
        self.overlay_curve.setSymbolBrush(PURPLE)
        self.overlay_curve.setSymbolPen(None)
        self.overlay_cell.setPen(theme.pen(PURPLE, 2.0, style=QtCore.Qt.PenStyle.DashLine))
        self.jacobian.setPen(theme.pen(theme.forward, 1.6, style=QtCore.Qt.PenStyle.DotLine))
        self.trained.setPen(theme.pen(theme.muted, 2.0, style=QtCore.Qt.PenStyle.DashLine))
        self.banner.apply_theme(theme)
        self.ref.setPen(theme.pen(theme.foreground, 1.5, style=QtCore.Qt.PenStyle.DashLine))
        self.message.setFont(theme.font(1.05))
        self.message.setStyleSheet(f"color: {theme.muted}; background: {theme.background};")
        self.note.setFont(theme.font(1.0))
        self._note_box.set_height(int(QtGui.QFontMetrics(self.note.font()).lineSpacing() * 2 + 2))
        self.note.setStyleSheet(f"color: {theme.muted};")
        n = len(self.history_items)
        self._history_pens = []
        for i in range(n):
            c = QtGui.QColor(theme.backward)
            c.setAlpha(int(25 + 70 * (i + 1) / n))
            self._history_pens.append(pg.mkPen(c, width=1))
        for it in self.history_items:
            it._bpttviz_slot = -1  # a new theme: every pen set again
        self._history_ids = []
        self._place_banner()
        if self.frame is not None:
            self.show_frame(self.frame)

    def _place_banner(self) -> None:
        """The banner across the top of the plot area (the data area, below the legend)."""
        r = self.plotw.mapFromScene(self.plot.getViewBox().sceneBoundingRect()).boundingRect()
        self.banner.place(r.left(), r.top(), r.width())

    def _headroom(self) -> float:
        """The share of the plot area's height the banner covers (0 without a what-if)."""
        if not self.whatif:
            return 0.0
        h = self.plot.getViewBox().height()
        return min(0.4, self.banner.strip_height() / h) if h > 20 else 0.0

    def resizeEvent(self, ev: QtGui.QResizeEvent) -> None:
        super().resizeEvent(ev)
        QtCore.QTimer.singleShot(0, self._redraw)  # as many tick labels as the new size holds

    def _redraw(self) -> None:
        redraw_last(self)

    @staticmethod
    def _positive(y: np.ndarray) -> np.ndarray:
        y = np.asarray(y, dtype=float)
        return np.where(y > 0, y, np.nan)

    def show_frame(self, f: DecayFrame) -> None:
        self.frame = f
        th = self.theme
        self.pages.setCurrentWidget(self.plotw)
        curve = self._positive(f.curve)
        self.curve.setData(f.k, curve, connect="finite")
        overlay = None if self.whatif else self.overlay  # a what-if compares with the trained curve
        entries = [("what-if" if self.whatif else overlay[0] if overlay else "this iteration", th.backward, "line")]
        trained = self._positive(self.whatif[1]) if self.whatif else np.array([])
        self.trained.setData(np.arange(trained.size, dtype=float), trained, connect="finite")
        if self.whatif:
            entries.append(("trained", th.muted, "dash"))
        over = self._positive(overlay[3]) if overlay else np.array([])
        over_c = (self._positive(overlay[4]) if overlay and len(overlay) > 4
                  and overlay[4] is not None else np.array([]))
        if overlay:
            self.overlay_curve.setData(overlay[2], over, connect="finite")
            entries.append((overlay[1], PURPLE, "line"))
        else:
            self.overlay_curve.setData([], [])
        if over_c.size:
            self.overlay_cell.setData(overlay[2], over_c, connect="finite")
            entries.append((f"{overlay[1]} via c", PURPLE, "dash"))
        else:
            self.overlay_cell.setData([], [])
        if f.reference is not None:
            self.ref.setData(f.k, self._positive(f.reference), connect="finite")
            entries.append(("bound", th.foreground, "dash"))
        else:
            self.ref.setData([], [])
        if f.jacobian is not None and len(f.jacobian) == len(f.k):
            self.jacobian.setData(f.k, self._positive(f.jacobian), connect="finite")
            entries.append(("Jacobians", th.forward, "dot"))
        else:
            self.jacobian.setData([], [])
        if f.cell is not None:
            self.cell.setData(f.k, self._positive(f.cell), connect="finite")
            entries.append((f"{overlay[0]} via c" if overlay else "via c", GREEN, "line"))
        else:
            self.cell.setData([], [])
        hist = f.history[-HISTORY:]
        if hist:
            entries.append(("earlier", th.backward, "faint"))
        style_plot(self.plot, th, title=legend_html(entries, th))
        self._show_history(hist)
        # the y range follows the curves (a growing bound may leave the top of the plot)
        vals = np.concatenate([curve, over, over_c, trained] + [self._positive(h) for h in hist]
                              + ([self._positive(f.cell)] if f.cell is not None else [])
                              + ([self._positive(f.jacobian)] if f.jacobian is not None else []))
        vals = vals[np.isfinite(vals) & (vals > 0)]
        if vals.size:
            room = self._headroom()
            if room:
                self._place_banner()  # (the plot area may have moved without a new size)
            include: tuple[float, ...] = ()
            if room:  # a banner's height free above the curves (plus the usual margin)
                a, b = np.log10(vals.min()), np.log10(vals.max())
                span = max(b - a, 0.3) * 1.2
                include = (10.0 ** (b + 0.1 * span + room / (1 - room) * span),)
            fit_range(self.plot, "y", vals, log=True, pad=0.1, include=include)
            lo, hi = inner_range(self.plot)
            y0, y1 = self.plot.getViewBox().viewRange()[1]
            if room:  # no tick label under the banner
                hi = min(hi, y1 - room * (y1 - y0))
            set_ticks(self.plot.getAxis("left"), decade_ticks(10.0 ** np.array([lo, hi]), tick_room(self.plot)))
            hi = y1 - room * (y1 - y0)
            if f.reference is not None:  # the bound stops at the top edge (or the banner's lower
                # edge): drawn past it, an SVG viewer without clip paths would draw it over the legend
                self.ref.setData(*clip_top(f.k, self._positive(f.reference), 10.0 ** hi), connect="finite")
            x1 = max(1.0, float(f.k[-1]) if f.k.size else 1.0, float(len(over) - 1))
            if self.plot.getViewBox().viewRange()[0][1] < x1 or self.plot.getViewBox().viewRange()[0][1] > x1 + 1:
                self.plot.setXRange(0, x1, padding=0.02)
        self.note.setText(f.note + (f"  ·  bound with {f.reference_label}" if f.reference is not None else ""))

    def _show_history(self, hist: list[np.ndarray]) -> None:
        """The faint curves, oldest first (at most ``HISTORY``). Each curve keeps the item that
        drew it: a new iteration's curve takes the item of the one that dropped out, and the
        others only move one step fainter (a new pen and depth, no new data: while training, one
        item's data changes per frame instead of all of them)."""
        ids = [id(h) for h in hist]
        if ids == self._history_ids:
            return
        kept = {i: hi for i, hi in self._history_of.items() if i in ids}
        free = [it for it in self.history_items if all(it is not k for _, k in kept.values())]
        for h, i in zip(hist, ids):
            if i not in kept:
                it = free.pop()
                kept[i] = (h, it)
                it.setData(np.arange(len(h), dtype=float), self._positive(h), connect="finite")
        for it in free:
            if it.xData is not None and len(it.xData):
                it.setData([], [])
        pad = HISTORY - len(hist)
        for slot, i in enumerate(ids, start=pad):  # the newest: the last slot, the strongest pen, on top
            it = kept[i][1]
            if it._bpttviz_slot != slot:
                it._bpttviz_slot = slot
                it.opts["pen"] = self._history_pens[slot]
                it.curve.setPen(self._history_pens[slot])  # (the item's setPen would set its data again)
                it.setZValue(self._history_z + 1e-3 * slot)
        self._history_of = kept
        self._history_ids = ids

    def set_whatif(self, label: str, trained: np.ndarray | None = None) -> None:
        """Mark the frames shown from now on as a what-if (``label``, e.g. "what-if: σ_max =
        0.8") and draw the ``trained`` curve beside them; ``label`` "" ends it."""
        self.whatif = (label, np.asarray(trained, dtype=float)) if label and trained is not None else None
        if label:
            self._place_banner()
        self.banner.show_label(label)

    def show_message(self, text: str) -> None:
        self.frame = None
        for it in [self.curve, self.ref, self.cell, self.jacobian, self.overlay_curve, self.overlay_cell,
                   self.trained, *self.history_items]:
            it.setData([], [])
        self._history_ids = []
        self._history_of = {}
        style_plot(self.plot, self.theme, title="")
        self.message.setText(text)
        self.pages.setCurrentWidget(self.message)
        self.note.setText("")

    def set_overlay(self, overlay: tuple | None) -> None:
        """Overlay a second model's decay curve ``(this model's label, its label, k, curve[,
        cell curve])``, or None to remove it; redrawn with the current frame."""
        self.overlay = overlay
        if self.frame is not None:
            self.show_frame(self.frame)
        elif overlay is None:
            self.overlay_curve.setData([], [])
            self.overlay_cell.setData([], [])
