"""The unrolled graph: nodes per timestep (or per MLP layer/unit), edges whose width is the delta
flowing back along them, the current step highlighted, and the delta visibly moving.

The view draws a ``GraphFrame`` (``bpttviz.presenters.graph_frame``) and knows nothing about the
engine. Items are created once; each frame only sets their data.
"""

from __future__ import annotations

import time

import numpy as np
import pyqtgraph as pg
from PySide6 import QtCore, QtGui, QtWidgets

from ..presenters.graph_frame import BACKWARD, FORWARD, GraphFrame
from ..theme import Theme, magnitude_map, style_plot

PULSE_SECONDS = 0.45
PULSE_STOP = 0.72  # the moving dot rests this far along its edge, like an arrowhead


class EdgesItem(pg.GraphicsObject):
    """Straight edges with one cosmetic pen (colour, pixel width) per edge."""

    def __init__(self) -> None:
        super().__init__()
        self._lines: list[tuple[QtGui.QPen, list[QtCore.QLineF]]] = []
        self._rect = QtCore.QRectF()

    def set_edges(self, p0: np.ndarray, p1: np.ndarray, pens: list[QtGui.QPen]) -> None:
        groups: dict[tuple, tuple[QtGui.QPen, list[QtCore.QLineF]]] = {}
        for (x0, y0), (x1, y1), pen in zip(p0, p1, pens):
            key = (pen.color().rgba(), round(pen.widthF(), 1), int(pen.style().value))
            groups.setdefault(key, (pen, []))[1].append(QtCore.QLineF(x0, y0, x1, y1))
        # draw thin/idle edges first so the wide backward ones sit on top
        self._lines = sorted(groups.values(), key=lambda g: g[0].widthF())
        if len(p0):
            pts = np.vstack([p0, p1])
            lo, hi = pts.min(0), pts.max(0)
            self._rect = QtCore.QRectF(lo[0], lo[1], hi[0] - lo[0], hi[1] - lo[1]).adjusted(-0.5, -0.5, 0.5, 0.5)
        self.prepareGeometryChange()
        self.update()

    def paint(self, p: QtGui.QPainter, *args) -> None:
        p.setRenderHint(QtGui.QPainter.RenderHint.Antialiasing, False)
        for pen, lines in self._lines:
            p.setPen(pen)
            p.drawLines(lines)

    def boundingRect(self) -> QtCore.QRectF:
        return self._rect


