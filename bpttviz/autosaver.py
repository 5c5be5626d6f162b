"""Nothing lost: the session is saved on a timer, after every rebuild and on a clean exit, and a
start after a crash or a kill offers to restore it.

A small marker file next to the autosave says "a bpttviz window is running". It is created when
the autosaver starts and removed on a clean exit, so finding it at the next start means the last
session ended without closing: that is when the restore is offered. Saves are atomic
(``engine.session_io.save_session``): a kill in the middle of one leaves the previous file whole.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from PySide6 import QtCore

from engine.session_io import autosave_path, has_autosave, load_session, read_session_info, save_session


def running_marker() -> Path:
    return autosave_path().with_suffix(".running")


def crashed_autosave() -> dict[str, Any] | None:
    """What the last session left when it did not exit cleanly: the autosave's description
    (``read_session_info``), ``{"error": message}`` if the file is unreadable, or None when the
    last exit was clean or nothing was saved."""
    if not (has_autosave() and running_marker().exists()):
        return None
    try:
        return read_session_info(autosave_path())
    except ValueError as e:
        return {"error": str(e)}


def restore_autosave(controller) -> None:
    """Replace the controller's session by the autosaved one (``ValueError`` if unreadable)."""
    session, position = load_session(autosave_path())
    controller.replace_session(session)
    record = (position or {}).get("record")
    if isinstance(record, int) and record > 0:
        controller.message.emit(f"Restored iteration {session.iteration}")


class Autosaver(QtCore.QObject):
    """``Autosaver(controller, interval_s=60)``: saves every ``interval_s`` seconds and after each
    session replacement; ``close()`` saves once more and marks the exit clean."""

    def __init__(self, controller, interval_s: float = 60.0, parent: QtCore.QObject | None = None) -> None:
        super().__init__(parent)
        self.controller = controller
        self.saves = 0
        self.last_error: str | None = None
        marker = running_marker()
        marker.parent.mkdir(parents=True, exist_ok=True)
        marker.write_text("running\n", encoding="ascii")
        self.timer = QtCore.QTimer(self)
        self.timer.setInterval(max(50, int(interval_s * 1000)))
        self.timer.timeout.connect(self.save)
        self.timer.start()
        controller.session_replaced.connect(self.save)

    def save(self) -> bool:
        """Save now; a failure is reported on the status bar and never interrupts the user."""
        c = self.controller
        try:
            save_session(c.session, autosave_path(), position={"record": int(getattr(c, "cursor", 0))})
        except (OSError, ValueError) as e:
            self.last_error = str(e)
            c.message.emit(f"Autosave failed: {e}")
            return False
        self.saves += 1
        self.last_error = None
        return True

    def close(self) -> None:
        """A clean exit: save, then remove the running marker."""
        self.timer.stop()
        self.save()
        try:
            running_marker().unlink()
        except FileNotFoundError:
            pass
