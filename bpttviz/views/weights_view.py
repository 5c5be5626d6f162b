"""The weights view: a parameter matrix and its gradient as heatmaps with colour bars, and the
singular values / spectral radius of the recurrent matrix over training."""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6 import QtCore, QtGui, QtWidgets

from bpttviz.presenters.panels import WeightsFrame
from bpttviz.views.heatmap import Heatmap
from bpttviz.views.plot_tools import MIN_PLOT, arrange, plot_chrome
from bpttviz.views.theme import (
    BLUE,
    GREEN,
    ORANGE,
    PURPLE,
    SKY,
    VERMILLION,
    LabelHolder,
    Theme,
    fit_range,
    inner_range,
    legend_html,
    nice_ceil,
    set_axis_label,
    set_ticks,
    sparse_ticks,
    style_plot,
    tick_room,
)

LINE_COLOURS = [BLUE, VERMILLION, GREEN, PURPLE, ORANGE, SKY]


class WeightsView(QtWidgets.QWidget):
    """``set_parameters(names, default)``, ``show_frame(WeightsFrame)``,
    ``show_spectrum(iterations, {label: values})``."""

    parameter_changed = QtCore.Signal(str)

    def __init__(self, theme: Theme, parent: QtWidgets.QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("weights_view")
        self.theme = theme
        self.param = QtWidgets.QComboBox()
        self.param.setFocusPolicy(QtCore.Qt.FocusPolicy.NoFocus)
        self.param.setToolTip("Which parameter to show")
        self.param.currentIndexChanged.connect(lambda _i: self.parameter_changed.emit(self.current_parameter()))
        self.info = QtWidgets.QLabel(" ")
        self.info.setObjectName("weights_info")
        # a longer line (before → after at an update) must not widen the dock and move the graph:
        # it wraps onto a second line the holder always keeps (a narrow dock cuts nothing)
        self.info.setSizePolicy(QtWidgets.QSizePolicy.Policy.Ignored, QtWidgets.QSizePolicy.Policy.Preferred)
        self.info.setWordWrap(True)
        self.info.setAlignment(QtCore.Qt.AlignmentFlag.AlignLeft | QtCore.Qt.AlignmentFlag.AlignVCenter)
        self.glw = pg.GraphicsLayoutWidget()
        self.glw.setFocusPolicy(QtCore.Qt.FocusPolicy.NoFocus)
        self.maps = self.glw.ci.addLayout(row=0, col=0)
        self.maps.layout.setContentsMargins(0, 0, 0, 0)
        self.maps.layout.setHorizontalSpacing(0)
        self.value = Heatmap(self.maps, theme, row=0, col=0, title="value", square=True)
        self.grad = Heatmap(self.maps, theme, row=0, col=1, title="gradient", square=True)
        self.spec: pg.PlotItem = self.glw.addPlot(row=1, col=0, enableMenu=False)
        self.spec.hideButtons()
        self.spec.setMenuEnabled(False)
        self.spec.setMouseEnabled(x=False, y=False)
        self.spec.showGrid(x=False, y=True, alpha=theme.grid_alpha)
        self.spec.disableAutoRange()
        self.unit = pg.InfiniteLine(angle=0, pos=1.0, movable=False,
                                    pen=theme.pen(theme.muted, 1, style=QtCore.Qt.PenStyle.DashLine))
        self.spec.addItem(self.unit)
        self.horizontal = False
        self.curves: dict[str, pg.PlotDataItem] = {}
        top = QtWidgets.QHBoxLayout()
        top.addWidget(self.param)
        # held outside the layout: a new line of numbers every update would lay the window out again
        self._info_box = LabelHolder(self.info)
        top.addWidget(self._info_box, 1)
        lay = QtWidgets.QVBoxLayout(self)
        lay.setContentsMargins(4, 2, 4, 2)
        lay.setSpacing(2)
        lay.addLayout(top)
        lay.addWidget(self.glw, 1)
        self.frame: WeightsFrame | None = None
        self._arrange()
        self.apply_theme(theme)

    def _arrange(self) -> None:
        """The two heatmaps above the spectrum where both rows stay readable, else in one row."""
        size = self.glw.size()
        self.horizontal = size.height() < 2 * (MIN_PLOT + plot_chrome(self.theme)) and size.width() > size.height()
        arrange(self.glw.ci, [self.maps, self.spec], self.horizontal, [3, 2] if self.horizontal else [1, 1])
        # stacked, the spectrum keeps a readable height, and the square heatmaps get no more height
        # than their width needs (the spectrum has the rest)
        self.spec.setMinimumHeight(0 if self.horizontal else MIN_PLOT + plot_chrome(self.theme))
        px = self.theme.pixels(1.0)
        square = size.width() / 2 - (2.2 * px + 20) - (4 * px + 24)  # less the left axis and the colour bar
        self.maps.setMaximumHeight(1e6 if self.horizontal else max(MIN_PLOT, square) + plot_chrome(self.theme))

    def resizeEvent(self, ev: QtGui.QResizeEvent) -> None:
        super().resizeEvent(ev)
        self._arrange()

    def set_parameters(self, names: list[str], default: str | None) -> None:
        if [self.param.itemData(i) for i in range(self.param.count())] == names:
            return
        self.param.blockSignals(True)
        self.param.clear()
        for n in names:
            self.param.addItem(n, n)
        self.param.setCurrentIndex(max(0, self.param.findData(default)))
        self.param.blockSignals(False)
        for item in self.curves.values():
            self.spec.removeItem(item)
        self.curves.clear()

    def current_parameter(self) -> str:
        return self.param.currentData() or ""

    def apply_theme(self, theme: Theme) -> None:
        self.theme = theme
        self.glw.setBackground(theme.background)
        self.value.apply_theme(theme)
        self.grad.apply_theme(theme)
        style_plot(self.spec, theme)
        set_axis_label(self.spec, "bottom", "iteration", theme)
        set_axis_label(self.spec, "left", "singular value", theme)
        self.param.setFont(theme.font(1.0))
        self.info.setFont(theme.font(1.0))
        self._info_box.set_height(2 * QtGui.QFontMetrics(self.info.font()).lineSpacing() + 6)
        self.info.setStyleSheet(f"color: {theme.muted};")
        if self.frame is not None:
            self.show_frame(self.frame)

    def show_frame(self, f: WeightsFrame) -> None:
        """The parameter at one moment; at the update record the right-hand map shows the change
        Δ = after − before and the line above says before → after."""
        self.frame = f
        shape = "×".join(map(str, f.shape))
        self.value.set_labels(f"{f.name} ({shape})" + (" after the update" if f.delta is not None else ""),
                              "column j", "row i")
        self.value.set_image(f.value, f.value_level)
        right = f.delta if f.delta is not None else f.grad
        if right is not None:
            self.grad.set_image(right, f.grad_level)
        else:
            self.grad.set_blank(f.value.shape)
        self.grad.set_labels(f.grad_title, "column j", "row i")
        self.info.setText(self.info_text(f))
        self.info.setToolTip(self.info.text())

    @staticmethod
    def info_text(f: WeightsFrame) -> str:
        """The line above the maps: norms and σ_max at the moment, before → after at an update,
        then the moment they belong to. Parts are separated by " · " so a narrow dock wraps
        between them."""
        if f.delta is not None:
            parts = [f"‖{f.name}‖ {f.norm_before:.4g} → {f.norm:.4g}"]
            if f.sigma is not None and f.sigma_before is not None:
                parts.append(f"σ_max {f.sigma_before:.4g} → {f.sigma:.4g}")
            parts.append(f"‖Δ‖ = {f.delta_norm:.4g}")
        else:
            parts = [f"‖{f.name}‖ = {f.norm:.4g}"]
            if f.sigma is not None:
                parts.append(f"σ_max = {f.sigma:.4g}")
            if f.grad_norm is not None:
                parts.append(f"‖grad‖ = {f.grad_norm:.4g}")
        if f.label:
            parts.append(f"({f.label})")
        return " · ".join(parts)

    def shown(self) -> dict:
        """What the view displays, as plain values."""
        f = self.frame
        if f is None:
            return {}
        return {"name": f.name, "info": self.info.text(), "norm": f.norm, "sigma": f.sigma, "grad_norm": f.grad_norm,
                "norm_before": f.norm_before, "sigma_before": f.sigma_before, "delta_norm": f.delta_norm,
                "value": f.value, "delta": f.delta, "label": f.label,  # (a frame's arrays are never written)
                "grad_title": f.grad_title}

    def show_spectrum(self, x: np.ndarray, series: dict[str, np.ndarray], title: str) -> None:
        entries = []
        for i, (name, y) in enumerate(series.items()):
            c = LINE_COLOURS[i % len(LINE_COLOURS)]
            dashed = "ρ" in name
            if name not in self.curves:
                self.curves[name] = self.spec.plot(
                    [], [], pen=self.theme.pen(c, 2.2 if i == 0 else 1.6,
                                               style=QtCore.Qt.PenStyle.DashLine if dashed else None))
            self.curves[name].setData(x, y)
            entries.append((name.split(" ")[0], c, "dash" if dashed else "line"))
        style_plot(self.spec, self.theme, title=legend_html(entries, self.theme))
        if len(x):
            end = max(10.0, nice_ceil(float(x[-1]) + 1))
            if self.spec.getViewBox().viewRange()[0][1] != end:
                self.spec.setXRange(0, end, padding=0)
            fit_range(self.spec, "y", np.concatenate(list(series.values())), include=(0.0, 1.0))
            lo, hi = inner_range(self.spec)
            set_ticks(self.spec.getAxis("left"), sparse_ticks(lo, hi, tick_room(self.spec), inset=0.0))
