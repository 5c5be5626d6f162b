"""A tooltip that stays: shown while the pointer rests on what it explains, kept while the pointer
moves onto it, and pinned with its Pin button until closed (long node tooltips of 8-10 lines
need the time to be read, and a lecturer may want one on screen while talking).

``show_tip(widget, global_pos, text)`` and ``hide_tip(widget)`` replace ``QToolTip.showText`` /
``hideText``; one panel per top-level window.
"""

from __future__ import annotations

from PySide6 import QtCore, QtGui, QtWidgets

#: after the pointer leaves what the tip explains, the tip waits this long (ms) for the pointer
#: to reach it before hiding
GRACE_MS = 700


class TipPanel(QtWidgets.QFrame):
    """The panel: the text, a Pin toggle and a close button."""

    def __init__(self, window: QtWidgets.QWidget) -> None:
        super().__init__(window)
        self.setObjectName("tip_panel")
        self.setFrameShape(QtWidgets.QFrame.Shape.Box)
        self.setAutoFillBackground(True)
        pal = self.palette()
        pal.setColor(QtGui.QPalette.ColorRole.Window, QtGui.QColor("#FFFFF0"))
        pal.setColor(QtGui.QPalette.ColorRole.WindowText, QtGui.QColor("#111111"))
        self.setPalette(pal)
        self.text = QtWidgets.QLabel("")
        self.text.setObjectName("tip_text")
        self.text.setTextInteractionFlags(QtCore.Qt.TextInteractionFlag.TextSelectableByMouse)
        self.pin = QtWidgets.QToolButton()
        self.pin.setObjectName("tip_pin")
        self.pin.setText("Pin")
        self.pin.setCheckable(True)
        self.pin.setToolTip("Keep this tip on screen until it is closed")
        self.pin.setFocusPolicy(QtCore.Qt.FocusPolicy.NoFocus)
        close = QtWidgets.QToolButton()
        close.setText("×")
        close.setToolTip("Close")
        close.setFocusPolicy(QtCore.Qt.FocusPolicy.NoFocus)
        close.clicked.connect(self.close_tip)
        top = QtWidgets.QHBoxLayout()
        top.setContentsMargins(0, 0, 0, 0)
        top.addStretch(1)
        top.addWidget(self.pin)
        top.addWidget(close)
        lay = QtWidgets.QVBoxLayout(self)
        lay.setContentsMargins(8, 4, 8, 8)
        lay.setSpacing(2)
        lay.addLayout(top)
        lay.addWidget(self.text)
        self.timer = QtCore.QTimer(self)
        self.timer.setSingleShot(True)
        self.timer.timeout.connect(self._maybe_hide)
        self.hide()

    @property
    def pinned(self) -> bool:
        return self.pin.isChecked()

    def show_text(self, global_pos: QtCore.QPoint, text: str) -> None:
        """Show ``text`` near ``global_pos`` (a pinned tip stays where and what it is)."""
        self.timer.stop()
        if self.pinned:
            return
        if text != self.text.text():
            self.text.setText(text)
            self.setFont(self.window().font())
            self.adjustSize()
        win = self.parentWidget()
        p = win.mapFromGlobal(global_pos) + QtCore.QPoint(16, 16)
        if p.x() + self.width() > win.width():
            p.setX(max(0, p.x() - 32 - self.width()))
        if p.y() + self.height() > win.height():
            p.setY(max(0, p.y() - 32 - self.height()))
        self.move(p)
        self.show()
        self.raise_()

    def hide_later(self) -> None:
        if self.isVisible() and not self.pinned:
            self.timer.start(GRACE_MS)

    def _maybe_hide(self) -> None:
        if not self.pinned and not self.underMouse():
            self.hide()

    def leaveEvent(self, ev: QtCore.QEvent) -> None:
        super().leaveEvent(ev)
        self.hide_later()

    def close_tip(self) -> None:
        self.pin.setChecked(False)
        self.hide()


def panel_for(widget: QtWidgets.QWidget) -> TipPanel:
    """The tip panel of ``widget``'s top-level window (made on first use)."""
    win = widget.window()
    panel = win.findChild(TipPanel, "tip_panel", QtCore.Qt.FindChildOption.FindDirectChildrenOnly)
    return panel if panel is not None else TipPanel(win)


def show_tip(widget: QtWidgets.QWidget | None, global_pos: QtCore.QPoint, text: str) -> None:
    if widget is None:
        QtWidgets.QToolTip.showText(global_pos, text)
        return
    panel_for(widget).show_text(global_pos, text)


def hide_tip(widget: QtWidgets.QWidget | None) -> None:
    if widget is None:
        QtWidgets.QToolTip.hideText()
        return
    panel = widget.window().findChild(TipPanel, "tip_panel", QtCore.Qt.FindChildOption.FindDirectChildrenOnly)
    if panel is not None:
        panel.hide_later()
