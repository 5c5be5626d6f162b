"""Starting the desktop app: ``run_gui(args)`` from the command line, ``build_window()`` for tests
and scripts, and the offscreen ``--screenshot`` mode."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

APP_ID = "io.github.bpttviz.bpttviz"
DEFAULT_PRESET = "min-char-rnn"


def _parse_size(text: str) -> tuple[int, int]:
    try:
        w, h = (int(v) for v in str(text).lower().split("x"))
    except ValueError:
        raise ValueError(f"--size: expected WIDTHxHEIGHT like 1280x800, got {text!r}") from None
    if not (320 <= w <= 8192 and 240 <= h <= 8192):
        raise ValueError(f"--size: {w}x{h} is outside 320x240 .. 8192x8192")
    return w, h


def _no_display() -> bool:
    return sys.platform.startswith("linux") and not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))


def _needs_offscreen(screenshot: bool) -> bool:
    """A screenshot renders offscreen unless the user chose a platform plugin."""
    return screenshot and not os.environ.get("QT_QPA_PLATFORM")


def application(argv: list[str] | None = None):
    """The QApplication (created once), with the app's name, desktop file name and style."""
    from PySide6 import QtGui, QtWidgets

    from bpttviz.views.theme import configure_pyqtgraph

    app = QtWidgets.QApplication.instance()
    if app is None:
        app = QtWidgets.QApplication(argv or [sys.argv[0]])
    app.setApplicationName("bpttviz")
    app.setOrganizationName("bpttviz")
    app.setApplicationDisplayName("bpttviz")
    QtGui.QGuiApplication.setDesktopFileName(APP_ID)
    icon = _icon_path()
    if icon is not None:
        app.setWindowIcon(QtGui.QIcon(str(icon)))
    configure_pyqtgraph()
    return app


def _icon_path() -> Path | None:
    """The app icon shipped in assets/ (the same file the desktop entry installs)."""
    try:
        from bpttviz.commands.desktop_entry import icon_asset

        return icon_asset()
    except Exception:  # noqa: BLE001 - an icon is a nicety; a broken install still starts
        return None


def build_window(session=None, *, preset: str = DEFAULT_PRESET, settings=None, size: tuple[int, int] | None = None,
                 fps: float = 60.0, training_process: bool | None = None):
    """A ready main window (not shown) with its controller started: ``window.controller``.
    ``training_process``: train small models in a second process (None: yes, unless the
    environment variable ``BPTTVIZ_TRAINING_PROCESS`` is ``0``)."""
    from bpttviz.engine.training.session import Session
    from bpttviz.window.controller import Controller
    from bpttviz.window.main_window import MainWindow

    application()
    if session is None:
        session = Session.from_preset(preset)
    if training_process is None:
        training_process = os.environ.get("BPTTVIZ_TRAINING_PROCESS", "1") != "0"
    controller = Controller(session, fps=fps, training_process=training_process)
    window = MainWindow(controller, settings=settings, features=default_features())
    if size is not None:
        window.resize(*size)
        window.fit_docks()
    controller.start()
    return window


def default_features() -> tuple:
    """The features every window has, in the order they are built (menus, docks and tool bar
    rows appear in this order): the gradient lab, the preset-file opener, the classroom (lecture
    mode, explain, scenarios, side by side, files) and attribution with what-if."""
    from bpttviz.features.classroom import Classroom
    from bpttviz.features.gradient_lab import GradientLab
    from bpttviz.features.whatif import WhatIfLab
    from bpttviz.recovery.reliability import PresetOpener

    return (GradientLab, PresetOpener, Classroom, WhatIfLab)


def render_screenshot(window, path: str | Path, steps: int) -> Path:
    """Train ``steps`` iterations (the last one narrated, so the graph shows a whole iteration),
    paint every view, and save a PNG of the whole window."""
    from PySide6 import QtWidgets

    c = window.controller
    app = QtWidgets.QApplication.instance()
    for _ in range(max(0, steps - 1)):
        if c.session.train_step() is None:
            break
    if steps > 0 and c.session.blowup is None:
        c.step_iteration()
    for _ in range(3):
        app.processEvents()
        c.refresh_all()
    app.processEvents()
    path = Path(path)
    if path.parent and not path.parent.exists():
        raise ValueError(f"--screenshot: folder {str(path.parent)!r} does not exist")
    if not window.grab().save(str(path), "PNG"):
        raise ValueError(f"--screenshot: could not write {str(path)!r}")
    return path


def run_gui(args: Any) -> int:
    """Entry point of ``bpttviz`` / ``python -m bpttviz`` (args from ``bpttviz.cli``)."""
    screenshot = getattr(args, "screenshot", None)
    if _needs_offscreen(bool(screenshot)):
        os.environ["QT_QPA_PLATFORM"] = "offscreen"
    elif not screenshot and _no_display() and not os.environ.get("QT_QPA_PLATFORM"):
        raise ValueError("no display to show the window on (DISPLAY and WAYLAND_DISPLAY are unset); "
                         "run it in a desktop session, or use --screenshot PATH to render offscreen")
    size = _parse_size(getattr(args, "size", "1280x800") or "1280x800") if screenshot else None
    steps = int(getattr(args, "steps", 20) or 0)
    if steps < 0:
        raise ValueError(f"--steps: expected 0 or more iterations, got {steps}")

    from bpttviz.engine.training.presets import load_preset
    from bpttviz.engine.training.session import Session

    session = None
    opened = getattr(args, "open", None)
    if opened:
        from bpttviz.engine.training.session_io import load_session

        session, _position = load_session(opened)
    else:
        session = Session(load_preset(getattr(args, "preset", None) or DEFAULT_PRESET))

    app = application()
    from PySide6 import QtCore

    settings = None
    if screenshot:  # a screenshot never reads or changes the user's remembered layout
        import tempfile

        tmp = tempfile.mkdtemp(prefix="bpttviz-shot-")
        settings = QtCore.QSettings(str(Path(tmp) / "settings.ini"), QtCore.QSettings.Format.IniFormat)
    window = build_window(session, settings=settings, size=size)
    from bpttviz.features.classroom import (
        apply_command_line,  # --open's saved position, a lecture preset's scenario, --lecture
    )

    apply_command_line(window, lecture=bool(getattr(args, "lecture", False)), opened=bool(opened),
                       position=_position if opened else None, full_screen=not screenshot)
    if screenshot:
        window.show()
        out = render_screenshot(window, screenshot, steps)
        print(f"wrote {out}")
        window.controller.stop()
        window.close()
        return 0
    window.show_first()  # maximised unless a geometry was remembered
    window.graph.setFocus()
    _start_autosave(app, window)
    return int(app.exec())


def _start_autosave(app, window) -> None:
    """Offer to restore what a crashed or killed session left (a bar across the window, never a
    modal question), then keep autosaving; errors escaping Qt slots are shown, not just printed."""
    from bpttviz.recovery.crash import install_excepthook
    from bpttviz.recovery.restore_offer import start_autosave

    install_excepthook(window)
    start_autosave(app, window)
