"""What every explanation shares: the ``Explanation`` result, number formatting, the context of
other records and options, argument checks, and sentences used by several cells."""


from __future__ import annotations

import html as _html
import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import numpy as np

from ..nn.activations import ACTIVATIONS
from ..records import (
    BackwardStep,
    ForwardStep,
    GradientStep,
    LayerBackward,
    LayerForward,
    LossStep,
    Step,
    UpdateStep,
)

Array = np.ndarray

#: The batch row every explanation shows (the first example, like the app's heatmaps).
EXAMPLE = 0
KINDS = ("rnn", "lstm", "gru", "mlp")
RECURRENT = ("rnn", "lstm", "gru")

# ---------------------------------------------------------------------------------- the result


class Term(NamedTuple):
    """One named quantity of an equation: ``(label, value, note)``."""

    label: str
    value: float
    note: str = ""


@dataclass(frozen=True)
class Explanation:
    """What the explain panel shows for one record.

    title: e.g. "Backward through t = 3 · unit 2"; equation: the equation(s) applied, plain
    Unicode, one per line; terms: the quantities in it with their values for the selected unit and
    the first example; sentence: one sentence of commentary; substituted: the equation with the
    numbers filled in; keys: a stable name per term (``"dh_out"``, ``"dpre"``...), see ``term``.
    """

    title: str
    equation: str
    terms: tuple[Term, ...]
    sentence: str
    substituted: str = ""
    keys: tuple[str, ...] = field(default=())

    def term(self, key: str) -> Term:
        """The term stored under the stable ``key`` (``KeyError`` if this explanation has none)."""
        try:
            return self.terms[self.keys.index(key)]
        except ValueError:
            raise KeyError(f"{key!r}: this explanation has the terms {', '.join(self.keys)}") from None

    def values(self) -> dict[str, float]:
        """``{key: value}`` of every term."""
        return {k: t.value for k, t in zip(self.keys, self.terms)}

    def text(self) -> str:
        """A plain-text rendering (for a terminal or a log)."""
        lines = [self.title, "", self.equation]
        if self.substituted:
            lines += ["", self.substituted]
        lines.append("")
        width = max((len(t.label) for t in self.terms), default=0)
        for t in self.terms:
            note = f"   {t.note}" if t.note else ""
            lines.append(f"  {t.label:<{width}}  {fmt(t.value):>12}{note}")
        lines += ["", self.sentence]
        return "\n".join(lines)

    __str__ = text

    def sentence_html(self) -> str:
        """The sentence as rich text (escaped; ``^word`` as a superscript)."""
        return _rich(self.sentence)

    def html(self, font_size: int = 20) -> str:
        """Rich text for a ``QLabel``/``QTextBrowser``: large type, no external resources, no
        colours (it inherits the palette, so it suits the light projector theme and a dark one).
        ``font_size`` in pixels is the body size; the title and equation are larger."""
        fs = max(int(font_size), 6)
        big, eq = round(fs * 1.25), round(fs * 1.2)
        equation = "<br/>".join(_rich(line) for line in self.equation.splitlines())
        rows = "".join(
            "<tr>"
            f"<td style='padding:2px 18px 2px 0'>{_rich(t.label)}</td>"
            f"<td align='right' style='font-family:monospace; padding:2px 18px 2px 0'>{_rich(fmt(t.value))}</td>"
            f"<td><i>{_rich(t.note)}</i></td>"
            "</tr>"
            for t in self.terms
        )
        subst = ("<p style='font-family:serif; margin:6px 0'>"
                 + "<br/>".join(_rich(s) for s in self.substituted.splitlines()) + "</p>") if self.substituted else ""
        return (
            f"<div style='font-size:{fs}px'>"
            f"<p style='font-size:{big}px; font-weight:600; margin:0 0 8px 0'>{_rich(self.title)}</p>"
            f"<p style='font-family:serif; font-size:{eq}px; margin:6px 0'>{equation}</p>"
            f"{subst}"
            f"<table cellspacing='0' style='margin:8px 0'>{rows}</table>"
            f"<p style='margin:8px 0 0 0'>{_rich(self.sentence)}</p>"
            "</div>"
        )


def _rich(s: str) -> str:
    """Escape for rich text; ``^word`` becomes a superscript."""
    return re.sub(r"\^(\w+)", r"<sup>\1</sup>", _html.escape(s, quote=True))


# ---------------------------------------------------------------------------------- formatting

_SUB = str.maketrans("0123456789-+", "₀₁₂₃₄₅₆₇₈₉₋₊")
_SUP = str.maketrans("0123456789-+", "⁰¹²³⁴⁵⁶⁷⁸⁹⁻⁺")


