"""The deltas view: a heatmap time x hidden units of the per-timestep deltas (signed, diverging,
symmetric levels) above the norm of each timestep's delta on a log axis, split into what came
from the output at that step and what came from the future. While a what-if is shown
(``set_whatif``) a banner beside the quantity selector says so (in the selector's row, which is
there anyway: showing it lays nothing out again)."""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6 import QtCore, QtGui, QtWidgets

from bpttviz.presenters.panels import DELTA_QUANTITIES, DeltasFrame
from bpttviz.views.heatmap import Heatmap
from bpttviz.views.plot_tools import arrange, wants_row
from bpttviz.views.theme import (
    GREEN,
    Theme,
    decade_ticks,
    fit_range,
    inner_range,
    legend_html,
    log_curves,
    nice_ticks,
    redraw_last,
    set_axis_label,
    set_ticks,
    steady_title,
    style_plot,
    tick_room,
)
from bpttviz.views.whatif_banner import WhatIfBanner


class _Header(QtWidgets.QWidget):
    """The row above the plots: the quantity selector at its own width, the what-if banner over
    the rest. The row's height is fixed and its children are placed by hand, so a banner that
    comes or goes (or a new text) never asks the view or the window to lay itself out again."""

    def __init__(self, quantity: QtWidgets.QComboBox, banner: WhatIfBanner) -> None:
        super().__init__()
        self.quantity, self.banner = quantity, banner
        quantity.setParent(self)
        banner.setParent(self)
        self.setSizePolicy(QtWidgets.QSizePolicy.Policy.Ignored, QtWidgets.QSizePolicy.Policy.Fixed)

    def fit(self) -> None:
        """Height for the selector and the banner at the current fonts; children placed."""
        h = max(self.quantity.sizeHint().height(), self.banner.strip_height())
        if self.height() != h or self.minimumHeight() != h:
            self.setFixedHeight(h)
        self._place()

    def sizeHint(self) -> QtCore.QSize:
        return QtCore.QSize(self.quantity.sizeHint().width(), self.height())

    def resizeEvent(self, ev: QtGui.QResizeEvent) -> None:
        super().resizeEvent(ev)
        self._place()

    def _place(self) -> None:
        h = self.height()
        w = min(self.quantity.sizeHint().width(), self.width()) if self.quantity.isVisibleTo(self) else 0
        self.quantity.setGeometry(0, 0, w, h)
        x = w + 4 if w else 0
        self.banner.place(x, (h - self.banner.strip_height()) // 2, self.width() - x)


class DeltasView(QtWidgets.QWidget):
    """``show_frame(DeltasFrame)``; ``quantity_changed`` when the user picks dh / dz / dc."""

    quantity_changed = QtCore.Signal(str)
    #: an exception while redrawing the last frame for a new size (the window reports it)
    redraw_failed = QtCore.Signal(object)

    def __init__(self, theme: Theme, parent: QtWidgets.QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("deltas_view")
        self.theme = theme
        self.quantity = QtWidgets.QComboBox()
        self.quantity.setFocusPolicy(QtCore.Qt.FocusPolicy.NoFocus)
        self._set_quantities(["dh", "dpre"])
        self.quantity.currentIndexChanged.connect(lambda _i: self.quantity_changed.emit(self.current_quantity()))
        self.glw = pg.GraphicsLayoutWidget()
        self.glw.setFocusPolicy(QtCore.Qt.FocusPolicy.NoFocus)
        self.heat = Heatmap(self.glw.ci, theme, row=0, col=0, x_label="", y_label="unit")
        self.heat.steady_bar = True  # (a what-if's deltas have another level than the trained ones)
        self.norms_plot: pg.PlotItem = self.glw.addPlot(row=1, col=0, enableMenu=False)
        self.norms_plot.hideButtons()
        self.norms_plot.setMenuEnabled(False)
        self.norms_plot.setMouseEnabled(x=False, y=False)
        self.norms_plot.setLogMode(y=True)
        self.norms_plot.disableAutoRange()
        for p in (self.heat.plot, self.norms_plot):
            steady_title(p)  # (a what-if's title differs from the trained one)
        # keep the columns of both plots aligned: same left-axis width, and a blank where the
        # heatmap has its colour bar
        self.spacer = pg.GraphicsWidget()
        self.norms_plot.layout.addItem(self.spacer, 2, 5)
        self.norms_plot.showGrid(x=False, y=True, alpha=theme.grid_alpha)
        self.horizontal = False
        self.curves: dict[str, pg.PlotDataItem] = {}
        self.marker = pg.InfiniteLine(angle=90, movable=False, pen=theme.pen(theme.highlight, 2))
        self.norms_plot.addItem(self.marker)
        self.marker.hide()
        lay = QtWidgets.QVBoxLayout(self)
        lay.setContentsMargins(4, 2, 4, 2)
        lay.setSpacing(2)
        self.banner = WhatIfBanner(theme)
        self.header = _Header(self.quantity, self.banner)
        lay.addWidget(self.header)
        lay.addWidget(self.glw, 1)
        self.frame: DeltasFrame | None = None
        self._arrange()
        self.apply_theme(theme)

    def _arrange(self) -> None:
        """The heatmap above the norms where both stay readable, else side by side."""
        self.horizontal = wants_row(self.glw.size(), 2, self.theme)
        arrange(self.glw.ci, [self.heat.plot, self.norms_plot], self.horizontal, [1, 1] if self.horizontal else [3, 2])
        self.spacer.setVisible(not self.horizontal)  # the columns line up only when stacked

    def resizeEvent(self, ev: QtGui.QResizeEvent) -> None:
        super().resizeEvent(ev)
        self._arrange()
        QtCore.QTimer.singleShot(0, self._redraw)  # as many tick labels as the new size holds

    def _redraw(self) -> None:
        redraw_last(self)

    def _set_quantities(self, names: list[str]) -> None:
        cur = self.current_quantity() if self.quantity.count() else "dh"
        if [self.quantity.itemData(i) for i in range(self.quantity.count())] == names:
            return
        self.quantity.blockSignals(True)
        self.quantity.clear()
        for n in names:
            self.quantity.addItem(DELTA_QUANTITIES[n], n)
        i = self.quantity.findData(cur)
        self.quantity.setCurrentIndex(max(0, i))
        self.quantity.blockSignals(False)

    def set_quantities(self, names: list[str]) -> None:
        """The choices offered (dh, dpre, and dc for an LSTM)."""
        self._set_quantities(names)
        self.quantity.setVisible(len(names) > 1)
        self._show_header()

    def _show_header(self) -> None:
        """The row shows while it holds something (a lone quantity needs no selector)."""
        want = self.quantity.isVisibleTo(self.header) or bool(self.banner.label)
        if self.header.isVisibleTo(self) != want:
            self.header.setVisible(want)
        self.header.fit()

    def current_quantity(self) -> str:
        return self.quantity.currentData() or "dh"

    def apply_theme(self, theme: Theme) -> None:
        self.theme = theme
        self.glw.setBackground(theme.background)
        self.heat.apply_theme(theme)
        self.banner.apply_theme(theme)
        style_plot(self.norms_plot, theme)
        set_axis_label(self.norms_plot, "left", "norm", theme)
        self.quantity.setFont(theme.font(1.0))
        self.header.fit()
        self.marker.setPen(theme.pen(theme.highlight, max(2, 2 * theme.scale)))
        axis_w = int(3.2 * theme.pixels(1.0) + 30)
        self.heat.plot.getAxis("left").setWidth(axis_w)
        self.norms_plot.getAxis("left").setWidth(axis_w)
        if self.frame is not None:
            self.show_frame(self.frame)

    def set_whatif(self, label: str) -> None:
        """Mark the frames shown from now on as a what-if (``label``); "" ends it."""
        self.banner.show_label(label)
        self._show_header()

    def _style(self, i: int) -> tuple[str, str]:
        th = self.theme
        return [th.foreground, th.forward, th.backward, GREEN][i % 4], ["line", "line", "dash", "dot"][i % 4]

    def _curve(self, i: int, name: str) -> pg.PlotDataItem:
        if name not in self.curves:
            th = self.theme
            c, kind = self._style(i)
            style = {"dash": QtCore.Qt.PenStyle.DashLine, "dot": QtCore.Qt.PenStyle.DotLine}.get(kind)
            width = 2.5 if i == 0 else 1.8
            item = self.norms_plot.plot([], [], pen=th.pen(c, width, style=style), connect="finite")
            log_curves(item)
            self.curves[name] = item
        return self.curves[name]

    def show_frame(self, f: DeltasFrame) -> None:
        self.frame = f
        self.heat.set_labels(f.title, f.x_label, f.y_label)
        self.heat.set_image(f.image, f.level)
        self.heat.set_marker(f.current)
        self.heat.set_breaks(f.row_breaks)
        if f.column_ticks:
            set_ticks(self.heat.plot.getAxis("bottom"), f.column_ticks)
            set_ticks(self.norms_plot.getAxis("bottom"), f.column_ticks)
        else:  # whole timesteps / layers only (a wide plot would otherwise label t = 2.5)
            ticks = nice_ticks(len(f.columns), 6) if np.array_equal(f.columns, np.arange(len(f.columns))) else None
            set_ticks(self.heat.plot.getAxis("bottom"), ticks)
            set_ticks(self.norms_plot.getAxis("bottom"), ticks)
        set_axis_label(self.norms_plot, "bottom", f.x_label, self.theme)
        x0, x1 = float(f.columns[0]) - 0.5, float(f.columns[-1]) + 0.5
        if self.norms_plot.getViewBox().viewRange()[0] != [x0, x1]:
            self.norms_plot.setXRange(x0, x1, padding=0)
        fit_range(self.norms_plot, "y", np.concatenate(list(f.norms.values())), log=True)
        self.spacer.setFixedWidth(self.heat.bar.width() + 2)
        lo, hi = inner_range(self.norms_plot)
        set_ticks(self.norms_plot.getAxis("left"), decade_ticks(10.0 ** np.array([lo, hi]),
                                                                tick_room(self.norms_plot)))
        # the legend names the sources only ("from hₜ₊₁", not "... (the future)"): one line in a narrow plot
        entries = [(name.split(" (")[0], *self._style(i)) for i, name in enumerate(f.norms)]
        style_plot(self.norms_plot, self.theme, title=legend_html(entries, self.theme))
        if list(self.curves) != list(f.norms):
            for item in self.curves.values():
                self.norms_plot.removeItem(item)
            self.curves.clear()
        for i, (name, v) in enumerate(f.norms.items()):
            v = np.asarray(v, dtype=float)
            y = np.where(v > 0, v, np.nan)  # log axis: a zero (no future at T-1) is simply absent
            if np.any(np.isfinite(y)):
                self._curve(i, name).setData(f.columns, y, connect="finite")
            else:
                self._curve(i, name).setData([], [])
        if f.current is None:
            self.marker.hide()
        else:
            self.marker.setValue(f.current)
            self.marker.show()
