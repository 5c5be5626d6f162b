"""What every plot of the app shares beyond the theme: arranging a view's plots in a row or a
column to fit its dock, the value under the pointer (a hover read-out), and the data of a plot
widget as CSV.
"""

from __future__ import annotations

import csv
import io

import numpy as np
import pyqtgraph as pg
from PySide6 import QtCore, QtGui, QtWidgets

from bpttviz.views.theme import Theme

#: the smallest plot area (pixels high) a view arranges itself for
MIN_PLOT = 160


def plot_chrome(theme: Theme) -> int:
    """Pixels a plot needs around its data area: a title line, tick labels and an axis label."""
    return int(3.4 * theme.pixels(1.0) + 24)


def arrange(layout: pg.GraphicsLayout, items: list, horizontal: bool, stretch: list[int] | None = None) -> None:
    """Put ``items`` (plots or sub-layouts of ``layout``) in one row or one column."""
    key = (tuple(id(i) for i in items), horizontal)
    if getattr(layout, "_bpttviz_arranged", None) == key:
        return
    layout._bpttviz_arranged = key
    for it in items:
        layout.removeItem(it)
    gl = layout.layout
    for i in range(4):
        gl.setRowStretchFactor(i, 1 if i == 0 else 0)
        gl.setColumnStretchFactor(i, 1 if i == 0 else 0)
    for i, it in enumerate(items):
        layout.addItem(it, row=0 if horizontal else i, col=i if horizontal else 0)
    for i in range(len(items)):
        f = (stretch or [1] * len(items))[i]
        if horizontal:
            gl.setColumnStretchFactor(i, f)
            gl.setRowStretchFactor(i, 1 if i == 0 else 0)
        else:
            gl.setRowStretchFactor(i, f)
            gl.setColumnStretchFactor(i, 1 if i == 0 else 0)


def wants_row(size: QtCore.QSize, n: int, theme: Theme, min_width: int = 150) -> bool:
    """True when ``n`` plots stacked in ``size`` would be shorter than ``MIN_PLOT`` while side by
    side each still gets ``min_width``."""
    need = n * (MIN_PLOT + plot_chrome(theme))
    return size.height() < need and size.width() >= n * min_width


def _fmt(v: float) -> str:
    if not np.isfinite(v):
        return str(v)
    a = abs(v)
    return f"{v:.4g}" if a == 0 or 1e-3 <= a < 1e5 else f"{v:.3e}"


