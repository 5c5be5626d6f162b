"""Two light graphics items for the unrolled graph: edges with a pen each, and nodes drawn in
pixel sizes with their labels, highlight rings and hover tooltips. One Python ``paint`` call each
per repaint (pyqtgraph's ScatterPlotItem and a TextItem per label cost several times more)."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pyqtgraph as pg
from PySide6 import QtCore, QtGui

from .tip_panel import hide_tip, show_tip


class EdgesItem(pg.GraphicsObject):
    """Straight edges with one cosmetic pen (colour, pixel width) per edge."""

    def __init__(self) -> None:
        super().__init__()
        self._lines: list[tuple[QtGui.QPen, list[QtCore.QLineF]]] = []
        self._rect = QtCore.QRectF()
        self._key = None

    def set_edges(self, p0: np.ndarray, p1: np.ndarray, pens: list[QtGui.QPen]) -> None:
        """``pens`` should be shared objects (one per look): edges are grouped by pen identity."""
        key = (p0.tobytes(), p1.tobytes(), tuple(map(id, pens)))
        if key == self._key:
            return
        self._key = key
        self._pens = pens  # keep them alive while their ids are in the key
        groups: dict[int, tuple[QtGui.QPen, list[QtCore.QLineF]]] = {}
        for (x0, y0), (x1, y1), pen in zip(p0.tolist(), p1.tolist(), pens):
            groups.setdefault(id(pen), (pen, []))[1].append(QtCore.QLineF(x0, y0, x1, y1))
        # thin and idle edges first, so the wide backward ones sit on top
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


class NodesItem(pg.GraphicsObject):
    """Nodes at data positions with pixel sizes: ``set_nodes(...)``. Symbols: "o" circle,
    "s" square, "d" diamond. ``tip(i)`` gives the tooltip of node ``ids[i]``."""

    MARGIN = 0.7  # data units around the positions that the largest node may cover

    def __init__(self, tip: Callable[[int], str] | None = None) -> None:
        super().__init__()
        self.setAcceptHoverEvents(True)
        self.tip = tip
        self.points = np.zeros((0, 2))
        self.sizes = np.zeros(0)
        self.brushes: list[QtGui.QBrush] = []
        self.pens: list[QtGui.QPen] = []
        self.symbols: list[str] = []
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
        self._sprites: dict[tuple, QtGui.QPixmap] = {}

    def set_nodes(self, pos: np.ndarray, sizes: np.ndarray, brushes: list[QtGui.QBrush], pens: list[QtGui.QPen],
                  symbols: list[str], ids: np.ndarray, labels: dict[int, str] | None = None,
                  rings: list[int] | None = None, texts: list[tuple[float, float, str]] | None = None) -> None:
        """Positions ``(N, 2)``, pixel sizes ``(N,)``, one brush/pen/symbol each; ``ids`` are the
        frame's node indices; ``labels`` text drawn on the node at that position in the arrays;
        ``rings``: positions in the arrays to circle in the highlight colour; ``texts``: (x, y, text)
        drawn centred at data positions (cheaper than a TextItem or axis ticks each)."""
        key = (pos.tobytes(), sizes.tobytes(), tuple(id(b) for b in brushes), tuple(id(p) for p in pens),
               tuple(symbols), tuple(sorted((labels or {}).items())), tuple(rings or ()), self.ring_pen.widthF(),
               tuple(texts or ()))
        if key == self._key:
            return
        self._key = key
        self.points, self.sizes, self.brushes, self.pens, self.symbols = pos, sizes, brushes, pens, symbols
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

    def _device_points(self, p: QtGui.QPainter) -> list[QtCore.QPointF]:
        tr = self._tr = p.transform()
        return [tr.map(QtCore.QPointF(float(x), float(y))) for x, y in self.points]

    def _sprite(self, sym: str, size: float, brush: QtGui.QBrush, pen: QtGui.QPen) -> QtGui.QPixmap:
        """A node drawn once into a pixmap (antialiased), then blitted: cached per look."""
        key = (sym, round(size * 2), brush.color().rgba(), brush.style().value, pen.color().rgba(), pen.widthF())
        pm = self._sprites.get(key)
        if pm is None:
            s = round(size * 2) / 2
            w = int(np.ceil(s + pen.widthF() + 2))
            pm = QtGui.QPixmap(w, w)
            pm.fill(QtCore.Qt.GlobalColor.transparent)
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
            self._sprites[key] = pm
        return pm

    def paint(self, p: QtGui.QPainter, *args) -> None:
        if not len(self.points):
            return
        pts = self._device_points(p)
        p.save()
        p.resetTransform()
        for i, (c, s) in enumerate(zip(pts, self.sizes)):
            if s <= 0:
                continue
            pm = self._sprite(self.symbols[i], float(s), self.brushes[i], self.pens[i])
            p.drawPixmap(QtCore.QPointF(c.x() - pm.width() / 2, c.y() - pm.height() / 2), pm)
        p.setRenderHint(QtGui.QPainter.RenderHint.Antialiasing, True)
        p.setBrush(QtCore.Qt.BrushStyle.NoBrush)
        if self.rings:
            p.setPen(self.ring_pen)
            for i in self.rings:
                r = self.sizes[i] / 2 + 5
                p.drawEllipse(pts[i], r, r)
        if 0 <= self.hovered < len(pts):
            p.setPen(self.hover_pen)
            r = self.sizes[self.hovered] / 2 + 3
            p.drawEllipse(pts[self.hovered], r, r)
        flags = QtCore.Qt.AlignmentFlag.AlignCenter
        if self.labels or self.texts:
            p.setFont(self.label_font)
            p.setPen(self.label_pen)
            fm = QtGui.QFontMetrics(self.label_font)
            h = fm.height()
            w = int(self.label_width) if self.label_width > 0 else 4 * h
            elide = QtCore.Qt.TextElideMode.ElideRight
        for i, text in self.labels.items():
            c = pts[i]
            p.drawText(QtCore.QRectF(c.x() - w / 2, c.y() - h / 2, w, h), flags, fm.elidedText(text, elide, w))
        tr = self._tr
        for x, y, text in self.texts:
            c = tr.map(QtCore.QPointF(x, y))
            p.drawText(QtCore.QRectF(c.x() - w / 2, c.y() - h / 2, w, h), flags, fm.elidedText(text, elide, w))
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
