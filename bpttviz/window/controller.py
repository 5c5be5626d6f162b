"""The one bridge between Qt and the engine.

Two timers, a training process for small models and, for models whose iterations are long, one
worker thread:

- the **training timer** advances the session in time-budgeted slices, or at ``speed`` iterations
  per second. At full speed the slice adapts to the cost of painting: ``train_share / (1 -
  train_share)`` times the time the event loop spent painting between slices (so training keeps
  ~60% of the time however many views are on screen), within ``budget_ms`` .. ``max_budget_ms``.
  The first iteration of a slice is *narrated* (a ``Trace`` of step records) whenever a view that
  draws traces is on screen, so the unrolled graph and the deltas stay live while training; the
  others take the fast path (the numbers are identical either way: the engine guarantees it).
  Each slice is followed by a paint, so every slice is a frame;
- **large models** (an iteration, or its validation pass, longer than a frame can wait: see
  ``_use_thread``) train on a worker thread instead (``training_thread``): it trains a private
  copy of the session and hands over *snapshots* (a copy of the session at an iteration boundary
  with the narration it ends with); the UI thread swaps each one in whole as ``session`` and its
  moment, so a view never mixes two iterations, and nothing the UI reads is ever written by the
  worker. Pausing, stepping, resetting, Apply, opening a file or installing a scenario stop the
  worker at once (its copy is dropped; a result that arrives later is ignored), so keys act
  immediately. A step that needs a newly narrated iteration of such a model is narrated on the
  worker too; keys pressed meanwhile act, in order, when it arrives;
- **small models** train in a second **process** when the window asked for one
  (``training_process``; ``training_process.TrainingProcess``) and it is ready: the same jobs and
  snapshots as the worker thread's, pickled across, so training has a core of its own and the UI
  thread only paints. Until the child is ready, or when it cannot run, the training timer above
  does the work;
- the **paint timer** runs at a fixed rate (animations, stepping, changes while paused) and pushes
  the latest state to the views that are visible and whose data changed (``ViewBinding``). Heavy
  views carry a minimum interval between pushes while training.

Single-stepping keeps the last ``KEEP`` narrated iterations (``engine.training.session.Narration``: the
records with the parameters before and after the update) and a cursor into one of them: stepping
forward moves the cursor (fetching a new narrated iteration after the newest one), stepping back
only moves the cursor, into the previous kept iteration from the first record (the records are
immutable, nothing is recomputed). Every exception raised while stepping or painting is caught
here and reported through ``error`` without stopping the app.

**The moment** (``bpttviz.presenters.moment.Moment``, ``controller.moment``) is what every view shows: the
iteration, the record and the parameters that record was computed with. It changes only here.
While playing, a slice whose iterations are narrated ends with the narrated one, so the moment
is always the newest iteration's update record when a narrated view is on screen.
"""

from __future__ import annotations

import math
import sys
import time
import traceback
from collections import deque
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from PySide6 import QtCore, QtWidgets

from bpttviz.engine.trace import Trace
from bpttviz.engine.training.config import Config
from bpttviz.engine.training.session import Narration, Session
from bpttviz.engine.training.session_io import SessionState
from bpttviz.presenters.decay import app_diagnostics
from bpttviz.presenters.moment import Moment, moment_of
from bpttviz.presenters.panels import loss_label, record_status
from bpttviz.presenters.trace_data import MLPTrace, RecurrentTrace, trace_data_of
from bpttviz.window.jobs import (
    Failure,
    LiveSettings,
    Measured,
    Snapshot,
    narrate,
    narration_job,
    prepare_trace,
    spectrum_job,
    spectrum_measure,
    training_job,
)
from bpttviz.window.training_process import TrainingProcess
from bpttviz.window.training_thread import TrainingWorker

#: a worker publishes a snapshot at most every PUBLISH frames (0.8 with three credits measured no
#: better than this, within the noise of a shared machine)
PUBLISH = 1.0
#: narrated iterations kept for stepping back (Left from an iteration's first record)
KEEP = 8
#: multiply-adds of one iteration (parameters x sequence length x batch, roughly) above which
#: training starts on the worker thread before the first iteration is timed (the classic
#: character RNN: 6e5; a 1000-unit RNN: 3e7)
LARGE_WORK = 1e7


