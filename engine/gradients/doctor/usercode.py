"""The user's function: calling it safely on fresh copies, validating what it returns, phrasing
its exceptions with the user's own file and line, and reading its source for the kind of loss."""

from __future__ import annotations

import copy
import inspect
import math
import re
import traceback
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import numpy as np

Array = np.ndarray
_HERE = Path(__file__).resolve().parent  # frames inside the doctor package are never "the user's line"

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
        others = [fr for fr in frames if Path(_same_file_key(fr.filename)).parent != _HERE]
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


MISSING = "no gradient returned"


class Caller:
    """Calls the user's function on fresh copies and validates what comes back."""

    def __init__(self, f: Callable, names: list[str]) -> None:
        self.f = f
        self.names = names
        self.name = getattr(f, "__name__", None) or type(f).__name__
        code = getattr(f, "__code__", None)
        self.user_file = code.co_filename if code is not None else None
        self.dtypes: set[str] = set()  # floating dtypes seen in what the function returns
        self.loss_dtypes: set[str] = set()  # ... in the loss it returns

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
        self._note_dtypes(out)
        return self.loss_value(out[0]), out[1]

    def _note_dtypes(self, out: Any) -> None:
        values = [out[0]] + (list(out[1].values()) if isinstance(out[1], Mapping) else [])
        for k, v in enumerate(values):
            dt = getattr(v, "dtype", None)
            if dt is not None and np.issubdtype(dt, np.floating):
                self.dtypes.add(np.dtype(dt).name)
                if k == 0:
                    self.loss_dtypes.add(np.dtype(dt).name)

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


def grads_problems(grads: Any, work: Mapping[str, Array], fname: str) -> tuple[dict[str, Array], dict[str, str],
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
            problems[name] = MISSING
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




# --------------------------------------------------------------------------------------- the loss, from source
_LOSS_LINE = re.compile(r"^\s*(?:self\.)?(\w*(?:loss|cost)\w*|J|L)\s*(?:[-+*/]?=)(?!=)(.*)$", re.IGNORECASE)
_SIGMOID = re.compile(r"sigmoid|expit|1\.?0?\s*/\s*\(\s*1\.?0?\s*\+\s*(?:np\.)?exp\(\s*-", re.IGNORECASE)
_SOFTMAX = re.compile(r"softmax|exp\([^\n]*\n?[^\n]*(?:/|divide)[^\n]*sum", re.IGNORECASE)
_SQUARE = re.compile(r"\*\*\s*2\b|np\.square|\bsquare\(|np\.power\([^)]*,\s*2\s*\)|\bmse\b", re.IGNORECASE)


def loss_kind(f: Callable) -> str | None:
    """What loss the user's code computes, read from the source file of ``f``: "softmax_ce"
    (softmax and a log), "sigmoid_ce" (sigmoid and a log), "sigmoid_se" (a sigmoid output and a
    squared error), "se" (a squared error, no sigmoid), or None when the source cannot be read or
    says nothing clear. Only the lines that assign a loss decide between a log and a square, so
    the ``1 - h**2`` of a tanh derivative is not taken for a squared error."""
    try:
        path = inspect.getsourcefile(f)
        text = Path(path).read_text(encoding="utf-8") if path else inspect.getsource(f)
    except (OSError, TypeError, UnicodeDecodeError):
        return None
    code = "\n".join(line.split("#", 1)[0] for line in text.splitlines())
    loss_lines = " ".join(m.group(2) for m in map(_LOSS_LINE.match, code.splitlines()) if m)
    has_log = "log" in loss_lines
    has_square = bool(_SQUARE.search(loss_lines))
    softmax, sigmoid = bool(_SOFTMAX.search(code)), bool(_SIGMOID.search(code))
    if has_log and softmax:
        return "softmax_ce"
    if has_log and sigmoid:
        return "sigmoid_ce"
    if has_square and not has_log:
        return "sigmoid_se" if sigmoid and not softmax else "se"
    if has_log:
        return "softmax_ce" if "exp" in code else None
    return None
