"""Large models with the attribution view, the what-if panel and a side-by-side comparison on: the
second model trains on a worker thread, the matrices and what-if frames are computed off the UI
thread, results made for a moment or a session that has since changed are dropped, and the UI
thread stays responsive meanwhile. (A small model stands in for a large one: ``thread_above = 0``
sends everything the large-model way. No timings are asserted: ``benchmarks/bench_app.py
--big-only`` measures them.)"""

from __future__ import annotations

import threading

import numpy as np
from PySide6 import QtCore

import bpttviz.features.compare as compare_mod
from bpttviz.engine.gradients import diagnostics
from bpttviz.engine.training.session import model_with
from bpttviz.presenters.attribution import AttributionPresenter

from .conftest import small_session

LONG = 60_000  # ms: generous waits for a busy machine (they end as soon as the condition holds)


def large_window(make_window, **changes):
    """A window whose controller treats its (small) model as a large one, with the attribution and
    what-if docks shown."""
    win = make_window(small_session(**changes))
    c = win.controller
    c.thread_above = 0.0
    for name in ("attribution", "whatif"):  # floating: the views they share tabs with stay on screen
        win.docks[name].setFloating(True)
        win.docks[name].show()
    return win


def recorded(monkeypatch, owner, name: str) -> list:
    """Record the thread every call of ``owner.name`` runs on."""
    threads: list = []
    real = getattr(owner, name)

    def wrapper(*args, **kwargs):
        threads.append(threading.current_thread())
        return real(*args, **kwargs)

    monkeypatch.setattr(owner, name, wrapper)
    return threads


def settled(c, comparison) -> bool:
    return (c.job_running() is None and not comparison.job_running() and c.trace is not None
            and comparison.in_step and comparison.trace_iteration == c.trace_iteration)


def test_the_second_model_trains_on_its_worker_in_lock_step(make_window, qtbot, monkeypatch):
    train_threads = recorded(monkeypatch, compare_mod, "follow_job")
    win = large_window(make_window)
    c, comparison = win.controller, win.part("comparison")
    comparison.open({"truncation": 2})
    first = comparison.session
    c.step_iteration()
    qtbot.waitUntil(lambda: settled(c, comparison), timeout=LONG)
    assert train_threads and all(t is threading.main_thread() for t in train_threads)  # (submitted here...)
    assert comparison.session is not first and first.iteration == 0  # (...trained there, on a copy)
    # the second model narrated the same iteration the first is stepped through, on the same batch
    n2 = comparison.session.last_narration
    assert n2 is not None and n2.iteration == c.narration.iteration and comparison.trace is n2.trace
    np.testing.assert_array_equal(n2.inputs, c.narration.inputs)
    assert comparison._td is not None and comparison._td.trace is n2.trace  # made on the worker
    # the numbers are those of the same training on the UI thread
    ref = small_session(truncation=2)
    ref.narrated_step()
    for k, p in ref.model.params.items():
        np.testing.assert_array_equal(comparison.session.model.params[k], p)
    # playing: the second model keeps following, still never trained on the UI thread
    c.play()
    qtbot.waitUntil(lambda: c.session.iteration >= 4, timeout=LONG)
    c.pause()
    qtbot.waitUntil(lambda: comparison.in_step and not comparison.job_running(), timeout=LONG)
    assert comparison.session.iteration == c.session.iteration


def held_comparison(make_window, qtbot, monkeypatch):
    """A large window whose comparison's worker job waits at a gate: ``(controller, comparison,
    gate)`` with the job running (``gate.set()`` lets it go on)."""
    gate = threading.Event()
    real = compare_mod.follow_job

    def gated(*args, **kwargs):
        job = real(*args, **kwargs)

        def run(deliver, cancelled):
            gate.wait(30)
            job(deliver, cancelled)
        return run

    monkeypatch.setattr(compare_mod, "follow_job", gated)
    win = large_window(make_window)
    c, comparison = win.controller, win.part("comparison")
    comparison.open({"truncation": 2})
    c.step_iteration()
    qtbot.waitUntil(lambda: comparison.job_running(), timeout=LONG)
    return c, comparison, gate


def test_a_second_model_changed_while_its_worker_trains_keeps_the_change(make_window, qtbot, monkeypatch):
    c, comparison, gate = held_comparison(make_window, qtbot, monkeypatch)
    # a live setting reaches the second model while its worker trains a copy of it
    comparison.set_hyper(lr=0.05)
    gate.set()
    qtbot.waitUntil(lambda: settled(c, comparison), timeout=LONG)
    assert comparison.session.optimizer.lr == 0.05  # the copy made before the change was dropped
    ref = small_session(truncation=2, lr=0.05)
    ref.narrated_step()
    for k, p in ref.model.params.items():
        np.testing.assert_array_equal(comparison.session.model.params[k], p)


