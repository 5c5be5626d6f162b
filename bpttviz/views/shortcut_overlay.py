"""The keyboard shortcut overlay shown on ``?``: a calm sheet over the window, any key closes it."""

from __future__ import annotations

from PySide6 import QtCore, QtGui, QtWidgets

from bpttviz.views.theme import Theme


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
        layout = self.fit()
        title_font, key_font, text_font = layout["fonts"]
        line, key_w, col_w, cols, per_col = (layout[k] for k in ("line", "key_w", "col_w", "cols", "per_col"))
        w, h = layout["size"]
        box = QtCore.QRectF((self.width() - w) / 2, (self.height() - h) / 2, w, h)
        p.setBrush(QtGui.QColor(th.background))
        p.setPen(QtCore.Qt.PenStyle.NoPen)
        p.drawRoundedRect(box, 12, 12)
        p.setPen(QtGui.QColor(th.foreground))
        p.setFont(title_font)
        y = box.top() + line * 1.2
        p.drawText(QtCore.QPointF(box.left() + 40, y), "Keyboard")
        y0 = y + line * 0.6
        for i, (k, t) in enumerate(self.rows):
            col, row = divmod(i, per_col)
            x = box.left() + 40 + col * col_w
            y = y0 + (row + 1) * line
            p.setFont(key_font)
            p.setPen(QtGui.QColor(th.backward))
            p.drawText(QtCore.QPointF(x, y), k)
            p.setFont(text_font)
            p.setPen(QtGui.QColor(th.foreground))
            p.drawText(QtCore.QPointF(x + key_w, y), t)
        p.setFont(th.font(0.95))
        p.setPen(QtGui.QColor(th.muted))
        p.drawText(QtCore.QPointF(box.left() + 40, box.bottom() - line * 0.5), "press any key to close")
        p.end()

    def fit(self) -> dict:
        """Fonts, columns and box size that fit the window: the rows in one column at the large
        size when they fit, else in two columns, else at the body text size (never smaller), with
        tighter lines before a third column."""
        th = self.theme
        avail_w, avail_h = max(200, self.width() - 40), max(150, self.height() - 40)
        out = {}
        for factor, cols, spacing in ((1.25, 1, 1.45), (1.25, 2, 1.45), (1.0, 1, 1.45), (1.0, 2, 1.45),
                                      (1.0, 1, 1.2), (1.0, 2, 1.2), (1.0, 1, 1.05), (1.0, 3, 1.2)):
            title_font = th.font(factor * 1.28, bold=True)
            key_font = th.font(factor, bold=True, mono=True)
            text_font = th.font(factor)
            fm_k, fm_t = QtGui.QFontMetrics(key_font), QtGui.QFontMetrics(text_font)
            line = int(max(fm_k.height(), fm_t.height()) * spacing)
            key_w = max((fm_k.horizontalAdvance(k) for k, _ in self.rows), default=0) + 30
            text_w = max((fm_t.horizontalAdvance(t) for _, t in self.rows), default=0)
            per_col = max(1, -(-len(self.rows) // cols))
            col_w = key_w + text_w + 40
            w, h = cols * col_w + 40, int(line * (per_col + 2.6)) + int(title_font.pointSizeF() * 2.2)
            out = {"fonts": (title_font, key_font, text_font), "line": line, "key_w": key_w, "col_w": col_w,
                   "cols": cols, "per_col": per_col, "size": (min(w, avail_w), min(h, avail_h)),
                   "fits": w <= avail_w and h <= avail_h}
            if out["fits"]:
                break
        return out

    def keyPressEvent(self, ev: QtGui.QKeyEvent) -> None:
        self.hide()
        self.closed.emit()
        ev.accept()

    def mousePressEvent(self, ev: QtGui.QMouseEvent) -> None:
        self.hide()
        self.closed.emit()
        ev.accept()
