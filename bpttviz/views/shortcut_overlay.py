"""The keyboard shortcut overlay shown on ``?``: a calm sheet over the window, any key closes it."""

from __future__ import annotations

from PySide6 import QtCore, QtGui, QtWidgets

from ..theme import Theme


class ShortcutOverlay(QtWidgets.QWidget):
    """Covers its parent; ``show_for(rows)`` with (keys, what) pairs."""

    closed = QtCore.Signal()

    def __init__(self, parent: QtWidgets.QWidget, theme: Theme) -> None:
        super().__init__(parent)
        self.setObjectName("shortcut_overlay")
        self.theme = theme
        self.rows: list[tuple[str, str]] = []
        self.setFocusPolicy(QtCore.Qt.FocusPolicy.StrongFocus)
        self.hide()

    def show_for(self, rows: list[tuple[str, str]]) -> None:
        self.rows = rows
        self.setGeometry(self.parentWidget().rect())
        self.raise_()
        self.show()
        self.setFocus()

    def paintEvent(self, _ev: QtGui.QPaintEvent) -> None:
        th = self.theme
        p = QtGui.QPainter(self)
        p.setRenderHint(QtGui.QPainter.RenderHint.Antialiasing)
        shade = QtGui.QColor(th.foreground)
        shade.setAlpha(170)
        p.fillRect(self.rect(), shade)
        title_font = th.font(1.6, bold=True)
        key_font = th.font(1.25, bold=True, mono=True)
        text_font = th.font(1.25)
        fm_k = QtGui.QFontMetrics(key_font)
        fm_t = QtGui.QFontMetrics(text_font)
        line = int(max(fm_k.height(), fm_t.height()) * 1.45)
        key_w = max((fm_k.horizontalAdvance(k) for k, _ in self.rows), default=0) + 30
        text_w = max((fm_t.horizontalAdvance(t) for _, t in self.rows), default=0)
        w = min(self.width() - 40, key_w + text_w + 80)
        h = min(self.height() - 40, int(line * (len(self.rows) + 3.8)))
        box = QtCore.QRectF((self.width() - w) / 2, (self.height() - h) / 2, w, h)
        p.setBrush(QtGui.QColor(th.background))
        p.setPen(QtCore.Qt.PenStyle.NoPen)
        p.drawRoundedRect(box, 12, 12)
        p.setPen(QtGui.QColor(th.foreground))
        p.setFont(title_font)
        y = box.top() + line * 1.2
        p.drawText(QtCore.QPointF(box.left() + 40, y), "Keyboard")
        y += line * 0.6
        for k, t in self.rows:
            y += line
            p.setFont(key_font)
            p.setPen(QtGui.QColor(th.backward))
            p.drawText(QtCore.QPointF(box.left() + 40, y), k)
            p.setFont(text_font)
            p.setPen(QtGui.QColor(th.foreground))
            p.drawText(QtCore.QPointF(box.left() + 40 + key_w, y), t)
        p.setFont(th.font(0.95))
        p.setPen(QtGui.QColor(th.muted))
        p.drawText(QtCore.QPointF(box.left() + 40, box.bottom() - line * 0.5), "press any key to close")
        p.end()

    def keyPressEvent(self, ev: QtGui.QKeyEvent) -> None:
        self.hide()
        self.closed.emit()
        ev.accept()

    def mousePressEvent(self, ev: QtGui.QMouseEvent) -> None:
        self.hide()
        self.closed.emit()
        ev.accept()
