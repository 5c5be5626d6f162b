"""The lecture "explain panel": what one step record computes, with its actual numbers.

``explain(record, model, unit, context)`` turns any step record of ``engine.records`` into an
``Explanation``: a title, the equation being applied (plain Unicode text), the terms of that
equation with their values for one selected unit of the *first example in the batch*, one
sentence of plain-language commentary, and an ``html()`` rendering for a Qt rich-text label.

The terms are not decoration: they are read from the records (and, where a split needs them, the
model's weights) and they recombine to the recorded value, e.g. for a tanh RNN at timestep t::

    δz_t = (1 − h_t²) · (δy_t W_hyᵀ + δh_t^future)     with every factor's value shown

``context`` holds what one record alone does not: the other records of the same iteration (the
``ForwardStep`` of the same t gives a backward explanation its ``h_t``; the ``UpdateStep`` tells
which weights the records were made with) and a few options. It is either an iterable of records
(e.g. a ``Trace``) or a mapping whose values are records, iterables of records, or these options:

- ``"optimizer"``: the ``engine.optim.Optimizer`` that made an ``UpdateStep`` (its rule and state);
- ``"clipper"``: the ``Clipper`` used (or ``"clip_threshold"``: its threshold);
- ``"t"``: the timestep a ``LossStep`` explanation looks at (default: the last one);
- ``"gate"``: for LSTM/GRU gradient and update steps, which gate's column of ``W_h`` to follow
  (default: the candidate, ``"g"`` / ``"n"``);
- ``"param"``: ``(name, index)`` of the parameter entry a gradient/update step follows;
- ``"params"``: the parameters the records were computed with (a mapping name -> array, e.g.
  ``engine.session.Narration.before``). Given, they are used as they are: exact, whatever the
  model has done since.

Parameters: without ``"params"``, ``model.params`` are used; the app applies the update right
after narrating an iteration, so those are already the *new* weights. When the context holds the
iteration's ``UpdateStep``, the weights used to split a forward pre-activation are then
reconstructed as ``params − delta`` (what the records saw, up to rounding). If the split still
does not add up (the model has trained on since), the sentence says so.

Iterations are numbered as in ``engine.session``: the update record of iteration N has index N
(the N-th update), and its title says "iteration N".

Pure NumPy: no Qt here.
"""

from __future__ import annotations

import html as _html
import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import numpy as np

