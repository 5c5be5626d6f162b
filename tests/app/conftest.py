"""Fixtures for the app tests: a main window on a small, fast session, settings in a temp dir.

QT_QPA_PLATFORM=offscreen is set by tests/conftest.py before Qt is imported. Keyboard shortcuts
only fire on an active window, so ``make_window`` shows and activates it.

Building a window costs most of an app test's time (0.5-1 s of CPU each), so there are two ways
to get one:

- ``make_window(...)``: a new window for this test only (any session, preset, size, frame rate,
  settings shared by the test's windows). Use it when the test builds a second window, closes
  one, reads remembered settings, or changes what a new session cannot undo.
- ``shared_window``: the default window (``small_session()``, 1280x800, 60 fps) of the test
  module, built once per module (``--dist loadfile`` keeps a module in one worker), shown,
  active and with the keyboard on the graph. After each test a guided scenario is ended, the
  bug lab's bugs switched off, a fresh ``small_session()`` put in place the way Reset does and
  the tabs in front at the start raised again; then the window's UI state (zoom, colour modes,
  docks and their geometry, full screen, lecture mode, dialogs, errors, speed, the controller's
  clock, a file check, every control's setting...) is compared with the state it was built in.
  If anything differs the window is closed and the next test gets a new one, so no test sees
  another's leftovers. Use it for tests that step, play or read the default window; the module's
  tests on it run first (``pytest_collection_modifyitems`` below), since ``make_window`` closes
  it (two windows' application-wide shortcuts would be ambiguous).

Time-driven behaviour is driven, not waited for: the controller reads the time of its budgets,
its speed limit and its frame throttles through its ``clock`` attribute (``time.perf_counter``
by default), so a test can hand it a ``FakeClock`` and move the time on itself instead of
sleeping (the training timer still calls the controller; only the time it reads is the test's).
A frozen clock never ends a slice at full speed, so fake clocks go with a set speed. The graph's
``animate(now)`` takes the time as an argument too. Where the app must really run (a worker
thread, a child process), tests wait with ``qtbot.waitUntil(condition)`` on the condition itself
rather than for a fixed time."""

from __future__ import annotations

import math
import time

import pytest
from PySide6 import QtCore, QtGui, QtWidgets

import bpttviz  # noqa: F401  (one BLAS thread before numpy loads)
from bpttviz.engine.training.config import Config
from bpttviz.engine.training.session import Session

SMALL = dict(task="chars", corpus="names", model="rnn", hidden_size=12, seq_len=6, batch_size=2,
             optimizer="adagrad", lr=0.1, clip="value", clip_threshold=5.0, init="small", reduction="sum",
             eval_every=20, sample_every=20, sample_length=40)


def small_session(**changes) -> Session:
    return Session(Config.from_dict({**SMALL, **changes}, "test"))


class FakeClock:
    """A clock to hand ``Controller.clock``: its time moves only when the test calls ``advance``.
    It starts on a whole second (steps that are binary fractions, 0.25 s, add up exactly) a minute
    behind the real clock, so nothing the controller stamps with it lies in the future once the
    real clock is handed back (meanwhile the frame throttles, which compare with the real time of
    the last frame, let only explicit paints through)."""

    def __init__(self) -> None:
        self.now = float(math.floor(time.perf_counter())) - 60.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def settings_path(tmp_path):
    return str(tmp_path / "settings.ini")


@pytest.fixture
def make_window(qtbot, settings_path, _module_window):
    """``make_window(session=None, preset=None, size=(1280, 800), show=True, fps=60.0)`` -> a shown,
    active window (``fps``: the paint timer's rate). The module's shared window is closed first:
    the windows' application-wide shortcuts would be ambiguous with two windows open."""
    from bpttviz.app import build_window

    _module_window.discard()
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


def ui_state(win) -> dict:
    """What a test could change on a window and a new session does not put back: compared
    before and after each test that uses ``shared_window``."""
    c = win.controller
    lab = win.feature("gradient_lab")
    scenario = getattr(win, "scenario", None)
    def dock(d) -> tuple:
        front = d.isVisible() and not d.visibleRegion().isEmpty()  # (not behind another's tab)
        return d.isVisible(), front, d.isFloating(), win.dockWidgetArea(d), d.geometry().getRect() if front else None

    return {
        "scale": win.theme.scale,
        "graph_mode": win.graph.current_mode(),
        "checked": {n: a.isChecked() for n, a in win.act.items() if a.isCheckable()},
        "docks": {n: dock(d) for n, d in win.docks.items()},
        "window": (win.isVisible(), win.isFullScreen(), win.isMaximized(), win.size().toTuple(), win.windowTitle()),
        "presets": {n: a.isChecked() for n, a in win.preset_actions.items()},
        # the form: messages, pending changes, and anything a test set on it (``config.confirm = ...``)
        "config": (win.config.error.text(), win.config.pending.text(), win.config.apply_button.isEnabled(),
                   win.config.confirm),
        "overlay": win.overlay.isVisible(),
        "enlarged": win._enlarged is not None,
        "held": win.layout_held(),
        "dialogs": len(win.dialogs),
        "error": c.last_error,
        "controller": (c.playing, c.speed, c.until, c.trace_interval, c.fps, c.thread_above, c.block_budget, c.clock),
        "speed_box": win.transport.speed.currentData(),
        "bugs": (lab.wanted, lab.job, lab.last_file) if lab is not None else None,
        "scenario": None if scenario is None else (scenario.active, scenario.busy, scenario.train_factor,
                                                   scenario.prepare_ahead, len(scenario.errors)),
        "comparison": getattr(getattr(win, "comparison", None), "active", None),
        "files": (win.files.path, win.files.recorder) if getattr(win, "files", None) is not None else None,
        "bars": {b.objectName(): b.isVisible() for b in win.findChildren(QtWidgets.QToolBar)},
        "controls": _controls(win),
    }


