"""Guided scenarios: an ordered list of stops a presenter advances through (lecture issue).

A preset may carry ``"scenario": [stop, ...]``. Each stop is a JSON object with any of:

- ``"caption"``: text shown while the stop is current (required; at most 600 characters);
- ``"set"``: configuration changes, validated exactly like a preset's fields; a structural change
  rebuilds the session (same seed), others apply live;
- ``"train"``: training iterations to run when the stop is entered (0..100000);
- ``"step"``: single-steps to take, counted in ``"unit"`` (``"record"``, ``"phase"`` or
  ``"iteration"``; default record);
- ``"focus"``: the view to raise (one of ``VIEWS``);
- ``"compare"``: configuration changes for a second model trained side by side on the same data
  (e.g. ``{"model": "lstm"}``), or ``null`` to close the comparison.

``parse_scenario`` validates every stop *and* the configuration each stop leads to, so a broken
scenario is refused when the preset is opened, never halfway through a lecture.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .config import Config

VIEWS = ("graph", "deltas", "weights", "decay", "loss", "task", "explain", "gradcheck", "attribution", "whatif")
UNITS = ("record", "phase", "iteration")
STOP_KEYS = ("caption", "set", "train", "step", "unit", "focus", "compare")
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
        stops.append(Stop(caption=caption.strip(), set=dict(changes),
                          train=_count(s.get("train", 0), "train", where, 100_000),
                          step=_count(s.get("step", 0), "step", where, 10_000), unit=unit, focus=focus,
                          compare=compare, has_compare="compare" in s, config=current))
    return stops
