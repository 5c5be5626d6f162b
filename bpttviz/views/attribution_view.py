"""The attribution view: a T×T heatmap, row t = the state h_t, column t' = the loss L_t', colour =
``log10 ||dL_t'/dh_t||`` (or the cell state's, or the recurrent weights' part), blank where the
part is exactly zero or the backward pass has not reached the row yet. Clicking a cell asks for
its chain-rule path (``cell_clicked(t, t')``); the window routes that to the explain panel.

Side by side (a frame carrying a second model's, from a comparison): the second matrix is drawn
beside the first on the same colour scale, each under its model's name; clicking one of its
cells emits ``second_cell_clicked(t, t')``.

The view draws an ``AttributionFrame`` (``bpttviz.presenters.attribution``) and knows nothing
about the engine.
"""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6 import QtCore, QtGui, QtWidgets

from bpttviz.presenters.attribution import QUANTITIES, AttributionFrame
from bpttviz.views.theme import (
    LabelHolder,
    Theme,
    cache_axes,
    magnitude_map,
    nice_ticks,
    set_axis_label,
    set_ticks,
    style_plot,
)


class AttributionView(QtWidgets.QWidget):
    """``show_frame(AttributionFrame)`` or ``show_message(text)``; ``cell_clicked(t, t')``,
    ``quantity_changed(str)``."""

    cell_clicked = QtCore.Signal(int, int)
    second_cell_clicked = QtCore.Signal(int, int)
    quantity_changed = QtCore.Signal(str)

    def __init__(self, theme: Theme, parent: QtWidgets.QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("attribution_view")
        self.theme = theme
        self.frame: AttributionFrame | None = None
        self.selected: tuple[int, int] | None = None

        self.quantity = QtWidgets.QComboBox()
        self.quantity.setObjectName("attribution_quantity")
        self.quantity.setFocusPolicy(QtCore.Qt.FocusPolicy.NoFocus)
        self.quantity.setToolTip("What each cell measures")
        self.set_quantities(("h", "W"))
        self.quantity.currentIndexChanged.connect(lambda _i: self.quantity_changed.emit(self.current_quantity()))
        self.title = QtWidgets.QLabel(" ")
        self.title.setObjectName("attribution_title")
        self.caption = QtWidgets.QLabel(" ")
        self.caption.setObjectName("attribution_caption")
        self.caption.setWordWrap(True)
        self.caption.setTextInteractionFlags(QtCore.Qt.TextInteractionFlag.TextSelectableByMouse)
        # Both labels sit in holders of a fixed height: a new title or caption (every what-if
        # change brings both) then lays nothing out again; the caption's holder grows or shrinks
        # only when the text needs another number of lines. The title is one line, cut at the
        # view's width (whole in the tooltip) instead of widening the dock.
        self._title_box = LabelHolder(self.title)
        self._caption_box = LabelHolder(self.caption)

        self.plotw, self.plot, self.image = self._matrix_plot()
        # the second model's matrix (side by side), shown only for a frame that carries one
        self.plotw2, self.plot2, self.image2 = self._matrix_plot()
        self.plotw2.hide()
        self.bar = pg.ColorBarItem(values=(-6, 0), colorMap=magnitude_map(), interactive=False, width=14,
                                   colorMapMenu=False, label="log₁₀")
        self.bar.setImageItem([self.image, self.image2], insert_in=self.plot)
        self._bar_plot = self.plot  # the plot whose right side holds the colour bar (the last shown)
        # side by side, a blank as wide as the bar takes its place beside the first matrix, so
        # both matrices are drawn the same size
        self.bar_spacer = pg.GraphicsWidget()
        cache_axes(self.bar)
        self.box = QtWidgets.QGraphicsRectItem()
        self.box.setZValue(10)
        self.box.hide()
        self.plot.addItem(self.box)
        self.diagonal = pg.PlotDataItem()
        self.plot.addItem(self.diagonal)
        self.diagonal2 = pg.PlotDataItem()
        self.plot2.addItem(self.diagonal2)
        self.message = QtWidgets.QLabel("")
        self.message.setObjectName("attribution_message")
        self.message.setWordWrap(True)
        self.message.setAlignment(QtCore.Qt.AlignmentFlag.AlignCenter)
        self.plots = QtWidgets.QWidget()
        row = QtWidgets.QHBoxLayout(self.plots)
        row.setContentsMargins(0, 0, 0, 0)
        row.setSpacing(0)
        row.addWidget(self.plotw, 1)
        row.addWidget(self.plotw2, 1)
        self.pages = QtWidgets.QStackedWidget()
        self.pages.addWidget(self.plots)
        self.pages.addWidget(self.message)
        for w, second in ((self.plotw, False), (self.plotw2, True)):
            w.scene().sigMouseClicked.connect(lambda ev, second=second: self._clicked(ev, second))
            w.scene().sigMouseMoved.connect(lambda pos, second=second: self._moved(pos, second))

        top = QtWidgets.QHBoxLayout()
        top.addWidget(self._title_box, 1)
        top.addWidget(self.quantity)
        lay = QtWidgets.QVBoxLayout(self)
        lay.setContentsMargins(4, 2, 4, 2)
        lay.setSpacing(2)
        lay.addLayout(top)
        lay.addWidget(self.pages, 1)
        lay.addWidget(self._caption_box)
        self._shape: tuple | None = None
        self._shape2: tuple | None = None
        self._titles: dict[int, str] = {}
        self.apply_theme(theme)

    @staticmethod
    def _matrix_plot() -> tuple[pg.PlotWidget, pg.PlotItem, pg.ImageItem]:
        plotw = pg.PlotWidget(enableMenu=False)
        plotw.setFocusPolicy(QtCore.Qt.FocusPolicy.NoFocus)
        plot: pg.PlotItem = plotw.getPlotItem()
        plot.hideButtons()
        plot.setMenuEnabled(False)
        plot.setMouseEnabled(x=False, y=False)
        vb = plot.getViewBox()
        vb.setDefaultPadding(0.0)
        vb.invertY(True)  # t = 0 at the top, like a matrix
        image = pg.ImageItem(axisOrder="row-major")
        plot.addItem(image)
        return plotw, plot, image

    # ------------------------------------------------------------------ public
    def set_quantities(self, names) -> None:
        """The quantities the model offers (``"h"``, ``"c"`` for an LSTM, ``"W"``)."""
        names = tuple(names)
        if tuple(self.quantity.itemData(i) for i in range(self.quantity.count())) == names:
            return
        keep = self.current_quantity() if self.quantity.count() else "h"
        self.quantity.blockSignals(True)
        self.quantity.clear()
        for n in names:
            self.quantity.addItem(QUANTITIES[n], n)
        i = self.quantity.findData(keep)
        self.quantity.setCurrentIndex(max(i, 0))
        self.quantity.blockSignals(False)

    def current_quantity(self) -> str:
        return self.quantity.currentData() or "h"

    def select(self, cell: tuple[int, int] | None) -> None:
        """Outline cell ``(t, t')`` (None: no outline)."""
        self.selected = cell
        self._draw_box()

    def show_frame(self, f: AttributionFrame) -> None:
        self.frame = f
        self.pages.setCurrentWidget(self.plots)
        lo, hi = f.levels
        self.image.setImage(f.image, levels=(lo, hi), autoLevels=False)
        if self._shape != (f.T, f.output):
            self._shape = (f.T, f.output)
            self._shape_plot(self.plot, self.image, self.diagonal, f.T, f.output)
        two = f.second
        if two is not None:
            self.image2.setImage(two.image, levels=(lo, hi), autoLevels=False)
            if self._shape2 != (two.T, two.output):
                self._shape2 = (two.T, two.output)
                self._shape_plot(self.plot2, self.image2, self.diagonal2, two.T, two.output)
        self.plotw2.setVisible(two is not None)
        self._bar_beside(self.plot2 if two is not None else self.plot)
        for plot, text in ((self.plot, f.label if two is not None else ""), (self.plot2, two.label if two else "")):
            if self._titles.get(id(plot)) != text:  # (a title's row appears and goes with its text)
                self._titles[id(plot)] = text
                plot.setTitle(text or None, color=self.theme.foreground, size=f"{self.theme.pixels(0.95)}px")
        if self.bar.levels() != (lo, hi):
            self.bar.setLevels((lo, hi))
            self._fit_bar()
        self._set_texts(f.title + (f"  ·  {f.whatif}" if f.whatif else ""), f.caption)
        self._draw_box()

    def _set_texts(self, title: str, caption: str) -> None:
        if title != self.title.text():
            self.title.setText(title)
            self.title.setToolTip(title)
        if caption != self.caption.text():
            self.caption.setText(caption)
            self._caption_box.fit(self._caption_min, steady=True)

    def _bar_beside(self, plot: pg.PlotItem) -> None:
        """The colour bar at the right of ``plot``: side by side it belongs after both matrices,
        not between them."""
        if self._bar_plot is plot:
            return
        self._bar_plot.layout.removeItem(self.bar)
        if plot is self.plot:
            self.plot.layout.removeItem(self.bar_spacer)
            self.bar_spacer.setParentItem(None)
        plot.scene().addItem(self.bar)  # (the two plots are separate scenes)
        plot.layout.addItem(self.bar, 2, 5)
        plot.layout.setColumnFixedWidth(4, 5)
        if plot is not self.plot:
            self.plot.scene().addItem(self.bar_spacer)
            self.plot.layout.addItem(self.bar_spacer, 2, 5)
            self._fit_spacer()
        self._bar_plot = plot

    def _fit_spacer(self) -> None:
        w = self.bar.width() or self.bar.axis.width() + 14
        self.bar_spacer.setFixedWidth(w)

    @staticmethod
    def _shape_plot(plot: pg.PlotItem, image: pg.ImageItem, diagonal: pg.PlotDataItem, T: int,
                    output: str = "all") -> None:
        """Axes for a T x T matrix; many-to-one (``output`` "last"): its one filled column, the
        last, across the whole width (the other T - 1 columns are empty by definition)."""
        image.setRect(QtCore.QRectF(-0.5, -0.5, T, T))
        last = output == "last"
        plot.setXRange(T - 1.5 if last else -0.5, T - 0.5, padding=0)
        plot.setYRange(-0.5, T - 0.5, padding=0)
        set_ticks(plot.getAxis("bottom"), [(float(T - 1), str(T - 1))] if last else nice_ticks(T, 5))
        set_ticks(plot.getAxis("left"), nice_ticks(T, 5))
        if last:
            diagonal.setData([], [])
        else:
            diagonal.setData([-0.5, T - 0.5], [-0.5, T - 0.5])

    def _fit_bar(self) -> None:
        """The colour bar's axis as wide as its tick labels and its "log₁₀" label need at the
        theme's font (pyqtgraph leaves out a tick label that does not fit: in lecture mode, all)."""
        font = self.bar.axis.style.get("tickFont")
        fm = QtGui.QFontMetrics(font if font is not None else QtGui.QFont())
        lo, hi = self.bar.levels()
        labels = ["-0.00", "-10"] + [f"{v:g}" for v in (np.floor(lo), np.ceil(hi)) if np.isfinite(v)]
        label_h = QtGui.QFontMetrics(self.theme.font(0.95)).height() if self.theme is not None else fm.height()
        width = max(fm.horizontalAdvance(t) for t in labels) + label_h + 16
        if self.bar.axis.width() != width:  # (a new width lays the plot out again)
            self.bar.axis.setWidth(width)
        if self._bar_plot is not self.plot:
            self._fit_spacer()

    def show_message(self, text: str) -> None:
        self.frame = None
        self.message.setText(text)
        self.pages.setCurrentWidget(self.message)
        self._set_texts(" ", " ")

    def cell_at(self, scene_pos: QtCore.QPointF, second: bool = False) -> tuple[int, int] | None:
        """The cell ``(t, t')`` under a scene position of the first (or the second) matrix's
        plot, or None (outside, or below the diagonal)."""
        f = self.frame
        plot = self.plot2 if second else self.plot
        if f is not None and second:
            f = f.second
        if f is None or not plot.sceneBoundingRect().contains(scene_pos):
            return None
        p = plot.getViewBox().mapSceneToView(scene_pos)
        tp, t = int(round(p.x())), int(round(p.y()))
        if not (0 <= t < f.T and 0 <= tp < f.T) or tp < t:
            return None
        return t, tp

    def apply_theme(self, theme: Theme) -> None:
        self.theme = theme
        for plotw, plot in ((self.plotw, self.plot), (self.plotw2, self.plot2)):
            plotw.setBackground(theme.background)
            style_plot(plot, theme)
            set_axis_label(plot, "bottom", "loss step t′", theme)
            set_axis_label(plot, "left", "state h_t", theme)
        self._titles.clear()
        self.bar.axis.setStyle(tickFont=theme.font(0.8))
        self.bar.axis.setTextPen(pg.mkPen(theme.foreground))
        self._fit_bar()
        self.box.setPen(theme.pen(theme.highlight, max(2.5, 2.5 * theme.scale)))
        self.diagonal.setPen(theme.pen(theme.muted, 1, style=QtCore.Qt.PenStyle.DotLine))
        self.diagonal2.setPen(theme.pen(theme.muted, 1, style=QtCore.Qt.PenStyle.DotLine))
        self.title.setFont(theme.font(1.0, bold=True))
        self.caption.setFont(theme.font(0.9))
        self._caption_min = int(QtGui.QFontMetrics(self.caption.font()).lineSpacing() * 2 + 2)
        self._caption_box.fit(self._caption_min)  # (a new font: the exact height)
        self.caption.setStyleSheet(f"color: {theme.foreground};")
        self.quantity.setFont(theme.font(0.9))
        self.message.setFont(theme.font(1.05))
        self.message.setStyleSheet(f"color: {theme.muted}; background: {theme.background};")
        self._title_box.set_height(max(self.title.sizeHint().height(), self.quantity.sizeHint().height()))
        if self.frame is not None:
            self.show_frame(self.frame)

    # ------------------------------------------------------------------ mouse
    def _clicked(self, ev, second: bool = False) -> None:
        cell = self.cell_at(ev.scenePos(), second)
        if cell is None:
            return
        if second:
            self.second_cell_clicked.emit(*cell)
        else:
            self.select(cell)
            self.cell_clicked.emit(*cell)

    def _moved(self, pos: QtCore.QPointF, second: bool = False) -> None:
        cell = self.cell_at(pos, second)
        f = self.frame.second if second and self.frame is not None else self.frame
        plotw = self.plotw2 if second else self.plotw
        if cell is None or f is None:
            plotw.setToolTip("")
            return
        t, tp = cell
        v = float(f.values[t, tp])
        shown = np.isfinite(f.image[t, tp])
        what = QUANTITIES[f.quantity].replace("t′", str(tp)).replace("_t", f"_{t}")
        if not shown and t < f.filled_from:
            text = f"t = {t}, t′ = {tp}: the backward pass has not reached h_{t} yet"
        elif v == 0.0:
            text = f"t = {t}, t′ = {tp}: exactly 0 (the loss at {tp} does not reach h_{t})"
        else:
            text = f"{what} = {v:.4g}  (click: the chain-rule path)"
        if f.label:
            text = f"{f.label}: {text}"
        plotw.setToolTip(text)

    def _draw_box(self) -> None:
        if self.selected is None or self.frame is None or max(self.selected) >= self.frame.T:
            self.box.hide()
            return
        t, tp = self.selected
        self.box.setRect(QtCore.QRectF(tp - 0.5, t - 0.5, 1.0, 1.0))
        self.box.show()
