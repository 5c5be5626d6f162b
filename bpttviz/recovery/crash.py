"""No crash from a bug: errors become messages the user can copy, and fatal crashes leave a log.

- ``ErrorDialog``: a non-modal dialog with the one-line summary, the details (a traceback) in a
  read-only text area, and "Copy details" (to the clipboard, for a bug report) / "Close";
- ``install_excepthook(window)``: an exception that escapes a Qt slot anywhere in the app (not
  only in the controller's stepping and painting, which catches its own) is shown in that dialog
  instead of only on stderr; the app carries on;
- ``enable_crash_log()``: ``faulthandler`` writes a fatal error (a segfault, an abort such as the
  PySide6 ``bool_dealloc``, see docs/architecture.md) with the Python stack of every thread to
  ``crash.log`` in the state directory; ``previous_crash()`` reads what the last run left there
  (the next start says so);
- ``blowup_details(session)``: where a non-finite value appeared and what was kept, for the
  blow-up dialog.
"""

from __future__ import annotations

import faulthandler
import os
import re
import sys
import traceback
from pathlib import Path
from typing import IO

import numpy as np
from PySide6 import QtCore, QtGui, QtWidgets

#: at most this many characters of a previous crash log are shown
CRASH_TAIL = 20_000
#: characters of details one error dialog collects
MAX_DETAILS = 50_000


class ErrorDialog(QtWidgets.QDialog):
    """``ErrorDialog(summary, details, parent)``: the summary, a details area, Copy details, Close."""

    def __init__(self, summary: str, details: str, parent: QtWidgets.QWidget | None = None,
                 title: str = "bpttviz: something went wrong",
                 note: str = "The app is still running. The details below can be copied into a bug report.") -> None:
        super().__init__(parent)
        self.setObjectName("error_dialog")
        self.setWindowTitle(title)
        self.setModal(False)
        self.summary = summary
        self.details = details
        head = QtWidgets.QLabel(summary)
        head.setObjectName("error_summary")
        head.setWordWrap(True)
        head.setTextInteractionFlags(QtCore.Qt.TextInteractionFlag.TextSelectableByMouse)
        f = head.font()
        f.setBold(True)
        head.setFont(f)
        info = QtWidgets.QLabel(note)
        info.setWordWrap(True)
        self.text = QtWidgets.QPlainTextEdit(details)
        self.text.setObjectName("error_details")
        self.text.setReadOnly(True)
        self.text.setLineWrapMode(QtWidgets.QPlainTextEdit.LineWrapMode.NoWrap)
        self.text.setFont(QtGui.QFontDatabase.systemFont(QtGui.QFontDatabase.SystemFont.FixedFont))
        self.text.setVisible(bool(details))
        buttons = QtWidgets.QDialogButtonBox()
        self.copy_button = buttons.addButton("Copy details", QtWidgets.QDialogButtonBox.ButtonRole.ActionRole)
        self.copy_button.setObjectName("copy_details")
        self.copy_button.clicked.connect(self.copy)
        close = buttons.addButton(QtWidgets.QDialogButtonBox.StandardButton.Close)
        close.clicked.connect(self.close)
        lay = QtWidgets.QVBoxLayout(self)
        lay.addWidget(head)
        lay.addWidget(info)
        lay.addWidget(self.text, 1)
        lay.addWidget(buttons)
        self.resize(640, 360 if details else 140)

    def detailedText(self) -> str:  # the QMessageBox name, for callers written against one
        return self.details

    def add(self, summary: str, details: str) -> None:
        """Another error while this dialog is open: appended to its details."""
        self.details = (self.details + f"\n\n--- then: {summary}\n{details}")[-MAX_DETAILS:]
        self.text.setPlainText(self.details)
        self.text.setVisible(True)

    def text_to_copy(self) -> str:
        import PySide6

        from bpttviz.engine import __version__

        versions = (f"bpttviz {__version__}, Python {sys.version.split()[0]}, PySide6 {PySide6.__version__}, "
                    f"NumPy {np.__version__}, {sys.platform}")
        return f"{self.summary}\n\n{versions}\n\n{self.details}".rstrip() + "\n"

    def copy(self) -> None:
        """Put the summary, the versions and the details on the clipboard."""
        QtWidgets.QApplication.clipboard().setText(self.text_to_copy())
        self.copy_button.setText("Copied ✓")


