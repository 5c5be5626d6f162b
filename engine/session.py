"""A training session: model, optimiser, clipping, task, truncation and history, advanced one
iteration at a time. The CLI's ``train`` and the app drive this same object.

- ``train_step()``: one fast iteration (``loss_and_grads`` + clip + optimiser step);
- ``narrated_step()``: the same iteration as a ``Trace`` of step records ending in an
  ``UpdateStep`` (identical numbers: the records come from the same code path);
- every ``eval_every`` iterations the validation metric, for language models a text sample every
  ``sample_every``;
- a non-finite loss, gradient or parameter is caught at the iteration where it first appears:
  the update is not applied, ``blowup`` says where, and ``rollback()`` restores the last finite
  parameters. Training never continues silently on NaN.

Iteration numbering (one convention everywhere: the status bar, Explain, every plot axis, the
blow-up message, the gradient check, session files and the CLI): iterations are numbered from 1;
*iteration N* is the N-th update. ``session.iteration`` counts the updates done so far, so after
iteration N it equals N, and ``session.iteration == 0`` means the initial parameters, before any
training. Every history point of iteration N is drawn at x = N: its loss and gradient norm
(computed with the parameters after N-1 updates), the validation metric and the largest singular
values measured after its update. A non-finite value found while computing iteration N is
reported as iteration N; its ``UpdateStep`` has ``index == N``.
"""

from __future__ import annotations

import copy
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from .config import Config
from .models import MLP, RNN
from .optim import Clipper, LossAnnealer, apply_update, make_optimizer
from .records import UpdateStep
from .tasks import Task, make_task
from .trace import Trace

Array = np.ndarray


class Series:
    """A bounded history of (x, y) points: when full, every other point is dropped and only every
    second new point is kept from then on (decimation), so memory stays fixed however long a
    session runs while the whole span remains visible."""

    def __init__(self, capacity: int = 4096) -> None:
        self.capacity = capacity
        self.x = np.empty(capacity)
        self.y = np.empty(capacity)
        self.n = 0
        self.stride = 1
        self._skip = 0

    def append(self, x: float, y: float) -> None:
        self._skip += 1
        if self._skip < self.stride:
            return
        self._skip = 0
        if self.n == self.capacity:
            half = self.capacity // 2
            self.x[:half] = self.x[: self.capacity: 2]
            self.y[:half] = self.y[: self.capacity: 2]
            self.n = half
            self.stride *= 2
        self.x[self.n] = x
        self.y[self.n] = y
        self.n += 1

    def data(self) -> tuple[Array, Array]:
        return self.x[: self.n].copy(), self.y[: self.n].copy()

    def last(self) -> float | None:
        return float(self.y[self.n - 1]) if self.n else None

    def __len__(self) -> int:
        return self.n

    def copy(self) -> Series:
        """An independent copy (same points, same decimation phase)."""
        out = Series.__new__(Series)
        out.capacity, out.n, out.stride, out._skip = self.capacity, self.n, self.stride, self._skip
        out.x, out.y = self.x.copy(), self.y.copy()
        return out


HISTORY_SERIES = ("loss", "val_metric", "grad_norm", "clipped", "lr")


@dataclass(frozen=True)
class Blowup:
    """Where a non-finite value first appeared."""

    iteration: int
    phase: str  # "forward", "loss", "backward", "gradients" or "parameters"
    name: str  # the record field (h, y, dh...) or parameter name where it appeared
    timestep: int | None = None

    def message(self) -> str:
        where = f" in {self.name}" if self.name else ""
        ts = f" at timestep/layer {self.timestep}" if self.timestep is not None else ""
        return (f"Non-finite value (NaN or Inf) in the {self.phase} pass{where}{ts} at iteration {self.iteration}: "
                f"training paused; the last finite parameters can be restored.")


