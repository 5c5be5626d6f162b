"""The training configuration: one validated, serialisable record of every setting.

Presets (``assets/presets/*.json``), the app's configuration panel, the command line and
library calls all go through ``Config.from_dict``: one table of fields, one validator, so every
message names the field, the value and what is allowed, wherever the value came from.
"""

from __future__ import annotations

import dataclasses
import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .activations import ACTIVATIONS
from .models.init import INITS
from .optim import CLIP_MODES, OPTIMIZERS

SEQUENCE_TASKS = ("chars", "words", "adding", "copy", "parity", "sine")
MLP_TASKS = ("xor", "circles", "spirals", "blobs", "digits")
TASK_NAMES = SEQUENCE_TASKS + MLP_TASKS
MODELS = ("rnn", "lstm", "gru", "mlp")
BUILTIN_CORPORA = ("names", "tempest", "midsummer")

#: fields that change the model's shape or data: changing one rebuilds the session.
STRUCTURAL = frozenset({
    "task", "corpus", "model", "hidden_size", "hidden_layers", "activation", "seq_len", "stride", "lag",
    "init", "init_scale", "recurrent_norm", "forget_bias", "batch_size", "seed", "vocab_size",
    "n_samples", "noise", "test_fraction", "optimizer", "n_remember",
})

MAX_DOC_BYTES = 1_000_000  # a preset or config file larger than this is refused unread


@dataclass(frozen=True)
class Config:
    """Every setting of a training session. See ``FIELD_HELP`` for each field's meaning."""

    task: str = "chars"
    corpus: str = "names"
    model: str = "rnn"
    hidden_size: int = 100
    hidden_layers: tuple[int, ...] = (8, 8)
    activation: str = "tanh"
    seq_len: int = 25
    stride: int | None = None
    lag: int | None = None
    n_remember: int = 3
    truncation: int | None = None
    reduction: str = "sum"
    loss_label: str = ""
    optimizer: str = "adagrad"
    lr: float = 0.1
    clip: str = "value"
    clip_threshold: float = 5.0
    init: str = "small"
    init_scale: float = 1.0
    recurrent_norm: float | None = None
    forget_bias: float = 1.0
    batch_size: int = 1
    seed: int = 0
    vocab_size: int = 4000
    n_samples: int = 400
    noise: float = 0.2
    test_fraction: float = 0.2
    anneal: bool = False
    anneal_factor: float = 0.5
    anneal_patience: int = 200
    sample_every: int = 100
    sample_length: int = 200
    temperature: float = 1.0
    eval_every: int = 50
    diagnostics_every: int = 5
    title: str = ""
    description: str = ""
    extras: dict = field(default_factory=dict, compare=False)

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
        if self.task in ("xor", "circles", "spirals", "blobs") and self.n_samples < 10:
            raise bad(f"field 'n_samples': expected at least 10, got {self.n_samples}")

    @property
    def is_recurrent(self) -> bool:
        return self.model != "mlp"


# Keys presets may carry besides settings (scenarios, the lecture issue's stops, view choices):
# stored as given, validated by whoever reads them.
PASSTHROUGH = frozenset({"scenario", "views", "side_by_side"})


def _int(lo: int, hi: int, optional: bool = False):
    def check(v):
        if v is None and optional:
            return None
        if isinstance(v, bool) or not isinstance(v, int) or not lo <= v <= hi:
            opt = " or null" if optional else ""
            raise TypeError(f"expected a whole number from {lo} to {hi}{opt}")
        return v
    return check


def _float(lo: float, hi: float, optional: bool = False, open_lo: bool = False):
    def check(v):
        if v is None and optional:
            return None
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v) \
                or not (lo < v if open_lo else lo <= v) or v > hi:
            opt = " or null" if optional else ""
            rng = f"{'>' if open_lo else '>='} {lo:g} and <= {hi:g}"
            raise TypeError(f"expected a finite number {rng}{opt}")
        return float(v)
    return check


