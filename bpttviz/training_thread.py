"""One worker thread that runs a training slice off the UI thread.

Large models spend whole seconds in one engine call (an iteration of a 1000-unit RNN with its
validation pass, a long LSTM). On the UI thread that freezes the window; here the call runs on a
worker while the event loop keeps painting and answering keys. NumPy's matrix products release
the GIL, so the bigger the model, the more of the worker's time leaves the UI thread free.

The hand-over is strict: between ``submit`` and the ``finished`` signal the worker owns the
session and nothing on the UI thread may read or change it; ``finished`` is delivered on the UI
thread (a queued signal), after the job returned.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from PySide6 import QtCore


class SliceRunner(QtCore.QObject):
    """``submit(fn)`` runs ``fn()`` on the worker thread; ``finished`` then fires on the UI thread
    with ``result`` = (return value, exception or None). One job at a time."""

    finished = QtCore.Signal()

    def __init__(self, parent: QtCore.QObject | None = None) -> None:
        super().__init__(parent)
        self._cv = threading.Condition()
        self._job: Callable[[], Any] | None = None
        self._idle = threading.Event()
        self._idle.set()
        self._done = threading.Event()
        self._done.set()
        self.result: tuple[Any, BaseException | None] = (None, None)
        self._thread = threading.Thread(target=self._loop, name="bpttviz-training", daemon=True)
        self._thread.start()

    @property
    def busy(self) -> bool:
        """A job was submitted and its ``finished`` has not been handled yet."""
        return not self._idle.is_set()

    def submit(self, fn: Callable[[], Any]) -> None:
        with self._cv:
            if self.busy:
                raise RuntimeError("SliceRunner: a slice is already running")
            self._idle.clear()
            self._done.clear()
            self._job = fn
            self._cv.notify()

    def wait(self, timeout: float | None = None) -> bool:
        """Block until the running job returned (True) or ``timeout`` seconds passed (False).
        The result is then ready; ``finished`` is still delivered through the event loop."""
        return self._done.wait(timeout) if self.busy else True

    def take(self) -> tuple[Any, BaseException | None]:
        """The finished job's result; the runner is idle again (call on the UI thread)."""
        self._idle.set()
        return self.result

    def _loop(self) -> None:
        while True:
            with self._cv:
                while self._job is None:
                    self._cv.wait()
                fn, self._job = self._job, None
            try:
                self.result = (fn(), None)
            except BaseException as e:  # noqa: BLE001 - handed to the UI thread, which reports it
                self.result = (None, e)
            self._done.set()
            self.finished.emit()
