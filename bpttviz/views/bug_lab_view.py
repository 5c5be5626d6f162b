"""The bug lab's widgets: a switch per classic mistake (``engine.gradients.bugs.BUGS``), and the red banner
that names the mistakes switched on.

``BugLabPanel`` only emits what the user wants (``bugs_changed(frozenset)``) and shows what it
is told (``set_available``, ``set_active``); the wiring to the session is in
``bpttviz.features.gradient_lab``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from PySide6 import QtCore, QtWidgets

from bpttviz.presenters.lab_terms import BUGS
from bpttviz.views.theme import VERMILLION, Theme

BANNER_RED = "#B2182B"


def bug_title(name: str) -> str:
    """``drop_dh_next`` -> ``drop dh_next``: the catalogue name, readable."""
    return name.replace("_", " ").replace("dh next", "dh_next")


class BugLabPanel(QtWidgets.QWidget):
    """A checkbox per bug with its description; inapplicable bugs are disabled with the reason."""

    bugs_changed = QtCore.Signal(frozenset)

    def __init__(self, theme: Theme, parent: QtWidgets.QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("bug_lab")
        self.theme = theme
        self._quiet = False
        intro = QtWidgets.QLabel(
            "Switch on a classic mistake in the engine's own backward pass, then watch: the gradient check "
            "flags it, the deltas go wrong, training misbehaves. Off again restores the correct engine. "
            "Bugs stay on through Reset and rebuilds until you switch them off.")
        intro.setWordWrap(True)
        self.intro = intro
        self.boxes: dict[str, QtWidgets.QCheckBox] = {}
        self.notes: dict[str, QtWidgets.QLabel] = {}
        lay = QtWidgets.QVBoxLayout(self)
        lay.setContentsMargins(6, 4, 6, 4)
        lay.addWidget(intro)
        for name, description in BUGS.items():
            box = QtWidgets.QCheckBox(bug_title(name))
            box.setObjectName(f"bug_{name}")
            box.setFocusPolicy(QtCore.Qt.FocusPolicy.NoFocus)
            box.toggled.connect(self._toggled)
            note = QtWidgets.QLabel(description)
            note.setWordWrap(True)
            note.setIndent(22)
            self.boxes[name] = box
            self.notes[name] = note
            lay.addWidget(box)
            lay.addWidget(note)
        self.all_off = QtWidgets.QPushButton("All bugs off")
        self.all_off.setObjectName("bugs_all_off")
        self.all_off.setFocusPolicy(QtCore.Qt.FocusPolicy.NoFocus)
        self.all_off.clicked.connect(lambda: self.bugs_changed.emit(frozenset()))
        lay.addWidget(self.all_off)
        self.status = QtWidgets.QLabel("")
        self.status.setObjectName("bug_lab_status")
        self.status.setWordWrap(True)
        lay.addWidget(self.status)
        lay.addStretch(1)
        self.apply_theme(theme)

    def apply_theme(self, theme: Theme) -> None:
        self.theme = theme
        for note in self.notes.values():
            note.setStyleSheet(f"color: {theme.muted};")

    def set_available(self, reasons: Mapping[str, str | None]) -> None:
        """name -> None (applicable) or why the bug does not apply to this model and task."""
        for name, box in self.boxes.items():
            why = reasons.get(name, "not available")
            box.setEnabled(why is None)
            box.setToolTip(BUGS[name] if why is None else f"Not here: {why}")
            self.notes[name].setText(BUGS[name] if why is None else f"{BUGS[name]} (not here: {why})")

    def set_active(self, bugs: Iterable[str]) -> None:
        """Tick exactly ``bugs`` (no signal)."""
        on = set(bugs)
        self._quiet = True
        try:
            for name, box in self.boxes.items():
                box.setChecked(name in on)
        finally:
            self._quiet = False
        self.all_off.setEnabled(bool(on))

    def set_status(self, text: str) -> None:
        """A line under the switches (e.g. which bugs a rebuild switched off, and why)."""
        self.status.setText(text)

    def active(self) -> frozenset[str]:
        return frozenset(n for n, b in self.boxes.items() if b.isChecked())

    def _toggled(self, _on: bool) -> None:
        if not self._quiet:
            self.bugs_changed.emit(self.active())


class BugBanner(QtWidgets.QLabel):
    """A red bar naming the bugs switched on (its container shows it only while one is on)."""

    def __init__(self, theme: Theme, parent: QtWidgets.QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("bug_banner")
        self.setAlignment(QtCore.Qt.AlignmentFlag.AlignCenter)
        self.setTextInteractionFlags(QtCore.Qt.TextInteractionFlag.NoTextInteraction)
        self.theme = theme
        self.bugs: frozenset[str] = frozenset()
        self.apply_theme(theme)

    def apply_theme(self, theme: Theme) -> None:
        self.theme = theme
        self.setFont(theme.font(1.15, bold=True))
        self.setStyleSheet(f"QLabel#bug_banner {{ background: {BANNER_RED}; color: white; "
                           f"padding: {int(3 * theme.scale)}px; border-bottom: 2px solid {VERMILLION}; }}")

    def show_bugs(self, bugs: Iterable[str]) -> None:
        self.bugs = frozenset(bugs)
        if not self.bugs:
            self.setText("")
            return
        names = ", ".join(sorted(self.bugs))
        self.setText(f"⚠ BUG LAB ON: {names} — the engine is deliberately wrong (Gradients ▸ All bugs off)")
        self.setToolTip("Switched on in the bug lab: " + "; ".join(BUGS[b] for b in sorted(self.bugs) if b in BUGS))