def sub(n: int | str) -> str:
    """Subscript digits: ``sub(-1) == '₋₁'``."""
    return str(n).translate(_SUB)


def fmt(v: float) -> str:
    """A number as a projector wants it: four significant digits, a real minus sign, and
    ``1.234×10⁻⁵`` rather than ``1.234e-05``."""
    v = float(v)
    if not math.isfinite(v):
        return {math.inf: "∞", -math.inf: "−∞"}.get(v, "NaN")
    if v == 0:
        return "0"
    a = abs(v)
    if a >= 1e5 or a < 1e-3:
        mant, exp = f"{v:.3e}".split("e")
        s = f"{mant}×10{str(int(exp)).translate(_SUP)}"
    else:
        s = np.format_float_positional(v, precision=4, unique=False, fractional=False, trim="-")
    return s.replace("-", "−")


def _p(v: float) -> str:
    """A number ready to sit inside a product: negatives in parentheses."""
    s = fmt(v)
    return f"({s})" if s.startswith("−") else s


def _pct(x: float) -> str:
    return f"{100 * x:.0f}%"


class _Terms:
    """Collects terms with their stable keys."""

    def __init__(self) -> None:
        self.terms: list[Term] = []
        self.keys: list[str] = []

    def add(self, key: str, label: str, value: float, note: str = "") -> float:
        value = float(value)
        self.terms.append(Term(label, value, note))
        self.keys.append(key)
        return value

    def build(self, title: str, equation: str, sentence: str, substituted: str = "") -> Explanation:
        return Explanation(title, equation, tuple(self.terms), sentence, substituted, tuple(self.keys))


# ---------------------------------------------------------------------------------- context


@dataclass
class _Context:
    forward: dict[int, ForwardStep] = field(default_factory=dict)
    backward: dict[int, BackwardStep] = field(default_factory=dict)
    layer_forward: dict[int, LayerForward] = field(default_factory=dict)
    layer_backward: dict[int, LayerBackward] = field(default_factory=dict)
    loss: LossStep | None = None
    gradients: GradientStep | None = None
    update: UpdateStep | None = None
    options: dict[str, Any] = field(default_factory=dict)

    def file(self, rec: Step) -> None:
        if isinstance(rec, ForwardStep):
            self.forward[rec.index] = rec
        elif isinstance(rec, BackwardStep):
            self.backward[rec.index] = rec
        elif isinstance(rec, LayerForward):
            self.layer_forward[rec.index] = rec
        elif isinstance(rec, LayerBackward):
            self.layer_backward[rec.index] = rec
        elif isinstance(rec, LossStep):
            self.loss = rec
        elif isinstance(rec, GradientStep):
            self.gradients = rec
        elif isinstance(rec, UpdateStep):
            self.update = rec

    def T(self) -> int | None:
        """The sequence length, when the context tells it."""
        if "T" in self.options:
            return int(self.options["T"])
        if self.loss is not None:
            return int(self.loss.per_step.size)
        if self.forward and len(self.forward) == max(self.forward) + 1:
            return len(self.forward)
        if self.backward and len(self.backward) == max(self.backward) + 1:
            return len(self.backward)
        return None


def _records_in(value: Any) -> list[Step] | None:
    """The records a context value holds (a record, or an iterable of records), else None."""
    if isinstance(value, Step):
        return [value]
    if isinstance(value, (str, bytes, Mapping, np.ndarray)) or not isinstance(value, Iterable):
        return None
    items = list(value)
    return items if items and all(isinstance(v, Step) for v in items) else None


def _collect(context: Any) -> _Context:
    ctx = _Context()
    if context is None:
        return ctx
    if isinstance(context, Mapping):
        for key, value in context.items():
            records = _records_in(value)
            if records is None:
                ctx.options[str(key)] = value
            else:
                for rec in records:
                    ctx.file(rec)
        return ctx
    if isinstance(context, Step):
        ctx.file(context)
        return ctx
    if isinstance(context, Iterable) and not isinstance(context, (str, bytes)):
        for v in context:
            if not isinstance(v, Step):
                raise ValueError(f"context: expected step records or a mapping, got a {type(v).__name__} inside")
            ctx.file(v)
        return ctx
    raise ValueError(f"context: expected None, a mapping or an iterable of step records, got {type(context).__name__}")


def _param(model: Any, ctx: _Context, name: str) -> Array:
    """The weights the records were made with: ``context["params"]`` if given, else ``params −
    delta`` if the update is in context, else the model's."""
    given = ctx.options.get("params")
    if isinstance(given, Mapping) and name in given:
        return np.asarray(given[name])
    p = model.params[name]
    if ctx.update is None or name not in ctx.update.delta:
        return p
    return p - ctx.update.delta[name]


