"""The one bridge between Qt and the engine.

Two timers; one worker thread only for models whose iterations are long:

- the **training timer** advances the session in time-budgeted slices, or at ``speed`` iterations
  per second. At full speed the slice adapts to the cost of painting: ``train_share / (1 -
  train_share)`` times the time the event loop spent painting between slices (so training keeps
  ~60% of the time however many views are on screen), within ``budget_ms`` .. ``max_budget_ms``.
  The first iteration of a slice is *narrated* (a ``Trace`` of step records) whenever a view that
  draws traces is on screen, so the unrolled graph and the deltas stay live while training; the
  others take the fast path (the numbers are identical either way: the engine guarantees it).
  Each slice is followed by a paint, so every slice is a frame. When one iteration takes longer
  than ``thread_above`` seconds (measured), the slice runs on a worker thread instead
  (``SliceRunner``): the event loop keeps painting and answering keys meanwhile, views are not
  pushed (the worker owns the session), and keys that need the session act when the slice ends.
  Small models stay on the UI thread, fully deterministic;
- the **paint timer** runs at a fixed rate (animations, stepping, changes while paused) and pushes
  the latest state to the views that are visible and whose data changed (``ViewBinding``). Heavy
  views carry a minimum interval between pushes while training.

Single-stepping keeps the current ``Trace`` and a cursor into it: stepping forward moves the
cursor (fetching a new narrated iteration at the end), stepping back only moves the cursor (the
records are immutable, nothing is recomputed). Every exception raised while stepping or painting
is caught here and reported through ``error`` without stopping the app.
"""

from __future__ import annotations

import math
import sys
import time
import traceback
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from PySide6 import QtCore, QtWidgets

from engine.config import Config
from engine.session import Session
from engine.trace import Trace

from .presenters.panels import SpectralHistory, Spectrum, loss_label, record_status
from .presenters.trace_data import MLPTrace, RecurrentTrace, mlp_trace, recurrent_trace
from .training_thread import SliceRunner

#: multiply-adds of one iteration (estimated) above which even the first slice trains off the UI
#: thread (the classic character RNN: 6e5; a 1000-unit RNN: 3e7)
LARGE_WORK = 2e7
#: iterations per second offered by the speed control; None = as fast as the budget allows
SPEEDS: tuple[float | None, ...] = (1, 2, 5, 10, 30, 100, None)


@dataclass
class ViewBinding:
    """How the controller feeds one view: ``key()`` is cheap and changes when the view's data
    changes; ``push()`` computes the data and hands it to the widget. ``min_interval`` (seconds)
    throttles pushes while training runs; ``urgent`` views are repainted at once after a step.

    ``prepare`` (optional) is the costly, Qt-free part of a push (sampling text through the model,
    a decay curve): while slices run on the worker thread, the worker calls it right after its
    slice for the views that will be pushed next, and ``push`` takes the value with
    ``prepared()``; on the UI thread ``prepared()`` simply calls it."""

    name: str
    widget: QtWidgets.QWidget
    key: Callable[[], Hashable]
    push: Callable[[], None]
    min_interval: float = 0.0
    urgent: bool = False
    animate: Callable[[], bool] | None = None
    needs_trace: bool = False
    prepare: Callable[[], Any] | None = None
    last_key: Any = field(default=None, repr=False)
    last_push: float = field(default=-math.inf, repr=False)
    animating: bool = field(default=False, repr=False)
    pushes: int = field(default=0, repr=False)
    seconds: float = field(default=0.0, repr=False)  # time spent in push (for the benchmark)

    _ready: tuple[Any, Any] | None = field(default=None, repr=False)  # (key, value) from the worker

    def on_screen(self) -> bool:
        w = self.widget
        return w.isVisible() and _shows(w, 3)

    def prepared(self) -> Any:
        """``prepare()``'s value for the current data: the worker's, if it made one, else now."""
        ready, self._ready = self._ready, None
        if ready is not None and ready[0] == self.key():
            return ready[1]
        return self.prepare()


def _shows(w: QtWidgets.QWidget, depth: int) -> bool:
    """Some of ``w`` is on screen. A container its children cover entirely (the task view's current
    page; a plot's viewport covers the plot widget) has no visible region of its own, so the
    children are asked, ``depth`` levels down."""
    if not w.visibleRegion().isEmpty():
        return True
    if depth <= 0:
        return False
    direct = QtCore.Qt.FindChildOption.FindDirectChildrenOnly
    return any(ch.isVisible() and _shows(ch, depth - 1) for ch in w.findChildren(QtWidgets.QWidget, options=direct))


