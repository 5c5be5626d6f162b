"""Fixtures for the app tests: a main window on a small, fast session, settings in a temp dir.

QT_QPA_PLATFORM=offscreen is set by tests/conftest.py before Qt is imported. Keyboard shortcuts
only fire on an active window, so ``make_window`` shows and activates it."""

from __future__ import annotations

import pytest
from PySide6 import QtCore

import bpttviz  # noqa: F401  (one BLAS thread before numpy loads)
from bpttviz.engine.training.config import Config
from bpttviz.engine.training.session import Session

SMALL = dict(task="chars", corpus="names", model="rnn", hidden_size=12, seq_len=6, batch_size=2,
             optimizer="adagrad", lr=0.1, clip="value", clip_threshold=5.0, init="small", reduction="sum",
             eval_every=20, sample_every=20, sample_length=40)


def small_session(**changes) -> Session:
    return Session(Config.from_dict({**SMALL, **changes}, "test"))


@pytest.fixture
def settings_path(tmp_path):
    return str(tmp_path / "settings.ini")


@pytest.fixture
def make_window(qtbot, settings_path):
    """``make_window(session=None, preset=None, size=(1280, 800), show=True, fps=60.0)`` -> a shown,
    active window (``fps``: the paint timer's rate)."""
    from bpttviz.app import build_window

    made = []

    def make(session: Session | None = None, preset: str | None = None, size=(1280, 800), show: bool = True,
             fps: float = 60.0):
        settings = QtCore.QSettings(settings_path, QtCore.QSettings.Format.IniFormat)
        if session is None and preset is None:
            session = small_session()
        win = build_window(session, preset=preset or "min-char-rnn", settings=settings, size=size, fps=fps)
        qtbot.addWidget(win)
        made.append(win)
        if show:
            with qtbot.waitActive(win):
                win.show()
                win.activateWindow()
            win.graph.setFocus()
        return win

    yield make
    for win in made:
        quiet(win)


def quiet(win) -> None:
    """Nothing a finished test started runs on into the next test: a guided scenario's queued
    jobs and its background preparation are cancelled first (stopping the controller alone would
    let a queued "train" job start it again on a closed window), then the timers stop."""
    scenario = getattr(win, "scenario", None)
    if scenario is not None:
        preparing = scenario.preparing
        scenario.end()
        if preparing is not None:
            preparing.thread.join(timeout=60)
    win.controller.stop()
    for box in win.dialogs:
        box.close()
    # The controller has no Qt parent and its signals hold the window's slots: deleted with the
    # window, the test's objects can be freed (otherwise every window of the run stays in memory
    # and each full garbage collection walks all of them).
    win.controller.deleteLater()
