"""At start: offer to restore what a crashed or killed session left, without blocking, then
autosave (``bpttviz.recovery.autosaver``) on a timer, after rebuilds and on exit.

``start_autosave(app, window)`` is what ``run_gui`` calls once the window is up:

- if a window did not exit cleanly and left an autosave (each window process has its own,
  see ``bpttviz.recovery.autosaver``), a bar across the top of the window says so and offers **Restore** /
  **Discard**, the newest first, then the next one if several windows left one. The app is
  usable meanwhile; autosaving waits until the choice is made (so the file on offer is not
  overwritten), and quitting without choosing keeps the offer for the next start. An unreadable
  autosave is described and can only be discarded (the file stays untouched until then);
- if the last run died of a fatal error (``bpttviz.recovery.crash`` keeps a ``faulthandler`` log), the bar
  says that too and "Details…" shows the log, ready to copy into a bug report;
- the autosave interval is 60 s (``BPTTVIZ_AUTOSAVE_SECONDS`` overrides it: tests, or a slow disk).
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from PySide6 import QtCore, QtWidgets

from bpttviz.recovery.autosaver import Autosaver, crashed_autosave, forget_autosave, restore_autosave
from bpttviz.recovery.crash import ErrorDialog, disable_crash_log, enable_crash_log, previous_crash
from bpttviz.window.feature import Feature

DEFAULT_INTERVAL = 60.0


def autosave_interval() -> float:
    """Seconds between autosaves: ``BPTTVIZ_AUTOSAVE_SECONDS`` if it is a sensible number, else 60."""
    raw = os.environ.get("BPTTVIZ_AUTOSAVE_SECONDS", "")
    try:
        value = float(raw)
    except ValueError:
        return DEFAULT_INTERVAL
    return value if math.isfinite(value) and 0.05 <= value <= 86400 else DEFAULT_INTERVAL


def describe(info: dict[str, Any]) -> str:
    """"iteration 412 of 'title' (saved 2026-...)" from ``read_session_info``."""
    summary = info.get("summary") or {}
    what = summary.get("title") or summary.get("task") or "a session"
    created = str(info.get("created", "")).replace("T", " ").split("+")[0]
    pos = info.get("position") if isinstance(info.get("position"), dict) else {}
    moment = pos.get("moment") if isinstance(pos.get("moment"), dict) else None
    it = moment.get("iteration") if moment is not None else info.get("iteration", "?")
    where = f"iteration {it}" + (f", record {moment['record'] + 1}" if moment is not None
                                   and isinstance(moment.get("record"), int) else "")
    more = info.get("orphans", 1)
    tail = f" ({more - 1} more after this one)" if isinstance(more, int) and more > 1 else ""
    return f"{where} of “{what}”" + (f", saved {created} UTC" if created else "") + tail


class RestoreBar(QtWidgets.QToolBar):
    """A full-width bar under the transport bar: a message and its buttons."""

    def __init__(self, window) -> None:
        super().__init__("Restore the last session", window)
        self.setObjectName("restore_bar")
        self.setMovable(False)
        self.setFloatable(False)
        self.toggleViewAction().setVisible(False)
        self.setContextMenuPolicy(QtCore.Qt.ContextMenuPolicy.PreventContextMenu)
        self.setStyleSheet("QToolBar#restore_bar { background: #FFF4CE; border-bottom: 1px solid #C9A227; }"
                           "QToolBar#restore_bar QLabel { color: #3A2E00; padding: 4px 8px; }")
        self.label = QtWidgets.QLabel("")
        self.label.setObjectName("restore_message")
        self.label.setWordWrap(True)
        self.label.setSizePolicy(QtWidgets.QSizePolicy.Policy.Expanding, QtWidgets.QSizePolicy.Policy.Preferred)
        self.addWidget(self.label)
        self.buttons: dict[str, QtWidgets.QPushButton] = {}
        self._actions: dict[str, Any] = {}

    def set_message(self, text: str) -> None:
        self.label.setText(text)

    def set_buttons(self, buttons: list[tuple[str, str, Any]]) -> None:
        """(key, text, slot) per button, replacing the previous ones."""
        for act in self._actions.values():
            self.removeAction(act)
        self.buttons.clear()
        self._actions.clear()
        for key, text, slot in buttons:
            b = QtWidgets.QPushButton(text)
            b.setObjectName(f"restore_{key}")
            b.setFocusPolicy(QtCore.Qt.FocusPolicy.NoFocus)
            b.clicked.connect(slot)
            self.buttons[key] = b
            self._actions[key] = self.addWidget(b)


class RestoreOffer(QtCore.QObject, Feature):
    """The offer and the autosaver behind it: a window feature registered as ``"restore_offer"``,
    its part ``"autosaver"`` once autosaving runs (see ``bpttviz.window.feature``)."""

    name = "restore_offer"

    def __init__(self, app, window, interval_s: float | None = None) -> None:
        super().__init__(window)
        self.window = window
        self.app = app
        self.interval = autosave_interval() if interval_s is None else interval_s
        self.saver: Autosaver | None = None
        self.crash_log = previous_crash()
        enable_crash_log()
        self.info = crashed_autosave()
        self.bar: RestoreBar | None = None
        if app is not None:
            app.aboutToQuit.connect(self.quit)
        if self.info is None and self.crash_log is None:
            self.start_saving()
            return
        self._show()

    @property
    def pending(self) -> bool:
        """An offer is waiting for Restore or Discard (and autosaving waits for it)."""
        return self.bar is not None and self.saver is None

    def _show(self) -> None:
        w = self.window
        self.bar = RestoreBar(w)
        w.addToolBarBreak(QtCore.Qt.ToolBarArea.TopToolBarArea)
        w.addToolBar(QtCore.Qt.ToolBarArea.TopToolBarArea, self.bar)
        crash = ""
        if self.crash_log:
            first = next((ln for ln in self.crash_log.splitlines() if ln.strip()), "a fatal error")
            crash = f"bpttviz crashed last time ({first.strip()[:120]}). "
        buttons: list[tuple[str, str, Any]] = []
        if self.info is None:
            self.bar.set_message(crash + "Nothing was autosaved to restore.")
            buttons = [("close", "Close", self.dismiss)]
            self.start_saving()
        elif "error" in self.info:
            self.bar.set_message(f"{crash or 'bpttviz did not exit cleanly last time. '}Its autosave cannot be "
                                 f"read: {self.info['error']}. Autosave is paused until you discard it.")
            buttons = [("discard", "Discard", self.discard)]
        else:
            self.bar.set_message(f"{crash or 'bpttviz did not exit cleanly last time. '}Restore the autosaved "
                                 f"session: {describe(self.info)}? Autosave is paused until you choose.")
            buttons = [("restore", "Restore", self.restore), ("discard", "Discard", self.discard)]
        if self.crash_log:
            buttons.append(("details", "Details…", self.show_crash))
        self.bar.set_buttons(buttons)
        self.bar.show()

    def _path(self) -> Path | None:
        return Path(self.info["path"]) if self.info and self.info.get("path") else None

    def restore(self) -> bool:
        """Replace the session by the autosaved one; True on success (the bar then goes)."""
        try:
            restore_autosave(self.window.controller, self._path())
        except ValueError as e:
            self.window.show_error("The autosaved session could not be restored; the file is left as it was.",
                                   str(e))
            if self.bar is not None:
                self.bar.set_message(f"The autosave could not be restored: {e}")
                self.bar.set_buttons([("discard", "Discard", self.discard)])
            return False
        self.window.statusBar().showMessage(f"Restored the autosaved session at "
                                            f"{self.window.controller.moment.where()}", 8000)
        self._next()
        return True

    def discard(self) -> None:
        """Delete the autosave on offer (then offer the next one, if another window left one)."""
        path = self._path()
        if path is not None:
            forget_autosave(path)
        self.window.statusBar().showMessage("Discarded the autosaved session", 6000)
        self._next()

    def _next(self) -> None:
        self._close_bar()
        self.crash_log = None
        self.info = crashed_autosave()
        if self.info is not None:
            self._show()
        else:
            self.start_saving()

    def dismiss(self) -> None:
        self._close_bar()

    def show_crash(self) -> None:
        box = ErrorDialog("bpttviz crashed during the last session (a fatal error, logged by faulthandler).",
                          self.crash_log or "", self.window, title="bpttviz: the last session crashed",
                          note="Copy the details into a bug report, please.")
        box.show()
        self.window.dialogs.append(box)

    def _close_bar(self) -> None:
        if self.bar is not None:
            self.bar.hide()
            self.window.removeToolBar(self.bar)
            self.bar.deleteLater()
            self.bar = None

    def start_saving(self) -> None:
        if self.saver is None:
            self.saver = Autosaver(self.window.controller, interval_s=self.interval, parent=self.window)

    def parts(self) -> Mapping[str, Any]:
        return {"autosaver": self.saver} if self.saver is not None else {}

    def quit(self) -> None:
        """A clean exit: a last save (unless an offer is still pending: then the offer stays)."""
        if self.saver is not None:
            self.saver.close()
        disable_crash_log()


def start_autosave(app, window, interval_s: float | None = None) -> RestoreOffer:
    """Offer a restore if there is something to restore (non-blocking), and autosave from then on."""
    offer = RestoreOffer(app, window, interval_s)
    window.add_feature(offer, replace=True)  # a second offer (a test, a restart) takes the first one's place
    return offer
