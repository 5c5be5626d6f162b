"""The gradient doctor: check anyone's hand-written backward pass and point at the bug.

``check(f, params, inputs, targets, seq_axis=...)`` takes the user's own
``f(params, inputs, targets) -> (loss, grads)`` (``params`` and ``grads`` dicts of arrays with the
same keys and shapes; any naming, row- or column-vector convention) and compares every gradient
with central differences (``engine.gradcheck``), then reads the *pattern* of the errors:

- re-checked on the first 1, 2, 3, ... timesteps (``seq_axis``): "correct for T=1, wrong from T=2"
  puts the bug in the path from h_t back to h_{t-1}, not in the output layer;
- a ratio analytic / numerical that is the same for every entry is a scale factor: -1 is a sign
  flip, B or T (or 1/B, 1/T) a reduction mismatch (sum vs mean), 0 a dropped term;
- *which* parameters are wrong: only the biases (not summed over the batch), only a square matrix
  (the recurrent weights), everything (the loss derivative, where the backward pass starts), or
  everything below a layer that is right (an activation derivative).

Recurrent parameters are inferred from behaviour and shape (square matrices whose gradient is zero
or right for T=1 and wrong from T=2), with names only as a secondary clue.

The caller's arrays are never touched: ``params`` are copied to float64 working arrays, and every
call of ``f`` gets fresh copies of the parameters, inputs and targets, so even an ``f`` that
modifies its arguments in place is measured correctly. Code that raises, returns the wrong keys,
shapes, a non-scalar loss or NaN gives a report line (with the user's file and line), never an
exception. Big parameters are checked on a seeded random subset of their entries, said so in the
report, so a model with H = 100 checks in seconds.
"""

from __future__ import annotations

import copy
import math
import re
import textwrap
import time
import traceback
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .gradcheck import noise_floor, relative_error

Array = np.ndarray

#: Entries checked per parameter in the full-length check (all of them when the parameter is smaller).
MAX_ENTRIES = 200
#: Entries per parameter when re-checking shorter sequences.
SCAN_ENTRIES = 48
#: Worst entries kept per parameter.
WORST = 3
#: Seconds the numerical gradients may take before the entries checked per parameter are reduced.
BUDGET = 20.0


# --------------------------------------------------------------------------------------- records
@dataclass(frozen=True)
class Entry:
    """One checked entry of a parameter: its index and the two gradients there."""

    index: tuple[int, ...]
    analytic: float
    numerical: float


@dataclass
class ParamCheck:
    """The check of one parameter.

    ``error`` is ``relative_error`` over the checked entries (NaN when it could not be compared,
    see ``problem``); ``diff`` has the parameter's shape, ``analytic - numerical`` at the checked
    entries and NaN elsewhere; ``factor`` is the least-squares ratio analytic / numerical when it
    holds for every checked entry (None otherwise); ``zeros`` counts checked entries where the
    analytic gradient is zero but the numerical one is clearly not."""

    name: str
    shape: tuple[int, ...]
    error: float = math.nan
    ok: bool = False
    checked: int = 0
    size: int = 0
    worst: list[Entry] = field(default_factory=list)
    diff: Array | None = None
    factor: float | None = None
    zeros: int = 0
    active: bool = False  # some gradient (analytic or numerical) is above the noise floor
    transposed: bool = False  # the analytic gradient is the transpose of the numerical one
    problem: str | None = None


