"""Training in a second process: what crosses the wire arrives whole (read-only arrays stay
read-only, through the shared-memory ring and through the socket), the process's results are
bit for bit the UI thread's, pausing lands on the moment shown, live settings reach the running
job, a failing or dying child is reported and the window trains on without it, and closing the
window ends the child. (No timings are asserted: speed is ``benchmarks/bench_app.py``'s job.)"""

from __future__ import annotations

import mmap
import os
import random
import socket
import threading
from multiprocessing.connection import Connection
from types import MappingProxyType

import numpy as np
import pytest

from bpttviz.engine.training.session import Session
from bpttviz.window.jobs import Done, Failure, LiveSettings, Snapshot, prepare_trace, spectrum_measure, training_job
from bpttviz.window.process_child import Wire
from bpttviz.window.training_process import TrainingProcess

from .conftest import small_session
from .test_training_thread import check_moment

LONG = 60_000  # ms: generous waits for a busy machine (they end as soon as the condition holds)


# ---------------------------------------------------------------------------------- the wire
def _pair(ring_bytes: int | None):
    a, b = socket.socketpair()
    ring = None
    if ring_bytes is not None:
        ring = mmap.mmap(-1, ring_bytes)  # one process here: both ends map the same memory
    return (Wire(Connection(a.detach()), ring, sends_through_ring=True, wait=5.0),
            Wire(Connection(b.detach()), ring))


def _exchange(sender: Wire, receiver: Wire, messages: list) -> list:
    """Send ``messages`` from a thread (a large one does not fit the socket's buffer) and receive them."""
    t = threading.Thread(target=lambda: [sender.send(m, final=i == len(messages) - 1) for i, m in enumerate(messages)])
    t.start()
    got = [receiver.receive() for _ in messages]
    t.join(10)
    assert [final for _, final in got] == [i == len(messages) - 1 for i in range(len(messages))]
    return [m for m, _ in got]


@pytest.mark.parametrize("ring_bytes", [None, 1 << 20], ids=["socket", "ring"])
def test_the_wire_keeps_arrays_their_values_and_their_write_flags(ring_bytes):
    rng = np.random.default_rng(3)
    big, small = rng.normal(size=(300, 100)), rng.normal(size=(3, 4))
    frozen = big.copy()
    frozen.flags.writeable = False
    proxy = MappingProxyType({"W": frozen, "b": small})
    (back,) = _exchange(*_pair(ring_bytes), [{"big": big, "small": small, "frozen": frozen, "proxy": proxy}])
    np.testing.assert_array_equal(back["big"], big)
    np.testing.assert_array_equal(back["small"], small)
    np.testing.assert_array_equal(back["frozen"], frozen)
    assert back["big"].flags.writeable and back["small"].flags.writeable
    assert not back["frozen"].flags.writeable
    assert isinstance(back["proxy"], MappingProxyType) and not back["proxy"]["W"].flags.writeable
    back["big"][0, 0] = 1.0  # a writable array is the receiver's own
    assert big[0, 0] != 1.0 or back["big"] is not big


def test_the_ring_wraps_around_and_a_message_larger_than_half_of_it_takes_the_socket():
    sender, receiver = _pair(1 << 20)
    rng = np.random.default_rng(4)
    messages = [rng.normal(size=(40_000 + 1000 * i,)) for i in range(12)]  # 320-400 kB each: wraps several times
    messages.append(rng.normal(size=(100_000,)))  # 800 kB: more than half the ring
    got = _exchange(sender, receiver, messages)
    for m, g in zip(messages, got, strict=True):
        np.testing.assert_array_equal(g, m)


# ---------------------------------------------------------------------------------- the process
@pytest.fixture(scope="module")
def process(qapp):
    p = TrainingProcess()
    assert p.wait_ready(LONG / 1000), "the training process did not start"
    yield p
    assert p.shutdown(10.0)


def _collect(qtbot, p: TrainingProcess, until) -> list:
    got: list = []

    def done() -> bool:
        got.extend(p.take())
        return until(got)

    qtbot.waitUntil(done, timeout=LONG)
    return got


