"""Nothing lost: the session is saved on a timer, after every rebuild and on a clean exit, and a
start after a crash or a kill offers to restore it.

Each app process has its own autosave, ``autosave-<pid>.npz`` (``engine.training.session_io.autosave_path``),
so two windows open at once never overwrite each other's. Next to it a marker
``autosave-<pid>.running`` says "this window is running": the process holds an exclusive lock on
it while it runs (the operating system drops the lock when the process dies, however it dies) and
removes it, with its autosave, on a clean exit. An autosave whose marker is there but not locked
was left by a window that crashed or was killed: that is an *orphan*, and a start offers to
restore it (newest first). Saves are atomic (``engine.training.session_io.save_session``): a kill in the
middle of one leaves the previous file whole. The session is saved at the moment on screen
(``bpttviz.features.file_actions.moment_position``), so a restore brings back the same iteration and record.
"""

from __future__ import annotations

import os
import re
import sys
from pathlib import Path
from typing import IO, Any

from PySide6 import QtCore

from bpttviz.engine.training.session_io import (
    autosave_files,
    autosave_path,
    discard_autosave,
    load_session,
    read_session_info,
    save_session,
)


def running_marker(autosave: Path | None = None) -> Path:
    """The marker next to an autosave file (default: this process's)."""
    return (autosave or autosave_path()).with_suffix(".running")


def _try_lock(f: IO[str]) -> bool:
    """An exclusive, non-blocking lock on an open file; False if another process holds it."""
    try:
        if sys.platform == "win32":
            import msvcrt

            f.seek(0)
            msvcrt.locking(f.fileno(), msvcrt.LK_NBLCK, 1)
        else:
            import fcntl

            fcntl.flock(f.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        return True
    except OSError:
        return False


def _unlock(f: IO[str]) -> None:
    try:
        if sys.platform == "win32":
            import msvcrt

            f.seek(0)
            msvcrt.locking(f.fileno(), msvcrt.LK_UNLCK, 1)
        else:
            import fcntl

            fcntl.flock(f.fileno(), fcntl.LOCK_UN)
    except OSError:
        pass


def owner_running(marker: Path) -> bool:
    """A live process holds the lock on ``marker`` (this process included)."""
    if not marker.exists():
        return False
    try:
        f = open(marker, "a+", encoding="ascii")  # noqa: SIM115 - closed below
    except OSError:
        return False
    try:
        if _try_lock(f):
            _unlock(f)
            return False
        return True
    finally:
        f.close()


def orphaned_autosaves() -> list[Path]:
    """Autosaves left by windows that did not exit cleanly (marker present, no live owner),
    newest first; this process's own running autosave is never one."""
    out = []
    for path in autosave_files():
        marker = running_marker(path)
        if path == autosave_path() and _held is not None:
            continue
        if marker.exists() and not owner_running(marker):
            out.append(path)
    return out


def owner_pid(path: Path) -> int | None:
    m = re.fullmatch(r"autosave-(\d+)\.npz", path.name)
    return int(m.group(1)) if m else None


def crashed_autosave() -> dict[str, Any] | None:
    """What the newest orphaned autosave holds: its description (``read_session_info``) and
    ``path``, ``{"error": message, "path": path}`` if the file is unreadable, or None when no
    window left one. ``orphans``: how many there are in all."""
    orphans = orphaned_autosaves()
    if not orphans:
        return None
    path = orphans[0]
    try:
        info = dict(read_session_info(path))
    except ValueError as e:
        info = {"error": str(e)}
    info["path"] = str(path)
    info["orphans"] = len(orphans)
    return info


def forget_autosave(path: Path) -> None:
    """Delete an orphaned autosave and its marker."""
    discard_autosave(path)
    try:
        running_marker(path).unlink()
    except FileNotFoundError:
        pass


def restore_autosave(controller, path: str | os.PathLike[str] | None = None) -> None:
    """Replace the controller's session by an autosaved one (default: the newest orphan, else this
    process's) at its saved moment; the orphan's files are then removed (this window's autosave
    takes over). ``ValueError`` if unreadable (the file is left as it was)."""
    if path is None:
        orphans = orphaned_autosaves()
        path = orphans[0] if orphans else autosave_path()
    path = Path(path)
    session, position = load_session(path)
    from bpttviz.features.file_actions import restore_moment

    restore_moment(controller, session, position)
    if path != autosave_path():
        forget_autosave(path)
    elif _held is None:  # our own pid's leftovers (a recycled process id): no longer an orphan
        try:
            running_marker(path).unlink()
        except FileNotFoundError:
            pass
    controller.message.emit(f"Restored the autosaved session at {controller.moment.where()}")


_held: IO[str] | None = None  # this process's locked running marker


def _hold_marker() -> None:
    global _held
    if _held is not None:
        return
    marker = running_marker()
    marker.parent.mkdir(parents=True, exist_ok=True)
    f = open(marker, "w", encoding="ascii")  # noqa: SIM115 - held open (and locked) while the app runs
    f.write(f"{os.getpid()}\n")
    f.flush()
    _try_lock(f)
    _held = f


def _release_marker() -> None:
    global _held
    if _held is None:
        return
    _unlock(_held)
    _held.close()
    _held = None
    try:
        running_marker().unlink()
    except FileNotFoundError:
        pass


class Autosaver(QtCore.QObject):
    """``Autosaver(controller, interval_s=60)``: saves every ``interval_s`` seconds and after each
    session replacement; ``close()`` saves once more and marks the exit clean."""

    def __init__(self, controller, interval_s: float = 60.0, parent: QtCore.QObject | None = None) -> None:
        super().__init__(parent)
        self.controller = controller
        self.saves = 0
        self.last_error: str | None = None
        self.path = autosave_path()
        _hold_marker()
        self.timer = QtCore.QTimer(self)
        self.timer.setInterval(max(50, int(interval_s * 1000)))
        self.timer.timeout.connect(self.save)
        self.timer.start()
        controller.session_replaced.connect(self.save)

    def save(self) -> bool:
        """Save the moment on screen now; a failure is reported on the status bar and never
        interrupts the user."""
        from bpttviz.features.file_actions import moment_position

        c = self.controller
        try:
            what, position = moment_position(c)
            save_session(what, self.path, position=position)
        except (OSError, ValueError) as e:
            self.last_error = str(e)
            c.message.emit(f"Autosave failed: {e}")
            return False
        self.saves += 1
        self.last_error = None
        return True

    def close(self) -> None:
        """A clean exit: nothing to offer next time, so this window's autosave and marker go."""
        self.timer.stop()
        discard_autosave(self.path)
        _release_marker()
