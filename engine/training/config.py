"""The training configuration: one validated, serialisable record of every setting.

Presets (``assets/presets/*.json``), the app's configuration panel, the command line and
library calls all go through ``Config.from_dict``: one table of fields, one validator, so every
message names the field, the value and what is allowed, wherever the value came from.

``FIELDS`` is that table: one ``FieldSpec`` per setting (name, type, default, check with its
allowed values or range, help text, structural or live, and which models/tasks it applies to).
Everything else is derived from it: the ``Config`` dataclass itself, ``CHECKS``, ``STRUCTURAL``,
``LIVE``, ``FIELD_HELP``, and the questions a settings form asks: ``applies(field, cfg)``,
``is_live(field)``, ``field_range(field)``, ``field_choices(field)``.
"""

from __future__ import annotations

import dataclasses
import json
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..nn.activations import ACTIVATIONS
from ..nn.init import INITS
from ..nn.optim import CLIP_MODES, OPTIMIZERS

SEQUENCE_TASKS = ("chars", "words", "adding", "copy", "parity", "sine")
MLP_TASKS = ("xor", "circles", "spirals", "blobs", "digits")
TASK_NAMES = SEQUENCE_TASKS + MLP_TASKS
MODELS = ("rnn", "lstm", "gru", "mlp")
BUILTIN_CORPORA = ("names", "tempest", "midsummer")

MAX_DOC_BYTES = 1_000_000  # a preset or config file larger than this is refused unread



# ------------------------------------------------------------------------------- value checks
# Each check returns the value (converted where needed) or raises TypeError saying what is allowed;
# ``_check_field`` turns that into the ValueError naming the field and the value.
class _Int:
    def __init__(self, lo: int, hi: int, optional: bool = False) -> None:
        self.range, self.optional = (lo, hi), optional

    def __call__(self, v: Any) -> int | None:
        lo, hi = self.range
        if v is None and self.optional:
            return None
        if isinstance(v, bool) or not isinstance(v, int) or not lo <= v <= hi:
            opt = " or null" if self.optional else ""
            raise TypeError(f"expected a whole number from {lo} to {hi}{opt}")
        return v


class _Float:
    def __init__(self, lo: float, hi: float, optional: bool = False, open_lo: bool = False) -> None:
        self.range, self.optional, self.open_lo = (lo, hi), optional, open_lo

    def __call__(self, v: Any) -> float | None:
        lo, hi = self.range
        if v is None and self.optional:
            return None
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v) \
                or not (lo < v if self.open_lo else lo <= v) or v > hi:
            opt = " or null" if self.optional else ""
            rng = f"{'>' if self.open_lo else '>='} {lo:g} and <= {hi:g}"
            raise TypeError(f"expected a finite number {rng}{opt}")
        return float(v)


class _Choice:
    def __init__(self, *allowed: str) -> None:
        self.allowed = allowed

    def __call__(self, v: Any) -> str:
        if not isinstance(v, str) or v not in self.allowed:
            raise TypeError(f"expected one of {', '.join(map(repr, self.allowed))}")
        return v


def _text(max_len: int) -> Callable[[Any], str]:
    def check(v):
        if not isinstance(v, str) or len(v) > max_len:
            raise TypeError(f"expected text of at most {max_len} characters")
        return v
    return check


def _bool(v: Any) -> bool:
    if not isinstance(v, bool):
        raise TypeError("expected true or false")
    return v


class _Corpus:
    """A built-in corpus name (``suggestions``) or the path of a UTF-8 text file."""

    suggestions = BUILTIN_CORPORA
    paths = True

    def __call__(self, v: Any) -> str:
        if not isinstance(v, str) or not v.strip() or len(v) > 4096 or "\x00" in v:
            raise TypeError(f"expected a built-in corpus ({', '.join(BUILTIN_CORPORA)}) or a path to a UTF-8 "
                            "text file")
        return v


def _layers(v: Any) -> tuple[int, ...]:
    if not isinstance(v, (list, tuple)) or not 1 <= len(v) <= 6 or any(
            isinstance(n, bool) or not isinstance(n, int) or not 1 <= n <= 1024 for n in v):
        raise TypeError("expected a list of 1 to 6 layer sizes, each a whole number from 1 to 1024")
    return tuple(v)


