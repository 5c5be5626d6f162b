"""Training off the UI thread: a worker that runs jobs on a private copy of the session and hands
finished moments to the UI.

Large models spend whole seconds in one engine call (an iteration of a 1000-unit RNN with its
validation pass takes about 1.5 s; an LSTM of 1024 units over 1000 steps, 5 s per iteration and
half a minute for its validation pass). On the UI thread that freezes the window. Here such work
runs on one worker thread while the event loop keeps painting and answering keys; NumPy's matrix
products release the GIL, so the larger the model, the more the two threads overlap.

The hand-over has no shared mutable state:

- a job works on a **copy** of the session, which it makes itself as it starts (a large model's
  session with its optimiser state is a hundred megabytes: copying it on the UI thread blocked it
  for a tenth of a second). The UI thread does not change the session it handed over in place
  without cancelling the job first, and a result is only installed over the session as it was
  handed over (the controller compares fingerprints), so a copy taken while the UI changed it
  is never shown;
- each result it ``deliver``s is a ``Snapshot``: a copy of the session at an iteration boundary,
  the narration of that iteration (immutable records) and whatever else the UI needs, made
  entirely on the worker. The UI swaps it in whole, so a view never sees parameters of one
  iteration with the trace of another;
- every job carries a **token**; the UI ignores results whose token is no longer current, so
  pausing, resetting or opening a file never waits for the worker.

``cancel()`` stops the running job promptly even in the middle of an iteration: it raises
``Cancelled`` in the worker thread at its next Python instruction (``PyThreadState_SetAsyncExc``;
the engine's per-timestep loops are Python, so that is within one timestep). That is safe because
the job works on its own copy, which is then thrown away. ``Cancelled`` derives from
``BaseException`` so that no ``except Exception`` on the way catches it.
"""

from __future__ import annotations

import ctypes
import sys
import threading
import traceback
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from PySide6 import QtCore


class Cancelled(BaseException):
    """Raised inside the worker thread to stop the running job (see ``TrainingWorker.cancel``)."""


@dataclass
class Snapshot:
    """One finished moment made on the worker: ``session`` (a copy nobody else touches) after its
    iteration ``session.iteration``; ``narration`` the narrated iteration it ends with (None: a
    fast one) and ``state_before`` the session's saved state just before it; ``spectrum`` the
    singular values measured on these weights, if measured; ``cost`` the CPU seconds of one
    iteration (a running estimate); ``last`` the job ends with this snapshot; ``extras`` values
    computed for the UI from this snapshot (e.g. the trace arrays)."""

    token: int
    session: Any
    narration: Any = None
    state_before: Any = None
    cursor: int | None = None
    spectrum: dict[str, float] | None = None
    cost: float = 0.0
    last: bool = False
    extras: dict[str, Any] = field(default_factory=dict)


@dataclass
class Failure:
    """A job raised ``error`` (reported by the UI like any other error)."""

    token: int
    error: BaseException
    details: str


@dataclass
class Done:
    """A job ended without a last snapshot (cancelled, or nothing to do)."""

    token: int