from .activations import ACTIVATIONS
from .records import (
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


# ---------------------------------------------------------------------------------- entry point


def explain(record: Step, model: Any, unit: int = 0, context: Any = None) -> Explanation:
    """Explain one step record for hidden unit ``unit`` of the first example in the batch.

    record: any record of ``engine.records``; model: the ``RNN``/``LSTM``/``GRU``/``MLP`` that
    made it (its kind, activation and weights); unit: recurrent models: a hidden unit in
    ``[0, H)``; MLP: a unit in ``[0, widest layer)``, shown as the last unit of a narrower layer;
    context: other records of the same iteration and options (see the module docstring).
    Raises ``ValueError`` naming ``unit``, ``record``, ``model`` or ``context`` when one is wrong.
    """
    kind = _kind(model)
    ctx = _collect(context)
    if kind == "mlp":
        if isinstance(record, (ForwardStep, BackwardStep)):
            raise ValueError(f"record: a {type(record).__name__} comes from a recurrent model, not an MLP")
        widest = max(model.layer_sizes[1:])
        j = _unit(unit, widest, "unit")
    else:
        if isinstance(record, (LayerForward, LayerBackward)):
            raise ValueError(f"record: a {type(record).__name__} comes from an MLP, not a {kind.upper()}")
        j = _unit(unit, model.hidden_size, "hidden unit")
    handlers = {
        ForwardStep: {"rnn": _rnn_forward, "lstm": _lstm_forward, "gru": _gru_forward},
        BackwardStep: {"rnn": _rnn_backward, "lstm": _lstm_backward, "gru": _gru_backward},
        LayerForward: {"mlp": _mlp_forward},
        LayerBackward: {"mlp": _mlp_backward},
        LossStep: dict.fromkeys(KINDS, _loss),
        GradientStep: dict.fromkeys(KINDS, _gradients),
        UpdateStep: dict.fromkeys(KINDS, _update),
    }
    for cls, by_kind in handlers.items():
        if type(record) is cls:
            return by_kind[kind](record, model, j, ctx)
    raise ValueError(f"record: expected a step record from engine.records, got {type(record).__name__}")


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


# ---------------------------------------------------------------------------------- vanilla RNN


def _rnn_forward(rec: ForwardStep, model: Any, j: int, ctx: _Context) -> Explanation:
    H, b, t = model.hidden_size, EXAMPLE, rec.t
    _width(rec.h, H, "h")
    act = model.activation.name
    s, sp = sub(t), sub(t - 1)
    x = rec.x
    if x.ndim == 1:
        tok = int(x[b])
        inp = float(_param(model, ctx, "W_xh")[tok, j])
        inp_note = f"x{s} is token {tok} (one-hot): row {tok} of W_xh"
    else:
        inp = float(x[b] @ _param(model, ctx, "W_xh")[:, j])
        inp_note = "the input's weighted sum"
    rec_part = float(rec.h_prev[b] @ _param(model, ctx, "W_hh")[:, j])
    bias = float(_param(model, ctx, "b_h")[j])
    z, h = float(rec.pre[b, j]), float(rec.h[b, j])
    d = _deriv(act, z, h)
    tm = _Terms()
    tm.add("input", f"x{s} W_xh", inp, inp_note)
    tm.add("recurrent", f"h{sp} W_hh", rec_part,
           "the previous state's part" + (" (the initial state)" if t == 0 else ""))
    tm.add("bias", "b_h", bias)
    tm.add("pre", f"z{s}", z, "pre-activation (recorded)")
    tm.add("h", f"h{s} = {_ACT_EQ[act].format(z=f'z{s}')}", h, "the new state (recorded)")
    tm.add("deriv", f"f′(z{s}) = {_DERIV_EQ[act].format(h=f'h{s}', z=f'z{s}')}", d,
           "what the backward pass will multiply by")
    equation = (f"z{s} = x{s} W_xh + h{sp} W_hh + b_h\n"
                f"h{s} = {_ACT_EQ[act].format(z=f'z{s}')}")
    substituted = (f"z{s} = {fmt(inp)} + {_p(rec_part)} + {_p(bias)} = {fmt(z)};   "
                   f"h{s} = {_ACT_EQ[act].format(z=fmt(z))} = {fmt(h)}")
    stale = _stale((inp, rec_part, bias), z)
    remark = _act_remark(act, z, h, d, f"Unit {j}", "this step")
    if stale:
        sentence = "The pre-activation adds the input's part, the previous state's part and the bias." + stale
    elif remark:
        sentence = remark
    elif t == 0 and rec_part == 0:
        sentence = ("At the first step the previous state is the initial state (zeros here), so only the input "
                    "and the bias drive the unit.")
    else:
        share = abs(rec_part) / max(abs(rec_part) + abs(inp), 1e-300)
        sentence = (f"The previous state supplies {_pct(share)} of this unit's input (by size), the current input "
                    f"{_pct(1 - share)}: this is how the memory of earlier steps enters h{s}.")
    return tm.build(f"Forward through t = {t} · unit {j}", equation, sentence, substituted)


def _rnn_backward(rec: BackwardStep, model: Any, j: int, ctx: _Context) -> Explanation:
    H, b, t = model.hidden_size, EXAMPLE, rec.t
    _width(rec.dh, H, "dh")
    act = model.activation.name
    s, sn = sub(t), sub(t + 1)
    out, fut = float(rec.dh_out[b, j]), float(rec.dh_future[b, j])
    dh, dz = float(rec.dh[b, j]), float(rec.dpre[b, j])
    fw = ctx.forward.get(t)
    deq = _DERIV_EQ[act].format(h=f"h{s}", z=f"z{s}")
    tm = _Terms()
    if fw is not None:
        z, h = float(fw.pre[b, j]), float(fw.h[b, j])
        if act == "relu":
            tm.add("z", f"z{s}", z, f"the pre-activation at t = {t}")
        elif act != "linear":
            tm.add("h", f"h{s}", h, f"the state at t = {t} (forward)")
        d = tm.add("deriv", f"f′ = {deq}", _deriv(act, z, h), f"{act}'s derivative")
        remark = _act_remark(act, z, h, d, f"Unit {j}", "this step")
    else:
        d = dz / dh if dh != 0 else (1.0 if act == "linear" else 0.0)
        tm.add("deriv", f"f′ = {deq}", d, "from the recorded deltas (add this step's forward record to see h)")
        remark = ""
    tm.add("dh_out", f"δy{s} W_hyᵀ", out, f"from the output at t = {t}")
    tm.add("dh_future", _future_label(t), fut, f"from t = {t + 1} through W_hh")
    tm.add("dh", f"δh{s}", dh, "their sum (recorded)")
    tm.add("dpre", f"δz{s}", dz, "pre-activation delta (recorded)")
    equation = (f"δz{s} = {deq} ⊙ (δy{s} W_hyᵀ + {_future_label(t)}),   {_future_label(t)} = δz{sn} W_hhᵀ\n"
                f"and this step passes on {_future_label(t - 1)} = δz{s} W_hhᵀ")
    substituted = f"δz{s} = {_p(d)} × ({fmt(out)} + {_p(fut)}) = {_p(d)} × {_p(dh)} = {fmt(dz)}"
    sentence = _share_sentence(out, fut, t, ctx)
    if not math.isclose(out + fut, dh, rel_tol=1e-9, abs_tol=1e-12):
        sentence = (f"The recorded δh{s} = {fmt(dh)} is not the output's part plus the future's "
                    f"({fmt(out + fut)}): the future's contribution was dropped or overwritten.")
    elif remark and abs(dh) > 0:
        sentence = sentence.rstrip(".") + f"; then the derivative {fmt(d)} shrinks it to {fmt(dz)}."
    sentence += _truncation_clause(rec, ctx)
    return tm.build(f"Backward through t = {t} · unit {j}", equation, sentence, substituted)


# ---------------------------------------------------------------------------------- LSTM


def _lstm_gates(fw: ForwardStep, b: int, j: int) -> dict[str, float]:
    return {k: float(fw.extras[k][b, j]) for k in ("i", "f", "g", "o", "c", "tanh_c")}


def _lstm_c_prev(t: int, gates: dict[str, float], ctx: _Context, b: int, j: int) -> tuple[float, str]:
    prev = ctx.forward.get(t - 1)
    if prev is not None and "c" in prev.extras:
        return float(prev.extras["c"][b, j]), f"the cell state at t = {t - 1}"
    if gates["f"] > 1e-12:
        return ((gates["c"] - gates["i"] * gates["g"]) / gates["f"],
                f"solved from c{sub(t)} = f⊙c{sub(t - 1)} + i⊙g (the previous record is not in the context)")
    return 0.0, "unknown (the forget gate is 0, so it does not matter)"


def _lstm_forward(rec: ForwardStep, model: Any, j: int, ctx: _Context) -> Explanation:
    H, b, t = model.hidden_size, EXAMPLE, rec.t
    _width(rec.h, H, "h")
    s, sp = sub(t), sub(t - 1)
    gv = _lstm_gates(rec, b, j)
    c_prev, c_note = _lstm_c_prev(t, gv, ctx, b, j)
    tm = _Terms()
    for k, (name, act) in enumerate(zip("ifgo", ("σ", "σ", "tanh", "σ"))):
        a = float(rec.pre[b, k * H + j])
        tm.add(f"a_{name}", f"a_{name}", a, "gate pre-activation (recorded)")
        tm.add(name, f"{name}{s} = {act}(a_{name})", gv[name], "")
    tm.add("c_prev", f"c{sp}", c_prev, c_note)
    keep = tm.add("f_c_prev", f"f{s} ⊙ c{sp}", gv["f"] * c_prev, "what the forget gate keeps")
    write = tm.add("i_g", f"i{s} ⊙ g{s}", gv["i"] * gv["g"], "what the input gate writes")
    tm.add("c", f"c{s}", gv["c"], "the new cell state (recorded)")
    tm.add("tanh_c", f"tanh(c{s})", gv["tanh_c"], "")
    h = tm.add("h", f"h{s} = o{s} ⊙ tanh(c{s})", float(rec.h[b, j]), "the new state (recorded)")
    equation = (f"i{s} = σ(a_i),  f{s} = σ(a_f),  g{s} = tanh(a_g),  o{s} = σ(a_o),   a{s} = x{s} W_x + h{sp} W_h + b\n"
                f"c{s} = f{s} ⊙ c{sp} + i{s} ⊙ g{s}\n"
                f"h{s} = o{s} ⊙ tanh(c{s})")
    substituted = (f"c{s} = {fmt(gv['f'])} × {_p(c_prev)} + {fmt(gv['i'])} × {_p(gv['g'])} = {fmt(gv['c'])};   "
                   f"h{s} = {fmt(gv['o'])} × tanh({fmt(gv['c'])}) = {fmt(h)}")
    sentence = (f"The forget gate keeps {_pct(gv['f'])} of the old cell state ({fmt(keep)}) and the input gate "
                f"writes {fmt(write)} of new content: the cell state changes by addition, not through a weight "
                "matrix, which is what lets gradient travel far back along it.")
    return tm.build(f"LSTM forward through t = {t} · unit {j}", equation, sentence, substituted)


def _lstm_backward(rec: BackwardStep, model: Any, j: int, ctx: _Context) -> Explanation:
    H, b, t = model.hidden_size, EXAMPLE, rec.t
    _width(rec.dh, H, "dh")
    s, sp, sn = sub(t), sub(t - 1), sub(t + 1)
    out, fut = float(rec.dh_out[b, j]), float(rec.dh_future[b, j])
    dh = float(rec.dh[b, j])
    dc, dc_fut = float(rec.extras["dc"][b, j]), float(rec.extras["dc_future"][b, j])
    deltas = {k: float(rec.extras["d" + k][b, j]) for k in "ifgo"}
    fw = ctx.forward.get(t)
    tm = _Terms()
    tm.add("dh_out", f"δy{s} W_hyᵀ", out, f"from the output at t = {t}")
    tm.add("dh_future", _future_label(t), fut, f"from t = {t + 1} through W_h")
    tm.add("dh", f"δh{s}", dh, "their sum (recorded)")
    if fw is not None:
        gv = _lstm_gates(fw, b, j)
        c_prev, c_note = _lstm_c_prev(t, gv, ctx, b, j)
        tm.add("o", f"o{s}", gv["o"], "output gate (forward)")
        tm.add("dtanh", f"1 − tanh²(c{s})", 1.0 - gv["tanh_c"] ** 2, "")
        from_h = tm.add("dc_from_h", f"δh{s} ⊙ o{s} ⊙ (1 − tanh²c{s})", dh * gv["o"] * (1.0 - gv["tanh_c"] ** 2),
                        "through h")
    else:
        gv, c_prev, c_note = None, 0.0, ""
        from_h = tm.add("dc_from_h", f"δh{s} ⊙ o{s} ⊙ (1 − tanh²c{s})", dc - dc_fut,
                        "through h (recorded δc minus the future's part)")
    tm.add("dc_future", f"δc{s}^future = δc{sn} ⊙ f{sn}", dc_fut, "straight along the cell state")
    tm.add("dc", f"δc{s}", dc, "the cell-state delta (recorded)")
    if gv is not None:
        tm.add("i", f"i{s}", gv["i"], "")
        tm.add("f", f"f{s}", gv["f"], "")
        tm.add("g", f"g{s}", gv["g"], "")
        tm.add("c_prev", f"c{sp}", c_prev, c_note)
        tm.add("tanh_c", f"tanh(c{s})", gv["tanh_c"], "")
    notes = {"i": "δc ⊙ g ⊙ i(1 − i)", "f": f"δc ⊙ c{sp} ⊙ f(1 − f)", "g": "δc ⊙ i ⊙ (1 − g²)",
             "o": "δh ⊙ tanh(c) ⊙ o(1 − o)"}
    for k in "ifgo":
        tm.add("d" + k, f"δa_{k}", deltas[k], notes[k] + " (recorded)")
    equation = (f"δh{s} = δy{s} W_hyᵀ + {_future_label(t)}\n"
                f"δc{s} = δc{s}^future + δh{s} ⊙ o{s} ⊙ (1 − tanh²c{s})\n"
                f"δa_i = δc{s} ⊙ g{s} ⊙ i{s}(1 − i{s}),   δa_f = δc{s} ⊙ c{sp} ⊙ f{s}(1 − f{s})\n"
                f"δa_g = δc{s} ⊙ i{s} ⊙ (1 − g{s}²),   δa_o = δh{s} ⊙ tanh(c{s}) ⊙ o{s}(1 − o{s})\n"
                f"δc{sp}^future = δc{s} ⊙ f{s},   {_future_label(t - 1)} = δa{s} W_hᵀ")
    substituted = f"δc{s} = {fmt(dc_fut)} + {_p(from_h)} = {fmt(dc)}"
    T = ctx.T()
    if dc_fut == 0 and from_h == 0:
        sentence = "No gradient reaches this unit's cell state at this step."
    elif dc_fut == 0 and T is not None and t == T - 1:
        sentence = (f"At the last step the cell delta comes only through h{s} from its own output; nothing arrives "
                    "along the cell state from the future yet.")
    elif dc_fut == 0:
        sentence = f"Nothing arrives along the cell state from the future here: all of δc{s} comes through h{s}."
    else:
        share = abs(dc_fut) / (abs(dc_fut) + abs(from_h))
        sentence = (f"{_pct(share)} of δc{s} arrives straight from the future along the cell state, scaled only by "
                    "the forget gate and never squashed by a weight matrix: the LSTM's constant error carousel.")
    sentence += _truncation_clause(rec, ctx)
    return tm.build(f"LSTM backward through t = {t} · unit {j}", equation, sentence, substituted)


# ---------------------------------------------------------------------------------- GRU


def _gru_forward(rec: ForwardStep, model: Any, j: int, ctx: _Context) -> Explanation:
    H, b, t = model.hidden_size, EXAMPLE, rec.t
    _width(rec.h, H, "h")
    s, sp = sub(t), sub(t - 1)
    r, z, n = (float(rec.extras[k][b, j]) for k in "rzn")
    hn = float(rec.extras["hn"][b, j])
    h_prev, h = float(rec.h_prev[b, j]), float(rec.h[b, j])
    tm = _Terms()
    tm.add("a_r", "a_r = ax_r + ah_r", float(rec.pre[b, j]), "reset-gate pre-activation (recorded)")
    tm.add("r", f"r{s} = σ(a_r)", r, "reset gate")
    tm.add("a_z", "a_z = ax_z + ah_z", float(rec.pre[b, H + j]), "update-gate pre-activation (recorded)")
    tm.add("z", f"z{s} = σ(a_z)", z, "update gate")
    tm.add("hn", f"h{sp} W_hn + b_hn", hn, "what the reset gate scales")
    tm.add("r_hn", f"r{s} ⊙ (h{sp} W_hn + b_hn)", r * hn, "")
    tm.add("a_n", f"a_n = ax_n + r{s} ⊙ (h{sp} W_hn + b_hn)", float(rec.pre[b, 2 * H + j]), "recorded")
    tm.add("n", f"n{s} = tanh(a_n)", n, "candidate state")
    tm.add("h_prev", f"h{sp}", h_prev, "the previous state" + (" (the initial state)" if t == 0 else ""))
    tm.add("h", f"h{s} = (1 − z{s}) ⊙ n{s} + z{s} ⊙ h{sp}", h, "the new state (recorded)")
    equation = (f"r{s} = σ(x{s} W_xr + b_xr + h{sp} W_hr + b_hr),   z{s} = σ(x{s} W_xz + b_xz + h{sp} W_hz + b_hz)\n"
                f"n{s} = tanh(x{s} W_xn + b_xn + r{s} ⊙ (h{sp} W_hn + b_hn))\n"
                f"h{s} = (1 − z{s}) ⊙ n{s} + z{s} ⊙ h{sp}")
    substituted = f"h{s} = (1 − {fmt(z)}) × {_p(n)} + {fmt(z)} × {_p(h_prev)} = {fmt(h)}"
    sentence = (f"The update gate z{s} = {fmt(z)} keeps {_pct(z)} of the old state h{sp} and takes {_pct(1 - z)} of "
                f"the new candidate n{s}; the reset gate r{s} = {fmt(r)} decides how much of the old state the "
                "candidate sees.")
    return tm.build(f"GRU forward through t = {t} · unit {j}", equation, sentence, substituted)


def _gru_backward(rec: BackwardStep, model: Any, j: int, ctx: _Context) -> Explanation:
    H, b, t = model.hidden_size, EXAMPLE, rec.t
    _width(rec.dh, H, "dh")
    s, sp = sub(t), sub(t - 1)
    out, fut, dh = float(rec.dh_out[b, j]), float(rec.dh_future[b, j]), float(rec.dh[b, j])
    dr, dz, dn = (float(rec.extras[k][b, j]) for k in ("dr", "dz", "dn"))
    carry = float(rec.extras["dh_carry"][b, j])
    fw = ctx.forward.get(t)
    tm = _Terms()
    tm.add("dh_out", f"δy{s} W_hyᵀ", out, f"from the output at t = {t}")
    tm.add("dh_future", _future_label(t), fut, f"from t = {t + 1}")
    tm.add("dh", f"δh{s}", dh, "their sum (recorded)")
    z = None
    if fw is not None:
        r, z, n = (float(fw.extras[k][b, j]) for k in "rzn")
        tm.add("r", f"r{s}", r, "reset gate (forward)")
        tm.add("z", f"z{s}", z, "update gate (forward)")
        tm.add("n", f"n{s}", n, "candidate (forward)")
        tm.add("h_prev", f"h{sp}", float(fw.h_prev[b, j]), "the previous state")
        tm.add("hn", f"h{sp} W_hn + b_hn", float(fw.extras["hn"][b, j]), "")
    tm.add("dn", f"δa_n = δh{s} ⊙ (1 − z{s}) ⊙ (1 − n{s}²)", dn, "recorded")
    tm.add("dz", f"δa_z = δh{s} ⊙ (h{sp} − n{s}) ⊙ z{s}(1 − z{s})", dz, "recorded")
    tm.add("dr", f"δa_r = δa_n ⊙ (h{sp} W_hn + b_hn) ⊙ r{s}(1 − r{s})", dr, "recorded")
    tm.add("dh_carry", f"δh{s} ⊙ z{s}", carry, f"goes straight to h{sp}, skipping the weights (recorded)")
    equation = (f"δh{s} = δy{s} W_hyᵀ + {_future_label(t)}\n"
                f"δa_n = δh{s} ⊙ (1 − z{s}) ⊙ (1 − n{s}²)\n"
                f"δa_z = δh{s} ⊙ (h{sp} − n{s}) ⊙ z{s}(1 − z{s})\n"
                f"δa_r = δa_n ⊙ (h{sp} W_hn + b_hn) ⊙ r{s}(1 − r{s})\n"
                f"{_future_label(t - 1)} = δh{s} ⊙ z{s} + [δa_r | δa_z | r{s} ⊙ δa_n] W_hᵀ")
    substituted = f"δh{s} = {fmt(out)} + {_p(fut)} = {fmt(dh)};   δh{s} ⊙ z{s} = {fmt(carry)}"
    sentence = _share_sentence(out, fut, t, ctx)
    if z is not None and dh != 0 and fut != 0:
        sentence = (sentence.rstrip(".") + f"; the update gate z{s} = {fmt(z)} passes {_pct(z)} of δh{s} straight "
                    f"back to h{sp}, with no weight matrix in the way.")
    sentence += _truncation_clause(rec, ctx)
    return tm.build(f"GRU backward through t = {t} · unit {j}", equation, sentence, substituted)


# ---------------------------------------------------------------------------------- loss


def _loss(rec: LossStep, model: Any, j: int, ctx: _Context) -> Explanation:
    b = EXAMPLE
    dy, losses = rec.dy, rec.losses
    per_time = dy.ndim == 3  # (B, T, O): a prediction at every step
    T = dy.shape[1] if per_time else None
    if per_time:
        t = int(ctx.options.get("t", T - 1))
        if not 0 <= t < T:
            raise ValueError(f"context['t']: expected a timestep in [0, {T}), got {t}")
        row, loss_v = dy[b, t], float(losses[b, t])
        fw = ctx.forward.get(t)
    else:
        t = None
        if losses.ndim == 1 and rec.per_step.size > 1:  # many-to-one recurrent: the output at the last step
            t = rec.per_step.size - 1
        row, loss_v = dy[b], float(losses[b])
        fw = ctx.forward.get(t) if t is not None else ctx.layer_forward.get(getattr(model, "n_layers", -1))
    at = f" at t = {t}" if t is not None else ""
    s = sub(t) if t is not None else ""
    scale = float(rec.scale)
    how = "mean over the batch" if rec.reduction == "mean" else "sum over the batch"
    if model.kind != "mlp" and per_time:
        how += ", summed over time"
    B = dy.shape[0]
    tm = _Terms()
    if rec.loss == "cross_entropy":
        c = int(np.argmin(row))  # p − 1 < 0 only at the target
        p_rec = getattr(fw, "p", None) if fw is not None else None
        if p_rec is not None:
            p = float(p_rec[b, c])
            p_note = "(forward record)"
        else:
            p = float(row[c]) / scale + 1.0
            p_note = "(from the recorded delta)"
        tm.add("p", f"p{s}[{c}]", p, f"probability of the target class {c}{at} {p_note}")
        tm.add("onehot", f"onehot{s}[{c}]", 1.0, "the target is class " + str(c))
        tm.add("scale", "1/B" if rec.reduction == "mean" else "scale", scale,
               f"B = {B}, mean over the batch" if rec.reduction == "mean" else "sum: no scaling")
        tm.add("dy", f"δy{s}[{c}] = (p − 1)·{'1/B' if rec.reduction == 'mean' else '1'}", float(row[c]),
               "output delta at the target (recorded)")
        other = int(np.argmax(np.where(np.arange(row.size) == c, -np.inf, row)))
        if row.size > 1:
            tm.add("dy_other", f"δy{s}[{other}] = p{s}[{other}]·{'1/B' if rec.reduction == 'mean' else '1'}",
                   float(row[other]), f"the most likely wrong class, {other} (recorded)")
        tm.add("loss", f"ℓ{s} = −log p{s}[{c}]", loss_v, "this example's loss (recorded)")
        tm.add("total", "L", float(rec.total), f"the total loss ({how})")
        equation = (f"p{s} = softmax(y{s}),   ℓ{s} = −log p{s}[target]\n"
                    f"δy{s} = (p{s} − onehot(target)){' / B' if rec.reduction == 'mean' else ''}")
        substituted = f"δy{s}[{c}] = ({fmt(p)} − 1){f' / {B}' if rec.reduction == 'mean' else ''} = {fmt(row[c])}"
        sentence = (f"With softmax and cross-entropy the output delta is simply p − onehot(target): {fmt(p - 1)} for "
                    f"the target class {c} and +p for every other class, no softmax derivative p(1 − p) needed")
        sentence += f"; it is scaled by 1/B = 1/{B} because the loss is a mean over the batch." \
            if rec.reduction == "mean" else "; with a summed loss it is not rescaled."
    else:
        o = int(np.argmax(np.abs(row)))
        y_rec = None
        if fw is not None:
            y_rec = fw.y if isinstance(fw, ForwardStep) else fw.a
        resid = float(row[o]) / scale
        if y_rec is not None:
            y = tm.add("y", f"y{s}[{o}]", float(y_rec[b, o]), "the output (forward record)")
            tm.add("target", f"target{s}[{o}]", y - resid, "y − δy/scale")
        tm.add("residual", f"y{s}[{o}] − target{s}[{o}]", resid, "the error")
        tm.add("scale", "1/B" if rec.reduction == "mean" else "scale", scale,
               f"B = {B}, mean over the batch" if rec.reduction == "mean" else "sum: no scaling")
        tm.add("dy", f"δy{s}[{o}]", float(row[o]), "output delta (recorded)")
        tm.add("loss", f"ℓ{s} = ½‖y{s} − target{s}‖²", loss_v, "this example's loss (recorded)")
        tm.add("total", "L", float(rec.total), f"the total loss ({how})")
        equation = (f"ℓ{s} = ½ ‖y{s} − target{s}‖²\n"
                    f"δy{s} = (y{s} − target{s}){' / B' if rec.reduction == 'mean' else ''}")
        substituted = (f"δy{s}[{o}] = {_p(resid)}{f' / {B}' if rec.reduction == 'mean' else ''} = {fmt(row[o])}")
        sentence = ("With squared error and a linear output the delta is just the error y − target (the ½ in the "
                    f"loss cancels the 2), shown for output {o}, the one with the largest error")
        sentence += f"; it is divided by B = {B} because the loss is a mean over the batch." \
            if rec.reduction == "mean" else "; with a summed loss it is not rescaled."
    return tm.build(f"Loss{at}: {'cross-entropy' if rec.loss == 'cross_entropy' else 'squared error'} ({how})",
                    equation, sentence, substituted)


# ---------------------------------------------------------------------------------- gradients


def _focus(model: Any, j: int, ctx: _Context) -> tuple[str, tuple[int, ...], str]:
    """The parameter entry gradient and update explanations follow, with a note saying what it is."""
    if "param" in ctx.options:
        name, index = ctx.options["param"]
        index = tuple(int(i) for i in (index if isinstance(index, (tuple, list)) else (index,)))
        if name not in model.params:
            raise ValueError(f"context['param']: unknown parameter {name!r}; allowed: {', '.join(model.params)}")
        try:
            model.params[name][index]
        except IndexError:
            raise ValueError(f"context['param']: index {index} is outside {name} "
                             f"{model.params[name].shape}") from None
        return name, index, ""
    if model.kind == "mlp":
        jj = min(j, model.layer_sizes[1] - 1)
        return "b1", (jj,), f"the first layer's bias of unit {jj}"
    H = model.hidden_size
    if model.kind == "rnn":
        return model.W_H, (j, j), f"unit {j}'s weight on its own previous value"
    names = model.GATE_NAMES
    gate = ctx.options.get("gate", "g" if model.kind == "lstm" else "n")
    if gate not in names:
        raise ValueError(f"context['gate']: expected one of {', '.join(names)}, got {gate!r}")
    k = names.index(gate)
    return model.W_H, (j, k * H + j), f"unit {j}'s previous value into its own {gate} gate"


def _entry(name: str, index: tuple[int, ...]) -> str:
    return f"{name}[{', '.join(map(str, index))}]"


def _gradients(rec: GradientStep, model: Any, j: int, ctx: _Context) -> Explanation:
    from .optim import global_norm

    tm = _Terms()
    norm = global_norm(rec.grads)
    if model.kind == "mlp":
        L = model.n_layers
        for layer in range(1, L + 1):
            jj = min(j, model.layer_sizes[layer] - 1)
            lb = ctx.layer_backward.get(layer)
            note = (f"example {EXAMPLE}'s δz{sub(layer)}: {fmt(lb.dz[EXAMPLE, jj])} + the rest of the batch"
                    if lb is not None else "")
            tm.add(f"b{layer}", f"∂L/∂b{sub(layer)}[{jj}] = Σ_b δz{sub(layer)}[b, {jj}]",
                   float(rec.grads[f"b{layer}"][jj]), note)
        tm.add("norm", "‖∇L‖", norm, "global norm over all parameters")
        equation = ("∂L/∂Wₗ = aₗ₋₁ᵀ δzₗ,   ∂L/∂bₗ = Σ_b δzₗ[b, ·]      (l = 1 … L, a₀ = x)\n"
                    "δzₗ = (δzₗ₊₁ Wₗ₊₁ᵀ) ⊙ f′(zₗ),   δz_L = δy")
        sentence = (f"Each layer's gradient is its input activations times its deltas, summed over the batch of "
                    f"{_batch(rec, ctx)}; the whole gradient has norm {fmt(norm)}.")
        return tm.build("Gradients: collected layer by layer", equation, sentence)
    name, index, what = _focus(model, j, ctx)
    total = float(rec.grads[name][index])
    T = ctx.T()
    contrib: dict[int, float] = {}
    if T is not None and all(t in ctx.backward for t in range(T)):
        contrib = {t: float(ctx.backward[t].grads[name][index]) for t in range(T)}
    dname = {"rnn": "δz", "lstm": "δa", "gru": "δa"}[model.kind]
    if model.kind == "gru" and name == model.W_H:
        dname = "δ(ah)"
    if name == model.W_H:
        gen = f"∂L/∂{name} = Σₜ hₜ₋₁ᵀ {dname}ₜ"
    elif name == model.W_X:
        gen = f"∂L/∂{name} = Σₜ xₜᵀ {dname}ₜ"
    else:
        gen = f"∂L/∂{name} = Σₜ (its share at each step)"
    equation = (f"{gen}      (t = 0 … T−1: one sum over the reversed loop)\n"
                f"∂L/∂W_hy = Σₜ hₜᵀ δyₜ,   biases: Σₜ Σ_b of their deltas")
    if contrib:
        order = sorted(contrib, key=lambda t: -abs(contrib[t]))
        shown = sorted(order[:5], reverse=True)
        for t in shown:
            tm.add(f"t{t}", f"t = {t}", contrib[t], "this step's contribution (backward record)")
        rest = [t for t in contrib if t not in shown]
        if rest:
            tm.add("rest", f"the other {len(rest)} steps", math.fsum(contrib[t] for t in rest),
                   f"t = {min(rest)} … {max(rest)}" if len(rest) > 1 else f"t = {rest[0]}")
    tm.add("total", f"∂L/∂{_entry(name, index)}", total, what + " (recorded)" if what else "recorded")
    tm.add("norm", "‖∇L‖", norm, "global norm over all parameters")
    if contrib:
        biggest = max(contrib, key=lambda t: abs(contrib[t]))
        size = sum(abs(v) for v in contrib.values())
        share = abs(contrib[biggest]) / size if size > 0 else 0.0
        sentence = (f"The gradient is the sum of every timestep's contribution, collected by one reversed loop (that "
                    f"is full BPTT); the largest comes from t = {biggest} ({_pct(share)} by size).")
        substituted = f"∂L/∂{_entry(name, index)} = " + " + ".join(_p(contrib[t]) for t in sorted(contrib)[:8]) + \
            (" + …" if len(contrib) > 8 else "") + f" = {fmt(total)}"
    else:
        sentence = ("The gradient is the sum of every timestep's contribution, collected by one reversed loop (that is "
                    "full BPTT); give the iteration's backward records as the context to see each step's share.")
        substituted = ""
    return tm.build("Gradients: summed over time", equation, sentence, substituted)


def _batch(rec: GradientStep, ctx: _Context) -> str:
    if ctx.loss is not None:
        return f"{ctx.loss.dy.shape[0]} examples"
    return "examples"


# ---------------------------------------------------------------------------------- update

_RULES = {
    "sgd": "θ ← θ − lr · ĝ",
    "momentum": "v ← μ v − lr · ĝ,   θ ← θ + v",
    "adagrad": "m ← m + ĝ²,   θ ← θ − lr · ĝ / √(m + ε)",
    "adam": "m ← β₁ m + (1 − β₁) ĝ,   v ← β₂ v + (1 − β₂) ĝ²,   θ ← θ − lr · m̂ / (√v̂ + ε)",
}
_CLIP_EQ = {"none": "ĝ = g      (no clipping)", "norm": "ĝ = g · min(1, c / ‖g‖)      (clip by global norm)",
            "value": "ĝ = clip(g, −c, c)      (clip each entry)"}


def _update(rec: UpdateStep, model: Any, j: int, ctx: _Context) -> Explanation:
    name, index, what = _focus(model, j, ctx)
    entry = _entry(name, index)
    g = float(rec.grads[name][index])
    delta = float(rec.delta[name][index])
    opt = ctx.options.get("optimizer")
    clipper = ctx.options.get("clipper")
    c = ctx.options.get("clip_threshold", getattr(clipper, "threshold", None))
    if c is None and rec.clip == "norm" and rec.clipped:
        c = rec.norm * rec.scale  # scale = c / ‖g‖
    tm = _Terms()
    tm.add("g", f"g = ∂L/∂{entry}", g, what + " (raw gradient)" if what else "raw gradient")
    tm.add("norm", "‖g‖", rec.norm, "global norm over all parameters, before clipping")
    if c is not None and rec.clip != "none":
        tm.add("threshold", "c", float(c), "the clipping threshold")
    if rec.clip == "norm":
        tm.add("scale", "min(1, c / ‖g‖)", rec.scale, "applied to every gradient" if rec.clipped else "no change")
        g_hat: float | None = g * rec.scale
    elif rec.clip == "value":
        g_hat = float(np.clip(g, -c, c)) if c is not None else (g if not rec.clipped else None)
    else:
        g_hat = g
    if g_hat is not None:
        tm.add("g_hat", "ĝ", g_hat, "the gradient the optimiser uses")
    lr = tm.add("lr", "lr", rec.lr, "learning rate")
    oname = getattr(opt, "name", None) or (rec.extras.get("optimizer") if rec.extras else None)
    predicted: float | None = None
    if g_hat is not None:
        if oname == "sgd" or (oname is None and math.isclose(delta, -lr * g_hat, rel_tol=1e-6, abs_tol=1e-15)):
            oname = oname or "sgd"
            predicted = -lr * g_hat
        elif oname in ("momentum", "adagrad", "adam") and opt is not None:
            predicted = _optimizer_terms(tm, opt, name, index, g_hat, lr)
    tm.add("delta", f"Δ{entry}", delta, "the change applied (recorded)")
    rule = _RULES.get(oname, "θ ← θ + Δθ      (optimiser unknown: give it in the context)")
    equation = f"{_CLIP_EQ[rec.clip]}\n{rule}"
    if oname == "sgd" and g_hat is not None:
        substituted = f"Δ{entry} = −{fmt(lr)} × {_p(g_hat)} = {fmt(delta)}"
    elif g_hat is not None and g_hat != 0:
        substituted = f"Δ{entry} = {fmt(delta)}   (= {fmt(delta / g_hat)} × ĝ)"
    else:
        substituted = f"Δ{entry} = {fmt(delta)}"
    cs = fmt(c) if c is not None else "the threshold"
    if rec.clip == "norm":
        clause = (f"The global gradient norm {fmt(rec.norm)} exceeded {cs}, so every gradient was scaled by "
                  f"{fmt(rec.scale)}, keeping its direction" if rec.clipped
                  else f"The global gradient norm {fmt(rec.norm)} is within {cs}, so nothing was clipped")
    elif rec.clip == "value":
        clause = (f"{rec.n_clipped} gradient entries were clipped to ±{cs} (element-wise, which can turn the "
                  "gradient's direction)" if rec.clipped
                  else f"No entry exceeded ±{cs}, so nothing was clipped (global norm {fmt(rec.norm)})")
    else:
        clause = f"No clipping (the global gradient norm is {fmt(rec.norm)})"
    oname_text = {"sgd": "SGD", "momentum": "momentum", "adagrad": "Adagrad", "adam": "Adam"}.get(oname)
    if oname_text is None:
        clause += f"; then the optimiser changed {entry} by {fmt(delta)} with lr = {fmt(lr)}."
    else:
        clause += f"; then {oname_text} stepped against the gradient with lr = {fmt(lr)}."
    if predicted is not None and not math.isclose(predicted, delta, rel_tol=1e-6, abs_tol=1e-12):
        clause += (" (The optimiser's state has moved on since this update, so its terms no longer reproduce the "
                   "recorded change.)")
    return tm.build(f"Update (iteration {rec.index})", equation, clause, substituted)


def _optimizer_terms(tm: _Terms, opt: Any, name: str, index: tuple[int, ...], g_hat: float, lr: float) -> float | None:
    """Add the optimiser's own terms (state after this update); return the change they predict."""
    if opt.name == "momentum":
        v = opt.v.get(name)
        if v is None:
            return None
        mu = tm.add("mu", "μ", opt.momentum, "momentum")
        vn = tm.add("v", "v (after)", float(v[index]), "the velocity, which is the change")
        tm.add("mu_v", "μ v (before)", vn + lr * g_hat, f"the old velocity times μ = {fmt(mu)}")
        return vn
    if opt.name == "adagrad":
        m = opt.m.get(name)
        if m is None:
            return None
        mv = tm.add("m", "m (after)", float(m[index]), "the running sum of ĝ², this ĝ² included")
        root = tm.add("root", "√(m + ε)", math.sqrt(mv + opt.eps), f"ε = {fmt(opt.eps)}")
        return -lr * g_hat / root
    if opt.name == "adam":
        m, v = opt.m.get(name), opt.v.get(name)
        if m is None or v is None or opt.t < 1:
            return None
        c1, c2 = 1.0 - opt.beta1 ** opt.t, 1.0 - opt.beta2 ** opt.t
        mh = tm.add("m_hat", "m̂ = m / (1 − β₁ᵗ)", float(m[index]) / c1, f"β₁ = {fmt(opt.beta1)}, t = {opt.t}")
        vh = tm.add("v_hat", "v̂ = v / (1 − β₂ᵗ)", float(v[index]) / c2, f"β₂ = {fmt(opt.beta2)}")
        return -lr * mh / (math.sqrt(vh) + opt.eps)
    return None


# ---------------------------------------------------------------------------------- MLP layers


def _mlp_act(model: Any, layer: int) -> str | None:
    """The hidden activation's name, or None for the (linear) output layer."""
    return model.activations[layer - 1].name if layer < model.n_layers else None


def _mlp_forward(rec: LayerForward, model: Any, j: int, ctx: _Context) -> Explanation:
    layer, b = rec.index, EXAMPLE
    n = model.layer_sizes[layer]
    _width(rec.z, n, "z")
    jj = min(j, n - 1)
    s, sp = sub(layer), sub(layer - 1)
    wsum = float(rec.a_in[b] @ _param(model, ctx, f"W{layer}")[:, jj])
    bias = float(_param(model, ctx, f"b{layer}")[jj])
    z, a = float(rec.z[b, jj]), float(rec.a[b, jj])
    act = _mlp_act(model, layer)
    inp = "x" if layer == 1 else f"a{sp}"
    tm = _Terms()
    tm.add("input", f"{inp} W{s}", wsum, "the weighted inputs" + (" (x is the input)" if layer == 1 else ""))
    tm.add("bias", f"b{s}", bias, "")
    stale = _stale((wsum, bias), z)
    if act is not None:
        tm.add("pre", f"z{s}", z, "pre-activation (recorded)")
        tm.add("a", f"a{s} = {_ACT_EQ[act].format(z=f'z{s}')}", a, "the activation (recorded)")
        d = tm.add("deriv", f"f′(z{s}) = {_DERIV_EQ[act].format(h=f'a{s}', z=f'z{s}')}", _deriv(act, z, a),
                   "what the backward pass will multiply by")
        equation = f"z{s} = {inp} W{s} + b{s}\na{s} = {_ACT_EQ[act].format(z=f'z{s}')}"
        substituted = f"z{s} = {fmt(wsum)} + {_p(bias)} = {fmt(z)};   a{s} = {_ACT_EQ[act].format(z=fmt(z))} = {fmt(a)}"
        sentence = _act_remark(act, z, a, d, f"Unit {jj}", "this layer", "a") or (
            f"Layer {layer} mixes the {model.layer_sizes[layer - 1]} values below it with its weights, adds the bias "
            f"and bends the result with {act}.")
    else:
        tm.add("y", f"y[{jj}]", z, "the output score (recorded)")
        equation = f"y = {inp} W{s} + b{s}"
        substituted = f"y[{jj}] = {fmt(wsum)} + {_p(bias)} = {fmt(z)}"
        if rec.p is not None:
            pj = tm.add("p", f"p[{jj}] = softmax(y)[{jj}]", float(rec.p[b, jj]), "probability of class " + str(jj))
            equation += "\np = softmax(y) = exp(y) / Σ_k exp(y_k)"
            sentence = (f"The softmax turns the output scores into probabilities over the classes (each example's "
                        f"sum to 1): class {jj} gets {fmt(pj)}.")
        else:
            sentence = "The output layer is linear: its scores are the predictions the squared error compares."
    if stale:
        sentence = f"The pre-activation adds the weighted inputs and the bias.{stale}"
    title = f"Layer {layer} forward · unit {jj}" + (" (output)" if act is None else "")
    return tm.build(title, equation, sentence, substituted)


def _mlp_backward(rec: LayerBackward, model: Any, j: int, ctx: _Context) -> Explanation:
    layer, b = rec.index, EXAMPLE
    n = model.layer_sizes[layer]
    _width(rec.dz, n, "dz")
    jj = min(j, n - 1)
    s, sn = sub(layer), sub(layer + 1)
    da, dz = float(rec.da[b, jj]), float(rec.dz[b, jj])
    act = _mlp_act(model, layer)
    gb = float(rec.grads[f"b{layer}"][jj])
    tm = _Terms()
    if act is None:
        loss = ctx.loss.loss if ctx.loss is not None else ("cross_entropy" if model.output == "softmax" else "mse")
        red = ctx.loss.reduction if ctx.loss is not None else None
        scale = " / B" if red == "mean" else ""
        form = f"(p − onehot(target)){scale}" if loss == "cross_entropy" else f"(y − target){scale}"
        tm.add("da", f"δy[{jj}] = {form}", da, "the output delta from the loss (recorded)")
        tm.add("dpre", f"δz{s}[{jj}]", dz, "the same number: no activation at the output (recorded)")
        tm.add("bias_grad", f"∂L/∂b{s}[{jj}] = Σ_b δz{s}[b, {jj}]", gb, "summed over the batch (recorded)")
        sp = sub(layer - 1)
        equation = (f"δz{s} = δy = {form}\n"
                    f"∂L/∂W{s} = a{sp}ᵀ δz{s},   ∂L/∂b{s} = Σ_b δz{s}[b, ·],   δa{sp} = δz{s} W{s}ᵀ")
        substituted = f"δz{s}[{jj}] = δy[{jj}] = {fmt(dz)}"
        sentence = ("At the output, softmax and cross-entropy combine into δ = p − onehot(target), so the layer's "
                    "delta needs no softmax derivative at all." if loss == "cross_entropy" else
                    "At a linear output with squared error the delta is just the error y − target.")
        return tm.build(f"Layer {layer} backward · unit {jj} (output)", equation, sentence, substituted)
    lf = ctx.layer_forward.get(layer)
    deq = _DERIV_EQ[act].format(h=f"a{s}", z=f"z{s}")
    tm.add("da", f"δa{s} = (δz{sn} W{sn}ᵀ)[{jj}]", da, f"from layer {layer + 1} (recorded)")
    if lf is not None:
        z, a = float(lf.z[b, jj]), float(lf.a[b, jj])
        if act == "relu":
            tm.add("z", f"z{s}", z, "pre-activation (forward)")
        elif act != "linear":
            tm.add("a", f"a{s}", a, "activation (forward)")
        d = tm.add("deriv", f"f′ = {deq}", _deriv(act, z, a), f"{act}'s derivative")
        remark = _act_remark(act, z, a, d, f"Unit {jj}", "this layer", "a")
    else:
        d = tm.add("deriv", f"f′ = {deq}", dz / da if da != 0 else (1.0 if act == "linear" else 0.0),
                   "from the recorded deltas (add this layer's forward record to see a)")
        remark = ""
    tm.add("dpre", f"δz{s}[{jj}]", dz, "pre-activation delta (recorded)")
    tm.add("bias_grad", f"∂L/∂b{s}[{jj}] = Σ_b δz{s}[b, {jj}]", gb, "summed over the batch (recorded)")
    equation = (f"δz{s} = δa{s} ⊙ {deq},   δa{s} = δz{sn} W{sn}ᵀ\n"
                f"∂L/∂W{s} = a{sub(layer - 1)}ᵀ δz{s},   ∂L/∂b{s} = Σ_b δz{s}[b, ·]")
    substituted = f"δz{s}[{jj}] = {_p(da)} × {_p(d)} = {fmt(dz)}"
    sentence = remark or (f"The delta from layer {layer + 1} ({fmt(da)}) is multiplied by this unit's derivative "
                          f"{fmt(d)}: where that is small, the layers below learn slowly.")
    return tm.build(f"Layer {layer} backward · unit {jj}", equation, sentence, substituted)


__all__ = ["EXAMPLE", "Explanation", "Term", "explain", "fmt", "sub"]
