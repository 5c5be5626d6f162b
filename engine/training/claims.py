"""Checkable claims: what a scenario stop says is on the screen, as numbers the engine measures.

A stop of a scenario may carry ``"claims": [claim, ...]``, each a JSON object::

    {"kind": "val_vs_baseline", "model": "second", "max": 0.5}

- ``kind``: what is measured (``KINDS`` below); ``model``: ``"first"`` (default) or ``"second"``
  (the side-by-side comparison's model); ``min`` / ``max``: the bounds the value must respect
  (at least one); kind-specific fields: ``k`` (steps back), ``state`` (``"h"``, or ``"c"`` for
  the LSTM's cell), ``window`` (iterations averaged), ``n`` (samples drawn).

The kinds:

- ``val_vs_baseline``: validation metric / the task's trivial baseline (adding: predict 1.0;
  sine: repeat the last input). ``max 0.5`` = "at least 50% below the baseline".
- ``val_vs_first``: the second model's validation metric / the first's.
- ``train_loss``: the mean training loss of the last ``window`` iterations (what the loss plot's
  smoothed curve shows, in the plot's units).
- ``loss_drop``: that mean / the mean of the first ``window`` iterations.
- ``decay_growth``: ``decay[k] / decay[0]`` of the model's decay curve (``diagnostics.gradient_decay``
  on the first model's last batch): above 1 the error grows going back, below 1 it shrinks.
- ``decay_rate``: the fastest per-step factor over the first ``k`` steps back,
  ``max_{1<=j<=k} (decay[j] / decay[0]) ** (1/j)``; ``max 0.5`` = "shrinks at least as fast as 0.5^j".
- ``decay_ratio``: the second model's ``decay[k]`` (through ``state``) / the first's ``decay[k]``.
- ``grad_growth``: the largest finite gradient norm of the run / its first.
- ``recurrent_share``: the recurrent matrix's part of the last finite gradient, ``||g_Whh|| / ||g||``
  (after a blow-up: of the last update before it).
- ``saturation``: the mean slope of the hidden nonlinearity over the first model's last batch,
  ``1 - h²`` for tanh, 1 for a linear RNN (1: unsaturated, 0: saturated).
- ``blowup``: 1 when training stopped on a non-finite value, 0 otherwise.
- ``clipped_fraction``: the share of iterations whose gradient was clipped.
- ``real_names``: the share of whole sampled lines that are names of the training corpus (``n``
  samples of 200 characters, seeded by the session's seed and iteration).

The attribution kinds read the matrix the attribution view draws (``engine.gradients.attribution``):
the model's newest narrated iteration (its batch, starting state, options and the parameters
before its update), or between iterations its last batch with the parameters now. Cell
``A[t, t'] = ||dL_t'/dh_t||`` (``state`` ``"c"``: the LSTM's ``||dL_t'/dc_t||``); "size" below is
that 2-norm, and a band's width counts the steps back a loss keeps at least 1% of its size at
its own step (``Attribution.reach(0.01)``):

- ``attribution_far``: the share of the matrix's total ``sum A`` in the cells at least ``k`` steps
  from the diagonal (``t' - t >= k``): how much of the gradient on the states comes from losses
  ``k`` or more steps later. With window truncation k it is exactly 0 ("nothing beyond k").
- ``attribution_reach``: the widest band, ``max_t' reach[t']`` in steps (many-to-one: the one loss's).
- ``attribution_reach_ratio``: the second model's widest band (through ``state``) / the first's.
- ``attribution_decay``: the last loss's part at ``h_{T-1-k}`` / its part at ``h_{T-1}`` (the last
  column read upwards, as the view draws it): above 1 the gradient grows going back.
- ``recurrent_sigma``: sigma_max of the recurrent weights the matrix was computed with.
- ``spectral_radius``: the largest |eigenvalue| of those weights (vanilla RNN's square ``W_hh``).
- ``spectral_ratio``: ``spectral_radius / recurrent_sigma`` (at most 1).

``check(claims, first, second)`` returns one ``Verdict`` per claim: the measured value, whether it
holds, and a sentence saying so. Pure NumPy: the tests check every claim of every stop headlessly.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..gradients import diagnostics

KINDS = ("val_vs_baseline", "val_vs_first", "train_loss", "loss_drop", "decay_growth", "decay_rate",
         "decay_ratio", "grad_growth", "recurrent_share", "saturation", "blowup", "clipped_fraction",
         "real_names", "attribution_far", "attribution_reach", "attribution_reach_ratio", "attribution_decay",
         "recurrent_sigma", "spectral_radius", "spectral_ratio")
CLAIM_KEYS = ("kind", "model", "min", "max", "k", "state", "window", "n", "says")
NEEDS_K = ("decay_growth", "decay_rate", "decay_ratio", "attribution_far", "attribution_decay")

#: what each kind measures, for the sentences the app shows
WHAT = {
    "val_vs_baseline": "validation / baseline",
    "val_vs_first": "second model's validation / first's",
    "train_loss": "mean training loss",
    "loss_drop": "training loss now / at the start",
    "decay_growth": "error {k} steps back / at the last step",
    "decay_rate": "per-step decay factor over {k} steps",
    "decay_ratio": "second model's error {k} steps back / first's",
    "grad_growth": "largest gradient norm / first",
    "recurrent_share": "recurrent matrix's share of the last gradient",
    "saturation": "mean slope of the nonlinearity (1 = unsaturated)",
    "blowup": "stopped on a non-finite value",
    "clipped_fraction": "share of iterations clipped",
    "real_names": "share of sampled lines that are real names",
    "attribution_far": "share of the attribution at least {k} steps from the diagonal",
    "attribution_reach": "widest band (steps back a loss keeps ≥ 1%)",
    "attribution_reach_ratio": "second model's widest band / first's",
    "attribution_decay": "last loss's part {k} steps back / at its own step",
    "recurrent_sigma": "σ_max of the recurrent weights",
    "spectral_radius": "spectral radius of the recurrent weights",
    "spectral_ratio": "spectral radius / σ_max of the recurrent weights",
}


@dataclass(frozen=True)
class Claim:
    kind: str
    model: str = "first"
    min: float | None = None
    max: float | None = None
    k: int | None = None
    state: str = "h"
    window: int = 50
    n: int = 10
    says: str = ""  # the claim in the caption's words (shown when it does not hold)

    def bounds(self) -> str:
        lo, hi = self.min, self.max
        if lo is not None and hi is not None:
            return f"between {_fmt(lo)} and {_fmt(hi)}"
        return f"≥ {_fmt(lo)}" if lo is not None else f"≤ {_fmt(hi)}"

    def what(self) -> str:
        text = WHAT[self.kind].format(k=self.k)
        return f"{text} ({self.model} model)" if self.model == "second" and "second" not in text else text


@dataclass(frozen=True)
class Verdict:
    claim: Claim
    value: float
    holds: bool

    def sentence(self) -> str:
        c = self.claim
        head = c.says or c.what()
        verb = "" if self.holds else ": not this time"
        return f"{head}{verb} ({c.what()} = {_fmt(self.value)}, claimed {c.bounds()})"


def _fmt(v: float | None) -> str:
    if v is None or not math.isfinite(v):
        return str(v)
    a = abs(v)
    if a != 0 and (a >= 1e4 or a < 1e-3):
        return f"{v:.2e}"
    return f"{v:.3g}"


def _number(v: Any, name: str, where: str) -> float:
    if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
        raise ValueError(f"{where}: {name!r}: expected a finite number, got {v!r}")
    return float(v)


def parse_claims(raw: Any, where: str) -> tuple[Claim, ...]:
    """The validated claims of one stop (``raw``: the stop's ``"claims"`` list)."""
    if raw is None:
        return ()
    if not isinstance(raw, list):
        raise ValueError(f"{where}: 'claims': expected a list of claims")
    out = []
    for i, c in enumerate(raw, start=1):
        w = f"{where} claim {i}"
        if not isinstance(c, dict):
            raise ValueError(f"{w}: expected an object with {', '.join(CLAIM_KEYS)}")
        unknown = sorted(set(c) - set(CLAIM_KEYS))
        if unknown:
            raise ValueError(f"{w}: unknown key {unknown[0]!r}; allowed: {', '.join(CLAIM_KEYS)}")
        kind = c.get("kind")
        if kind not in KINDS:
            raise ValueError(f"{w}: 'kind': expected one of {', '.join(KINDS)}, got {kind!r}")
        model = c.get("model", "first")
        if model not in ("first", "second"):
            raise ValueError(f"{w}: 'model': expected 'first' or 'second', got {model!r}")
        lo = None if c.get("min") is None else _number(c["min"], "min", w)
        hi = None if c.get("max") is None else _number(c["max"], "max", w)
        if lo is None and hi is None:
            raise ValueError(f"{w}: give 'min', 'max' or both")
        k = c.get("k")
        if kind in NEEDS_K and (isinstance(k, bool) or not isinstance(k, int) or k < 1):
            raise ValueError(f"{w}: 'k': {kind} needs a whole number of steps back, at least 1; got {k!r}")
        state = c.get("state", "h")
        if state not in ("h", "c"):
            raise ValueError(f"{w}: 'state': expected 'h' or 'c', got {state!r}")
        window, n = c.get("window", 50), c.get("n", 10)
        for name, v in (("window", window), ("n", n)):
            if isinstance(v, bool) or not isinstance(v, int) or not 1 <= v <= 1000:
                raise ValueError(f"{w}: {name!r}: expected a whole number from 1 to 1000, got {v!r}")
        says = c.get("says", "")
        if not isinstance(says, str) or len(says) > 200:
            raise ValueError(f"{w}: 'says': expected text of at most 200 characters")
        if (kind in ("val_vs_first", "decay_ratio", "attribution_reach_ratio")) and model != "first":
            raise ValueError(f"{w}: {kind} compares the second model with the first; leave 'model' out")
        out.append(Claim(kind, model, lo, hi, k, state, window, n, says))
    return tuple(out)


# ------------------------------------------------------------------------------------ measuring
def _decay(session, batch, state: str = "h") -> np.ndarray:
    x, y = batch
    with np.errstate(all="ignore"):
        return diagnostics.gradient_decay(session.model, x, y, state=state, **session.options())


def _batch(first):
    if first.last_batch is None:
        raise ValueError("the decay curve needs at least one iteration (none has run)")
    return first.last_batch


def _largest_update(s) -> tuple[float, float]:
    """(first finite gradient norm, largest finite gradient norm) of the run."""
    _, g = s.history["grad_norm"].data()
    g = g[np.isfinite(g)]
    if g.size == 0:
        return math.nan, math.nan
    return float(g[0]), float(g.max())


def measure(claim: Claim, first, second=None) -> float:
    """The value ``claim`` is about, measured on the sessions now (NaN when it cannot be measured)."""
    s = second if claim.model == "second" else first
    if s is None:
        return math.nan
    kind = claim.kind
    if kind == "val_vs_baseline":
        base = s.task.baseline
        return s.metric() / base if base else math.nan
    if kind == "val_vs_first":
        return second.metric() / first.metric() if second is not None else math.nan
    if kind in ("train_loss", "loss_drop"):
        _, y = s.history["loss"].data()
        if y.size == 0:
            return math.nan
        now = float(np.mean(y[-claim.window:]))
        return now if kind == "train_loss" else now / float(np.mean(y[:claim.window]))
    if kind in ("decay_growth", "decay_rate"):
        d = _decay(s, _batch(first), claim.state)
        k = min(claim.k, d.size - 1)
        if not d[0] > 0:
            return math.nan
        if kind == "decay_growth":
            return float(d[k] / d[0])
        j = np.arange(1, k + 1)
        return float(np.max((d[1:k + 1] / d[0]) ** (1.0 / j)))
    if kind == "decay_ratio":
        if second is None:
            return math.nan
        batch = _batch(first)
        a, b = _decay(first, batch), _decay(second, batch, claim.state)
        k = min(claim.k, a.size - 1, b.size - 1)
        return float(b[k] / a[k]) if a[k] > 0 else math.inf
    if kind == "grad_growth":
        g0, gmax = _largest_update(s)
        return gmax / g0 if g0 > 0 else math.nan
    if kind == "recurrent_share":
        return _recurrent_share(s)
    if kind == "saturation":
        act = s.cfg.activation
        if act == "linear":
            return 1.0
        if act != "tanh" or not s.cfg.is_recurrent:
            return math.nan
        with np.errstate(all="ignore"):
            h = s.model.hidden_states(_batch(first)[0])
        return float(np.mean(1.0 - h * h))
    if kind == "blowup":
        return 1.0 if s.blowup is not None else 0.0
    if kind == "clipped_fraction":
        _, c = s.history["clipped"].data()
        return float(np.mean(c)) if c.size else math.nan
    if kind == "real_names":
        return real_name_share(s, claim.n)
    if kind in ATTRIBUTION_KINDS:
        return _measure_attribution(claim, first, second)
    raise ValueError(f"claim: unknown kind {kind!r}")


def _recurrent_share(s) -> float:
    """``||g_Whh|| / ||g||`` of the last finite update (the one before a blow-up, if any)."""
    rec = s.last_update
    if rec is None:
        return math.nan
    top = max(float(np.max(np.abs(g))) for g in rec.grads.values())
    if not 0 < top < math.inf:
        return math.nan
    sq = {k: float(np.sum((g / top) ** 2)) for k, g in rec.grads.items()}  # scaled: no overflow
    return math.sqrt(sq[s.model.W_H] / sum(sq.values()))


def real_name_share(s, n: int = 10, length: int = 200) -> float:
    """The share of the whole lines in ``n`` samples that are names of the training text."""
    if not hasattr(s.task, "sample"):
        return math.nan
    known = set(s.task.vocab.decode(s.task.train_ids).split("\n"))
    rng = np.random.default_rng((s.cfg.seed, s.iteration, 7))
    lines: list[str] = []
    for _ in range(n):
        text = s.task.sample(s.model, length, s.cfg.temperature, rng, "\n")
        parts = text.split("\n")[1:-1]  # after the prime's newline; the last line may be cut
        lines += [p for p in parts if p]
    if not lines:
        return 0.0
    return sum(p in known for p in lines) / len(lines)


def check(claims, first, second=None) -> list[Verdict]:
    """One ``Verdict`` per claim, measured now."""
    out = []
    for c in claims:
        try:
            v = measure(c, first, second)
        except ValueError:
            v = math.nan
        ok = math.isfinite(v) or (v == math.inf and c.max is None)
        ok = ok and (c.min is None or v >= c.min) and (c.max is None or v <= c.max)
        out.append(Verdict(c, v, bool(ok)))
    return out


# ------------------------------------------------------------------------------------ attribution
ATTRIBUTION_KINDS = ("attribution_far", "attribution_reach", "attribution_reach_ratio", "attribution_decay",
                     "recurrent_sigma", "spectral_radius", "spectral_ratio")
REACH = 0.01  # a band's width: the steps back a loss keeps at least this share of its size


def shown_iteration(s):
    """``(model, inputs, targets, h0, options)`` of the iteration the attribution view shows for
    session ``s``: its newest narrated iteration with the parameters before its update, or (none
    narrated since the last update) its last batch with the parameters now."""
    from .session import model_with

    n = s.last_narration
    if n is not None and n.iteration == s.iteration:
        return model_with(s.model, n.before), n.inputs, n.targets, n.h0, dict(n.options)
    if s.last_batch is None:
        raise ValueError("the attribution needs at least one iteration (none has run)")
    x, y = s.last_batch
    return s.model, x, y, None, s.options()


def shown_attribution(s):
    """The ``Attribution`` of ``shown_iteration(s)`` (without the weight parts)."""
    from ..gradients import attribution as at

    m, x, y, h0, opts = shown_iteration(s)
    with np.errstate(all="ignore"):
        return at.attribution(m, x, y, h0=h0, weights=False, **opts)


def _matrix(att, state: str) -> np.ndarray:
    A = att.A_c if state == "c" else att.A
    if A is None:
        raise ValueError(f"state 'c': only an LSTM has a cell state (this model is {att.kind!r})")
    return A


def _widest(att, state: str) -> float:
    _matrix(att, state)  # a clear message for a cell state the model does not have
    return float(att.reach(REACH, state).max())


def _measure_attribution(claim: Claim, first, second=None) -> float:
    s = second if claim.model == "second" else first
    kind = claim.kind
    if kind in ("recurrent_sigma", "spectral_radius", "spectral_ratio"):
        from ..gradients import attribution as at

        m = shown_iteration(s)[0]
        W = m.params[m.W_H]
        sigma = at.recurrent_sigma(m)
        if kind == "recurrent_sigma":
            return sigma
        if W.shape[0] != W.shape[1]:
            return math.nan  # gated cells: W_h (H, G) has no eigenvalues
        rho = float(np.max(np.abs(np.linalg.eigvals(W))))
        return rho if kind == "spectral_radius" else (rho / sigma if sigma > 0 else math.nan)
    if kind == "attribution_reach_ratio":
        if second is None:
            return math.nan
        a, b = _widest(shown_attribution(first), "h"), _widest(shown_attribution(second), claim.state)
        return b / a if a > 0 else math.inf
    att = shown_attribution(s)
    if kind == "attribution_reach":
        return _widest(att, claim.state)
    A = _matrix(att, claim.state)
    if not np.all(np.isfinite(A)):
        return math.nan
    if kind == "attribution_far":
        t, tp = np.indices(A.shape)
        total = float(A.sum())
        return float(A[tp - t >= claim.k].sum()) / total if total > 0 else math.nan
    # attribution_decay: the last column read upwards
    T = A.shape[0]
    k = min(claim.k, T - 1)
    top = float(A[T - 1, T - 1])
    return float(A[T - 1 - k, T - 1]) / top if top > 0 else math.nan
