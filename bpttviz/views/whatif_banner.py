"""The strip a main view shows above its plot while it draws a what-if instead of the trained
weights (the decay and deltas views): one line, in the highlight colour, saying what is changed
and how to go back. Views use it as ``banner = WhatIfBanner(theme)``; ``banner.show_label(text)``
(empty text: hidden)."""

from __future__ import annotations

from PySide6 import QtCore, QtWidgets

from bpttviz.views.theme import Theme

BACK = "Ctrl+Backspace: back to the trained weights"


class WhatIfBanner(QtWidgets.QLabel):
    """``show_label("what-if: σ_max = 0.8")`` shows the strip; ``show_label("")`` hides it."""

    def __init__(self, theme: Theme, parent: QtWidgets.QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("whatif_banner")
        self.setWordWrap(True)
        self.setAlignment(QtCore.Qt.AlignmentFlag.AlignLeft | QtCore.Qt.AlignmentFlag.AlignVCenter)
        self.label = ""
        self.hide()
        self.apply_theme(theme)

    def apply_theme(self, theme: Theme) -> None:
        self.setFont(theme.font(0.95, bold=True))
        self.setStyleSheet(f"color: {theme.background}; background: {theme.highlight}; padding: 2px 6px;")

    def show_label(self, label: str) -> None:
        """``label`` as ``WhatIfSettings.label()`` gives it ("what-if: σ_max = 0.8, k = 4")."""
        self.label = label
        if label:
            what = label.removeprefix("what-if:").strip()
            self.setText(f"WHAT-IF  {what}  ·  {BACK}")
        self.setVisible(bool(label))