@dataclass
class ViewBinding:
    """How the controller feeds one view: ``key()`` is cheap and changes when the view's data
    changes; ``push()`` computes the data and hands it to the widget. ``min_interval`` (seconds)
    throttles pushes while training runs; ``urgent`` views are repainted at once after a step."""

    name: str
    widget: QtWidgets.QWidget
    key: Callable[[], Hashable]
    push: Callable[[], None] | None
    min_interval: float = 0.0
    urgent: bool = False
    animate: Callable[[], bool] | None = None
    needs_trace: bool = False
    #: instead of ``push``: ``work()`` (on the UI thread) returns ``(compute, show)``; ``compute()``
    #: is Qt-free and reads only what ``work`` captured (the moment, the session), ``show(value)``
    #: hands its value to the widgets. For large models ``compute`` runs on a worker thread
    work: Callable[[], tuple[Callable[[], Any], Callable[[Any], None]]] | None = None
    last_key: Any = field(default=None, repr=False)
    last_push: float = field(default=-math.inf, repr=False)
    animating: bool = field(default=False, repr=False)
    pushes: int = field(default=0, repr=False)
    seconds: float = field(default=0.0, repr=False)  # time spent in push (for the benchmark)
    computing: bool = field(default=False, repr=False)  # its ``compute`` runs on the view thread
    _seen: tuple[float, bool] = field(default=(-math.inf, False), repr=False)  # (when, on_screen())
    compute_seconds: float = field(default=0.0, repr=False)  # how long the last one took there

    def __post_init__(self) -> None:
        if self.push is None:
            if self.work is None:
                raise ValueError(f"view binding {self.name!r}: give push or work")

            def push() -> None:
                compute, show = self.work()
                show(compute())

            self.push = push

    def on_screen(self) -> bool:
        w = self.widget
        return w.isVisible() and _shows(w, 3)

    def on_screen_lately(self, now: float, within: float = 0.1) -> bool:
        """``on_screen()``, asked at most every ``within`` seconds (it walks the widget's
        children; while training that cost a few milliseconds a frame)."""
        when, shown = self._seen
        if now - when >= within:
            shown = self.on_screen()
            self._seen = (now, shown)
        return shown


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
                 fps: float = 60.0, training_process: bool = False, parent: QtCore.QObject | None = None) -> None:
        super().__init__(parent)
        #: train small models in a second process (started by ``start``; until it is ready, and
        #: when it cannot run, training runs on the UI thread as without it)
        self.training_process = training_process
        self._process: TrainingProcess | None = None
        self._job_worker: TrainingWorker | TrainingProcess | None = None  # where the running job runs
        self._live_sent: tuple | None = None
        self._refused: Session | None = None  # a session the process could not take (trained here)
        self.session = session
        # the time the budgets, the speed and the frame throttles read (tests may hand a fake one)
        self.clock: Callable[[], float] = time.perf_counter
        self.budget = budget_ms / 1000.0
        self.max_budget = max(budget_ms, max_budget_ms) / 1000.0
        self.train_share = 0.6  # the fraction of time training aims for at full speed
        self._gap = None  # EMA of the time the event loop spends between two slices
        self.trace: Trace | None = None
        self.cursor = 0
        # updates done before the narrated iteration (its number minus one), or None
        self.trace_iteration: int | None = None
        self.trace_targets = None
        self.narrations: deque[tuple[Narration, SessionState | None]] = deque(maxlen=KEEP)
        self.narration: Narration | None = None  # the one the cursor is in (None: between iterations)
        self._moment: Moment = moment_of(0, session, None, None)
        self._iter_time: float | None = None  # EMA of one fast iteration (s), to end slices narrated
        # the worker thread (large models, see the module docstring)
        self.thread_above: float | None = 0.02  # CPU s of one iteration above which training is threaded (None: never)
        # any one iteration (with its validation pass or text sample) longer than this, twice: threaded.
        # Not lower: a small model's iterations are mostly Python, and a second Python thread
        # would share the GIL with the painting (measured: 65 it/s instead of 400 at the classic size)
        self.block_budget = 0.15
        self._iter_cost = 0.0  # CPU seconds of one iteration: the median of the last few (0: too few yet)
        self._costs: deque[float] = deque(maxlen=5)
        self._slow = 0  # iterations on the UI thread that took longer than block_budget
        self._worker: TrainingWorker | None = None
        self._token = 0  # results of jobs submitted under an older token are ignored
        self._job: str | None = None  # "train" or "narrate" while such a job is running
        self._deferred: list[tuple[str, Callable[[], None]]] = []  # keys pressed while narrating on the worker
        self._base: tuple[Session, tuple] | None = None  # the session a training job continues, and its settings
        self._live = LiveSettings(publish_every=PUBLISH / fps)
        self._viewer: TrainingWorker | None = None  # computes costly view data for large models
        self._wants, self._wants_at = False, -math.inf  # wants_trace(), and when it was last asked
        self._view_token = 0
        self._trace_data: RecurrentTrace | MLPTrace | None = None
        self.playing = False
        self.speed: float | None = None
        self._until: int | None = None
        self.generation = 0  # bumps when the session is replaced
        self.version = 0  # bumps on every change a view could show
        self.bindings: list[ViewBinding] = []
        # the one diagnostics pipeline: singular values over training, decay curves and their history
        self.diagnostics = app_diagnostics()
        self.trace_interval = 0.0  # narrate at most this often while playing at full speed (0: every slice)
        self.frames = 0
        #: while playing, views updated at most 50 times a second (every view but the graph) are
        #: not pushed once a paint has taken this long (s): they wait for the next frame instead of
        #: all landing in the same one (each is due 15 times a second)
        self.frame_budget = 0.006
        self.last_error: tuple[str, str] | None = None
        self._credit = 0.0
        self._last_tick = self.clock()
        self._last_end: float | None = None
        self._last_trace_time = -math.inf
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
        self.measure_spectrum()

    # ------------------------------------------------------------------ lifecycle
    def start(self) -> None:
        """Start painting (training waits for ``play``), and the training process if wanted."""
        self._paint.start()
        if self.training_process and self._process is None:
            try:
                self._process = TrainingProcess(self)
            except OSError as e:  # e.g. no more processes allowed: training stays on the UI thread
                self.message.emit(f"Training runs in the window itself (no training process: {e})")
                return
            self._process.delivered.connect(self._on_delivered, QtCore.Qt.ConnectionType.QueuedConnection)
            self._process.started.connect(self._on_process_started, QtCore.Qt.ConnectionType.QueuedConnection)

    def stop(self) -> None:
        """Stop training and painting (the window is closing). Jobs on the worker threads are
        cancelled and the threads ended, waited for briefly (a cancelled job ends within one
        timestep); playing again starts new ones."""
        self.pause()
        self._cancel_jobs()
        self._cancel_views()
        self._paint.stop()
        for name in ("_worker", "_viewer", "_process"):
            worker = getattr(self, name)
            if worker is not None:
                worker.shutdown(5.0)
                setattr(self, name, None)

    @property
    def until(self) -> int | None:
        """Playing trains no iteration past this one (a scenario's "train N"), or None."""
        return self._until

    @until.setter
    def until(self, value: int | None) -> None:
        self._until = value
        self._live.until = value
        if self._job == "train" and self._job_worker is self._process and self._process is not None:
            # the process may already be past the new limit when told: it starts again from the
            # moment shown, with the limit in its job, so no iteration past it is ever shown
            self._cancel_jobs()
            self._start_training_job()

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
        self._cancel_jobs()  # a narration for stepping, still running: playing goes on from the moment shown
        self._wants_at = -math.inf  # what is on screen now decides the first slice
        self.playing = True
        self._credit = 0.0
        self._last_tick = self.clock()
        self._last_end = None
        if self._use_thread() or self._in_process():
            self._start_training_job()
        else:
            self._train.start(0 if self.speed is None else 5)
        self.playing_changed.emit(True)
        self.state_changed.emit()

    def pause(self) -> None:
        if not self.playing:
            return
        self.playing = False
        self._train.stop()
        if self._job == "train":  # the worker's iteration in flight is dropped: we stop at the moment shown
            self._cancel_jobs()
        done = self.diagnostics.spectral.iterations
        if not done or done[-1] != self.session.iteration:
            self.measure_spectrum()  # the largest singular values of the iteration paused on
        self._sync_moment()
        self.version += 1
        self.playing_changed.emit(False)
        self.state_changed.emit()
        self.paint()

    def toggle_play(self) -> None:
        self.pause() if self.playing else self.play()

    def set_speed(self, speed: float | None) -> None:
        """Iterations per second, or None for as fast as the time budget allows."""
        self.speed = speed
        self._live.speed = speed
        self._push_live()
        if self.playing and self._job != "train":
            self._train.start(0 if speed is None else 5)

    def wants_trace(self) -> bool:
        """A view that draws traces is on screen (asked at most every 0.2 s: it walks widgets)."""
        now = self.clock()
        if now - self._wants_at >= 0.2:
            self._wants = any(b.needs_trace and b.on_screen() for b in self.bindings)
            self._wants_at = now
        return self._wants

    def _tick(self) -> None:
        if not self.playing:
            return
        if self._use_thread() or self._in_process():  # the worker (or the process, now ready) takes over
            self._train.stop()
            self._start_training_job()
            return
        start = self.clock()
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
        done = 0
        budget = self.slice_budget()
        try:
            with np.errstate(over="ignore", invalid="ignore", divide="ignore"):  # NaN/Inf: the engine reports them
                done = self._run_slice(allowed, narrate, start, budget)
        except Exception as e:  # noqa: BLE001 - reported, the app stays usable
            self.report(e, "training")
            self.pause()
        if self.speed is not None:
            self._credit -= done
        self._last_end = self.clock()  # what follows counts as painting time (the gap)
        if done:
            self.version += 1
            if self.diagnostics.spectrum_due():  # a few ms each: now and then
                self.measure_spectrum()
            self.state_changed.emit()
            # paint right after the slice: waiting for the paint timer would let the next slice
            # start first whenever the timer is not due yet, halving the frame rate
            if self.clock() - self._last_paint >= 0.5 / self.fps:
                self.paint()

    def _run_slice(self, allowed: float, narrate: bool, start: float, budget: float) -> int:
        """Iterations until ``allowed`` or the time budget is used. When ``narrate``, the slice
        ends with a narrated iteration (the one the views then show), so a pause lands on a
        moment every view can show: the newest iteration."""
        done = 0
        fast_last = False  # the slice's last iteration was not narrated: the views show the session now
        if self.until is not None:
            allowed = min(allowed, self.until - self.session.iteration)
        while done < allowed:
            fast_last = False
            elapsed = self.clock() - start
            last = done + 1 >= allowed or elapsed + (self._iter_time or 0.0) >= budget
            t0, c0 = self.clock(), time.thread_time()
            if narrate and last:
                ok = self._fetch_trace(cursor=None)
                self._last_trace_time = start
            else:
                ok = self.session.train_step() is not None
                fast_last = True
            dt = self.clock() - t0  # both kinds: an estimate fed only by one could stick
            self._iter_time = dt if self._iter_time is None else 0.8 * self._iter_time + 0.2 * dt
            self._measured(time.thread_time() - c0)
            done += 1
            if not ok or self.session.blowup is not None:
                self._blew_up()
                break
            if narrate and last:
                break
            if not narrate and self.clock() - start >= budget:
                break
        if fast_last:
            self._enter(None)
        else:
            self._sync_moment()
        return done

    # ------------------------------------------------------------------ the worker thread
    def _use_thread(self) -> bool:
        """Train (and narrate steps) on the worker thread: one iteration costs more than
        ``thread_above`` CPU seconds (the median of the last few), or one took longer than
        ``block_budget`` (a validation pass, a text sample) twice (once may be a first call's own
        costs); before enough were timed, when the model is large (``LARGE_WORK``)."""
        if self.thread_above is None:
            return False
        if self.thread_above <= 0 or self._slow >= 2:
            return True
        if self._iter_cost == 0.0:
            return self._large()
        return self._iter_cost > self.thread_above

    def offloads(self) -> bool:
        """Costly work runs off the UI thread now (a large model: see ``_use_thread``); features
        that compute for the session (a second model, view data) follow the same decision."""
        return self._use_thread()

    def _large(self) -> bool:
        s = self.session
        work = sum(p.size for p in s.model.params.values())
        if s.cfg.is_recurrent:
            work *= max(1, s.cfg.seq_len) * max(1, s.cfg.batch_size)
        return work > LARGE_WORK

    def _measured(self, cost: float) -> None:
        """One iteration on the UI thread took ``cost`` CPU seconds."""
        self._costs.append(cost)
        if len(self._costs) >= 3:  # (a median: one first, slow call decides nothing)
            self._iter_cost = sorted(self._costs)[len(self._costs) // 2]
        self._slow += cost > self.block_budget

    def _in_process(self) -> bool:
        """Train in the training process: a small model (see ``_use_thread``) and the process is
        running."""
        p = self._process
        return p is not None and p.ready and self.session is not self._refused and not self._use_thread()

    def _on_process_started(self) -> None:
        """The training process is ready: if training runs on the UI thread meanwhile, it moves there."""
        if self.playing and self._job is None and self._in_process():
            self._train.stop()
            self._start_training_job()

    def _live_state(self) -> tuple:
        live = self._live
        return (live.speed, live.until, live.narrate, live.trace_interval, live.publish_every)

    def _push_live(self) -> None:
        """Send a job running in the training process the live settings, when they changed."""
        if self._job == "train" and self._job_worker is self._process and self._process is not None:
            now = self._live_state()
            if now != self._live_sent:
                self._live_sent = now
                self._process.update(self._live)

    def _submit(self, job, worker: TrainingWorker | TrainingProcess | None = None) -> None:
        if worker is None:
            if self._worker is None:
                self._worker = TrainingWorker(self)
                self._worker.delivered.connect(self._on_delivered, QtCore.Qt.ConnectionType.QueuedConnection)
            worker = self._worker
        self._job_worker = worker
        worker.submit(self._token, job)

    def _start_training_job(self) -> None:
        live = self._live
        live.speed, live.until, live.narrate = self.speed, self.until, self.wants_trace()
        live.trace_interval, live.publish_every = self.trace_interval, PUBLISH / self.fps
        self._job = "train"
        self._base = (self.session, session_fingerprint(self.session))
        job = training_job(self._token, self.session, live, measure=self._spectrum_values, prepare=prepare_trace)
        if self._in_process():
            # no trace arrays made in the child: reading a narration's lazily made fields there
            # would send each as an array of its own (measured per snapshot: 2.2 ms in the child and
            # 1.3 ms here with them, 0.6 and 1.0 ms without); the window makes them when drawn
            job.prepare = None
            self._live_sent = self._live_state()
            try:
                self._submit(job, self._process)
                return
            except Exception as e:  # noqa: BLE001 - it could not take the job: train here, as without it
                self._job = self._job_worker = None
                self._refused = self.session
                self.message.emit(f"Training in the window itself (the training process could not take "
                                  f"this session: {str(e)[:80]})")
                self._train.start(0 if self.speed is None else 5)
                return
        self._submit(job)

    def _cancel_jobs(self) -> None:
        """Drop whatever the worker is doing or has queued (never waits); results still on their
        way are ignored."""
        self._token += 1
        self._job = None
        self._deferred.clear()
        for worker in (self._worker, self._process):
            if worker is not None:
                worker.cancel()

    def _cancel_narration(self) -> None:
        if self._job == "narrate":
            self._cancel_jobs()
            self.message.emit("")

    def job_running(self) -> str | None:
        """"train" or "narrate" while such a job runs on the worker thread, else None."""
        return self._job

    def _on_delivered(self) -> None:
        """Results from the worker or the training process (on the UI thread): snapshots are
        installed in order -- of several that arrived together only the newest, with the
        singular values the others measured (nothing shows the ones in between)."""
        items = [item for worker in (self._worker, self._process) if worker is not None for item in worker.take()]
        changed = ended = False
        blown = self.session.blowup is not None
        newest = max((i for i, item in enumerate(items) if isinstance(item, Snapshot) and item.token == self._token),
                     default=None)
        measured: list[tuple[int, dict]] = []
        for i, item in enumerate(items):
            if item.token != self._token:
                continue  # from a job cancelled since
            if isinstance(item, Snapshot) and i != newest and not item.last:
                if item.spectrum is not None:
                    measured.append((item.session.iteration, item.spectrum))
                continue
            if isinstance(item, Measured):
                if item.generation == self.generation:
                    self.diagnostics.spectral.add(item.iteration, item.values)
                    changed = True
            elif isinstance(item, Failure):
                kind = self._job
                self._job = None
                self._deferred.clear()
                self.report(item.error, "training" if kind == "train" else "stepping", item.details)
                self.pause()
                changed = True
            elif isinstance(item, Snapshot):
                kind = self._job
                if self._base_unchanged():
                    for iteration, values in measured:  # (before the newest's own: in order)
                        self.diagnostics.spectral.add(iteration, values)
                measured.clear()
                if not self._install_snapshot(item):
                    return
                changed = True
                if item.last:
                    self._job = None
                    ended = kind == "narrate"
        if not changed:
            return
        if self.session.blowup is not None and not blown:
            self._blew_up()
        if ended:  # a stepping key's new iteration arrived: show it, then the keys pressed meanwhile
            self.message.emit("")
            self._stepped()
            deferred, self._deferred = self._deferred, []
            for what, fn in deferred:
                self._guard(what, fn)
            return
        self.version += 1
        self.diagnostics.measured_now()
        self.state_changed.emit()
        if self.clock() - self._last_paint >= 0.5 / self.fps:
            self.paint()

    def _base_unchanged(self) -> bool:
        """The session is still the one the running job started from, unchanged since."""
        base, fp = self._base if self._base is not None else (None, None)
        return self.session is base and session_fingerprint(self.session) == fp

    def _install_snapshot(self, snap: Snapshot) -> bool:
        """Swap the worker's snapshot in as the session and its moment; False (and the job
        restarted from the session as it is) when the session was changed here meanwhile."""
        if not self._base_unchanged():
            # e.g. the bug-lab switches were flipped while the worker trained: the change wins
            kind, deferred = self._job, list(self._deferred)
            self._cancel_jobs()
            if kind == "train" and self.playing:
                self._start_training_job()
            elif kind == "narrate":
                self._new_iteration(snap.cursor)
                self._deferred = deferred
            return False
        s = snap.session
        self.session = s
        self._base = (s, session_fingerprint(s))
        if snap.cost:
            self._iter_cost = snap.cost
        n = snap.narration
        if n is not None:
            self.narrations.append((n, snap.state_before))
            if snap.extras.get("trace_data") is not None:
                self._trace_data = snap.extras["trace_data"]
            self._enter(n, len(n.trace) - 1 if snap.cursor is None else snap.cursor)
        else:
            self._enter(None)
        if snap.spectrum is not None:
            self.diagnostics.spectral.add(s.iteration, snap.spectrum)
        return True

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
        """Run one narrated iteration; the cursor goes to ``cursor`` (None: the last record). The
        session's state just before it is kept with it, so that moment can be saved."""
        narrated = narrate(self.session)
        if narrated is None:
            return False
        self.narrations.append(narrated)
        n = narrated[0]
        self._enter(n, len(n.trace) - 1 if cursor is None else cursor)
        if not self.playing:  # every iteration stepped through has its point (x = its number)
            self.measure_spectrum()
        return True

    def _enter(self, narration: Narration | None, cursor: int = 0) -> None:
        """Put the cursor on record ``cursor`` of ``narration`` (None: between iterations)."""
        self.narration = narration
        if narration is None:
            self.trace, self.trace_iteration, self.trace_targets, self.cursor = None, None, None, 0
        else:
            tr = narration.trace
            self.trace = tr
            self.trace_iteration = narration.iteration - 1
            self.trace_targets = narration.targets
            self.cursor = max(0, min(int(cursor), len(tr) - 1))
        self._sync_moment()

    def _sync_moment(self) -> None:
        """Make ``moment`` say where the cursor is (call after anything moves it)."""
        n = self.narration
        if n is not None and (self.trace is not n.trace):  # someone dropped the trace (rollback, tests)
            n = self.narration = None
        self._moment = moment_of(self.generation, self.session, n, self.cursor if n is not None else None)

    @property
    def moment(self) -> Moment:
        """The moment on screen (see ``bpttviz.presenters.moment``). Between iterations it follows the
        session, even when something trained it without the controller (a script, a test)."""
        m = self._moment
        if m.record is None and (m.iteration != self.session.iteration or m.generation != self.generation):
            self._sync_moment()
            m = self._moment
        return m

    def _kept_index(self) -> int | None:
        n = self.narration
        return next((i for i, (m, _) in enumerate(self.narrations) if m is n), None)

    def state_before(self, narration: Narration | None = None) -> SessionState | None:
        """The session's saved state just before ``narration`` (default: the current one)."""
        n = narration or self.narration
        return next((st for m, st in self.narrations if m is n), None)

    def _stepped(self) -> None:
        self._sync_moment()
        self.version += 1
        self.state_changed.emit()
        self.paint(urgent_only=True)

    def _guard(self, what: str, fn: Callable[[], None]) -> None:
        self.pause()
        if self._job == "narrate":  # the worker is narrating the next iteration: act when it arrives
            self._deferred.append((what, fn))
            return
        blown = self.session.blowup is not None
        try:
            with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
                fn()
        except Exception as e:  # noqa: BLE001
            self.report(e, what)
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
        if self._use_thread():
            self._job = "narrate"
            self._base = (self.session, session_fingerprint(self.session))
            self.message.emit(f"Narrating iteration {self.session.iteration + 1}…")
            self._submit(narration_job(self._token, self.session, cursor, measure=self._spectrum_values,
                                       prepare=prepare_trace))
            return
        self._fetch_trace(cursor)

    def step_record(self) -> None:
        """Right: the next record; a new narrated iteration after the last one."""
        def go() -> None:
            if self.trace is None or self.cursor >= len(self.trace) - 1:
                self._next_iteration(0)
            else:
                self.cursor += 1
        self._guard("stepping", go)

    def _next_iteration(self, cursor: int | None) -> None:
        """After the last record: the next kept iteration if the cursor is in an older one, else a
        newly narrated iteration."""
        i = self._kept_index()
        if i is not None and i + 1 < len(self.narrations):
            nxt = self.narrations[i + 1][0]
            self._enter(nxt, len(nxt.trace) - 1 if cursor is None else cursor)
            return
        self._new_iteration(cursor)

    def step_back(self) -> None:
        """Left: the previous record (a replay, no recomputation); from an iteration's first
        record, the last record of the previous kept iteration."""
        def go() -> None:
            if self.trace is not None and self.cursor > 0:
                self.cursor -= 1
                return
            prev = self._previous_narration()
            if prev is not None:
                self._enter(prev, len(prev.trace) - 1)
            elif self.trace is not None:
                self.message.emit(f"Iteration {self.moment.iteration} is the oldest one kept (the last {KEEP} "
                                  "narrated iterations can be stepped back through).")
            else:
                self.message.emit("Nothing narrated to step back through: press → to narrate an iteration.")
        self._guard("stepping back", go)

    def _previous_narration(self) -> Narration | None:
        """The kept iteration just before the current one (or, between iterations, the newest
        kept one if it is the iteration just done)."""
        i = self._kept_index()
        if i is not None:
            if i > 0 and self.narrations[i - 1][0].iteration == self.narration.iteration - 1:
                return self.narrations[i - 1][0]
            return None
        if self.narrations and self.narrations[-1][0].iteration == self.session.iteration:
            return self.narrations[-1][0]
        return None

    def step_phase(self) -> None:
        """Shift+Right: the first record of the next phase (forward, loss, backward, gradients, update)."""
        def go() -> None:
            if self.trace is None or self.cursor >= len(self.trace) - 1:
                self._next_iteration(0)
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
        """Ctrl+Right: one whole iteration; the cursor lands on its last record (the update). In
        an older kept iteration: its last record first, then the next kept one."""
        def go() -> None:
            if self.trace is not None and self.cursor < len(self.trace) - 1 and self._kept_index() is not None \
                    and self._kept_index() + 1 < len(self.narrations):
                self.cursor = len(self.trace) - 1
            else:
                self._next_iteration(None)
        self._guard("stepping", go)

    def go_to(self, cursor: int) -> None:
        """Put the cursor on record ``cursor`` of the current trace (clamped)."""
        self._cancel_narration()
        if self.trace is not None:
            self.cursor = max(0, min(int(cursor), len(self.trace) - 1))
            self._stepped()

    def go_to_moment(self, iteration: int, record: int | None) -> bool:
        """Put the cursor on record ``record`` of kept iteration ``iteration`` (``record`` None:
        between iterations, only for the session's current iteration). True when found."""
        self._cancel_narration()
        if record is None:
            if iteration != self.session.iteration:
                return False
            self._enter(None)
        else:
            n = next((m for m, _ in self.narrations if m.iteration == iteration), None)
            if n is None:
                return False
            self._enter(n, record)
        self._stepped()
        return True

    def trace_data(self) -> RecurrentTrace | MLPTrace | None:
        """The moment's trace arrays, gathered once per trace."""
        m = self.moment
        n = m.narration
        if m.trace is None or n is None:
            return None
        if self._trace_data is None or self._trace_data.trace is not n.trace:
            self._trace_data = trace_data_of(self.session, n)
        return self._trace_data

    # ------------------------------------------------------------------ settings and sessions
    def set_hyper(self, **changes: Any) -> None:
        """Non-structural settings, applied live. Raises the engine's ValueError if invalid.
        Training on the worker starts again from the moment shown, with the new settings."""
        restart = self._job == "train"
        self._cancel_jobs()
        try:
            self.session.set_hyper(**changes)
        finally:
            if restart and self.playing:
                self._start_training_job()
        self.version += 1
        self.message.emit("Applied " + ", ".join(f"{k} = {v}" for k, v in changes.items()))
        self.state_changed.emit()

    def rebuild(self, cfg: Config) -> None:
        """A new session from ``cfg`` (structural change, reset or preset). Raises ValueError."""
        session = Session(cfg)
        self.replace_session(session)

    def replace_session(self, session: Session) -> None:
        """Put ``session`` in place, between iterations at its current one."""
        self.install(session, announce=False)

    def install(self, session: Session, narration: Narration | None = None, cursor: int = 0,
                state_before: SessionState | None = None, *, announce: bool = True) -> None:
        """Put ``session`` in place and show record ``cursor`` of ``narration`` (one of its
        narrated iterations, kept with ``state_before``, the session's state just before it, so
        the moment can be saved; None: between iterations). One moment from the first paint on.
        ``announce``: a session that stopped on a non-finite value says so as a live run would."""
        was_playing = self.playing
        self.pause()
        self._cancel_jobs()
        self._cancel_views()
        self.session = session
        self._iter_cost, self._slow = 0.0, 0
        self._costs.clear()
        self._trace_data = None
        self.narrations.clear()
        self.diagnostics.reset()
        self.generation += 1
        if narration is not None and len(narration.trace) > 0:
            self.narrations.append((narration, state_before))
            self._enter(narration, cursor)
        else:
            self._enter(None)
        self.version += 1
        self.measure_spectrum()
        for b in self.bindings:
            b.last_key = None
            b.last_push = -math.inf
        self.session_replaced.emit()
        if announce and session.blowup is not None:
            self._blew_up()  # the message and dialog a live run would have shown
        self.state_changed.emit()
        self.paint()
        if was_playing and session.blowup is None:
            self.play()

    def reset(self) -> None:
        """Start again from iteration 0 with the same configuration."""
        try:
            self.rebuild(self.session.cfg)
        except Exception as e:  # noqa: BLE001
            self.report(e, "resetting")
            return
        self.message.emit("Reset: iteration 0")

    def load_preset(self, name: str) -> None:
        from bpttviz.engine.training.presets import load_preset

        self.rebuild(load_preset(name))
        self.message.emit(f"Loaded preset {name}")
        self.preset_loaded.emit(name)

    def rollback(self) -> None:
        """Restore the last finite parameters after a blow-up."""
        if self.session.blowup is None:
            self.message.emit("Nothing to roll back: all values are finite.")
            return
        self._cancel_jobs()
        self._cancel_views()  # (a view computed off the UI thread may be reading these parameters)
        self.session.rollback()
        self._enter(None)
        self.measure_spectrum()
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
        if self._job == "train":
            self._cancel_jobs()
        self._sync_moment()
        if was:
            self.playing_changed.emit(False)
        self.version += 1
        self.blowup.emit(b.message())

    @property
    def _spectrum_values(self) -> Callable[[Session], dict[str, float]]:
        """``measure(session)``: the singular values of a session's weights (reads nothing else: a
        worker calls it)."""
        return spectrum_measure(self.diagnostics.spectrum_iters)

    def measure_spectrum(self) -> None:
        """Add the session's singular values now to ``diagnostics.spectral`` (their curve over
        training; not while the session is stopped on a non-finite value). For large models the
        worker thread measures them and they are added when they arrive."""
        if self._use_thread():
            if self.session.blowup is None:
                self._submit(spectrum_job(self._token, self.session, self.generation, self._spectrum_values))
            self.diagnostics.measured_now()
            return
        try:
            if self.session.blowup is None:
                self.diagnostics.measure(self.session.iteration, self.session.model)
        except Exception as e:  # noqa: BLE001 - e.g. an SVD on non-finite weights
            self.report(e, "computing singular values")

    # ------------------------------------------------------------------ painting
    def _paint_tick(self) -> None:
        if self.clock() - self._last_paint >= 0.5 / self.fps:  # not if a slice just painted
            self.paint()

    def paint(self, urgent_only: bool = False) -> int:
        """Push changed data to the visible views; returns how many views were updated."""
        now = self.clock()
        if not urgent_only:
            self._last_paint = now
            self._live.narrate = self.wants_trace()  # read by a training job on the worker
            self._push_live()
        pushed = 0
        offload = self._use_thread()  # a large model: costly view data are computed off the UI thread
        spread = self.playing and not urgent_only  # throttled views beyond the frame's budget wait a frame
        for b in self.bindings:
            if urgent_only and not b.urgent:
                continue
            if spread and b.min_interval > 0.02 and self.clock() - now > self.frame_budget:
                continue  # (still due: the next frame pushes it; frames stay even)
            try:
                key = b.key()  # cheap: first, so that views with nothing new are not asked if they show
                if (key == b.last_key and not b.animating) or b.computing:  # (a computing view: when it is done)
                    continue
                if not (b.on_screen_lately(now) if self.playing else b.on_screen()):
                    continue
                if b.animating and b.animate is not None:
                    b.animating = bool(b.animate())
                if key == b.last_key:
                    continue
                # (a little slack: frames come at their own pace, and a view due a moment after one
                # would otherwise wait a whole frame more: 15 a second would become fewer)
                if self.playing and now - b.last_push < 0.85 * b.min_interval:
                    continue
                if self.playing and offload and now - b.last_push < 3 * b.compute_seconds:
                    continue  # (a costly view takes at most a third of the view thread's time)
                b.last_key = key
                b.last_push = now
                if offload and b.work is not None:
                    self._compute_view(b, key)
                    continue
                t0 = time.perf_counter()
                with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
                    b.push()
                b.seconds += time.perf_counter() - t0
                b.pushes += 1
                b.animating = b.animate is not None
                pushed += 1
            except Exception as e:  # noqa: BLE001 - one broken view must not take the app down
                self.report(e, f"drawing the {b.name}")
        if pushed:
            self.frames += 1
        return pushed

    def refresh(self, *names: str) -> None:
        """Forget what the views ``names`` (their bindings' names) have shown and repaint the
        urgent views now: after a view's own control changed what it should show."""
        for name in names:
            b = self.binding(name)
            b.last_key = None
            b.last_push = -math.inf
        self.paint(urgent_only=True)

    def invalidate(self) -> None:
        """What the views show is stale (e.g. restored histories): each redraws at its next paint."""
        self.version += 1

    def notify(self) -> None:
        """Something a view could show changed outside the controller (the engine's bugs were
        switched, histories restored): every view redraws at its next paint."""
        self.version += 1
        self.state_changed.emit()

    def _compute_view(self, b: ViewBinding, key: Hashable) -> None:
        """Run ``b``'s compute on the view thread; ``_on_view_done`` shows it."""
        compute, show = b.work()
        if self._viewer is None:
            self._viewer = TrainingWorker(self)
            self._viewer.delivered.connect(self._on_view_done, QtCore.Qt.ConnectionType.QueuedConnection)

        token = self._view_token

        def job(deliver, cancelled) -> None:
            t0 = time.perf_counter()
            try:
                with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
                    value, error = compute(), None
            except Exception as e:  # noqa: BLE001 - reported on the UI thread, as a push's error is
                value, error = None, e
            b.compute_seconds = time.perf_counter() - t0
            deliver((token, b, key, show, value, error))

        b.computing = True
        self._viewer.submit(token, job)

    def _on_view_done(self) -> None:
        """A view's data computed on the view thread: shown if it is still the moment's (while
        playing, also a slightly older one: the view names the moment it shows)."""
        for item in self._viewer.take() if self._viewer is not None else ():
            if not isinstance(item, tuple) or item[0] != self._view_token:
                continue  # the job's end, or a result from before a new session
            _, b, key, show, value, error = item
            b.computing = False
            if error is not None:
                self.report(error, f"drawing the {b.name}")
                continue
            try:
                if not self.playing and b.key() != key:
                    b.last_key = None  # the moment moved on meanwhile: compute it again
                    continue
                t0 = time.perf_counter()
                with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
                    show(value)
                b.seconds += time.perf_counter() - t0
                b.pushes += 1
                b.animating = b.animate is not None
            except Exception as e:  # noqa: BLE001
                self.report(e, f"drawing the {b.name}")
        if not self.playing:  # (while playing the paint timer comes soon enough)
            self.paint(urgent_only=True)

    def _cancel_views(self) -> None:
        self._view_token += 1
        for b in self.bindings:
            b.computing = False
        if self._viewer is not None:
            self._viewer.cancel()

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
        """What the status bar shows: the moment's iteration, record and loss (the loss only once
        the narration has computed it)."""
        s = self.session
        m = self.moment
        rec = m.rec if not self.playing else None
        phase, where = record_status(rec, s.cfg.seq_len if s.cfg.is_recurrent else None)
        return {"iteration": m.iteration, "phase": phase, "where": where, "loss": m.loss,
                "loss_label": loss_label(s), "playing": self.playing,
                "cursor": m.record, "records": len(m.narration.trace) if m.record is not None else 0,
                "moment": m.where(),
                "blowup": s.blowup.message() if s.blowup is not None else ""}

    def report(self, exc: BaseException, where: str, details: str | None = None) -> None:
        """Report an exception caught while ``where`` ("drawing the loss view"): kept in
        ``last_error``, printed, and sent through ``error`` (the app stays usable)."""
        summary = f"Error while {where}: {type(exc).__name__}: {exc}"
        if details is None:
            details = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
        self.last_error = (summary, details)
        print(details, file=sys.stderr)
        self.error.emit(summary, details)


def session_fingerprint(s: Session) -> tuple:
    """What changes when the UI thread edits a session in place (settings, bug-lab switches, a
    roll-back): a training job's results are only installed over the session it started from."""
    return (id(s.cfg), s.bugs, id(s.optimizer), s.optimizer.lr, id(s.clipper), s.blowup, s.iteration,
            id(s.model), frozenset(getattr(s.model, "bugs", ()) or ()))
