"""Side by side: a second model on the same data, trained in lock-step with the first.

``Comparison.open(changes)`` builds a second ``Session`` from the current configuration with
``changes`` applied (e.g. ``{"model": "lstm"}`` or ``{"truncation": 4}``). Same seed and task, so
both see the same batches in the same order. Whenever the first session advances, the second is
trained up to the same iteration (in time-budgeted slices, so the window stays responsive); when
the first narrates an iteration for stepping, the second narrates the same one, and a compact
second graph shows it at the same record (same phase and timestep). Its decay curve is overlaid
in the decay view and its smoothed loss in the loss view, in a second colour with a legend.

Rebuilding the first session (reset, a structural change) rebuilds the second from the new
configuration with the same changes; loading a preset closes the comparison; live settings a
guided scenario applies reach both (``set_hyper``). This is the only other place besides the
controller that calls the engine, and it only ever touches its own second session.

For a large model (``Controller.offloads``) the second model trains on a worker thread of its
own (a ``TrainingWorker``, as the first model's training): a job trains a copy of the second
session up to the first one's iteration, narrating the iteration the first is stepped through,
and hands back the copy with that narration's trace arrays; the UI thread swaps it in whole. A
result whose token is no longer current (the comparison was rebuilt or closed), or that was made
from a session changed here meanwhile (``set_hyper``), is dropped. The decay overlay's curves
are computed like the first model's (``ViewBinding.work``: off the UI thread for large models).
"""

from __future__ import annotations

import math
import sys
import time
import traceback
from typing import Any

import numpy as np
from PySide6 import QtCore, QtWidgets

from bpttviz.engine.gradients import diagnostics
from bpttviz.engine.trace import Trace
from bpttviz.engine.training.session import Session, model_with
from bpttviz.presenters.graph_frame import mlp_frame, recurrent_frame
from bpttviz.presenters.panels import smooth
from bpttviz.presenters.trace_data import mlp_trace, recurrent_trace, skeleton
from bpttviz.views.graph_view import GraphView
from bpttviz.window.controller import Controller, ViewBinding, session_fingerprint
from bpttviz.window.jobs import Failure, Snapshot
from bpttviz.window.training_thread import TrainingWorker

SLICE_SECONDS = 0.03  # catching up trains at most this long per event-loop turn


def describe(cfg_value: Any, key: str) -> str:
    """A short legend label for one setting's value, e.g. "LSTM", "full BPTT", "window k=4"."""
    if key == "model":
        return str(cfg_value).upper()
    if key == "truncation":
        return "full BPTT" if cfg_value is None else f"window k={cfg_value}"
    if key == "hidden_layers":
        return "layers " + "×".join(map(str, cfg_value))
    return f"{key}={cfg_value}"


def labels(cfg, changes: dict[str, Any]) -> tuple[str, str]:
    """(label of the first model, label of the second) naming what differs."""
    keys = [k for k in changes if k not in ("seed",)] or list(changes)
    first = ", ".join(describe(getattr(cfg, k, None), k) for k in keys)
    second = ", ".join(describe(changes[k], k) for k in keys)
    return first or "first", second or "second"


