"""Reading the pattern of the errors: recognisers, each with its own hint, ranked by how well they fit.

Order of the reading (``diagnose``):

1. one factor for every wrong parameter and nothing right: a reduction mismatch, a sign flip,
   nothing connected (``_global_factor_hint``);
2. recognisers that explain one parameter each, exactly: a parameter the loss does not use (its
   numerical gradient is zero, the analytic one is not), repeated ids not accumulated (only the
   rows of ids that occur more than once are wrong), a transposed gradient, a per-parameter
   factor, zeros where the numerical gradient is not;
3. two bugs at once: a factor shared by some wrong parameters while the others are wrong in
   another way and none is right. A factor at the start of the backward pass applies to every
   parameter, so it is named as such, divided out of every gradient, and the rest is read again
   (also along the sequence length) and reported as the second bug;
4. where in the backward pass the rest sits: only the biases; the sequence length (right for
   T=1..k, wrong from T=k+1: the backward pass stops after k steps; k=1 is the classic dropped
   ``dh_next``); everything wrong at T=1 (where the backward pass starts: the derivative of the
   loss the code computes, read from its source; all-zero gradients are said to be zero); the
   output layer right and the layers below wrong (an activation derivative).
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace

import numpy as np

from .compare import Comparison, Settings
from .report import ParamCheck, Report

Array = np.ndarray


@dataclass
class Context:
    """What the hints may consult besides the comparisons: the kind of loss read from the user's
    source (``usercode.loss_kind``), how often each input id occurs, the settings, and ``rescan``
    (the sequence-length search again with every comparison adjusted; None without ``seq_axis``)."""

    loss_kind: str | None = None
    id_counts: Array | None = None
    rescan: Callable | None = None
    settings: Settings = Settings()
    depth: int = 0
    first_repeat: int | None = None  # the shortest prefix length in which some input id occurs twice


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
    return _names_str([pc.name for pc in pcs])


def _names_str(names: list[str]) -> str:
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


def _global_factor_hint(c: float, B: int | None, T: int | None, only: list[str] | None = None) -> str:
    """The hint for a factor ``c`` common to every gradient (or, with ``only``, shown by those
    parameters while the others are wrong in another way too)."""
    if only is not None:
        m = _factor_match(c, B, T)
        what = f", the factor is {m[0]}" if m else ""
        return (f"{_names_str(only)} {'are' if len(only) > 1 else 'is'} exactly {_factor_text(c)} the numerical "
                f"gradient in every entry{what}. A factor like this enters where the backward pass starts (the "
                "loss's reduction, sum vs mean, or its sign), so it applies to every parameter, not to these "
                "alone: use the same scaling for the loss and its derivative.")
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
                "never computed or never accumulated (a missing `+=`, a loop that never runs, or the result "
                "assigned to a variable that is not returned).")
    if abs(c + 1) <= 1e-3:
        return (f"{g} has exactly the opposite sign of the numerical gradient in every entry: a minus sign "
                "where a plus belongs in this parameter's gradient (or `y - p` written for `p - y`).")
    m = _factor_match(c, B, T)
    text = f"{g} is exactly {_factor_text(c)} the numerical gradient in every entry"
    if m is not None:
        text += f"; the factor is {m[0]}"
    return text + (": this gradient is scaled differently from the loss while other gradients are right (sum vs "
                   "mean, or a stray factor, in this parameter's gradient only).")


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
    "dropped or overwritten, and updated at every step (a backward pass that stops after 1 step). {who}")

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




_OUTPUT_DELTA = {
    "softmax_ce": ("softmax followed by cross-entropy",
                   "it is simply `dy = p - onehot(target)` (divided by B if the loss is a batch mean); do not "
                   "multiply by an element-wise softmax derivative `p(1 - p)`: the softmax Jacobian is not "
                   "diagonal, and with cross-entropy it all cancels to `p - y`. Also check that the softmax is "
                   "normalised over the class axis, not over the batch"),
    "sigmoid_ce": ("a sigmoid output with binary cross-entropy",
                   "the delta at the pre-activation is simply `y - t` with `y = sigmoid(z)`: the `y(1 - y)` of the "
                   "sigmoid cancels against the cross-entropy's `1 / (y(1 - y))`; do not multiply by it again"),
    "sigmoid_se": ("a sigmoid output with a squared error",
                   "the delta at the pre-activation is `(y - t) * y * (1 - y)` with `y = sigmoid(z)` (twice that "
                   "without the ½ in `½(y - t)²`): the sigmoid's derivative does not cancel here; `y - t` alone "
                   "is the delta for a sigmoid with cross-entropy, not with squared error"),
    "se": ("a squared error",
           "for `½(y - t)²` the delta is `y - t` (for `(y - t)²` it is `2(y - t)`), times the output "
           "activation's derivative if the output has one"),
}


def _output_hint(when: str, kind: str | None) -> str:
    head = (f"Every parameter is already wrong{when}, so the error enters where the backward pass starts: the "
            "derivative of the loss with respect to the outputs. ")
    if kind in _OUTPUT_DELTA:
        what, delta = _OUTPUT_DELTA[kind]
        return head + f"Your code computes {what} (read from its source): {delta}."
    return head + ("With softmax followed by cross-entropy it is simply `dy = p - onehot(target)`; with a "
                   "sigmoid and cross-entropy `y - t`; with a sigmoid and squared error `(y - t) y(1 - y)`; for "
                   "squared error `½(y - t)²` of a linear output `y - t`. Use the derivative of the loss your "
                   "forward pass really computes.")


_ZERO_AT_ONE_HINT = (
    "At T=1 every gradient your code returns is zero, although the loss does depend on the parameters: with one "
    "timestep the backward pass never runs. The backward loop stops before t = 0 (`range(T - 1, 0, -1)` or "
    "`reversed(range(1, T))` instead of `reversed(range(T))`), so the first step's contribution is missing at "
    "every length.")

_TRUNCATED_HINT = (
    "Correct for T=1..{k}, wrong from T={L}: your backward pass stops after {k} steps. That is the exact "
    "signature of a truncated backward pass through time: each step's delta is carried back only {k} steps "
    "(a `bptt_truncate`, a window like `range(t, max(t - {k}, -1), -1)`, or a loop bound that is off), so "
    "every path longer than {k} steps is missing. Carry `dh_next` back to t = 0 for every output. Truncation "
    "is a legitimate training trick, but then the gradient is not the loss's gradient and no check can pass: "
    "check with the truncation switched off. {who}")


def _unseen_hint(pc: ParamCheck) -> str | None:
    """A sampled parameter right at every checked entry but wrong along a random direction through all."""
    if pc.direction_ok or pc.direction is None or pc.analytic is None:
        return None
    scale = float(np.max(np.abs(pc.analytic), initial=0.0) + np.max(np.abs(pc.numerical), initial=0.0))
    if np.max(np.abs(pc.analytic - pc.numerical), initial=0.0) > pc.tol * max(scale, 1e-300):
        return None
    da, dn = pc.direction
    return (f"grads[{pc.name!r}] agrees with the numerical gradient at all {pc.checked} sampled entries, but not "
            f"along a random direction through all {pc.size} of them ({da:.6g} vs {dn:.6g}): the error lies in "
            "entries the sample did not reach — typically rows of ids written to the wrong place, or a few rows "
            "or columns with their own bug. Check this gradient with fewer rows (a smaller vocabulary) or a "
            "larger max_entries to see where.")


def _unused_hint(pc: ParamCheck) -> str | None:
    """A parameter the loss does not depend on (numerical gradient zero) with a non-zero analytic one."""
    if pc.analytic is None or not pc.analytic.size:
        return None
    sa, sn = float(np.max(np.abs(pc.analytic))), float(np.max(np.abs(pc.numerical)))
    used_elsewhere = pc.direction is not None and abs(pc.direction[1]) > 1e-6 * max(abs(pc.direction[0]), 1e-300)
    if sa > 0 and sn <= 1e-6 * sa and used_elsewhere:
        return (f"grads[{pc.name!r}] is non-zero at entries where the loss does not depend on {pc.name} (the "
                f"numerical gradient is zero at every checked entry, yours up to {sa:.3g}), while the loss does "
                f"depend on {pc.name} elsewhere (along a random direction through all entries: yours "
                f"{pc.direction[0]:.6g}, numerical {pc.direction[1]:.6g}): the gradient is written to the wrong "
                "entries — the wrong rows (ids shifted by an offset, another index array), or transposed "
                "indexing.")
    if sa > 0 and sn <= 1e-6 * sa:
        return (f"params[{pc.name!r}] does not change the loss at all (its numerical gradient is zero at every "
                f"checked entry), but grads[{pc.name!r}] is not zero (up to {sa:.3g}): the forward pass never uses "
                f"{pc.name} — a term left out (e.g. `W @ h` without `+ {pc.name}`), a misspelt name, or a copy used "
                "instead of the parameter — or this gradient belongs to another parameter. Use the parameter in "
                "the forward pass, or drop it.")
    return None


def _repeated_ids_hint(pc: ParamCheck, counts: Array | None, first_bad: int | None,
                       first_repeat: int | None) -> str | None:
    """Wrong exactly on the rows (along some axis) of ids that occur more than once in the inputs:
    every checked entry off such a row is right, every such row with a gradient is wrong, and
    (with a time axis) the first wrong length is the one at which an id first occurs twice."""
    if counts is None or pc.analytic is None or not np.any(counts > 1):
        return None
    if first_bad is not None and first_bad != first_repeat:
        return None
    reps = np.flatnonzero(counts > 1)
    d = np.abs(pc.analytic - pc.numerical)
    scale = float(np.max(np.abs(pc.analytic)) + np.max(np.abs(pc.numerical)))
    wrong = d > pc.tol * max(scale, 1e-300)
    if not wrong.any():
        return None
    coords = np.unravel_index(pc.idx, pc.shape)
    for axis, n in enumerate(pc.shape):
        if n < counts.size:
            continue
        on_rep = np.isin(coords[axis], reps)
        alive = np.abs(pc.numerical) > pc.tol * max(scale, 1e-300)
        rep_rows = np.unique(coords[axis][on_rep & alive])
        wrong_rows = np.unique(coords[axis][on_rep & wrong])
        if wrong[on_rep].any() and not wrong[~on_rep].any() and np.array_equal(rep_rows, wrong_rows):
            rows = np.unique(coords[axis][wrong])
            listed = ", ".join(f"{int(i)} ({int(counts[i])}×)" for i in rows[:6]) + (", ..." if rows.size > 6 else "")
            line = "rows" if axis == 0 else ("columns" if axis == 1 and len(pc.shape) == 2 else
                                             f"slices along axis {axis}")
            return (f"grads[{pc.name!r}] is wrong exactly on the {line} of ids that occur more than once in the "
                    f"inputs ({listed}) and right everywhere else: repeated indices are not accumulated. "
                    f"`d{pc.name}[ids] += g` with fancy indexing adds only one contribution of an id that occurs "
                    f"twice; use `np.add.at(d{pc.name}, ids, g)` (or a loop over the positions).")
    return None


def _transposed_hint(pc: ParamCheck) -> str:
    return (f"grads[{pc.name!r}] is the transpose of the right gradient: with h_{{t-1}} and dz_t as rows "
            "(batch-first) it is `h_{t-1}^T dz_t`; with columns it is `dz_t h_{t-1}^T`. (It is square, so the "
            "shapes agree and nothing else complains.)")


def _zeros_hint(pc: ParamCheck) -> str:
    return (f"{pc.zeros} of the {pc.checked} checked entries of grads[{pc.name!r}] are zero where the numerical "
            "gradient is not: a term is missing for them — a timestep or an example left out of a loop or a sum "
            "(a loop over t that stops before t = 0?).")


def _factor_groups(pcs: list[ParamCheck]) -> list[tuple[float, list[ParamCheck]]]:
    """Wrong parameters grouped by a common clean factor (not 1), largest group first."""
    groups: list[tuple[float, list[ParamCheck]]] = []
    for pc in pcs:
        c = pc.factor
        if c is None or abs(c - 1) <= 1e-3:
            continue
        for g in groups:
            if (c == 0.0 and g[0] == 0.0) or (g[0] != 0.0 and abs(c - g[0]) <= 1e-3 * abs(g[0])):
                g[1].append(pc)
                break
        else:
            groups.append((c, [pc]))
    return sorted(groups, key=lambda g: -len(g[1]))


def diagnose(report: Report, comp: Comparison, scan: Mapping[int, Comparison], ctx: Context) -> list[str]:
    """Plain-language sentences about the pattern of the errors (see the module docstring)."""
    B, T = report.batch_size, report.seq_len
    pcs = [pc for pc in comp.params.values() if not pc.unverified]
    bad = [pc for pc in pcs if not pc.ok]
    active = [pc for pc in pcs if pc.active]
    if not bad:
        return []

    # 1. one factor for everything: a reduction mismatch, a sign flip, nothing connected
    groups = _factor_groups(bad)
    if groups and len(groups[0][1]) == len(bad) and len(bad) == len(active):
        return [_global_factor_hint(groups[0][0], B, T)]

    # 2. recognisers that explain one parameter exactly
    hints: list[str] = []
    explained: set[str] = set()
    for pc in bad:
        h = (_unseen_hint(pc) or _unused_hint(pc)
             or _repeated_ids_hint(pc, ctx.id_counts, report.first_bad_length, ctx.first_repeat))
        if h is None and pc.transposed:
            h = _transposed_hint(pc)
        if h is not None:
            hints.append(h)
            explained.add(pc.name)
    rest = [pc for pc in bad if pc.name not in explained]
    if not rest:
        return hints

    # 3. two bugs at once: a factor shared by some, others wrong otherwise, nothing right
    groups = _factor_groups(rest)
    nothing_right = not any(pc.ok for pc in active)
    if ctx.depth == 0 and groups and groups[0][0] != 0.0 and nothing_right and len(groups[0][1]) < len(rest):
        c, group = groups[0]
        mixed = _mixed(report, comp, scan, ctx, c, group)
        if mixed is not None:
            return hints + mixed

    # 4. per parameter, then where in the backward pass
    bias_bad = [pc for pc in rest if _is_bias(pc)]
    weights_ok = [pc for pc in active if pc.ok and not _is_bias(pc)]
    bias_only = len(bias_bad) == len(rest) and bool(weights_ok) and not explained
    for pc in rest:
        if bias_only and pc.factor not in (None, 0.0):
            continue
        if pc.factor is not None and abs(pc.factor - 1) > 1e-3:
            hints.append(_param_factor_hint(pc, B, T))
            explained.add(pc.name)
        elif pc.zeros >= max(2, math.ceil(pc.checked / 3)):
            hints.append(_zeros_hint(pc))
            explained.add(pc.name)
    if bias_only:
        fac = ""
        if B and B > 1 and all(pc.factor is not None and abs(pc.factor * B - 1) <= 1e-3 for pc in bias_bad):
            fac = f" (here they are exactly 1/B of the right values, B={B}: averaged instead of summed)"
        hints.append(_BIAS_HINT.format(bad=_names(bias_bad), factor=fac))
        return hints
    if all(pc.name in explained for pc in bad):
        return hints
    return hints + _where(report, comp, scan, ctx, bad, pcs)


def _where(report: Report, comp: Comparison, scan: Mapping[int, Comparison], ctx: Context,
           bad: list[ParamCheck], pcs: list[ParamCheck]) -> list[str]:
    """Where in the backward pass the bug sits, from which parameters are wrong at which length."""
    T = report.seq_len
    L = report.first_bad_length
    if L is not None and L >= 2:
        one = scan.get(1)
        late = [pc for pc in bad if one is None or one.params[pc.name].ok]
        rec = _recurrent(pcs, one)
        who = (f"Right at T=1 but wrong at T={T or L}: {_names(late)}, the parameters that get gradient "
               "through time.") if late else ""
        if rec:
            quiet = one is not None and not any(_alive(one.params[pc.name]) for pc in rec)
            who += (f" The recurrent weights are presumably {_names(rec)} (square"
                    + (", and no gradient at T=1)." if quiet else ")."))
        if _gated(pcs):
            who += (" In an LSTM the cell state is a second path back in time: `dc = dh * o * (1 - tanh(c)²) "
                    "+ dc_next` and `dc_next = dc * f` must be carried back as well as `dh_next`.")
        if L >= 3:
            return [_TRUNCATED_HINT.format(k=L - 1, L=L, who=who).rstrip()]
        out = []
        if [pc.name for pc in bad] == [pc.name for pc in rec]:
            out.append(_SQUARE_HINT.format(bad=_names(rec)))
        out.append(_RECURRENT_HINT.format(L=L, who=who).rstrip())
        return out
    at = scan.get(1, comp) if L == 1 else comp
    when = " at T=1" if L == 1 else ""
    at_pcs = [pc for pc in at.params.values() if not pc.unverified]
    bad_at = [pc for pc in at_pcs if not pc.ok]
    active_at = [pc for pc in at_pcs if pc.active]
    if L == 1 and active_at and all(pc.factor == 0.0 and pc.analytic_max == 0.0 for pc in active_at):
        return [_ZERO_AT_ONE_HINT]
    if len(bad_at) == 1 and _is_square(bad_at[0]) and len(active_at) > 1:
        return [_SQUARE_HINT.format(bad=bad_at[0].name)]
    if len(bad_at) == len(active_at):
        return [_output_hint(when + (" with no gradient through time" if when else ""), ctx.loss_kind)]
    good = [pc for pc in active_at if pc.ok]
    return [_LOWER_HINT.format(good=_names(good), good_verb="are" if len(good) > 1 else "is",
                               bad=_names(bad_at), bad_verb="are" if len(bad_at) > 1 else "is", when=when)]


def _mixed(report: Report, comp: Comparison, scan: Mapping[int, Comparison], ctx: Context, c: float,
           group: list[ParamCheck]) -> list[str] | None:
    """Two bugs: the factor ``c`` shared by ``group`` taken out of every gradient (at every length,
    the factor the group shows there), and the rest read again. None when that explains nothing."""
    names = {pc.name for pc in group}
    scaled = comp.scaled(c, ctx.settings)
    if any(not scaled.params[n].ok for n in names) or all(pc.ok for pc in scaled.params.values()):
        return None

    def adjust(L: int, cl: Comparison) -> Comparison:
        fs = [cl.params[n].factor for n in names]
        if all(f is not None and f != 0.0 for f in fs):
            return cl.scaled(float(np.median(fs)), ctx.settings)
        return cl

    sub = replace(report)
    new_scan: Mapping[int, Comparison] = {}
    if ctx.rescan is not None:
        sub.first_bad_length, new_scan = ctx.rescan(adjust)
    else:
        new_scan = {}
    first = _global_factor_hint(c, report.batch_size, report.seq_len, only=sorted(names))
    rest = diagnose(sub, scaled, new_scan, replace(ctx, depth=1))
    when = ""
    if sub.first_bad_length is not None and sub.first_bad_length != report.first_bad_length:
        when = (f" With the factor divided out, the gradients are correct for T=1..{sub.first_bad_length - 1} "
                f"and wrong from T={sub.first_bad_length}.") if sub.first_bad_length > 1 else ""
    return [("The pattern is mixed: two bugs at once. " + first + when),
            "The second bug, with that factor divided out of every gradient: " + " ".join(rest)]


_GATE_NAME = re.compile(r"(^|_)[Ww]?[fiocg]$|forget|input_gate|output_gate|cell|lstm", re.IGNORECASE)


def _gated(pcs: list[ParamCheck]) -> bool:
    """Whether the parameters look like an LSTM's (several gate-named ones)."""
    return sum(bool(_GATE_NAME.search(pc.name)) for pc in pcs) >= 4


def _alive(pc: ParamCheck) -> bool:
    """Whether a parameter gets any gradient: numerically at its checked entries, or analytically anywhere."""
    return pc.active or pc.analytic_max > 0


def _recurrent(pcs: list[ParamCheck], one: Comparison | None) -> list[ParamCheck]:
    """Presumed recurrent weights: square matrices, narrowed to those with no gradient at T=1
    (the state before the first step is usually zero), then by name."""
    squares = [pc for pc in pcs if _is_square(pc)]
    if len(squares) > 1 and one is not None:
        quiet = [pc for pc in squares if not _alive(one.params[pc.name])]
        squares = quiet or squares
    if len(squares) > 1:
        named = [pc for pc in squares if _RECURRENT_NAME.search(pc.name)]
        squares = named or squares
    return squares