@dataclass
class Report:
    """What ``check`` found. ``format()`` renders it for a terminal.

    - ``ok``: every parameter agrees within ``tol`` and nothing was wrong with the function.
    - ``params``: name -> ``ParamCheck``; ``per_param``, ``worst`` and ``diff`` are views of it.
    - ``hints``: plain-language sentences about the likely bug (empty when ``ok``).
    - ``errors``: problems with the function itself (raised, wrong keys/shapes, NaN...), one
      sentence each; ``notes``: things worth knowing that are not errors (subsets, conversions).
    - ``first_bad_length``: with ``seq_axis``, the shortest prefix of the sequences on which some
      gradient is wrong (None when all pass or it could not be determined); ``length_errors``:
      prefix length -> name -> relative error for every prefix re-checked.
    """

    ok: bool = False
    params: dict[str, ParamCheck] = field(default_factory=dict)
    hints: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    first_bad_length: int | None = None
    length_errors: dict[int, dict[str, float]] = field(default_factory=dict)
    seq_len: int | None = None
    batch_size: int | None = None
    loss: float | None = None
    eps: float = 1e-5
    tol: float = 1e-5
    function: str = "f"

    @property
    def per_param(self) -> dict[str, float]:
        """Name -> max relative error (NaN where the gradient could not be compared)."""
        return {name: pc.error for name, pc in self.params.items()}

    @property
    def worst(self) -> dict[str, list[Entry]]:
        """Name -> the worst checked entries, largest ``|analytic - numerical|`` first."""
        return {name: pc.worst for name, pc in self.params.items()}

    @property
    def diff(self) -> dict[str, Array]:
        """Name -> ``analytic - numerical`` in the parameter's shape (NaN where not checked)."""
        return {name: pc.diff for name, pc in self.params.items() if pc.diff is not None}

    def lines(self) -> list[str]:
        """The report as lines of text: problems, the per-parameter table, the first bad length,
        the hints, notes and a one-line verdict."""
        out = [f"Gradient check of {self.function}" + (
            f": loss {self.loss:.6g}, eps {self.eps:g}, tol {self.tol:g}" if self.loss is not None else "")]
        if self.errors:
            out += ["", "Problems:"] + [_bullet(e) for e in self.errors]
        rows = [pc for pc in self.params.values() if pc.problem is None and pc.diff is not None]
        if rows:
            out += ["", *_table(rows)]
        if self.first_bad_length is not None:
            out += ["", "Sequence length: " + self.length_sentence()]
        elif self.seq_len is not None and self.ok:
            out += ["", f"Sequence length: all {self.seq_len} timesteps checked, correct."]
        if self.hints:
            out += ["", "Hints:"] + [_bullet(h) for h in self.hints]
        if self.notes:
            out += ["", "Notes:"] + [_bullet(n) for n in self.notes]
        out += ["", self.verdict()]
        return out

    def format(self) -> str:
        """``lines()`` joined: a readable report for a terminal."""
        return "\n".join(self.lines())

    def length_sentence(self) -> str:
        """"correct for T=1, wrong from T=2" (or "already wrong for T=1 ...")."""
        L = self.first_bad_length
        if L is None:
            return ""
        if L == 1:
            return "already wrong for T=1 (a single step: no gradient flows through time yet)."
        good = "T=1" if L == 2 else f"T=1..{L - 1}"
        return f"correct for {good}, wrong from T={L}."

    def verdict(self) -> str:
        """One line: all correct, how many parameters are wrong, or that nothing could be compared."""
        if self.ok:
            n = len(self.params)
            return f"Result: all {n} gradients correct." if n != 1 else "Result: the gradient is correct."
        compared = [pc for pc in self.params.values() if pc.problem is None and pc.diff is not None]
        wrong = [pc.name for pc in compared if not pc.ok]
        unchecked = [pc.name for pc in self.params.values() if pc.problem is not None]
        if not compared:
            return "Result: FAILED, the gradients could not be compared (see Problems)."
        parts = []
        if wrong:
            parts.append(f"WRONG gradient for {', '.join(wrong)} ({len(wrong)} of {len(self.params)})")
        if unchecked:
            parts.append(f"{', '.join(unchecked)} could not be checked (see Problems)")
        if not wrong and len(compared) + len(unchecked) == len(self.params):
            parts.append("the others are correct")
        return "Result: " + ("; ".join(parts) if parts else "FAILED (see Problems)") + "."

    # ------------------------------------------------------------------ transport
    def to_dict(self) -> dict[str, Any]:
        """Plain Python data (JSON-serialisable; arrays become nested lists)."""
        def pc_dict(pc: ParamCheck) -> dict[str, Any]:
            return dict(name=pc.name, shape=list(pc.shape), error=pc.error, ok=pc.ok, checked=pc.checked,
                        size=pc.size, worst=[dict(index=list(e.index), analytic=e.analytic,
                                                  numerical=e.numerical) for e in pc.worst],
                        diff=None if pc.diff is None else pc.diff.tolist(), factor=pc.factor,
                        zeros=pc.zeros, active=pc.active, transposed=pc.transposed, problem=pc.problem)

        return dict(ok=self.ok, params=[pc_dict(pc) for pc in self.params.values()], hints=list(self.hints),
                    errors=list(self.errors), notes=list(self.notes), first_bad_length=self.first_bad_length,
                    length_errors=[[L, errs] for L, errs in self.length_errors.items()],
                    seq_len=self.seq_len, batch_size=self.batch_size, loss=self.loss, eps=self.eps,
                    tol=self.tol, function=self.function)

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Report:
        """Inverse of ``to_dict``."""
        params = {}
        for p in d["params"]:
            shape = tuple(p["shape"])
            diff = None if p["diff"] is None else np.array(p["diff"], dtype=np.float64).reshape(shape)
            params[p["name"]] = ParamCheck(
                name=p["name"], shape=shape, error=p["error"], ok=p["ok"], checked=p["checked"],
                size=p["size"], worst=[Entry(tuple(e["index"]), e["analytic"], e["numerical"]) for e in p["worst"]],
                diff=diff, factor=p["factor"], zeros=p["zeros"], active=p["active"],
                transposed=p["transposed"], problem=p["problem"])
        return cls(ok=d["ok"], params=params, hints=list(d["hints"]), errors=list(d["errors"]),
                   notes=list(d["notes"]), first_bad_length=d["first_bad_length"],
                   length_errors={int(L): dict(errs) for L, errs in d["length_errors"]},
                   seq_len=d["seq_len"], batch_size=d["batch_size"], loss=d["loss"], eps=d["eps"],
                   tol=d["tol"], function=d["function"])


def _bullet(text: str, width: int = 96) -> str:
    """A wrapped bullet; `code spans` are never broken across lines."""
    glued = re.sub(r"`[^`]*`", lambda m: m.group(0).replace(" ", "\xa0"), text)
    return textwrap.fill(glued, width=width, initial_indent="  - ", subsequent_indent="    ").replace("\xa0", " ")


def _fmt_index(index: tuple[int, ...]) -> str:
    return "[" + ", ".join(str(i) for i in index) + "]" if index else ""