class Comparison(QtCore.QObject):
    """The second session of a side-by-side comparison (``session`` is None when closed)."""

    changed = QtCore.Signal()  # opened, closed, rebuilt or advanced

    def __init__(self, window: QtWidgets.QMainWindow, controller: Controller) -> None:
        super().__init__(window)
        self.window = window
        self.controller = controller
        self.session: Session | None = None
        self.changes: dict[str, Any] | None = None
        self.trace: Trace | None = None
        self.trace_iteration: int | None = None
        self.error: str | None = None
        self._td = None
        self.graph = GraphView(window.theme, caption_lines=1)
        self.graph.setObjectName("compare_graph")
        self.graph.mode.hide()  # the colouring follows the main graph's
        self.graph.legend.hide()  # the same as the main graph's
        self._pending = False
        self._adopt: tuple[Session, dict[str, Any]] | None = None
        # large models: the second model trains on this worker (see the module docstring)
        self._worker: TrainingWorker | None = None
        self._token = 0
        self._base: tuple[Session, tuple] | None = None  # the session the running job copied, and its fingerprint
        controller.state_changed.connect(self.follow)
        controller.session_replaced.connect(self._rebuild)
        controller.preset_loaded.connect(lambda _name: self.close())
        window.installEventFilter(self)  # closing the window ends the worker thread

    def eventFilter(self, obj: QtCore.QObject, event: QtCore.QEvent) -> bool:  # noqa: N802 - Qt's name
        if obj is self.window and event.type() == QtCore.QEvent.Type.Close:
            self.shutdown()
        return False

    # ------------------------------------------------------------------ opening and closing
    @property
    def active(self) -> bool:
        return self.session is not None

    def open(self, changes: dict[str, Any]) -> None:
        """Start comparing with the current configuration changed by ``changes`` (ValueError if
        the engine refuses them)."""
        cfg = self.controller.session.cfg.replace("compare", **changes)
        self.changes = dict(changes)
        self._start(Session(cfg))

    def close(self) -> None:
        if self.session is None and self.changes is None:
            return
        self._cancel()
        self.session = None
        self.changes = None
        self.trace = None
        self._td = None
        self.error = None
        self.changed.emit()

    def set_hyper(self, **changes: Any) -> None:
        """Live settings applied to the first session reach the second too (except the compared ones)."""
        if self.session is None:
            return
        keep = {k: v for k, v in changes.items() if k not in (self.changes or {})}
        if keep:
            self.session.set_hyper(**keep)

    def labels(self) -> tuple[str, str]:
        return labels(self.controller.session.cfg, self.changes or {})

    def _start(self, session: Session) -> None:
        self._cancel()
        self.session = session
        # an adopted session (a scenario snapshot's) brings the iteration it narrated
        n = session.last_narration
        self.trace = n.trace if n is not None else None
        self.trace_iteration = n.iteration - 1 if n is not None else None
        self._td = None
        self.error = None
        self.changed.emit()
        self.follow()

    def adopt_next(self, session: Session | None, changes: dict[str, Any] | None) -> None:
        """The next rebuild (the first session being replaced) takes ``session`` -- a scenario
        snapshot's second model, already trained -- instead of building a fresh one."""
        self._adopt = (session, dict(changes or {})) if session is not None else None
        if session is not None:
            self.changes = dict(changes or {})

    def catch_up(self) -> None:
        """Train the second session up to the first one's iteration now (before measuring both)."""
        s2 = self.session
        if s2 is None:
            return
        self._cancel()  # (a job training a copy meanwhile: this session is the one that counts)
        target = self.controller.session.iteration
        with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
            while s2.iteration < target and s2.blowup is None:
                s2.train_step()
        self.changed.emit()

    def _rebuild(self) -> None:
        if self._adopt is not None:
            session, self.changes = self._adopt
            self._adopt = None
            self._start(session)
            return
        if self.changes is None:
            return
        try:
            cfg = self.controller.session.cfg.replace("compare", **self.changes)
            self._start(Session(cfg))
        except ValueError as e:  # the new configuration cannot take the changes: stop comparing
            self.close()
            self.controller.message.emit(f"Comparison closed: {e}")

    # ------------------------------------------------------------------ lock-step
    def follow(self) -> None:
        """Train the second session up to the first one's iteration (narrating the iteration the
        first is being stepped through), for at most ``SLICE_SECONDS``; schedules itself again
        while it is behind."""
        s2 = self.session
        if s2 is None or s2.blowup is not None:
            return
        c = self.controller
        target = c.session.iteration
        want = c.trace_iteration if c.trace is not None else None
        if c.offloads():
            self._follow_on_worker(target, want)
            return
        t0 = time.perf_counter()
        advanced = False
        try:
            with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
                while s2.iteration < target and s2.blowup is None:
                    if want is not None and s2.iteration == want:
                        tr = s2.narrated_step()
                        if tr is not None:
                            self.trace, self.trace_iteration, self._td = tr, want, None
                    else:
                        s2.train_step()
                    advanced = True
                    if time.perf_counter() - t0 > SLICE_SECONDS:
                        break
        except Exception as e:  # noqa: BLE001 - the comparison must never take the window down
            self._stop(e, traceback.format_exc())
            return
        if s2.blowup is not None:
            c.message.emit(f"Second model: {s2.blowup.message()}")
        if advanced:
            self.changed.emit()
        if s2.iteration < target and s2.blowup is None and not self._pending:
            self._pending = True
            QtCore.QTimer.singleShot(0, self._again)

    def _again(self) -> None:
        self._pending = False
        self.follow()

    def job_running(self) -> bool:
        """A job trains a copy of the second model on the worker thread."""
        return self._base is not None

    def _follow_on_worker(self, target: int, want: int | None) -> None:
        """Start a job training a copy of the second session up to ``target`` (narrating
        iteration ``want``), unless one runs: when it is done, ``follow`` runs again."""
        s2 = self.session
        if s2.iteration >= target or self._base is not None:
            return
        if self._worker is None:
            self._worker = TrainingWorker(self)
            self._worker.delivered.connect(self._on_delivered, QtCore.Qt.ConnectionType.QueuedConnection)
        self._token += 1
        self._base = (s2, session_fingerprint(s2))
        self._worker.submit(self._token, follow_job(self._token, s2, target, want))

    def _on_delivered(self) -> None:
        """The worker's results (on the UI thread): the trained copy replaces the second session
        when it is still current and was made from the session as it is."""
        if self._worker is None:
            return
        again = False
        for item in self._worker.take():
            if item.token != self._token:
                continue  # from a job cancelled since
            base, self._base = self._base, None
            again = True
            if isinstance(item, Failure):
                self._stop(item.error, item.details)
                return
            if not isinstance(item, Snapshot):
                continue  # (a job's end)
            s2 = self.session
            if base is None or s2 is not base[0] or session_fingerprint(s2) != base[1]:
                continue  # changed here meanwhile (a live setting): trained again from it below
            self.session = item.session
            if item.narration is not None:
                self.trace, self.trace_iteration = item.narration.trace, item.narration.iteration - 1
                self._td = item.extras.get("trace_data")
            if item.session.blowup is not None:
                self.controller.message.emit(f"Second model: {item.session.blowup.message()}")
            self.changed.emit()
        if again:
            self.follow()

    def _stop(self, error: BaseException, details: str) -> None:
        """The second model failed: the comparison stops, the window goes on."""
        self.error = f"{type(error).__name__}: {error}"
        print(details, file=sys.stderr)
        self.controller.message.emit(f"Comparison stopped: {self.error}")
        self.session = None
        self.changed.emit()

    def _cancel(self) -> None:
        """Drop the running job (never waits); a result still on its way is ignored."""
        self._token += 1
        self._base = None
        if self._worker is not None:
            self._worker.cancel()

    def shutdown(self) -> None:
        """End the worker thread (the window is closing)."""
        self._cancel()
        if self._worker is not None:
            self._worker.shutdown(5.0)
            self._worker = None

    @property
    def in_step(self) -> bool:
        """Both sessions at the same iteration."""
        return self.session is not None and self.session.iteration == self.controller.session.iteration

    # ------------------------------------------------------------------ what the views show
    def decay_overlay(self) -> tuple | None:
        """(first label, second label, k, ||dL_T/dh||, ||dL_T/dc|| or None) of the second model."""
        return decay_overlay_of(self.decay_overlay_inputs())

    def decay_overlay_inputs(self) -> tuple | None:
        """What ``decay_overlay`` computes its curves from, gathered on the UI thread (cheap):
        ``(first label, second label, decay inputs or None, why not)``, or None (no overlay)."""
        s2 = self.session
        if s2 is None or s2.last_batch is None or not s2.cfg.is_recurrent:
            return None
        first, second = self.labels()
        if s2.blowup is not None:
            return first, second, None, " (not finite)"
        got = self._decay_inputs()
        if got is None:  # the moment is a narrated iteration this model did not narrate
            return first, second, None, " (not at this moment)"
        return first, second, got, ""

    def _decay_inputs(self) -> tuple | None:
        """(model, inputs, targets, h0, options) of the second model at the controller's moment,
        as the first model's decay curve takes them: a narrated iteration's batch, starting state,
        options and parameters before its update; between iterations, the model now."""
        s2 = self.session
        n = self.controller.moment.narration
        if n is None:
            (x, y), opts = s2.last_batch, s2.options()
            return s2.model, x, y, None, opts
        n2 = s2.last_narration
        if n2 is None or n2.iteration != n.iteration:
            return None
        return model_with(s2.model, n2.before), n2.inputs, n2.targets, n2.h0, dict(n2.options)

    def loss_overlay(self) -> tuple | None:
        """(first label, second label, x, smoothed loss, validation x, validation metric) of the
        second model: both models' loss and validation curves are drawn side by side."""
        s2 = self.session
        if s2 is None:
            return None
        x, y = s2.history["loss"].data()
        vx, vy = s2.history["val_metric"].data()
        first, second = self.labels()
        return first, second, x, smooth(y), vx, vy

    def record_for(self, rec) -> int:
        """The second trace's record matching ``rec`` of the first (same phase and index)."""
        tr = self.trace
        if tr is None:
            return -1
        if rec is None:
            return len(tr) - 1
        for i, r in enumerate(tr.records):
            if r.phase == rec.phase and r.index == rec.index:
                return i
        return min(self.controller.cursor, len(tr) - 1)

    def graph_frame(self, mode: str):
        """The compact second graph: the narrated iteration at the first one's record, or the
        model's skeleton before anything was narrated."""
        inputs = self.graph_inputs(mode)
        if inputs is None:
            return None
        f, td = graph_frame_of(inputs)
        self._keep_trace_data(td)
        return f

    def graph_inputs(self, mode: str) -> tuple | None:
        """What ``graph_frame`` draws from, gathered on the UI thread (cheap): ``(second session,
        its trace or None, the trace's iteration, trace arrays made already or None, record, mode)``."""
        s2 = self.session
        if s2 is None:
            return None
        c = self.controller
        same = self.trace is not None and c.trace is not None and self.trace_iteration == c.trace_iteration
        if not same:
            return s2, None, None, None, -1, mode
        td = self._td if self._td is not None and self._td.trace is self.trace else None
        return s2, self.trace, self.trace_iteration or 0, td, self.record_for(c.record), mode

    def _keep_trace_data(self, td) -> None:
        """Keep the second trace's arrays made for the graph (if that trace is still shown)."""
        if td is not None and td.trace is self.trace:
            self._td = td

    def bind(self) -> None:
        """Feed the overlays and the second graph from the controller's paint timer."""
        w, c = self.window, self.controller

        def key():
            s2 = self.session
            if s2 is None:  # no comparison: the overlays are cleared once, not redrawn every frame
                return ("closed",)
            return (id(s2), s2.iteration, c.generation, c.session.iteration, s2.blowup is not None,
                    id(c.moment.narration))

        def work_decay():
            inputs = self.decay_overlay_inputs() if c.session.cfg.is_recurrent else False
            if inputs is False:
                return (lambda: None), (lambda _v: None)
            return (lambda: decay_overlay_of(inputs)), w.decay.set_overlay

        def push_loss():
            w.loss.set_overlay(self.loss_overlay())

        def work_graph():
            inputs = self.graph_inputs(w.graph.current_mode())
            if inputs is None:
                return (lambda: None), (lambda _v: None)

            def show(value) -> None:
                f, td = value
                self._keep_trace_data(td)
                self.graph.show_frame(f)

            return (lambda: graph_frame_of(inputs)), show

        def graph_key():
            return key() + (id(self.trace), c.cursor if c.trace is not None else -1, w.graph.current_mode())

        c.bind(ViewBinding("comparison decay", w.decay, key, None, min_interval=0.4, work=work_decay))
        c.bind(ViewBinding("comparison loss", w.loss, key, push_loss, min_interval=0.4))
        c.bind(ViewBinding("comparison graph", self.graph, graph_key, None, min_interval=1 / 30,
                           urgent=True, animate=self.graph.animate, work=work_graph))

    def refresh(self) -> None:
        """Forget what the comparison's bindings showed (after opening or closing)."""
        for b in self.controller.bindings:
            if b.name.startswith("comparison"):
                b.last_key = None
                b.last_push = -math.inf
        if self.session is None:
            self.window.decay.set_overlay(None)
            self.window.loss.set_overlay(None)


