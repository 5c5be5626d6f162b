"""The work a training worker does, and what it hands back (no Qt: a training process runs it too).

A *job* is called as ``job(deliver, cancelled)``: it calls ``deliver(item)`` for each result and
checks ``cancelled()`` between iterations. Two workers run jobs: ``training_thread.TrainingWorker``
(a thread of the app: large models, whose iterations are mostly matrix products that release
the GIL) and ``training_process.TrainingProcess`` (a second Python process: small models, whose
iterations are mostly Python and would share the GIL with the painting). The jobs are plain
objects whose parts pickle (the session, the live settings, module-level functions), so the same
job runs on either.

Results:

- ``Snapshot``: one finished moment, made entirely on the worker: a session the UI may swap in
  whole (a copy, or on a process the unpickled session), the narration it ends with, etc.;
- ``Failure``: the job raised (the UI reports it like any other error);
- ``Done``: the job ended without a last snapshot (cancelled, or nothing to do);
- ``Measured``: singular values of a session as it is (``spectrum_job``).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from typing import Any


class Cancelled(BaseException):
    """Raised inside a worker to stop the running job. ``BaseException``, so that no
    ``except Exception`` on the way catches it."""


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


@dataclass
class Measured:
    """Singular values of ``generation``'s session at ``iteration`` (``spectrum_job``)."""

    token: int
    generation: int
    iteration: int
    values: dict[str, float]


@dataclass
class LiveSettings:
    """What a running training job reads before every iteration; the UI writes it (on a thread
    worker each a plain attribute: a read or a write is atomic; a process worker is sent every
    change). ``speed``: iterations per second (None: as fast as possible); ``until``: train no
    iteration past this one; ``narrate``: a view that draws traces is on screen;
    ``trace_interval``: narrate at most this often (s); ``publish_every``: hand a snapshot of fast
    iterations to the UI at most this often (s)."""

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


def _session_spectrum(iters: int, session) -> dict[str, float]:
    from bpttviz.engine.gradients.diagnostics import spectrum

    return spectrum(session.model, iters)


def spectrum_measure(iters: int) -> Callable[[Any], dict[str, float]]:
    """``measure(session)``: the largest singular values of ``session``'s weights, ``iters`` power
    iterations each (reads nothing else, so a worker may call it)."""
    return partial(_session_spectrum, iters)


def prepare_trace(session, narration) -> dict[str, Any]:
    """``prepare`` for the jobs: what the views would otherwise compute on the UI thread (the
    trace arrays of a narrated iteration: 0.1 s for a long LSTM)."""
    from bpttviz.presenters.trace_data import trace_data_of

    return {"trace_data": trace_data_of(session, narration)} if narration is not None else {}


Prepare = Callable[[Any, Any], dict[str, Any]]  # (session, narration or None) -> extras for the UI


def _copy(session, copies: bool):
    from bpttviz.engine.training.scenario import copy_session

    return copy_session(session) if copies else session


