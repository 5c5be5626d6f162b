"""The attribution view: a T×T heatmap, row t = the state h_t, column t' = the loss L_t', colour =
``log10 ||dL_t'/dh_t||`` (or the cell state's, or the recurrent weights' part), blank where the
part is exactly zero or the backward pass has not reached the row yet. Clicking a cell asks for
its chain-rule path (``cell_clicked(t, t')``); the window routes that to the explain panel.

The view draws an ``AttributionFrame`` (``bpttviz.presenters.attribution``) and knows nothing
about the engine.
"""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6 import QtCore, QtGui, QtWidgets

from bpttviz.presenters.attribution import QUANTITIES, AttributionFrame
from bpttviz.views.theme import Theme, cache_axes, magnitude_map, nice_ticks, set_axis_label, set_ticks, style_plot


class AttributionView(QtWidgets.QWidget):
    """``show_frame(AttributionFrame)`` or ``show_message(text)``; ``cell_clicked(t, t')``,
    ``quantity_changed(str)``."""

    cell_clicked = QtCore.Signal(int, int)
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

        self.plotw = pg.PlotWidget(enableMenu=False)
        self.plotw.setFocusPolicy(QtCore.Qt.FocusPolicy.NoFocus)
        self.plot: pg.PlotItem = self.plotw.getPlotItem()
        self.plot.hideButtons()
        self.plot.setMenuEnabled(False)
        self.plot.setMouseEnabled(x=False, y=False)
        vb = self.plot.getViewBox()
        vb.setDefaultPadding(0.0)
        vb.invertY(True)  # t = 0 at the top, like a matrix
        self.image = pg.ImageItem(axisOrder="row-major")
        self.plot.addItem(self.image)
        self.bar = pg.ColorBarItem(values=(-6, 0), colorMap=magnitude_map(), interactive=False, width=14,
                                   colorMapMenu=False, label="log₁₀")
        self.bar.setImageItem(self.image, insert_in=self.plot)
        cache_axes(self.bar)
        self.box = QtWidgets.QGraphicsRectItem()
        self.box.setZValue(10)
        self.box.hide()
        self.plot.addItem(self.box)
        self.diagonal = pg.PlotDataItem()
        self.plot.addItem(self.diagonal)
        self.message = QtWidgets.QLabel("")
        self.message.setObjectName("attribution_message")
        self.message.setWordWrap(True)
        self.message.setAlignment(QtCore.Qt.AlignmentFlag.AlignCenter)
        self.pages = QtWidgets.QStackedWidget()
        self.pages.addWidget(self.plotw)
        self.pages.addWidget(self.message)
        self.plotw.scene().sigMouseClicked.connect(self._clicked)
        self.plotw.scene().sigMouseMoved.connect(self._moved)

        top = QtWidgets.QHBoxLayout()
        top.addWidget(self.title, 1)
        top.addWidget(self.quantity)
        lay = QtWidgets.QVBoxLayout(self)
        lay.setContentsMargins(4, 2, 4, 2)
        lay.setSpacing(2)
        lay.addLayout(top)
        lay.addWidget(self.pages, 1)
        lay.addWidget(self.caption)
        self._shape: int | None = None
        self.apply_theme(theme)

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
        self.pages.setCurrentWidget(self.plotw)
        lo, hi = f.levels
        self.image.setImage(f.image, levels=(lo, hi), autoLevels=False)
        if self._shape != f.T:
            self._shape = f.T
            self.image.setRect(QtCore.QRectF(-0.5, -0.5, f.T, f.T))
            self.plot.setXRange(-0.5, f.T - 0.5, padding=0)
            self.plot.setYRange(-0.5, f.T - 0.5, padding=0)
            set_ticks(self.plot.getAxis("bottom"), nice_ticks(f.T, 5))
            set_ticks(self.plot.getAxis("left"), nice_ticks(f.T, 5))
            self.diagonal.setData([-0.5, f.T - 0.5], [-0.5, f.T - 0.5])
        if self.bar.levels() != (lo, hi):
            self.bar.setLevels((lo, hi))
            self._fit_bar()
        self.title.setText(f.title + (f"  ·  {f.whatif}" if f.whatif else ""))
        self.caption.setText(f.caption)
        self._draw_box()

    def _fit_bar(self) -> None:
        """The colour bar's axis as wide as its tick labels and its "log₁₀" label need at the
        theme's font (pyqtgraph leaves out a tick label that does not fit: in lecture mode, all)."""
        font = self.bar.axis.style.get("tickFont")
        fm = QtGui.QFontMetrics(font if font is not None else QtGui.QFont())
        lo, hi = self.bar.levels()
        labels = ["-0.00", "-10"] + [f"{v:g}" for v in (np.floor(lo), np.ceil(hi)) if np.isfinite(v)]
        label_h = QtGui.QFontMetrics(self.theme.font(0.95)).height() if self.theme is not None else fm.height()
        self.bar.axis.setWidth(max(fm.horizontalAdvance(t) for t in labels) + label_h + 16)

    def show_message(self, text: str) -> None:
        self.frame = None
        self.message.setText(text)
        self.pages.setCurrentWidget(self.message)
        self.title.setText(" ")
        self.caption.setText(" ")

    def cell_at(self, scene_pos: QtCore.QPointF) -> tuple[int, int] | None:
        """The cell ``(t, t')`` under a scene position, or None (outside, or below the diagonal)."""
        f = self.frame
        if f is None or not self.plot.sceneBoundingRect().contains(scene_pos):
            return None
        p = self.plot.getViewBox().mapSceneToView(scene_pos)
        tp, t = int(round(p.x())), int(round(p.y()))
        if not (0 <= t < f.T and 0 <= tp < f.T) or tp < t:
            return None
        return t, tp

    def apply_theme(self, theme: Theme) -> None:
        self.theme = theme
        self.plotw.setBackground(theme.background)
        style_plot(self.plot, theme)
        set_axis_label(self.plot, "bottom", "loss step t′", theme)
        set_axis_label(self.plot, "left", "state h_t", theme)
        self.bar.axis.setStyle(tickFont=theme.font(0.8))
        self.bar.axis.setTextPen(pg.mkPen(theme.foreground))
        self._fit_bar()
        self.box.setPen(theme.pen(theme.highlight, max(2.5, 2.5 * theme.scale)))
        self.diagonal.setPen(theme.pen(theme.muted, 1, style=QtCore.Qt.PenStyle.DotLine))
        self.title.setFont(theme.font(1.0, bold=True))
        self.caption.setFont(theme.font(0.9))
        self.caption.setMinimumHeight(int(QtGui.QFontMetrics(self.caption.font()).lineSpacing() * 2 + 2))
        self.caption.setStyleSheet(f"color: {theme.foreground};")
        self.quantity.setFont(theme.font(0.9))
        self.message.setFont(theme.font(1.05))
        self.message.setStyleSheet(f"color: {theme.muted}; background: {theme.background};")
        if self.frame is not None:
            self.show_frame(self.frame)

    # ------------------------------------------------------------------ mouse
    def _clicked(self, ev) -> None:
        cell = self.cell_at(ev.scenePos())
        if cell is not None:
            self.select(cell)
            self.cell_clicked.emit(*cell)

    def _moved(self, pos: QtCore.QPointF) -> None:
        cell = self.cell_at(pos)
        f = self.frame
        if cell is None or f is None:
            self.plotw.setToolTip("")
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
        self.plotw.setToolTip(text)

    def _draw_box(self) -> None:
        if self.selected is None or self.frame is None or max(self.selected) >= self.frame.T:
            self.box.hide()
            return
        t, tp = self.selected
        self.box.setRect(QtCore.QRectF(tp - 0.5, t - 0.5, 1.0, 1.0))
        self.box.show()