def install_excepthook(window) -> None:
    """Route exceptions that escape Qt slots to ``window.show_error`` (and stderr)."""
    previous = sys.excepthook

    def hook(exc_type, exc, tb) -> None:
        if issubclass(exc_type, KeyboardInterrupt):
            previous(exc_type, exc, tb)
            return
        details = "".join(traceback.format_exception(exc_type, exc, tb))
        print(details, file=sys.stderr)
        try:
            window.show_error(f"Unexpected error: {exc_type.__name__}: {exc}", details)
        except Exception:  # noqa: BLE001 - the window itself is broken: stderr has it
            pass

    hook.previous = previous  # type: ignore[attr-defined]
    sys.excepthook = hook


# ---------------------------------------------------------------------------------- fatal crashes
def crash_log_path(pid: int | None = None) -> Path:
    """This process's crash log, ``crash-<pid>.log`` next to its autosave (two windows open at
    once keep separate logs)."""
    from bpttviz.engine.training.session_io import autosave_dir

    return autosave_dir() / f"crash-{os.getpid() if pid is None else int(pid)}.log"


_log_file: IO[str] | None = None
_was_enabled = False  # faulthandler was on (to stderr) before the log took over: put it back after


def previous_crash() -> str | None:
    """What a fatal crash of a window that is no longer running wrote (its tail), or None; the log
    is moved aside to ``<name>.old`` so it is reported once. Logs of running windows (their
    autosave marker is locked) and this process's own are left alone."""
    from bpttviz.engine.training.session_io import autosave_dir, autosave_path
    from bpttviz.recovery.autosaver import owner_running, running_marker

    d = autosave_dir()
    own = crash_log_path()
    found = None
    for path in sorted([*d.glob("crash-*.log"), d / "crash.log"], key=lambda p: p.name):
        if path == own and _log_file is not None or not path.is_file():
            continue
        m = re.fullmatch(r"crash-(\d+)\.log", path.name)
        if m and int(m.group(1)) != os.getpid() and owner_running(running_marker(autosave_path(int(m.group(1))))):
            continue
        try:
            text = path.read_text(encoding="utf-8", errors="replace")
        except OSError:
            continue
        try:
            os.replace(path, path.with_name(path.name + ".old"))
        except OSError:
            pass
        text = text.strip()
        if text and found is None:
            found = text[-CRASH_TAIL:]
    return found


def enable_crash_log() -> Path | None:
    """Write fatal errors to ``crash_log_path()`` from now on (None if it cannot be opened)."""
    global _log_file, _was_enabled
    if _log_file is not None:
        return Path(_log_file.name)
    try:
        path = crash_log_path()
        _log_file = open(path, "w", encoding="utf-8")  # noqa: SIM115 - must stay open for faulthandler
    except OSError:
        return None
    _was_enabled = faulthandler.is_enabled()
    faulthandler.enable(file=_log_file, all_threads=True)
    return path


def disable_crash_log() -> None:
    """A clean exit: stop logging and remove the (empty) log."""
    global _log_file
    if _log_file is None:
        return
    faulthandler.disable()
    if _was_enabled:
        faulthandler.enable(file=sys.__stderr__, all_threads=True)
    name = _log_file.name
    _log_file.close()
    _log_file = None
    try:
        if os.path.getsize(name) == 0:
            os.unlink(name)
    except OSError:
        pass


# ---------------------------------------------------------------------------------- blow-ups
#: record fields (``engine.records``) a blow-up can name, in words
FIELDS = {"x": "the input x", "h": "the hidden state h", "pre": "the pre-activation", "y": "the output y",
          "a": "the layer's activation a", "z": "the layer's pre-activation z", "dy": "the output delta dL/dy",
          "dh": "the state delta dL/dh", "dpre": "the pre-activation delta", "dz": "the delta dL/dz",
          "da": "the delta dL/da"}


