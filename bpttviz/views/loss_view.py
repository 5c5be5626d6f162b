"""The loss view: training loss (raw and smoothed), the validation metric against its trivial
baseline, and the pre-clip gradient norm with the clip events marked."""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6 import QtCore, QtGui, QtWidgets

from bpttviz.presenters.panels import LossFrame
from bpttviz.views.plot_tools import arrange, wants_row
from bpttviz.views.theme import (
    GREEN,
    PURPLE,
    Theme,
    decade_ticks,
    fit_range,
    inner_range,
    legend_html,
    nice_ceil,
    redraw_last,
    set_axis_label,
    set_ticks,
    sparse_ticks,
    style_plot,
    tick_room,
)


def _plot(glw: pg.GraphicsLayoutWidget, row: int) -> pg.PlotItem:
    p = glw.addPlot(row=row, col=0, enableMenu=False)
    p.hideButtons()
    p.setMenuEnabled(False)
    p.setMouseEnabled(x=False, y=False)
    p.disableAutoRange()  # ranges are set from the data (fit_range): no second repaint per update
    return p


class LossView(QtWidgets.QWidget):
    """``show_frame(LossFrame)``."""

    #: an exception while redrawing the last frame for a new size (the window reports it)
    redraw_failed = QtCore.Signal(object)

    def __init__(self, theme: Theme, parent: QtWidgets.QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("loss_view")
        self.theme = theme
        self.glw = pg.GraphicsLayoutWidget()
        self.glw.setFocusPolicy(QtCore.Qt.FocusPolicy.NoFocus)
        self.loss_plot = _plot(self.glw, 0)
        self.metric_plot = _plot(self.glw, 1)
        self.norm_plot = _plot(self.glw, 2)
        self.norm_plot.setLogMode(y=True)
        for p in (self.metric_plot, self.norm_plot):
            p.setXLink(self.loss_plot)
        # a toggle in the View menu and the plots' right-click menu (a row of its own would cost
        # the plots the height they need on a laptop)
        self.log = QtGui.QAction("Loss on a log scale", self)
        self.log.setObjectName("loss_log")
        self.log.setCheckable(True)
        self.log.setToolTip("Loss on a logarithmic axis: orders of magnitude become equal steps")
        self.log.toggled.connect(self.set_log)
        self.horizontal = False
        self.raw = self.loss_plot.plot([], [])
        self.smooth = self.loss_plot.plot([], [])
        # thousands of points in a few hundred pixels: draw per-pixel peaks, not every segment
        for curve in (self.raw, self.smooth):
            curve.setDownsampling(auto=True, method="peak")
            curve.setClipToView(True)
        # a second model's smoothed loss, side by side: (this model's label, its label, x, loss)
        self.overlay: tuple[str, str, np.ndarray, np.ndarray] | None = None
        self.overlay_curve = self.loss_plot.plot([], [])
        self.overlay_curve.setDownsampling(auto=True, method="peak")
        self.overlay_curve.setClipToView(True)
        self.metric_curve = self.metric_plot.plot([], [])
        self.overlay_val = self.metric_plot.plot([], [])  # the second model's validation metric
        self.baseline = pg.InfiniteLine(angle=0, movable=False)
        self.baseline.hide()
        self.metric_plot.addItem(self.baseline)
        self.baseline_text = pg.TextItem(anchor=(1, 1))
        self.metric_plot.addItem(self.baseline_text, ignoreBounds=True)
        self.norm = self.norm_plot.plot([], [])
        self.norm.setDownsampling(auto=True, method="peak")
        self.norm.setClipToView(True)
        self.clips = pg.ScatterPlotItem()
        self.norm_plot.addItem(self.clips)
        self.threshold = pg.InfiniteLine(angle=0, movable=False)
        self.threshold.hide()
        self.norm_plot.addItem(self.threshold)
        lay = QtWidgets.QVBoxLayout(self)
        lay.setContentsMargins(4, 2, 4, 2)
        lay.setSpacing(2)
        lay.addWidget(self.glw, 1)
        self.frame: LossFrame | None = None
        self._arrange()
        self.apply_theme(theme)

    def _arrange(self) -> None:
        """Three plots stacked where each stays readable, else side by side."""
        self.horizontal = wants_row(self.glw.size(), 3, self.theme)
        arrange(self.glw.ci, [self.loss_plot, self.metric_plot, self.norm_plot], self.horizontal,
                [1, 1, 1] if self.horizontal else [3, 2, 2])

    def resizeEvent(self, ev: QtGui.QResizeEvent) -> None:
        super().resizeEvent(ev)
        self._arrange()
        QtCore.QTimer.singleShot(0, self._redraw)  # as many tick labels as the new size holds

    def _redraw(self) -> None:
        redraw_last(self)

    def set_log(self, on: bool) -> None:
        """The loss on a log axis (True) or a linear one."""
        if self.log.isChecked() != on:
            self.log.setChecked(on)
            return
        self.loss_plot.setLogMode(y=bool(on))
        self.loss_plot.getViewBox().setYRange(0, 1, padding=0)  # refit from scratch on the new axis
        if self.frame is not None:
            self.show_frame(self.frame)

    def apply_theme(self, theme: Theme) -> None:
        self.theme = theme
        self.glw.setBackground(theme.background)
        for p in (self.loss_plot, self.metric_plot, self.norm_plot):
            p.showGrid(x=True, y=True, alpha=theme.grid_alpha)
            style_plot(p, theme)
            p.getAxis("left").setWidth(int(2.6 * theme.pixels(1.0) + 22))  # aligned: the x axes line up
            set_axis_label(p, "bottom", "iteration", theme)
        set_axis_label(self.loss_plot, "left", "loss", theme)
        set_axis_label(self.norm_plot, "left", "‖g‖", theme)

        raw = QtGui.QColor(theme.forward)
        raw.setAlpha(70)
        self.raw.setPen(pg.mkPen(raw, width=1))
        self.smooth.setPen(theme.pen(theme.forward, 2.5))
        self.overlay_curve.setPen(theme.pen(PURPLE, 2.5))
        self.metric_curve.setPen(theme.pen(GREEN, 2.2))
        self.metric_curve.setSymbol("o")
        self.metric_curve.setSymbolSize(5)
        self.metric_curve.setSymbolBrush(GREEN)
        self.metric_curve.setSymbolPen(None)
        self.overlay_val.setPen(theme.pen(PURPLE, 2.2))
        self.overlay_val.setSymbol("t")
        self.overlay_val.setSymbolSize(6)
        self.overlay_val.setSymbolBrush(PURPLE)
        self.overlay_val.setSymbolPen(None)
        self.baseline.setPen(theme.pen(theme.muted, 1.5, style=QtCore.Qt.PenStyle.DashLine))
        self.baseline_text.setColor(theme.muted)
        self.baseline_text.setFont(theme.font(0.8))
        self.norm.setPen(theme.pen(theme.foreground, 1.2, alpha=160, opaque=True))  # (translucent: 5x the paint)
        self.clips.setBrush(pg.mkBrush(theme.backward))
        self.clips.setPen(None)
        self.clips.setSize(6)
        self.threshold.setPen(theme.pen(theme.backward, 1.5, style=QtCore.Qt.PenStyle.DashLine))
        if self.frame is not None:
            self.show_frame(self.frame)

    def show_frame(self, f: LossFrame) -> None:
        self.frame = f
        th = self.theme
        # the loss kind is in the status bar; the title keeps what matters here: the reduction
        title = "loss " + f.loss_label.split(" loss ", 1)[-1]
        if self.overlay:
            title = legend_html([(self.overlay[0], th.forward, "line"), (self.overlay[1], PURPLE, "line")], th, title)
        style_plot(self.loss_plot, th, title=title)
        val2 = self.overlay[5] if self.overlay and len(self.overlay) > 5 else np.array([])
        metric_title = f.metric_name
        if self.overlay and len(self.overlay) > 5:
            metric_title = legend_html([(self.overlay[0], GREEN, "line"), (self.overlay[1], PURPLE, "line")], th,
                                       metric_title)
        style_plot(self.metric_plot, th, title=metric_title)
        set_axis_label(self.metric_plot, "left", f.metric_name.removeprefix("validation ") or "metric", th)
        n_clip = len(f.clip_x)
        style_plot(self.norm_plot, th, title=f"‖gradient‖ before clipping · {n_clip} clipped")
        x_end = max(10.0, nice_ceil(float(f.x[-1]) + 1) if len(f.x) else 10.0)
        if self.loss_plot.getViewBox().viewRange()[0][1] != x_end * 1.02:
            self.loss_plot.setXRange(0, x_end, padding=0.02)
        # a label at the very edge would be hidden: round values inside
        x_ticks = sparse_ticks(*inner_range(self.norm_plot, "bottom"), tick_room(self.norm_plot, "bottom"), inset=0.0)
        for plot in (self.loss_plot, self.metric_plot, self.norm_plot):
            set_ticks(plot.getAxis("bottom"), [(v, f"{v:g}") for v, _s in x_ticks])
        recent = f.loss[len(f.loss) // 5:] if len(f.loss) > 20 else f.loss  # the first spike may leave
        over = self.overlay[3] if self.overlay else np.array([])
        over_recent = over[len(over) // 5:] if len(over) > 20 else over
        log = self.log.isChecked()
        fit_range(self.loss_plot, "y", np.concatenate([recent, f.smooth, over_recent]), log=log)
        fit_range(self.metric_plot, "y", np.concatenate([f.val, val2]),
                  include=(f.baseline,) if f.baseline is not None else ())
        fit_range(self.norm_plot, "y", f.norm, log=True,
                  include=(f.clip_threshold,) if f.clip_threshold else ())
        for plot in (self.loss_plot, self.metric_plot):  # short plots: three or four round labels
            lo, hi = inner_range(plot)
            if plot is self.loss_plot and log:
                set_ticks(plot.getAxis("left"), decade_ticks(10.0 ** np.array([lo, hi]), tick_room(plot)))
            else:
                set_ticks(plot.getAxis("left"), sparse_ticks(lo, hi, tick_room(plot), inset=0.0))
        self.raw.setData(f.x, f.loss, connect="finite")
        self.smooth.setData(f.x, f.smooth, connect="finite")
        if self.overlay:
            self.overlay_curve.setData(self.overlay[2], over, connect="finite")
        else:
            self.overlay_curve.setData([], [])
        self.metric_curve.setData(f.val_x, f.val, connect="finite")
        if len(val2):
            self.overlay_val.setData(self.overlay[4], val2, connect="finite")
        else:
            self.overlay_val.setData([], [])
        if f.baseline is not None and np.isfinite(f.baseline):
            self.baseline.setValue(f.baseline)
            self.baseline.show()
            self.baseline_text.setText(f.baseline_label or f"trivial baseline {f.baseline:.3g}")
            x_end = self.loss_plot.getViewBox().viewRange()[0][1]
            self.baseline_text.setPos(x_end, f.baseline)
        else:
            self.baseline.hide()
            self.baseline_text.setText("")
        pos = np.where(f.norm > 0, f.norm, np.nan)
        self.norm.setData(f.norm_x, pos, connect="finite")
        lo, hi = inner_range(self.norm_plot)
        set_ticks(self.norm_plot.getAxis("left"), decade_ticks(10.0 ** np.array([lo, hi]), tick_room(self.norm_plot)))
        ok = np.isfinite(f.clip_y) & (f.clip_y > 0)
        if np.any(ok):
            self.clips.setData(f.clip_x[ok], np.log10(f.clip_y[ok]))
        else:
            self.clips.setData([], [])
        if f.clip_threshold is not None:
            self.threshold.setValue(np.log10(f.clip_threshold))
            self.threshold.show()
        else:
            self.threshold.hide()

    def set_overlay(self, overlay: tuple | None) -> None:
        """Overlay a second model's smoothed loss ``(this model's label, its label, x, loss)`` on
        the loss plot -- and, given ``(..., val_x, val)``, its validation metric on the metric
        plot -- or None to remove them; redrawn with the current frame."""
        self.overlay = overlay
        if self.frame is not None:
            self.show_frame(self.frame)
        elif overlay is None:
            self.overlay_curve.setData([], [])
            self.overlay_val.setData([], [])
