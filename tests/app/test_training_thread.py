"""Training on the worker thread: results are those of the UI-thread path, keys act at once while
a large model trains, the moment on screen is always one whole snapshot, and closing, resetting or
installing while the worker runs is safe. (No timings are asserted: speed is the benchmark's job,
``benchmarks/bench_app.py``.)"""

from __future__ import annotations

import threading

import numpy as np
from PySide6 import QtCore
from PySide6.QtTest import QTest

from bpttviz.engine.records import UpdateStep
from bpttviz.window.controller import Controller
from bpttviz.window.jobs import Done, Failure
from bpttviz.window.training_thread import TrainingWorker

from .conftest import small_session

LONG = 60_000  # ms: generous waits for a busy machine (they end as soon as the condition holds)


def big_session():
    """A 1000-unit RNN (about 50 ms an iteration): large enough to train on the worker."""
    return small_session(hidden_size=1000, seq_len=25, batch_size=1)


def check_moment(c: Controller) -> None:
    """The moment is one whole snapshot: its iteration is the session's, its parameters are the
    ones its narration says (before or after the update), and the session holds exactly the
    parameters after the narrated update."""
    m, s = c.moment, c.session
    if m.record is None:
        assert m.iteration == s.iteration and m.params is s.model.params
        return
    n = m.narration
    assert n is not None and m.trace is n.trace
    assert m.params is (n.after if m.updated else n.before)
    if n.iteration == s.iteration:  # the newest narrated iteration: the session is right after it
        for k, p in s.model.params.items():
            np.testing.assert_array_equal(n.after[k], p)
        assert s.history["loss"].data()[0][-1] == n.iteration
    td = c.trace_data()
    assert td is not None and td.trace is n.trace and td.iteration == n.iteration


# ---------------------------------------------------------------------------------- the worker
def test_worker_runs_jobs_off_the_ui_thread_and_delivers_in_order(qtbot):
    w = TrainingWorker()
    seen = []

    def job(deliver, cancelled):
        seen.append(threading.current_thread())
        for i in range(3):
            deliver(("item", i))

    got = []
    w.delivered.connect(lambda: got.extend(w.take()))
    w.submit(7, job)
    qtbot.waitUntil(lambda: any(isinstance(x, Done) for x in got), timeout=LONG)
    assert seen[0] is not threading.main_thread()
    assert got[:3] == [("item", 0), ("item", 1), ("item", 2)] and got[3] == Done(7)
    assert w.shutdown()


def test_cancel_stops_a_job_in_the_middle_of_python_code(qtbot):
    w = TrainingWorker()
    started = threading.Event()
    reached_end = []

    def spin(deliver, cancelled):
        started.set()
        x = 0
        while x >= 0:  # never ends by itself, and never looks at cancelled()
            x += 1
        reached_end.append(x)

    w.submit(1, spin)
    assert started.wait(30)
    assert w.busy
    w.cancel()
    assert w.wait_idle(30)
    assert not w.busy and not reached_end
    # the thread is usable again, and a job that raises is reported with its traceback
    got = []
    w.delivered.connect(lambda: got.extend(w.take()))
    w.submit(2, lambda deliver, cancelled: 1 / 0)
    qtbot.waitUntil(lambda: bool(got), timeout=LONG)
    assert isinstance(got[0], Failure) and isinstance(got[0].error, ZeroDivisionError)
    assert "ZeroDivisionError" in got[0].details
    assert w.shutdown()


def test_results_of_a_cancelled_job_are_dropped(qtbot):
    w = TrainingWorker()
    go = threading.Event()
    delivered_after = []

    def job(deliver, cancelled):
        go.wait(30)
        try:
            deliver("late")
        except BaseException as e:  # Cancelled: the job ends here
            delivered_after.append(type(e).__name__)
            raise

    w.submit(3, job)
    w.cancel()  # the job may or may not have started: either way nothing of it arrives
    go.set()
    assert w.wait_idle(30)
    assert "late" not in w.take()
    assert w.shutdown()


