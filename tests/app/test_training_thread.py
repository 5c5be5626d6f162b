"""Long iterations train on a worker thread: the numbers are those of the UI-thread path, the
UI stays free while a slice runs, and keys that need the session act when the slice ends."""

from __future__ import annotations

import threading
import time

import numpy as np

from bpttviz.controller import LARGE_WORK, Controller
from bpttviz.training_thread import SliceRunner

from .conftest import small_session


def test_slice_runner_runs_off_the_ui_thread_and_reports_back(qtbot):
    runner = SliceRunner()
    seen = []
    with qtbot.waitSignal(runner.finished, timeout=5000):
        runner.submit(lambda: seen.append(threading.current_thread()) or 42)
        assert runner.busy
    assert seen[0] is not threading.main_thread()
    assert runner.take() == (42, None) and not runner.busy
    with qtbot.waitSignal(runner.finished, timeout=5000):
        runner.submit(lambda: 1 / 0)
    value, exc = runner.take()
    assert value is None and isinstance(exc, ZeroDivisionError)


def test_threaded_training_gives_the_same_numbers_and_defers_keys(qtbot):
    c = Controller(small_session())
    c.thread_above = 0.0  # every slice on the worker thread
    c._iter_cost = 1e-9
    c.play()
    qtbot.waitUntil(lambda: c.session.iteration >= 5, timeout=20000)
    assert c._runner is not None and c._runner._thread is not threading.main_thread()
    # a key pressed while a slice runs: the pause shows at once, the step when the slice ended
    ran = c.session.iteration
    c.step_record()
    assert not c.playing
    qtbot.waitUntil(lambda: not c.slice_running() and c.trace is not None, timeout=20000)
    assert c.cursor == 0 and c.trace_iteration >= ran
    # the same number of iterations headless gives the same parameters
    n = c.session.iteration
    ref = small_session()
    for _ in range(n):
        ref.train_step()
    for name, p in c.session.model.params.items():
        np.testing.assert_array_equal(p, ref.model.params[name])
    c.stop()


def test_small_models_stay_on_the_ui_thread_and_large_ones_start_off_it():
    small = Controller(small_session())
    assert not small._large()
    big = Controller(small_session(hidden_size=1000, seq_len=25, batch_size=1))
    params = sum(p.size for p in big.session.model.params.values())
    assert params * 25 > LARGE_WORK and big._large()


def test_pause_waits_briefly_for_a_short_slice(qtbot):
    c = Controller(small_session())
    c.thread_above = 0.0
    c._iter_cost = 1e-9
    c.play()
    qtbot.waitUntil(lambda: c.slice_running(), timeout=5000)
    t0 = time.perf_counter()
    c.pause()
    # a slice of this small model ends within the pause's wait: nothing is left running
    if time.perf_counter() - t0 < 0.03:
        assert not c.slice_running()
    qtbot.waitUntil(lambda: not c.slice_running(), timeout=5000)
    it = c.session.iteration
    qtbot.wait(50)
    assert c.session.iteration == it  # paused means paused
    c.stop()


def test_costly_view_data_are_prepared_on_the_worker_for_the_data_shown(qtbot):
    from PySide6 import QtWidgets

    from bpttviz.controller import ViewBinding

    c = Controller(small_session())
    c.thread_above = 0.0
    c._iter_cost = 1e-9
    w = QtWidgets.QWidget()
    qtbot.addWidget(w)
    w.show()
    made, shown = [], []

    def prepare():
        made.append(threading.current_thread() is threading.main_thread())
        return c.session.iteration

    b = c.bind(ViewBinding("probe", w, lambda: c.session.iteration, lambda: shown.append(
        (b.prepared(), c.session.iteration)), prepare=prepare))
    c.play()
    qtbot.waitUntil(lambda: len(shown) >= 3, timeout=20000)
    c.pause()
    qtbot.waitUntil(lambda: not c.slice_running(), timeout=5000)
    assert any(m is False for m in made)  # made on the worker thread
    assert all(value == it for value, it in shown)  # every push showed data of its own iteration
    c.stop()