class TrainingWorker(QtCore.QObject):
    """One worker thread, one job at a time. ``submit(token, job)`` queues ``job(deliver,
    cancelled)``; the job calls ``deliver(item)`` for each result and checks ``cancelled()``
    between iterations. ``delivered`` fires on the UI thread (queued) when results are waiting;
    ``take()`` returns them in order. A job submitted while another runs waits for it (which a
    ``cancel`` ends within one timestep)."""

    delivered = QtCore.Signal()

    def __init__(self, parent: QtCore.QObject | None = None) -> None:
        super().__init__(parent)
        self._lock = threading.Lock()
        self._wake = threading.Condition(self._lock)
        self._jobs: deque[tuple[int, Callable[..., Any]]] = deque()
        self._results: deque[Any] = deque()
        self._running: int | None = None  # token of the running job
        self._cancel_sent = False
        self._cancelled: set[int] = set()
        self._closed = False
        # while a worker runs Python, the UI thread waits for the GIL up to this long each time it
        # wants it (5 ms by default, a third of a frame); a shorter interval costs nothing when
        # only one thread runs
        sys.setswitchinterval(min(sys.getswitchinterval(), 0.001))
        self._thread = threading.Thread(target=self._loop, name="bpttviz-training", daemon=True)
        self._thread.start()

    # ------------------------------------------------------------------ UI thread
    def submit(self, token: int, job: Callable[[Callable[[Any], None], Callable[[], bool]], Any]) -> None:
        with self._lock:
            if self._closed:
                raise RuntimeError("the training worker was shut down")
            self._jobs.append((token, job))
            self._wake.notify()

    def cancel(self) -> None:
        """Stop the running job and drop the queued ones (never blocks)."""
        with self._lock:
            self._cancelled.update(t for t, _ in self._jobs)
            self._jobs.clear()
            if self._running is not None:
                self._cancelled.add(self._running)
                if not self._cancel_sent:
                    self._cancel_sent = True
                    ctypes.pythonapi.PyThreadState_SetAsyncExc(ctypes.c_ulong(self._thread.ident),
                                                               ctypes.py_object(Cancelled))

    @property
    def busy(self) -> bool:
        """A job is running or queued."""
        with self._lock:
            return self._running is not None or bool(self._jobs)

    def wait_idle(self, timeout: float | None = None) -> bool:
        """Block until no job runs or waits (True) or ``timeout`` seconds passed (False)."""
        with self._lock:
            return self._wake.wait_for(lambda: self._running is None and not self._jobs, timeout)

    def take(self) -> list[Any]:
        """The results delivered since the last call, oldest first."""
        with self._lock:
            out = list(self._results)
            self._results.clear()
        return out

    def shutdown(self, timeout: float = 5.0) -> bool:
        """Cancel everything, stop the thread and send no more signals. True when it ended."""
        self.cancel()
        with self._lock:
            self._closed = True
            self._wake.notify_all()
        self._thread.join(timeout)
        return not self._thread.is_alive()

    # ------------------------------------------------------------------ worker thread
    def _deliver(self, token: int, item: Any, *, final: bool = False) -> None:
        """Queue ``item`` for the UI and signal it (one signal per item: a ``Cancelled`` landing
        anywhere in here can lose at most a signal, and the job's final delivery sends another)."""
        with self._lock:
            dropped = self._closed or token in self._cancelled
            if not dropped:
                self._results.append(item)
                self.delivered.emit()  # under the lock: shutdown() cannot run while it is posted
        if dropped and not final:
            raise Cancelled

    def _is_cancelled(self, token: int) -> bool:
        with self._lock:
            return token in self._cancelled or self._closed

    def _loop(self) -> None:
        while True:
            with self._lock:
                self._wake.wait_for(lambda: self._jobs or self._closed)
                if self._closed:
                    return
                token, job = self._jobs.popleft()
                self._running = token
                self._cancel_sent = False
            outcome: Any = None
            try:
                try:
                    job(lambda item, token=token: self._deliver(token, item),
                        lambda token=token: self._is_cancelled(token))
                finally:
                    with self._lock:  # no Cancelled can be sent from here on
                        self._running = None
                        sent, self._cancel_sent = self._cancel_sent, False
                        self._wake.notify_all()
                    if sent:  # one may be pending still (sent just as the job returned): clear it
                        ctypes.pythonapi.PyThreadState_SetAsyncExc(ctypes.c_ulong(self._thread.ident), None)
            except Cancelled:  # (also one raised in the ``finally`` above: then nothing more is pending)
                with self._lock:
                    self._running = None
                    self._cancel_sent = False
                    self._wake.notify_all()
                outcome = Done(token)
            except BaseException as e:  # noqa: BLE001 - handed to the UI thread, which reports it
                outcome = Failure(token, e, "".join(traceback.format_exception(type(e), e, e.__traceback__)))
            else:
                outcome = Done(token)
            self._deliver(token, outcome, final=True)
            with self._lock:
                self._cancelled.discard(token)


# ---------------------------------------------------------------------------------- the jobs
@dataclass
class LiveSettings:
    """What a running training job reads before every iteration; the UI thread writes it (each a
    plain attribute: a read or a write is atomic). ``speed``: iterations per second (None: as fast
    as possible); ``until``: train no iteration past this one; ``narrate``: a view that draws
    traces is on screen; ``trace_interval``: narrate at most this often (s); ``publish_every``:
    hand a snapshot of fast iterations to the UI at most this often (s)."""

    speed: float | None = None
    until: int | None = None
    narrate: bool = False
    trace_interval: float = 0.0
    publish_every: float = 1 / 60


def narrate(session) -> tuple[Any, Any] | None:
    """One narrated iteration of ``session``: (its ``Narration``, the session's saved state just
    before it, None after a blow-up), or None when nothing was narrated."""
    from bpttviz.engine.training.session_io import capture_state

    state = capture_state(session) if session.blowup is None else None
    tr = session.narrated_step()
    n = session.last_narration
    if tr is None or len(tr) == 0 or n is None or n.trace is not tr:
        return None
    return n, state


Prepare = Callable[[Any, Any], dict[str, Any]]  # (session, narration or None) -> extras for the UI