def _table(rows: list[ParamCheck]) -> list[str]:
    header = ("parameter", "shape", "checked", "rel. error", "", "worst entry: analytic vs numerical")
    body = []
    for pc in rows:
        worst = ""
        if not pc.ok and pc.worst:
            e = pc.worst[0]
            worst = f"{pc.name}{_fmt_index(e.index)}: {e.analytic:.6g} vs {e.numerical:.6g}"
        checked = f"{pc.checked}/{pc.size}" + ("*" if pc.checked < pc.size else "")
        body.append((pc.name, str(pc.shape), checked, f"{pc.error:.1e}", "ok" if pc.ok else "WRONG", worst))
    widths = [max(len(r[i]) for r in [header, *body]) for i in range(len(header))]
    just = [str.ljust, str.ljust, str.rjust, str.rjust, str.ljust, str.ljust]
    out = []
    for r in [header, *body]:
        out.append("  " + "  ".join(just[i](r[i], widths[i]) for i in range(len(r))).rstrip())
    if any(pc.checked < pc.size for pc in rows):
        out.append("  * a seeded random subset of the entries (see Notes)")
    return out


# --------------------------------------------------------------------------------------- user code
class UserCodeError(Exception):
    """A problem with the user's function, already phrased as one sentence for the report."""


def describe_exception(exc: BaseException, user_file: str | None = None) -> str:
    """``"IndexError: ... (rnn.py, line 42: `dh = dy[t] @ W_hy.T`)"``: the exception and the
    deepest line of the user's own file (``user_file``), else the deepest line outside this module."""
    if isinstance(exc, SystemExit):
        head = f"called exit({exc.code!r})" if exc.code is not None else "called exit()"
    else:
        msg = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
        if len(msg) > 200:
            msg = msg[:197] + "..."
        head = f"{type(exc).__name__}: {msg}" if msg else type(exc).__name__
    frames = traceback.extract_tb(exc.__traceback__)
    where = None
    if user_file:
        target = _same_file_key(user_file)
        mine = [fr for fr in frames if _same_file_key(fr.filename) == target]
        where = mine[-1] if mine else None
    if where is None:
        here = _same_file_key(__file__)
        others = [fr for fr in frames if _same_file_key(fr.filename) != here]
        where = others[-1] if others else None
    if where is not None:
        line = f": `{where.line.strip()}`" if where.line else ""
        head += f" ({Path(where.filename).name}, line {where.lineno}{line})"
    return head


def _same_file_key(path: str) -> str:
    try:
        return str(Path(path).resolve())
    except (OSError, ValueError):
        return path


_MISSING = "no gradient returned"


class _Caller:
    """Calls the user's function on fresh copies and validates what comes back."""

    def __init__(self, f: Callable, names: list[str]) -> None:
        self.f = f
        self.names = names
        self.name = getattr(f, "__name__", None) or type(f).__name__
        code = getattr(f, "__code__", None)
        self.user_file = code.co_filename if code is not None else None

    def raw(self, params: Mapping[str, Array], inputs: Any, targets: Any) -> Any:
        try:
            return self.f({k: v.copy() for k, v in params.items()}, copy.deepcopy(inputs), copy.deepcopy(targets))
        except KeyboardInterrupt:
            raise
        except BaseException as e:  # SystemExit too: the user's code must not end the checker
            raise UserCodeError(f"{self.name} raised {describe_exception(e, self.user_file)}") from None

    def call(self, params: Mapping[str, Array], inputs: Any, targets: Any) -> tuple[float, Any]:
        """``(loss, grads as returned)``; ``UserCodeError`` for anything unusable."""
        out = self.raw(params, inputs, targets)
        if not isinstance(out, (tuple, list)) or len(out) != 2:
            what = f"a {type(out).__name__}" + (f" of length {len(out)}" if isinstance(out, (tuple, list)) else "")
            raise UserCodeError(f"{self.name} must return (loss, grads), two values; it returned {what}")
        return self.loss_value(out[0]), out[1]

    def loss_value(self, value: Any) -> float:
        try:
            a = np.asarray(value, dtype=np.float64)
        except (TypeError, ValueError):
            raise UserCodeError(f"the loss must be a number; {self.name} returned a {type(value).__name__}") from None
        if a.size != 1:
            raise UserCodeError(f"the loss must be one number, but {self.name} returned an array of shape "
                                f"{a.shape}: sum (or average) the per-example and per-timestep losses")
        v = float(a.reshape(()))
        if not math.isfinite(v):
            raise UserCodeError(f"the loss is {v}: the forward pass overflows or takes the log of 0 "
                                "(a softmax without the max shift? a probability of exactly 0?)")
        return v


def _grads_problems(grads: Any, work: Mapping[str, Array], fname: str) -> tuple[dict[str, Array], dict[str, str],
                                                                               list[str]]:
    """Validate returned gradients: (usable float64 arrays, name -> problem, general problems)."""
    if not isinstance(grads, Mapping):
        kind = type(grads).__name__
        extra = " (in the same order as the parameters?)" if isinstance(grads, (tuple, list)) else ""
        return {}, {}, [f"the gradients must be a dict with the parameter names as keys; {fname} returned a "
                        f"{kind}{extra}"]
    usable: dict[str, Array] = {}
    problems: dict[str, str] = {}
    general: list[str] = []
    for name, p in work.items():
        if name not in grads:
            problems[name] = _MISSING
            continue
        if grads[name] is None:
            problems[name] = f"grads[{name!r}] is None (never computed?)"
            continue
        try:
            g = np.asarray(grads[name], dtype=np.float64)
        except (TypeError, ValueError):
            problems[name] = f"grads[{name!r}] is not an array of numbers (a {type(grads[name]).__name__})"
            continue
        if g.shape != p.shape:
            why = f"grads[{name!r}] has shape {g.shape} but params[{name!r}] has shape {p.shape}"
            if g.shape == p.shape[::-1] and len(p.shape) == 2:
                why += ": transposed (row- and column-vector conventions mixed?)"
            elif g.size == p.size:
                why += ": return each gradient in its parameter's shape"
            problems[name] = why
            continue
        bad = ~np.isfinite(g)
        if bad.any():
            what = "NaN" if np.isnan(g).any() else "Inf"
            problems[name] = f"grads[{name!r}] contains {what} ({int(bad.sum())} of {g.size} entries)"
            continue
        usable[name] = g
    missing = [n for n in work if n not in grads]
    extra = [k for k in grads if k not in work]
    if missing:
        general.append(f"the gradients have no entry for {', '.join(map(repr, missing))}")
    if extra:
        general.append(f"the gradients have entries that are not parameters: {', '.join(map(repr, extra))}")
        if missing and all(any(str(k).lstrip("d_") == n or str(k) == "d" + n for k in extra) for n in missing):
            general.append("name each gradient exactly like its parameter (grads['W'] for params['W'], "
                           "not grads['dW'])")
    return usable, problems, general