class Controller(QtCore.QObject):
    """Owns the session, the current trace and cursor, and the two timers."""

    state_changed = QtCore.Signal()  # iteration, cursor or play state changed
    session_replaced = QtCore.Signal()  # a new session (reset, rebuild, preset)
    playing_changed = QtCore.Signal(bool)
    error = QtCore.Signal(str, str)  # one-line summary, details (traceback)
    blowup = QtCore.Signal(str)  # the engine's message about a non-finite value
    message = QtCore.Signal(str)  # a short status message
    preset_loaded = QtCore.Signal(str)  # a preset was loaded by name (its guided scenario may start)

    def __init__(self, session: Session, *, budget_ms: float = 10.0, max_budget_ms: float = 20.0,
                 fps: float = 60.0, parent: QtCore.QObject | None = None) -> None:
        super().__init__(parent)
        self.session = session
        self.budget = budget_ms / 1000.0
        self.max_budget = max(budget_ms, max_budget_ms) / 1000.0
        self.train_share = 0.6  # the fraction of time training aims for at full speed
        self._gap = None  # EMA of the time the event loop spends between two slices
        self.trace: Trace | None = None
        self.cursor = 0
        self.trace_iteration: int | None = None
        self.trace_targets = None
        self._trace_data: RecurrentTrace | MLPTrace | None = None
        self.playing = False
        self.speed: float | None = None
        self.until: int | None = None  # playing trains no iteration past this one (a scenario's "train N")
        self.generation = 0  # bumps when the session is replaced
        self.version = 0  # bumps on every change a view could show
        self.bindings: list[ViewBinding] = []
        self.spectral = SpectralHistory()
        self._spectrum = Spectrum()
        self.trace_interval = 0.0  # narrate at most this often while playing at full speed (0: every slice)
        self.frames = 0
        self.last_error: tuple[str, str] | None = None
        self._credit = 0.0
        self._last_tick = time.perf_counter()
        self._last_end: float | None = None
        self._last_trace_time = -math.inf
        self._last_spectral = -math.inf
        self._train = QtCore.QTimer(self)
        self._train.setObjectName("training_timer")
        self._train.timeout.connect(self._tick)
        self._paint = QtCore.QTimer(self)
        self._paint.setObjectName("paint_timer")
        self._paint.setTimerType(QtCore.Qt.TimerType.PreciseTimer)
        self.fps = fps
        self._last_paint = -math.inf
        self._paint.setInterval(max(1, int(round(1000 / fps))))
        self._paint.timeout.connect(self._paint_tick)
        # iterations that take longer than this (CPU seconds, measured) train on a worker thread
        self.thread_above = 0.03
        self._iter_cost = 0.0  # EMA of the seconds one iteration takes
        self._runner: SliceRunner | None = None
        self._deferred: list[tuple[str, Callable[[], None]]] = []  # keys pressed while a slice ran
        self._slice_blew = False
        self._threaded = False  # the last slice ran on the worker thread
        self._slice_wall = 0.0  # and took this long (wall time)
        self._record_spectrum()

    # ------------------------------------------------------------------ lifecycle
    def start(self) -> None:
        """Start painting (training waits for ``play``)."""
        self._paint.start()

    def stop(self) -> None:
        self.pause()
        self._paint.stop()

    def bind(self, binding: ViewBinding) -> ViewBinding:
        self.bindings.append(binding)
        return binding

    def binding(self, name: str) -> ViewBinding:
        return next(b for b in self.bindings if b.name == name)

    # ------------------------------------------------------------------ playing
    def play(self) -> None:
        if self.playing:
            return
        if self.session.blowup is not None:
            self.message.emit("Training is paused on a non-finite value: roll back (Ctrl+Z) or reset (R) first.")
            return
        self.playing = True
        self._credit = 0.0
        self._last_tick = time.perf_counter()
        self._last_end = None
        self._train.start(0 if self.speed is None else 5)
        self.playing_changed.emit(True)
        self.state_changed.emit()

    def pause(self) -> None:
        if not self.playing:
            return
        self.playing = False
        self._train.stop()
        if self.slice_running() and self._runner.wait(0.03):
            self._slice_finished()  # a short slice: finish it now (its paint is the pause's)
        self.playing_changed.emit(False)
        self.state_changed.emit()
        self.paint()

    def slice_running(self) -> bool:
        """A training slice is running on the worker thread: it owns the session until it ends."""
        return self._runner is not None and self._runner.busy

    def wait_for_slice(self) -> None:
        """Block until a running slice ended and was handled (before replacing or changing the
        session: rare user actions, worth a wait)."""
        if self.slice_running():
            self._runner.wait()
            self._slice_finished()

    def toggle_play(self) -> None:
        self.pause() if self.playing else self.play()

    def set_speed(self, speed: float | None) -> None:
        """Iterations per second, or None for as fast as the time budget allows."""
        self.speed = speed
        if self.playing:
            self._train.start(0 if speed is None else 5)

    def wants_trace(self) -> bool:
        return any(b.needs_trace and b.on_screen() for b in self.bindings)

    def _tick(self) -> None:
        if not self.playing or self.slice_running():
            return
        start = time.perf_counter()
        if self._last_end is not None:
            gap = start - self._last_end
            self._gap = gap if self._gap is None else 0.8 * self._gap + 0.2 * min(gap, 0.2)
        if self.speed is None:
            allowed = math.inf
        else:
            self._credit = min(self._credit + self.speed * (start - self._last_tick), self.speed * 0.25 + 1)
            allowed = int(self._credit)
            if allowed < 1:
                self._last_tick = start
                return
        self._last_tick = start
        narrate = self.wants_trace() and (self.speed is not None and self.speed <= 30
                                          or start - self._last_trace_time >= self.trace_interval)
        budget = self.slice_budget()

        threaded = self._long_iterations()
        # on the worker, the Qt-free parts of what follows the slice (singular values, costly view
        # data of the views on screen that will be pushed next) run there too, right after it
        end = start + max(budget, self._iter_cost, self._slice_wall)  # when the slice may end
        preparing = [b for b in self.bindings if b.prepare is not None and b.on_screen()
                     and end - b.last_push >= b.min_interval] if threaded else []

        def run() -> int:
            with np.errstate(over="ignore", invalid="ignore", divide="ignore"):  # NaN/Inf: the engine reports them
                done = self._run_slice(allowed, narrate, start, budget)
                if threaded and done and not self._slice_blew:
                    self._record_spectrum(on_worker=True)
                    for b in preparing:
                        b._ready = (b.key(), b.prepare())
            return done

        self._threaded = threaded
        if threaded:
            # a long iteration: on the worker thread, the event loop keeps running meanwhile
            self._train.stop()
            self._submit(run)
            return
        try:
            done = run()
        except Exception as e:  # noqa: BLE001 - reported, the app stays usable
            self._report(e, "training")
            self.pause()
            done = 0
        self._after_slice(done)

    def _long_iterations(self) -> bool:
        """Iterations of this model take long enough to run them on the worker thread."""
        return self._iter_cost > self.thread_above or (self._iter_cost == 0 and self._large())

    def _submit(self, job: Callable[[], int]) -> None:
        if self._runner is None:
            self._runner = SliceRunner(self)
            self._runner.finished.connect(self._slice_finished, QtCore.Qt.ConnectionType.QueuedConnection)
        self._runner.submit(job)

    def _large(self) -> bool:
        """Before the first iteration is timed: parameters x sequence length x batch, a rough
        count of one iteration's multiply-adds, says whether it may take long."""
        s = self.session
        work = sum(p.size for p in s.model.params.values()) * max(1, s.cfg.seq_len) * max(1, s.cfg.batch_size)
        return work > LARGE_WORK

    def _slice_finished(self) -> None:
        """The worker's slice ended (on the UI thread): the common tail, then keys pressed meanwhile."""
        if not self.slice_running():
            return  # already handled (a pause waited for it)
        done, exc = self._runner.take()
        self._slice_wall = time.perf_counter() - self._last_tick
        if exc is not None:
            self._report(exc, "training")
            self.pause()
            done = 0
        self._after_slice(done or 0)
        if self.playing:
            self._train.start(0 if self.speed is None else 5)
        deferred, self._deferred = self._deferred, []
        for what, fn in deferred:
            self._guard(what, fn)

    def _after_slice(self, done: int) -> None:
        if self._slice_blew:
            self._slice_blew = False
            self._blew_up()
        if self.speed is not None:
            self._credit -= done
        self._last_end = time.perf_counter()  # what follows counts as painting time (the gap)
        if done:
            self.version += 1
            if time.perf_counter() - self._last_spectral >= 0.25:
                self._record_spectrum()
            for b in self.bindings:  # a value the worker prepared for data that are gone
                if b._ready is not None and b._ready[0] != b.key():
                    b._ready = None
            self.state_changed.emit()
            # paint right after the slice: waiting for the paint timer would let the next slice
            # start first whenever the timer is not due yet, halving the frame rate
            if time.perf_counter() - self._last_paint >= 0.5 / self.fps:
                self.paint()

    def _run_slice(self, allowed: float, narrate: bool, start: float, budget: float) -> int:
        """Iterations until ``allowed`` or the time budget is used; the first one narrated if asked.
        May run on the worker thread: no signals, no timers here."""
        done = 0
        self._slice_blew = False
        if self.until is not None:
            allowed = min(allowed, self.until - self.session.iteration)
        while done < allowed:
            t0 = time.thread_time()  # CPU time: a busy machine's waits are not the model's cost
            if narrate and done == 0:
                ok = self._fetch_trace(cursor=None)
                self._last_trace_time = start
            else:
                ok = self.session.train_step() is not None
            cost = time.thread_time() - t0
            self._iter_cost = cost if self._iter_cost == 0 else 0.7 * self._iter_cost + 0.3 * cost
            done += 1
            if not ok or self.session.blowup is not None:
                self._slice_blew = True  # reported by the UI thread (_after_slice)
                break
            if time.perf_counter() - start >= budget or not self.playing:
                break
        return done

    def slice_budget(self) -> float:
        """Seconds of training in the next slice (see the module docstring)."""
        if self.speed is not None or self._gap is None:
            return self.budget
        share = self.train_share / (1 - self.train_share)
        return min(self.max_budget, max(self.budget, share * self._gap))

    # ------------------------------------------------------------------ stepping
    @property
    def record(self):
        """The current step record, or None before the first step."""
        return self.trace[self.cursor] if self.trace is not None else None

    def _fetch_trace(self, cursor: int | None) -> bool:
        """Run one narrated iteration; the cursor goes to ``cursor`` (None: the last record)."""
        it = self.session.iteration
        tr = self.session.narrated_step()
        if tr is None or len(tr) == 0:
            return False
        self.trace = tr
        self.trace_iteration = it
        self.trace_targets = self.session.last_batch[1] if self.session.last_batch is not None else None
        self._trace_data = None
        self.cursor = len(tr) - 1 if cursor is None else min(cursor, len(tr) - 1)
        return True

    def _stepped(self) -> None:
        self.version += 1
        self.state_changed.emit()
        self.paint(urgent_only=True)

    def _guard(self, what: str, fn: Callable[[], None]) -> None:
        self.pause()
        if self.slice_running():  # the worker still owns the session: act when its slice ends
            self._deferred.append((what, fn))
            return
        blown = self.session.blowup is not None
        try:
            with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
                fn()
        except Exception as e:  # noqa: BLE001
            self._report(e, what)
            return
        if self.session.blowup is not None and not blown:
            self._blew_up()
        self._stepped()

    def _new_iteration(self, cursor: int | None) -> None:
        """Narrate the next iteration -- unless training stopped on a non-finite value: then the
        records of the iteration that blew up can still be stepped through, but no new one runs."""
        if self.session.blowup is not None:
            self.message.emit("Stopped on a non-finite value: roll back (Ctrl+Z) or reset (R) to go on. "
                              "The records of this iteration can still be stepped through.")
            return
        if self._long_iterations():  # narrate on the worker; the views follow when it is done
            preparing = [b for b in self.bindings if b.prepare is not None and b.on_screen()]

            def job() -> int:
                with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
                    ok = self._fetch_trace(cursor)
                    self._slice_blew = not ok or self.session.blowup is not None
                    if ok:
                        self._record_spectrum(on_worker=True)
                        for b in preparing:
                            b._ready = (b.key(), b.prepare())
                return int(ok)

            self._submit(job)
            return
        if self._fetch_trace(cursor):
            self._record_spectrum()

    def step_record(self) -> None:
        """Right: the next record; a new narrated iteration after the last one."""
        def go() -> None:
            if self.trace is None or self.cursor >= len(self.trace) - 1:
                self._new_iteration(0)
            else:
                self.cursor += 1
        self._guard("stepping", go)

    def step_back(self) -> None:
        """Left: the previous record of the current iteration (a replay, no recomputation)."""
        def go() -> None:
            if self.trace is not None and self.cursor > 0:
                self.cursor -= 1
            else:
                self.message.emit("Start of this iteration: earlier iterations are not replayed.")
        self._guard("stepping back", go)

    def step_phase(self) -> None:
        """Shift+Right: the first record of the next phase (forward, loss, backward, gradients, update)."""
        def go() -> None:
            if self.trace is None or self.cursor >= len(self.trace) - 1:
                self._new_iteration(0)
            else:
                self.cursor = self.trace.next_phase(self.cursor)
        self._guard("stepping", go)

    def step_phase_back(self) -> None:
        """Shift+Left: back to the start of this phase, or of the previous one."""
        def go() -> None:
            if self.trace is not None:
                self.cursor = self.trace.prev_phase(self.cursor)
        self._guard("stepping back", go)

    def step_iteration(self) -> None:
        """Ctrl+Right: one whole iteration; the cursor lands on its last record (the update)."""
        self._guard("stepping", lambda: self._new_iteration(None))

    def go_to(self, cursor: int) -> None:
        """Put the cursor on record ``cursor`` of the current trace (clamped)."""
        self.wait_for_slice()
        if self.trace is not None:
            self.cursor = max(0, min(int(cursor), len(self.trace) - 1))
            self._stepped()

    def trace_data(self) -> RecurrentTrace | MLPTrace | None:
        """The current trace's arrays, gathered once per trace."""
        if self.trace is None:
            return None
        if self._trace_data is None or self._trace_data.trace is not self.trace:
            s = self.session
            if s.cfg.is_recurrent:
                self._trace_data = recurrent_trace(
                    self.trace, iteration=self.trace_iteration or 0, kind=s.model.kind, activation=s.cfg.activation,
                    targets=self.trace_targets, vocab=getattr(s.task, "vocab", None), truncation=s.cfg.truncation)
            else:
                self._trace_data = mlp_trace(self.trace, iteration=self.trace_iteration or 0,
                                             activations=[a.name for a in s.model.activations])
        return self._trace_data

    # ------------------------------------------------------------------ settings and sessions
    def set_hyper(self, **changes: Any) -> None:
        """Non-structural settings, applied live. Raises the engine's ValueError if invalid."""
        self.wait_for_slice()
        self.session.set_hyper(**changes)
        if "truncation" in changes:
            self._trace_data = None  # its window annotations depend on the setting
        self.version += 1
        self.message.emit("Applied " + ", ".join(f"{k} = {v}" for k, v in changes.items()))
        self.state_changed.emit()

    def rebuild(self, cfg: Config) -> None:
        """A new session from ``cfg`` (structural change, reset or preset). Raises ValueError."""
        session = Session(cfg)
        self.replace_session(session)

    def replace_session(self, session: Session) -> None:
        was_playing = self.playing
        self.pause()
        self.wait_for_slice()
        self.session = session
        self._iter_cost = 0.0
        self.trace = None
        self._trace_data = None
        self.trace_iteration = None
        self.cursor = 0
        self.generation += 1
        self.version += 1
        self.spectral = SpectralHistory()
        self._spectrum = Spectrum()
        self._record_spectrum()
        for b in self.bindings:
            b.last_key = None
            b.last_push = -math.inf
        self.session_replaced.emit()
        self.state_changed.emit()
        self.paint()
        if was_playing:
            self.play()

    def reset(self) -> None:
        """Start again from iteration 0 with the same configuration."""
        try:
            self.rebuild(self.session.cfg)
        except Exception as e:  # noqa: BLE001
            self._report(e, "resetting")
            return
        self.message.emit("Reset: iteration 0")

    def load_preset(self, name: str) -> None:
        from engine.presets import load_preset

        self.rebuild(load_preset(name))
        self.message.emit(f"Loaded preset {name}")
        self.preset_loaded.emit(name)

    def rollback(self) -> None:
        """Restore the last finite parameters after a blow-up."""
        self.wait_for_slice()
        if self.session.blowup is None:
            self.message.emit("Nothing to roll back: all values are finite.")
            return
        self.session.rollback()
        self.trace = None
        self._trace_data = None
        self.version += 1
        self.message.emit("Rolled back to the last finite parameters.")
        self.state_changed.emit()
        self.paint()

    def _blew_up(self) -> None:
        b = self.session.blowup
        if b is None:
            return
        was = self.playing
        self.playing = False
        self._train.stop()
        if was:
            self.playing_changed.emit(False)
        self.version += 1
        self.blowup.emit(b.message())

    def _record_spectrum(self, on_worker: bool = False) -> None:
        """Add the singular values of the current weights to the history (at most every 0.25 s
        when called from the worker thread, which leaves errors to the UI thread's next call)."""
        if on_worker and time.perf_counter() - self._last_spectral < 0.25:
            return
        try:
            if self.session.blowup is None:
                self.spectral.add(self.session.iteration, self._spectrum.measure(self.session))
        except Exception as e:  # noqa: BLE001 - e.g. an SVD on non-finite weights
            if on_worker:
                return
            self._report(e, "computing singular values")
        self._last_spectral = time.perf_counter()

    # ------------------------------------------------------------------ painting
    def _paint_tick(self) -> None:
        if time.perf_counter() - self._last_paint >= 0.5 / self.fps:  # not if a slice just painted
            self.paint()

    def paint(self, urgent_only: bool = False) -> int:
        """Push changed data to the visible views; returns how many views were updated."""
        now = time.perf_counter()
        if not urgent_only:
            self._last_paint = now
        pushed = 0
        busy = self.slice_running()  # the worker owns the session: animations only
        for b in self.bindings:
            if urgent_only and not b.urgent:
                continue
            try:
                if not b.on_screen():
                    continue
                if b.animating and b.animate is not None:
                    b.animating = bool(b.animate())
                if busy:
                    continue
                key = b.key()
                if key == b.last_key:
                    continue
                if self.playing and now - b.last_push < b.min_interval:
                    continue
                if (self.playing and self._threaded and b.prepare is not None
                        and (b._ready is None or b._ready[0] != key)):
                    continue  # its costly part is prepared by the worker after a coming slice
                b.last_key = key
                b.last_push = now
                t0 = time.perf_counter()
                with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
                    b.push()
                b.seconds += time.perf_counter() - t0
                b.pushes += 1
                b.animating = b.animate is not None
                pushed += 1
            except Exception as e:  # noqa: BLE001 - one broken view must not take the app down
                self._report(e, f"drawing the {b.name}")
        if pushed:
            self.frames += 1
        return pushed

    def refresh_all(self) -> None:
        """Forget what every view has shown and push everything visible now (theme, zoom)."""
        for b in self.bindings:
            b.last_key = None
            b.last_push = -math.inf
        playing, self.playing = self.playing, False
        try:
            self.paint()
        finally:
            self.playing = playing

    # ------------------------------------------------------------------ read-outs
    def status(self) -> dict[str, Any]:
        """What the status bar shows."""
        s = self.session
        rec = self.record if not self.playing else None
        phase, where = record_status(rec, s.cfg.seq_len if s.cfg.is_recurrent else None)
        if rec is not None and self.trace_iteration is not None:
            iteration = self.trace_iteration + 1
        else:
            iteration = s.iteration
        loss = None
        if rec is not None and self.trace is not None:
            loss = self.trace.loss
        elif s.history["loss"].n:
            loss = s.history["loss"].last()
        return {"iteration": iteration, "phase": phase, "where": where, "loss": loss,
                "loss_label": loss_label(s), "playing": self.playing,
                "cursor": self.cursor if self.trace is not None else None,
                "records": len(self.trace) if self.trace is not None else 0,
                "blowup": s.blowup.message() if s.blowup is not None else ""}

    def _report(self, exc: BaseException, where: str) -> None:
        summary = f"Error while {where}: {type(exc).__name__}: {exc}"
        details = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
        self.last_error = (summary, details)
        print(details, file=sys.stderr)
        self.error.emit(summary, details)
