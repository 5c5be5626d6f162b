"""Guided scenarios: an ordered list of stops a presenter advances through (lecture mode).

A preset may carry ``"scenario": [stop, ...]``. Each stop is a JSON object with any of:

- ``"caption"``: text shown while the stop is current (required; at most 600 characters);
- ``"set"``: configuration changes, validated exactly like a preset's fields; a structural change
  rebuilds the session (same seed), others apply live;
- ``"train"``: training iterations to run when the stop is entered (0..100000);
- ``"step"``: single-steps to take, counted in ``"unit"`` (``"record"``, ``"phase"`` or
  ``"iteration"``; default record);
- ``"focus"``: the view to raise (one of ``VIEWS``);
- ``"compare"``: configuration changes for a second model trained side by side on the same data
  (e.g. ``{"model": "lstm"}``), or ``null`` to close the comparison;
- ``"restart"``: ``true`` to start again from iteration 0 with the configuration in force (same
  seed), after applying ``set``;
- ``"claims"``: what the caption says, as checkable expectations (``engine.training.claims``), measured
  once the stop's steps and training are done;
- ``"until"``: with ``train``, the most iterations the stop may train while its claims do not yet
  hold (it trains ``train`` iterations, then slices of ``until_slice(stop)`` until every claim
  holds or ``until`` is reached).

``ScenarioRun`` plays stops headlessly on plain sessions -- the same steps, comparison and
training as the app's player, in lock-step -- so tests check every claim of every stop, and the
app prepares the next stop in the background from a copy of the current one (``copy_session``).
Given a shelf of shipped snapshots (``engine.training.snapshots``) and the chain key of the state
it starts from, it installs a long stop's shipped state instead of training, when that is the
state the stop would compute.

``parse_scenario`` validates every stop *and* the configuration each stop leads to, so a broken
scenario is refused when the preset is opened, never halfway through a lecture.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..records import Step
from .claims import Claim, Verdict, check, parse_claims
from .config import Config

VIEWS = ("graph", "deltas", "weights", "decay", "loss", "task", "explain", "gradcheck", "attribution", "whatif")
UNITS = ("record", "phase", "iteration")
STOP_KEYS = ("caption", "set", "train", "step", "unit", "focus", "compare", "claims", "until", "restart")
MAX_STOPS = 200


@dataclass(frozen=True)
class Stop:
    caption: str
    set: dict[str, Any] = field(default_factory=dict)
    train: int = 0
    step: int = 0
    unit: str = "record"
    focus: str | None = None
    compare: dict[str, Any] | None = None
    has_compare: bool = False  # True when the stop opens or closes a comparison
    config: Config | None = None  # the configuration in force at this stop
    claims: tuple[Claim, ...] = ()
    until: int = 0  # the cap on this stop's iterations while its claims do not hold (0: no extra)
    restart: bool = False


def _count(value: Any, name: str, where: str, hi: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= hi:
        raise ValueError(f"{where}: {name!r}: expected a whole number from 0 to {hi}, got {value!r}")
    return value


def parse_scenario(cfg: Config, source: str = "scenario") -> list[Stop]:
    """The validated stops of ``cfg.extras["scenario"]`` (empty list when the preset has none)."""
    raw = cfg.extras.get("scenario")
    if raw is None:
        return []
    if not isinstance(raw, list) or not raw:
        raise ValueError(f"{source}: 'scenario' must be a non-empty list of stops")
    if len(raw) > MAX_STOPS:
        raise ValueError(f"{source}: 'scenario' has {len(raw)} stops; at most {MAX_STOPS} allowed")
    stops = []
    current = cfg
    for i, s in enumerate(raw, start=1):
        where = f"{source}: stop {i}"
        if not isinstance(s, dict):
            raise ValueError(f"{where}: expected an object with {', '.join(STOP_KEYS)}")
        unknown = sorted(set(s) - set(STOP_KEYS))
        if unknown:
            raise ValueError(f"{where}: unknown key {unknown[0]!r}; allowed: {', '.join(STOP_KEYS)}")
        caption = s.get("caption")
        if not isinstance(caption, str) or not caption.strip() or len(caption) > 600:
            raise ValueError(f"{where}: 'caption': expected text of 1 to 600 characters")
        changes = s.get("set", {})
        if not isinstance(changes, dict):
            raise ValueError(f"{where}: 'set': expected an object of configuration fields")
        if changes:
            current = current.replace(f"{where} 'set'", **changes)
        unit = s.get("unit", "record")
        if unit not in UNITS:
            raise ValueError(f"{where}: 'unit': expected one of {', '.join(UNITS)}, got {unit!r}")
        focus = s.get("focus")
        if focus is not None and focus not in VIEWS:
            raise ValueError(f"{where}: 'focus': expected one of {', '.join(VIEWS)}, got {focus!r}")
        compare = s.get("compare")
        if compare is not None:
            if not isinstance(compare, dict):
                raise ValueError(f"{where}: 'compare': expected an object of configuration fields or null")
            current.replace(f"{where} 'compare'", **compare)  # validate the second model's config
        train = _count(s.get("train", 0), "train", where, 100_000)
        until = _count(s.get("until", 0), "until", where, 100_000)
        if until and until < train:
            raise ValueError(f"{where}: 'until': expected at least 'train' ({train}), got {until}")
        restart = s.get("restart", False)
        if not isinstance(restart, bool):
            raise ValueError(f"{where}: 'restart': expected true or false, got {restart!r}")
        stops.append(Stop(caption=caption.strip(), set=dict(changes), train=train, restart=restart,
                          step=_count(s.get("step", 0), "step", where, 10_000), unit=unit, focus=focus,
                          compare=compare, has_compare="compare" in s, config=current,
                          claims=parse_claims(s.get("claims"), where), until=until))
    return stops


def until_slice(stop: Stop) -> int:
    """How many iterations a stop trains at a time after ``train`` while its claims do not hold."""
    return max(25, stop.train // 10)


def more_training(stop: Stop, trained: int, verdicts: list[Verdict], factor: float = 1.0) -> int:
    """Iterations to train next at a stop that has trained ``trained`` of its own (0: done):
    a slice while a claim does not hold and the cap ``until`` (scaled by ``factor``) allows it.
    A slice is at least a twentieth of the cap, so the claims are measured at most ~20 times."""
    cap = scaled(stop.until, factor)
    if not stop.until or all(v.holds for v in verdicts) or trained >= cap:
        return 0
    return min(max(scaled(until_slice(stop), factor), -(-cap // 20)), cap - trained)


def scaled(n: int, factor: float) -> int:
    """``n`` iterations scaled by ``factor`` (tests run scenarios quickly), at least 1 unless 0."""
    return 0 if n <= 0 else max(1, round(n * factor))


def copy_session(session):
    """An independent copy of a ``Session`` at the same iteration (the language tasks' chunk
    iterator is re-created at the same chunk instead of copied). Only reads ``session``: another
    thread may copy a session the UI thread is reading."""
    task = session.task
    it = getattr(task, "_iter", None)
    # step records and narrations are immutable (read-only arrays): shared, not copied
    from .session import Narration

    memo = {id(v): v for v in vars(session).values() if isinstance(v, (Step, Narration))}
    if it is not None:
        memo[id(it)] = None  # the copy's iterator: none (made again by ``seek`` below)
    twin = copy.deepcopy(session, memo)
    if it is not None:
        twin.task.seek(task.chunk)
    return twin


class Cancelled(Exception):
    """A ``ScenarioRun`` was told to stop (``should_stop`` returned True)."""


class ScenarioRun:
    """Stops played on plain sessions: ``run = ScenarioRun(cfg); run.enter(stop)`` then
    ``run.verdicts``. ``first`` is the main session, ``second`` the comparison's (or None),
    ``narration``/``cursor`` the narrated iteration being stepped through, like the app's
    controller (``state_before``: the first session's state just before it, so it can be saved).

    ``progress(done, total)`` is called while training; ``should_stop()`` returning True raises
    ``Cancelled`` (the app's background preparation of the next stop).

    ``chain``: the chain key of the state the run starts from (``snapshots.chain_keys``; a run
    built from ``cfg`` starts at its root key; None: a state changed by hand, no snapshot
    applies). ``shelf``: the shipped snapshots to use (None: always train). ``shipped_stop`` is
    True when the last stop entered was installed from the shelf. ``keep_last``: keep, in
    ``before_last``, both sessions' states just before the last iteration trained (what a
    snapshot file holds)."""

    def __init__(self, cfg: Config | None = None, *, first=None, second=None,
                 changes: dict[str, Any] | None = None, narration=None, state_before=None,
                 cursor: int = 0, factor: float = 1.0, chain: str | None = None, shelf=None) -> None:
        from .session import Session
        from .snapshots import root_key

        if first is None and cfg is not None and chain is None:
            chain = root_key(cfg)
        self.chain = chain
        self.shelf = shelf
        self.shipped_stop = False
        self.keep_last = False
        self.before_last = None
        self.first = first if first is not None else Session(cfg)
        self.second = second
        self.changes = dict(changes) if changes is not None else None
        self.narration = narration
        self.state_before = state_before
        self.cursor = cursor
        self.factor = factor
        self.verdicts: list[Verdict] = []
        self.trained = 0  # iterations the current stop trained (its "train" and any extra)
        self.progress: Callable[[int, int], None] | None = None
        self.should_stop: Callable[[], bool] | None = None

    @property
    def trace(self):
        """The narrated iteration's records (None: none narrated)."""
        return self.narration.trace if self.narration is not None else None

    @property
    def trace_iteration(self) -> int | None:
        """Updates done before the narrated iteration (its number minus one), or None."""
        return self.narration.iteration - 1 if self.narration is not None else None

    def _session(self, cfg: Config):
        from .session import Session

        return Session(cfg)

    # ------------------------------------------------------------------ one stop
    def enter(self, stop: Stop) -> list[Verdict]:
        """Apply ``set`` and ``compare``, take the steps, train (and train on while the claims do
        not hold, up to ``until``); returns the verdicts of its claims. A stop whose state is on
        the shelf is installed from there instead (its claims measured on it all the same)."""
        from .snapshots import chain_after

        key = chain_after(self.chain, stop)
        self.shipped_stop = False
        entry = None
        if self.shelf is not None and self.factor == 1.0 and self.first.blowup is None:
            entry = self.shelf.find(key, stop)
        if entry is not None:
            try:
                first, second = self.shelf.load(entry, stop.config)
            except (ValueError, OSError) as e:
                self.shelf.problems.append(f"snapshot {entry.scenario} stop {entry.stop}: {e}")
            else:
                self.first, self.second = first, second
                self.changes = dict(entry.changes) if entry.changes is not None else None
                self.narration, self.state_before, self.cursor = None, None, 0
                self.trained = entry.trained
                self.shipped_stop = True
                self.chain = key
                return self._claims(stop)
        self.chain = key
        if stop.set or stop.restart:
            self.apply_set(stop.set, stop.restart)
        if stop.has_compare:
            self.open_compare(stop.compare)
        if stop.step:
            self.step(stop.step, stop.unit)
        self.trained = 0
        if stop.train:
            self.train(scaled(stop.train, self.factor))
        return self._claims(stop)

    def _claims(self, stop: Stop) -> list[Verdict]:
        """Measure the stop's claims; train on in slices while one does not hold (up to ``until``)."""
        self.verdicts = check(stop.claims, self.first, self.second)
        while (n := more_training(stop, self.trained, self.verdicts, self.factor)) and self.first.blowup is None:
            self.train(n)
            self.verdicts = check(stop.claims, self.first, self.second)
        return self.verdicts

    def apply_set(self, changes: dict[str, Any], restart: bool = False) -> None:
        cfg = self.first.cfg.replace("scenario 'set'", **changes) if changes else self.first.cfg
        if restart or "seed" in changes or cfg.structural_changes(self.first.cfg):
            self.first = self._session(cfg)
            self.narration, self.state_before, self.cursor = None, None, 0
            if self.changes is not None:
                self.second = self._session(cfg.replace("compare", **self.changes))
        else:
            self.first.set_hyper(**changes)
            if self.second is not None:
                keep = {k: v for k, v in changes.items() if k not in (self.changes or {})}
                if keep:
                    self.second.set_hyper(**keep)

    def open_compare(self, changes: dict[str, Any] | None) -> None:
        if changes is None:
            self.second, self.changes = None, None
            return
        self.changes = dict(changes)
        self.second = self._session(self.first.cfg.replace("compare", **changes))
        self._follow()

    def _follow(self) -> None:
        """The second session trained up to the first one's iteration, narrating the iteration the
        first one narrated (the app's lock-step)."""
        s2 = self.second
        if s2 is None:
            return
        want = self.trace_iteration
        with np.errstate(all="ignore"):
            while s2.iteration < self.first.iteration and s2.blowup is None:
                if want is not None and s2.iteration == want:
                    s2.narrated_step()
                else:
                    s2.train_step()

    def _narrate(self, cursor: int | None) -> None:
        s = self.first
        if s.blowup is not None:
            return
        from .session_io import capture_state

        state = capture_state(s)
        with np.errstate(all="ignore"):
            tr = s.narrated_step()
        if tr is None or len(tr) == 0 or s.last_narration is None or s.last_narration.trace is not tr:
            return
        self.narration, self.state_before = s.last_narration, state
        self.cursor = len(tr) - 1 if cursor is None else min(cursor, len(tr) - 1)
        self._follow()

    def step(self, n: int, unit: str) -> None:
        """``n`` steps of ``unit`` (record, phase or iteration), as the controller takes them."""
        for _ in range(n):
            at_end = self.trace is None or self.cursor >= len(self.trace) - 1
            if unit == "iteration":
                self._narrate(None)
            elif at_end:
                self._narrate(0)
            elif unit == "phase":
                self.cursor = self.trace.next_phase(self.cursor)
            else:
                self.cursor += 1
            if self.first.blowup is not None and (self.trace is None or self.cursor >= len(self.trace) - 1):
                break

    def train(self, n: int) -> None:
        """``n`` iterations of both sessions in lock-step (stops at a non-finite value)."""
        s = self.first
        with np.errstate(all="ignore"):
            for i in range(n):
                if s.blowup is not None:
                    break
                if self.should_stop is not None and self.should_stop():
                    raise Cancelled()
                if self.keep_last and i == n - 1:
                    from .session_io import capture_state

                    s2 = self.second
                    self.before_last = (capture_state(s),
                                        capture_state(s2) if s2 is not None and s2.iteration == s.iteration else None)
                s.train_step()
                # like the app's training, it lands on the newest iteration: between iterations
                self.narration, self.state_before, self.cursor = None, None, 0
                if s.blowup is None:
                    self.trained += 1
                    self._follow()
                if self.progress is not None and (i % 50 == 0 or i == n - 1):
                    self.progress(i + 1, n)