def test_a_result_for_a_closed_comparison_is_dropped(make_window, qtbot, monkeypatch):
    c, comparison, gate = held_comparison(make_window, qtbot, monkeypatch)
    worker = comparison._worker
    comparison.close()
    gate.set()
    qtbot.waitUntil(lambda: not worker.busy, timeout=LONG)
    qtbot.wait(50)  # (the queued delivery)
    assert comparison.session is None and comparison.trace is None


def test_attribution_and_whatif_compute_off_the_ui_thread_with_the_comparison(make_window, qtbot, monkeypatch):
    frames = recorded(monkeypatch, AttributionPresenter, "frame")
    panels = recorded(monkeypatch, AttributionPresenter, "whatif_frame")
    overlays = recorded(monkeypatch, compare_mod, "decay_overlay_of")
    win = large_window(make_window)
    c, comparison, lab = win.controller, win.part("comparison"), win.feature("whatif")
    comparison.open({"truncation": 2})
    win.docks["decay"].raise_()
    qtbot.waitUntil(lambda: c.binding("comparison decay").on_screen(), timeout=LONG)
    c.step_iteration()
    qtbot.waitUntil(lambda: settled(c, comparison), timeout=LONG)
    view = lab.view
    # the matrix shown is this iteration's, side by side with the second model's of the same iteration
    qtbot.waitUntil(lambda: view.frame is not None and view.frame.second is not None
                    and view.frame.iteration == c.moment.iteration, timeout=LONG)
    assert frames and all(t is not threading.main_thread() for t in frames)
    qtbot.waitUntil(lambda: bool(panels) and lab.panel.isEnabled(), timeout=LONG)
    assert all(t is not threading.main_thread() for t in panels)
    qtbot.waitUntil(lambda: bool(overlays), timeout=LONG)
    assert all(t is not threading.main_thread() for t in overlays)
    # the numbers are those the presenter gives for this moment on the UI thread
    ref = AttributionPresenter().frame(c.trace, c.cursor, c.session.model, iteration=c.moment.iteration)
    np.testing.assert_array_equal(view.frame.values, ref.values)
    assert view.frame.filled_from == ref.filled_from
    # the comparison's decay overlay: the second model's curve at this moment
    n2 = comparison.session.last_narration
    curves = diagnostics.decay_curves(model_with(comparison.session.model, n2.before), n2.inputs, n2.targets,
                                      h0=n2.h0, **dict(n2.options))
    qtbot.waitUntil(lambda: win.decay.overlay is not None and len(win.decay.overlay[3]) == curves["h"].size,
                    timeout=LONG)
    np.testing.assert_array_equal(win.decay.overlay[3], curves["h"])


def test_a_matrix_for_a_moment_left_meanwhile_is_not_shown(make_window, qtbot):
    win = large_window(make_window)
    c, lab = win.controller, win.feature("whatif")
    c.step_iteration()
    qtbot.waitUntil(lambda: c.job_running() is None and c.trace is not None, timeout=LONG)
    qtbot.waitUntil(lambda: lab.view.frame is not None, timeout=LONG)
    c.go_to(0)  # the first record: the backward pass has not started, the matrix is blank
    qtbot.waitUntil(lambda: lab.view.frame.filled_from == lab.view.frame.T, timeout=LONG)
    b = c.binding("attribution view")
    lab._lock.acquire()  # the view thread's compute waits here: the moment moves on meanwhile
    try:
        c.go_to(len(c.trace) - 1)  # the update record: the matrix is whole
        qtbot.waitUntil(lambda: b.computing, timeout=LONG)
        shown = lab.view.frame
        # the UI thread stays responsive: keys act and timers fire while the compute waits
        ticks = []
        timer = QtCore.QTimer()
        timer.timeout.connect(lambda: ticks.append(1))
        timer.start(5)
        c.go_to(1)
        qtbot.waitUntil(lambda: len(ticks) >= 5, timeout=LONG)
        timer.stop()
        assert c.cursor == 1 and lab.view.frame is shown  # (the view still shows the earlier moment)
        drawn = []
        real = lab.view.show_frame
        lab.view.show_frame = lambda f: (drawn.append(f.filled_from), real(f))
    finally:
        lab._lock.release()
    # the result computed for the update record (a whole matrix) is dropped; record 1's is computed
    # and shown (blank: the backward pass has not started)
    qtbot.waitUntil(lambda: bool(drawn) and not b.computing, timeout=LONG)
    ref = AttributionPresenter().frame(c.trace, 1, c.session.model, iteration=c.moment.iteration)
    assert ref.filled_from == ref.T and drawn == [ref.T]
    assert lab.view.frame.filled_from == ref.T