@dataclass
class TrainingJob:
    """Train a copy of ``session`` until cancelled, a blow-up, or an error. Narrated iterations
    (when ``live.narrate``) and, at most every ``live.publish_every`` seconds, fast ones are
    delivered as ``Snapshot``s (each a copy of the session: the job goes on training its own).
    ``measure(session)`` gives the singular values, at most every ``spectrum_every`` s;
    ``prepare`` whatever else the UI should not compute itself. (The singular values are measured
    at most every four times as long as measuring them took: for a large model they cost more
    than an iteration.)

    ``copies``: the job copies the session as it starts and each snapshot's session (a thread
    worker: the UI reads what is delivered while the job trains on). A process worker sets it
    False: the job already has its own unpickled session, and each delivered item is pickled at
    once."""

    token: int
    session: Any
    live: LiveSettings
    measure: Callable[[Any], dict] | None = None
    prepare: Prepare | None = None
    spectrum_every: float = 0.25
    copies: bool = True
    #: None, or ``gate()`` False while the UI has not yet taken the snapshots sent: fast iterations
    #: are then neither narrated nor published (a process worker sets it; see its ``credits``)
    gate: Callable[[], bool] | None = None

    def __call__(self, deliver: Callable[[Any], None], cancelled: Callable[[], bool]) -> None:
        live, token, measure, prepare, gate = self.live, self.token, self.measure, self.prepare, self.gate
        s = _copy(self.session, self.copies)
        cost = spec_cost = 0.0
        last_pub = last_trace = last_spec = -float("inf")
        credit, last_tick = 0.0, time.perf_counter()
        published_at = s.iteration
        while not cancelled():
            now = time.perf_counter()
            if live.until is not None and s.iteration >= live.until:
                if published_at != s.iteration:
                    deliver(_snapshot(token, _copy(s, self.copies), None, None, cost, measure, prepare))
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
            room = gate is None or gate()  # the UI has taken what was sent (a process: see ``gate``)
            final = live.until is not None and s.iteration + 1 >= live.until
            want = live.narrate and (live.speed is not None and live.speed <= 30 or final
                                     or room and now - last_trace >= max(live.trace_interval, live.publish_every))
            # while a narrated view is on screen, only narrated moments are shown (a pause lands on
            # one, as on the UI thread), unless narrations are asked for less often than frames
            fast_ok = not live.narrate or live.trace_interval > live.publish_every
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
            if narrated is not None or blew or fast_ok and room and end - last_pub >= live.publish_every \
                    or (live.until is not None and s.iteration >= live.until):
                spectral = not blew and end - last_spec >= max(self.spectrum_every, 4 * spec_cost)
                n, state = narrated if narrated is not None else (None, None)
                t_spec = time.perf_counter()
                snap = _snapshot(token, _copy(s, self.copies), n, state, cost, measure if spectral else None,
                                 prepare, last=blew)
                if spectral:
                    last_spec = end
                    spec_cost = time.perf_counter() - t_spec  # (with the copy: an upper bound)
                deliver(snap)
                published_at = s.iteration
                last_pub = end
            if blew:
                return


def training_job(token: int, session, live: LiveSettings, *, measure: Callable[[Any], dict] | None = None,
                 prepare: Prepare | None = None, spectrum_every: float = 0.25) -> TrainingJob:
    """A ``TrainingJob`` (see there)."""
    return TrainingJob(token, session, live, measure, prepare, spectrum_every)


@dataclass
class NarrationJob:
    """Narrate one iteration of a copy of ``session`` and deliver it as the last ``Snapshot``
    (``cursor``: the record to show; None: the last one). ``copies`` as in ``TrainingJob``."""

    token: int
    session: Any
    cursor: int | None
    measure: Callable[[Any], dict] | None = None
    prepare: Prepare | None = None
    copies: bool = True

    def __call__(self, deliver: Callable[[Any], None], cancelled: Callable[[], bool]) -> None:
        session = _copy(self.session, self.copies)
        t0 = time.thread_time()
        narrated = narrate(session)
        n, state = narrated if narrated is not None else (None, None)
        deliver(_snapshot(self.token, session, n, state, time.thread_time() - t0,
                          self.measure if session.blowup is None else None, self.prepare, cursor=self.cursor,
                          last=True))


def narration_job(token: int, original, cursor: int | None, *, measure: Callable[[Any], dict] | None = None,
                  prepare: Prepare | None = None) -> NarrationJob:
    """A ``NarrationJob`` (see there)."""
    return NarrationJob(token, original, cursor, measure, prepare)


def _snapshot(token: int, session, narration, state, cost: float, measure, prepare, *, cursor: int | None = None,
              last: bool = False) -> Snapshot:
    spectrum = measure(session) if measure is not None and session.blowup is None else None
    extras = prepare(session, narration) if prepare is not None else {}
    return Snapshot(token, session, narration, state, cursor, spectrum, cost, last, extras)


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