# --------------------------------------------------------------------------------------- comparing
@dataclass
class _Comparison:
    loss: float
    params: dict[str, ParamCheck]
    general: list[str]

    @property
    def bad(self) -> bool:
        return bool(self.general) or any(not pc.ok for pc in self.params.values())

    @property
    def failed(self) -> bool:
        """Whether anything other than a wrong gradient went wrong (unusable output)."""
        return bool(self.general) or any(pc.problem is not None for pc in self.params.values())


def _compare(caller: _Caller, work: dict[str, Array], inputs: Any, targets: Any,
             picks: Mapping[str, Array], eps: float, tol: float) -> _Comparison:
    """One analytic call and central differences at ``picks[name]`` (flat indices) per parameter."""
    loss, raw = caller.call(work, inputs, targets)
    grads, problems, general = _grads_problems(raw, work, caller.name)
    if not isinstance(raw, Mapping):  # nothing to compare
        return _Comparison(loss, {name: ParamCheck(name, p.shape, size=p.size) for name, p in work.items()}, general)
    atol = noise_floor(loss, eps)
    out: dict[str, ParamCheck] = {}
    for name, p in work.items():
        pc = ParamCheck(name, p.shape, size=p.size)
        out[name] = pc
        if name in problems:
            pc.problem = problems[name]
            continue
        idx = picks[name]
        try:
            num = _numerical(caller, work, name, idx, inputs, targets, eps)
        except UserCodeError as e:
            pc.problem = str(e)
            continue
        a = grads[name].reshape(-1)[idx]
        _fill(pc, a, num, idx, atol, tol)
        if pc.size == len(idx) and len(p.shape) == 2 and p.shape[0] == p.shape[1] > 1 and not pc.ok:
            at = grads[name].T.reshape(-1)
            pc.transposed = relative_error(at, num, atol) <= tol
    return _Comparison(loss, out, general)


def _numerical(caller: _Caller, work: dict[str, Array], name: str, idx: Array, inputs: Any, targets: Any,
               eps: float) -> Array:
    """Central differences ``(L(θ + ε e_i) - L(θ - ε e_i)) / 2ε`` at the flat indices ``idx`` of
    ``work[name]`` (perturbed in place and always restored)."""
    flat = work[name].reshape(-1)
    num = np.empty(len(idx))
    for j, i in enumerate(idx):
        orig = flat[i]
        try:
            flat[i] = orig + eps
            plus = caller.call(work, inputs, targets)[0]
            flat[i] = orig - eps
            minus = caller.call(work, inputs, targets)[0]
        except UserCodeError as e:
            where = _fmt_index(np.unravel_index(int(i), work[name].shape))
            raise UserCodeError(f"while {name}{where} was changed by ±{eps:g}: {e}") from None
        finally:
            flat[i] = orig
        num[j] = (plus - minus) / (2.0 * eps)
    return num


def _fill(pc: ParamCheck, a: Array, n: Array, idx: Array, atol: float, tol: float) -> None:
    """Error, worst entries, diff, and the shape of the error (factor, zeros) for one parameter."""
    pc.checked = len(idx)
    pc.error = relative_error(a, n, atol)
    pc.ok = bool(pc.error <= tol)
    d = a - n
    pc.diff = np.full(pc.shape, np.nan)
    pc.diff.reshape(-1)[idx] = d
    order = np.argsort(-np.abs(d), kind="stable")[:WORST]
    pc.worst = [Entry(tuple(int(k) for k in np.unravel_index(int(idx[j]), pc.shape)), float(a[j]), float(n[j]))
                for j in order]
    sa = float(np.max(np.abs(a))) if a.size else 0.0
    sn = float(np.max(np.abs(n))) if n.size else 0.0
    pc.active = max(sa, sn) > 0.25 * tol * atol  # below this no error could exceed tol
    if sn > 1e-3 * atol:  # the numerical gradient is resolved above round-off
        if sa <= 1e-9 * sn:
            pc.factor = 0.0
        else:
            c = float(np.dot(a, n) / np.dot(n, n))
            if np.max(np.abs(a - c * n)) <= 1e-3 * abs(c) * sn:
                pc.factor = c
        clear = (np.abs(n) > 1e-2 * sn) & (np.abs(n) > 1e-3 * atol)
        pc.zeros = int(np.sum(clear & (np.abs(a) <= 1e-12 * sn)))


# --------------------------------------------------------------------------------------- sequences
def _shape(obj: Any) -> tuple[int, ...] | None:
    try:
        return np.shape(obj)
    except (ValueError, TypeError):
        return None


