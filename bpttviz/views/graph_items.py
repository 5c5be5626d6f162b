"""Two light graphics items for the unrolled graph: edges drawn as one path per look (pen), and
nodes drawn in pixel sizes with their labels, highlight rings and hover tooltips.

Why not a ``ScatterPlotItem`` and a ``PlotCurveItem`` per look: each costs several Python calls per
repaint (bounds, data mapping, per-point styles); these items do the per-node work once, when the
data change (``set_edges`` / ``set_nodes``), and ``paint`` is then a loop of blits. Both items
render through a device-coordinate pixmap cache, so a repaint that only moves the delta dots above
them (the pulse animation) blits two pixmaps instead of redrawing a hundred nodes.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pyqtgraph as pg
from PySide6 import QtCore, QtGui, QtWidgets

from bpttviz.views.tip_panel import hide_tip, show_tip

CACHE = QtWidgets.QGraphicsItem.CacheMode.DeviceCoordinateCache


class EdgesItem(pg.GraphicsObject):
    """Straight edges in groups that share one cosmetic pen: ``set_groups([(pen, p0, p1), ...])``,
    ``p0``/``p1`` ``(n, 2)`` start and end points; groups are drawn in order (later on top)."""

    def __init__(self) -> None:
        super().__init__()
        self._paths: list[tuple[QtGui.QPen, QtGui.QPainterPath]] = []
        self._rect = QtCore.QRectF()
        self._key = None
        self.setCacheMode(CACHE)

    def set_groups(self, groups: list[tuple[QtGui.QPen, np.ndarray, np.ndarray]]) -> None:
        key = tuple((id(pen), p0.tobytes(), p1.tobytes()) for pen, p0, p1 in groups)
        if key == self._key:
            return
        self._key = key
        self._groups = groups  # keep the pens alive while their ids are in the key
        paths = []
        lo, hi = np.full(2, np.inf), np.full(2, -np.inf)
        for pen, p0, p1 in groups:
            if not len(p0):
                continue
            xy = np.empty((2 * len(p0), 2))
            xy[0::2], xy[1::2] = p0, p1  # one path of separate segments: (start, end) pairs
            paths.append((pen, pg.arrayToQPath(xy[:, 0], xy[:, 1], connect="pairs")))
            lo, hi = np.minimum(lo, xy.min(0)), np.maximum(hi, xy.max(0))
        self._paths = paths
        rect = (QtCore.QRectF(lo[0], lo[1], hi[0] - lo[0], hi[1] - lo[1]).adjusted(-0.5, -0.5, 0.5, 0.5)
                if paths else QtCore.QRectF())
        if rect != self._rect:
            self.prepareGeometryChange()
            self._rect = rect
        self.update()

    def paint(self, p: QtGui.QPainter, *args) -> None:
        p.setRenderHint(QtGui.QPainter.RenderHint.Antialiasing, False)
        p.setBrush(QtCore.Qt.BrushStyle.NoBrush)
        for pen, path in self._paths:
            p.setPen(pen)
            p.drawPath(path)

    def boundingRect(self) -> QtCore.QRectF:
        return self._rect


class NodesItem(pg.GraphicsObject):
    """Nodes at data positions with pixel sizes: ``set_nodes(...)``. Symbols: "o" circle,
    "s" square, "d" diamond. ``tip(i)`` gives the tooltip of node ``ids[i]``."""

    MARGIN = 0.7  # data units around the positions that the largest node may cover

    def __init__(self, tip: Callable[[int], str] | None = None) -> None:
        super().__init__()
        self.setAcceptHoverEvents(True)
        self.setCacheMode(CACHE)
        self.tip = tip
        self.points = np.zeros((0, 2))
        self.sizes = np.zeros(0)
        self.ids = np.zeros(0, dtype=int)
        self.labels: dict[int, str] = {}
        self.texts: list[tuple[float, float, str]] = []
        self.rings: list[int] = []
        self.ring_pen = QtGui.QPen(QtGui.QColor("#E69F00"), 3)
        self.label_font = QtGui.QFont()
        self.label_width = 0.0  # pixels a label may take (a column); longer ones are elided
        self.label_pen = QtGui.QPen(QtGui.QColor("#2B2B2B"))
        self.hovered = -1
        self.hover_pen = QtGui.QPen(QtGui.QColor("#E69F00"), 2)
        self._rect = QtCore.QRectF()
        self._key = None
        self._pixmaps: list[QtGui.QPixmap] = []
        self._sprites: dict[tuple, tuple[QtGui.QPixmap, QtGui.QBrush, QtGui.QPen]] = {}
        self._static: dict[tuple, QtGui.QStaticText] = {}

    def set_nodes(self, pos: np.ndarray, sizes: np.ndarray, brushes: list[QtGui.QBrush], pens: list[QtGui.QPen],
                  symbols: list[str], ids: np.ndarray, labels: dict[int, str] | None = None,
                  rings: list[int] | None = None, texts: list[tuple[float, float, str]] | None = None) -> None:
        """Positions ``(N, 2)``, pixel sizes ``(N,)``, one brush/pen/symbol each (shared objects:
        a node's sprite is cached per brush, pen, symbol and size); ``ids`` are the frame's node
        indices; ``labels`` text drawn on the node at that position in the arrays; ``rings``:
        positions in the arrays to circle in the highlight colour; ``texts``: (x, y, text) drawn
        centred at data positions (cheaper than a TextItem or axis ticks each)."""
        key = (pos.tobytes(), sizes.tobytes(), tuple(map(id, brushes)), tuple(map(id, pens)),
               tuple(symbols), tuple(sorted((labels or {}).items())), tuple(rings or ()), self.ring_pen.widthF(),
               tuple(texts or ()), self.label_width)
        if key == self._key:
            return
        self._key = key
        self.points, self.sizes = pos, sizes
        self._pixmaps = [self._sprite(sym, float(s), b, p)
                         for sym, s, b, p in zip(symbols, sizes.tolist(), brushes, pens)]
        self.ids = ids
        self.labels = labels or {}
        self.rings = list(rings or ())
        self.texts = list(texts or ())
        if len(pos):
            lo, hi = pos.min(0), pos.max(0)
            m = self.MARGIN
            rect = QtCore.QRectF(lo[0] - m, lo[1] - m, hi[0] - lo[0] + 2 * m, hi[1] - lo[1] + 2 * m)
        else:
            rect = QtCore.QRectF()
        if rect != self._rect:
            self.prepareGeometryChange()
            self._rect = rect
        self.update()

    def boundingRect(self) -> QtCore.QRectF:
        return self._rect

    def _sprite(self, sym: str, size: float, brush: QtGui.QBrush, pen: QtGui.QPen) -> QtGui.QPixmap:
        """A node drawn once into a pixmap (antialiased), then blitted: cached per look."""
        key = (sym, round(size * 2), id(brush), id(pen))
        hit = self._sprites.get(key)
        if hit is not None:
            return hit[0]
        s = round(size * 2) / 2
        w = int(np.ceil(s + pen.widthF() + 2))
        pm = QtGui.QPixmap(w, w)
        pm.fill(QtCore.Qt.GlobalColor.transparent)
        if s > 0:
            q = QtGui.QPainter(pm)
            q.setRenderHint(QtGui.QPainter.RenderHint.Antialiasing, True)
            q.setBrush(brush)
            q.setPen(pen)
            c, r = w / 2, s / 2
            if sym == "s":
                q.drawRect(QtCore.QRectF(c - r, c - r, s, s))
            elif sym == "d":
                q.drawPolygon(QtGui.QPolygonF([QtCore.QPointF(c, c - r), QtCore.QPointF(c + r, c),
                                               QtCore.QPointF(c, c + r), QtCore.QPointF(c - r, c)]))
            else:
                q.drawEllipse(QtCore.QPointF(c, c), r, r)
            q.end()
        if len(self._sprites) > 2000:
            self._sprites.clear()
        self._sprites[key] = (pm, brush, pen)  # the brush and pen stay alive while their ids are keys
        return pm

    def _text(self, text: str, width: int) -> QtGui.QStaticText:
        """``text`` elided to ``width`` pixels, laid out once (per font) and then only drawn."""
        key = (text, width, self.label_font.key())
        st = self._static.get(key)
        if st is None:
            fm = QtGui.QFontMetrics(self.label_font)
            st = QtGui.QStaticText(fm.elidedText(text, QtCore.Qt.TextElideMode.ElideRight, width))
            st.setTextFormat(QtCore.Qt.TextFormat.PlainText)
            st.prepare(QtGui.QTransform(), self.label_font)
            if len(self._static) > 5000:
                self._static.clear()
            self._static[key] = st
        return st

    def _device(self, tr: QtGui.QTransform, xy: np.ndarray) -> np.ndarray:
        """Data positions ``(N, 2)`` to device pixels (the view's transform: scale and shift)."""
        m = np.array([[tr.m11(), tr.m12()], [tr.m21(), tr.m22()]])
        return xy @ m + (tr.dx(), tr.dy())

    def paint(self, p: QtGui.QPainter, *args) -> None:
        if not len(self.points):
            return
        tr = p.transform()
        dev = self._device(tr, self.points)
        p.save()
        p.resetTransform()
        for (x, y), pm in zip(dev.tolist(), self._pixmaps):
            p.drawPixmap(round(x - pm.width() / 2), round(y - pm.height() / 2), pm)
        p.setRenderHint(QtGui.QPainter.RenderHint.Antialiasing, True)
        p.setBrush(QtCore.Qt.BrushStyle.NoBrush)
        if self.rings:
            p.setPen(self.ring_pen)
            for i in self.rings:
                r = self.sizes[i] / 2 + 5
                p.drawEllipse(QtCore.QPointF(*dev[i]), r, r)
        if 0 <= self.hovered < len(dev):
            p.setPen(self.hover_pen)
            r = self.sizes[self.hovered] / 2 + 3
            p.drawEllipse(QtCore.QPointF(*dev[self.hovered]), r, r)
        if self.labels or self.texts:
            p.setFont(self.label_font)
            p.setPen(self.label_pen)
            h = QtGui.QFontMetrics(self.label_font).height()
            w = int(self.label_width) if self.label_width > 0 else 4 * h
            at = [(dev[i], text) for i, text in self.labels.items()]
            if self.texts:
                tdev = self._device(tr, np.array([(x, y) for x, y, _ in self.texts], dtype=float))
                at += [(c, text) for c, (_, _, text) in zip(tdev, self.texts)]
            for (x, y), text in at:
                st = self._text(text, w)
                sz = st.size()
                p.drawStaticText(QtCore.QPointF(x - sz.width() / 2, y - sz.height() / 2), st)
        p.restore()

    # ------------------------------------------------------------------ hover
    def node_at(self, pos: QtCore.QPointF) -> int:
        """Index (in the arrays) of the node under ``pos`` (item coordinates), or -1."""
        if not len(self.points):
            return -1
        vb = self.getViewBox()
        if vb is None:
            return -1
        px, py = self.pixelWidth() or 1.0, self.pixelHeight() or 1.0
        d = np.hypot((self.points[:, 0] - pos.x()) / px, (self.points[:, 1] - pos.y()) / py)
        i = int(np.argmin(d))
        return i if d[i] <= max(6.0, self.sizes[i] / 2 + 2) else -1

    def hoverEvent(self, ev) -> None:
        if ev.isExit():
            self._set_hover(-1)
            hide_tip(self.getViewWidget())
            return
        i = self.node_at(ev.pos())
        self._set_hover(i)
        if i >= 0 and self.tip is not None:
            try:
                text = self.tip(int(self.ids[i]))
            except Exception as e:  # noqa: BLE001 - a tooltip must never take the app down
                text = f"(no details: {e})"
            show_tip(self.getViewWidget(), ev.screenPos().toPoint(), text)  # stays while read; can be pinned
        else:
            hide_tip(self.getViewWidget())

    def _set_hover(self, i: int) -> None:
        if i != self.hovered:
            self.hovered = i
            self.update()
