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

from bpttviz.presenters.graph_frame import BACKWARD, FORWARD, GraphFrame
from bpttviz.views.graph_items import EdgesItem, NodesItem
from bpttviz.views.theme import LabelHolder, Theme, magnitude_map, set_ticks, style_plot

PULSE_SECONDS = 0.45
PULSE_STOP = 0.6  # the moving dot rests this far along its edge, like an arrowhead
MIN_COLUMN_PX = 8.0  # narrower timestep columns are thinned (every n-th drawn, the legend says so)


def _objects(n: int, value) -> np.ndarray:
    """An object array of ``n`` references to ``value`` (numpy would try to unpack a Qt value)."""
    a = np.empty(n, dtype=object)
    a.fill(value)
    return a


class GraphView(QtWidgets.QWidget):
    """``show_frame(GraphFrame)``; ``animate()`` moves the delta dots (call it at frame rate)."""

    mode_changed = QtCore.Signal(str)
    node_hovered = QtCore.Signal(int)  # a frame node index under the pointer; -1 when it leaves the view

    def __init__(self, theme: Theme, parent: QtWidgets.QWidget | None = None, caption_lines: int = 2) -> None:
        super().__init__(parent)
        #: the caption's height in lines; with one line a long caption is cut with "…" and shown
        #: whole as the tooltip (the side-by-side panel, which must leave its graph the room)
        self.caption_lines = caption_lines
        self._caption_text = " "
        self.setObjectName("graph_view")
        self.theme = theme
        self.frame: GraphFrame | None = None
        self._structure = None
        self._pulse_t0 = 0.0
        self._pulse_key = None
        self._cmap = magnitude_map()
        self._input_shade: np.ndarray | None = None  # (T,) in [0, 1]: the input row's connectivity
        self._shade_label = ""
        self._shade_output: int | None = None  # the output step whose connectivity shades the inputs

        self.caption = QtWidgets.QLabel(" ")
        self.caption.setWordWrap(caption_lines > 1)
        self.caption.setTextInteractionFlags(QtCore.Qt.TextInteractionFlag.TextSelectableByMouse)
        self.mode = QtWidgets.QComboBox()
        self.mode.addItem("colour: activation", "activation")
        self.mode.addItem("colour: delta size", "delta")
        self.mode.setFocusPolicy(QtCore.Qt.FocusPolicy.NoFocus)
        self.mode.setToolTip("What node colour shows (press D to switch)")
        self.mode.currentIndexChanged.connect(lambda _i: self.mode_changed.emit(self.mode.currentData()))
        self.legend = QtWidgets.QLabel(" ")
        self.legend.setWordWrap(True)

        self.plot = pg.PlotWidget(enableMenu=False)
        self.plot.setFocusPolicy(QtCore.Qt.FocusPolicy.NoFocus)
        pi = self.plot.getPlotItem()
        self.pi = pi
        pi.hideButtons()
        pi.setMenuEnabled(False)
        pi.setMouseEnabled(x=False, y=False)
        for side in ("left", "bottom"):
            pi.getAxis(side).setStyle(tickLength=0)
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
        self.region_text = pg.TextItem(anchor=(0, 0))  # hangs down from the region's top-left corner
        self.region_text.setZValue(30)
        self.edges = EdgesItem()
        self.edges.setZValue(-10)
        self.nodes = NodesItem(tip=self._tip)
        self.nodes.setZValue(0)
        self.pulses = pg.ScatterPlotItem()
        self.pulses.setZValue(10)
        for item in (self.band, self.region, self.edges, self.nodes, self.pulses, self.region_text):
            pi.addItem(item)

        top = QtWidgets.QHBoxLayout()
        self._caption_box = LabelHolder(self.caption)
        self._caption_box.resized.connect(self._show_caption)
        self._legend_box = LabelHolder(self.legend)
        top.addWidget(self._caption_box, 1)
        top.addWidget(self.mode, 0, QtCore.Qt.AlignmentFlag.AlignTop)
        lay = QtWidgets.QVBoxLayout(self)
        lay.setContentsMargins(6, 4, 6, 4)
        lay.setSpacing(2)
        lay.addLayout(top)
        lay.addWidget(self.plot, 1)
        lay.addWidget(self._legend_box)
        self.apply_theme(theme)

    # ------------------------------------------------------------------ public
    def set_mode(self, mode: str) -> None:
        i = self.mode.findData(mode)
        if i >= 0 and i != self.mode.currentIndex():
            self.mode.setCurrentIndex(i)

    def current_mode(self) -> str:
        return self.mode.currentData()

    def set_input_shading(self, values: np.ndarray | None, label: str = "", output: int | None = None) -> None:
        """Shade the input row (x_t, and the characters on it) by ``values`` ``(T,)`` in [0, 1]
        (NaN: hollow) from neutral to the highlight colour, e.g. an output's connectivity, and say
        what the shading is (``label``, below the graph); ``output``: the output step y_t the
        shading belongs to, ringed so the eye finds it; None returns to the normal colours."""
        shade = None if values is None else np.asarray(values, dtype=float)
        output = None if shade is None or output is None else int(output)
        if (shade is None) == (self._input_shade is None) and label == self._shade_label and (
                output == self._shade_output) and (
                shade is None or np.array_equal(shade, self._input_shade, equal_nan=True)):
            return
        self._input_shade, self._shade_label = shade, label if shade is not None else ""
        self._shade_output = output
        if self.frame is not None:
            self.legend.setText(self._legend_text(self.frame))
            self._draw()

    def _legend_text(self, f: GraphFrame) -> str:
        return self._shade_label or f.legend

    def _show_caption(self) -> None:
        """The caption, cut to one line with "…" when ``caption_lines`` is 1 (whole in the tooltip)."""
        text = self._caption_text
        if self.caption_lines == 1:
            width = max(1, self._caption_box.width())
            cut = QtGui.QFontMetrics(self.caption.font()).elidedText(text, QtCore.Qt.TextElideMode.ElideRight, width)
            self.caption.setToolTip(text if cut != text else "")
            text = cut
        self.caption.setText(text)

    def apply_theme(self, theme: Theme) -> None:
        self.theme = theme
        self.plot.setBackground(theme.background)
        style_plot(self.pi, theme)
        self.caption.setFont(theme.font(1.15))
        # a fixed number of lines: a caption that rewraps would resize (and relayout) the plot each step
        line = QtGui.QFontMetrics(self.caption.font()).lineSpacing()
        self._caption_box.set_height(int(line * self.caption_lines + 4))
        self._show_caption()
        self.caption.setStyleSheet(f"color: {theme.foreground};")
        self.legend.setFont(theme.font(0.85))
        self._legend_box.set_height(int(QtGui.QFontMetrics(self.legend.font()).lineSpacing() * 2 + 2))
        self.legend.setStyleSheet(f"color: {theme.muted};")
        self.mode.setFont(theme.font(0.9))
        self.region_text.setFont(theme.font(0.9))
        self.region_text.setColor(theme.backward)
        self.nodes.label_font = theme.font(1.0, mono=True)
        self.nodes.label_pen = QtGui.QPen(QtGui.QColor(theme.foreground))
        self.nodes.ring_pen = QtGui.QPen(QtGui.QColor(theme.highlight), max(3.0, 3.0 * theme.scale))
        self.nodes.hover_pen = QtGui.QPen(QtGui.QColor(theme.highlight), 2)
        band = QtGui.QColor(theme.highlight)
        band.setAlpha(38)
        self.band.setBrush(QtGui.QBrush(band))
        self.band.setPen(QtGui.QPen(QtCore.Qt.PenStyle.NoPen))
        region = QtGui.QColor(theme.backward)
        region.setAlpha(22)
        self.region.setBrush(QtGui.QBrush(region))
        self.region.setPen(theme.pen(theme.backward, 1.5, alpha=180))
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
            set_ticks(self.pi.getAxis("left"), f.left_ticks)
            self.pi.showAxis("left", not mlp)
            self.pi.getAxis("bottom").setLabel("layer" if mlp else "timestep t")
            style_plot(self.pi, th)
        set_ticks(self.pi.getAxis("bottom"), self._thinned(f.bottom_ticks))
        self._caption_text = f.caption or " "
        self._show_caption()
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
        size = float(np.clip(0.6 * self._node_px(), 9.0, 18.0 * self.theme.scale))
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

    def column_stride(self) -> int:
        """Draw every n-th timestep: columns narrower than MIN_COLUMN_PX pixels would only smear
        (and cost a node each to paint)."""
        return max(1, int(np.ceil(MIN_COLUMN_PX / max(self._column_px(), 1e-9))))

    def _column_px(self) -> float:
        f = self.frame
        w = self.pi.getViewBox().width()
        return w / max(1e-9, f.x_range[1] - f.x_range[0]) if f is not None and w > 0 else 30.0

    def _styles(self):
        """Brushes for 64 levels of the colour map and the fixed pens, made once per theme."""
        th = self.theme
        if getattr(self, "_style_theme", None) is not th:
            self._style_theme = th
            cols = self._cmap.map(np.linspace(0, 1, 64), mode=pg.ColorMap.QCOLOR)
            self._brushes = [pg.mkBrush(c) for c in cols]
            self._fixed = (pg.mkBrush(th.background), pg.mkPen(th.muted, width=1), pg.mkPen(th.foreground, width=1),
                           pg.mkBrush("#E4E4DE"))
            self._bad = (pg.mkBrush(th.nonfinite), pg.mkPen(th.foreground, width=2))
            lo, hi = QtGui.QColor("#E4E4DE"), QtGui.QColor(th.highlight)  # neutral input -> highlight
            self._shades = [pg.mkBrush(QtGui.QColor.fromRgbF(*(a + (b - a) * v for a, b in zip(lo.getRgbF()[:3],
                                                                                            hi.getRgbF()[:3]))))
                            for v in np.linspace(0, 1, 64)]
            self._brush_table = np.empty(len(self._brushes), dtype=object)
            self._brush_table[:] = self._brushes
        return self._fixed

    def _edge_pen(self, state: int, width: float) -> QtGui.QPen:
        """Opaque edge pens, cached per state and half-pixel width."""
        th = self.theme
        if getattr(self, "_pen_theme", None) is not th:
            self._pen_theme = th
            self._pens: dict[tuple[int, float], QtGui.QPen] = {}
        key = (state, round(width * 2) / 2)
        pen = self._pens.get(key)
        if pen is None:
            colour, alpha = {BACKWARD: (th.backward, 150), FORWARD: (th.forward, 150)}.get(state, (th.muted, 110))
            pen = self._pens[key] = th.pen(colour, key[1], alpha=alpha, opaque=True)
        return pen

    def _resized(self) -> None:
        if self.frame is not None:
            set_ticks(self.pi.getAxis("bottom"), self._thinned(self.frame.bottom_ticks))
            self._draw()

    def _thinned(self, ticks: list[tuple[float, str]] | None) -> list[tuple[float, str]] | None:
        """Every n-th tick when the labels would collide at this width (large type, long T)."""
        if not ticks or len(ticks) < 2:
            return ticks
        fm = QtGui.QFontMetrics(self.theme.font(0.9))
        widest = max(fm.horizontalAdvance(str(label)) for _, label in ticks) + fm.horizontalAdvance("  ")
        gap = self._column_px() * abs(ticks[1][0] - ticks[0][0])
        n = 1 if gap <= 0 else int(np.ceil(widest / gap))
        return ticks if n <= 1 else ticks[::n]

    def _draw(self) -> None:
        f = self.frame
        npx = self._node_px()
        pos = f.pos
        vals = f.node_value
        hollow, muted, dark, neutral = self._styles()
        n = len(pos)
        finite = np.isfinite(vals)
        # one look per node, chosen by whole-array indexing into the theme's shared brushes/pens
        levels = np.rint(np.clip(np.nan_to_num(vals), 0, 1) * (len(self._brushes) - 1)).astype(int)
        brushes = self._brush_table[levels]
        brushes[~finite] = _objects(1, hollow)
        pens = _objects(n, dark)
        pens[~finite] = _objects(1, muted)
        if f.node_bad is not None and f.node_bad.any():
            brushes[f.node_bad] = _objects(1, self._bad[0])
            pens[f.node_bad] = _objects(1, self._bad[1])
        rnn = f.key[0] == "rnn"
        T = f.key[2] if rnn else 0
        symbols = np.full(n, "o")
        if rnn:
            symbols[:T] = "s"
            symbols[3 * T:4 * T] = "d"
            if self.current_mode() != "delta":  # inputs are data, not activations: a neutral square
                for i in range(T):
                    if finite[i]:
                        brushes[i] = neutral
            shade = self._input_shade
            if shade is not None and len(shade) == T:
                for i in range(T):
                    ok = np.isfinite(shade[i])
                    brushes[i] = self._shades[int(round(float(shade[i]) * (len(self._shades) - 1)))] if ok else hollow
        keep = f.node_size > 0
        stride = self.column_stride() if rnn else 1
        legend = self._legend_text(f)
        texts = f.texts if npx >= 10 else []
        if stride > 1:  # long sequences: every stride-th step (and the current one) is drawn
            t = np.arange(T)
            cols = (t % stride == 0) | (t == T - 1)
            if f.column is not None:
                cols[int(f.column)] = True
            cols[[i % T for i in f.highlight if i < 4 * T]] = True
            keep &= np.append(np.tile(cols, 4), True)
            texts = [tx for tx in texts if cols[int(round(tx[0]))]]
            legend += f"   ·   one step in {stride} drawn ({int(cols.sum())} of {T})"
        if self.legend.text() != legend:
            self.legend.setText(legend)
        idx = np.nonzero(keep)[0]
        where = np.full(n, -1)
        where[idx] = np.arange(len(idx))
        labels = {int(where[i]): text for i, text in f.node_labels if where[i] >= 0} if npx >= 12 else {}
        ringed = list(f.highlight)
        if rnn and self._input_shade is not None and self._shade_output is not None and 0 <= self._shade_output < T:
            ringed.append(2 * T + self._shade_output)  # the output y_t the shading belongs to
        rings = sorted({int(where[i]) for i in ringed if where[i] >= 0})
        self.nodes.label_width = self._column_px() * 0.96
        self.nodes.set_nodes(pos[keep], f.node_size[keep] * npx, brushes[keep].tolist(), pens[keep].tolist(),
                             symbols[keep].tolist(), idx, labels, rings, texts)
        # edges: one group per look (state and half-pixel width), thin and idle ones first so the
        # wide backward ones sit on top
        groups = []
        if len(f.edges):
            maxw = max(3.0, 0.3 * npx)
            src, dst = f.edges[:, 0].copy(), f.edges[:, 1]
            if stride > 1:  # into a drawn h_t from the previous drawn state (or the initial one)
                drawn = np.nonzero(keep[T:2 * T])[0]
                into_h = (dst >= T) & (dst < 2 * T) & (src >= T) & ~keep[src]
                prev = np.searchsorted(drawn, dst[into_h] - T) - 1
                src[into_h] = np.where(prev >= 0, T + drawn[np.maximum(prev, 0)], 4 * T)
            shown = keep[src] & keep[dst]
            src, dst = src[shown], dst[shown]
            w = np.asarray(f.edge_width, dtype=float)[shown]
            state = np.asarray(f.edge_state)[shown]
            width = np.where(state == BACKWARD, 1.0 + (maxw - 1.0) * w,
                             np.where(state == FORWARD, np.where(w <= 0, 1.5, 1.0 + 3 * w), 1.0))
            width = np.round(width * 2) / 2
            p0, p1 = pos[src], pos[dst]
            looks = np.unique(np.stack([width, state], axis=1), axis=0)
            for wd, st in sorted(looks.tolist()):
                m = (width == wd) & (state == st)
                groups.append((self._edge_pen(int(st), wd), p0[m], p1[m]))
        self.edges.set_groups(groups)
        # the current column and the truncation window (changed only when they differ: every
        # change repaints the whole plot)
        y0, y1 = f.y_range
        band = None if f.column is None else QtCore.QRectF(f.column - 0.48, y0 + 0.05, 0.96, y1 - y0 - 0.1)
        self._set_rect(self.band, band)
        region = None
        label_pos = None
        if f.region is not None:
            x0, x1, ry0, ry1 = f.region
            region = QtCore.QRectF(x0, ry0, x1 - x0, ry1 - ry0)
            label_pos = (x0, ry1)
        elif f.region_label:
            label_pos = (f.x_range[0] + 0.6, f.y_range[1] - 0.02)
        self._set_rect(self.region, region)
        dashed = QtCore.Qt.PenStyle.DashLine if f.region_dashed else QtCore.Qt.PenStyle.SolidLine
        if region is not None and self.region.pen().style() != dashed:
            pen = self.region.pen()
            pen.setStyle(dashed)
            self.region.setPen(pen)
        if label_pos is None:
            self.region_text.hide()
        else:
            if self.region_text.toPlainText() != f.region_label:
                self.region_text.setText(f.region_label)
            if (self.region_text.pos().x(), self.region_text.pos().y()) != label_pos:
                self.region_text.setPos(*label_pos)
            self.region_text.show()
        key = (f.key, tuple(f.pulses), f.caption)
        if key != self._pulse_key:
            self._pulse_key = key
            self._pulse_t0 = time.perf_counter()
        self.animate()

    @staticmethod
    def _set_rect(item: QtWidgets.QGraphicsRectItem, rect: QtCore.QRectF | None) -> None:
        if rect is None:
            if item.isVisible():
                item.hide()
            return
        if item.rect() != rect:
            item.setRect(rect)
        if not item.isVisible():
            item.show()

    def _tip(self, node: int) -> str:
        self.node_hovered.emit(int(node))
        return self.frame.tip(node) if self.frame is not None else ""

    def leaveEvent(self, ev: QtCore.QEvent) -> None:  # noqa: N802 - Qt's name
        self.node_hovered.emit(-1)
        super().leaveEvent(ev)