def _prefix(obj: Any, axis: int, L: int) -> Any:
    """The first ``L`` entries of ``obj`` along ``axis``, keeping its type where it can."""
    if isinstance(obj, np.ndarray):
        sl = [slice(None)] * obj.ndim
        sl[axis] = slice(0, L)
        return obj[tuple(sl)].copy()
    if isinstance(obj, (list, tuple)) and axis == 0:
        return obj[:L]
    a = np.asarray(obj)
    sl = [slice(None)] * a.ndim
    sl[axis] = slice(0, L)
    a = a[tuple(sl)]
    return a.tolist() if isinstance(obj, list) else a


def _target_axis(targets: Any, seq_axis: int, inputs_ndim: int, T: int) -> int | None:
    """The time axis of ``targets``: ``seq_axis`` if it has length T there, else the same axis
    counted after the inputs' missing trailing (feature) axes; None for many-to-one targets."""
    shape = _shape(targets)
    if shape is None:
        return None
    candidates = [seq_axis]
    if len(shape) < inputs_ndim:
        candidates.append(seq_axis - (inputs_ndim - len(shape)))
    for a in candidates:
        if 0 <= a < len(shape) and shape[a] == T:
            return a
    return None


def _batch_size(inputs_shape: tuple[int, ...], targets: Any, seq_axis: int | None,
                batch_axis: int | None) -> int | None:
    """The batch size: ``inputs.shape[batch_axis]``, else guessed as the first non-time axis of
    the inputs whose length the targets share (at the same axis first). None if unknown."""
    nd = len(inputs_shape)
    if batch_axis is not None:
        return inputs_shape[batch_axis % nd] if nd and -nd <= batch_axis < nd else None
    axes = [k for k in range(nd) if k != seq_axis]
    if not axes:
        return 1 if seq_axis is not None else None
    tshape = _shape(targets) or ()
    for k in axes:
        if k < len(tshape) and tshape[k] == inputs_shape[k]:
            return inputs_shape[k]
    for k in axes:
        if inputs_shape[k] in tshape:
            return inputs_shape[k]
    return None


# --------------------------------------------------------------------------------------- check
def check(f: Callable, params: Mapping[str, Any], inputs: Any, targets: Any, *, seq_axis: int | None = None,
          eps: float = 1e-5, tol: float = 1e-5, batch_axis: int | None = None,
          max_entries: int = MAX_ENTRIES, seed: int = 0, budget: float = BUDGET) -> Report:
    """Check ``f(params, inputs, targets) -> (loss, grads)`` against central differences.

    params: dict name -> array (any shapes); grads must use the same names and shapes.
    seq_axis: the time axis of ``inputs`` (0 for a list of ids, 1 for ``(B, T, D)``, 2 for
    ``(B, D, T)``); targets are cut along their own time axis (found by length), or left alone when
    they have none (many-to-one). With it, a failing check is repeated on the first 1, 2, ...
    timesteps to find ``first_bad_length``.
    eps: the central-difference step; tol: the largest acceptable relative error per parameter
    (``engine.gradcheck.relative_error`` with the loss-scaled ``noise_floor``).
    batch_axis: the batch axis of ``inputs`` for naming a factor "the batch size" (guessed if None).
    max_entries: entries checked per parameter (a seeded random subset above it; ``seed``);
    budget: seconds the numerical gradients may take before fewer entries are checked.
    Never raises for problems in ``f``: they become ``report.errors``.
    """
    report = Report(eps=eps, tol=tol)
    report.function = getattr(f, "__name__", None) or type(f).__name__
    if not callable(f):
        report.errors.append(f"the function to check is not callable (got a {type(f).__name__})")
        return report
    if not isinstance(params, Mapping) or not params:
        report.errors.append("params must be a non-empty dict of arrays, name -> array "
                             f"(got {type(params).__name__}{' (empty)' if isinstance(params, Mapping) else ''})")
        return report
    work: dict[str, Array] = {}
    converted = []
    for name, value in params.items():
        try:
            if value is None:
                raise TypeError
            a = np.array(value, dtype=np.float64, copy=True)
        except (TypeError, ValueError):
            report.errors.append(f"params[{name!r}] is not an array of numbers (a {type(value).__name__})")
            continue
        if getattr(np.asarray(value), "dtype", None) != np.float64:
            converted.append(str(name))
        work[name] = a
    if report.errors:
        return report
    if converted:
        report.notes.append(f"Checked in float64: {', '.join(converted)} converted (finite differences need "
                            "float64 precision).")
    try:
        inputs, targets = copy.deepcopy(inputs), copy.deepcopy(targets)
    except Exception as e:
        report.errors.append(f"inputs and targets could not be copied: {describe_exception(e)}")
        return report

    in_shape = _shape(inputs) or ()
    T = None
    if seq_axis is not None:
        nd = len(in_shape)
        if isinstance(seq_axis, bool) or not isinstance(seq_axis, (int, np.integer)) or not -nd <= seq_axis < nd:
            report.notes.append(f"seq_axis={seq_axis!r} does not fit inputs of shape {in_shape}: shorter "
                                "sequences were not checked.")
            seq_axis = None
        else:
            seq_axis = int(seq_axis) % nd
            T = in_shape[seq_axis]
            report.seq_len = T
    report.batch_size = _batch_size(in_shape, targets, seq_axis, batch_axis)

    caller = _Caller(f, list(work))
    try:
        t0 = time.perf_counter()
        loss1, _ = caller.call(work, inputs, targets)
        t_call = time.perf_counter() - t0
        loss2, _ = caller.call(work, inputs, targets)
    except UserCodeError as e:
        report.errors.append(str(e))
        return report
    if abs(loss1 - loss2) > 1e-10 * max(1.0, abs(loss1)):
        report.errors.append(f"{caller.name} gives a different loss on two identical calls ({loss1:.10g}, "
                             f"{loss2:.10g}): random dropout or noise? Fix its random seed so that the loss is "
                             "a function of the parameters only.")
        return report

    # which entries: everything up to max_entries, fewer if one call is slow
    per_param = max(1, int(max_entries))
    affordable = int(budget / (2.0 * max(t_call, 1e-6) * len(work)))
    if affordable < per_param:
        per_param = max(5, affordable)
        report.notes.append(f"One call of {caller.name} takes {t_call * 1e3:.0f} ms: checked at most "
                            f"{per_param} entries per parameter to stay within about {budget:g} s.")
    rng = np.random.default_rng(seed)
    picks: dict[str, Array] = {}
    subset = []
    for name, p in work.items():
        if p.size <= per_param:
            picks[name] = np.arange(p.size)
        else:
            picks[name] = np.sort(rng.choice(p.size, per_param, replace=False))
            subset.append(f"{name} {per_param} of {p.size}")
    if subset:
        report.notes.append(f"Large parameters were checked on a random subset of their entries (seed {seed}): "
                            f"{', '.join(subset)}.")

    try:
        comp = _compare(caller, work, inputs, targets, picks, eps, tol)
    except UserCodeError as e:
        report.errors.append(str(e))
        return report
    report.loss = comp.loss
    report.params = comp.params
    report.errors += comp.general + [pc.problem for pc in comp.params.values() if pc.problem not in (None, _MISSING)]
    report.ok = not comp.bad

    scan: dict[int, _Comparison] = {}
    if not report.ok and not comp.failed and seq_axis is not None and T is not None:
        scan = _scan(caller, work, inputs, targets, seq_axis, len(in_shape), T, picks, eps, tol, report,
                     deadline=time.perf_counter() + budget)
        scan[T] = comp
    if not report.ok and not comp.failed:
        report.hints = _hints(report, comp, scan)
    return report