# ------------------------------------------------------------------------------- the field table
@dataclass(frozen=True)
class FieldSpec:
    """One setting: ``name``, ``type`` (annotation text), ``default``, ``check`` (value -> value,
    ``TypeError`` saying what is allowed), ``help`` (one line for a tooltip; empty for the fields
    the settings form does not show), ``structural``
    (changing it rebuilds the model or its data; otherwise it applies live to a running session),
    ``applies_to``: conditions on other fields, all of which must hold for the setting to mean
    anything, e.g. ``{"model": ("lstm",)}`` (empty: it always applies), and ``null_text``: what
    null means, in a form's words, for the fields that allow it ("auto", "full BPTT")."""

    name: str
    type: str
    default: Any
    check: Callable[[Any], Any]
    help: str = ""
    structural: bool = False
    applies_to: Mapping[str, tuple[Any, ...]] = field(default_factory=dict)
    null_text: str = ""

    @property
    def choices(self) -> tuple[str, ...] | None:
        """The allowed values of a choice field, else None."""
        return getattr(self.check, "allowed", None)

    @property
    def range(self) -> tuple[float, float] | None:
        """``(lo, hi)`` of a number field, else None."""
        return getattr(self.check, "range", None)

    @property
    def optional(self) -> bool:
        """True when null (None) is allowed."""
        return bool(getattr(self.check, "optional", False))

    @property
    def suggestions(self) -> tuple[str, ...] | None:
        """Named values of a free-text field (the built-in corpora), else None."""
        return getattr(self.check, "suggestions", None)

    @property
    def paths(self) -> bool:
        """True when the value may be a file path."""
        return bool(getattr(self.check, "paths", False))


_RECURRENT = {"model": tuple(m for m in MODELS if m != "mlp")}
_LANGUAGE = {"task": ("chars", "words")}
_TOY_2D = ("xor", "circles", "spirals", "blobs")

FIELDS: dict[str, FieldSpec] = {spec.name: spec for spec in (
    FieldSpec("task", "str", "chars", _Choice(*TASK_NAMES), "what to train on", True),
    FieldSpec("corpus", "str", "names", _Corpus(), "text for chars/words: built-in name or file path", True,
              _LANGUAGE),
    FieldSpec("model", "str", "rnn", _Choice(*MODELS), "rnn, lstm, gru or mlp", True),
    FieldSpec("hidden_size", "int", 100, _Int(1, 1024), "hidden units H (recurrent models)", True, _RECURRENT),
    FieldSpec("hidden_layers", "tuple[int, ...]", (8, 8), _layers, "hidden layer sizes (mlp)", True,
              {"model": ("mlp",)}),
    FieldSpec("activation", "str", "tanh", _Choice(*ACTIVATIONS), "hidden nonlinearity (rnn, mlp)", True,
              {"model": ("rnn", "mlp")}),
    FieldSpec("seq_len", "int", 25, _Int(1, 1000), "timesteps T per training sequence", True, _RECURRENT),
    FieldSpec("stride", "int | None", None, _Int(1, 1000, optional=True),
              "tokens between chunk starts for language models (null = seq_len: contiguous chunks)", True, _LANGUAGE),
    FieldSpec("lag", "int | None", None, _Int(1, 1000, optional=True), "distance the task must remember", True,
              {"task": ("adding", "copy")}, null_text="auto"),
    FieldSpec("n_remember", "int", 3, _Int(1, 20), "", True,
              {"task": ("copy",)}),
    FieldSpec("truncation", "int | None", None, _Int(1, 1000, optional=True), "BPTT window k (null = full)",
              False, _RECURRENT, null_text="full BPTT"),
    FieldSpec("reduction", "str", "sum", _Choice("sum", "mean"), "sum or mean (sum / batch size)"),
    FieldSpec("loss_label", "str", "", _text(80), ""),
    FieldSpec("optimizer", "str", "adagrad", _Choice(*OPTIMIZERS), "sgd, momentum, adagrad, adam", True),
    FieldSpec("lr", "float", 0.1, _Float(0.0, 100.0, open_lo=True), "learning rate"),
    FieldSpec("clip", "str", "value", _Choice(*CLIP_MODES), "none, value (element-wise) or norm (global)"),
    FieldSpec("clip_threshold", "float", 5.0, _Float(0.0, 1e6, open_lo=True), "clipping threshold", False,
              {"clip": tuple(m for m in CLIP_MODES if m != "none")}),
    FieldSpec("init", "str", "small", _Choice(*INITS), "weight initialisation", True),
    FieldSpec("init_scale", "float", 1.0, _Float(0.0, 100.0), "multiplier on initial weights", True),
    FieldSpec("recurrent_norm", "float | None", None, _Float(0.0, 100.0, optional=True, open_lo=True),
              "largest singular value of the initial recurrent matrix (null = as drawn)", True, _RECURRENT,
              null_text="as drawn"),
    FieldSpec("forget_bias", "float", 1.0, _Float(-10.0, 10.0), "initial LSTM forget-gate bias", True,
              {"model": ("lstm",)}),
    FieldSpec("batch_size", "int", 1, _Int(1, 4096), "sequences per batch", True),
    FieldSpec("seed", "int", 0, _Int(0, 2**32 - 1), "random seed (same seed, same run)", True),
    FieldSpec("vocab_size", "int", 4000, _Int(4, 50_000), "", True,
              {"task": ("words",)}),
    FieldSpec("n_samples", "int", 400, _Int(10, 100_000), "", True,
              {"task": _TOY_2D}),
    FieldSpec("noise", "float", 0.2, _Float(0.0, 10.0), "", True,
              {"task": (*_TOY_2D, "sine")}),
    FieldSpec("test_fraction", "float", 0.2, _Float(0.05, 0.9), "",
              True, {"task": MLP_TASKS}),
    FieldSpec("anneal", "bool", False, _bool, ""),
    FieldSpec("anneal_factor", "float", 0.5, _Float(0.0, 0.99, open_lo=True),
              "", False, {"anneal": (True,)}),
    FieldSpec("anneal_patience", "int", 200, _Int(1, 1_000_000),
              "", False, {"anneal": (True,)}),
    FieldSpec("sample_every", "int", 100, _Int(1, 1_000_000), "", False,
              _LANGUAGE),
    FieldSpec("sample_length", "int", 200, _Int(1, 10_000), "", False, _LANGUAGE),
    FieldSpec("temperature", "float", 1.0, _Float(0.01, 10.0), "",
              False, _LANGUAGE),
    FieldSpec("eval_every", "int", 50, _Int(1, 1_000_000), ""),
    FieldSpec("diagnostics_every", "int", 5, _Int(1, 1_000_000), ""),
    FieldSpec("title", "str", "", _text(200), ""),
    FieldSpec("description", "str", "", _text(4000), ""),
)}