def blowup_details(session) -> str:
    """Where the non-finite value appeared (iteration, phase, timestep, array) and the state kept."""
    b = session.blowup
    if b is None:
        return ""
    lines = [f"Iteration: {b.iteration}", f"Phase: {b.phase}"]
    if b.timestep is not None:
        lines.append(("Layer: " if not session.is_recurrent else "Timestep: ") + str(b.timestep))
    if b.name in session.model.params:
        lines.append(f"Parameter: {b.name}")
    elif b.name:
        lines.append(f"Value: {FIELDS.get(b.name, b.name)}")
    finite = all(np.all(np.isfinite(p)) for p in session.model.params.values())
    if b.phase == "parameters":
        lines.append("The update made the parameters non-finite: Roll back restores them as they were before it.")
    elif finite:
        lines.append(f"The update was not applied: the parameters on screen are the last finite ones, "
                     f"those after iteration {session.iteration}.")
    big = sorted(((float(np.max(np.abs(p))) if p.size else 0.0, n) for n, p in session.model.params.items()
                  if np.all(np.isfinite(p))), reverse=True)[:3]
    if big:
        lines.append("Largest weights now: " + ", ".join(f"|{n}| ≤ {v:.3g}" for v, n in big))
    norm = session.history["grad_norm"].last()
    if norm is not None:
        lines.append(f"Last finite gradient norm: {norm:.3g}")
    lines.append("Roll back (Ctrl+Z) and lower the learning rate or clip the gradient, or Reset (R).")
    return "\n".join(lines)


# ---------------------------------------------------------------------------------- in the window
#: distinct error summaries remembered (one dialog each); beyond this the memory starts again
MAX_REMEMBERED = 200


def _open_dialogs(window, name: str) -> list[QtWidgets.QWidget]:
    window.dialogs[:] = [d for d in window.dialogs if d.isVisible()]  # closed ones are let go
    return [d for d in window.dialogs if d.objectName() == name]


def show_error_dialog(window, summary: str, details: str = "") -> None:
    """A status message always; a dialog once per distinct error. While an error dialog is open,
    further errors are added to it instead of opening one dialog per frame."""
    window.statusBar().showMessage(summary, 15000)
    shown = window.shown_errors
    if summary in shown:
        return
    if len(shown) >= MAX_REMEMBERED:
        shown.clear()
    shown.add(summary)
    open_now = _open_dialogs(window, "error_dialog")
    if open_now and isinstance(open_now[-1], ErrorDialog):
        open_now[-1].add(summary, details)
        return
    box = ErrorDialog(summary, details, window)
    box.show()
    window.track_dialog(box)



def show_blowup_dialog(window, message: str) -> None:
    """Pause is already done by the controller: say where, offer Roll back / Keep paused (one
    dialog at a time: an older one is closed)."""
    window.show_blowup_message(message)  # cleared once the blow-up is gone (roll back, reset, another session)
    for old in _open_dialogs(window, "blowup_dialog"):
        old.close()
    details = blowup_details(window.controller.session)
    box = QtWidgets.QMessageBox(QtWidgets.QMessageBox.Icon.Warning, "Non-finite value", message,
                                QtWidgets.QMessageBox.StandardButton.NoButton, window)
    box.setInformativeText(details)
    roll = box.addButton("Roll back", QtWidgets.QMessageBox.ButtonRole.AcceptRole)
    box.addButton("Keep paused", QtWidgets.QMessageBox.ButtonRole.RejectRole)
    box.setDefaultButton(roll)
    roll.clicked.connect(window.controller.rollback)
    box.setModal(False)
    box.setObjectName("blowup_dialog")
    player = window.part("scenario")
    if player is not None and player.active:
        # in a lecture the presenter's clicker must keep reaching the window: the dialog shows
        # without taking the keyboard (its message is on the status bar and the caption too)
        box.setAttribute(QtCore.Qt.WidgetAttribute.WA_ShowWithoutActivating)
    box.show()
    window.track_dialog(box)