def _scan(caller: _Caller, work: dict[str, Array], inputs: Any, targets: Any, seq_axis: int, nd: int, T: int,
          picks: Mapping[str, Array], eps: float, tol: float, report: Report, *,
          deadline: float) -> dict[int, _Comparison]:
    """Re-check on the first 1, 2, ... timesteps until a gradient is wrong; sets
    ``report.first_bad_length`` and ``report.length_errors``."""
    t_axis = _target_axis(targets, seq_axis, nd, T)
    small = {}
    for name, idx in picks.items():
        keep = np.unique(np.linspace(0, len(idx) - 1, min(len(idx), SCAN_ENTRIES)).astype(int))
        small[name] = idx[keep]
    done: dict[int, _Comparison] = {}
    for L in range(1, T):
        if time.perf_counter() > deadline:
            report.notes.append(f"Stopped re-checking shorter sequences at T={L} to stay within the time budget.")
            return done
        x = _prefix(inputs, seq_axis, L)
        y = targets if t_axis is None else _prefix(targets, t_axis, L)
        try:
            comp = _compare(caller, work, x, y, small, eps, tol)
        except UserCodeError as e:
            report.notes.append(f"Could not re-check on the first {L} timestep{'s' if L > 1 else ''}: {e}")
            return done
        if comp.failed:
            problems = comp.general + [pc.problem for pc in comp.params.values() if pc.problem]
            report.notes.append(f"Could not re-check on the first {L} timestep{'s' if L > 1 else ''}: "
                                f"{problems[0]}")
            return done
        done[L] = comp
        report.length_errors[L] = {name: pc.error for name, pc in comp.params.items()}
        if comp.bad:
            report.first_bad_length = L
            return done
    report.length_errors[T] = report.per_param
    report.first_bad_length = T
    return done


# --------------------------------------------------------------------------------------- hints
_BIAS_NAME = re.compile(r"bias|^b", re.IGNORECASE)
_WEIGHT_NAME = re.compile(r"^(w|weight|u|v)", re.IGNORECASE)
_RECURRENT_NAME = re.compile(r"hh|rec|^u$|^w_?h$|^wh$", re.IGNORECASE)


def _is_bias(pc: ParamCheck) -> bool:
    big = [d for d in pc.shape if d > 1]
    if len(big) > 1 or not pc.shape:
        return False
    if _BIAS_NAME.search(pc.name):
        return True
    return not _WEIGHT_NAME.match(pc.name)


def _is_square(pc: ParamCheck) -> bool:
    return len(pc.shape) == 2 and pc.shape[0] == pc.shape[1] > 1


def _names(pcs: list[ParamCheck]) -> str:
    names = [pc.name for pc in pcs]
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]


def _factor_match(c: float, B: int | None, T: int | None) -> tuple[str, str] | None:
    """(what the factor is, which direction) when |c| matches B, T, B*T or 2 (else None)."""
    cands: list[tuple[float, str, str]] = []
    if B and B > 1:
        cands.append((B, f"the batch size B={B}", "batch"))
    if T and T > 1:
        cands.append((T, f"the sequence length T={T}", "time"))
    if B and T and B > 1 and T > 1:
        cands.append((B * T, f"B×T={B * T}, the batch size times the sequence length", "batch and time"))
    cands.append((2.0, "2, the ½ in `½(y - t)²`", "half"))
    a = abs(c)
    hits = [(k, what, axis, "large") for k, what, axis in cands if abs(a - k) <= 1e-3 * k]
    hits += [(k, what, axis, "small") for k, what, axis in cands if abs(a * k - 1) <= 1e-3]
    if not hits:
        return None
    k, what, axis, direction = hits[0]
    same = [h[1] for h in hits[1:] if h[0] == k and h[3] == direction]
    if same:
        what += " (and " + " and ".join(same) + ")"
    return what, f"{direction}:{axis}"


