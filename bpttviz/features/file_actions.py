"""Save and open whole sessions, export views and the window, record animations.

Every operation is a plain function that takes the window and a path (tests call these directly);
``FileActions`` only adds the dialogs and the messages around them.

Sessions (``engine.training.session_io``) are saved at **the moment on screen** (``bpttviz.presenters.moment``). When
the moment is a record of narrated iteration N, the file holds the session's state captured just
before iteration N (``Controller.state_before``) and ``position`` names the record; opening
narrates iteration N again from that state -- the same batch, the same records, bit for bit -- and
puts the cursor back on the record. Between iterations the file holds the session as it is.
``position``::

    {"moment": {"iteration": N, "record": index or None}, "record": index or None,
     "trace_iteration": N - 1 or None, "graph_mode": "activation", "stop": scenario stop or None,
     "scenario_base": the configuration the scenario started from, "compare": changes or None,
     "spectral": the largest singular values over training, and
     "decay_history": [[iteration, curve], ...] (the faint earlier decay curves): the
     controller's ``Diagnostics.histories_json()``}

Opening restores the parameters, optimiser, histories, random state and data position bit for bit
(training on gives exactly what the saved session would have given), and with them every number
every view showed. Files without ``"moment"`` (older ones) put the cursor on the same record of
the next iteration. A scenario resumes at its saved stop (caption
shown, nothing re-run) and a comparison is rebuilt and trained up to the same iteration in
lock-step (identical to the original one unless live settings changed mid-way). A file that
cannot be opened changes nothing: the error is shown and the current session stays.
"""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path
from typing import Any

from PySide6 import QtCore, QtWidgets

from bpttviz.engine.training.config import Config
from bpttviz.engine.training.session import Session
from bpttviz.engine.training.session_io import load_session, save_session
from bpttviz.features.export import AnimationRecorder, export_window

SESSION_SUFFIX = ".npz"
SESSION_FILTER = "bpttviz sessions (*.npz);;All files (*)"
IMAGE_FILTER = "PNG image (*.png);;SVG vector image (*.svg)"
#: views that can be exported on their own: name -> menu text
VIEW_TITLES = {"graph": "Unrolled graph", "deltas": "Deltas", "weights": "Weights", "decay": "Gradient decay",
               "loss": "Loss", "task": "Task", "explain": "Explain", "compare": "Second model"}


# ---------------------------------------------------------------------------------- sessions
def moment_position(c) -> tuple[Any, dict[str, Any]]:
    """What to save for the controller's moment: ``(session or captured state, position)``."""
    m = c.moment
    state = c.state_before(m.narration) if m.narration is not None else None
    record = m.record if state is not None else None
    position = {
        "moment": {"iteration": int(m.iteration) if state is not None else int(c.session.iteration),
                   "record": None if record is None else int(record)},
        "record": None if record is None else int(record),
        "trace_iteration": int(m.iteration - 1) if record is not None else None,
        **c.diagnostics.histories_json(),
    }
    return (state if state is not None else c.session), position


def restore_moment(c, session: Session, position: dict[str, Any] | None, replace: bool = True) -> None:
    """Replace the controller's session by ``session`` (just loaded; ``replace=False``: already
    done) and go back to the saved moment: narrate the saved iteration again and put the cursor on
    its record; restore the singular-value and decay histories."""
    pos = position if isinstance(position, dict) else {}
    if replace:
        c.replace_session(session)
    moment = pos.get("moment")
    record = moment.get("record") if isinstance(moment, dict) else None
    if not isinstance(moment, dict):  # an older file: the same record of the next iteration
        record = pos.get("record")
    if isinstance(record, int) and not isinstance(record, bool) and record >= 0 and session.blowup is None:
        c.step_record()  # narrates the saved iteration (records are never saved), cursor on its first record
        c.go_to(record)
    if c.diagnostics.load_histories(pos.get("spectral"), pos.get("decay_history"), session.iteration):
        c.measure_spectrum()  # the point of the iteration opened on
    c.invalidate()
    c.refresh_all()


def session_position(window) -> dict[str, Any]:
    """Where the window is: the ``position`` saved with the session."""
    c = window.controller
    player = window.part("scenario")
    comparison = window.part("comparison")
    _, pos = moment_position(c)
    return {
        **pos,
        "graph_mode": window.graph.current_mode(),
        "stop": int(player.index) if player is not None and player.active else None,
        "scenario_base": player.base.to_dict() if player is not None and player.active and player.base else None,
        "compare": dict(comparison.changes) if comparison is not None and comparison.changes else None,
    }


def save_window_session(window, path: str | Path) -> Path:
    """Save the window's session at its moment, and its position, to ``path`` (atomic;
    ``ValueError``/``OSError``)."""
    what, _ = moment_position(window.controller)
    return save_session(what, path, position=session_position(window))


