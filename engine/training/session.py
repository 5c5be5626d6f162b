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

from ..models import MLP, RNN
from ..nn.optim import Clipper, LossAnnealer, apply_update, make_optimizer
from ..records import UpdateStep
from ..trace import Trace
from .config import Config
from .tasks import Task, make_task

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

    def __getstate__(self) -> dict[str, Any]:
        """Pickled with only its points (not the unused capacity); copies and unpickling keep the
        capacity and the decimation phase."""
        state = dict(vars(self))
        state["x"], state["y"] = self.x[: self.n], self.y[: self.n]
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        vars(self).update(state)
        n, self.x, self.y = self.n, np.empty(self.capacity), np.empty(self.capacity)
        self.x[:n], self.y[:n] = state["x"], state["y"]

    def copy(self) -> Series:
        """An independent copy (same points, same decimation phase)."""
        out = Series.__new__(Series)
        out.capacity, out.n, out.stride, out._skip = self.capacity, self.n, self.stride, self._skip
        out.x, out.y = self.x.copy(), self.y.copy()
        return out

    def state_dict(self) -> dict[str, Any]:
        """``capacity``, ``n`` points kept, decimation ``stride`` (a power of two) and ``skip``
        (its phase: without it the points kept after a restore would differ), and the points
        ``x``, ``y`` (float64 ``(n,)``, views of the series' own arrays)."""
        return {"capacity": int(self.capacity), "n": int(self.n), "stride": int(self.stride),
                "skip": int(self._skip), "x": self.x[: self.n], "y": self.y[: self.n]}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        """Put back what ``state_dict`` returned (points copied, capacity as saved); ``ValueError``
        names an inconsistent value."""
        capacity, n, stride, skip = (state[k] for k in ("capacity", "n", "stride", "skip"))
        for key, v in (("capacity", capacity), ("n", n), ("stride", stride), ("skip", skip)):
            if isinstance(v, bool) or not isinstance(v, (int, np.integer)):
                raise ValueError(f"series {key}: expected a whole number, got {str(v)[:40]!r}")
        if capacity < 2 or not 0 <= n <= capacity:
            raise ValueError(f"series: {n} points do not fit a capacity of {capacity}")
        if stride < 1 or stride & (stride - 1) or not 0 <= skip < stride:
            raise ValueError(f"series: stride {stride} must be a power of two and skip {skip} below it")
        x, y = np.asarray(state["x"], dtype=np.float64), np.asarray(state["y"], dtype=np.float64)
        if x.shape != (n,) or y.shape != (n,):
            raise ValueError(f"series: expected {n} x and y values, got shapes {x.shape} and {y.shape}")
        self.capacity = int(capacity)
        self.x, self.y = np.empty(self.capacity), np.empty(self.capacity)
        self.x[:n], self.y[:n] = x, y
        self.n, self.stride, self._skip = int(n), int(stride), int(skip)


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
        from .. import models

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
        """Bug lab: switch classic mistakes on (names from ``engine.gradients.bugs.BUGS``) or off (empty)."""
        self.model.set_bugs(set(bugs or ()) - {"targets_wrong_axis"})
        from ..gradients.bugs import check_bugs

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
            h["val_metric"].append(it, self.metric())
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
        """The task's validation metric now; a stateful task reads its held-out text from the
        hidden state training carries (``tasks.LanguageModelTask.metric`` says why)."""
        if self.task.stateful:
            return self.task.metric(self.model, self.state)
        return self.task.metric(self.model)

    def smoothed_loss(self, window: int = 50) -> float | None:
        _, y = self.history["loss"].data()
        return float(np.mean(y[-window:])) if len(y) else None

    # ------------------------------------------------------------------ saving and restoring
    def state_dict(self) -> dict[str, Any]:
        """Everything a session file holds besides the configuration, as plain values (arrays are
        the session's own, not copies: copy them to keep them while training goes on):

        - ``iteration`` (updates done), ``seconds``, ``rng`` (the generator's ``bit_generator.state``);
        - ``params`` and ``last_finite`` (the parameters ``rollback()`` restores): name -> array;
        - ``optimizer``: ``name``, ``lr`` (as annealed now), ``state`` (``Optimizer.state_dict()``);
        - ``annealer``: None or ``LossAnnealer.state_dict()``;
        - ``state``: None or the tuple of carried hidden-state arrays ``(batch_size, hidden_size)``;
        - ``history``: series name -> ``Series.state_dict()``; ``clip_events`` likewise;
        - ``samples``: ``[(iteration, text), ...]``; ``bugs``: sorted bug-lab names;
        - ``blowup``: None or ``iteration``, ``phase``, ``name``, ``timestep``;
        - ``task``: ``Task.state_dict()``, where the data stream stands.
        """
        state = None
        if self.state is not None:
            state = (self.state,) if isinstance(self.state, np.ndarray) else tuple(self.state)
        blow = self.blowup
        return {
            "iteration": int(self.iteration),
            "seconds": float(self.seconds),
            "rng": self.rng.bit_generator.state,
            "params": dict(self.model.params),
            "last_finite": dict(self._last_finite),
            "optimizer": {"name": self.optimizer.name, "lr": float(self.optimizer.lr),
                          "state": self.optimizer.state_dict()},
            "annealer": None if self.annealer is None else self.annealer.state_dict(),
            "state": state,
            "history": {name: series.state_dict() for name, series in self.history.items()},
            "clip_events": self.clip_events.state_dict(),
            "samples": [(int(i), str(t)) for i, t in self.samples],
            "bugs": sorted(self.bugs),
            "blowup": None if blow is None else {"iteration": blow.iteration, "phase": blow.phase,
                                                 "name": blow.name, "timestep": blow.timestep},
            "task": self.task.state_dict(),
        }

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        """Put back what ``state_dict`` returned, into a session built from the same configuration.
        Parameters, rollback point and hidden state are copied. Series missing from ``history``
        keep their current points. ``ValueError`` when a part does not fit this session (shapes,
        optimiser, annealing, bug names, task kind)."""
        params = self.model.params
        for key in ("params", "last_finite"):
            given = state[key]
            if set(given) != set(params):
                raise ValueError(f"{key}: expected parameters {sorted(params)}, got {sorted(given)[:8]}")
            for name, p in params.items():
                if np.shape(given[name]) != p.shape:
                    raise ValueError(f"{key}/{name}: expected shape {p.shape}, got {np.shape(given[name])}")
        om = state["optimizer"]
        if om["name"] != self.optimizer.name:
            raise ValueError(f"optimizer {str(om['name'])[:40]!r} does not match the configuration's "
                             f"{self.optimizer.name!r}")
        if (state["annealer"] is None) != (self.annealer is None):
            raise ValueError("annealer state does not match the configuration's 'anneal' setting")
        hidden = state["state"]
        if hidden is not None:
            if not self.is_recurrent:
                raise ValueError("state: an MLP carries no hidden state")
            shape = (self.cfg.batch_size, self.cfg.hidden_size)
            if len(hidden) != len(self.model.STATE) or any(np.shape(a) != shape for a in hidden):
                raise ValueError(f"state: expected {len(self.model.STATE)} arrays of shape {shape}")
        unknown = sorted(set(state["history"]) - set(HISTORY_SERIES))
        if unknown:
            raise ValueError(f"history: unknown series {unknown[0][:60]!r}")
        optimizer = copy.deepcopy(self.optimizer)
        try:
            optimizer.load_state_dict(om["state"])
        except (ValueError, KeyError) as e:
            raise ValueError(f"optimizer state: {e}") from None
        optimizer.lr = float(om["lr"])
        spare = type(self.rng.bit_generator)(0)  # the state is checked on a spare generator first
        try:
            spare.state = state["rng"]
        except (TypeError, ValueError, KeyError, OverflowError) as e:
            raise ValueError(f"rng: not a valid {type(self.rng.bit_generator).__name__} state ({e})") from None
        self.task.load_state_dict(state["task"])
        self.set_bugs(state["bugs"])
        for name, p in params.items():
            p[...] = state["params"][name]
            self._last_finite[name] = np.array(state["last_finite"][name], dtype=np.float64)
        self.optimizer = optimizer
        if self.annealer is not None:
            self.annealer.load_state_dict(state["annealer"])
        self.state = None if hidden is None else tuple(np.array(a, dtype=np.float64) for a in hidden)
        for name, series in state["history"].items():
            self.history[name].load_state_dict(series)
        self.clip_events.load_state_dict(state["clip_events"])
        self.rng.bit_generator.state = state["rng"]
        self.iteration = int(state["iteration"])
        self.seconds = float(state["seconds"])
        self.samples = [(int(i), str(t)) for i, t in state["samples"]]
        blow = state["blowup"]
        self.blowup = None if blow is None else Blowup(int(blow["iteration"]), str(blow["phase"]), str(blow["name"]),
                                                       None if blow["timestep"] is None else int(blow["timestep"]))


def model_with(model, params: Mapping[str, Array]):
    """A shallow copy of ``model`` computing with ``params`` (e.g. ``Narration.before``) instead
    of its own; the model itself is untouched. For diagnostics of a past moment."""
    other = copy.copy(model)
    other.params = dict(params)
    return other
