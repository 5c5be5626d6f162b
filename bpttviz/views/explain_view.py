"""The explain panel: the equation the current step record applies, with the actual numbers of one
selected unit (from ``engine.explain``), and one sentence of plain-language commentary.

The view only shows what it is given (``show_explanation`` / ``show_message``); the unit selector
is a spin box reachable with the keyboard (Tab, or the U / Shift+U actions of the window).
"""

from __future__ import annotations

import dataclasses
import html as _html
import re

from PySide6 import QtCore, QtGui, QtWidgets

from bpttviz.views.theme import Theme


class ExplainView(QtWidgets.QWidget):
    """``show_explanation(explanation)`` or ``show_message(text)``; ``unit_changed(int)``."""

    unit_changed = QtCore.Signal(int)

    def __init__(self, theme: Theme, parent: QtWidgets.QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("explain_view")
        self.theme = theme
        self.title = ""  # the title of what is shown (the explanation's, or "" for a message)
        self._explanation = None
        self._message = ""

        self.unit_label = QtWidgets.QLabel("unit (0–0)")
        self.unit = QtWidgets.QSpinBox()
        self.unit.setObjectName("explain_unit")
        self.unit.setRange(0, 0)
        self.unit.setFocusPolicy(QtCore.Qt.FocusPolicy.StrongFocus)
        self.unit.setToolTip("Which hidden unit the numbers are for (U / Shift+U); Esc returns to stepping")
        self.unit.setAccessibleName("hidden unit")
        self.unit_label.setBuddy(self.unit)
        self.unit.valueChanged.connect(self.unit_changed.emit)
        self.hint = QtWidgets.QLabel("numbers of example 1 in the batch")
        self.hint.setSizePolicy(QtWidgets.QSizePolicy.Policy.Ignored, QtWidgets.QSizePolicy.Policy.Preferred)
        # the one plain-language sentence comes first, above the equations: it is what a room reads
        self.sentence = QtWidgets.QLabel("")
        self.sentence.setObjectName("explain_sentence")
        self.sentence.setWordWrap(True)
        self.sentence.setTextFormat(QtCore.Qt.TextFormat.RichText)
        self.sentence.hide()
        self.text = QtWidgets.QTextBrowser()
        self.text.setObjectName("explain_text")
        self.text.setOpenLinks(False)
        self.text.setFocusPolicy(QtCore.Qt.FocusPolicy.NoFocus)
        self.text.setFrameShape(QtWidgets.QFrame.Shape.NoFrame)
        # lines break at spaces only: never inside a number ("0.00234" / "4") or a word
        self.text.setWordWrapMode(QtGui.QTextOption.WrapMode.WordWrap)

        top = QtWidgets.QHBoxLayout()
        top.addWidget(self.unit_label)
        top.addWidget(self.unit)
        top.addSpacing(12)
        top.addWidget(self.hint, 1)
        lay = QtWidgets.QVBoxLayout(self)
        lay.setContentsMargins(6, 4, 6, 4)
        lay.setSpacing(4)
        lay.addLayout(top)
        lay.addWidget(self.sentence)
        lay.addWidget(self.text, 1)
        self.apply_theme(theme)

    # ------------------------------------------------------------------ public
    def current_unit(self) -> int:
        return int(self.unit.value())

    def set_unit_count(self, n: int) -> None:
        """Units 0..n-1 can be chosen (the current one is kept when it still exists)."""
        n = max(1, int(n))
        if self.unit.maximum() != n - 1:
            self.unit.blockSignals(True)
            self.unit.setRange(0, n - 1)
            self.unit.blockSignals(False)
        self.unit_label.setText(f"unit (0–{n - 1})")

    def step_unit(self, delta: int) -> None:
        """The next (+1) or previous (-1) unit, wrapping around."""
        n = self.unit.maximum() + 1
        self.unit.setValue((self.current_unit() + delta) % n)

    def set_moment(self, where: str) -> None:
        """Say which moment the numbers belong to ("iteration 3, before its update")."""
        self.hint.setText(f"{where} · numbers of example 1 in the batch")
        self.hint.setToolTip(self.hint.text())

    def shown(self) -> dict:
        """What the panel displays: its title, plain text, moment line and (for an explanation)
        the terms' values."""
        e = self._explanation
        return {"title": self.title, "text": self.plain_text(), "moment": self.hint.text(),
                "terms": dict(e.values()) if e is not None else {}}

    def body_pixels(self) -> int:
        """The body text size in pixels (``Explanation.html`` takes pixels)."""
        return max(8, QtGui.QFontInfo(self.theme.font(1.0)).pixelSize())

    def show_explanation(self, explanation) -> None:
        """An ``engine.explain.Explanation``."""
        self._explanation, self._message = explanation, ""
        self.title = explanation.title
        self._render()

    def show_message(self, text: str) -> None:
        self._explanation, self._message = None, text
        self.title = ""
        self._render()

    def plain_text(self) -> str:
        """Everything shown, as text: the sentence, then the title, equations and terms."""
        lead = self.sentence.text() if self.sentence.isVisibleTo(self) else ""
        text = (re.sub(r"<[^>]+>", "", lead) + "\n" if lead else "") + self.text.toPlainText()
        return text.replace(WORD_JOINER, "")

    def apply_theme(self, theme: Theme) -> None:
        self.theme = theme
        f = theme.font(1.0)
        for w in (self.unit_label, self.unit):
            w.setFont(f)
        self.hint.setFont(theme.font(1.0))
        self.hint.setStyleSheet(f"color: {theme.muted};")
        self.text.setFont(theme.font(1.0))
        self.text.setStyleSheet(f"QTextBrowser {{ background: {theme.background}; color: {theme.foreground}; }}")
        self.sentence.setFont(theme.font(1.0))
        self.sentence.setStyleSheet(f"QLabel#explain_sentence {{ background: {theme.panel}; color: {theme.foreground};"
                                    f" border-left: 4px solid {theme.highlight}; padding: 4px 8px; }}")
        self._render()

    # ------------------------------------------------------------------ drawing
    def _render(self) -> None:
        if self._explanation is not None:
            e = self._explanation
            self.sentence.setText(unbreakable(e.sentence_html()))
            self.sentence.setVisible(bool(e.sentence))
            html = unbreakable(dataclasses.replace(e, sentence="").html(self.body_pixels()))
        else:
            self.sentence.hide()
            px = self.body_pixels()
            message = _html.escape(self._message, quote=False)
            html = f"<div style='font-size:{px}px; color:{self.theme.muted}'>{message}</div>"
        bar = self.text.verticalScrollBar()
        pos = bar.value()
        self.text.setHtml(html)
        bar.setValue(pos)  # stepping must not jump the text back to its top


#: a number as the explanations write it: sign, digits, decimals, and an exponent written
#: "e-5", "×10⁻⁵" or "×10<sup>-5</sup>", with an optional unit word of one or two letters
_NUMBER = re.compile(r"[−\-+]?\d[\d.,]*(?:\s?(?:×|x)\s?10(?:[⁻⁺]?[⁰¹²³⁴⁵⁶⁷⁸⁹]+|<sup>[^<]*</sup>)|[eE][−\-+]?\d+)?")
WORD_JOINER = "\u2060"
NBSP = "\u00a0"


def _join(match: re.Match) -> str:
    token = match.group(0).replace(" ", NBSP)
    # a word joiner between every two characters outside tags: no line break inside the number
    out, in_tag = [], False
    for i, ch in enumerate(token):
        if ch == "<":
            in_tag = True
        if out and not in_tag and not out[-1].endswith(">") and i > 0:
            out.append(WORD_JOINER)
        out.append(ch)
        if ch == ">":
            in_tag = False
    return "".join(out)


def unbreakable(html: str) -> str:
    """``html`` with every number (and its exponent) joined so that no line breaks inside it;
    tags and attribute values are left alone."""
    parts = re.split(r"(<(?!/?sup>)[^>]*>)", html)
    return "".join(p if p.startswith("<") and not p.startswith(("<sup>", "</sup>")) else _NUMBER.sub(_join, p)
                   for p in parts)