def decay_overlay_of(inputs: tuple | None) -> tuple | None:
    """``Comparison.decay_overlay`` from its gathered ``inputs`` (Qt-free: computed off the UI
    thread for large models): the second model's decay curves, as the first model's are made."""
    if inputs is None:
        return None
    first, second, got, why = inputs
    if got is None:
        return first, second + why, np.zeros(0), np.zeros(0), None
    m, x, y, h0, opts = got
    with np.errstate(all="ignore"):
        curves = diagnostics.decay_curves(m, x, y, h0=h0, **opts)  # as the first model's curve
    curve = curves["h"]
    return first, second, np.arange(curve.size, dtype=float), curve, curves.get("c")


def graph_frame_of(inputs: tuple) -> tuple:
    """``(the second graph's frame, the trace arrays it was made from or None)`` from
    ``Comparison.graph_inputs`` (Qt-free: computed off the UI thread for large models)."""
    s2, trace, iteration, td, cur, mode = inputs
    if trace is None:
        td, made = skeleton(s2), None
    else:
        if td is None:
            td = trace_data(s2, trace, iteration, s2.last_batch[1] if s2.last_batch else None)
        made = td
    if s2.cfg.is_recurrent:
        return recurrent_frame(td, cur, mode), made
    return mlp_frame(td, cur, s2.model.params, mode), made