def _controls(win) -> list:
    """Every control's setting (choices, check boxes, numbers, fields, checkable actions): a view's
    own switch (a log axis, a quantity, a parameter) too. Named by type and the names of their
    parents and sorted, as a new session rebuilds some of them."""
    out = []
    for w in win.findChildren(QtCore.QObject):
        if isinstance(w, QtWidgets.QComboBox):
            value = w.currentText()
        elif isinstance(w, QtWidgets.QAbstractButton) and w.isCheckable():
            value = w.isChecked()
        elif isinstance(w, (QtWidgets.QSpinBox, QtWidgets.QDoubleSpinBox, QtWidgets.QAbstractSlider)):
            value = w.value()
        elif isinstance(w, QtWidgets.QLineEdit):
            value = w.text()
        elif isinstance(w, QtGui.QAction) and w.isCheckable():
            value = w.isChecked()
        else:
            continue
        path, p = [], w
        while p is not None and p is not win:
            path.append(p.objectName() or type(p).__name__)
            p = p.parent()
        out.append(repr((type(w).__name__, "/".join(reversed(path)), value)))
    return sorted(out)


class _SharedWindow:
    """The module's default window (see the module docstring); ``take()`` hands it to a test."""

    def __init__(self, settings_dir) -> None:
        self.settings_dir = settings_dir
        self.win = None
        self.clean: dict | None = None
        self.raised: list[str] = []  # the docks in front at the start (tabs a test raised go back)
        self.built = 0

    def _build(self):
        from PySide6 import QtTest

        from bpttviz.app import build_window

        self.built += 1
        path = str(self.settings_dir / f"settings-{self.built}.ini")
        settings = QtCore.QSettings(path, QtCore.QSettings.Format.IniFormat)
        win = build_window(small_session(), preset="min-char-rnn", settings=settings, size=(1280, 800))
        win.show()
        win.activateWindow()
        assert QtTest.QTest.qWaitForWindowActive(win, 5000), "the shared window did not become active"
        win.graph.setFocus()
        self.raised = [n for n, d in win.docks.items() if d.isVisible() and not d.visibleRegion().isEmpty()]
        scenario = getattr(win, "scenario", None)
        self.scenario_settings = (scenario.train_factor, scenario.prepare_ahead) if scenario is not None else None
        self.win, self.clean = win, ui_state(win)
        return win

    def take(self, qtbot):
        win = self.win
        if win is None:
            return self._build()
        if not win.isActiveWindow():
            win.raise_()
            win.activateWindow()
            qtbot.waitUntil(win.isActiveWindow, timeout=5000)
        win.graph.setFocus()
        return win

    def give_back(self) -> None:
        """End a guided scenario (its speed-up settings back as built), switch the bug lab's bugs
        off, put a fresh session in place (as Reset or a preset does: the views, the form, the lab
        and the scenario player all hear ``session_replaced``), bring the tabs raised at the start
        forward again, and keep the window only if nothing else differs from its built state."""
        from PySide6 import QtWidgets

        win = self.win
        if win is None:
            return
        if not _alive(win):
            self.win = None
            return
        scenario = getattr(win, "scenario", None)
        if scenario is not None:  # leave a guided scenario (its background preparation ends first)
            preparing = scenario.preparing
            scenario.end()
            if preparing is not None:
                preparing.thread.join(timeout=60)
            scenario.train_factor, scenario.prepare_ahead = self.scenario_settings
        win.controller.pause()
        lab = win.feature("gradient_lab")
        if lab is not None and lab.wanted:
            lab.set_bugs(())  # "All bugs off": the lab keeps its bugs through a new session
        win.controller.replace_session(small_session())
        for name in self.raised:
            win.docks[name].raise_()
        QtWidgets.QApplication.processEvents()
        if ui_state(win) != self.clean:
            self.discard()

    def discard(self) -> None:
        win, self.win = self.win, None
        if win is not None and _alive(win):
            quiet(win)
            win.close()
            win.deleteLater()


def _alive(win) -> bool:
    import shiboken6

    return shiboken6.isValid(win) and win.isVisible()


@pytest.fixture(scope="module")
def _module_window(qapp, tmp_path_factory):
    pool = _SharedWindow(tmp_path_factory.mktemp("shared-window"))
    yield pool
    pool.discard()


@pytest.fixture
def shared_window(_module_window, qtbot):
    """The module's default window on a fresh ``small_session()``, shown and active (see the
    module docstring); a test that leaves it changed gets it rebuilt for the next test."""
    win = _module_window.take(qtbot)
    yield win
    _module_window.give_back()


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


def pytest_collection_modifyitems(config, items):
    """Within each app test module, the tests on the shared window run first (in file order),
    then the rest: a test building its own window closes the shared one, so the module builds
    its shared window once. Modules keep their places."""
    first_seen: dict = {}
    for i, item in enumerate(items):
        first_seen.setdefault(item.module, i) if hasattr(item, "module") else None

    def place(pair):
        i, item = pair
        module = getattr(item, "module", None)
        if module is None or "shared_window" not in getattr(item, "fixturenames", ()):
            return (first_seen.get(module, i), 1, i)
        return (first_seen[module], 0, i)

    items[:] = [item for _, item in sorted(enumerate(items), key=place)]