def open_session_file(window, path: str | Path) -> Session:
    """Open ``path`` in the window, exactly where it was saved. Raises ``ValueError`` (naming the
    file and the problem) before anything in the window changes."""
    session, position = load_session(path)
    apply_session(window, session, position)
    return session


def apply_session(window, session: Session, position: dict[str, Any] | None) -> None:
    """Replace the window's session by ``session`` and restore ``position`` (see the module doc)."""
    c = window.controller
    pos = position if isinstance(position, dict) else {}
    player = window.part("scenario")
    comparison = window.part("comparison")
    if player is not None:
        player.end()
    if comparison is not None:
        comparison.close()
    c.replace_session(session)
    mode = pos.get("graph_mode")
    if mode in ("activation", "delta"):
        window.graph.set_mode(mode)
    compare = pos.get("compare")
    if comparison is not None and isinstance(compare, dict) and compare:
        try:
            comparison.open(compare)
            comparison.refresh()
        except ValueError as e:
            c.message.emit(f"The saved comparison could not be rebuilt: {e}")
    stop = pos.get("stop")
    if player is not None and isinstance(stop, int) and not isinstance(stop, bool):
        base = None
        if isinstance(pos.get("scenario_base"), dict):
            try:
                base = Config.from_dict(pos["scenario_base"], "the saved scenario's start")
            except ValueError as e:
                c.message.emit(f"Going back in the scenario replays from the opened session: {e}")
        player.resume(session.cfg, stop, base)
    restore_moment(c, session, pos, replace=False)
    c.message.emit(f"Opened a session at {c.moment.where()}")


def default_name(window) -> str:
    """A file name stem for what the window shows: the window's label of the session (which
    follows configuration changes), lower case, words joined by hyphens, at most 40 characters."""
    label = window.session_label()
    stem = re.sub(r"[^a-z0-9]+", "-", label.split(":")[0].lower()).strip("-")
    return stem[:40].rstrip("-") or "session"


# ---------------------------------------------------------------------------------- exports
def view_widget(window, name: str) -> QtWidgets.QWidget:
    """The widget of view ``name`` (see ``VIEW_TITLES``; "window" is the whole window)."""
    if name == "window":
        return window
    if name == "graph":
        return window.graph
    comparison = window.part("comparison")
    if name == "compare" and comparison is not None:
        return comparison.graph
    dock = window.docks.get(name)
    if dock is None or dock.widget() is None:
        raise ValueError(f"view: {name!r} is not one of {', '.join(['window', *VIEW_TITLES])}")
    return dock.widget()


def export_view(window, name: str, path: str | Path) -> Path:
    """Export one view (or "window") as PNG or SVG, chosen by the suffix of ``path``."""
    widget = view_widget(window, name)
    if not widget.isVisible() or widget.visibleRegion().isEmpty():
        raise ValueError(f"view: the {VIEW_TITLES.get(name, name)} view is not on screen; show it first")
    return export_window(widget, path)


def current_view(window) -> str:
    """The view holding the keyboard focus, else the last one a scenario or the user raised that is
    on screen, else the graph."""
    fw = QtWidgets.QApplication.focusWidget()
    while fw is not None:
        for name, dock in window.docks.items():
            if fw is dock and name in VIEW_TITLES:
                return name
        fw = fw.parentWidget()
    last = window.last_raised_view
    if last in window.docks and window.docks[last].isVisible() and not window.docks[last].visibleRegion().isEmpty():
        return last
    return "graph"


def has_pillow() -> bool:
    return importlib.util.find_spec("PIL") is not None


def save_recording(recorder: AnimationRecorder, path: str | Path) -> tuple[list[Path], str]:
    """Save recorded frames: a ``.gif`` file (needs Pillow; without it, a PNG sequence in a folder
    next to it, and the returned note says so), or a PNG sequence in folder ``path``."""
    path = Path(path)
    if path.suffix.lower() == ".gif":
        try:
            return [recorder.save_gif(path)], f"Saved {len(recorder)} frames as {path.name}"
        except ImportError:
            folder = path.with_suffix("")
            files = recorder.save_png_sequence(folder)
            return files, (f"Pillow is not installed, so no GIF: saved {len(files)} PNG frames in {folder} "
                           "instead (pip install 'bpttviz[anim]' for GIFs)")
    files = recorder.save_png_sequence(path)
    return files, f"Saved {len(files)} PNG frames in {path}"


