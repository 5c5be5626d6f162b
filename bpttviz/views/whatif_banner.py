"""The strip a main view shows while it draws a what-if instead of the trained weights (the decay
and deltas views): one line, in the highlight colour, saying what is changed and how to go back.

The banner lies over its view instead of taking a row of the view's layout: showing it, hiding it
or changing its text never lays the view (or the window, whose docks share out their space by
their contents' sizes) out again, so the first what-if after a narration redraws as fast as the
next ones. Its owner places it (``place``) where the view keeps room for it. A text wider than the
strip is cut with "…"; ``text()`` and the tooltip keep all of it.

Views use it as ``banner = WhatIfBanner(theme, parent)``; ``banner.show_label(text)`` (empty text:
hidden)."""

from __future__ import annotations

from PySide6 import QtCore, QtGui, QtWidgets

from bpttviz.views.theme import Theme

BACK = "Ctrl+Backspace: back to the trained weights"
PAD_X, PAD_Y = 6, 2  # pixels around the text


class WhatIfBanner(QtWidgets.QWidget):
    """``show_label("what-if: σ_max = 0.8")`` shows the strip; ``show_label("")`` hides it."""

    def __init__(self, theme: Theme, parent: QtWidgets.QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("whatif_banner")
        # (it paints every pixel of its rectangle: nothing behind it is painted first)
        self.setAttribute(QtCore.Qt.WidgetAttribute.WA_OpaquePaintEvent, True)
        self.label = ""
        self._text = ""
        self._background = QtGui.QColor(theme.highlight)
        self._foreground = QtGui.QColor(theme.background)
        self.hide()
        self.apply_theme(theme)

    def apply_theme(self, theme: Theme) -> None:
        self.setFont(theme.font(0.95, bold=True))
        self._background = QtGui.QColor(theme.highlight)
        self._foreground = QtGui.QColor(theme.background)
        self.resize(self.width(), self.strip_height())
        self.update()

    def strip_height(self) -> int:
        """The strip's height in pixels: one line of its font."""
        return QtGui.QFontMetrics(self.font()).height() + 2 * PAD_Y

    def text(self) -> str:
        return self._text

    def show_label(self, label: str) -> None:
        """``label`` as ``WhatIfSettings.label()`` gives it ("what-if: σ_max = 0.8, k = 4")."""
        self.label = label
        if label:
            what = label.removeprefix("what-if:").strip()
            text = f"WHAT-IF  {what}  ·  {BACK}"
            if text != self._text:
                self._text = text
                self.setToolTip(text)
                self.update()
            self.raise_()
        self.setVisible(bool(label))

    def place(self, x: int, y: int, width: int) -> None:
        """Lay the strip over its parent at ``(x, y)``, ``width`` wide, one line high."""
        rect = QtCore.QRect(int(x), int(y), max(1, int(width)), self.strip_height())
        if rect != self.geometry():
            self.setGeometry(rect)

    def paintEvent(self, ev: QtGui.QPaintEvent) -> None:
        p = QtGui.QPainter(self)
        p.fillRect(self.rect(), self._background)
        p.setPen(self._foreground)
        p.setFont(self.font())
        inner = self.rect().adjusted(PAD_X, 0, -PAD_X, 0)
        shown = QtGui.QFontMetrics(self.font()).elidedText(self._text, QtCore.Qt.TextElideMode.ElideRight,
                                                           max(1, inner.width()))
        p.drawText(inner, int(QtCore.Qt.AlignmentFlag.AlignLeft | QtCore.Qt.AlignmentFlag.AlignVCenter), shown)
        p.end()