@dataclass(frozen=True)
class Narration:
    """One narrated iteration and everything its records were computed with, kept so the app can
    show any record of it later, whatever the session has done since.

    ``iteration`` is N (the N-th update, see the module docstring); ``before`` are copies of the
    parameters the forward, loss, backward and gradient records were computed with, ``after``
    the parameters after the update (``before`` again when no update was applied: a blow-up);
    ``inputs``/``targets`` the batch, ``h0`` the carried hidden state it started from (None: zeros)
    and ``options`` the ``loss_and_grads`` options in force; ``optimizer`` a copy of the optimiser
    after the update (its state explains the update record); ``bugs`` the bug-lab mistakes that
    were on. Arrays are never written to."""

    iteration: int
    trace: Trace
    before: dict[str, Array]
    after: dict[str, Array]
    inputs: Array
    targets: Array
    h0: Any
    options: dict[str, Any]
    optimizer: Any
    updated: bool
    bugs: frozenset[str] = frozenset()  # bug-lab mistakes switched on when it was computed
    clipper: Any = None  # the clipping in force (its threshold explains the update record)

    @property
    def update_index(self) -> int | None:
        """Index of the ``UpdateStep`` in the trace, or None (no update was applied)."""
        return len(self.trace) - 1 if self.updated else None


def build_model(cfg: Config, task: Task):
    """The model a config describes, sized for its task."""
    if cfg.model == "mlp":
        sizes = [task.input_size, *cfg.hidden_layers, task.output_size]
        return MLP(sizes, activation=cfg.activation, output="softmax" if task.loss == "cross_entropy" else "linear",
                   seed=cfg.seed, init=cfg.init, init_scale=cfg.init_scale)
    common = dict(seed=cfg.seed, init=cfg.init, init_scale=cfg.init_scale)
    if cfg.model == "rnn":
        model = RNN(task.input_size, cfg.hidden_size, task.output_size, cfg.activation, **common)
    else:
        from . import models

        cls = getattr(models, cfg.model.upper(), None)
        if cls is None:
            raise ValueError(f"model: {cfg.model!r} is not available in this version")
        kwargs = dict(common, forget_bias=cfg.forget_bias) if cfg.model == "lstm" else common
        model = cls(task.input_size, cfg.hidden_size, task.output_size, **kwargs)
    if cfg.recurrent_norm is not None:
        W = model.params[model.W_H]
        W *= cfg.recurrent_norm / max(np.linalg.norm(W[:, :cfg.hidden_size], 2), 1e-12)
    return model


