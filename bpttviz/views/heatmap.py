"""A signed heatmap with a fixed diverging colour bar: the building block of the deltas and
weights views. Row-major float32 images, symmetric levels ``(-m, m)``; NaN draws as blank."""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6 import QtCore

from ..theme import Theme, cache_axes, nice_ceil, nice_ticks, set_axis_label, set_ticks, style_plot


class Heatmap:
    """A PlotItem holding one ImageItem and a ColorBarItem, inside a GraphicsLayout."""

    def __init__(self, layout: pg.GraphicsLayout, theme: Theme, *, row: int = 0, col: int = 0,
                 title: str = "", x_label: str = "", y_label: str = "", invert_y: bool = True,
                 square: bool = False) -> None:
        self.theme = theme
        self.plot: pg.PlotItem = layout.addPlot(row=row, col=col)
        self.plot.hideButtons()
        self.plot.setMenuEnabled(False)
        self.plot.setMouseEnabled(x=False, y=False)
        self.plot.getViewBox().setDefaultPadding(0.0)
        self.plot.getViewBox().invertY(invert_y)
        if square:  # a matrix's cells drawn square: rows and columns compare at a glance
            self.plot.getViewBox().setAspectLocked(True, 1.0)
        self.square = square
        self.image = pg.ImageItem(axisOrder="row-major")
        self.plot.addItem(self.image)
        self.bar = pg.ColorBarItem(values=(-1, 1), colorMap=theme.cmap(), interactive=False, width=12,
                                   colorMapMenu=False, pen=theme.muted)
        self.bar.setImageItem(self.image, insert_in=self.plot)
        cache_axes(self.bar)
        self.marker = pg.InfiniteLine(angle=90, movable=False, pen=theme.pen(theme.highlight, 2))
        self.marker.setZValue(10)
        self.marker.hide()
        self.plot.addItem(self.marker)
        self.breaks: list[pg.InfiniteLine] = []
        self._title, self._xl, self._yl = title, x_label, y_label
        self._shape: tuple[int, int] | None = None
        self.level = 1.0
        self.auto_ticks = True
        self.apply_theme(theme)

    def apply_theme(self, theme: Theme) -> None:
        self.theme = theme
        self.bar.setColorMap(theme.cmap())
        self.bar.axis.setStyle(tickFont=theme.font(0.8))
        self.plot.getAxis("left").setWidth(int(2.2 * theme.pixels(1.0) + 20))
        self.bar.axis.setTextPen(pg.mkPen(theme.foreground))
        self.marker.setPen(theme.pen(theme.highlight, max(2, 2 * theme.scale)))
        self.set_labels(self._title, self._xl, self._yl)

    def set_labels(self, title: str, x_label: str, y_label: str) -> None:
        self._title, self._xl, self._yl = title, x_label, y_label
        if x_label:
            set_axis_label(self.plot, "bottom", x_label, self.theme)
        if y_label:
            set_axis_label(self.plot, "left", y_label, self.theme)
        style_plot(self.plot, self.theme, title=title)

    def set_image(self, image: np.ndarray, level: float, *, x0: float = -0.5, y0: float = -0.5) -> None:
        """Show ``image`` (rows, cols) with levels ``(-level, level)``; column j is centred at
        ``x0 + 0.5 + j``."""
        img = np.ascontiguousarray(image, dtype=np.float32)
        rows, cols = img.shape
        level = nice_ceil(float(level)) if np.isfinite(level) and level > 0 else 1e-12
        self.level = level
        self.image.setImage(img, levels=(-level, level), autoLevels=False)
        if self._shape != (rows, cols):
            self._shape = (rows, cols)
            self.image.setRect(QtCore.QRectF(x0, y0, cols, rows))
            if self.square:
                self.plot.getViewBox().setRange(QtCore.QRectF(x0, y0, cols, rows), padding=0)
            else:
                self.plot.setXRange(x0, x0 + cols, padding=0)
                self.plot.setYRange(y0, y0 + rows, padding=0)
            if self.auto_ticks:
                set_ticks(self.plot.getAxis("bottom"), nice_ticks(cols, 3) if x0 == -0.5 else None)
                set_ticks(self.plot.getAxis("left"), nice_ticks(rows, 3) if y0 == -0.5 else None)
        if self.bar.levels() != (-level, level):
            self.bar.setLevels((-level, level))

    def set_marker(self, x: float | None) -> None:
        if x is None:
            self.marker.hide()
        else:
            self.marker.setValue(x)
            self.marker.show()

    def set_breaks(self, ys: list[float]) -> None:
        while len(self.breaks) < len(ys):
            ln = pg.InfiniteLine(angle=0, movable=False, pen=self.theme.pen(self.theme.foreground, 1, alpha=140))
            self.plot.addItem(ln)
            self.breaks.append(ln)
        for ln, y in zip(self.breaks, ys):
            ln.setValue(y)
            ln.show()
        for ln in self.breaks[len(ys):]:
            ln.hide()