def _factor_text(c: float) -> str:
    if abs(c) >= 1:
        return f"{c:.4g} ×"
    return f"1/{1 / abs(c):.4g} of" if c > 0 else f"-1/{1 / abs(c):.4g} ×"


def _global_factor_hint(c: float, B: int | None, T: int | None) -> str:
    if c == 0.0:
        return ("Every gradient is zero although the numerical gradients are not: nothing reaches the "
                "parameters; the backward pass is not connected to the returned gradients (arrays created "
                "but never filled, or filled into a copy?).")
    if abs(c + 1) <= 1e-3:
        return ("Every gradient has exactly the opposite sign of the numerical one: the sign is flipped where "
                "the backward pass starts, e.g. `y - p` instead of `p - y` for the output delta, or the function "
                "returns the update direction (minus the gradient) instead of the gradient.")
    sign = " and the opposite sign" if c < 0 else ""
    m = _factor_match(c, B, T)
    head = f"Every gradient is exactly {_factor_text(c)} the numerical one{sign}"
    if m is None:
        return (head + ", the same factor for every entry: a scale factor is missing or extra (a 1/B, 1/T, "
                "a ½, a learning rate?). The loss and its gradients must be scaled alike.")
    what, kind = m
    direction, axis = kind.split(":")
    if axis == "half":
        return (head + f" — {what}: with the ½ the output delta is `y - t`; without it, `2(y - t)`. Use the same "
                "loss in the forward pass and in the derivative.")
    over = {"batch": "over the batch", "time": "over time", "batch and time": "over the batch and over time"}[axis]
    div = {"batch": "B", "time": "T", "batch and time": "B×T"}[axis]
    if direction == "large":
        fix = (f"the loss is averaged {over} (mean) but the gradients are summed (sum): divide the output "
               f"delta by {div} as well (`dy = (p - y) / {div}`), or sum the loss")
    else:
        fix = (f"the loss is summed {over} (sum) but the gradients are divided by {div} (mean): use the same "
               "reduction for the loss and its gradient")
    return f"{head}, and the factor is {what}: a reduction mismatch, sum vs mean — {fix}."


def _param_factor_hint(pc: ParamCheck, B: int | None, T: int | None) -> str:
    g = f"grads[{pc.name!r}]"
    c = pc.factor
    assert c is not None
    if c == 0.0:
        return (f"{g} is all zeros, but the numerical gradient is not: a term was dropped — the gradient is "
                "never accumulated (a missing `+=`, a loop that never runs, or the result assigned to a "
                "variable that is not returned).")
    if abs(c + 1) <= 1e-3:
        return (f"{g} has exactly the opposite sign of the numerical gradient in every entry: a minus sign "
                "where a plus belongs in this parameter's gradient (or `y - p` written for `p - y`).")
    m = _factor_match(c, B, T)
    text = f"{g} is exactly {_factor_text(c)} the numerical gradient in every entry"
    if m is not None:
        text += f"; the factor is {m[0]}"
    return text + ": this gradient is scaled differently from the loss (sum vs mean for this parameter only?)."


_OUTPUT_HINT = (
    "Every parameter is already wrong{when}, so the error enters where the backward pass starts: the derivative "
    "of the loss with respect to the outputs. With softmax followed by cross-entropy it is simply "
    "`dy = p - onehot(target)` (divided by B if the loss is a batch mean); do not multiply by an element-wise "
    "softmax derivative `p(1 - p)`: the softmax Jacobian is not diagonal, and with cross-entropy it all "
    "cancels to `p - y`. Also check that the softmax is normalised over the class axis, not over the batch. "
    "For squared error `½(y - t)²` the delta is `y - t`.")

_LOWER_HINT = (
    "{good} {good_verb} right but {bad} {bad_verb} wrong{when}: the loss derivative and the output layer are "
    "fine, so the bug is further down, where the delta is passed back into the layer below "
    "(`dh = dy W^T` in row form, `W^T dy` in column form) and through the activation's derivative. Evaluate "
    "the derivative at the right variable: for tanh it is `1 - h²` with `h = tanh(z)` (not `1 - z²`); for "
    "sigmoid `s(1 - s)` with `s = sigmoid(z)`; for ReLU `(z > 0)`.")

_RECURRENT_HINT = (
    "Correct for T=1, wrong from T={L}: a single step is right (output layer, loss derivative, one step back), "
    "so the bug is in the path from h_t back to h_{{t-1}}. At each step the gradient on h_t is the output's "
    "contribution plus the one arriving from the future, `dh = dy_t W_hy^T + dh_next` (column form "
    "`W_hy^T dy_t + dh_next`); it goes back through the activation derivative to dz_t and on to "
    "`dh_next = dz_t W_hh^T` (column form `W_hh^T dz_t`) for step t-1. Check that dh_next is added, not "
    "dropped or overwritten, and updated at every step. {who}")

