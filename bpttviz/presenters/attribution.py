"""Where each gradient comes from, as plain data for the attribution view, the graph's input
shading, the what-if panel and the explain panel (``engine.gradients.attribution`` does the arithmetic).

Everything describes one narrated iteration (the controller's trace): its inputs, initial state,
options and the weights its records were made with (``engine.gradients.attribution.trace_setup``), or a
what-if copy of those weights (``WhatIfSettings``). Nothing here changes the session.

- ``AttributionFrame``: the T×T matrix ``A[t, t'] = ||dL_t'/dh_t||`` on a log colour scale, filled
  only for the rows the backward pass has reached at the cursor (it fills in from the last row up
  as the backward records are stepped), with a caption whose numbers come from the matrix.
- ``connectivity``: ``||dy_t/dx_t'||`` of the first example for every t' <= t, mapped to [0, 1] on
  a log scale, for the graph's input row.
- ``WhatIfFrame``: the trained and the what-if decay curves, the bound and the delta norms.
- ``path_explanation``: the chain-rule path of one cell for the explain panel.
- ``whatif_decay`` / ``whatif_deltas``: the main decay and deltas views' frames while a what-if
  is active (the same frame types those views draw for the trained weights, labelled "what-if").
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace

import numpy as np

from bpttviz.engine.explain import Explanation, fmt, sub
from bpttviz.engine.gradients import attribution as at
from bpttviz.engine.records import BackwardStep, GradientStep, UpdateStep
from bpttviz.presenters.decay import DecayFrame, decay_note
from bpttviz.presenters.graph_frame import log_scale
from bpttviz.presenters.panels import DeltasFrame, deltas_frame

Array = np.ndarray
DECADES = 6.0  # the colour scale spans this many decades below the largest cell
REACH = 0.01  # "keeps at least 1% of its size": the band width the caption states
EXAMPLE = 0  # connectivity and the path follow the first example, like the explain panel
QUANTITIES = {"h": "‖∂L_t′/∂h_t‖", "c": "‖∂L_t′/∂c_t‖", "W": "‖h_t−1ᵀ δ_t‖ (∂L_t′/∂W_hh)"}
ACTIVATIONS = ("tanh", "sigmoid", "relu", "linear")


@dataclass(frozen=True)
class WhatIfSettings:
    """A what-if on the shown iteration's weights; None leaves a setting as trained.
    ``truncation``: ``"trained"`` keeps the iteration's own, None is full BPTT, k a window."""

    sigma: float | None = None
    forget_bias: float | None = None
    activation: str | None = None
    truncation: int | None | str = "trained"

    @property
    def active(self) -> bool:
        return (self.sigma is not None or self.forget_bias is not None or self.activation is not None
                or self.truncation != "trained")

    def label(self) -> str:
        """e.g. ``what-if: σ_max = 0.8, k = 4`` (empty when nothing is changed)."""
        parts = []
        if self.sigma is not None:
            parts.append(f"σ_max = {self.sigma:.3g}")
        if self.forget_bias is not None:
            parts.append(f"forget bias = {self.forget_bias:.3g}")
        if self.activation is not None:
            parts.append(f"activation = {self.activation}")
        if self.truncation != "trained":
            parts.append("full BPTT" if self.truncation is None else f"k = {self.truncation}")
        return "what-if: " + ", ".join(parts) if parts else ""


TRAINED = WhatIfSettings()


@dataclass
class AttributionFrame:
    """What the attribution view draws.

    image ``(T, T)`` float32: ``log10 A[t, t']`` (row t, column t'); NaN where nothing is drawn
    (t' < t, outside the window, exactly zero, or a row the backward pass has not reached yet);
    values: the raw ``A`` (for tooltips); levels: the colour scale's (low, high) in log10;
    filled_from: the first row drawn (T: none yet); quantity: ``"h"``, ``"c"`` or ``"W"``."""

    image: Array
    values: Array
    levels: tuple[float, float]
    T: int
    filled_from: int
    truncation: int | None
    quantity: str
    title: str
    caption: str
    iteration: int
    whatif: str = ""
    reach: Array = field(default_factory=lambda: np.zeros(0, dtype=int))
    #: side by side (a comparison): the second model's frame, drawn on this one's colour scale,
    #: and the two models' names ("" alone)
    second: AttributionFrame | None = None
    label: str = ""
    #: "last": a many-to-one task, whose one loss fills the last column only (the view draws that
    #: column across its whole width)
    output: str = "all"


