"""Shipped snapshots: long scenario stops computed once and kept in ``assets/snapshots/``.

A lecture stop that trains for thousands of iterations would keep the room waiting (minutes on a
two-core laptop). The state such a stop leads to, at the preset's own seed, is shipped as
session files (``engine.training.session_io``) and installed instead of training -- but only while
it is still the state the scenario would compute:

- **The chain key** (``chain_keys``) is a SHA-256 over the training-relevant content of the
  scenario up to that stop: the preset's configuration without its presentation fields
  (``PRESENTATION``: title, description, the scenario text itself...) and, for every stop that
  changes the sessions, its ``set``, ``train``, ``until``, ``step``/``unit``, ``compare`` and
  ``restart``. Captions, claims' wording, focus and stops that only show something (no
  training content) do not enter it: editing a caption or adding such a stop keeps every
  snapshot; changing the seed, a setting or an iteration count drops the ones after it.
- **Claims that decide training**: a stop with ``until`` trains on while its claims do not hold,
  so its claims' checkable parts (kind, model, bounds, k, state, window, n) are stored with the
  snapshot. The snapshot is used while the stop still has every one of them; claims added since
  are measured on the installed state and, when one does not hold, training goes on from there
  exactly as a live run would (a live run could not have stopped earlier: the stored claims
  first held there). A stored claim removed or changed drops the snapshot.
- **The engine's numerics**: a probe (``probe``) trains each configuration in force
  ``PROBE_ITERATIONS`` iterations from scratch and records its losses, validation metric and the
  sum of its absolute parameters; the snapshot is used only while today's engine gives the same
  numbers (relative tolerance ``PROBE_RTOL``: different BLAS builds round differently in the
  last bits, a changed formula does not hide there). A change that the first iterations cannot
  show is caught by the soak test that retrains a shipped stop from scratch.

Files: ``assets/snapshots/index.json`` (format ``bpttviz-snapshots``, version 1: a list of
entries with ``key``, ``scenario``, ``stop`` (1-based), ``first``/``second`` (session file
names; ``second`` null without a comparison), ``changes`` (the comparison's configuration
changes), ``trained`` (iterations the stop itself trained), ``iteration``, ``claims`` (the
until-claims, see above) and ``probe`` (``{"first": [...], "second": [...]}``); and one session
file per model. A session file holds the state *one iteration before* the stop's end: installing
runs that last iteration again (bit for bit the same), so the batch, the update record and the
loss of the iteration on screen are there as after a live run. ``python -m
bpttviz.commands.make_snapshots`` writes them all again.
"""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..data.paths import asset_path
from .config import Config

FORMAT_NAME = "bpttviz-snapshots"
FORMAT_VERSION = 1
INDEX = "index.json"
#: configuration keys that do not change what a session computes
PRESENTATION = frozenset({"title", "description", "scenario", "views", "side_by_side"})
#: the checkable parts of a claim (``says`` is wording)
CLAIM_FIELDS = ("kind", "model", "min", "max", "k", "state", "window", "n")
PROBE_ITERATIONS = 3
PROBE_RTOL = 1e-9


