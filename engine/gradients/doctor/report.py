"""What a check found: ``Entry``, ``ParamCheck`` and ``Report`` (its text rendering and JSON transport)."""

from __future__ import annotations

import math
import re
import textwrap
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

Array = np.ndarray

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
    analytic gradient is zero but the numerical one is clearly not. ``unverified``: a sample of a
    large parameter on which both gradients are zero, which proves nothing (never reported as ok).
    ``tol`` is the tolerance this parameter was judged by (above the report's when rounding noise
    of low-precision code would exceed it). ``idx``, ``analytic`` and ``numerical`` (flat indices
    and both gradients at the checked entries) and ``analytic_max`` (the largest ``|analytic|``
    over the whole parameter) stay in the process: the hints re-read them; they are not transported."""

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
    unverified: bool = False
    tol: float | None = None
    direction: tuple[float, float] | None = None  # sampled: (analytic, numerical) derivative along a random direction
    direction_ok: bool = True
    problem: str | None = None
    idx: Array | None = field(default=None, repr=False, compare=False)
    analytic: Array | None = field(default=None, repr=False, compare=False)
    numerical: Array | None = field(default=None, repr=False, compare=False)
    analytic_max: float = 0.0


@dataclass
class Report:
    """What ``check`` found. ``format()`` renders it for a terminal.

    - ``ok``: every parameter agrees within ``tol`` and nothing was wrong with the function.
    - ``params``: name -> ``ParamCheck``; ``per_param``, ``worst`` and ``diff`` are views of it.
    - ``hints``: plain-language sentences about the likely bug (empty when ``ok``).
    - ``errors``: problems with the function itself (raised, wrong keys/shapes, NaN...), one
      sentence each; ``notes``: things worth knowing that are not errors (subsets, conversions).
    - ``precision``: what the user's code computes in ("float64", "float32" or "float16"), from the
      dtypes it returns and the rounding noise of its loss (``noise``, absolute); ``eps`` and
      ``tol`` were chosen to match unless given.
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
    precision: str = "float64"
    noise: float = 0.0

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
        prec = f", {self.precision}" if self.precision != "float64" else ""
        out = [f"Gradient check of {self.function}" + (
            f": loss {self.loss:.6g}, eps {self.eps:g}, tol {self.tol:g}{prec}" if self.loss is not None else "")]
        if self.errors:
            out += ["", "Problems:"] + [bullet(e) for e in self.errors]
        rows = [pc for pc in self.params.values() if pc.problem is None and pc.diff is not None]
        if rows:
            out += ["", *_table(rows, self.tol)]
        if self.first_bad_length is not None:
            out += ["", "Sequence length: " + self.length_sentence()]
        elif self.seq_len is not None and self.ok:
            out += ["", f"Sequence length: all {self.seq_len} timesteps checked, correct."]
        if self.hints:
            out += ["", "Hints:"] + [bullet(h) for h in self.hints]
        if self.notes:
            out += ["", "Notes:"] + [bullet(n) for n in self.notes]
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
        wrong = [pc.name for pc in compared if not pc.ok and not pc.unverified]
        unsure = [pc.name for pc in compared if pc.unverified]
        unchecked = [pc.name for pc in self.params.values() if pc.problem is not None]
        if not compared:
            return "Result: FAILED, the gradients could not be compared (see Problems)."
        parts = []
        if wrong:
            parts.append(f"WRONG gradient for {', '.join(wrong)} ({len(wrong)} of {len(self.params)})")
        if unsure:
            parts.append(f"NOT VERIFIED: {', '.join(unsure)} (see Notes)")
        if unchecked:
            parts.append(f"{', '.join(unchecked)} could not be checked (see Problems)")
        if not wrong and not unsure and len(compared) + len(unchecked) == len(self.params):
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
                        zeros=pc.zeros, active=pc.active, transposed=pc.transposed, unverified=pc.unverified,
                        tol=pc.tol, direction=None if pc.direction is None else list(pc.direction),
                        direction_ok=pc.direction_ok, problem=pc.problem)

        return dict(ok=self.ok, params=[pc_dict(pc) for pc in self.params.values()], hints=list(self.hints),
                    errors=list(self.errors), notes=list(self.notes), first_bad_length=self.first_bad_length,
                    length_errors=[[L, errs] for L, errs in self.length_errors.items()],
                    seq_len=self.seq_len, batch_size=self.batch_size, loss=self.loss, eps=self.eps,
                    tol=self.tol, function=self.function, precision=self.precision, noise=self.noise)

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
                transposed=p["transposed"], unverified=p.get("unverified", False), tol=p.get("tol"),
                direction=None if p.get("direction") is None else tuple(p["direction"]),
                direction_ok=p.get("direction_ok", True), problem=p["problem"])
        return cls(ok=d["ok"], params=params, hints=list(d["hints"]), errors=list(d["errors"]),
                   notes=list(d["notes"]), first_bad_length=d["first_bad_length"],
                   length_errors={int(L): dict(errs) for L, errs in d["length_errors"]},
                   seq_len=d["seq_len"], batch_size=d["batch_size"], loss=d["loss"], eps=d["eps"],
                   tol=d["tol"], function=d["function"], precision=d.get("precision", "float64"),
                   noise=d.get("noise", 0.0))


def bullet(text: str, width: int = 96) -> str:
    """A wrapped bullet; `code spans` are never broken across lines."""
    glued = re.sub(r"`[^`]*`", lambda m: m.group(0).replace(" ", "\xa0"), text)
    return textwrap.fill(glued, width=width, initial_indent="  - ", subsequent_indent="    ").replace("\xa0", " ")


def fmt_index(index: tuple[int, ...]) -> str:
    return "[" + ", ".join(str(i) for i in index) + "]" if index else ""


def _table(rows: list[ParamCheck], tol: float) -> list[str]:
    header = ("parameter", "shape", "checked", "rel. error", "", "worst entry: analytic vs numerical")
    body = []
    for pc in rows:
        worst = ""
        if not pc.ok and not pc.unverified and pc.worst:
            e = pc.worst[0]
            worst = f"{pc.name}{fmt_index(e.index)}: {e.analytic:.6g} vs {e.numerical:.6g}"
            if not pc.direction_ok and pc.direction is not None and abs(e.analytic - e.numerical) <= pc.tol * (
                    abs(e.analytic) + abs(e.numerical) + 1e-300):
                worst = f"along a random direction: {pc.direction[0]:.6g} vs {pc.direction[1]:.6g}"
        checked = f"{pc.checked}/{pc.size}" + ("*" if pc.checked < pc.size else "")
        verdict = "ok" if pc.ok else ("?" if pc.unverified else "WRONG")
        if pc.ok and pc.tol is not None and pc.tol > tol * 1.01:
            verdict = f"ok (≤ {pc.tol:.0e}, rounding)"
        body.append((pc.name, str(pc.shape), checked, f"{pc.error:.1e}", verdict, worst))
    widths = [max(len(r[i]) for r in [header, *body]) for i in range(len(header))]
    just = [str.ljust, str.ljust, str.rjust, str.rjust, str.ljust, str.ljust]
    out = []
    for r in [header, *body]:
        out.append("  " + "  ".join(just[i](r[i], widths[i]) for i in range(len(r))).rstrip())
    if any(pc.checked < pc.size for pc in rows):
        out.append("  * a seeded sample of the entries (see Notes)")
    if any(pc.unverified for pc in rows):
        out.append("  ? not verified: no gradient at any checked entry, or hidden by rounding (see Notes)")
    return out


