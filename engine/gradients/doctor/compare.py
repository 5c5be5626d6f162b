"""Comparing the user's gradients with central differences at chosen entries, and measuring the
precision the user's code really computes in.

``Settings`` holds the step ``eps``, the tolerance ``tol`` and the loss's rounding noise
``noise`` (absolute, one standard deviation): central differences carry an error of about
``noise / eps`` on every entry, so a parameter is judged by ``max(tol, 10 noise / (eps scale))``
where ``scale = max|analytic| + max|numerical|`` (``ParamCheck.tol``). In float64 that bound is far
below ``tol``; in float32 it is what keeps rounding from being called a bug.
"""

from __future__ import annotations

import math
import time
import zlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..gradcheck import noise_floor, relative_error
from .report import Entry, ParamCheck, fmt_index
from .usercode import Caller, UserCodeError, grads_problems

Array = np.ndarray

#: Worst entries kept per parameter.
WORST = 3
#: Entries evaluated per parameter in one turn, and the fewest kept when time runs out.
CHUNK = 4
MIN_ENTRIES = 5
#: A parameter whose rounding-noise tolerance exceeds this cannot be judged at all (eps too small
#: for the precision): it is reported as not verified, never as a pass.
NOISE_LIMIT = 0.1


@dataclass(frozen=True)
class Settings:
    """How entries are judged: the central-difference step, the tolerance and the loss's rounding noise."""

    eps: float = 1e-5
    tol: float = 1e-5
    noise: float = 0.0


@dataclass
class Comparison:
    """One analytic call and the numerical gradients at the picked entries of every parameter."""

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

    def scaled(self, c: float, settings: Settings) -> Comparison:
        """The same comparison with every analytic gradient divided by ``c`` (re-judged): what the
        errors look like once a factor common to all parameters is taken out."""
        out = {}
        for name, pc in self.params.items():
            if pc.analytic is None:
                out[name] = pc
                continue
            out[name] = judge(pc.name, pc.shape, pc.idx, pc.analytic / c, pc.numerical, self.loss, settings,
                              pc.analytic_max / abs(c), transposed=pc.transposed, verify=False)
        return Comparison(self.loss, out, list(self.general))


def compare(caller: Caller, work: dict[str, Array], inputs: Any, targets: Any, picks: Mapping[str, Array],
            settings: Settings, first: tuple[float, Any] | None = None, *, verify: bool = True,
            deadline: float | None = None) -> Comparison:
    """One analytic call (or ``first``, its result already at hand) and central differences at
    ``picks[name]`` (flat indices) per parameter. ``verify``: a sample with no gradient at all is
    not a pass (off for the shorter re-checks, where a quiet parameter is information).
    ``deadline`` (``time.perf_counter()`` seconds): the entries are evaluated a few per parameter
    in turn, in a seeded random order, and evaluation stops once it has passed (with at least
    ``MIN_ENTRIES`` per parameter), so a machine slower than its calibration shrinks every sample
    alike instead of overrunning."""
    loss, raw = first if first is not None else caller.call(work, inputs, targets)
    grads, problems, general = grads_problems(raw, work, caller.name)
    if not isinstance(raw, Mapping):  # nothing to compare
        return Comparison(loss, {name: ParamCheck(name, p.shape, size=p.size) for name, p in work.items()}, general)
    out: dict[str, ParamCheck] = {}
    for name, p in work.items():
        if name in problems:
            out[name] = ParamCheck(name, p.shape, size=p.size, problem=problems[name])
    rng = np.random.default_rng(0)
    orders = {name: picks[name][rng.permutation(len(picks[name]))] for name in work if name not in out}
    todo = dict(orders)
    nums: dict[str, list[float]] = {name: [] for name in todo}
    while todo:
        for name in list(todo):
            chunk, todo[name] = todo[name][:CHUNK], todo[name][CHUNK:]
            try:
                nums[name] += list(numerical(caller, work, name, chunk, inputs, targets, settings.eps))
            except UserCodeError as e:
                out[name] = ParamCheck(name, work[name].shape, size=work[name].size, problem=str(e))
                del todo[name], nums[name]
                continue
            if not len(todo[name]):
                del todo[name]
        if deadline is not None and time.perf_counter() > deadline and all(
                len(v) >= MIN_ENTRIES for v in nums.values()):
            break
    for name, p in work.items():
        if name in out:
            continue
        k = len(nums[name])
        order = orders[name][:k]
        keep = np.argsort(order)
        idx, num = order[keep], np.asarray(nums[name])[keep]
        g = grads[name]
        pc = judge(name, p.shape, idx, g.reshape(-1)[idx], num, loss, settings, float(np.max(np.abs(g), initial=0.0)),
                   verify=verify)
        if len(p.shape) == 2 and p.shape[0] == p.shape[1] > 1 and not pc.ok:
            # the transpose at the same flat indices: g.T[i, j] = g[j, i], valid on a sample too
            at = g.T.reshape(-1)[idx]
            pc.transposed = relative_error(at, num, noise_floor(loss, settings.eps)) <= pc.tol
        if verify and pc.checked < pc.size:
            try:
                _directional(pc, caller, work, name, g, inputs, targets, loss, settings)
            except UserCodeError as e:
                pc.problem = str(e)
        out[name] = pc
    return Comparison(loss, {name: out[name] for name in work}, general)


