"""Reliability in the window: files from outside never take the app down.

``PresetOpener(window)`` adds Presets ▸ "Open a preset file…" (a window feature registered as
``"preset_opener"``: see ``bpttviz.window.feature``). ``open_preset_file(window,
path)`` loads a user's preset JSON: a file that cannot be used (missing, a folder or a FIFO, too
big, not UTF-8, not JSON, nested too deeply, a wrong field, an impossible combination) gives one
clear message in a dialog and the status bar, the current session stays, and the file is only
ever read. Session files are opened by ``bpttviz.features.file_actions`` under the same rules.
"""

from __future__ import annotations

import traceback
from pathlib import Path

from PySide6 import QtWidgets

from bpttviz.window.feature import Feature

PRESET_FILTER = "bpttviz presets (*.json);;All files (*)"


def _warn(window, title: str, text: str) -> QtWidgets.QMessageBox:
    box = QtWidgets.QMessageBox(QtWidgets.QMessageBox.Icon.Warning, title, text,
                                QtWidgets.QMessageBox.StandardButton.Close, window)
    box.setObjectName("file_error_dialog")
    box.setModal(False)
    box.show()
    window.dialogs.append(box)
    window.statusBar().showMessage(text.splitlines()[0], 10000)
    return box


def open_preset_file(window, path: str | Path) -> bool:
    """Load the preset at ``path`` into the window (training restarts); False with a message if
    it cannot be used, and then nothing changed."""
    from bpttviz.engine.training.presets import load_preset

    c = window.controller
    name = Path(path).name
    p = str(Path(path).absolute())  # a path with a separator: never taken for a shipped preset's name
    try:
        if Path(p).is_dir():
            raise ValueError("is a folder, not a preset file")
        if Path(p).exists() and not Path(p).is_file():
            raise ValueError("is not a regular file (a pipe, a socket or a device): it was not read")
        cfg = load_preset(p)
        c.rebuild(cfg)
    except (ValueError, OSError, RecursionError, MemoryError) as e:
        _warn(window, "Could not open the preset", f"{name}: {e}\n\nNothing was changed.")
        return False
    except Exception as e:  # noqa: BLE001 - a bug of ours: reported with details, the app goes on
        window.show_error(f"Error while opening the preset {name}: {type(e).__name__}: {e}",
                          "".join(traceback.format_exception(type(e), e, e.__traceback__)))
        return False
    c.message.emit(f"Opened the preset file {name}: iteration 0")
    c.preset_loaded.emit(p)  # a lecture preset's scenario starts; a running one ends
    return True


class PresetOpener(Feature):
    """The menu action and its file dialog."""

    name = "preset_opener"

    def __init__(self, window) -> None:
        self.window = window
        self.folder = str(Path.home())
        self.action = window.add_action("open_preset_file", "Open a preset file…", self.ask, [],
                                        "Load a preset JSON file of your own (training restarts)")
        menu = window.menu("Presets")
        if menu is not None:
            first = menu.actions()[0] if menu.actions() else None
            menu.insertAction(first, self.action)
            menu.insertSeparator(first)

    def ask(self) -> bool:
        self.window.controller.pause()
        path, _ = QtWidgets.QFileDialog.getOpenFileName(self.window, "Open a preset file", self.folder,
                                                        PRESET_FILTER)
        if not path:
            return False
        self.folder = str(Path(path).parent)
        return open_preset_file(self.window, path)