def test_a_job_in_the_process_trains_bit_for_bit_what_the_ui_thread_would(qtbot, process):
    s = Session.from_preset("min-char-rnn")
    live = LiveSettings(narrate=True, until=40)
    process.submit(1, training_job(1, s, live, measure=spectrum_measure(4), prepare=prepare_trace))
    got = _collect(qtbot, process, lambda g: any(isinstance(x, Snapshot) and x.session.iteration == 40 for x in g))
    process.cancel()
    assert process.wait_idle(LONG / 1000)
    snaps = [x for x in got if isinstance(x, Snapshot)]
    last = snaps[-1].session
    assert s.iteration == 0, "the session sent was not trained here"
    ref = Session.from_preset("min-char-rnn")
    ref.train(40)
    for k, v in ref.model.params.items():
        np.testing.assert_array_equal(last.model.params[k], v)
    np.testing.assert_array_equal(last.history["loss"].data()[1], ref.history["loss"].data()[1])
    narrated = [x for x in snaps if x.narration is not None]
    assert narrated, "no narrated snapshot arrived"
    n = narrated[-1].narration
    assert n.iteration == narrated[-1].session.iteration
    assert narrated[-1].extras["trace_data"].trace is n.trace  # (the window's jobs leave it to the window)
    assert not n.trace[0].h.flags.writeable  # step records stay immutable
    assert any(x.spectrum for x in snaps)
    ref.train(5)
    last.train(5)  # what arrived trains on exactly as the original would: optimiser, data position, rng
    for k, v in ref.model.params.items():
        np.testing.assert_array_equal(last.model.params[k], v)


def test_cancel_stops_the_job_and_nothing_it_still_sends_arrives(qtbot, process):
    s = Session.from_preset("min-char-rnn")
    process.submit(2, training_job(2, s, LiveSettings()))
    _collect(qtbot, process, lambda g: any(isinstance(x, Snapshot) for x in g))
    process.cancel()
    assert process.wait_idle(LONG / 1000) and not process.busy
    process.take()
    qtbot.wait(100)
    assert process.take() == []


def test_live_settings_reach_the_running_job(qtbot, process):
    s = Session.from_preset("min-char-rnn")
    live = LiveSettings(until=5)
    process.submit(3, training_job(3, s, live))
    got = _collect(qtbot, process, lambda g: any(isinstance(x, Snapshot) and x.session.iteration == 5 for x in g))
    qtbot.wait(100)
    got += process.take()
    assert max(x.session.iteration for x in got if isinstance(x, Snapshot)) == 5  # it waits at the limit
    live.until = 12
    process.update(live)
    got = _collect(qtbot, process, lambda g: any(isinstance(x, Snapshot) and x.session.iteration == 12 for x in g))
    process.cancel()
    assert process.wait_idle(LONG / 1000)


class _Unreadable:
    """A job the child cannot even unpickle (its class lives in the test module, which the child
    cannot import)."""

    def __call__(self, deliver, cancelled):  # pragma: no cover - never runs
        raise AssertionError


def test_a_failing_job_is_reported_with_its_message_and_the_child_goes_on(qtbot, process):
    process.submit(4, training_job(4, None, LiveSettings()))  # no session: fails in the child
    process.submit(5, _Unreadable())
    got = _collect(qtbot, process, lambda g: sum(isinstance(x, Failure) for x in g) == 2)
    f4, f5 = sorted((x for x in got if isinstance(x, Failure)), key=lambda f: f.token)
    assert f4.token == 4 and isinstance(f4.error, AttributeError) and "'NoneType'" in str(f4.error)
    assert "AttributeError" in f4.details and "jobs.py" in f4.details  # the child's traceback
    assert f5.token == 5 and "No module named" in str(f5.error)
    assert process.wait_idle(LONG / 1000) and process.alive
    s = Session.from_preset("min-char-rnn")
    process.submit(6, training_job(6, s, LiveSettings(until=3)))
    _collect(qtbot, process, lambda g: any(isinstance(x, Snapshot) and x.session.iteration == 3 for x in g))
    process.cancel()
    assert process.wait_idle(LONG / 1000)
    assert not any(isinstance(x, Done) and x.token == 6 for x in process.take()), "cancelled results arrive"


# ---------------------------------------------------------------------------------- in the window
@pytest.fixture
def process_window(make_window, monkeypatch):
    monkeypatch.setenv("BPTTVIZ_TRAINING_PROCESS", "1")

    def make(**kw):
        win = make_window(**kw)
        c = win.controller
        assert c._process is not None and c._process.wait_ready(LONG / 1000)
        return win

    return make


def test_playing_trains_in_the_process_and_pause_lands_on_the_moment_shown(qtbot, process_window):
    win = process_window(session=small_session())
    c = win.controller
    c.play()
    assert c.job_running() == "train" and c._job_worker is c._process
    qtbot.waitUntil(lambda: c.session.iteration >= 30, timeout=LONG)
    c.pause()
    assert c.job_running() is None
    it = c.session.iteration
    check_moment(c)
    assert c.moment.iteration == it
    qtbot.wait(150)  # whatever the child still sends is dropped
    assert c.session.iteration == it
    ref = small_session()
    ref.train(it)
    for k, v in ref.model.params.items():
        np.testing.assert_array_equal(c.session.model.params[k], v)
    c.step_record()  # stepping goes on from there, on the UI thread
    assert c.session.iteration == it + 1 and c.cursor == 0