def _directional(pc: ParamCheck, caller: Caller, work: dict[str, Array], name: str, g: Array, inputs: Any,
                 targets: Any, loss: float, settings: Settings) -> None:
    """The whole parameter at once, for a sampled one: the derivative along a seeded random unit
    direction v through all its entries, ``(L(θ + ε v) - L(θ - ε v)) / 2ε`` against ``<g, v>``
    (two calls). A wrong gradient in entries the sample missed cannot agree with it, except by
    chance cancellation; an all-zero sample that agrees along v (and is not zero there) is
    verified after all."""
    rng = np.random.default_rng(zlib.crc32(str(name).encode()))
    v = rng.choice([-1.0, 1.0], size=g.shape) / math.sqrt(g.size)
    flat, vf = work[name].reshape(-1), v.reshape(-1)
    orig = flat.copy()
    try:
        flat += settings.eps * vf
        plus = caller.call(work, inputs, targets)[0]
        flat[:] = orig - settings.eps * vf
        minus = caller.call(work, inputs, targets)[0]
    except UserCodeError as e:
        raise UserCodeError(f"while all of {name} was moved by ±{settings.eps:g} along a direction: {e}") from None
    finally:
        flat[:] = orig
    dn = (plus - minus) / (2.0 * settings.eps)
    da = float(np.sum(g * v))
    pc.direction = (da, dn)
    atol = noise_floor(loss, settings.eps)
    fd_noise = settings.noise / settings.eps
    err = abs(da - dn) / max(abs(da) + abs(dn), atol)
    tol = max(pc.tol, 10.0 * fd_noise / max(abs(da) + abs(dn), atol))
    if err > tol:
        pc.direction_ok = False
        pc.ok, pc.unverified = False, False
        pc.error = max(pc.error, err)
    elif pc.unverified and max(abs(da), abs(dn)) > 0.25 * settings.tol * atol and tol <= NOISE_LIMIT:
        pc.unverified, pc.ok = False, True


