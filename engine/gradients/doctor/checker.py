"""``check``: the gradient doctor's one entry point, tying the other modules together."""

from __future__ import annotations

import copy
import time
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from .compare import NOISE_LIMIT, Comparison, auto_settings, compare, precision_of, probe_noise
from .hints import Context, diagnose
from .report import Report
from .sampling import id_counts, ids_in, pick, timed_calls, touched
from .sequences import batch_size, prefix, scan, shape_of, target_axis
from .usercode import MISSING, Caller, UserCodeError, describe_exception, grads_problems, loss_kind

Array = np.ndarray

#: Entries checked per parameter in the full-length check (all of them when the parameter is smaller).
MAX_ENTRIES = 200
#: Entries per parameter when re-checking shorter sequences (and past the time budget).
SCAN_ENTRIES = 32
LITE_ENTRIES = 8
#: Seconds the numerical gradients may take in all before fewer entries are checked: the full-length
#: check is sized for half of it, the re-checks of shorter sequences get the rest (and never less
#: than 60% of it, should the full-length check have overrun on a busy machine); past it they go on
#: with fewer entries, and give up only after twice the budget more.
BUDGET = 8.0


def check(f: Callable, params: Mapping[str, Any], inputs: Any, targets: Any, *, seq_axis: int | None = None,
          eps: float | None = None, tol: float | None = None, batch_axis: int | None = None,
          max_entries: int = MAX_ENTRIES, seed: int = 0, budget: float = BUDGET) -> Report:
    """Check ``f(params, inputs, targets) -> (loss, grads)`` against central differences.

    params: dict name -> array (any shapes); grads must use the same names and shapes.
    seq_axis: the time axis of ``inputs`` (0 for a list of ids, 1 for ``(B, T, D)``, 2 for
    ``(B, D, T)``); targets are cut along their own time axis (found by length), or left alone when
    they have none (many-to-one). With it, a failing check is repeated on shorter prefixes to find
    ``first_bad_length``.
    eps: the central-difference step; tol: the largest acceptable relative error per parameter
    (``engine.gradients.gradcheck.relative_error`` with the loss-scaled ``noise_floor``). None (the default)
    chooses both from the precision the code computes in: 1e-5 and 1e-5 in float64; in float32 a
    larger step and 1e-4 (``compare.auto_settings``).
    batch_axis: the batch axis of ``inputs`` for naming a factor "the batch size" (only named when
    known: given here, or the only axis that can be the batch).
    max_entries: entries checked per parameter (a seeded sample above it; ``seed``);
    budget: seconds the numerical gradients may take before fewer entries are checked.
    Never raises for problems in ``f``: they become ``report.errors``.
    """
    report = Report()
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
        report.notes.append(f"Checked with float64 copies of {', '.join(converted)} (given in another dtype): finite "
                            "differences need the precision, unless your code converts them back.")
    try:
        inputs, targets = copy.deepcopy(inputs), copy.deepcopy(targets)
    except Exception as e:
        report.errors.append(f"inputs and targets could not be copied: {describe_exception(e)}")
        return report

    in_shape = shape_of(inputs) or ()
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
    report.batch_size = batch_size(inputs, targets, seq_axis, batch_axis)

    caller = Caller(f, list(work))
    start = time.perf_counter()
    try:
        results, t_call = timed_calls(lambda: caller.call(work, inputs, targets), seconds=0.05 * budget)
    except UserCodeError as e:
        report.errors.append(str(e))
        return report
    losses = [r[0] for r in results]
    if max(losses) - min(losses) > 1e-10 * max(1.0, abs(losses[0])):
        other = next(v for v in losses if v != losses[0])
        report.errors.append(f"{caller.name} gives a different loss on identical calls ({len(losses)} calls: "
                             f"{losses[0]:.10g}, {other:.10g}): random dropout or noise? Fix its "
                             "random seed so that the loss is a function of the parameters only.")
        return report
    first = results[0]
    loss0 = first[0]

    # the precision the code computes in, and eps / tol to match
    try:
        noise = probe_noise(caller, work, inputs, targets, loss0, np.random.default_rng(seed + 1))
    except UserCodeError:
        noise = 0.0  # the comparison below reports what went wrong
    report.precision = precision_of(caller.dtypes, noise, loss0)
    settings = auto_settings(report.precision, precision_of(caller.loss_dtypes, noise, loss0), noise, loss0, eps, tol)
    report.eps, report.tol, report.noise = settings.eps, settings.tol, settings.noise
    if report.precision != "float64":
        chosen = " and ".join(what for what, given in (("eps", eps), ("tol", tol)) if given is None)
        report.notes.append(
            f"Your code computes in {report.precision} (it returns {', '.join(sorted(caller.dtypes)) or 'float64'} "
            f"values; the loss carries rounding noise of about {settings.noise:.1g}): "
            + (f"{chosen} were chosen to match (eps {settings.eps:g}, tol {settings.tol:g}). " if chosen else "")
            + "Precision limits what the check can tell: an error smaller than the rounding noise cannot be "
            "seen, and small gradients are judged by a looser bound (the tolerance of each parameter is at "
            "least 10 × the noise of a central difference, noise / eps, relative to its gradient). For an exact "
            "check, compute in float64.")

    # which entries: everything up to max_entries, fewer if calls are slow; steered to where the gradient lives
    main_budget = 0.5 * budget
    per_param = max(1, int(max_entries))
    affordable = int(main_budget / (2.0 * max(t_call, 1e-6) * len(work)))
    if affordable < per_param:
        per_param = max(5, affordable)
        report.notes.append(f"One call of {caller.name} takes {t_call * 1e3:.0f} ms (the median of "
                            f"{len(results)} calls): checked at most {per_param} entries per parameter to stay "
                            f"within about {budget:g} s.")
    grads0 = grads_problems(first[1], work, caller.name)[0]
    ids = ids_in(inputs)
    rng = np.random.default_rng(seed)
    picks: dict[str, Array] = {}
    subset, steered = [], False
    for name, p in work.items():
        picks[name], live = pick(p.shape, per_param, grads0.get(name), ids, rng)
        steered |= live
        if len(picks[name]) < p.size:
            subset.append(f"{name} {len(picks[name])} of {p.size}")
    if subset:
        how = (", a third of it on the slices the input ids touch and a third where your gradient is non-zero, "
               "the rest at random" if steered else "")
        report.notes.append(f"Large parameters were checked on a seeded sample of their entries (seed {seed}{how}): "
                            f"{', '.join(subset)}.")

    try:
        comp = compare(caller, work, inputs, targets, picks, settings, first=first,
                       deadline=time.perf_counter() + main_budget)
    except UserCodeError as e:
        report.errors.append(str(e))
        return report
    report.loss = comp.loss
    report.params = comp.params
    report.errors += comp.general + [pc.problem for pc in comp.params.values() if pc.problem not in (None, MISSING)]
    report.ok = not comp.bad
    noisy = [pc.name for pc in comp.params.values() if pc.unverified and pc.tol is not None and pc.tol > NOISE_LIMIT]
    if noisy:
        report.notes.append(
            f"{', '.join(noisy)}: with eps {settings.eps:g} the rounding noise of your loss "
            f"({settings.noise:.1g}) puts an error of about {settings.noise / settings.eps:.1g} on every numerical "
            "entry, as large as the "
            "gradients themselves: precision hides any bug there, so they are not reported as correct. Use a larger "
            "eps (leave it out to have it chosen) or compute in float64.")
    for pc in comp.params.values():
        if pc.unverified and pc.name not in noisy:
            zero = (" Your gradient for it is zero everywhere: if the loss depends on it, nothing reaches it."
                    if pc.analytic_max == 0 else "")
            report.notes.append(f"{pc.name}: both gradients are zero at all {pc.checked} checked entries (of "
                                f"{pc.size}), so the sample shows nothing; it is not reported as correct.{zero}")

    length_comps: dict[int, Comparison] = {}
    rescan = None
    wrong = any(not pc.ok and not pc.unverified for pc in comp.params.values())
    if wrong and not comp.failed and seq_axis is not None and T is not None:
        t_axis = target_axis(targets, seq_axis, len(in_shape), T)
        small, lite = _scan_picks(comp, picks, SCAN_ENTRIES), _scan_picks(comp, picks, LITE_ENTRIES)
        wrong_names = {n for n, pc in comp.params.items() if not pc.ok and not pc.unverified}
        cache: dict[int, Comparison] = {T: comp}

        def compare_at(L: int) -> Comparison:
            if L not in cache:
                x = prefix(inputs, seq_axis, L)
                y = targets if t_axis is None else prefix(targets, t_axis, L)
                steps = f"the first {L} timestep{'s' if L > 1 else ''}"
                # beyond T=1 (where every parameter is read, for the hints) only the parameters that are
                # wrong at full length decide whether a length is bad
                # past the soft deadline, fewer entries (the worst at full length and the earliest inputs'
                # slices) rather than giving up: the first wrong length is worth a few seconds more
                base = small if time.perf_counter() < deadline else lite
                sel = base if L == 1 else {n: (i if n in wrong_names else i[:0]) for n, i in base.items()}
                try:
                    c = compare(caller, work, x, y, _early_picks(sel, work, x, seq_axis, seed + L,
                                                                 max(2, len(next(iter(base.values()))) // 4)),
                                settings, verify=False)
                except UserCodeError as e:
                    raise StopIteration(f"Could not re-check on {steps}: {e}") from None
                if c.failed:
                    problems = c.general + [pc.problem for pc in c.params.values() if pc.problem]
                    raise StopIteration(f"Could not re-check on {steps}: {problems[0]}")
                cache[L] = c
            return cache[L]

        deadline = max(start + budget, time.perf_counter() + 0.6 * budget)
        hard = deadline + 2.0 * budget

        def rescan(adjust: Callable[[int, Comparison], Comparison]):
            """The search again, judging every length after ``adjust`` (a common factor taken out)."""
            s = scan(T, lambda L: adjust(L, compare_at(L)), lambda c: c.bad, deadline=hard)
            return s.first_bad, {**s.done, T: adjust(T, comp)}

        s = scan(T, compare_at, lambda c: c.bad, deadline=hard)
        length_comps = {**s.done, T: comp}
        report.length_errors = {L: {name: pc.error for name, pc in c.params.items() if pc.checked}
                                for L, c in sorted(length_comps.items())}
        report.first_bad_length = s.first_bad
        if s.stopped:
            report.notes.append(s.stopped)
        if s.unresolved:
            good, bad = s.unresolved
            report.notes.append(f"Correct for T={good}, wrong for T={bad}; the time budget ran out before the first "
                                f"wrong length in between was found (a larger budget finds it).")
    if wrong and not comp.failed:
        ctx = Context(loss_kind=loss_kind(f), id_counts=id_counts(inputs), rescan=rescan, settings=settings,
                      first_repeat=_first_repeat(inputs, seq_axis, T))
        report.hints = diagnose(report, comp, length_comps, ctx)
    return report


def _scan_picks(comp: Comparison, picks: Mapping[str, Array], n: int) -> dict[str, Array]:
    """``SCAN_ENTRIES`` of each parameter's checked entries for the shorter re-checks: half of them
    where the full-length error is largest (where a bug shows first), half spread over the rest."""
    small = {}
    for name, idx in picks.items():
        if len(idx) <= n:
            small[name] = idx
            continue
        pc = comp.params[name]
        d = np.abs(pc.analytic - pc.numerical) if pc.analytic is not None else np.zeros(len(idx))
        top = np.argsort(-d, kind="stable")[:n // 2]
        spread = np.linspace(0, len(idx) - 1, n - len(top)).astype(int)
        small[name] = np.unique(idx[np.concatenate([top, spread])])
    return small


def _early_picks(small: Mapping[str, Array], work: Mapping[str, Array], x: Any, seq_axis: int,
                 seed: int, k: int) -> dict[str, Array]:
    """``small`` plus, for parameters indexed by token ids, a few entries on the slices of the ids
    of the prefix ``x`` and of its first timestep: a gradient that fails to reach back through time
    is missing first at the earliest inputs, and with a sample the shorter re-checks must look
    there or the first wrong length is missed (``W_xh[:, x_0]`` is all that is wrong at T=k+1
    when the backward pass stops after k steps)."""
    rng = np.random.default_rng(seed)
    ids_all = ids_in(x)
    if ids_all is None:
        return dict(small)
    ids_first = ids_in(prefix(x, seq_axis, 1))
    out = {}
    for name, idx in small.items():
        extra = [idx]
        if not len(idx):
            out[name] = idx
            continue
        for ids in (ids_first, ids_all):
            pool = np.setdiff1d(touched(work[name].shape, ids), idx)
            if pool.size:
                extra.append(rng.choice(pool, min(pool.size, k), replace=False))
        out[name] = np.unique(np.concatenate(extra))
    return out


def _first_repeat(inputs: Any, seq_axis: int | None, T: int | None) -> int | None:
    """The shortest prefix length along ``seq_axis`` whose integer ids contain some id twice."""
    if seq_axis is None or T is None or id_counts(inputs) is None:
        return None
    a = np.moveaxis(np.asarray(inputs), seq_axis, 0).reshape(T, -1)
    seen: set[int] = set()
    for t in range(T):
        row = a[t].tolist()
        if len(set(row)) < len(row) or seen.intersection(row):
            return t + 1
        seen.update(row)
    return None
