"""The what-if panel: controls that change the shown iteration's weights or truncation without
training, and two small plots of what changed (the decay curve with its bound, and the delta
norms), the trained numbers in grey for comparison.

The panel emits ``settings_changed(WhatIfSettings)`` and ``restore_requested()``; it draws a
``WhatIfFrame`` (``bpttviz.presenters.attribution``) and knows nothing about the engine.
"""

from __future__ import annotations

import math

import numpy as np
import pyqtgraph as pg
from PySide6 import QtCore, QtWidgets

from bpttviz.presenters.attribution import ACTIVATIONS, TRAINED, WhatIfFrame, WhatIfSettings
from bpttviz.views.theme import (
    LabelHolder,
    Theme,
    decade_ticks,
    fit_fixed,
    fit_range,
    fix_axis_width,
    legend_html,
    log_curves,
    set_axis_label,
    set_ticks,
    style_plot,
)

SIGMA_STEP = 0.05  # one notch of the sigma_max slider ([ and ] nudge by one)
SIGMA_MAX = 4.0
SIGMA_CAP = 100.0
BIAS_STEP = 0.25
BIAS_RANGE = (-4.0, 8.0)


class WhatIfPanel(QtWidgets.QWidget):
    """Sliders for sigma_max and the LSTM forget bias, the RNN activation, the truncation window,
    and "Back to the trained weights"."""

    settings_changed = QtCore.Signal(object)
    restore_requested = QtCore.Signal()

    def __init__(self, theme: Theme, parent: QtWidgets.QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("whatif_panel")
        self.theme = theme
        self.frame: WhatIfFrame | None = None
        self.kind = "rnn"
        self.T = 1
        self._x_ends: dict[int, float] = {}  # each plot's x range end, set only when it changes
        self._trained = {"sigma": 1.0, "forget_bias": 0.0, "activation": "tanh", "truncation": None}
        self._quiet = False

        self.sigma = QtWidgets.QSlider(QtCore.Qt.Orientation.Horizontal)
        self.sigma.setObjectName("whatif_sigma")
        self.sigma.setRange(0, int(round(SIGMA_MAX / SIGMA_STEP)))
        self.sigma.setPageStep(4)
        self.sigma.setToolTip("The largest singular value of the recurrent weights ([ and ] nudge it)")
        self.sigma_value = QtWidgets.QLabel("")
        self.bias = QtWidgets.QSlider(QtCore.Qt.Orientation.Horizontal)
        self.bias.setObjectName("whatif_forget_bias")
        self.bias.setRange(int(BIAS_RANGE[0] / BIAS_STEP), int(BIAS_RANGE[1] / BIAS_STEP))
        self.bias.setToolTip("The LSTM's forget-gate bias: f = σ(a_f) starts near σ(bias)")
        self.bias_value = QtWidgets.QLabel("")
        self.activation = QtWidgets.QComboBox()
        self.activation.setObjectName("whatif_activation")
        for a in ACTIVATIONS:
            self.activation.addItem(a, a)
        self.truncation = QtWidgets.QComboBox()
        self.truncation.setObjectName("whatif_truncation")
        self.back = QtWidgets.QPushButton("Back to the trained weights")
        self.back.setObjectName("whatif_back")
        self.back.clicked.connect(self.restore_requested.emit)

        # one control per row, its name and value on a line above it: the panel sits in a narrow
        # dock beside the configuration and must stay readable there
        form = QtWidgets.QVBoxLayout()
        form.setSpacing(2)
        self.sigma_label = QtWidgets.QLabel("σ_max(W_hh)")
        self.bias_label = QtWidgets.QLabel("forget bias")
        self.activation_label = QtWidgets.QLabel("activation")
        self.truncation_label = QtWidgets.QLabel("truncation")
        self.rows: dict[str, list[QtWidgets.QWidget]] = {}
        for name, lab, w, val in (("sigma", self.sigma_label, self.sigma, self.sigma_value),
                                  ("bias", self.bias_label, self.bias, self.bias_value),
                                  ("activation", self.activation_label, self.activation, None),
                                  ("truncation", self.truncation_label, self.truncation, None)):
            lab.setBuddy(w)
            head = QtWidgets.QHBoxLayout()
            head.addWidget(lab)
            head.addStretch(1)
            if val is not None:
                val.setAlignment(QtCore.Qt.AlignmentFlag.AlignRight | QtCore.Qt.AlignmentFlag.AlignVCenter)
                head.addWidget(val)
            form.addLayout(head)
            form.addWidget(w)
            self.rows[name] = [lab, w] + ([val] if val is not None else [])
        form.addSpacing(4)
        form.addWidget(self.back)
        self.back.setSizePolicy(QtWidgets.QSizePolicy.Policy.Ignored, self.back.sizePolicy().verticalPolicy())
        self.back.setMinimumWidth(24)

        self.plots = pg.GraphicsLayoutWidget()
        self.plots.setFocusPolicy(QtCore.Qt.FocusPolicy.NoFocus)
        self.decay_plot = self.plots.addPlot(row=0, col=0, enableMenu=False)
        self.delta_plot = self.plots.addPlot(row=1, col=0, enableMenu=False)
        for p in (self.decay_plot, self.delta_plot):
            p.hideButtons()
            p.setMenuEnabled(False)
            p.setMouseEnabled(x=False, y=False)
            p.setLogMode(y=True)
            p.disableAutoRange()
        self.decay_trained = self.decay_plot.plot([], [])
        self.decay_now = self.decay_plot.plot([], [])
        self.bound = self.decay_plot.plot([], [])
        self.delta_trained = self.delta_plot.plot([], [])
        self.delta_now = self.delta_plot.plot([], [])
        log_curves(self.decay_trained, self.decay_now, self.bound, self.delta_trained, self.delta_now)
        self.caption = QtWidgets.QLabel(" ")
        self.caption.setObjectName("whatif_caption")
        self.caption.setWordWrap(True)
        # in a holder: a new caption (every change brings one) lays the window out again only
        # when it needs another number of lines
        self._caption_box = LabelHolder(self.caption)

        lay = QtWidgets.QVBoxLayout(self)
        lay.setContentsMargins(6, 4, 6, 4)
        lay.setSpacing(4)
        lay.addLayout(form)
        lay.addWidget(self.plots, 1)
        lay.addWidget(self._caption_box)

        self.sigma.valueChanged.connect(self._changed)
        self.bias.valueChanged.connect(self._changed)
        self.activation.currentIndexChanged.connect(self._changed)
        self.truncation.currentIndexChanged.connect(self._changed)
        self.apply_theme(theme)

    # ------------------------------------------------------------------ public
    def configure(self, kind: str, T: int, *, sigma: float, forget_bias: float | None, activation: str | None,
                  truncation: int | None, weight_name: str = "W_hh") -> None:
        """Set the controls to the trained values of a model of ``kind`` with T timesteps."""
        self.kind, self.T = kind, int(T)
        self._trained = {"sigma": float(sigma), "forget_bias": forget_bias, "activation": activation,
                         "truncation": truncation}
        self._quiet = True
        try:
            # a slider a few times the trained size (capped: weights on their way to blowing up
            # can be huge; the trained value then sits at the end and counts as unchanged)
            top = min(max(SIGMA_MAX, 2 * sigma), SIGMA_CAP) if math.isfinite(sigma) else SIGMA_CAP
            self.sigma.setRange(0, int(math.ceil(top / SIGMA_STEP)))
            self.sigma_label.setText(f"σ_max({weight_name})")
            self.truncation.clear()
            self.truncation.addItem("full BPTT", None)
            for k in range(1, self.T):
                self.truncation.addItem(f"k = {k}", k)
            lstm, rnn = kind == "lstm", kind == "rnn"
            for w in self.rows["bias"]:
                w.setVisible(lstm)
            for w in self.rows["activation"]:
                w.setVisible(rnn)
            self._show_trained()
        finally:
            self._quiet = False

    def settings(self) -> WhatIfSettings:
        """The settings the controls describe (None for a control at its trained value)."""
        tr = self._trained
        sigma = self.sigma.value() * SIGMA_STEP
        sigma_changed = abs(sigma - self._trained_notch() * SIGMA_STEP) > 1e-12
        bias = self.bias.value() * BIAS_STEP if self.kind == "lstm" else None
        bias_changed = bias is not None and tr["forget_bias"] is not None and self.bias.value() != self._bias_notch()
        act = self.activation.currentData() if self.kind == "rnn" else None
        k = self.truncation.currentData()
        k_now = tr["truncation"] if tr["truncation"] is None or tr["truncation"] < self.T else None
        return WhatIfSettings(sigma=sigma if sigma_changed else None,
                              forget_bias=bias if bias_changed else None,
                              activation=act if act is not None and act != tr["activation"] else None,
                              truncation=k if k != k_now else "trained")

    def nudge(self, notches: int) -> None:
        """Move the sigma_max slider by ``notches`` (the [ and ] keys)."""
        self.sigma.setValue(self.sigma.value() + int(notches))

    def reset(self) -> None:
        """All controls back to the trained values (emits ``settings_changed`` once)."""
        self._quiet = True
        try:
            self._show_trained()
        finally:
            self._quiet = False
        self.settings_changed.emit(TRAINED)

    def show_frame(self, f: WhatIfFrame) -> None:
        self.frame = f
        th = self.theme
        pos = lambda y: np.where(np.asarray(y) > 0, y, np.nan)  # noqa: E731 - log axes
        self.decay_trained.setData(f.k, pos(f.decay_trained), connect="finite")
        self.decay_now.setData(f.k, pos(f.decay), connect="finite")
        if f.bound is not None:
            self.bound.setData(f.k, pos(f.bound), connect="finite")
        else:
            self.bound.setData([], [])
        t = np.arange(len(f.deltas), dtype=float)
        self.delta_trained.setData(t, pos(f.deltas_trained), connect="finite")
        self.delta_now.setData(t, pos(f.deltas), connect="finite")
        for plot, arrays in ((self.decay_plot, (f.decay_trained, f.decay)),
                             (self.delta_plot, (f.deltas_trained, f.deltas))):
            vals = np.concatenate([pos(a) for a in arrays])
            vals = vals[np.isfinite(vals)]
            if vals.size:
                fit_range(plot, "y", vals, log=True, pad=0.1)
                set_ticks(plot.getAxis("left"), decade_ticks(vals))
            x1 = max(1.0, len(f.k) - 1.0)
            if self._x_ends.get(id(plot)) != x1:  # (a new range repaints the axis)
                self._x_ends[id(plot)] = x1
                plot.setXRange(0, x1, padding=0.02)
        # the legend names the lines only (the controls above and the caption give the values):
        # a legend that changed with every notch, or as a what-if starts, would lay its plot out
        # again (with no change, the what-if line is the trained one)
        entries = [("trained", th.muted, "line"), ("what-if", th.backward, "line")]
        if f.bound is not None:
            entries.append(("bound", th.foreground, "dash"))
        style_plot(self.decay_plot, th, title=legend_html(entries, th, "decay ‖∂L_T−1/∂h_T−1−k‖"))
        style_plot(self.delta_plot, th, title=legend_html(entries[:2], th, "deltas ‖∂L/∂h_t‖"))
        self.set_caption(f.caption)
        self._show_values()

    def set_caption(self, text: str) -> None:
        """The caption under the plots (also a message when there is nothing to show)."""
        if text != self.caption.text():
            self.caption.setText(text)
            self._caption_box.fit(steady=True)

    def apply_theme(self, theme: Theme) -> None:
        self.theme = theme
        self.plots.setBackground(theme.background)
        for p in (self.decay_plot, self.delta_plot):
            style_plot(p, theme)
        set_axis_label(self.decay_plot, "bottom", "k steps back", theme)
        set_axis_label(self.delta_plot, "bottom", "timestep t", theme)
        for p in (self.decay_plot, self.delta_plot):
            fix_axis_width(p, theme)  # (new decades lay nothing out again)
        self.decay_trained.setPen(theme.pen(theme.muted, 2.0))
        self.delta_trained.setPen(theme.pen(theme.muted, 2.0))
        self.decay_now.setPen(theme.pen(theme.backward, 2.6))
        self.delta_now.setPen(theme.pen(theme.backward, 2.6))
        self.bound.setPen(theme.pen(theme.foreground, 1.5, style=QtCore.Qt.PenStyle.DashLine))
        f = theme.font(0.95)
        for w in (self.sigma_label, self.bias_label, self.activation_label, self.truncation_label, self.sigma_value,
                  self.bias_value, self.activation, self.truncation, self.back):
            w.setFont(f)
        self.caption.setFont(theme.font(0.9))
        self._caption_box.fit()  # (a new font: the exact height)
        if self.frame is not None:
            self.show_frame(self.frame)

    # ------------------------------------------------------------------ internals
    def _trained_notch(self) -> int:
        sigma = self._trained["sigma"]
        top = self.sigma.maximum()
        return top if not math.isfinite(sigma) else int(min(round(sigma / SIGMA_STEP), top))

    def _bias_notch(self) -> int:
        b = self._trained["forget_bias"] or 0.0
        b = b if math.isfinite(b) else 0.0
        return int(min(max(round(b / BIAS_STEP), self.bias.minimum()), self.bias.maximum()))

    def _show_trained(self) -> None:
        """Controls at the trained values (signals are quiet while ``_quiet``)."""
        tr = self._trained
        self.sigma.setValue(self._trained_notch())
        self.bias.setValue(self._bias_notch())
        if tr["activation"] is not None:
            self.activation.setCurrentIndex(max(0, self.activation.findData(tr["activation"])))
        k = tr["truncation"] if tr["truncation"] is None or tr["truncation"] < self.T else None
        self.truncation.setCurrentIndex(max(0, self.truncation.findData(k)))
        self._show_values()

    def _show_values(self) -> None:
        s = self.settings()
        sig = s.sigma if s.sigma is not None else self._trained["sigma"]
        # (fixed at the widest text so far: a new value lays nothing out again)
        self.sigma_value.setText(f"{sig:.2f}" + ("" if s.sigma is not None else " (trained)"))
        fit_fixed(self.sigma_value)
        if self.kind == "lstm":
            b = s.forget_bias if s.forget_bias is not None else self._trained["forget_bias"] or 0.0
            self.bias_value.setText(f"{b:+.2f}" + ("" if s.forget_bias is not None else " (trained mean)"))
            self.bias_value.setToolTip(self.bias_value.text())
            fit_fixed(self.bias_value)

    def _changed(self, *_args) -> None:
        if self._quiet:
            return
        self._show_values()
        self.settings_changed.emit(self.settings())
