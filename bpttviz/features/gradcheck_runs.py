"""Running the gradient doctor from the app, on the app's own model or on a learner's file.

- ``check_session(session)``: ``engine.gradients.doctor.check`` on a copy of the session's model,
  with the session's options, on its last batch (time axis 1), quickly: a seeded subset of each
  parameter's entries (``max_entries``) and a time budget. Full BPTT is checked even when the
  session truncates: a window-truncated gradient is deliberately *not* the loss's gradient.
- ``FileCheckJob``: ``bpttviz.commands.check.CheckRun`` (the same child process and time limit as
  ``bpttviz check FILE.py``) polled from a Qt timer, so the window stays responsive while a
  learner's file runs, and a file that never returns is stopped by the time limit.
"""

from __future__ import annotations

import copy
import os
from typing import Any

from PySide6 import QtCore

from bpttviz.commands.check import CheckRun, FileCheck
from bpttviz.engine.gradients.doctor import Report, check
from bpttviz.engine.training.session import Session

#: entries per parameter checked on the app's model (a few hundred ms at the default size)
MAX_ENTRIES = 48
#: seconds the numerical gradients may take on the app's model
BUDGET = 0.8
#: seconds a learner's file may run before it is stopped
FILE_TIMEOUT = 30.0


def session_check_function(session: Session):
    """``f(params, inputs, targets) -> (loss, grads)`` computing what the session computes (its
    model, bugs switched on included, and options) on a private copy of the model."""
    model = copy.deepcopy(session.model)
    options: dict[str, Any] = dict(session.options())
    options.pop("truncation", None)

    def loss_and_grads(params, inputs, targets):
        model.params = dict(params)
        return model.loss_and_grads(inputs, targets, **options)

    loss_and_grads.__name__ = f"the {model_name(session)}'s loss_and_grads"
    return loss_and_grads


def model_name(session: Session) -> str:
    cfg = session.cfg
    if cfg.is_recurrent:
        return f"{cfg.model.upper()} (H={cfg.hidden_size})"
    return "MLP " + "-".join(str(h) for h in cfg.hidden_layers)


def check_session(session: Session, *, max_entries: int = MAX_ENTRIES, budget: float = BUDGET) -> tuple[Report, str]:
    """Check the session's gradients on its last batch; returns the report and a one-line
    description of what was checked. ``ValueError`` when there is no batch yet."""
    if session.last_batch is None:
        raise ValueError("no batch yet: step or train once first")
    x, y = session.last_batch
    f = session_check_function(session)
    report = check(f, session.model.params, x, y, seq_axis=1 if session.is_recurrent else None,
                   max_entries=max_entries, budget=budget)
    shape = "×".join(str(d) for d in getattr(x, "shape", ()))
    what = f"Model: {model_name(session)} at iteration {session.iteration}, its last batch ({shape})"
    if session.is_recurrent and session.cfg.truncation is not None:
        what += f"; full BPTT checked (the session truncates at k={session.cfg.truncation} on purpose)"
        report.notes.append(f"The session trains with truncation k={session.cfg.truncation}: that gradient is "
                            "deliberately not the loss's gradient, so full BPTT was checked instead.")
    if session.bugs:
        what += "; bug lab on: " + ", ".join(sorted(session.bugs))
        if "targets_wrong_axis" in session.bugs:
            report.notes.append("targets_wrong_axis is a mistake in the data, not in the backward pass: the "
                                "gradients are right for the wrong targets, so no gradient check can see it. "
                                "Watch the loss and the samples instead.")
    return report, what


class FileCheckJob(QtCore.QObject):
    """``FileCheckJob(path, timeout=30)``: checks a learner's file in a child process; emits
    ``finished(FileCheck)`` once (polling every ``poll_ms``). ``cancel()`` stops it."""

    finished = QtCore.Signal(object)

    def __init__(self, path: str | os.PathLike, *, timeout: float = FILE_TIMEOUT, poll_ms: int = 50,
                 parent: QtCore.QObject | None = None) -> None:
        super().__init__(parent)
        self.path = str(path)
        self.result: FileCheck | None = None
        self.run = CheckRun(path, timeout=timeout, more_time=f"the app allows {timeout:g} s; for longer, run "
                                                               f"'bpttviz check FILE.py --timeout S'")
        self.timer = QtCore.QTimer(self)
        self.timer.setInterval(poll_ms)
        self.timer.timeout.connect(self._poll)
        self.timer.start()
        QtCore.QTimer.singleShot(0, self._poll)  # an unusable path is answered at once

    @property
    def running(self) -> bool:
        return self.result is None

    def _poll(self) -> None:
        if self.result is not None:
            return
        try:
            res = self.run.poll()
        except Exception as e:  # noqa: BLE001 - the checker's own failure is still an answer
            res = FileCheck(problem=f"the checker failed: {type(e).__name__}: {e}")
        if res is not None:
            self.result = res
            self.timer.stop()
            self.finished.emit(res)

    def cancel(self) -> None:
        if self.result is None:
            self.run.cancel()
            self._poll()