# ---------------------------------------------------------------------------------- the dialogs
class FileActions(QtCore.QObject):
    """The File menu's slots: dialogs, the current file name, messages."""

    def __init__(self, window) -> None:
        super().__init__(window)
        self.window = window
        self.path: Path | None = None
        self.recorder: AnimationRecorder | None = None
        self.folder = str(Path.home())

    def _warn(self, title: str, text: str) -> QtWidgets.QMessageBox:
        box = QtWidgets.QMessageBox(QtWidgets.QMessageBox.Icon.Warning, title, text,
                                    QtWidgets.QMessageBox.StandardButton.Close, self.window)
        box.setObjectName("file_error_dialog")
        box.setModal(False)
        box.show()
        self.window.track_dialog(box)
        self.window.statusBar().showMessage(text, 10000)
        return box

    def _say(self, text: str) -> None:
        self.window.statusBar().showMessage(text, 8000)

    def _ask_path(self, title: str, default: str, filters: str, save: bool = True) -> str | None:
        self.window.controller.pause()
        fn = QtWidgets.QFileDialog.getSaveFileName if save else QtWidgets.QFileDialog.getOpenFileName
        path, _ = fn(self.window, title, str(Path(self.folder) / default), filters)
        self.window.restore_focus()
        if path:
            self.folder = str(Path(path).parent)
        return path or None

    # ------------------------------------------------------------------ sessions
    def save(self) -> bool:
        if self.path is None:
            return self.save_as()
        return self.save_to(self.path)

    def save_as(self) -> bool:
        default = default_name(self.window)
        path = self._ask_path("Save session", f"{default}-it{self.window.controller.moment.iteration}{SESSION_SUFFIX}",
                              SESSION_FILTER)
        if path is None:
            return False
        if not Path(path).suffix:
            path += SESSION_SUFFIX
        return self.save_to(path)

    def save_to(self, path: str | Path) -> bool:
        try:
            written = save_window_session(self.window, path)
        except (OSError, ValueError) as e:
            self._warn("Could not save the session", f"The session was not saved (a file already there is "
                                                      f"unchanged):\n{e}")
            return False
        self.path = Path(written)
        self._say(f"Saved {self.window.controller.moment.where()} to {written}")
        return True

    def open(self) -> bool:
        path = self._ask_path("Open session", "", SESSION_FILTER, save=False)
        return self.open_path(path) if path else False

    def open_path(self, path: str | Path) -> bool:
        try:
            open_session_file(self.window, path)
        except ValueError as e:
            self._warn("Could not open the session", f"{e}\n\nNothing was changed.")
            return False
        self.path = Path(path)
        return True

    # ------------------------------------------------------------------ exports
    def export_view(self, name: str | None = None) -> bool:
        name = name or current_view(self.window)
        path = self._ask_path(f"Export the {VIEW_TITLES.get(name, name)} view", f"bpttviz-{name}.png", IMAGE_FILTER)
        return self.export_to(name, path) if path else False

    def export_window(self) -> bool:
        path = self._ask_path("Export the window", "bpttviz-window.png", IMAGE_FILTER)
        return self.export_to("window", path) if path else False

    def export_to(self, name: str, path: str | Path) -> bool:
        if not Path(path).suffix:
            path = str(path) + ".png"
        try:
            written = export_view(self.window, name, path)
        except (OSError, ValueError) as e:
            self._warn("Could not export", str(e))
            return False
        self._say(f"Exported {written}")
        return True

    # ------------------------------------------------------------------ recording
    def toggle_recording(self) -> None:
        if self.recorder is not None and self.recorder.recording:
            self.stop_recording()
        else:
            self.start_recording()

    def start_recording(self, fps: float = 10, max_frames: int = 600) -> AnimationRecorder:
        """Record the whole window at ``fps`` until ``stop_recording`` (or ``max_frames``)."""
        self.recorder = AnimationRecorder(self.window, fps=fps, max_frames=max_frames)
        self.recorder.start()
        self._sync_action(True)
        self._say(f"Recording the window ({fps:g} frames a second, at most {max_frames} frames): "
                  "Ctrl+Shift+R again stops")
        return self.recorder

    def stop_recording(self, path: str | Path | None = None) -> list[Path]:
        """Stop; save to ``path`` (asked for when None). Returns the files written."""
        rec = self.recorder
        self._sync_action(False)
        if rec is None:
            return []
        rec.stop()
        if len(rec) == 0:
            return []
        if path is None:
            if has_pillow():
                path = self._ask_path("Save the animation", "bpttviz-animation.gif", "GIF animation (*.gif)")
            else:
                QtWidgets.QMessageBox.information(
                    self.window, "Saving the animation as PNG frames",
                    "Pillow is not installed, so the animation cannot be saved as a GIF. It will be saved "
                    "as a sequence of PNG images in a folder (pip install 'bpttviz[anim]' for GIFs).")
                self.window.controller.pause()
                path = QtWidgets.QFileDialog.getExistingDirectory(self.window, "Folder for the PNG frames",
                                                                  self.folder) or None
            if path is None:
                self._say("The recording was not saved")
                return []
        try:
            files, note = save_recording(rec, path)
        except (OSError, ValueError) as e:
            self._warn("Could not save the animation", str(e))
            return []
        self._say(note)
        self.recorder = None
        return files

    def _sync_action(self, on: bool) -> None:
        a = self.window.act.get("record")
        if a is not None:
            a.setChecked(on)
            a.setText("■ Stop recording" if on else "Record animation")

