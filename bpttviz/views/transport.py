"""The transport bar: play/pause, speed, reset, step record / phase / iteration, step back.

It only holds the buttons; the actions (with their shortcuts) belong to the main window so the
keyboard and the buttons do exactly the same thing."""

from __future__ import annotations

from PySide6 import QtCore, QtGui, QtWidgets

from bpttviz.presenters.panels import SPEEDS
from bpttviz.views.theme import Theme


def speed_label(speed: float | None) -> str:
    return "max speed" if speed is None else f"{speed:g} it/s"


class TransportBar(QtWidgets.QToolBar):
    """A toolbar of the given actions plus a speed selector (``speed_changed(float | None)``)."""

    speed_changed = QtCore.Signal(object)

    def __init__(self, actions: list[QtGui.QAction | None], theme: Theme,
                 parent: QtWidgets.QWidget | None = None) -> None:
        super().__init__("Transport", parent)
        self.setObjectName("transport")
        self.setMovable(True)
        self.setToolButtonStyle(QtCore.Qt.ToolButtonStyle.ToolButtonTextOnly)
        for a in actions:
            if a is None:
                self.addSeparator()
            else:
                self.addAction(a)
                w = self.widgetForAction(a)
                if w is not None:
                    w.setFocusPolicy(QtCore.Qt.FocusPolicy.NoFocus)
                    w.setObjectName(f"button_{a.objectName()}")
        self.addSeparator()
        self.speed = QtWidgets.QComboBox()
        self.speed.setObjectName("speed")
        self.speed.setFocusPolicy(QtCore.Qt.FocusPolicy.NoFocus)
        self.speed.setToolTip("Training speed while playing")
        for s in SPEEDS:
            self.speed.addItem(speed_label(s), s)
        self.speed.setCurrentIndex(len(SPEEDS) - 1)
        self.speed.currentIndexChanged.connect(lambda i: self.speed_changed.emit(self.speed.itemData(i)))
        self.addWidget(self.speed)
        self.apply_theme(theme)

    def set_speed(self, speed: float | None) -> None:
        i = self.speed.findData(speed)
        if i >= 0:
            self.speed.setCurrentIndex(i)

    def apply_theme(self, theme: Theme) -> None:
        f = theme.font(1.0)
        self.setFont(f)
        self.speed.setFont(f)
        for a in self.actions():
            w = self.widgetForAction(a)
            if w is not None:
                w.setFont(f)
