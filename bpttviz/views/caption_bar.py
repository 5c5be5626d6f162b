"""The caption bar of a guided scenario: the current stop's caption in large type across the top of
the window, where it is on the stop ("3 / 10"), and what the presenter's keys do.

It grows to as many lines as the caption needs at the current width (never hiding any of it) and
shows progress while a stop trains.
"""

from __future__ import annotations

import html
import re

from PySide6 import QtCore, QtGui, QtWidgets

from bpttviz.views.theme import Theme

CAPTION_FACTOR = 1.35  # caption size relative to the theme's body text

_SUB = re.compile(r"(?<=[^\W_]|[)\u0302])_(\{[^{}]*\}|[A-Za-z0-9]+)")


def rich(text: str) -> str:
    """A caption as rich text: ``h_t``, ``W_hh`` and ``h_{t−1}`` set as subscripts (the braces
    group, they are not shown); everything else escaped."""
    out, last = [], 0
    for m in _SUB.finditer(text):
        out.append(html.escape(text[last:m.start()]))
        sub = m.group(1)
        out.append(f"<sub>{html.escape(sub[1:-1] if sub.startswith('{') else sub)}</sub>")
        last = m.end()
    out.append(html.escape(text[last:]))
    return "".join(out)


class CaptionBar(QtWidgets.QFrame):
    """``show_stop(index, count, caption)``, ``set_progress(text)``; the text is in ``.caption``."""

    def __init__(self, theme: Theme, parent: QtWidgets.QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("caption_bar")
        self.theme = theme
        self.counter = QtWidgets.QLabel("")
        self.counter.setObjectName("caption_counter")
        self.counter.setAlignment(QtCore.Qt.AlignmentFlag.AlignLeft | QtCore.Qt.AlignmentFlag.AlignTop)
        self.caption = QtWidgets.QLabel("")
        self.caption.setObjectName("caption_text")
        self.caption.setWordWrap(True)
        self.caption.setAlignment(QtCore.Qt.AlignmentFlag.AlignLeft | QtCore.Qt.AlignmentFlag.AlignTop)
        self.caption.setTextInteractionFlags(QtCore.Qt.TextInteractionFlag.NoTextInteraction)
        self.side = QtWidgets.QLabel("")
        self.side.setObjectName("caption_hint")
        self.side.setAlignment(QtCore.Qt.AlignmentFlag.AlignRight | QtCore.Qt.AlignmentFlag.AlignTop)
        self.side.setWordWrap(True)
        lay = QtWidgets.QHBoxLayout(self)
        lay.setContentsMargins(12, 8, 12, 8)
        lay.setSpacing(16)
        lay.addWidget(self.counter, 0)
        lay.addWidget(self.caption, 1)
        lay.addWidget(self.side, 0)
        self.setSizePolicy(QtWidgets.QSizePolicy.Policy.Preferred, QtWidgets.QSizePolicy.Policy.Fixed)
        self._hint = ""
        self._progress = ""
        self._plain = ""
        self.withheld: list[str] = []
        self.apply_theme(theme)

    def show_stop(self, index: int, count: int, caption: str, hint: str = "") -> None:
        self.counter.setText(f"{index + 1} / {count}")
        self.caption.setTextFormat(QtCore.Qt.TextFormat.RichText)
        self.caption.setText(rich(caption))
        self._plain = caption
        self.withheld: list[str] = []
        self._hint = hint
        self._progress = ""
        self._update_side()

    def withhold(self, failed: list[str]) -> None:
        """The stop's claims that did not hold, said instead of its caption."""
        self.withheld = list(failed)
        self.say_instead("The caption is withheld: " + "; ".join(failed)
                         + ". Train on (Space), or go back (Page Up) and try again.")

    def say_instead(self, text: str) -> None:
        """``text`` in place of the stop's caption, marked as a warning."""
        self._plain = text
        self.caption.setText(f"<span style='color:{self.theme.backward}'>⚠</span> " + rich(text))
        self._fit()

    def set_progress(self, text: str) -> None:
        """A short note under the keys (e.g. "training 120 / 300"); "" clears it."""
        if text != self._progress:
            self._progress = text
            self._update_side()

    def text(self) -> str:
        """The caption (or what is said instead of it) as plain text."""
        return self._plain

    def shown(self) -> str:
        """What the caption label displays (rich text)."""
        return self.caption.text()

    def apply_theme(self, theme: Theme) -> None:
        self.theme = theme
        self.caption.setFont(theme.font(CAPTION_FACTOR))
        self.counter.setFont(theme.font(CAPTION_FACTOR, bold=True))
        self.side.setFont(theme.font(0.85))
        self.setStyleSheet(
            f"QFrame#caption_bar {{ background: {theme.background}; border-bottom: 2px solid {theme.highlight}; }}"
            f"QLabel#caption_text {{ color: {theme.foreground}; }}"
            f"QLabel#caption_counter {{ color: {theme.highlight}; }}"
            f"QLabel#caption_hint {{ color: {theme.muted}; }}")
        fm = QtGui.QFontMetrics(self.side.font())
        self.side.setFixedWidth(fm.horizontalAdvance("Page Down ▸ next stop") + 8)
        self._fit()

    def _update_side(self) -> None:
        parts = [p for p in (self._hint, self._progress) if p]
        self.side.setText("<br/>".join(parts))
        self._fit()

    def _caption_width(self) -> int:
        m = self.layout().contentsMargins()
        # before the first layout the bar's own width means nothing: estimate from the window's
        # (a caption measured too narrow asks for many lines and makes the window grow)
        outer = self.width() if self.isVisible() and self.width() > 300 else self.window().width()
        return max(200, outer - m.left() - m.right() - self.counter.sizeHint().width() - self.side.width()
                   - 2 * self.layout().spacing())

    def lines(self) -> int:
        """How many lines the caption takes at the bar's width."""
        spacing = QtGui.QFontMetrics(self.caption.font()).lineSpacing()
        return max(1, round(self.caption.heightForWidth(self._caption_width()) / spacing))

    def _fit(self) -> None:
        """Height for the caption's lines at the current width (a wrapped label does not tell its
        dock area by itself)."""
        m = self.layout().contentsMargins()
        w = self._caption_width()
        lines_h = max(self.caption.heightForWidth(w), self.side.heightForWidth(self.side.width()),
                      QtGui.QFontMetrics(self.caption.font()).lineSpacing())
        h = lines_h + m.top() + m.bottom() + 2
        if self.height() != h or self.minimumHeight() != h:
            self.setFixedHeight(h)

    def resizeEvent(self, ev: QtGui.QResizeEvent) -> None:
        super().resizeEvent(ev)
        QtCore.QTimer.singleShot(0, self._fit)  # after the layout gave the caption its new width