def trace_data(s2: Session, trace: Trace, iteration: int, targets):
    """The second graph's trace arrays of ``trace``, narrated iteration ``iteration + 1`` of ``s2``
    with ``targets``."""
    if s2.cfg.is_recurrent:
        return recurrent_trace(trace, iteration=iteration, kind=s2.model.kind, activation=s2.cfg.activation,
                               targets=targets,
                               vocab=getattr(s2.task, "vocab", None), truncation=s2.cfg.truncation)
    return mlp_trace(trace, iteration=iteration, activations=[a.name for a in s2.model.activations])


def follow_job(token: int, session: Session, target: int, want: int | None):
    """A ``TrainingWorker`` job: train a copy of ``session`` (made on the worker) up to iteration
    ``target``, narrating iteration ``want + 1`` (when it is one of them), and deliver the copy as
    a ``Snapshot`` whose ``narration`` is that iteration's (None if none was narrated) and whose
    ``extras["trace_data"]`` holds its trace arrays for the second graph."""
    from bpttviz.engine.training.scenario import copy_session

    def job(deliver, cancelled) -> None:
        s = copy_session(session)
        narration, td = None, None
        with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
            while s.iteration < target and s.blowup is None and not cancelled():
                if want is not None and s.iteration == want:
                    if s.narrated_step() is not None and s.last_narration is not None:
                        narration = s.last_narration
                else:
                    s.train_step()
            if narration is not None:
                td = trace_data(s, narration.trace, want, narration.targets)
        deliver(Snapshot(token, s, narration, last=True, extras={"trace_data": td}))

    return job
