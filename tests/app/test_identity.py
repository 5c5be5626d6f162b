"""The app's identity matches the desktop entry: name, desktop file name, window icon."""

from PySide6 import QtGui

from bpttviz.app import _icon_path, application
from bpttviz.commands.desktop_entry import APP_ID, WM_CLASS


def test_icon_is_found_and_loads(qapp):
    path = _icon_path()
    assert path is not None and path.name == f"{APP_ID}.svg"
    assert not QtGui.QIcon(str(path)).isNull()


def test_application_identity_matches_desktop_entry(qapp):
    app = application()
    assert app.applicationName() == WM_CLASS
    assert QtGui.QGuiApplication.desktopFileName() == APP_ID
    assert not app.windowIcon().isNull()