class Readout(QtCore.QObject):
    """The value under the pointer for every plot of a ``pg.GraphicsView``: the nearest point of
    each curve (x and y), or the cell of a heatmap (row, column, value), as a small label in the
    plot's corner. Log axes are read back as values."""

    def __init__(self, view: pg.GraphicsView, theme: Theme) -> None:
        super().__init__(view)
        self.view = view
        self.theme = theme
        self.text = ""
        self.label = QtWidgets.QLabel(view)
        self.label.setObjectName("plot_readout")
        self.label.setAttribute(QtCore.Qt.WidgetAttribute.WA_TransparentForMouseEvents)
        self.label.hide()
        self.apply_theme(theme)
        view.scene().sigMouseMoved.connect(self._moved)
        view.viewport().installEventFilter(self)

    def apply_theme(self, theme: Theme) -> None:
        self.theme = theme
        self.label.setFont(theme.font(1.0))
        self.label.setStyleSheet(f"QLabel {{ background: {theme.panel}; color: {theme.foreground};"
                                 f" border: 1px solid {theme.muted}; padding: 2px 5px; }}")

    def eventFilter(self, obj, ev) -> bool:
        if ev.type() == QtCore.QEvent.Type.Leave:
            self.label.hide()
        return False

    def _plots(self) -> list[pg.PlotItem]:
        return [it for it in self.view.scene().items() if isinstance(it, pg.PlotItem) and it.isVisible()]

    def read(self, scene_pos: QtCore.QPointF) -> str:
        """The read-out at ``scene_pos`` ("" outside every plot)."""
        for plot in self._plots():
            vb = plot.getViewBox()
            if not vb.sceneBoundingRect().contains(scene_pos):
                continue
            p = vb.mapSceneToView(scene_pos)
            logy = bool(plot.ctrl.logYCheck.isChecked()) if hasattr(plot, "ctrl") else False  # data stay linear
            parts = []
            for item in vb.addedItems:
                if isinstance(item, pg.ImageItem) and item.image is not None and item.isVisible():
                    local = item.mapFromScene(scene_pos)
                    r, c = int(np.floor(local.y())), int(np.floor(local.x()))
                    img = item.image
                    if 0 <= r < img.shape[0] and 0 <= c < img.shape[1] and img.ndim == 2:
                        parts.append(f"row {r}, column {c}: {_fmt(float(img[r, c]))}")
                elif isinstance(item, pg.PlotDataItem) and item.isVisible():
                    x, y = item.getOriginalDataset()
                    if x is None or len(x) == 0:
                        continue
                    x = np.asarray(x, dtype=float)
                    y = np.asarray(y, dtype=float)
                    ok = np.isfinite(x) & np.isfinite(y)
                    if not ok.any():
                        continue
                    i = int(np.argmin(np.where(ok, np.abs(x - p.x()), np.inf)))
                    name = item.name() or ""
                    parts.append(f"{name + ': ' if name else ''}{_fmt(float(y[i]))} at x = {_fmt(float(x[i]))}")
            if not parts:
                yv = 10 ** p.y() if logy else p.y()
                parts.append(f"x = {_fmt(p.x())}, y = {_fmt(yv)}")
            return "\n".join(parts[:6])
        return ""

    def _moved(self, scene_pos) -> None:
        text = self.read(QtCore.QPointF(scene_pos))
        self.text = text
        if not text:
            self.label.hide()
            return
        self.label.setText(text)
        self.label.adjustSize()
        pos = self.view.mapFromScene(QtCore.QPointF(scene_pos))
        x = pos.x() + 14
        if x + self.label.width() > self.view.width():
            x = pos.x() - 14 - self.label.width()
        y = max(0, min(pos.y() + 14, self.view.height() - self.label.height()))
        self.label.move(max(0, x), y)
        self.label.show()
        self.label.raise_()


def plot_rows(view: pg.GraphicsView) -> list[list[str]]:
    """Every curve and heatmap of a plot widget as CSV rows: ``plot, series, x, y`` for curves
    and ``plot, series, row, column, value`` for images (the plot named by its title)."""
    rows: list[list[str]] = [["plot", "series", "x / row", "y / column", "value"]]
    for n, plot in enumerate(it for it in view.scene().items() if isinstance(it, pg.PlotItem)):
        title = QtGui.QTextDocumentFragment.fromHtml(plot.titleLabel.text or "").toPlainText().strip() or f"plot {n}"
        for item in plot.getViewBox().addedItems:
            if isinstance(item, pg.PlotDataItem):
                x, y = item.getOriginalDataset()
                if x is None:
                    continue
                name = item.name() or f"curve {plot.getViewBox().addedItems.index(item)}"
                rows += [[title, name, repr(float(a)), repr(float(b)), ""] for a, b in zip(x, y)]
            elif isinstance(item, pg.ImageItem) and item.image is not None and np.ndim(item.image) == 2:
                img = np.asarray(item.image, dtype=float)
                rows += [[title, "image", str(r), str(c), repr(float(img[r, c]))]
                         for r in range(img.shape[0]) for c in range(img.shape[1])]
    return rows


def plot_csv(widget: QtWidgets.QWidget) -> str:
    """The data of every plot widget inside ``widget`` (see ``plot_rows``) as CSV text."""
    views = [widget] if isinstance(widget, pg.GraphicsView) else []
    views += [v for v in widget.findChildren(pg.GraphicsView)]
    out = io.StringIO()
    w = csv.writer(out, lineterminator="\n")
    header = False
    for v in views:
        rows = plot_rows(v)
        w.writerows(rows if not header else rows[1:])
        header = True
    return out.getvalue()