def _choice(*allowed: str):
    def check(v):
        if not isinstance(v, str) or v not in allowed:
            raise TypeError(f"expected one of {', '.join(map(repr, allowed))}")
        return v
    return check


def _text(max_len: int):
    def check(v):
        if not isinstance(v, str) or len(v) > max_len:
            raise TypeError(f"expected text of at most {max_len} characters")
        return v
    return check


def _bool(v):
    if not isinstance(v, bool):
        raise TypeError("expected true or false")
    return v


def _corpus(v):
    if not isinstance(v, str) or not v.strip() or len(v) > 4096 or "\x00" in v:
        raise TypeError(f"expected a built-in corpus ({', '.join(BUILTIN_CORPORA)}) or a path to a UTF-8 text file")
    return v


def _layers(v):
    if not isinstance(v, (list, tuple)) or not 1 <= len(v) <= 6 or any(
            isinstance(n, bool) or not isinstance(n, int) or not 1 <= n <= 1024 for n in v):
        raise TypeError("expected a list of 1 to 6 layer sizes, each a whole number from 1 to 1024")
    return tuple(v)


CHECKS = {
    "task": _choice(*TASK_NAMES),
    "corpus": _corpus,
    "model": _choice(*MODELS),
    "hidden_size": _int(1, 1024),
    "hidden_layers": _layers,
    "activation": _choice(*ACTIVATIONS),
    "seq_len": _int(1, 1000),
    "stride": _int(1, 1000, optional=True),
    "lag": _int(1, 1000, optional=True),
    "n_remember": _int(1, 20),
    "truncation": _int(1, 1000, optional=True),
    "reduction": _choice("mean", "sum"),
    "loss_label": _text(80),
    "optimizer": _choice(*OPTIMIZERS),
    "lr": _float(0.0, 100.0, open_lo=True),
    "clip": _choice(*CLIP_MODES),
    "clip_threshold": _float(0.0, 1e6, open_lo=True),
    "init": _choice(*INITS),
    "init_scale": _float(0.0, 100.0),
    "recurrent_norm": _float(0.0, 100.0, optional=True, open_lo=True),
    "forget_bias": _float(-10.0, 10.0),
    "batch_size": _int(1, 4096),
    "seed": _int(0, 2**32 - 1),
    "vocab_size": _int(4, 50_000),
    "n_samples": _int(1, 100_000),
    "noise": _float(0.0, 10.0),
    "test_fraction": _float(0.05, 0.9),
    "anneal": _bool,
    "anneal_factor": _float(0.0, 0.99, open_lo=True),
    "anneal_patience": _int(1, 1_000_000),
    "sample_every": _int(1, 1_000_000),
    "sample_length": _int(1, 10_000),
    "temperature": _float(0.01, 10.0),
    "eval_every": _int(1, 1_000_000),
    "diagnostics_every": _int(1, 1_000_000),
    "title": _text(200),
    "description": _text(4000),
}

FIELD_HELP = {
    "task": "what to train on", "corpus": "text for chars/words: built-in name or file path",
    "model": "rnn, lstm, gru or mlp", "hidden_size": "hidden units H (recurrent models)",
    "hidden_layers": "hidden layer sizes (mlp)", "activation": "hidden nonlinearity (rnn, mlp)",
    "seq_len": "timesteps T per training sequence",
    "stride": "tokens between chunk starts for language models (null = seq_len: contiguous chunks)",
    "lag": "distance the task must remember",
    "truncation": "BPTT window k (null = full)", "reduction": "sum or mean (sum / batch size)",
    "optimizer": "sgd, momentum, adagrad, adam", "lr": "learning rate",
    "clip": "none, value (element-wise) or norm (global)", "clip_threshold": "clipping threshold",
    "init": "weight initialisation", "init_scale": "multiplier on initial weights",
    "recurrent_norm": "largest singular value of the initial recurrent matrix (null = as drawn)",
    "forget_bias": "initial LSTM forget-gate bias", "batch_size": "sequences per batch",
    "seed": "random seed (same seed, same run)",
}


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
