"""The gradient-check view: what the gradient doctor (``engine.gradients.doctor.check``) found, drawn.

- a bar per parameter of its relative error (log scale) against the tolerance line, green when
  it passes, red when it fails, grey when it could not be compared;
- a heatmap per matrix of ``analytic - numerical`` (symmetric levels, a colour bar; entries that
  were not checked are blank);
- the first bad sequence length ("correct for T=1, wrong from T=2"), the hints, the problems and
  notes, and a table with the worst entry of every parameter.

The view only draws a ``engine.gradients.doctor.Report`` it is given (``show_report``), a one-line reason a
check could not run (``show_problem``) or that one is running (``show_busy``); who runs the check
(the app's model or a learner's file) is the caller's business.
"""

from __future__ import annotations

import html
import math

import numpy as np
import pyqtgraph as pg
from PySide6 import QtCore, QtGui, QtWidgets

from bpttviz.presenters.lab_terms import Report
from bpttviz.views.heatmap import Heatmap
from bpttviz.views.theme import (
    GREEN,
    VERMILLION,
    Theme,
    decade_ticks,
    set_axis_label,
    set_ticks,
    style_plot,
    symmetric_level,
)

#: relative errors are drawn from this floor up (an exact match is 0: no bar below this)
ERROR_FLOOR = 1e-16
#: heatmaps per row
HEATMAP_COLUMNS = 3
GREY = "#9A9A9A"


def as_matrix(a: np.ndarray) -> np.ndarray:
    """A 2-D view for a heatmap: scalars ``(1, 1)``, vectors ``(1, n)``, higher ranks ``(d0, rest)``."""
    a = np.asarray(a, dtype=np.float64)
    if a.ndim == 0:
        return a.reshape(1, 1)
    if a.ndim == 1:
        return a.reshape(1, -1)
    return a.reshape(a.shape[0], -1)