# ---------------------------------------------------------------------------------- the controller
def test_threaded_training_gives_the_numbers_of_the_ui_thread_path(qtbot):
    c = Controller(small_session())
    c.thread_above = 0.0  # everything on the worker, even this small model
    c.play()
    assert c.job_running() == "train"
    qtbot.waitUntil(lambda: c.session.iteration >= 25, timeout=LONG)  # past a validation pass and a sample
    c.pause()
    assert c.job_running() is None
    n = c.session.iteration
    qtbot.wait(100)
    assert c.session.iteration == n  # paused means paused: nothing arrives from the cancelled job
    ref = small_session()
    for _ in range(n):
        ref.train_step()
    for name, p in c.session.model.params.items():
        np.testing.assert_array_equal(p, ref.model.params[name])
    np.testing.assert_array_equal(c.session.history["loss"].data()[1], ref.history["loss"].data()[1])
    np.testing.assert_array_equal(c.session.history["val_metric"].data()[1], ref.history["val_metric"].data()[1])
    assert c.session.samples == ref.samples
    c.stop()


def test_a_large_model_trains_off_the_ui_thread_and_keys_act_at_once(make_window, qtbot):
    win = make_window(big_session())
    c = win.controller
    assert c._use_thread()
    moments = []
    c.state_changed.connect(lambda: (check_moment(c), moments.append(c.moment)))
    QTest.keyClick(win.graph, QtCore.Qt.Key.Key_Space)
    assert c.playing and c.job_running() == "train"
    qtbot.waitUntil(lambda: c.session.iteration >= 3, timeout=LONG)
    assert c._worker._thread is not threading.main_thread()
    # Space pauses at the moment on screen, at once; nothing trains afterwards
    shown = c.moment
    QTest.keyClick(win.graph, QtCore.Qt.Key.Key_Space)
    assert not c.playing and c.job_running() is None
    assert c.moment.iteration == shown.iteration and c.moment.narration is shown.narration
    it = c.session.iteration
    qtbot.wait(200)
    assert c.session.iteration == it
    # the graph is on screen: playing showed narrated iterations, paused on the update record
    assert isinstance(c.moment.rec, UpdateStep) and c.moment.iteration == it
    assert win.shown["graph"]["caption"].startswith(f"Iteration {it} ")
    # Right after the last record: the next iteration is narrated on the worker; a second Right
    # pressed meanwhile acts when it arrives
    QTest.keyClick(win.graph, QtCore.Qt.Key.Key_Right)
    assert c.job_running() == "narrate"
    QTest.keyClick(win.graph, QtCore.Qt.Key.Key_Right)
    qtbot.waitUntil(lambda: c.job_running() is None, timeout=LONG)
    assert c.moment.iteration == it + 1 and c.moment.record == 1
    check_moment(c)
    assert len(moments) >= 3
    assert all(m.generation == c.generation for m in moments)


def test_stepping_within_a_narrated_iteration_never_waits_for_the_worker(make_window, qtbot):
    win = make_window(big_session())
    c = win.controller
    c.step_iteration()  # narrated on the worker
    qtbot.waitUntil(lambda: c.job_running() is None and c.trace is not None, timeout=LONG)
    last = len(c.trace) - 1
    QTest.keyClick(win.graph, QtCore.Qt.Key.Key_Left)
    assert c.job_running() is None and c.cursor == last - 1  # acted inside the key press
    c.go_to(0)
    QTest.keyClick(win.graph, QtCore.Qt.Key.Key_Right)
    assert c.cursor == 1 and c.job_running() is None
    check_moment(c)