class Session:
    """``Session(Config(...))`` or ``Session.from_preset("min-char-rnn")``."""

    def __init__(self, cfg: Config | None = None, *, history_capacity: int = 4096) -> None:
        self.cfg = cfg or Config()
        self.task = make_task(self.cfg)
        self.model = build_model(self.cfg, self.task)
        self.optimizer = make_optimizer(self.cfg.optimizer, self.cfg.lr)
        self.clipper = Clipper(self.cfg.clip, self.cfg.clip_threshold)
        self.annealer = (LossAnnealer(self.cfg.anneal_factor, self.cfg.anneal_patience)
                         if self.cfg.anneal else None)
        self.rng = np.random.default_rng(self.cfg.seed)
        self.iteration = 0
        self.state = None  # carried hidden state (stateful tasks)
        self.history = {name: Series(history_capacity) for name in HISTORY_SERIES}
        self.clip_events = Series(history_capacity)
        self.samples: list[tuple[int, str]] = []
        self.blowup: Blowup | None = None
        self._last_finite = {k: v.copy() for k, v in self.model.params.items()}
        self.last_update: UpdateStep | None = None
        self.last_loss: float | None = None  # the loss of iteration ``iteration`` (None before any)
        self.last_narration: Narration | None = None
        self.last_batch: tuple[Array, Array] | None = None
        self.seconds = 0.0
        self.bugs: frozenset[str] = frozenset()

    @classmethod
    def from_preset(cls, name: str, **overrides: Any) -> Session:
        from .presets import load_preset

        cfg = load_preset(name)
        if overrides:
            cfg = cfg.replace(f"preset {name}", **overrides)
        return cls(cfg)

    # ------------------------------------------------------------------ settings
    @property
    def is_recurrent(self) -> bool:
        return self.cfg.is_recurrent

    def options(self) -> dict[str, Any]:
        """The keyword options every ``loss_and_grads``/``steps`` call of this session uses."""
        if not self.is_recurrent:
            return {"reduction": self.cfg.reduction}
        return {"reduction": self.cfg.reduction, "truncation": self.cfg.truncation,
                "output": self.task.output, "loss": self.task.loss}

    def set_hyper(self, **changes: Any) -> None:
        """Change non-structural settings (learning rate, clipping, truncation, reduction...)
        without rebuilding. Structural fields raise: use ``Session(new_cfg)`` for those."""
        new = self.cfg.replace("settings", **changes)
        structural = new.structural_changes(self.cfg)
        if structural:
            raise ValueError(f"settings: {', '.join(sorted(structural))} change the model; rebuild the session")
        self.cfg = new
        self.optimizer.lr = new.lr
        self.clipper = Clipper(new.clip, new.clip_threshold)
        if new.anneal and self.annealer is None:
            self.annealer = LossAnnealer(new.anneal_factor, new.anneal_patience)
        elif not new.anneal:
            self.annealer = None

    def set_bugs(self, bugs) -> None:
        """Bug lab: switch classic mistakes on (names from ``engine.bugs.BUGS``) or off (empty)."""
        self.model.set_bugs(set(bugs or ()) - {"targets_wrong_axis"})
        from .bugs import check_bugs

        self.bugs = check_bugs(bugs, recurrent=self.is_recurrent)

    # ------------------------------------------------------------------ iterations
    def next_batch(self) -> tuple[Array, Array]:
        x, y = self.task.batch(self.rng)
        if "targets_wrong_axis" in self.bugs and self.task.stateful:  # bug lab: shift along batch
            y = np.roll(x, -1, axis=0)
        if self.task.stateful and self.task.epoch_start:
            self.state = None
        return x, y

    def _call_kwargs(self) -> dict[str, Any]:
        kw = self.options()
        if self.is_recurrent and self.task.stateful and self.state is not None:
            kw["h0"] = self.state if len(self.state) > 1 else self.state[0]
        return kw

    def train_step(self) -> UpdateStep | None:
        """One iteration, fast path. Returns the update record, or None after a blow-up."""
        if self.blowup is not None:
            return None
        t0 = time.perf_counter()
        x, y = self.last_batch = self.next_batch()
        kw = self._call_kwargs()
        if self.is_recurrent:
            loss, grads, state = self.model.loss_and_grads(x, y, return_state=True, **kw)
        else:
            (loss, grads), state = self.model.loss_and_grads(x, y, **kw), None
        rec = self._finish(loss, grads, state)
        self.seconds += time.perf_counter() - t0
        return rec

    def narrated_step(self) -> Trace | None:
        """One iteration narrated: forward, loss, backward and gradient records, then the update.
        ``last_narration`` keeps it with the parameters before and after the update."""
        if self.blowup is not None:
            return None
        t0 = time.perf_counter()
        x, y = self.last_batch = self.next_batch()
        kw = self._call_kwargs()
        before = {k: v.copy() for k, v in self.model.params.items()}
        records = list(self.model.steps(x, y, **kw))
        grad_rec = records[-1]
        number = self.iteration + 1
        rec = self._finish(grad_rec.loss, dict(grad_rec.grads), grad_rec.state or None)
        updated = rec is not None
        if updated:
            records.append(rec)
        trace = Trace(records)
        after = {k: v.copy() for k, v in self.model.params.items()} if updated else before
        for d in (before, after):
            for v in d.values():
                v.flags.writeable = False
        options = {k: v for k, v in kw.items() if k != "h0"}
        self.last_narration = Narration(number, trace, before, after, x, y, kw.get("h0"), options,
                                        copy.deepcopy(self.optimizer), updated, frozenset(self.bugs),
                                        self.clipper)
        self.seconds += time.perf_counter() - t0
        return trace

    def _locate_nonfinite(self) -> Blowup | None:
        """Replay the current batch narrated (parameters are unchanged: the update was withheld)
        and return the first record holding a non-finite array: its phase, timestep/layer and the
        field or parameter name."""
        x, y = self.last_batch
        for rec in self.model.steps(x, y, **self._call_kwargs()):
            for fname in ("x", "h", "pre", "y", "a", "z", "dy", "dh", "dpre", "dz", "da"):
                v = getattr(rec, fname, None)
                if v is not None and not np.all(np.isfinite(v)):
                    ts = rec.index if rec.phase in ("forward", "backward") else None
                    return Blowup(self.iteration + 1, rec.phase, fname, ts)
            for name, g in getattr(rec, "grads", {}).items():
                if not np.all(np.isfinite(g)):
                    ts = rec.index if rec.phase == "backward" else None
                    return Blowup(self.iteration + 1, rec.phase, name, ts)
        return None

    def _finish(self, loss: float, grads: dict[str, Array], state) -> UpdateStep | None:
        it = self.iteration + 1  # the number of the iteration being finished (see the module docstring)
        bad = not np.isfinite(loss) or any(not np.all(np.isfinite(g)) for g in grads.values())
        if bad:
            located = self._locate_nonfinite()
            if located is None:  # not reproducible record by record: report the iteration's totals
                name = next((n for n, g in grads.items() if not np.all(np.isfinite(g))), "")
                located = Blowup(it, "loss" if not np.isfinite(loss) else "gradients", name)
            self.blowup = located
            return None
        for name, p in self.model.params.items():  # the last finite state, before this update
            np.copyto(self._last_finite[name], p)
        rec = apply_update(self.model.params, grads, self.optimizer, self.clipper, it)
        for name, p in self.model.params.items():
            if not np.all(np.isfinite(p)):
                self.blowup = Blowup(it, "parameters", name)
                return rec
        if self.task.stateful:
            self.state = state
        self.iteration = it
        self.last_update = rec
        self.last_loss = float(loss)
        h = self.history
        h["loss"].append(it, loss)
        h["grad_norm"].append(it, rec.norm)
        h["clipped"].append(it, float(rec.clipped))
        h["lr"].append(it, self.optimizer.lr)
        if rec.clipped:
            self.clip_events.append(it, rec.norm)
        if self.annealer is not None:
            self.annealer.observe(loss, self.optimizer)
        if self.iteration % self.cfg.eval_every == 0 or self.iteration == 1:
            h["val_metric"].append(it, self.task.metric(self.model))
        if hasattr(self.task, "sample") and self.iteration % self.cfg.sample_every == 0:
            self.samples.append((self.iteration, self.sample()))
            del self.samples[:-50]
        return rec

    def train(self, iterations: int) -> None:
        for _ in range(iterations):
            if self.train_step() is None and self.blowup is not None:
                break

    def rollback(self) -> None:
        """Restore the parameters as they were before the update that produced a non-finite value
        (a loss or gradient blow-up never reaches the parameters at all) and clear the blow-up;
        the optimiser's state is reset because it may hold the non-finite values too."""
        for k, v in self._last_finite.items():
            self.model.params[k][...] = v
        self.optimizer = make_optimizer(self.cfg.optimizer, self.optimizer.lr)
        self.state = None
        self.blowup = None

    # ------------------------------------------------------------------ read-outs
    def sample(self, n: int | None = None, temperature: float | None = None, prime: str | None = None) -> str:
        if not hasattr(self.task, "sample"):
            raise ValueError(f"task {self.task.name!r} does not generate text")
        rng = np.random.default_rng((self.cfg.seed, self.iteration))
        return self.task.sample(self.model, n or self.cfg.sample_length, temperature or self.cfg.temperature,
                                rng, prime)

    def metric(self) -> float:
        return self.task.metric(self.model)

    def smoothed_loss(self, window: int = 50) -> float | None:
        _, y = self.history["loss"].data()
        return float(np.mean(y[-window:])) if len(y) else None


def model_with(model, params: Mapping[str, Array]):
    """A shallow copy of ``model`` computing with ``params`` (e.g. ``Narration.before``) instead
    of its own; the model itself is untouched. For diagnostics of a past moment."""
    other = copy.copy(model)
    other.params = dict(params)
    return other