class GradCheckView(QtWidgets.QWidget):
    """``set_actions(*actions)``, ``show_report(report, source)``, ``show_problem(text, source)``,
    ``show_busy(text)``. ``report`` and ``source`` hold what is on screen."""

    def __init__(self, theme: Theme, parent: QtWidgets.QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("gradcheck_view")
        self.theme = theme
        self.report: Report | None = None
        self.source = ""
        self.problem: str | None = None

        self.buttons = QtWidgets.QHBoxLayout()
        self.buttons.setContentsMargins(0, 0, 0, 0)
        self.source_label = QtWidgets.QLabel("No check yet: press “Check gradients” (G), or open your own code.")
        self.source_label.setObjectName("gradcheck_source")
        self.source_label.setWordWrap(True)
        self.verdict = QtWidgets.QLabel("")
        self.verdict.setObjectName("gradcheck_verdict")
        self.verdict.setWordWrap(True)
        self.verdict.setTextInteractionFlags(QtCore.Qt.TextInteractionFlag.TextSelectableByMouse)
        self.length = QtWidgets.QLabel("")
        self.length.setObjectName("gradcheck_length")
        self.length.setWordWrap(True)

        self.glw = pg.GraphicsLayoutWidget()
        self.glw.setFocusPolicy(QtCore.Qt.FocusPolicy.NoFocus)
        self.bars_plot: pg.PlotItem = self.glw.addPlot(row=0, col=0, enableMenu=False)
        self.bars_plot.hideButtons()
        self.bars_plot.setMenuEnabled(False)
        self.bars_plot.setMouseEnabled(x=False, y=False)
        self.bars_plot.disableAutoRange()
        self.bars = pg.BarGraphItem(x=[], height=[], width=0.6)
        self.bars_plot.addItem(self.bars)
        self.tol_line = pg.InfiniteLine(angle=0, movable=False)
        self.bars_plot.addItem(self.tol_line)
        self.tol_text = pg.TextItem(anchor=(1, 1))
        self.bars_plot.addItem(self.tol_text, ignoreBounds=True)
        self.maps_layout: pg.GraphicsLayout = self.glw.addLayout(row=1, col=0)
        self.glw.ci.layout.setRowStretchFactor(0, 1)
        self.glw.ci.layout.setRowStretchFactor(1, 1)
        self.heatmaps: dict[str, Heatmap] = {}
        self._maps_key: tuple | None = None

        self.table = QtWidgets.QTableWidget(0, 5)
        self.table.setObjectName("gradcheck_table")
        self.table.setHorizontalHeaderLabels(["parameter", "rel. error", "result", "checked", "worst entry"])
        self.table.verticalHeader().hide()
        self.table.setEditTriggers(QtWidgets.QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setFocusPolicy(QtCore.Qt.FocusPolicy.NoFocus)
        self.table.horizontalHeader().setStretchLastSection(True)
        self.text = QtWidgets.QTextBrowser()
        self.text.setObjectName("gradcheck_text")
        self.text.setOpenLinks(False)
        self.text.setFocusPolicy(QtCore.Qt.FocusPolicy.NoFocus)

        self.tabs = QtWidgets.QTabWidget()
        self.tabs.setObjectName("gradcheck_tabs")
        self.tabs.setFocusPolicy(QtCore.Qt.FocusPolicy.NoFocus)
        self.tabs.addTab(self.text, "Hints")
        self.tabs.addTab(self.table, "Table")
        split = QtWidgets.QSplitter(QtCore.Qt.Orientation.Vertical)
        split.addWidget(self.glw)
        split.addWidget(self.tabs)
        split.setStretchFactor(0, 3)
        split.setStretchFactor(1, 2)
        split.setChildrenCollapsible(False)
        lay = QtWidgets.QVBoxLayout(self)
        lay.setContentsMargins(4, 2, 4, 2)
        lay.setSpacing(2)
        lay.addLayout(self.buttons)
        lay.addWidget(self.verdict)
        lay.addWidget(self.length)
        lay.addWidget(self.source_label)
        lay.addWidget(split, 1)
        self.apply_theme(theme)
        self._clear_plots()

    # ------------------------------------------------------------------ set-up
    def set_actions(self, *actions: QtGui.QAction) -> None:
        """A button per action (e.g. "Check gradients", "Open my code…") above the plots."""
        for a in actions:
            b = QtWidgets.QToolButton()
            b.setDefaultAction(a)
            b.setToolButtonStyle(QtCore.Qt.ToolButtonStyle.ToolButtonTextOnly)
            b.setFocusPolicy(QtCore.Qt.FocusPolicy.NoFocus)
            self.buttons.addWidget(b)
        self.buttons.addStretch(1)

    def apply_theme(self, theme: Theme) -> None:
        self.theme = theme
        self.glw.setBackground(theme.background)
        self.bars_plot.showGrid(x=False, y=True, alpha=theme.grid_alpha)
        style_plot(self.bars_plot, theme, title="relative error per parameter")
        set_axis_label(self.bars_plot, "left", "relative error", theme)
        set_axis_label(self.bars_plot, "bottom", "parameter", theme)
        self.tol_line.setPen(theme.pen(theme.foreground, 1.5, style=QtCore.Qt.PenStyle.DashLine))
        self.tol_text.setColor(theme.foreground)
        self.tol_text.setFont(theme.font(0.8))
        self.verdict.setFont(theme.font(1.05, bold=True))
        self.source_label.setFont(theme.font(0.85))
        self.source_label.setStyleSheet(f"color: {theme.muted};")
        for hm in self.heatmaps.values():
            hm.apply_theme(theme)
        self._redraw()

    def _redraw(self) -> None:
        if self.report is not None:
            self.show_report(self.report, self.source)
        elif self.problem is not None:
            self.show_problem(self.problem, self.source)

    # ------------------------------------------------------------------ showing
    def show_busy(self, text: str) -> None:
        """Say that a check is running (the previous result stays below until it is replaced)."""
        self.verdict.setStyleSheet(f"color: {self.theme.muted};")
        self.verdict.setText(text)

    def show_problem(self, text: str, source: str = "") -> None:
        """A check that could not run: the reason, in red; the plots are cleared."""
        self.report, self.problem, self.source = None, text, source
        self.source_label.setText(source)
        self.verdict.setStyleSheet(f"color: {VERMILLION};")
        self.verdict.setText("Could not check: " + text)
        self.length.setText("")
        self.table.setRowCount(0)
        self.text.setHtml("")
        self._clear_plots()

    def clear(self, note: str) -> None:
        """No result: verdict, table, text and plots emptied, ``note`` where the source was."""
        self.report, self.problem, self.source = None, None, ""
        self.verdict.setText("")
        self.length.setText("")
        self.table.setRowCount(0)
        self.text.setHtml("")
        self._clear_plots()
        self.source_label.setText(note)

    def show_report(self, report: Report, source: str = "") -> None:
        """Draw a whole report: bars, heatmaps, first bad length, table, hints."""
        self.report, self.problem, self.source = report, None, source
        self.source_label.setText(source)
        self.verdict.setStyleSheet(f"color: {GREEN if report.ok else VERMILLION};")
        self.verdict.setText(("✓ " if report.ok else "✗ ") + report.verdict().removeprefix("Result: "))
        self.length.setText(self.length_text(report))
        self._show_bars(report)
        self._show_maps(report)
        self._show_table(report)
        self.text.setHtml(self.details_html(report))

    @staticmethod
    def length_text(report: Report) -> str:
        """"First bad length: T=2 (correct for T=1, wrong from T=2)" or what is known instead."""
        if report.first_bad_length is not None:
            return f"First bad length: T={report.first_bad_length} — {report.length_sentence()}"
        if report.seq_len is not None and report.ok:
            return f"First bad length: none — all {report.seq_len} timesteps checked, correct."
        if report.seq_len is None:
            return "First bad length: — (no sequence axis: not a recurrent check)"
        return "First bad length: not determined (see the notes)."

    def details_html(self, report: Report) -> str:
        """Hints, problems and notes as rich text."""
        th = self.theme
        parts = []
        if report.errors:
            parts.append(f"<p><b style='color:{VERMILLION}'>Problems</b></p><ul>"
                         + "".join(f"<li>{html.escape(e)}</li>" for e in report.errors) + "</ul>")
        if report.hints:
            parts.append("<p><b>Hints</b></p><ul>" + "".join(f"<li>{html.escape(h)}</li>" for h in report.hints)
                         + "</ul>")
        elif report.ok:
            parts.append("<p>Every gradient agrees with central differences: nothing to hint at.</p>")
        if report.notes:
            parts.append(f"<p style='color:{th.muted}'><b>Notes</b></p><ul style='color:{th.muted}'>"
                         + "".join(f"<li>{html.escape(n)}</li>" for n in report.notes) + "</ul>")
        return "".join(parts)

    # ------------------------------------------------------------------ pieces
    def _clear_plots(self) -> None:
        self.bars.setOpts(x=[], height=[], y0=0, brushes=[])
        set_ticks(self.bars_plot.getAxis("bottom"), [])
        self.tol_line.hide()
        self.tol_text.setText("")
        self._set_maps([])

    def _show_bars(self, report: Report) -> None:
        names = list(report.params)
        errs = np.array([report.params[n].error for n in names], dtype=float)
        finite = np.isfinite(errs)
        logs = np.log10(np.maximum(np.where(finite, errs, 1.0), ERROR_FLOOR))
        tol_log = math.log10(max(report.tol, ERROR_FLOOR))
        lo = min(tol_log - 4.0, float(logs.min()) - 0.5 if logs.size else tol_log - 4.0)
        hi = max(0.5, float(logs.max()) + 0.3 if logs.size else 0.5)
        heights = np.where(finite, logs - lo, hi - lo)  # a NaN error: a full grey bar
        brushes = []
        for name, ok in zip(names, finite):
            pc = report.params[name]
            colour = GREY if not ok or pc.problem is not None else (GREEN if pc.ok else VERMILLION)
            brushes.append(pg.mkBrush(colour))
        self.bars.setOpts(x=np.arange(len(names)), height=heights, y0=lo, width=0.6, brushes=brushes,
                          pens=[pg.mkPen(None)] * len(names))
        self.bars_plot.setXRange(-0.6, max(len(names), 1) - 0.4, padding=0)
        self.bars_plot.setYRange(lo, hi, padding=0)
        set_ticks(self.bars_plot.getAxis("bottom"), [(float(i), str(n)) for i, n in enumerate(names)])
        set_ticks(self.bars_plot.getAxis("left"), decade_ticks(np.array([10.0**lo, 10.0**hi, report.tol]), 5))
        self.tol_line.setValue(tol_log)
        self.tol_line.show()
        self.tol_text.setText(f"tolerance {report.tol:g}")
        self.tol_text.setPos(max(len(names), 1) - 0.45, tol_log)

    def _set_maps(self, items: list[tuple[str, tuple[int, int]]]) -> None:
        """Make one heatmap per (name, shape) under a caption; rebuilt only when the set changes."""
        key = tuple(items)
        if key == self._maps_key:
            return
        self._maps_key = key
        self.maps_layout.clear()
        self.heatmaps = {}
        if not items:
            return
        self.maps_caption = self.maps_layout.addLabel(
            "analytic − numerical: one colour scale for all, blank = entry not checked", row=0, col=0,
            colspan=min(len(items), HEATMAP_COLUMNS), color=self.theme.foreground,
            size=f"{self.theme.points(0.9):.1f}pt")
        for i, (name, _shape) in enumerate(items):
            hm = Heatmap(self.maps_layout, self.theme, row=1 + i // HEATMAP_COLUMNS, col=i % HEATMAP_COLUMNS,
                         title=name)
            hm.plot.getAxis("left").setWidth(int(26 * self.theme.scale))
            self.heatmaps[name] = hm

    def _show_maps(self, report: Report) -> None:
        diffs = {n: d for n, d in report.diff.items() if np.ndim(d) >= 2}
        if not diffs:  # no matrix (an MLP bias-only check, or a user's scalars): every array then
            diffs = dict(report.diff)
        mats = {n: as_matrix(d) for n, d in diffs.items()}
        self._set_maps([(n, m.shape) for n, m in mats.items()])
        level = symmetric_level(*mats.values())  # shared: a right matrix looks blank next to a wrong one
        for name, m in mats.items():
            pc = report.params[name]
            hm = self.heatmaps[name]
            checked = f" · {pc.checked}/{pc.size}" if pc.checked < pc.size else ""
            hm.set_labels(f"{'✓' if pc.ok else '✗'} {name}{checked}", "", "")
            hm.set_image(m, level)

    def _show_table(self, report: Report) -> None:
        names = list(report.params)
        self.table.setRowCount(len(names))
        for row, name in enumerate(names):
            pc = report.params[name]
            if pc.problem is not None:
                result = "not checked"
            else:
                result = "ok" if pc.ok else ("not verified" if pc.unverified else "WRONG")
            worst = ""
            if pc.worst:
                e = pc.worst[0]
                idx = ",".join(str(i) for i in e.index)
                worst = f"[{idx}]  analytic {e.analytic:.6g}  numerical {e.numerical:.6g}"
            elif pc.problem:
                worst = pc.problem
            cells = [f"{name} {tuple(pc.shape)}", "—" if not np.isfinite(pc.error) else f"{pc.error:.2e}", result,
                     f"{pc.checked} of {pc.size}", worst]
            for col, text in enumerate(cells):
                item = QtWidgets.QTableWidgetItem(text)
                if col == 2:
                    item.setForeground(QtGui.QColor(GREEN if pc.ok else (GREY if pc.problem else VERMILLION)))
                self.table.setItem(row, col, item)
        self.table.resizeColumnsToContents()
