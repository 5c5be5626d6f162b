"""The gradient-norm decay curve: how much of the last timestep's error reaches k steps back.

    curve[k] = || dL_{T-1} / dh_{T-1-k} ||      (2-norm over the batch and the hidden units)

(Pascanu, Mikolov & Bengio 2013). ``engine.diagnostics.gradient_decay`` computes it when that
module is present; otherwise the same quantity comes from the public narrated API: a pass with
``output="last"`` puts the loss on the last timestep alone, and its backward records' ``dh`` are
exactly ``dL_{T-1}/dh_t`` for every t (LSTM: ``dc`` gives the curve through the cell state).

Reference line for a vanilla RNN: ``curve[0] * (sigma_max(W_hh) * gamma)^k``, the bound from
``dh_{t-1} = (dh_t * f'(z_t)) W_hh^T`` with ``|f'| <= gamma``: the curve can only stay below it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from engine.records import BackwardStep
from engine.session import Session

from .panels import activation_gamma

Array = np.ndarray


@dataclass
class DecayFrame:
    """One decay curve (index k = steps back from the last timestep) and what to compare it with."""

    k: np.ndarray
    curve: np.ndarray
    reference: np.ndarray | None = None
    reference_label: str = ""
    cell: np.ndarray | None = None  # LSTM: the same through the cell state
    history: list[np.ndarray] = field(default_factory=list)  # older curves, oldest first
    iteration: int = 0
    note: str = ""


def _engine_decay(session: Session, x: Array, y_last: Array) -> tuple[Array, Array | None] | None:
    try:
        from engine import diagnostics  # noqa: PLC0415 - optional until the diagnostics land
    except ImportError:
        return None
    fn = getattr(diagnostics, "gradient_decay", None)
    if fn is None:
        return None
    opts = session.options()
    opts.pop("truncation", None)
    try:
        curve = np.asarray(fn(session.model, x, session.last_batch[1], **opts), dtype=float)
    except TypeError:
        return None
    return curve, None


def _narrated_decay(session: Session, x: Array, y_last: Array) -> tuple[Array, Array | None]:
    opts = session.options()
    bwd = [r for r in session.model.steps(x, y_last, reduction=opts["reduction"], truncation=None,
                                          output="last", loss=opts["loss"]) if isinstance(r, BackwardStep)]
    T = len(bwd)
    curve = np.zeros(T)
    cell = np.zeros(T) if bwd and "dc" in bwd[0].extras else None
    for r in bwd:
        k = T - 1 - r.t
        curve[k] = float(np.sqrt(np.sum(np.square(r.dh))))
        if cell is not None:
            cell[k] = float(np.sqrt(np.sum(np.square(r.extras["dc"]))))
    return curve, cell


def decay_curve(session: Session) -> tuple[Array, Array | None] | None:
    """``(curve, cell_curve_or_None)`` for the session's last batch, or None if not applicable."""
    if not session.cfg.is_recurrent or session.last_batch is None:
        return None
    x, y = session.last_batch
    y_last = y[:, -1] if session.task.output == "all" else y
    got = _engine_decay(session, x, y_last)
    if got is None:
        got = _narrated_decay(session, x, y_last)
    return got


def decay_frame(session: Session, history: list[Array]) -> DecayFrame | str:
    """A ``DecayFrame`` for the decay view, or a message explaining why there is none."""
    if not session.cfg.is_recurrent:
        return "The decay curve is about recurrence: an MLP has no steps back in time."
    if session.last_batch is None:
        return "Train or step once to see how the gradient decays."
    curve, cell = decay_curve(session)
    k = np.arange(curve.size, dtype=float)
    ref = None
    label = ""
    note = ""
    m = session.model
    if m.kind == "rnn":
        W = m.params[m.W_H]
        sigma = float(np.linalg.norm(W, 2))
        gamma = activation_gamma(session)
        ref = curve[0] * (sigma * gamma) ** k if curve.size else None
        label = f"bound (σ_max·γ)^k, σ_max={sigma:.3g}, γ={gamma:g}"
    if curve.size > 1 and curve[0] > 0:
        ratio = curve[-1] / curve[0]
        note = (f"iteration {session.iteration}: after {curve.size - 1} steps back, "
                f"{ratio:.2e} of the last step's error remains")
    return DecayFrame(k=k, curve=curve, reference=ref, reference_label=label, cell=cell,
                      history=list(history), iteration=session.iteration, note=note)