# ------------------------------------------------------------------------------------ keys
def _digest(obj: Any) -> str:
    return hashlib.sha256(json.dumps(obj, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


def training_fields(cfg: Config) -> dict[str, Any]:
    """The configuration as a dict without its presentation fields."""
    return {k: v for k, v in cfg.to_dict().items() if k not in PRESENTATION}


def root_key(cfg: Config) -> str:
    """The chain key of a fresh session of ``cfg`` (iteration 0, no comparison)."""
    return _digest({"format": FORMAT_VERSION, "config": training_fields(cfg)})


def stop_content(stop) -> dict[str, Any] | None:
    """What a stop does to the sessions (None: it only shows something)."""
    if not (stop.set or stop.train or stop.step or stop.has_compare or stop.restart):
        return None
    return {"set": stop.set, "train": stop.train, "until": stop.until, "step": stop.step,
            "unit": stop.unit if stop.step else None, "compare": stop.compare if stop.has_compare else "-",
            "restart": stop.restart}


def chain_after(key: str | None, stop) -> str | None:
    """The chain key after entering ``stop`` from the state keyed ``key`` (None stays None)."""
    if key is None:
        return None
    content = stop_content(stop)
    return key if content is None else _digest({"after": key, "stop": content})


def chain_keys(cfg: Config, stops) -> list[str]:
    """The chain key after each stop of a scenario started from a fresh session of ``cfg``."""
    keys, key = [], root_key(cfg)
    for stop in stops:
        key = chain_after(key, stop)
        keys.append(key)
    return keys


def claim_content(claim) -> dict[str, Any]:
    return {f: getattr(claim, f) for f in CLAIM_FIELDS}


# ------------------------------------------------------------------------------------ the probe
def probe(cfg: Config) -> list[float]:
    """The engine's numbers for ``cfg``: the losses of the first ``PROBE_ITERATIONS`` iterations
    of a fresh session, its validation metric then and the sum of its absolute parameters."""
    from .session import Session

    s = Session(cfg)
    losses = []
    with np.errstate(all="ignore"):
        for _ in range(PROBE_ITERATIONS):
            s.train_step()
            losses.append(float(s.last_loss) if s.last_loss is not None else math.nan)
        metric = float(s.metric())
    total = float(sum(np.abs(p).sum() for p in s.model.params.values()))
    return [*losses, metric, total]


def probes_agree(a, b, rtol: float = PROBE_RTOL) -> bool:
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    return a.shape == b.shape and bool(np.allclose(a, b, rtol=rtol, atol=0.0, equal_nan=True))


# ------------------------------------------------------------------------------------ the shelf
@dataclass(frozen=True)
class Entry:
    """One shipped stop (see the module docstring for the fields)."""

    key: str
    scenario: str
    stop: int
    first: str
    second: str | None
    changes: dict[str, Any] | None
    trained: int
    iteration: int
    claims: tuple[dict[str, Any], ...]
    probe: dict[str, list[float]]

    def to_dict(self) -> dict[str, Any]:
        return {"key": self.key, "scenario": self.scenario, "stop": self.stop, "first": self.first,
                "second": self.second, "changes": self.changes, "trained": self.trained,
                "iteration": self.iteration, "claims": list(self.claims), "probe": self.probe}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Entry:
        return cls(str(d["key"]), str(d["scenario"]), int(d["stop"]), str(d["first"]),
                   None if d.get("second") is None else str(d["second"]),
                   None if d.get("changes") is None else dict(d["changes"]), int(d["trained"]),
                   int(d["iteration"]), tuple(dict(c) for c in d.get("claims", ())),
                   {k: [float(x) for x in v] for k, v in d.get("probe", {}).items()})


def with_presentation(cfg: Config, source: Config) -> Config:
    """``cfg`` with the presentation fields of ``source`` (what a snapshot made from another
    wording of the same scenario shows as its title, description and scenario)."""
    d = training_fields(cfg)
    d.update({k: v for k, v in source.to_dict().items() if k in PRESENTATION})
    return Config.from_dict(d, "snapshot")


def default_folder() -> Path | None:
    try:
        return asset_path("snapshots")
    except (FileNotFoundError, ValueError):
        return None


class Shelf:
    """The shipped snapshots in ``folder`` (default ``assets/snapshots``): ``find`` the one for a
    chain key, ``load`` it. Probes are computed once per configuration and kept. Thread-safe
    enough for the app's one background preparation at a time (reads only; a probe computed twice
    gives the same answer)."""

    def __init__(self, folder: str | Path | None = None) -> None:
        self.folder = Path(folder) if folder is not None else default_folder()
        self._entries: dict[str, Entry] | None = None
        self._probes: dict[str, list[float]] = {}
        self.problems: list[str] = []  # why an index or a file could not be used

    @property
    def entries(self) -> dict[str, Entry]:
        if self._entries is None:
            self._entries = {}
            path = self.folder / INDEX if self.folder is not None else None
            if path is not None and path.is_file():
                try:
                    data = json.loads(path.read_text(encoding="utf-8"))
                    if data.get("format") != FORMAT_NAME or data.get("format_version") != FORMAT_VERSION:
                        raise ValueError(f"expected format {FORMAT_NAME} version {FORMAT_VERSION}")
                    for d in data["snapshots"]:
                        e = Entry.from_dict(d)
                        self._entries[e.key] = e
                except (ValueError, KeyError, TypeError) as err:
                    self.problems.append(f"{path}: {err}")
                    self._entries = {}
        return self._entries

    def probe_of(self, cfg: Config) -> list[float]:
        k = _digest(training_fields(cfg))
        if k not in self._probes:
            self._probes[k] = probe(cfg)
        return self._probes[k]

    def find(self, key: str | None, stop) -> Entry | None:
        """The snapshot of the state after ``stop`` reached along chain ``key`` (None: none
        applies). Checks the until-claims and the numerics probe of each configuration."""
        if key is None or stop_content(stop) is None:
            return None
        e = self.entries.get(key)
        if e is None:
            return None
        if stop.until:
            have = [claim_content(c) for c in stop.claims]
            if any(c not in have for c in e.claims):
                return None
        cfg = stop.config
        if cfg is None:
            return None
        try:
            if not probes_agree(self.probe_of(cfg), e.probe.get("first", ())):
                return None
            if e.second is not None:
                cfg2 = cfg.replace("compare", **(e.changes or {}))
                if not probes_agree(self.probe_of(cfg2), e.probe.get("second", ())):
                    return None
        except ValueError as err:
            self.problems.append(f"snapshot {e.scenario} stop {e.stop}: {err}")
            return None
        return e

    def load(self, entry: Entry, cfg: Config | None = None):
        """``(first, second)`` sessions of ``entry`` at its iteration (second None without a
        comparison): each file is opened one iteration before and that iteration trained again.
        ``cfg``: the configuration in force at the stop now; the sessions take its presentation
        fields (title, description, scenario...), which the chain key leaves out."""
        from .session_io import load_session

        def one(name: str):
            s, _ = load_session(self.folder / name)
            if cfg is not None:
                s.cfg = with_presentation(s.cfg, cfg)
            with np.errstate(all="ignore"):
                s.train_step()
            if s.blowup is not None or s.iteration != entry.iteration:
                raise ValueError(f"snapshot {name}: expected iteration {entry.iteration}, got {s.iteration}")
            return s

        return one(entry.first), (one(entry.second) if entry.second is not None else None)


_SHELF: Shelf | None = None


def shipped() -> Shelf:
    """The shelf of ``assets/snapshots`` (one per process: its probes are kept)."""
    global _SHELF
    if _SHELF is None:
        _SHELF = Shelf()
    return _SHELF


def write_index(folder: Path, entries: list[Entry]) -> Path:
    path = folder / INDEX
    data = {"format": FORMAT_NAME, "format_version": FORMAT_VERSION,
            "snapshots": [e.to_dict() for e in sorted(entries, key=lambda e: (e.scenario, e.stop))]}
    path.write_text(json.dumps(data, indent=1) + "\n", encoding="utf-8")
    return path
