"""The gradient-norm decay curve: how much of the last timestep's error reaches k steps back.

    curve[k] = || dL_{T-1} / dh_{T-1-k} ||      (2-norm over the batch and the hidden units)

from the engine's one diagnostics pipeline (``engine.gradients.diagnostics.Diagnostics.decay``;
Pascanu, Mikolov & Bengio 2013), on the batch of the moment's iteration with its options and the
parameters its backward pass used (so a truncation window shows as the curve stopping at k).
LSTM: the same through the cell state. For one sequence, the norms of the Jacobian products
``||dh_{T-1}/dh_{T-1-k}||`` and, for a vanilla RNN, their bound ``(sigma_max(W_hh) gamma)^k``;
both are scaled by ``curve[0]`` so they share the curve's axis: ``curve[k] <= curve[0] ||P_k||
<= curve[0] (sigma_max gamma)^k`` (batch of one).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from bpttviz.engine.gradients.diagnostics import JACOBIAN_BUDGET, DecayCurves, Diagnostics, jacobian_cost
from bpttviz.engine.records import BackwardStep, GradientStep
from bpttviz.engine.training.session import Session, model_with
from bpttviz.presenters.panels import EXACT_SIDE, activation_gamma, sigma_max

Array = np.ndarray

__all__ = ["JACOBIAN_BUDGET", "DecayFrame", "DecayPresenter", "app_diagnostics", "decay_frame", "decay_note",
           "jacobian_cost", "moment_tag"]

#: seconds between two measurements of the singular values while training plays (a few ms each)
SPECTRUM_INTERVAL = 0.25


def app_diagnostics() -> Diagnostics:
    """The app's diagnostics pipeline: the Jacobian lines warm-started with 6 power-iteration
    rounds (30 from cold) and left out above ``JACOBIAN_BUDGET`` (it would hold the window for
    seconds each frame; every bundled preset is far below it, the largest at 2.4e7), the
    singular values measured at most every ``SPECTRUM_INTERVAL`` seconds while playing."""
    return Diagnostics(power_iters=6, cold_iters=30, jacobian_budget=JACOBIAN_BUDGET, min_interval=SPECTRUM_INTERVAL)


@dataclass
class DecayFrame:
    """One decay curve (index k = steps back from the last timestep) and what to compare it with."""

    k: np.ndarray
    curve: np.ndarray
    reference: np.ndarray | None = None
    reference_label: str = ""
    cell: np.ndarray | None = None  # LSTM: the same through the cell state
    jacobian: np.ndarray | None = None  # curve[0] * ||dh_(T-1)/dh_(T-1-k)||, one sequence
    history: list[np.ndarray] = field(default_factory=list)  # older curves, oldest first
    iteration: int = 0
    note: str = ""


class DecayPresenter:
    """Builds ``DecayFrame``s for a moment (``bpttviz.presenters.moment.Moment``) from ``diagnostics`` (the
    controller's pipeline: it keeps the power iteration's vectors between calls and each narrated
    iteration's curves, computed once; default: a new ``app_diagnostics()``).

    The curves are those of the moment's iteration: its batch, the carried state it started from,
    its options and the parameters *before* its update (what its backward pass used). While the
    narration steps through the backward pass, ``curve[k]`` appears once the pass has reached
    ``h_(T-1-k)``; before the backward pass, no curve of this iteration is shown."""

    def __init__(self, diagnostics: Diagnostics | None = None) -> None:
        self.diagnostics = diagnostics if diagnostics is not None else app_diagnostics()

    def curves(self, session: Session, moment) -> DecayCurves | None:
        """The ``DecayCurves`` of the moment's iteration, or None before any batch; the Jacobian
        lines are None when they cost more than ``JACOBIAN_BUDGET``."""
        n = moment.narration
        sigma = None
        if n is not None:
            key = ("narration", n.trace)  # (the object: a freed narration's id comes back for a new one)
            m = model_with(session.model, n.before)
            x, y, h0, opts = n.inputs, n.targets, n.h0, dict(n.options)
            W = n.before.get(m.W_H)
            if (W is not None and m.GATES == 1 and getattr(m, "activation", None) is not None
                    and min(np.shape(W)) <= EXACT_SIDE):
                # sigma_max of the weights before the update, exact (an SVD): under the same key
                # as the weights view's "before" figure, so the two views share one SVD a frame
                sigma = sigma_max(W, (id(n), id(W), moment.generation, moment.iteration, False))
        else:
            if session.last_batch is None:
                return None
            key = ("now", id(session), session.iteration, moment.generation)
            m = session.model
            (x, y), h0, opts = session.last_batch, None, session.options()
        return self.diagnostics.decay(m, x, y, h0=h0, key=key, sigma_max=sigma, **opts)

    def frame(self, session: Session, moment, history: list[Array]) -> DecayFrame | str:
        """A ``DecayFrame`` for the decay view at ``moment``, or a message explaining why there is
        none. ``history``: earlier iterations' curves, oldest first."""
        if not session.cfg.is_recurrent:
            return "The decay curve is about recurrence: an MLP has no steps back in time."
        n = moment.narration
        if n is None and session.blowup is not None:
            return "The weights are not finite: roll back (Ctrl+Z) or reset (R)."
        got = self.curves(session, moment)
        if got is None:
            return "Train or step once to see how the gradient decays."
        curve, cell, jnorms, reference, sigma = got.curve, got.cell, got.jacobian, got.reference, got.sigma
        T = curve.size
        reached = T  # entries of the curve the narration has computed
        rec = moment.rec
        if rec is not None and not moment.reached(GradientStep):
            reached = T - 1 - rec.t + 1 if isinstance(rec, BackwardStep) else 0
        k = np.arange(T, dtype=float)
        scale = float(curve[0]) if T and np.isfinite(curve[0]) and curve[0] > 0 else 1.0
        ref = None if reference is None else scale * reference
        gamma = activation_gamma(session)
        label = f"σ_max={sigma:.3g}, γ={gamma:g}" if ref is not None and sigma is not None else ""
        shown = np.where(np.arange(T) < reached, curve, np.nan)
        cell_shown = None if cell is None else np.where(np.arange(T) < reached, cell, np.nan)
        tag = moment_tag(moment)
        note = decay_note(curve, reached, tag, n.options.get("truncation") if n is not None
                          else session.cfg.truncation if session.cfg.is_recurrent else None)
        if jnorms is None:
            note += (f"  ·  Jacobian lines left out: {session.model.hidden_size} units × {T - 1} steps back "
                     f"is too slow to draw live")
        return DecayFrame(k=k, curve=shown, reference=ref if reached else None, reference_label=label, cell=cell_shown,
                          jacobian=scale * jnorms if reached and jnorms is not None else None, history=list(history),
                          iteration=moment.iteration, note=note)


def moment_tag(moment) -> str:
    """"iteration N" (with the batch the curve was measured on when between iterations)."""
    if moment.narration is None:
        return f"iteration {moment.iteration}'s batch, parameters after its update"
    return f"iteration {moment.iteration}"


def decay_note(curve: Array, reached: int, tag: str, truncation: int | None) -> str:
    """The caption under the curve: what fraction of the last step's error the shown curve says
    reaches how far back. Says what the curve shows: the last k with a non-zero value (under
    truncation, zero beyond the window), and how far the backward pass has got."""
    T = curve.size
    if reached == 0:
        return f"{tag}: the backward pass has not started; faint: earlier iterations"
    if not (T and np.isfinite(curve[0]) and curve[0] > 0):
        return f"{tag}: no error reaches the last step's state"
    shown = curve[:reached]
    nz = np.nonzero(np.isfinite(shown) & (shown > 0))[0]
    kk = int(nz[-1]) if nz.size else 0
    if kk == 0 and shown.size > 1 and truncation != 1 and np.all(shown[1:] == 0):
        lead = f"{tag}, backward pass so far" if reached < T else tag
        return f"{lead}: none of the last step's error reaches 1 step back (every value there is exactly 0)"
    ratio = float(curve[kk] / curve[0])
    if reached < T:
        return f"{tag}, backward pass so far: {ratio:.1e} of the last step's error reaches {kk} steps back"
    if truncation is not None and kk < T - 1:
        return (f"{tag}: truncated at k = {truncation}: {ratio:.1e} of the last step's error reaches {kk} steps "
                f"back, nothing beyond")
    return f"{tag}: {ratio:.1e} of the last step's error reaches {kk} steps back"


def decay_frame(session: Session, moment, history: list[Array]) -> DecayFrame | str:
    """One frame without a warm start (see ``DecayPresenter``)."""
    return DecayPresenter().frame(session, moment, history)