@dataclass
class WhatIfFrame:
    """What the what-if panel draws: k = steps back from the last timestep; the decay curves
    ``||dL_{T-1}/dh_{T-1-k}||`` trained and what-if, the bound (vanilla RNN) of the what-if, the
    delta norms ``||dL/dh_t||`` trained and what-if; sigma: sigma_max of the recurrent weights
    trained and now; gamma: sup |f'| (vanilla RNN) or None; caption: a checked sentence."""

    k: Array
    decay_trained: Array
    decay: Array
    bound: Array | None
    deltas_trained: Array
    deltas: Array
    sigma_trained: float
    sigma: float
    gamma: float | None
    label: str
    caption: str
    kind: str


@dataclass
class _Computed:
    setup: at.Setup
    model: object  # the what-if copy (or the setup's model)
    options: dict
    frame: at.WhatIfFrame


class AttributionPresenter:
    """Computes once per (trace, what-if) and keeps the result; all methods take the trace, the
    live model (whose ``kind`` and parameter arrays describe the session) and the settings."""

    def __init__(self) -> None:
        self._key: tuple | None = None
        self._computed: _Computed | None = None
        self._trained_key: tuple | None = None
        self._trained: _Computed | None = None
        self._setup_key: tuple | None = None
        self._setup: at.Setup | None = None
        self._conn: dict[tuple, Array] = {}

    # ------------------------------------------------------------------ computing
    def setup(self, trace, model) -> at.Setup:
        key = (trace, model)  # (the objects: a freed one's id comes back for a new one)
        if key != self._setup_key:
            self._setup = at.trace_setup(trace, model)
            self._setup_key = key
            self._conn.clear()
        return self._setup

    def computed(self, trace, model, settings: WhatIfSettings = TRAINED) -> _Computed:
        """The what-if frame of the trace's iteration under ``settings`` (cached)."""
        key = (trace, model, settings)
        if key == self._key and self._computed is not None:
            return self._computed
        st = self.setup(trace, model)
        m = st.model
        if settings.active:
            m = at.what_if(m, sigma=settings.sigma, forget_bias=settings.forget_bias,
                           activation=settings.activation)
        opts = dict(st.options)
        if settings.truncation != "trained":
            opts = at.set_truncation(opts, settings.truncation)
        # the trained weights (whatever the window): the iteration's own forward pass serves
        same_weights = settings.sigma is None and settings.forget_bias is None and settings.activation is None
        with np.errstate(all="ignore"):
            fr = at.what_if_frame(m, st.inputs, st.targets, h0=st.h0, forward=st.forward if same_weights else None,
                                  connect=False, **opts)  # the connectivity when the shading asks
        self._key, self._computed = key, _Computed(st, m, opts, fr)
        if not settings.active:
            self._trained_key, self._trained = key, self._computed
        return self._computed

    def trained(self, trace, model) -> _Computed:
        if self._trained_key == (trace, model, TRAINED) and self._trained is not None:
            return self._trained
        keep = (self._key, self._computed)
        out = self.computed(trace, model, TRAINED)
        self._key, self._computed = keep
        return out

    # ------------------------------------------------------------------ the matrix
    def frame(self, trace, cursor: int, model, *, quantity: str = "h", settings: WhatIfSettings = TRAINED,
              iteration: int = 0) -> AttributionFrame:
        """The matrix at record ``cursor`` of ``trace`` (rows the backward pass has not reached
        are blank); ``quantity`` ``"h"``, ``"c"`` (LSTM) or ``"W"``."""
        c = self.computed(trace, model, settings)
        att = c.frame.attribution
        T = att.T
        if quantity == "c" and att.A_c is None:
            quantity = "h"
        A = {"h": att.A, "c": att.A_c, "W": att.A_w}[quantity]
        rec = trace[cursor] if 0 <= cursor < len(trace) else None
        if isinstance(rec, BackwardStep):
            filled_from = rec.index
        elif isinstance(rec, (GradientStep, UpdateStep)) or settings.active:
            filled_from = 0  # a what-if is computed whole, at once
        else:
            filled_from = T
        img = np.full((T, T), np.nan, dtype=np.float32)
        show = att.mask() & (A > 0) & np.isfinite(A)
        show[:filled_from] = False
        with np.errstate(divide="ignore"):
            img[show] = np.log10(A[show])
        finite = A[att.mask() & (A > 0) & np.isfinite(A)]
        hi = math.log10(float(finite.max())) if finite.size else 0.0
        lo = max(hi - DECADES, math.log10(float(finite.min()))) if finite.size else hi - 1.0
        if hi - lo < 0.5:
            lo = hi - 0.5
        reach = att.reach(REACH)
        what = settings.label()
        title = f"Where ∂L/∂{'c' if quantity == 'c' else 'h'}_t comes from · iteration {iteration}"
        if quantity == "W":
            title = f"Where step t's ∂L/∂{model.W_H} comes from · iteration {iteration}"
        stepping = filled_from if isinstance(rec, BackwardStep) and not settings.active else None
        caption = self._caption(att, filled_from, quantity, reach, stepping)
        return AttributionFrame(img, np.array(A), (lo, hi), T, filled_from, c.options.get("truncation"), quantity,
                                title, caption, iteration, what, reach, output=att.output)

    @staticmethod
    def _caption(att: at.Attribution, filled_from: int, quantity: str, reach: Array, stepping: int | None) -> str:
        T = att.T
        if filled_from >= T:
            return ("The backward pass has not started: step on (→) and the matrix fills in from the last row up "
                    "as the deltas flow back.")
        if stepping is not None:
            t = stepping
            losses = f"t′ = {t} … {T - 1}" if att.output == "all" else f"t′ = {T - 1}"
            return (f"Backward at t = {t}: rows {t} … {T - 1} are known. Row {t} splits "
                    f"‖∂L/∂h{sub(t)}‖ = {fmt(att.dh_norm[t])} into the parts of the losses {losses}.")
        k = att.truncation
        last = T - 1
        what = {"h": "its size", "c": "its size at the cell state", "W": "its size"}[quantity]
        if k is not None and k < T:
            return (f"Window k = {k}: each loss reaches h_t′ … h_t′−{k - 1} only, so every cell with "
                    f"t′ − t ≥ {k} is exactly 0 (the band). The loss at t′ = {last} keeps ≥ 1% of {what} "
                    f"for {int(reach[last])} of those {min(k, T) - 1} steps back.")
        return (f"Full BPTT: the loss at t′ = {last} keeps ≥ 1% of {what} for {int(reach[last])} of "
                f"{last} steps back; ‖∂L{sub(last)}/∂h₀‖ = {fmt(att.A[0, last])}.")

    # ------------------------------------------------------------------ side by side
    @staticmethod
    def side_by_side(first: AttributionFrame, second: AttributionFrame, labels: tuple[str, str]) -> AttributionFrame:
        """The first model's frame carrying the second's (a comparison on the same data), both on
        one colour scale (the union of their levels, at most ``DECADES`` deep), with a caption
        stating each model's band once both backward passes are complete."""
        hi = max(first.levels[1], second.levels[1])
        lo = max(min(first.levels[0], second.levels[0]), hi - DECADES)
        second = replace(second, levels=(lo, hi), label=labels[1])
        caption = first.caption
        if first.filled_from == 0 and second.filled_from == 0 and first.T == second.T:
            windows = [f.truncation for f in (first, second) if f.truncation is not None and f.truncation < f.T]
            caption = "  ·  ".join(_band(f, label, min(windows) if windows else None)
                                   for f, label in ((first, labels[0]), (second, labels[1])))
        return replace(first, levels=(lo, hi), label=labels[0], second=second, caption=caption)

    # ------------------------------------------------------------------ connectivity
    def connectivity(self, trace, model, t: int, settings: WhatIfSettings = TRAINED) -> tuple[Array, Array, str]:
        """``(raw, shade, label)`` for output step ``t`` of the first example: raw ``(T,)`` =
        ``||dy_t/dx_t'||`` (0 for t' > t), shade in [0, 1] on a 4-decade log scale (NaN for
        t' > t), label: what the shading shows, with the strongest and the earliest input."""
        c = self.computed(trace, model, settings)
        T = c.frame.attribution.T
        t = int(min(max(t, 0), T - 1))
        key = (id(c), t)
        raw = self._conn.get(key)
        if raw is None and c.frame.t == t and c.frame.connectivity is not None:
            raw = c.frame.connectivity[EXAMPLE]  # computed with the frame already
        if raw is None:
            with np.errstate(all="ignore"):
                raw = at.connectivity(c.model, c.setup.inputs, t, h0=c.setup.h0, forward=c.frame.forward)[EXAMPLE]
            self._conn = {key: raw}
        shade = np.full(T, np.nan)
        top = float(raw[:t + 1].max()) if t >= 0 else 0.0
        shade[:t + 1] = log_scale(raw[:t + 1], top, 4.0)
        best = int(np.argmax(raw[:t + 1]))
        label = (f"Inputs shaded by ‖∂y{sub(t)}/∂x_t′‖, how strongly the output at t = {t} depends on each input "
                 f"(4 decades): strongest t′ = {best}")
        if t > 0 and top > 0:
            label += f"; t′ = 0 gets {fmt(float(raw[0]) / top)} of that"
        if settings.active:
            label += f"  ·  {settings.label()}"
        return raw, shade, label

    # ------------------------------------------------------------------ the what-if panel
    def whatif_frame(self, trace, model, settings: WhatIfSettings) -> WhatIfFrame:
        tr = self.trained(trace, model).frame
        c = self.computed(trace, model, settings)
        fr = c.frame
        T = fr.attribution.T
        k = np.arange(T, dtype=float)
        label = settings.label() or "the trained weights"
        d = fr.decay
        ratio = float(d[-1] / d[0]) if d[0] > 0 else 0.0
        if fr.gamma is not None:
            g = fr.sigma * fr.gamma
            head = f"σ_max·γ = {fmt(fr.sigma)}·{fmt(fr.gamma)} = {fmt(g)}"
            if abs(g - 1.0) <= 1e-9:  # 1 up to the rounding of the scaling (σ_max is set to notches)
                head += ": the bound stays level, ×1 per step back. "
            else:
                verb = "shrinks" if g < 1 else "grows"
                head += f" {'<' if g < 1 else '>'} 1: the bound {verb} ×{fmt(g)} per step back. "
        else:
            head = f"σ_max(W_h) = {fmt(fr.sigma)}. "
        caption = head + (f"The last loss keeps {fmt(ratio)} of its size {T - 1} steps back "
                          f"(trained: {fmt(float(tr.decay[-1] / tr.decay[0]) if tr.decay[0] > 0 else 0.0)}).")
        return WhatIfFrame(k, tr.decay, d, fr.bound, tr.deltas, fr.deltas, tr.sigma, fr.sigma, fr.gamma, label,
                           caption, c.frame.attribution.kind)

    # ------------------------------------------------------------------ the main views, what-if
    def whatif_decay(self, trace, model, settings: WhatIfSettings, iteration: int = 0) -> DecayFrame:
        """The decay view's frame for the what-if: its curve ``||dL_{T-1}/dh_{T-1-k}||`` (LSTM:
        through c too) and, vanilla RNN, its bound ``decay[0] (sigma_max gamma)^k``; the note
        says what fraction reaches how far back, as the trained frame's does."""
        fr = self.computed(trace, model, settings).frame
        T = fr.attribution.T
        label = f"σ_max={fr.sigma:.3g}, γ={fr.gamma:g}" if fr.bound is not None else ""
        note = decay_note(fr.decay, T, f"{settings.label() or 'what-if'} on iteration {iteration}",
                          self.computed(trace, model, settings).options.get("truncation"))
        return DecayFrame(k=np.arange(T, dtype=float), curve=fr.decay.copy(), reference=fr.bound,
                          reference_label=label, cell=None if fr.decay_c is None else fr.decay_c.copy(),
                          iteration=iteration, note=note)

    def whatif_deltas(self, trace, model, settings: WhatIfSettings, quantity: str = "dh") -> DeltasFrame:
        """The deltas view's frame for the what-if: the summed deltas of the changed model's
        backward pass (``Attribution.totals``), drawn exactly as the records' would be (sequence
        1 in the heatmap; the norms over the batch split into "from y_t" and "from h_t+1")."""
        att = self.computed(trace, model, settings).frame.attribution
        f = deltas_frame(_TotalsTrace.of(att, model.hidden_size), -1, quantity)
        # (the banner above names the change, the status bar the iteration: the title stays one line)
        return replace(f, title=f"{f.title} · what-if")

    # ------------------------------------------------------------------ the path
    def path_explanation(self, trace, model, t: int, source: int, unit: int,
                         settings: WhatIfSettings = TRAINED) -> Explanation:
        """The explain panel's view of cell ``(t, source)`` for hidden ``unit`` (first example)."""
        c = self.computed(trace, model, settings)
        st = c.setup
        p = at.path(c.model, st.inputs, st.targets, t, source, unit=unit, example=EXAMPLE, h0=st.h0, **c.options)
        return p.explanation()


