"""The gradient-norm decay curve: how much of the last timestep's error reaches k steps back.

    curve[k] = || dL_{T-1} / dh_{T-1-k} ||      (2-norm over the batch and the hidden units)

from ``engine.diagnostics.gradient_decay`` (Pascanu, Mikolov & Bengio 2013), on the session's
last batch with its own options (so a truncation window shows as the curve stopping at k).
LSTM: the same through the cell state. For one sequence, the norms of the Jacobian products
``||dh_{T-1}/dh_{T-1-k}||`` and, for a vanilla RNN, their bound ``(sigma_max(W_hh) gamma)^k``;
both are scaled by ``curve[0]`` so they share the curve's axis: ``curve[k] <= curve[0] ||P_k||
<= curve[0] (sigma_max gamma)^k`` (batch of one).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from engine import diagnostics
from engine.session import Session

from .panels import activation_gamma

Array = np.ndarray

#: the Jacobian lines multiply (H, H) matrices once per step back: (T - 1) * H**3 multiply-adds.
#: Above this they would hold the window for seconds each frame, so they are left out (and the
#: note says so). Every bundled preset is far below it (the largest: 2.4e7).
JACOBIAN_BUDGET = 1e8


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
    """Builds ``DecayFrame``s, keeping the power iteration's vectors between calls (warm start:
    the model changes little from one frame to the next, so a few rounds suffice)."""

    def __init__(self) -> None:
        self._warm = None

    def frame(self, session: Session, history: list[Array]) -> DecayFrame | str:
        """A ``DecayFrame`` for the decay view, or a message explaining why there is none."""
        if not session.cfg.is_recurrent:
            return "The decay curve is about recurrence: an MLP has no steps back in time."
        if session.last_batch is None:
            return "Train or step once to see how the gradient decays."
        if session.blowup is not None:
            return "The weights are not finite: roll back (Ctrl+Z) or reset (R)."
        m = session.model
        x, y = session.last_batch
        opts = session.options()
        with np.errstate(all="ignore"):
            curve = diagnostics.gradient_decay(m, x, y, **opts)
            cell = diagnostics.gradient_decay(m, x, y, state="c", **opts) if "c" in m.STATE else None
            jac = None
            if jacobian_cost(m.hidden_size, curve.size) <= JACOBIAN_BUDGET:
                warm = self._warm if self._warm is not None and len(self._warm) == curve.size else None
                jac = diagnostics.jacobian_norms(m, x, iters=6 if warm is not None else 30, warm=warm)
        self._warm = None if jac is None else jac.vectors
        k = np.arange(curve.size, dtype=float)
        scale = float(curve[0]) if curve.size and np.isfinite(curve[0]) and curve[0] > 0 else 1.0
        ref = None if jac is None or jac.reference is None else scale * jac.reference
        label = ""
        if ref is not None:
            gamma = activation_gamma(session)
            sigma = float(jac.reference[1]) / gamma if len(jac.reference) > 1 else float("nan")
            label = f"σ_max={sigma:.3g}, γ={gamma:g}"
        note = ""
        if curve.size > 1 and curve[0] > 0:
            note = f"{curve[-1] / curve[0]:.1e} of the last step's error reaches {curve.size - 1} steps back"
        if jac is None:
            note += ("  ·  " if note else "") + (f"Jacobian lines left out: {m.hidden_size} units × "
                                                  f"{curve.size - 1} steps back is too slow to draw live")
        return DecayFrame(k=k, curve=curve, reference=ref, reference_label=label, cell=cell,
                          jacobian=None if jac is None else scale * jac.norms, history=list(history),
                          iteration=session.iteration, note=note)


def jacobian_cost(hidden: int, points: int) -> float:
    """Multiply-adds of the Jacobian lines for ``points`` decay points of an ``hidden``-unit model."""
    return max(points - 1, 0) * float(hidden) ** 3


def decay_frame(session: Session, history: list[Array]) -> DecayFrame | str:
    """One frame without a warm start (see ``DecayPresenter``)."""
    return DecayPresenter().frame(session, history)