_BIAS_HINT = (
    "Only the bias gradients ({bad}) are wrong while the weights are right: a bias is shared by every example "
    "(and every timestep), so its gradient is the delta summed over the batch (and over time): "
    "`db = dz.sum(axis=0)` in row form, `dz.sum(axis=1, keepdims=True)` in column form; not one example's "
    "delta `dz[0]`, and not the mean{factor}.")

_SQUARE_HINT = (
    "Only {bad} is wrong: a square matrix whose gradient involves the previous state, so presumably the "
    "recurrent weights. Its gradient is the sum over t of `h_{{t-1}}^T dz_t` (row form; column form "
    "`dz_t h_{{t-1}}^T`): pair each step's delta with the previous state h_{{t-1}}, not h_t, and accumulate "
    "over all steps.")


def _hints(report: Report, comp: _Comparison, scan: Mapping[int, _Comparison]) -> list[str]:
    """Plain-language sentences about the pattern of the errors (see the module docstring)."""
    B, T = report.batch_size, report.seq_len
    pcs = list(comp.params.values())
    bad = [pc for pc in pcs if not pc.ok]
    active = [pc for pc in pcs if pc.active]
    if not bad:
        return []
    hints: list[str] = []

    # 1. one factor for everything: a reduction mismatch, a sign flip, nothing connected
    factors = [pc.factor for pc in bad]
    if len(bad) == len(active) and all(c is not None for c in factors):
        c0 = factors[0]
        if all(abs(c - c0) <= 1e-3 * max(abs(c0), 1e-12) or c == c0 for c in factors):
            return [_global_factor_hint(c0, B, T)]

    # 2. what each wrong parameter looks like on its own (a bias scaled by 1/B is told in 3.)
    bias_bad = [pc for pc in bad if _is_bias(pc)]
    weights_ok = [pc for pc in active if pc.ok and not _is_bias(pc)]
    bias_only = len(bias_bad) == len(bad) and bool(weights_ok)
    explained = set()
    for pc in bad:
        if bias_only and pc.factor not in (None, 0.0):
            continue
        if pc.factor is not None and abs(pc.factor - 1) > 1e-3:
            hints.append(_param_factor_hint(pc, B, T))
            explained.add(pc.name)
        elif pc.transposed:
            hints.append(f"grads[{pc.name!r}] is the transpose of the right gradient: with h_{{t-1}} and dz_t as "
                         "rows (batch-first) it is `h_{t-1}^T dz_t`; with columns it is `dz_t h_{t-1}^T`.")
            explained.add(pc.name)
        elif pc.zeros >= max(2, math.ceil(pc.checked / 3)):
            hints.append(f"{pc.zeros} of the {pc.checked} checked entries of grads[{pc.name!r}] are zero where the "
                         "numerical gradient is not: a term is missing for them — a timestep or an example left "
                         "out of a loop or a sum (a loop over t that stops before t = 0?).")
            explained.add(pc.name)

    # 3. which parameters are wrong: where in the backward pass the bug sits
    if bias_only:
        fac = ""
        if B and B > 1 and all(pc.factor is not None and abs(pc.factor * B - 1) <= 1e-3 for pc in bias_bad):
            fac = f" (here they are exactly 1/B of the right values, B={B}: averaged instead of summed)"
        hints.append(_BIAS_HINT.format(bad=_names(bias_bad), factor=fac))
        return hints
    if all(pc.name in explained for pc in bad):
        return hints
    L = report.first_bad_length
    if L is not None and L >= 2:
        one = scan.get(1)
        late = [pc for pc in bad if one is None or one.params[pc.name].ok]
        rec = _recurrent(pcs, one)
        who = (f"Right at T=1 but wrong at T={T or L}: {_names(late)}, the parameters that get gradient "
               "through time.")
        if rec:
            quiet = one is not None and not any(one.params[pc.name].active for pc in rec)
            who += (f" The recurrent weights are presumably {_names(rec)} (square"
                    + (", and no gradient at T=1)." if quiet else ")."))
        if [pc.name for pc in bad] == [pc.name for pc in rec]:
            hints.append(_SQUARE_HINT.format(bad=_names(rec)))
        hints.append(_RECURRENT_HINT.format(L=L, who=who))
        return hints
    at = scan.get(1, comp) if L == 1 else comp
    when = " at T=1" if L == 1 else ""
    bad_at = [pc for pc in at.params.values() if not pc.ok]
    active_at = [pc for pc in at.params.values() if pc.active]
    if len(bad_at) == 1 and _is_square(bad_at[0]) and len(active_at) > 1:
        hints.append(_SQUARE_HINT.format(bad=bad_at[0].name))
    elif len(bad_at) == len(active_at):
        hints.append(_OUTPUT_HINT.format(when=when + (" with no gradient through time" if when else "")))
    else:
        good = [pc for pc in active_at if pc.ok]
        hints.append(_LOWER_HINT.format(good=_names(good), good_verb="are" if len(good) > 1 else "is",
                                        bad=_names(bad_at), bad_verb="are" if len(bad_at) > 1 else "is",
                                        when=when))
    return hints


def _recurrent(pcs: list[ParamCheck], one: _Comparison | None) -> list[ParamCheck]:
    """Presumed recurrent weights: square matrices, narrowed to those with no gradient at T=1
    (the state before the first step is usually zero), then by name."""
    squares = [pc for pc in pcs if _is_square(pc)]
    if len(squares) > 1 and one is not None:
        quiet = [pc for pc in squares if not one.params[pc.name].active]
        squares = quiet or squares
    if len(squares) > 1:
        named = [pc for pc in squares if _RECURRENT_NAME.search(pc.name)]
        squares = named or squares
    return squares