def test_a_scenario_limit_set_while_playing_stops_training_at_it(qtbot, process_window):
    win = process_window(session=small_session())
    c = win.controller
    c.play()
    qtbot.waitUntil(lambda: c.session.iteration >= 3, timeout=LONG)
    c.until = c.session.iteration + 25
    target = c.until
    qtbot.waitUntil(lambda: c.session.iteration == target, timeout=LONG)
    qtbot.wait(150)
    assert c.session.iteration == target
    c.pause()


def test_a_bug_switched_on_while_the_process_trains_wins(qtbot, process_window):
    win = process_window(session=small_session())
    c = win.controller
    c.play()
    qtbot.waitUntil(lambda: c.session.iteration >= 5, timeout=LONG)
    c.session.set_bugs({_bug_names()[0]})
    bugs, at = c.session.bugs, c.session.iteration
    # the child's next result was made without it: dropped, and training goes on from the moment
    # shown with the bug on
    qtbot.waitUntil(lambda: c.narration is not None and c.narration.bugs == bugs, timeout=LONG)
    c.pause()
    n = c.narration
    assert c.session.bugs == bugs and n.iteration > at
    assert c.session.iteration >= n.iteration
    steps = [n.iteration - 1 - at]  # iterations the child trained with the bug before this one
    assert steps[0] >= 0


def _bug_names() -> list[str]:
    from bpttviz.engine.gradients.bugs import BUGS

    return sorted(BUGS)


def test_a_dying_child_is_reported_and_the_window_trains_on_without_it(qtbot, process_window):
    win = process_window(session=small_session())
    c = win.controller
    errors = []
    c.error.connect(lambda summary, details: errors.append(summary))
    c.play()
    qtbot.waitUntil(lambda: c.session.iteration >= 3, timeout=LONG)
    os.kill(c._process.pid, 9)
    qtbot.waitUntil(lambda: not c.playing, timeout=LONG)
    assert errors and "training process stopped unexpectedly" in errors[-1]
    it = c.session.iteration
    c.play()  # on the UI thread now
    assert c.job_running() is None
    qtbot.waitUntil(lambda: c.session.iteration >= it + 5, timeout=LONG)
    c.pause()
    check_moment(c)


def test_closing_the_window_ends_the_child(qtbot, process_window):
    win = process_window(session=small_session())
    c = win.controller
    proc = c._process
    c.play()
    qtbot.waitUntil(lambda: c.session.iteration >= 3, timeout=LONG)
    win.close()
    c.stop()
    assert c._process is None
    assert proc._proc.poll() is not None


def test_a_session_the_process_cannot_take_trains_in_the_window_and_says_so(qtbot, process_window):
    win = process_window(session=small_session())
    c = win.controller
    messages = []
    c.message.connect(messages.append)
    c.session.task.unreadable = lambda: None  # a lambda does not pickle
    c.play()
    assert c.job_running() is None and c.playing
    assert any("could not take this session" in m and "pickle" in m for m in messages)
    qtbot.waitUntil(lambda: c.session.iteration >= 10, timeout=LONG)  # on the UI thread, without asking again
    c.pause()
    assert sum("could not take" in m for m in messages) == 1
    check_moment(c)


def test_every_pause_lands_on_a_narrated_moment_of_the_newest_iteration(qtbot, process_window):
    # while the graph is on screen only narrated moments are shown, as on the UI thread, so a
    # pause always lands on the newest iteration's update record
    win = process_window(session=small_session())
    c = win.controller
    rng = random.Random(11)
    for _ in range(6):
        c.play()
        qtbot.wait(rng.randint(20, 200))
        c.pause()
        m = c.moment
        assert m.record is not None and m.narration is not None, "paused between iterations"
        assert m.iteration == c.session.iteration == m.narration.iteration
        assert m.updated
        check_moment(c)


def test_a_limit_ends_on_a_narrated_moment(qtbot, process_window):
    win = process_window(session=small_session())
    c = win.controller
    c.until = 37
    c.play()
    qtbot.waitUntil(lambda: c.session.iteration == 37 and c.narration is not None
                    and c.narration.iteration == 37, timeout=LONG)
    c.pause()
    assert c.moment.record is not None and c.moment.iteration == 37


def test_a_window_whose_training_process_cannot_start_trains_in_itself(qtbot, monkeypatch):
    import bpttviz.window.controller as controller

    def refuse(parent=None):
        raise OSError("Resource temporarily unavailable")

    monkeypatch.setattr(controller, "TrainingProcess", refuse)
    from bpttviz.window.controller import Controller

    c = Controller(small_session(), training_process=True)
    messages = []
    c.message.connect(messages.append)
    c.start()
    assert c._process is None
    assert messages == ["Training runs in the window itself (no training process: Resource temporarily unavailable)"]
    c.play()
    qtbot.waitUntil(lambda: c.session.iteration >= 5, timeout=LONG)
    c.stop()
