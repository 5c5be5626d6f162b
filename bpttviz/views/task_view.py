"""The task view: what the model does with its task. Generated text for language models, the
decision boundary for the 2-D MLP tasks, predicted vs true values for sequence tasks, and
predicted labels for the digits. Takes the dict of ``Task.view()`` (plus the sample history)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pyqtgraph as pg
from PySide6 import QtCore, QtGui, QtWidgets

from bpttviz.views.theme import BLUE, GREEN, ORANGE, PURPLE, SKY, VERMILLION, YELLOW, Theme, set_axis_label, style_plot

CLASS_COLOURS = [BLUE, ORANGE, GREEN, VERMILLION, PURPLE, SKY, YELLOW, "#999999", "#444444", "#A6761D"]


def _plot_widget() -> tuple[pg.PlotWidget, pg.PlotItem]:
    w = pg.PlotWidget(enableMenu=False)
    w.setFocusPolicy(QtCore.Qt.FocusPolicy.NoFocus)
    p = w.getPlotItem()
    p.hideButtons()
    p.setMenuEnabled(False)
    p.setMouseEnabled(x=False, y=False)
    return w, p


class TaskView(QtWidgets.QStackedWidget):
    """``show_view(view_dict, samples=[(iteration, text)], title=...)``."""

    def __init__(self, theme: Theme, parent: QtWidgets.QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("task_view")
        self.theme = theme
        self.kind = "none"
        # text
        self.text = QtWidgets.QPlainTextEdit()
        self.text.setReadOnly(True)
        self.text.setFocusPolicy(QtCore.Qt.FocusPolicy.NoFocus)
        self.text.setLineWrapMode(QtWidgets.QPlainTextEdit.LineWrapMode.WidgetWidth)
        # boundary
        self.bw, self.bp = _plot_widget()
        self.boundary = pg.ImageItem(axisOrder="row-major")
        self.bp.addItem(self.boundary)
        self.points = pg.ScatterPlotItem(size=6)
        self.bp.addItem(self.points)
        self.bp.setAspectLocked(True)
        # series (sine) and sequences (adding, copy, parity)
        self.sw, self.sp = _plot_widget()
        self.legend = self.sp.addLegend(offset=(-6, 4))
        self.s_input = self.sp.plot([], [])
        self.s_target = self.sp.plot([], [])
        self.s_pred = self.sp.plot([], [])
        self.s_marks = pg.ScatterPlotItem(size=12, symbol="t1")
        self.sp.addItem(self.s_marks)
        self._legend_key: tuple = ()
        self.seq_text = QtWidgets.QLabel()
        self.seq_text.setWordWrap(True)
        seq_page = QtWidgets.QWidget()
        sl = QtWidgets.QVBoxLayout(seq_page)
        sl.setContentsMargins(0, 0, 0, 0)
        sl.addWidget(self.sw, 1)
        sl.addWidget(self.seq_text)
        # digits
        self.dw = pg.GraphicsLayoutWidget()
        self.dw.setFocusPolicy(QtCore.Qt.FocusPolicy.NoFocus)
        self.digit_items: list[tuple[pg.ViewBox, pg.ImageItem, pg.LabelItem]] = []
        for i in range(16):
            r, c = divmod(i, 4)
            lab = self.dw.addLabel("", row=2 * r, col=c)
            vb = self.dw.addViewBox(row=2 * r + 1, col=c, lockAspect=True, invertY=True, enableMouse=False,
                                          enableMenu=False)
            img = pg.ImageItem(axisOrder="row-major")
            vb.addItem(img)
            self.digit_items.append((vb, img, lab))
        # nothing
        self.none = QtWidgets.QLabel("")
        self.none.setAlignment(QtCore.Qt.AlignmentFlag.AlignCenter)
        self.pages = {"text": self.text, "boundary": self.bw, "series": seq_page, "sequence": seq_page,
                      "digits": self.dw, "none": self.none}
        for w in (self.text, self.bw, seq_page, self.dw, self.none):
            self.addWidget(w)
        self.setCurrentWidget(self.none)
        self.apply_theme(theme)

    def apply_theme(self, theme: Theme) -> None:
        self.theme = theme
        self.text.setFont(theme.font(1.05, mono=True))
        self.text.setStyleSheet(f"background: {theme.background}; color: {theme.foreground};")
        for w in (self.bw, self.sw):
            w.setBackground(theme.background)
        self.dw.setBackground(theme.background)
        style_plot(self.bp, theme)
        style_plot(self.sp, theme)
        self.s_input.setPen(theme.pen(theme.muted, 1.2))
        self.s_target.setPen(theme.pen(theme.foreground, 2.0))
        self.s_pred.setPen(theme.pen(theme.backward, 2.2))
        self.seq_text.setFont(theme.font(1.0))
        self.none.setFont(theme.font(1.0))

    def show_view(self, view: dict[str, Any], samples: list[tuple[int, str]] | None = None,
                  title: str = "") -> None:
        kind = view.get("kind", "none")
        self.kind = kind
        self.setCurrentWidget(self.pages.get(kind, self.none))
        getattr(self, f"_show_{kind}", self._show_none)(view, samples or [], title)

    # ------------------------------------------------------------------ pages
    def _show_none(self, view, samples, title) -> None:
        self.none.setText(title or "")

    def _show_text(self, view, samples, title) -> None:
        parts = [f"── sampled now ──\n{view.get('sample', '').strip()}"]
        for it, s in reversed(samples[-6:]):
            parts.append(f"── iteration {it} ──\n{s.strip()}")
        text = f"{title}\n\n" + "\n\n".join(parts) if title else "\n\n".join(parts)
        if text != self.text.toPlainText():
            self.text.setPlainText(text)

    def _show_boundary(self, view, samples, title) -> None:
        xx, yy, probs = view["xx"], view["yy"], np.asarray(view["probs"])
        K = probs.shape[-1]
        cols = np.array([QtGui.QColor(CLASS_COLOURS[k % len(CLASS_COLOURS)]).getRgb()[:3] for k in range(K)],
                        dtype=float)
        rgb = probs @ cols  # blend the class colours by probability
        conf = probs.max(-1, keepdims=True)
        light = 255 - (255 - rgb) * (0.25 + 0.55 * (conf - 1 / K) / (1 - 1 / K))  # pale where unsure
        img = np.clip(light, 0, 255).astype(np.ubyte)
        self.boundary.setImage(img, levels=(0, 255), autoLevels=False)
        x0, x1, y0, y1 = float(xx.min()), float(xx.max()), float(yy.min()), float(yy.max())
        self.boundary.setRect(QtCore.QRectF(x0, y0, x1 - x0, y1 - y0))
        X, y = np.asarray(view["X"]), np.asarray(view["y"])
        brushes = [pg.mkBrush(CLASS_COLOURS[int(k) % len(CLASS_COLOURS)]) for k in y]
        self.points.setData(X[:, 0], X[:, 1], brush=brushes, pen=pg.mkPen(self.theme.foreground, width=1))
        set_axis_label(self.bp, "bottom", "x₁", self.theme)
        set_axis_label(self.bp, "left", "x₂", self.theme)
        style_plot(self.bp, self.theme, title=title or "decision boundary (colour: predicted class)")

    def _sync_legend(self) -> None:
        """Legend entries for what is drawn, and only that."""
        entries = [(item, name) for item, name in ((self.s_input, "input"), (self.s_marks, "marked values"),
                                                    (self.s_target, "target"), (self.s_pred, "prediction"))
                   if (item.getData()[0] is not None and len(item.getData()[0]))]
        key = tuple(name for _i, name in entries)
        if key == self._legend_key:
            return
        self._legend_key = key
        self.legend.clear()
        for item, name in entries:
            self.legend.addItem(item, name)
        self.legend.setLabelTextSize(f"{self.theme.points(1.0):.1f}pt")
        for _sample, label in self.legend.items:
            label.setText(label.text, color=self.theme.foreground, size=f"{self.theme.points(1.0):.1f}pt")

    def _show_series(self, view, samples, title) -> None:
        self.s_marks.setData([], [])
        t = np.arange(len(view["target"]), dtype=float)
        self.s_input.setData(t, view["input"], stepMode=None)
        self.s_target.setData(t, view["target"])
        self.s_pred.setData(t, view["prediction"])
        set_axis_label(self.sp, "bottom", "timestep t", self.theme)
        set_axis_label(self.sp, "left", "value", self.theme)
        self._sync_legend()
        style_plot(self.sp, self.theme, title=title or "prediction vs target (validation sequence 1)")
        err = np.asarray(view["prediction"]) - np.asarray(view["target"])
        self.seq_text.setText(f"RMS error {np.sqrt(np.mean(err ** 2)):.4f}")

    def _show_sequence(self, view, samples, title) -> None:
        x = np.asarray(view["inputs"], dtype=float)
        tg = np.asarray(view["targets"])
        out = np.asarray(view["outputs"], dtype=float)
        t = np.arange(x.shape[0], dtype=float)
        x0 = x[:, 0] if x.ndim > 1 else x
        if x0.size and np.all(x0 == np.round(x0)):  # bits or symbol ids: levels held for a step, not a zig-zag
            self.s_input.setData(np.append(t - 0.5, t[-1] + 0.5), x0, stepMode="center")
        else:
            self.s_input.setData(t, x0, stepMode=None)
        if x.ndim > 1 and x.shape[1] == 2 and set(np.unique(x[:, 1])) <= {0.0, 1.0}:  # adding: marked values
            m = x[:, 1] > 0
            self.s_marks.setData(t[m], x[m, 0], brush=pg.mkBrush(self.theme.backward), pen=None)
        else:
            self.s_marks.setData([], [])
        if out.ndim == 1 and tg.ndim <= 1 and np.issubdtype(tg.dtype, np.floating):  # adding: one number
            self.s_target.setData([], [])
            self.s_pred.setData([], [])
            txt = (f"sum of the two marked values: target {float(np.ravel(tg)[0]):.3f}, "
                   f"prediction {float(out[0]):.3f}")
        elif out.ndim == 1:  # many-to-one classification (parity): class scores
            self.s_target.setData([], [])
            self.s_pred.setData([], [])
            pred = int(np.argmax(out))
            txt = f"target class {int(np.ravel(tg)[0])}   predicted {pred}"
        else:  # many-to-many classification (copy): predicted class per step
            pred = np.argmax(out, -1).astype(float)
            self.s_target.setData(t, np.asarray(tg, dtype=float).reshape(len(t), -1)[:, 0])
            self.s_pred.setData(t, pred)
            txt = f"correct steps: {int(np.sum(pred == np.ravel(tg)[: len(pred)]))} / {len(pred)}"
        set_axis_label(self.sp, "bottom", "timestep t", self.theme)
        set_axis_label(self.sp, "left", "input / class", self.theme)
        style_plot(self.sp, self.theme, title=title or "validation sequence 1")
        self._sync_legend()
        self.seq_text.setText(txt)

    def _show_digits(self, view, samples, title) -> None:
        imgs = np.asarray(view["images"], dtype=np.float32)
        labels, pred = np.asarray(view["labels"]), np.asarray(view["predicted"])
        for i, (_vb, img, lab) in enumerate(self.digit_items):
            if i >= len(imgs):
                img.clear()
                lab.setText("")
                continue
            img.setImage(imgs[i], levels=(float(imgs.min()), float(imgs.max())), autoLevels=False)
            ok = labels[i] == pred[i]
            colour = self.theme.forward if ok else self.theme.backward
            lab.setText(f"{pred[i]}" + ("" if ok else f" (is {labels[i]})"), color=colour,
                        size=f"{self.theme.points(0.9):.0f}pt")
