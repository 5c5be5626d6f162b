"""Plain data for the deltas, weights, loss and status read-outs (no Qt here). The singular
values over training come from the engine's diagnostics pipeline (``Diagnostics.spectral``)."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from bpttviz.engine.gradients import diagnostics
from bpttviz.engine.models import GATE_NAMES
from bpttviz.engine.nn.activations import ACTIVATIONS
from bpttviz.engine.records import BackwardStep, ForwardStep, GradientStep, LayerBackward, LayerForward, UpdateStep
from bpttviz.engine.training.session import Session
from bpttviz.presenters.trace_data import MLPTrace, RecurrentTrace, gradients_so_far, sub

#: iterations per second offered by the speed control; None = as fast as the training budget allows
SPEEDS: tuple[float | None, ...] = (1, 2, 5, 10, 30, 100, None)

Array = np.ndarray


# ---------------------------------------------------------------------------------- labels
def loss_label(session: Session) -> str:
    """What the plotted loss is, stated explicitly (the reduction is always labelled)."""
    cfg = session.cfg
    if cfg.loss_label:
        return cfg.loss_label
    name = "cross-entropy" if session.task.loss == "cross_entropy" else "squared error"
    over_time = cfg.is_recurrent and session.task.output == "all"
    if cfg.reduction == "sum":
        how = "sum over batch and time" if over_time else "sum over batch"
    else:
        how = "mean over batch, sum over time" if over_time else "mean over batch"
    return f"{name} loss ({how})"


# ---------------------------------------------------------------------------------- deltas
DELTA_QUANTITIES = {
    "dh": "dL/dhₜ (state delta)",
    "dpre": "dL/dzₜ (pre-activation delta)",
    "dc": "dL/dcₜ (LSTM cell-state delta)",
}


@dataclass
class DeltasFrame:
    """A heatmap (rows: units, columns: timesteps or layers) and norms per column."""

    image: Array  # float32 (rows, cols), NaN where not computed yet
    level: float  # symmetric colour levels (-level, level)
    title: str
    x_label: str
    y_label: str
    columns: Array  # (cols,) x positions
    norms: dict[str, Array]  # label -> (cols,) norms (NaN: not yet)
    current: float | None = None
    column_ticks: list[tuple[float, str]] | None = None
    row_breaks: list[float] = field(default_factory=list)  # gate boundaries in a stacked image


def available_quantities(td) -> list[str]:
    if isinstance(td, MLPTrace):
        return ["dpre"]
    return ["dh", "dpre"] + (["dc"] if td.dc is not None else [])


def deltas_frame(td, cursor: int, quantity: str = "dh") -> DeltasFrame:
    """Deltas revealed up to record ``cursor``; levels are fixed for the whole iteration. The
    title names the iteration shown (``td.iteration``; 0: nothing narrated yet)."""
    f = _mlp_deltas(td, cursor) if isinstance(td, MLPTrace) else _recurrent_deltas(td, cursor, quantity)
    if len(td.trace):
        if not np.any(np.asarray(td.bwd_at) <= cursor):  # forward pass or loss: no delta yet
            f.title = f"{f.title.split(',')[0]}: none before the backward pass"
        f.title += f" · iteration {td.iteration}"
    return f


def _recurrent_deltas(td: RecurrentTrace, cursor: int, quantity: str) -> DeltasFrame:
    if quantity == "dc" and td.dc is None:
        quantity = "dh"
    full = {"dh": td.dh, "dpre": td.dpre, "dc": td.dc}[quantity]
    on = td.revealed_backward(cursor)
    shown = np.where(on[:, None], full, np.nan)
    level = float(np.nanmax(np.abs(full))) if np.any(np.isfinite(full)) else 1.0
    rec = td.trace[cursor] if 0 <= cursor < len(td.trace) else None
    current = float(rec.t) if isinstance(rec, (BackwardStep, ForwardStep)) else None
    norms = {
        "‖dL/dhₜ‖": np.where(on, td.dh_norm, np.nan),
        "from yₜ": np.where(on, td.dh_out_norm, np.nan),
        "from hₜ₊₁ (the future)": np.where(on, td.dh_future_norm, np.nan),
    }
    if td.dc is not None:
        norms["‖dL/dcₜ‖"] = np.where(on, td.dc_norm, np.nan)
    G = full.shape[1]
    gates = G // td.H if quantity == "dpre" else 1
    breaks = [float(k * td.H) - 0.5 for k in range(1, gates)]
    names = " ".join(GATE_NAMES.get(td.kind, ()))
    y_label = "unit" if gates == 1 else f"gate × unit ({names})"
    return DeltasFrame(image=np.ascontiguousarray(shown.T, dtype=np.float32), level=max(level, 1e-12),
                       # the symbol only: the quantity menu above the plot names it in words, and
                       # a short title stays on one line beside the norms plot
                       title=f"{DELTA_QUANTITIES[quantity].split(' (')[0]}, sequence 1 of {td.B}",
                       x_label="timestep t", y_label=y_label, columns=np.arange(td.T, dtype=float),
                       norms=norms, current=current, row_breaks=breaks)


def _mlp_deltas(td: MLPTrace, cursor: int) -> DeltasFrame:
    L = td.L
    rows = max(td.sizes[1:])
    img = np.full((rows, L), np.nan)
    full = np.full((rows, L), np.nan)
    norms = np.full(L, np.nan)
    for l in range(1, L + 1):
        if td.dz[l] is None:
            continue
        col = np.asarray(td.dz[l]).sum(0)
        full[: col.size, l - 1] = col
        if td.bwd_at[l] <= cursor:
            img[: col.size, l - 1] = col
            norms[l - 1] = float(np.sqrt(np.sum(np.square(td.dz[l]))))
    level = float(np.nanmax(np.abs(full))) if np.any(np.isfinite(full)) else 1.0
    rec = td.trace[cursor] if 0 <= cursor < len(td.trace) else None
    current = float(rec.index - 1) if isinstance(rec, (LayerBackward, LayerForward)) else None
    ticks = [(float(l - 1), f"z{sub(l)}") for l in range(1, L + 1)]
    return DeltasFrame(image=np.ascontiguousarray(img, dtype=np.float32), level=max(level, 1e-12),
                       title="dL/dz per layer, Σ over batch (= dL/db)", x_label="layer",
                       y_label="unit", columns=np.arange(L, dtype=float), norms={"‖dL/dz‖": norms},
                       current=current, column_ticks=ticks)


# ---------------------------------------------------------------------------------- weights
@dataclass
class WeightsFrame:
    """One parameter at one moment: its value (the parameters in force at the moment), its
    gradient so far, and at an update record the change ``delta = after - before``.

    ``norm`` = ‖value‖ (Frobenius), ``sigma`` its largest singular value (2-D only), and at the
    update ``norm_before``, ``sigma_before`` and ``delta_norm``; ``label`` names the moment
    ("iteration 12 · before update")."""

    name: str
    value: Array  # float32 2-D
    grad: Array | None
    value_level: float
    grad_level: float
    grad_title: str
    shape: tuple[int, ...]
    norm: float = float("nan")
    sigma: float | None = None
    grad_norm: float | None = None
    label: str = ""
    delta: Array | None = None  # float32 2-D, at and after the update record
    norm_before: float | None = None
    sigma_before: float | None = None
    delta_norm: float | None = None


def _as_image(a: Array) -> Array:
    with np.errstate(over="ignore", invalid="ignore"):  # a blown-up matrix is shown as it is
        a = np.asarray(a, dtype=np.float32)
    return a[None, :] if a.ndim == 1 else a


#: sigma_max is exact (an SVD) when the matrix's smaller side is at most this, else power iteration
EXACT_SIDE = 256
_SIGMA_CACHE: dict[tuple, float | None] = {}


def sigma_max(a: Array, key: tuple | None = None) -> float | None:
    """The largest singular value of a 2-D array, None otherwise or when not finite: exact when its
    smaller side is at most ``EXACT_SIDE``, else by power iteration from a fixed start (200 rounds
    at most). ``key`` names an array that never changes (a moment's parameters), to compute it once."""
    if key is not None and key in _SIGMA_CACHE:
        return _SIGMA_CACHE[key]
    a = np.asarray(a, dtype=float)
    if a.ndim != 2 or a.size == 0 or not np.all(np.isfinite(a)):
        value = None
    elif min(a.shape) <= EXACT_SIDE:
        value = float(np.linalg.norm(a, 2))
    else:
        value = diagnostics.largest_singular_value(a, None, iters=200)[0]
    if key is not None:
        if len(_SIGMA_CACHE) > 64:
            _SIGMA_CACHE.clear()
        _SIGMA_CACHE[key] = value
    return value


def _norm(a: Array) -> float:
    a = np.asarray(a, dtype=float)
    return float(np.sqrt(np.sum(np.square(a))))


def weights_frame(moment, name: str, session: Session | None = None) -> WeightsFrame:
    """Parameter ``name`` at ``moment`` (``bpttviz.presenters.moment.Moment``): the parameters in force then;
    the gradient accumulated up to the record while stepping through the backward pass; at and
    after the update record, before / after / Δ. Between iterations, the gradient of the update
    that made the parameters (``session.last_update`` when it is that iteration's)."""
    p = moment.params[name]
    grad = None
    delta = None
    title = "gradient"
    rec = moment.rec
    n = moment.narration
    if rec is not None:
        grad = gradients_so_far(n.trace, moment.record, name)
        if isinstance(rec, BackwardStep):
            title = f"gradient so far (t ≥ {rec.t})"
        elif isinstance(rec, LayerBackward):
            title = f"gradient so far (layers ≥ {rec.index})"
        elif isinstance(rec, (GradientStep, UpdateStep)) and grad is not None:
            title = "gradient (this iteration)"
        elif grad is None:
            title = "gradient: not computed yet"
        if moment.updated and n.updated:
            delta = np.asarray(n.after[name], dtype=float) - np.asarray(n.before[name], dtype=float)
            title = f"Δ{name} = after − before (this update)"
    elif session is not None and session.last_update is not None and session.last_update.index == moment.iteration:
        grad = np.asarray(session.last_update.grads[name])
        title = f"gradient (iteration {moment.iteration})"
    v = _as_image(p)
    g = _as_image(grad) if grad is not None else None
    d = _as_image(delta) if delta is not None else None
    # a narrated moment's parameters are read-only copies: their sigma is computed once
    key = (id(n), id(p), moment.generation, moment.iteration, moment.updated) if n is not None else None
    f = WeightsFrame(name=name, value=v, grad=g, value_level=_level(v), grad_level=_level(d if d is not None else g),
                     grad_title=title, shape=p.shape, norm=_norm(p), sigma=sigma_max(p, key),
                     grad_norm=_norm(grad) if grad is not None else None, label=moment.label(), delta=d)
    if d is not None:
        f.norm_before = _norm(n.before[name])
        pb = n.before[name]
        f.sigma_before = sigma_max(pb, (id(n), id(pb), moment.generation, moment.iteration, False))
        f.delta_norm = _norm(delta)
    return f


def _level(a: Array | None) -> float:
    if a is None or a.size == 0:
        return 1e-12
    f = np.abs(a[np.isfinite(a)])
    return float(f.max()) if f.size and f.max() > 0 else 1e-12


def recurrent_matrix_name(session: Session) -> str | None:
    return getattr(session.model, "W_H", None) if session.cfg.is_recurrent else None


# ---------------------------------------------------------------------------------- loss
@dataclass
class LossFrame:
    x: Array
    loss: Array
    smooth: Array
    val_x: Array
    val: Array
    metric_name: str
    baseline: float | None
    norm_x: Array
    norm: Array
    clip_x: Array
    clip_y: Array
    clip_threshold: float | None
    loss_label: str
    baseline_label: str = ""  # the baseline line's label; says when validation is worse than it


def smooth(y: Array, window: int | None = None) -> Array:
    """A trailing moving average (window ~2% of the points, at least 5)."""
    n = y.size
    if n == 0:
        return y
    w = window or max(5, n // 50)
    c = np.cumsum(np.insert(np.where(np.isfinite(y), y, 0.0), 0, 0.0))
    idx = np.arange(1, n + 1)
    lo = np.maximum(0, idx - w)
    return (c[idx] - c[lo]) / (idx - lo)


def _until(xy: tuple[Array, Array], limit: float | None) -> tuple[Array, Array]:
    x, y = xy
    if limit is None:
        return x, y
    keep = x <= limit
    return x[keep], y[keep]


def baseline_label(session: Session, val: Array) -> str:
    """The baseline line's label, e.g. "chance 4.75"; when the last validation value ``val[-1]``
    is on the wrong side of it: "validation 5.38: worse than chance (4.75)"."""
    task = session.task
    b = task.baseline
    if b is None or not np.isfinite(b):
        return ""
    name = getattr(task, "baseline_name", "trivial baseline")
    v = float(val[-1]) if len(val) else float("nan")
    if np.isfinite(v) and (v < b if task.higher_is_better else v > b):
        return f"validation {v:.3g}: worse than {name} ({b:.3g})"
    return f"{name} {b:.3g}"


def loss_frame(session: Session, moment=None) -> LossFrame:
    """The histories as of ``moment`` (``Moment.visible_until``: a point of iteration N appears
    once the narration has computed it); None: everything."""
    lim = (lambda k: moment.visible_until(k)) if moment is not None else (lambda k: None)
    x, y = _until(session.history["loss"].data(), lim("loss"))
    vx, vy = _until(session.history["val_metric"].data(), lim("val_metric"))
    nx, ny = _until(session.history["grad_norm"].data(), lim("grad_norm"))
    cx, cy = _until(session.clip_events.data(), lim("clip_events"))
    cfg = session.cfg
    return LossFrame(x=x, loss=y, smooth=smooth(y), val_x=vx, val=vy, metric_name=session.task.metric_name,
                     baseline=session.task.baseline, norm_x=nx, norm=ny, clip_x=cx, clip_y=cy,
                     clip_threshold=cfg.clip_threshold if cfg.clip == "norm" else None,
                     loss_label=loss_label(session), baseline_label=baseline_label(session, vy))


# ---------------------------------------------------------------------------------- status
def activation_gamma(session: Session) -> float:
    """Bound of |f'| for the recurrent nonlinearity (Pascanu et al. 2013's gamma)."""
    if session.cfg.model in ("lstm", "gru"):
        return 1.0
    return ACTIVATIONS[session.cfg.activation].gamma


def record_status(rec, T: int | None = None) -> tuple[str, str]:
    """(phase, where) of a record, e.g. ("backward", "t = 12") or ("forward", "layer 2")."""
    if rec is None:
        return "", ""
    if isinstance(rec, (ForwardStep, BackwardStep)):
        return rec.phase, f"t = {rec.t}" + (f" of {T}" if T else "")
    if isinstance(rec, (LayerForward, LayerBackward)):
        return rec.phase, f"layer {rec.index}"
    return rec.phase, ""