def training_job(token: int, session, live: LiveSettings, *, measure: Callable[[Any], dict] | None = None,
                 prepare: Prepare | None = None, spectrum_every: float = 0.25):
    """Train a copy of ``session`` (made on the worker) until cancelled, a blow-up, or an error. Narrated
    iterations (when ``live.narrate``) and, at most every ``live.publish_every`` seconds, fast
    ones are delivered as ``Snapshot``s (each a copy of the session: the job goes on training its
    own). ``measure(session)`` gives the singular values, at most every ``spectrum_every`` s;
    ``prepare`` whatever else the UI should not compute itself. (The singular values are measured
    at most every four times as long as measuring them took: for a large model they cost more
    than an iteration.)"""
    import time

    from bpttviz.engine.training.scenario import copy_session

    def job(deliver: Callable[[Any], None], cancelled: Callable[[], bool]) -> None:
        s = copy_session(session)
        cost = spec_cost = 0.0
        last_pub = last_trace = last_spec = -float("inf")
        credit, last_tick = 0.0, time.perf_counter()
        published_at = s.iteration
        while not cancelled():
            now = time.perf_counter()
            if live.until is not None and s.iteration >= live.until:
                if published_at != s.iteration:
                    deliver(_snapshot(token, copy_session(s), None, None, cost, measure, prepare))
                    published_at = s.iteration
                time.sleep(0.005)  # the UI ends the run (or lifts the limit)
                last_tick = time.perf_counter()
                continue
            if live.speed is not None:
                credit = min(credit + live.speed * (now - last_tick), live.speed * 0.25 + 1)
                last_tick = now
                if credit < 1:
                    time.sleep(min(0.005, (1 - credit) / live.speed))
                    continue
                credit -= 1
            else:
                last_tick = now
            want = live.narrate and (live.speed is not None and live.speed <= 30
                                     or now - last_trace >= max(live.trace_interval, live.publish_every))
            t0 = time.thread_time()
            narrated = None
            if want:
                narrated = narrate(s)
                ok = narrated is not None
                last_trace = now
            else:
                ok = s.train_step() is not None
            dt = time.thread_time() - t0
            cost = dt if cost == 0.0 else 0.7 * cost + 0.3 * dt
            blew = not ok or s.blowup is not None
            end = time.perf_counter()
            if narrated is not None or blew or end - last_pub >= live.publish_every \
                    or (live.until is not None and s.iteration >= live.until):
                spectral = not blew and end - last_spec >= max(spectrum_every, 4 * spec_cost)
                n, state = narrated if narrated is not None else (None, None)
                t_spec = time.perf_counter()
                snap = _snapshot(token, copy_session(s), n, state, cost, measure if spectral else None, prepare,
                                 last=blew)
                if spectral:
                    last_spec = end
                    spec_cost = time.perf_counter() - t_spec  # (with the copy: an upper bound)
                deliver(snap)
                published_at = s.iteration
                last_pub = end
            if blew:
                return

    return job


def narration_job(token: int, original, cursor: int | None, *, measure: Callable[[Any], dict] | None = None,
                  prepare: Prepare | None = None):
    """Narrate one iteration of a copy of ``session`` (made on the worker) and deliver it as the
    last ``Snapshot`` (``cursor``: the record to show; None: the last one)."""
    import time

    from bpttviz.engine.training.scenario import copy_session

    def job(deliver: Callable[[Any], None], cancelled: Callable[[], bool]) -> None:
        session = copy_session(original)
        t0 = time.thread_time()
        narrated = narrate(session)
        n, state = narrated if narrated is not None else (None, None)
        deliver(_snapshot(token, session, n, state, time.thread_time() - t0,
                          measure if session.blowup is None else None, prepare, cursor=cursor, last=True))

    return job


def _snapshot(token: int, session, narration, state, cost: float, measure, prepare, *, cursor: int | None = None,
              last: bool = False) -> Snapshot:
    spectrum = measure(session) if measure is not None and session.blowup is None else None
    extras = prepare(session, narration) if prepare is not None else {}
    return Snapshot(token, session, narration, state, cursor, spectrum, cost, last, extras)


@dataclass
class Measured:
    """Singular values of ``generation``'s session at ``iteration`` (``spectrum_job``)."""

    token: int
    generation: int
    iteration: int
    values: dict[str, float]


def spectrum_job(token: int, session, generation: int, measure: Callable[[Any], dict]):
    """Measure the singular values of ``session`` as it is (nothing trains it meanwhile: training
    works on copies). A failure delivers nothing: the curve only misses a point."""

    def job(deliver: Callable[[Any], None], cancelled: Callable[[], bool]) -> None:
        iteration = session.iteration
        try:
            values = measure(session)
        except Exception:  # noqa: BLE001 - e.g. non-finite weights: no point
            return
        deliver(Measured(token, generation, iteration, values))

    return job