def numerical(caller: Caller, work: dict[str, Array], name: str, idx: Array, inputs: Any, targets: Any,
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
            where = fmt_index(np.unravel_index(int(i), work[name].shape))
            raise UserCodeError(f"while {name}{where} was changed by ±{eps:g}: {e}") from None
        finally:
            flat[i] = orig
        num[j] = (plus - minus) / (2.0 * eps)
    return num


def judge(name: str, shape: tuple[int, ...], idx: Array, a: Array, n: Array, loss: float, settings: Settings,
          analytic_max: float, *, transposed: bool = False, verify: bool = True) -> ParamCheck:
    """A ``ParamCheck`` from both gradients at the flat indices ``idx``: error, verdict, worst entries,
    diff, and the shape of the error (factor, zeros)."""
    size = int(np.prod(shape, dtype=np.int64))
    pc = ParamCheck(name, tuple(shape), size=size, checked=len(idx), idx=idx, analytic=a, numerical=n,
                    analytic_max=analytic_max, transposed=transposed)
    atol = noise_floor(loss, settings.eps)
    fd_noise = settings.noise / settings.eps  # absolute error of a central difference from rounding
    sa = float(np.max(np.abs(a))) if a.size else 0.0
    sn = float(np.max(np.abs(n))) if n.size else 0.0
    pc.error = relative_error(a, n, atol)
    pc.tol = max(settings.tol, 10.0 * fd_noise / max(sa + sn, atol))
    pc.ok = bool(pc.error <= pc.tol)
    d = a - n
    pc.diff = np.full(shape, np.nan)
    pc.diff.reshape(-1)[idx] = d
    order = np.argsort(-np.abs(d), kind="stable")[:WORST]
    pc.worst = [Entry(tuple(int(k) for k in np.unravel_index(int(idx[j]), shape)), float(a[j]), float(n[j]))
                for j in order]
    resolved = max(1e-3 * atol, 5.0 * fd_noise)  # a numerical value above this is not round-off
    pc.active = max(sa, sn) > 0.25 * settings.tol * atol
    if sn > resolved:
        if sa <= 1e-9 * sn:
            pc.factor = 0.0
        else:
            c = float(np.dot(a, n) / np.dot(n, n))
            if np.max(np.abs(a - c * n)) <= max(1e-3 * abs(c) * sn, 5.0 * abs(c) * fd_noise):
                pc.factor = c
        clear = (np.abs(n) > 1e-2 * sn) & (np.abs(n) > resolved)
        pc.zeros = int(np.sum(clear & (np.abs(a) <= 1e-12 * sn)))
    if verify and (pc.checked < size and not pc.active or pc.tol > NOISE_LIMIT):
        pc.unverified, pc.ok = True, False
    return pc


# --------------------------------------------------------------------------------------- precision
_UNIT_ROUNDOFF = {"float16": 2.0 ** -11, "float32": 2.0 ** -24}


def probe_noise(caller: Caller, work: dict[str, Array], inputs: Any, targets: Any, loss: float,
                rng: np.random.Generator, entries: int = 5, step: float = 1e-5) -> float:
    """The rounding noise of the user's loss (absolute, one standard deviation), from fourth
    differences ``L(θ-2s) - 4L(θ-s) + 6L(θ) - 4L(θ+s) + L(θ+2s)`` along a few entries of the
    largest parameters: the smooth part is ``s⁴ L''''`` (negligible at ``s = 1e-5``), the rest is
    rounding, with variance ``70 σ²``. The median over the entries is used (``σ ≈ median|Δ⁴| /
    (0.674 √70)``), so a ReLU kink crossed along one entry does not pass for rounding noise. About
    1e-16 |L| for float64 code, 1e-8..1e-7 |L| for float32."""
    names = sorted(work, key=lambda k: -work[k].size)[:entries]
    d4 = []
    for j in range(entries):
        name = names[j % len(names)]
        flat = work[name].reshape(-1)
        i = int(rng.integers(flat.size))
        orig = flat[i]
        vals = {}
        try:
            for k in (-2, -1, 1, 2):
                flat[i] = orig + k * step
                vals[k] = caller.call(work, inputs, targets)[0]
        finally:
            flat[i] = orig
        d4.append(abs(vals[-2] - 4 * vals[-1] + 6 * loss - 4 * vals[1] + vals[2]))
    return float(np.median(d4) / (0.674 * math.sqrt(70.0)))


def precision_of(dtypes: set[str], noise: float, loss: float) -> str:
    """"float16", "float32" or "float64": the lowest precision among the returned dtypes, or
    the one the measured rounding noise of the loss corresponds to."""
    rel = noise / max(1.0, abs(loss))
    for name in ("float16", "float32"):
        if name in dtypes or rel > 0.05 * _UNIT_ROUNDOFF[name]:
            return name
    return "float64"


def auto_settings(precision: str, loss_precision: str, noise: float, loss: float, eps: float | None,
                  tol: float | None) -> Settings:
    """``eps`` and ``tol`` to match the precision, unless given. In float64: 1e-5 and 1e-5. Lower:
    ``tol`` 1e-4 (float32) or 1e-2 (float16); ``eps`` follows the precision of the *loss*
    (``loss_precision``: gradients rounded to float32 from a float64 loss need no larger step):
    near the cube root of the relative noise, which balances the round-off ``noise / eps`` against
    the truncation error ``eps²``; the noise is at least the unit round-off of the loss's precision
    times the loss."""
    scale = max(1.0, abs(loss))
    if loss_precision != "float64":
        noise = max(noise, _UNIT_ROUNDOFF[loss_precision] * scale)
    rel = noise / scale
    if eps is None:
        eps = 1e-5 if loss_precision == "float64" else float(min(1e-2, max(1e-4, 10 ** round(math.log10(rel) / 3))))
    if tol is None:
        tol = {"float64": 1e-5, "float32": 1e-4, "float16": 1e-2}[precision]
    return Settings(eps=float(eps), tol=float(tol), noise=noise)