#: each field's check (value -> value, ``TypeError`` saying what is allowed)
CHECKS: dict[str, Callable[[Any], Any]] = {name: spec.check for name, spec in FIELDS.items()}
#: fields that change the model's shape or data: changing one rebuilds the session.
STRUCTURAL = frozenset(name for name, spec in FIELDS.items() if spec.structural)
#: fields that apply to a running session at once (``Session.set_hyper``)
LIVE = frozenset(FIELDS) - STRUCTURAL
#: one line of help per field the settings form shows (its tooltips)
FIELD_HELP: dict[str, str] = {name: spec.help for name, spec in FIELDS.items() if spec.help}


def _spec(name: str) -> FieldSpec:
    try:
        return FIELDS[name]
    except KeyError:
        raise ValueError(f"unknown field {name!r}; allowed fields: {', '.join(sorted(FIELDS))}") from None


def is_live(name: str) -> bool:
    """True when changing ``name`` applies to a running session at once (no rebuild)."""
    return not _spec(name).structural


def field_range(name: str) -> tuple[float, float] | None:
    """``(lo, hi)`` allowed for a number field (null also allowed when ``FIELDS[name].optional``);
    None for other fields."""
    return _spec(name).range


def field_choices(name: str) -> tuple[str, ...] | None:
    """The allowed values of a choice field; None for other fields."""
    return _spec(name).choices


def applies(name: str, cfg: Config | Mapping[str, Any]) -> bool:
    """Whether setting ``name`` means anything for configuration ``cfg`` (a ``Config`` or a
    mapping of field values; missing fields count as their defaults), e.g. ``forget_bias`` only
    for an LSTM, ``clip_threshold`` only when clipping. A form shows only the fields that apply."""
    values = cfg.to_dict() if isinstance(cfg, Config) else cfg
    return all(values.get(other, FIELDS[other].default) in allowed
               for other, allowed in _spec(name).applies_to.items())


