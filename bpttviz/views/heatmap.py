"""A signed heatmap with a fixed diverging colour bar: the building block of the deltas and
weights views. Row-major float32 images, symmetric levels ``(-m, m)``; NaN draws as blank."""

from __future__ import annotations

import weakref

import numpy as np
import pyqtgraph as pg
import shiboken6
from PySide6 import QtCore, QtGui

from bpttviz.views.theme import (
    Theme,
    cache_axes,
    nice_ceil,
    nice_ticks,
    set_axis_label,
    set_ticks,
    style_plot,
    tick_room,
)

#: at most this many image rows/columns are drawn: a 1000x1000 matrix in a dock a few hundred
#: pixels wide is shown in blocks (each block's largest-magnitude value, sign kept)
MAX_CELLS = 256


def pool_max_abs(img: np.ndarray, kr: int, kc: int) -> np.ndarray:
    """``img`` (rows, cols) in blocks of ``kr x kc``: each block's entry of largest magnitude (its
    sign kept; the positive one when both signs tie; NaN only where a block is all NaN). The last
    blocks may be partial. The largest and smallest entries are accumulated row by row and then
    column by column (``fmax``/``fmin`` skip NaN): a few passes over the image, no sorting."""
    rows, cols = img.shape
    R, C = -(-rows // kr), -(-cols // kc)
    if (R * kr, C * kc) != (rows, cols):
        pad = np.full((R * kr, C * kc), np.nan, dtype=img.dtype)
        pad[:rows, :cols] = img
        img = pad
    b = img.reshape(R, kr, C * kc)
    hi = b[:, 0].copy()
    lo = hi.copy()
    for i in range(1, kr):
        np.fmax(hi, b[:, i], out=hi)
        np.fmin(lo, b[:, i], out=lo)
    hi, lo = hi.reshape(R, C, kc), lo.reshape(R, C, kc)
    top, bottom = hi[..., 0].copy(), lo[..., 0].copy()
    for j in range(1, kc):
        np.fmax(top, hi[..., j], out=top)
        np.fmin(bottom, lo[..., j], out=bottom)
    return np.where(-bottom > top, bottom, top)


_LIVE = False  # training is running (see set_live)
_ALL: weakref.WeakSet = weakref.WeakSet()  # every Heatmap made


def set_live(on: bool) -> None:
    """Training started (``on``) or stopped: while it runs, colour bars only widen (a bar that
    followed every new level's labels would lay its plot out again on most frames); when it
    stops, every bar takes its exact width again."""
    global _LIVE
    _LIVE = bool(on)
    if not _LIVE:
        for h in list(_ALL):
            if shiboken6.isValid(h.bar):
                h._fit_bar()


class Heatmap:
    """A PlotItem holding one ImageItem and a ColorBarItem, inside a GraphicsLayout."""

    def __init__(self, layout: pg.GraphicsLayout, theme: Theme, *, row: int = 0, col: int = 0,
                 title: str = "", x_label: str = "", y_label: str = "", invert_y: bool = True,
                 square: bool = False) -> None:
        self.theme = theme
        self.plot: pg.PlotItem = layout.addPlot(row=row, col=col, enableMenu=False)
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
        self.blocks = (1, 1)  # rows x columns of the image per drawn cell (see MAX_CELLS)
        self.level = 1.0
        self.auto_ticks = True
        self._origin = (-0.5, -0.5)
        self._bar_width = 0  # the colour bar axis's width (see _fit_bar)
        #: the colour bar only widens (until a new theme): a view whose level changes with every
        #: what-if sets it, so a new level's labels do not lay its plots out again each time
        self.steady_bar = False
        _ALL.add(self)
        self.plot.getViewBox().sigResized.connect(lambda _vb: self.retick())
        self.apply_theme(theme)

    def retick(self) -> None:
        """Whole-cell ticks, as many as fit the plot's size now, none whose label would stick out
        past the ends of its axis (pyqtgraph hides those)."""
        if self._shape is None or not self.auto_ticks:
            return
        vb = self.plot.getViewBox()
        (xa, xb), (ya, yb) = vb.viewRange()
        for side, n, origin, (a, b), px in (("bottom", self._shape[1], self._origin[0], (xa, xb), vb.width()),
                                            ("left", self._shape[0], self._origin[1], (ya, yb), vb.height())):
            if origin != -0.5:
                set_ticks(self.plot.getAxis(side), None)
                continue
            font = self.plot.getAxis(side).style.get("tickFont")
            fpx = QtGui.QFontInfo(font).pixelSize() if font is not None else 12
            room = tick_room(self.plot, side, 4)
            ticks = nice_ticks(n, room)
            if px > 20 and b > a:
                half = (0.35 * fpx * len(str(n - 1)) if side == "bottom" else 0.5 * fpx) / (px / (b - a))
                ticks = [t for t in ticks if a + half <= t[0] <= b - half] or ticks
            set_ticks(self.plot.getAxis(side), ticks)

    def apply_theme(self, theme: Theme) -> None:
        self.theme = theme
        self.bar.setColorMap(theme.cmap())
        self.bar.axis.setStyle(tickFont=theme.font(0.8))
        self._bar_width = 0
        self._fit_bar()
        self.plot.getAxis("left").setWidth(int(2.2 * theme.pixels(1.0) + 20))
        self.bar.axis.setTextPen(pg.mkPen(theme.foreground))
        self.marker.setPen(theme.pen(theme.highlight, max(2, 2 * theme.scale)))
        self.set_labels(self._title, self._xl, self._yl)

    def _fit_bar(self) -> None:
        """The colour bar's scale: its ends and middle written out (automatic ticks of a tiny
        level may all be cut), and the bar's axis as wide as its longest label (pyqtgraph leaves
        out a label that does not fit)."""
        level = self.level
        ticks = [(v, "0" if v == 0 else f"{v:.2g}") for v in (-level, -level / 2, 0.0, level / 2, level)]
        set_ticks(self.bar.axis, ticks)
        font = self.bar.axis.style.get("tickFont")
        fm = QtGui.QFontMetrics(font if font is not None else QtGui.QFont())
        # A new width lays the whole plot out again and repaints it (about 6 ms of a frame), and
        # while training a new level, with labels of another width, comes with most frames: while
        # training (``set_live``) the bar only widens; paused, it takes its exact width
        width = max(fm.horizontalAdvance(t) for _v, t in ticks) + 16
        if width > self._bar_width or (not (_LIVE or self.steady_bar) and width != self._bar_width):
            self._bar_width = width
            self.bar.axis.setWidth(width)

    def set_labels(self, title: str, x_label: str, y_label: str) -> None:
        self._title, self._xl, self._yl = title, x_label, y_label
        if x_label:
            set_axis_label(self.plot, "bottom", x_label, self.theme)
        if y_label:
            set_axis_label(self.plot, "left", y_label, self.theme)
        kr, kc = self.blocks
        note = f" · {kr}×{kc} blocks: largest |value| of each" if (kr, kc) != (1, 1) else ""
        style_plot(self.plot, self.theme, title=title + note if title or note else title)

    def set_image(self, image: np.ndarray, level: float, *, x0: float = -0.5, y0: float = -0.5) -> None:
        """Show ``image`` (rows, cols) with levels ``(-level, level)``; column j is centred at
        ``x0 + 0.5 + j``."""
        img = np.ascontiguousarray(image, dtype=np.float32)
        self._set(img, img.shape, level, x0, y0)

    def set_blank(self, shape: tuple[int, int], *, x0: float = -0.5, y0: float = -0.5) -> None:
        """Nothing to show yet for a ``shape`` image: blank cells (made at the drawn size)."""
        rows, cols = shape
        drawn = (-(-rows // -(-rows // MAX_CELLS)), -(-cols // -(-cols // MAX_CELLS)))
        self._set(np.full(drawn, np.nan, dtype=np.float32), (rows, cols), 1.0, x0, y0, pooled=True)

    def _set(self, img: np.ndarray, shape: tuple[int, int], level: float, x0: float, y0: float,
             pooled: bool = False) -> None:
        rows, cols = shape
        level = nice_ceil(float(level)) if np.isfinite(level) and level > 0 else 1e-12
        self.level = level
        blocks = (-(-rows // MAX_CELLS), -(-cols // MAX_CELLS))
        if blocks != (1, 1) and not pooled:
            img = pool_max_abs(img, *blocks)
        if blocks != self.blocks:
            self.blocks = blocks
            self.set_labels(self._title, self._xl, self._yl)
        self.image.setImage(img, levels=(-level, level), autoLevels=False)
        if self._shape != (rows, cols):
            self._shape = (rows, cols)
            self.image.setRect(QtCore.QRectF(x0, y0, cols, rows))
            if self.square:
                self.plot.getViewBox().setRange(QtCore.QRectF(x0, y0, cols, rows), padding=0)
            else:
                self.plot.setXRange(x0, x0 + cols, padding=0)
                self.plot.setYRange(y0, y0 + rows, padding=0)
            self._origin = (x0, y0)
            self.retick()
        if self.bar.levels() != (-level, level):
            self.bar.setLevels((-level, level))
            # the scale's ends and middle, written out (automatic ticks of a tiny level may all be cut)
            self._fit_bar()

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