@dataclass
class _TotalsTrace:
    """A what-if's summed deltas shaped like the narrated iteration's ``RecurrentTrace`` fields
    that the deltas frame reads (every step revealed: a what-if is computed whole)."""

    kind: str
    T: int
    B: int
    H: int
    dh: Array  # (T, H), sequence 1
    dpre: Array  # (T, G)
    dc: Array | None
    dh_norm: Array  # (T,) over the batch and units
    dh_out_norm: Array
    dh_future_norm: Array
    dc_norm: Array | None
    trace: tuple = ()

    @classmethod
    def of(cls, att: at.Attribution, H: int) -> _TotalsTrace:
        tot = att.totals

        def norms(a: Array) -> Array:
            return np.sqrt(np.einsum("tbh,tbh->t", a, a))

        dc = tot.get("dc")
        fut = tot["dh"] - tot["dh_out"]
        return cls(att.kind, att.T, tot["dh"].shape[1], H, tot["dh"][:, 0], tot["dpre"][:, 0],
                   None if dc is None else dc[:, 0], norms(tot["dh"]), norms(tot["dh_out"]), norms(fut),
                   None if dc is None else norms(dc))

    def revealed_backward(self, cursor: int) -> Array:
        return np.ones(self.T, dtype=bool)


def far_share(A: Array, k: int) -> float:
    """The share of the matrix's total ``sum A`` in the cells at least ``k`` steps from the
    diagonal (``t' - t >= k``), as the lectures' ``attribution_far`` claims measure it."""
    t, tp = np.indices(A.shape)
    total = float(A.sum())
    return float(A[tp - t >= k].sum()) / total if total > 0 else 0.0


def _band(f: AttributionFrame, label: str, k: int | None) -> str:
    """One model's part of a side-by-side caption: its widest band, and what lies ``k`` or more
    steps off the diagonal (``k``: the narrower window of the two, if any)."""
    widest = int(f.reach.max()) if f.reach.size else 0
    own = f.truncation if f.truncation is not None and f.truncation < f.T else None
    if own is not None:
        text = f"{label}: every cell with t′ − t ≥ {own} is exactly 0, a band {own} wide"
    elif f.output == "last":
        text = f"{label}: the loss keeps ≥ 1% for {widest} of {f.T - 1} steps back"
    else:
        text = f"{label}: a loss keeps ≥ 1% for up to {widest} of {f.T - 1} steps back"
        if k is not None:
            text += f"; {fmt(100 * far_share(f.values, k))}% of the total lies ≥ {k} steps off the diagonal"
    return text


def trace_is_recurrent(trace) -> bool:
    """Whether ``trace`` narrates a recurrent iteration (the matrix needs timesteps)."""
    return trace is not None and any(isinstance(r, BackwardStep) for r in trace)