class _ConfigMethods:
    """The methods of ``Config``; its fields are generated from ``FIELDS`` below."""

    # ------------------------------------------------------------------ construction
    @classmethod
    def from_dict(cls, data: Any, source: str = "config") -> Config:
        """Validate a mapping of field -> value (unknown keys refused) into a Config."""
        if not isinstance(data, dict):
            raise ValueError(f"{source}: expected a JSON object of settings, got {type(data).__name__}")
        known = {f.name for f in dataclasses.fields(cls)} - {"extras"}
        unknown = sorted(k for k in data if k not in known and k not in PASSTHROUGH)
        if unknown:
            raise ValueError(f"{source}: unknown field {unknown[0]!r}; allowed fields: {', '.join(sorted(known))}")
        values = {}
        for k, v in data.items():
            if k in known:
                values[k] = _check_field(k, v, source)
        extras = {k: data[k] for k in data if k in PASSTHROUGH}
        cfg = cls(**values, extras=extras)
        cfg._check_combination(source)
        return cfg

    def replace(self, source: str = "config", **changes: Any) -> Config:
        """A copy with ``changes`` validated the same way as a preset's fields."""
        d = self.to_dict()
        d.update(changes)
        return Config.from_dict(d, source)

    def to_dict(self) -> dict[str, Any]:
        d = {f.name: getattr(self, f.name) for f in dataclasses.fields(self) if f.name != "extras"}
        d["hidden_layers"] = list(self.hidden_layers)
        d.update(self.extras)
        return d

    def structural_changes(self, other: Config) -> set[str]:
        """Names of the structural fields that differ between self and other."""
        return {k for k in STRUCTURAL if getattr(self, k) != getattr(other, k)}

    # ------------------------------------------------------------------ cross-field rules
    def _check_combination(self, source: str) -> None:
        def bad(msg: str) -> ValueError:
            return ValueError(f"{source}: {msg}")

        if self.task in MLP_TASKS and self.model != "mlp":
            raise bad(f"model {self.model!r} cannot run task {self.task!r}; "
                      f"the 2-D and digits tasks need model 'mlp'")
        if self.task in SEQUENCE_TASKS and self.model == "mlp":
            raise bad(f"model 'mlp' cannot run the sequence task {self.task!r}; use 'rnn', 'lstm' or 'gru'")
        if self.lag is not None and self.task in ("adding", "copy") and self.lag > self.seq_len:
            raise bad(f"field 'lag': {self.lag} is longer than the sequence (seq_len={self.seq_len}); "
                      f"allowed: 1..{self.seq_len}")
        if self.task == "copy":
            lag = self.lag if self.lag is not None else self.seq_len - self.n_remember
            if lag <= self.n_remember:
                raise bad(f"field 'lag': copy task needs lag > n_remember ({self.n_remember}), got {lag}")
            if lag + self.n_remember != self.seq_len:
                raise bad(f"field 'seq_len': the copy task's length is lag + n_remember = "
                          f"{lag + self.n_remember}, got {self.seq_len}")
        if self.task == "adding" and self.seq_len < 2:
            raise bad("field 'seq_len': the adding problem needs at least 2 timesteps")

    @property
    def is_recurrent(self) -> bool:
        return self.model != "mlp"


Config = dataclasses.make_dataclass(
    "Config",
    [(spec.name, spec.type, field(default=spec.default)) for spec in FIELDS.values()]
    + [("extras", "dict", field(default_factory=dict, compare=False))],
    bases=(_ConfigMethods,), frozen=True)
Config.__module__ = __name__
Config.__doc__ = """Every setting of a training session, one field per entry of ``FIELDS`` (see
``FIELD_HELP`` for each one's meaning), plus ``extras``: the pass-through keys a preset may carry."""


# Keys presets may carry besides settings (a guided scenario's stops, view choices):
# stored as given, validated by whoever reads them.
PASSTHROUGH = frozenset({"scenario", "views", "side_by_side"})


def _check_field(name: str, value: Any, source: str) -> Any:
    try:
        return CHECKS[name](value)
    except TypeError as e:
        raise ValueError(f"{source}: field {name!r}: {e}, got {value!r}"[:600]) from None


def load_config_file(path: str | Path, source: str | None = None) -> Config:
    """Read a JSON preset/config file with size, encoding, syntax and nesting checks."""
    path = Path(path)
    source = source or f"preset {path.name}"
    try:
        size = path.stat().st_size
    except OSError as e:
        raise ValueError(f"{source}: cannot read {path}: {e.strerror}") from None
    if size > MAX_DOC_BYTES:
        raise ValueError(f"{source}: file is {size:,} bytes; presets are limited to {MAX_DOC_BYTES:,} bytes")
    try:
        text = path.read_bytes().decode("utf-8")
    except UnicodeDecodeError as e:
        raise ValueError(f"{source}: not UTF-8 text (bad byte at offset {e.start})") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as e:
        raise ValueError(f"{source}: not valid JSON: {e.msg} at line {e.lineno} column {e.colno}") from None
    except RecursionError:
        raise ValueError(f"{source}: JSON nested too deeply") from None
    return Config.from_dict(data, source)