_STALE = (" (These weights have changed since the step was recorded, so the split does not add up "
          "exactly; give the iteration's records, including its update, as the context.)")


def _stale(parts: Iterable[float], recorded: float) -> str:
    total = math.fsum(parts)
    return "" if math.isclose(total, recorded, rel_tol=1e-6, abs_tol=1e-9) else _STALE


# ---------------------------------------------------------------------------------- validation


def _kind(model: Any) -> str:
    kind = getattr(model, "kind", None)
    if kind not in KINDS or not hasattr(model, "params"):
        raise ValueError(f"model: expected an engine model ({', '.join(KINDS)}), got {type(model).__name__}")
    return kind


def _unit(unit: Any, n: int, what: str) -> int:
    if isinstance(unit, bool) or not isinstance(unit, (int, np.integer)):
        raise ValueError(f"unit: expected an integer {what} index in [0, {n}), got {unit!r}")
    if not 0 <= int(unit) < n:
        raise ValueError(f"unit: expected a {what} index in [0, {n}), got {int(unit)}")
    return int(unit)


def _width(arr: Array, n: int, name: str) -> None:
    if arr.ndim < 2 or arr.shape[-1] != n:
        raise ValueError(f"record: its {name} has shape {arr.shape}, which does not match this model "
                         f"(expected {n} columns); explain a record with the model that made it")


# ---------------------------------------------------------------------------------- shared pieces

_ACT_EQ = {"tanh": "tanh({z})", "sigmoid": "σ({z})", "relu": "max({z}, 0)", "linear": "{z}"}
_DERIV_EQ = {"tanh": "(1 − {h}²)", "sigmoid": "{h}(1 − {h})", "relu": "[{z} > 0]", "linear": "1"}


def _deriv(name: str, z: float, a: float) -> float:
    return float(ACTIVATIONS[name].deriv(np.array([z]), np.array([a]))[0])


_DERIV_WORDS = {"tanh": "1 − {v}²", "sigmoid": "{v}(1 − {v})"}


def _act_remark(name: str, z: float, a: float, d: float, unit_label: str, where: str, var: str = "h") -> str:
    """A sentence about a saturated unit or a dead ReLU, or '' when nothing stands out."""
    if name == "relu" and z <= 0:
        return (f"{unit_label} is off here (z ≤ 0): ReLU outputs 0 and will pass no gradient back "
                f"through {where}.")
    if name in _DERIV_WORDS and d < (0.1 if name == "tanh" else 0.025):
        deq = _DERIV_WORDS[name].format(v=var)
        return (f"{unit_label} is saturated ({var} = {fmt(a)}): its derivative {deq} = {fmt(d)} will shrink "
                f"any delta passing back through {where}.")
    return ""


def _truncation_clause(rec: BackwardStep, ctx: _Context) -> str:
    t, w = rec.t, rec.window
    if len(w) == 0:
        return (f" Window truncation: no loss's window reaches h{sub(t)} any more, so this step gets no gradient "
                "at all.")
    T = ctx.T()
    if T is not None and w.stop < T:
        k = w.stop - w.start
        last = f"t = {w.start}…{w.stop - 1}" if k > 1 else f"t = {w.start}"
        return (f" Window truncation (k = {k}): only the losses at {last} reach h{sub(t)} (k states, counting "
                f"h{sub(t)} itself); later losses' gradient stops short of it.")
    return ""


def _share_sentence(out: float, fut: float, t: int, ctx: _Context) -> str:
    """Where this step's state delta comes from: its own output and/or the future."""
    T = ctx.T()
    if fut == 0:
        if T is not None and t == T - 1:
            return "At the last step the delta comes only from its own output; the future has nothing to add yet."
        if out == 0:
            return "No delta reaches this unit at this step."
        return "Nothing arrives from the future here, so the delta comes only from this step's own output."
    if out == 0:
        return ("This step's output sends nothing to this unit (or there is none: many-to-one), so all of its delta "
                "comes from the future.")
    share = abs(fut) / (abs(out) + abs(fut))
    if (out > 0) != (fut > 0):
        return (f"The output and the future pull in opposite directions ({fmt(out)} vs {fmt(fut)}); the future's "
                f"part is {_pct(share)} of this step's delta by size.")
    return f"The future contributes {_pct(share)} of this step's delta."


def _future_label(t: int) -> str:
    return f"δh{sub(t)}^future"