class GraphView(QtWidgets.QWidget):
    """``show_frame(GraphFrame)``; ``animate()`` moves the delta dots (call it at frame rate)."""

    mode_changed = QtCore.Signal(str)

    def __init__(self, theme: Theme, parent: QtWidgets.QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("graph_view")
        self.theme = theme
        self.frame: GraphFrame | None = None
        self._structure = None
        self._pulse_t0 = 0.0
        self._pulse_key = None
        self._cmap = magnitude_map()

        self.caption = QtWidgets.QLabel(" ")
        self.caption.setWordWrap(True)
        self.caption.setTextInteractionFlags(QtCore.Qt.TextInteractionFlag.TextSelectableByMouse)
        self.mode = QtWidgets.QComboBox()
        self.mode.addItem("colour: activation", "activation")
        self.mode.addItem("colour: delta size", "delta")
        self.mode.setFocusPolicy(QtCore.Qt.FocusPolicy.NoFocus)
        self.mode.setToolTip("What node colour shows (press D to switch)")
        self.mode.currentIndexChanged.connect(lambda _i: self.mode_changed.emit(self.mode.currentData()))
        self.legend = QtWidgets.QLabel(" ")
        self.legend.setWordWrap(True)

        self.plot = pg.PlotWidget()
        self.plot.setFocusPolicy(QtCore.Qt.FocusPolicy.NoFocus)
        pi = self.plot.getPlotItem()
        self.pi = pi
        pi.hideButtons()
        pi.setMenuEnabled(False)
        pi.setMouseEnabled(x=False, y=False)
        pi.showAxis("top")
        for side in ("left", "top", "bottom"):
            pi.getAxis(side).setStyle(tickLength=0)
        pi.getAxis("top").setLabel("target")
        pi.getAxis("bottom").setLabel("timestep t")
        vb = pi.getViewBox()
        vb.setDefaultPadding(0.0)
        vb.sigResized.connect(self._resized)

        self.band = QtWidgets.QGraphicsRectItem()
        self.band.setZValue(-20)
        self.band.hide()
        self.region = QtWidgets.QGraphicsRectItem()
        self.region.setZValue(-15)
        self.region.hide()
        self.region_text = pg.TextItem(anchor=(0, 1))
        self.region_text.setZValue(30)
        self.edges = EdgesItem()
        self.edges.setZValue(-10)
        self.nodes = pg.ScatterPlotItem(hoverable=True, tip=self._tip, hoverPen=pg.mkPen(theme.highlight, width=3))
        self.nodes.setZValue(0)
        self.rings = pg.ScatterPlotItem()
        self.rings.setZValue(5)
        self.pulses = pg.ScatterPlotItem()
        self.pulses.setZValue(10)
        for item in (self.band, self.region, self.edges, self.nodes, self.rings, self.pulses, self.region_text):
            pi.addItem(item)
        self.labels: list[pg.TextItem] = []

        top = QtWidgets.QHBoxLayout()
        top.addWidget(self.caption, 1)
        top.addWidget(self.mode, 0, QtCore.Qt.AlignmentFlag.AlignTop)
        lay = QtWidgets.QVBoxLayout(self)
        lay.setContentsMargins(6, 4, 6, 4)
        lay.setSpacing(2)
        lay.addLayout(top)
        lay.addWidget(self.plot, 1)
        lay.addWidget(self.legend)
        self.apply_theme(theme)

    # ------------------------------------------------------------------ public
    def set_mode(self, mode: str) -> None:
        i = self.mode.findData(mode)
        if i >= 0 and i != self.mode.currentIndex():
            self.mode.setCurrentIndex(i)

    def current_mode(self) -> str:
        return self.mode.currentData()

    def apply_theme(self, theme: Theme) -> None:
        self.theme = theme
        self.plot.setBackground(theme.background)
        style_plot(self.pi, theme)
        self.caption.setFont(theme.font(1.15))
        self.caption.setStyleSheet(f"color: {theme.foreground};")
        self.legend.setFont(theme.font(0.85))
        self.legend.setStyleSheet(f"color: {theme.muted};")
        self.mode.setFont(theme.font(0.9))
        self.region_text.setFont(theme.font(0.9))
        self.region_text.setColor(theme.backward)
        for t in self.labels:
            t.setFont(theme.font(1.0, mono=True))
        if self.frame is not None:
            self._structure = None
            self.show_frame(self.frame)

    def show_frame(self, f: GraphFrame) -> None:
        """Draw a frame; the structure (ticks, ranges, labels) is rebuilt only when it changes."""
        self.frame = f
        th = self.theme
        if f.key != self._structure:
            self._structure = f.key
            self.pi.setXRange(*f.x_range, padding=0)
            self.pi.setYRange(*f.y_range, padding=0)
            mlp = f.key[0] == "mlp"
            self.pi.getAxis("left").setTicks([f.left_ticks])
            self.pi.showAxis("left", not mlp)
            self.pi.showAxis("top", not mlp)
            self.pi.getAxis("bottom").setLabel("layer" if mlp else "timestep t")
            style_plot(self.pi, th)
        self.pi.getAxis("bottom").setTicks([f.bottom_ticks])
        self.pi.getAxis("top").setTicks([f.top_ticks])
        self.caption.setText(f.caption or " ")
        self.legend.setText(f.legend)
        self._draw()

    def animate(self, now: float | None = None) -> bool:
        """Move the delta dots along their edges; True while still moving."""
        f = self.frame
        if f is None or not f.pulses:
            if len(self.pulses.data):
                self.pulses.setData([])
            return False
        now = time.perf_counter() if now is None else now
        prog = min(1.0, (now - self._pulse_t0) / PULSE_SECONDS)
        s = PULSE_STOP * (1 - (1 - prog) ** 2)  # ease out
        src = f.pos[[a for a, _, _ in f.pulses]]
        dst = f.pos[[b for _, b, _ in f.pulses]]
        pts = src + (dst - src) * s
        colours = [self.theme.backward if k == "backward" else self.theme.forward for _, _, k in f.pulses]
        size = max(8.0, 0.45 * self._node_px())
        self.pulses.setData(pos=pts, size=size, brush=[pg.mkBrush(c) for c in colours],
                            pen=pg.mkPen(self.theme.background, width=2), symbol="o")
        return prog < 1.0

    # ------------------------------------------------------------------ drawing
    def _node_px(self) -> float:
        f = self.frame
        vb = self.pi.getViewBox()
        w, h = vb.width(), vb.height()
        if f is None or w <= 0:
            return 16.0
        px_x = w / max(1e-9, f.x_range[1] - f.x_range[0])
        px_y = h / max(1e-9, f.y_range[1] - f.y_range[0])
        unit = 1.0 if f.key[0] == "rnn" else 0.9
        return float(np.clip(min(px_x * 0.62, px_y * unit * 0.5), 7.0, 46.0 * self.theme.scale))

    def _resized(self) -> None:
        if self.frame is not None:
            self._draw()

    def _draw(self) -> None:
        f = self.frame
        th = self.theme
        npx = self._node_px()
        pos = f.pos
        vals = f.node_value
        cols = self._cmap.map(np.nan_to_num(np.clip(vals, 0, 1)), mode=pg.ColorMap.QCOLOR)
        hollow = pg.mkBrush(th.background)
        muted = pg.mkPen(th.muted, width=1)
        dark = pg.mkPen(th.foreground, width=1)
        brushes = [hollow if not np.isfinite(v) else pg.mkBrush(c) for v, c in zip(vals, cols)]
        pens = [muted if not np.isfinite(v) else dark for v in vals]
        rnn = f.key[0] == "rnn"
        T = f.key[2] if rnn else 0
        symbols = ["o"] * len(pos)
        if rnn:
            symbols[:T] = ["s"] * T
            symbols[3 * T:4 * T] = ["d"] * T
            for i in range(T):  # inputs are data, not activations: a light neutral square
                if np.isfinite(vals[i]) and f.key[0] == "rnn" and self.current_mode() != "delta":
                    brushes[i] = pg.mkBrush("#E4E4DE")
        keep = f.node_size > 0
        idx = np.nonzero(keep)[0]
        self.nodes.setData(pos=pos[keep], size=(f.node_size[keep] * npx), brush=[brushes[i] for i in idx],
                           pen=[pens[i] for i in idx], symbol=[symbols[i] for i in idx], data=idx)
        # edges
        E = len(f.edges)
        if E:
            p0, p1 = pos[f.edges[:, 0]], pos[f.edges[:, 1]]
            maxw = max(3.0, 0.3 * npx)
            pens_e = []
            idle = th.pen(th.muted, 1, alpha=110)
            fwd = th.pen(th.forward, 1.5, alpha=150)
            for s, w in zip(f.edge_state, f.edge_width):
                if s == BACKWARD:
                    pens_e.append(th.pen(th.backward, 1.0 + (maxw - 1.0) * float(w), alpha=170))
                elif s == FORWARD:
                    pens_e.append(fwd if w <= 0 else th.pen(th.forward, 1.0 + 3 * float(w), alpha=150))
                else:
                    pens_e.append(idle)
            self.edges.set_edges(p0, p1, pens_e)
        else:
            self.edges.set_edges(np.zeros((0, 2)), np.zeros((0, 2)), [])
        # highlight rings
        if f.highlight:
            hl = np.array(f.highlight, dtype=int)
            self.rings.setData(pos=pos[hl], size=f.node_size[hl] * npx + 12, brush=None,
                               pen=pg.mkPen(th.highlight, width=max(3, int(3 * th.scale))), symbol="o")
        else:
            self.rings.setData([])
        # the current column
        y0, y1 = f.y_range
        if f.column is not None:
            self.band.setRect(QtCore.QRectF(f.column - 0.48, y0 + 0.05, 0.96, y1 - y0 - 0.1))
            c = QtGui.QColor(th.highlight)
            c.setAlpha(38)
            self.band.setBrush(QtGui.QBrush(c))
            self.band.setPen(QtGui.QPen(QtCore.Qt.PenStyle.NoPen))
            self.band.show()
        else:
            self.band.hide()
        # the truncation window
        if f.region is not None:
            x0, x1, ry0, ry1 = f.region
            self.region.setRect(QtCore.QRectF(x0, ry0, x1 - x0, ry1 - ry0))
            c = QtGui.QColor(th.backward)
            c.setAlpha(22)
            self.region.setBrush(QtGui.QBrush(c))
            pen = th.pen(th.backward, 1.5, style=QtCore.Qt.PenStyle.DashLine if f.region_dashed else None, alpha=180)
            self.region.setPen(pen)
            self.region.show()
            self.region_text.setText(f.region_label)
            self.region_text.setPos(x0, ry1)
            self.region_text.show()
        elif f.region_label:
            self.region.hide()
            self.region_text.setText(f.region_label)
            self.region_text.setPos(f.x_range[0] + 0.6, f.y_range[1] - 0.02)
            self.region_text.show()
        else:
            self.region.hide()
            self.region_text.hide()
        self._draw_labels(npx)
        key = (f.key, tuple(f.pulses), f.caption)
        if key != self._pulse_key:
            self._pulse_key = key
            self._pulse_t0 = time.perf_counter()
        self.animate()

    def _draw_labels(self, npx: float) -> None:
        """Text on nodes (the input tokens inside the input squares)."""
        f = self.frame
        texts = [(f.pos[i, 0], f.pos[i, 1], s) for i, s in f.node_labels]
        while len(self.labels) < len(texts):
            t = pg.TextItem(anchor=(0.5, 0.5), color=self.theme.foreground)
            t.setFont(self.theme.font(1.0, mono=True))
            t.setZValue(8)
            self.pi.addItem(t)
            self.labels.append(t)
        for item, (x, y, s) in zip(self.labels, texts):
            item.setText(s)
            item.setPos(x, y)
            item.setVisible(npx >= 12)
        for item in self.labels[len(texts):]:
            item.setVisible(False)

    def _tip(self, x: float = 0.0, y: float = 0.0, data=None) -> str:
        if self.frame is None or data is None:
            return ""
        try:
            return self.frame.tip(int(data))
        except Exception as e:  # a tooltip must never take the app down
            return f"(no details: {e})"