def test_settings_changed_while_the_worker_trains_are_kept(qtbot):
    c = Controller(small_session())
    c.thread_above = 0.0
    c.play()
    qtbot.waitUntil(lambda: c.session.iteration >= 2, timeout=LONG)
    c.set_hyper(lr=0.05)  # through the controller: the worker restarts from the moment shown
    assert c.playing and c.job_running() == "train"
    n = c.session.iteration
    qtbot.waitUntil(lambda: c.session.iteration >= n + 3, timeout=LONG)
    assert c.session.cfg.lr == 0.05 and c.session.optimizer.lr == 0.05
    # edited in place, as the bug lab does with its switches: the change is not lost either
    c.session.set_hyper(lr=0.02)
    n = c.session.iteration
    qtbot.waitUntil(lambda: c.session.iteration >= n + 3, timeout=LONG)
    assert c.session.cfg.lr == 0.02 and c.session.optimizer.lr == 0.02
    c.stop()


def test_an_error_on_the_worker_is_reported_like_any_error(qtbot):
    s = small_session()

    def boom():
        raise RuntimeError("the engine failed")

    s.train_step = boom  # the worker's copy keeps it
    c = Controller(s)
    c.thread_above = 0.0
    errors = []
    c.error.connect(lambda summary, details: errors.append((summary, details)))
    c.play()
    qtbot.waitUntil(lambda: bool(errors), timeout=LONG)
    assert errors[0][0] == "Error while training: RuntimeError: the engine failed"
    assert "boom" in errors[0][1]  # the worker's traceback
    assert not c.playing and c.job_running() is None
    c.stop()


def test_install_and_reset_while_training_cancel_the_worker(qtbot):
    c = Controller(small_session())
    c.thread_above = 0.0
    c.play()
    qtbot.waitUntil(lambda: c.session.iteration >= 3, timeout=LONG)
    fresh = small_session(seed=5)
    c.install(fresh)  # was playing: plays on, from the new session
    c.pause()
    assert c.session is fresh and c.session.iteration == 0
    qtbot.wait(200)  # whatever the old job still delivers is ignored
    assert c.session is fresh and c.moment.iteration == 0
    c.play()
    qtbot.waitUntil(lambda: c.session.iteration >= 2, timeout=LONG)
    c.reset()
    c.pause()
    assert c.session.iteration == 0
    qtbot.wait(200)
    assert c.session.iteration == 0
    c.stop()


def test_closing_the_window_while_a_large_model_trains(make_window, qtbot):
    win = make_window(big_session())
    c = win.controller
    c.play()
    qtbot.waitUntil(lambda: c.session.iteration >= 1, timeout=LONG)
    assert c.job_running() == "train"
    win.close()
    assert not c.playing and c.job_running() is None
    assert c._worker is None or not c._worker.busy  # cancelled and waited for
    qtbot.wait(100)


def test_costly_view_data_are_computed_off_the_ui_thread_for_the_moment_shown(make_window, qtbot, monkeypatch):
    import bpttviz.window.main_window as mw

    threads = []
    real = mw.weights_frame

    def recorded(*args, **kwargs):
        threads.append(threading.current_thread())
        return real(*args, **kwargs)

    monkeypatch.setattr(mw, "weights_frame", recorded)
    win = make_window(small_session())
    c = win.controller
    c.thread_above = 0.0  # this small model is treated as a large one
    c.step_iteration()
    qtbot.waitUntil(lambda: c.job_running() is None and c.trace is not None, timeout=LONG)
    qtbot.waitUntil(lambda: win.shown.get("weights", {}).get("label") == c.moment.label(), timeout=LONG)
    assert threads and all(t is not threading.main_thread() for t in threads[-1:])
    w = win.shown["weights"]
    np.testing.assert_array_equal(w["value"], np.asarray(c.moment.params[w["name"]], dtype=np.float32))
    # stepping back inside the iteration: the view follows (computed again, off the UI thread)
    c.step_back()
    qtbot.waitUntil(lambda: win.shown["weights"]["label"] == c.moment.label(), timeout=LONG)
    assert threads[-1] is not threading.main_thread()
