"""The main window: the unrolled graph in the centre, the other views in dock widgets around it,
the transport bar, the status bar, the keyboard, zoom and full screen, and the remembered layout.

The window wires views to the controller with ``ViewBinding``s; it never calls the engine to
train or step (that is the controller's job) and views never see the session.
"""

from __future__ import annotations

import dataclasses
import math
import time
from collections.abc import Callable, Sequence
from typing import Any, NamedTuple

import pyqtgraph as pg
from PySide6 import QtCore, QtGui, QtWidgets

from bpttviz.engine.training.presets import list_presets, preset_path
from bpttviz.engine.training.session import model_with
from bpttviz.presenters.decay import DecayPresenter
from bpttviz.presenters.graph_frame import mlp_frame, recurrent_frame
from bpttviz.presenters.panels import (
    available_quantities,
    deltas_frame,
    loss_frame,
    recurrent_matrix_name,
    weights_frame,
)
from bpttviz.presenters.trace_data import MLPTrace, skeleton
from bpttviz.views.config_panel import ConfigPanel
from bpttviz.views.decay_view import DecayView
from bpttviz.views.deltas_view import DeltasView
from bpttviz.views.graph_view import GraphView
from bpttviz.views.heatmap import set_live as heatmap_live
from bpttviz.views.loss_view import LossView
from bpttviz.views.shortcut_overlay import ShortcutOverlay
from bpttviz.views.task_view import TaskView
from bpttviz.views.theme import DIVERGING_NAMES, ElidedLabel, LabelHolder, Theme, default_theme, fit_fixed, tune_view
from bpttviz.views.transport import TransportBar
from bpttviz.views.weights_view import WeightsView
from bpttviz.window.controller import Controller, ViewBinding
from bpttviz.window.feature import Feature, FeatureRegistry, key

SETTINGS_VERSION = 1
ZOOM_STEP = 1.15
ZOOM_LIMITS = (0.6, 3.0)

#: the dock groups of the default layout (docks added later by the gradient lab and the
#: classroom join their group when present)
LEFT_GROUP = ("config", "task", "explain")
RIGHT_GROUP = ("weights", "gradcheck", "buglab", "whatif")
BOTTOM_GROUP = ("deltas", "decay", "loss")
#: docks that always share tabs with a bottom view, never a column of their own (side by side
#: with the three bottom plots they would leave each too narrow to read)
BOTTOM_TABBED = {"attribution": "decay"}
#: the smallest plot area (pixels high) any view gets; below it views share tabs
MIN_PLOT = 160
#: the widths (pixels) below which a bottom view is not readable side by side with the others
BOTTOM_MIN_WIDTHS = {"deltas": 520, "decay": 420, "loss": 660}


def preset_groups() -> dict[str, list[str]]:
    """The shipped presets grouped for the Presets menu: models of language, sequence tasks,
    feed-forward tasks and the lectures (guided scenarios)."""
    groups: dict[str, list[str]] = {"Language models": [], "Sequence tasks": [], "Feed-forward (MLP) tasks": [],
                                    "Lectures (guided scenarios)": []}
    for name in list_presets():
        data = _preset_data(name)
        if name.startswith("lecture") or "scenario" in data:
            groups["Lectures (guided scenarios)"].append(name)
        elif data.get("model") == "mlp":
            groups["Feed-forward (MLP) tasks"].append(name)
        elif data.get("task") in ("chars", "words"):
            groups["Language models"].append(name)
        else:
            groups["Sequence tasks"].append(name)
    return {k: v for k, v in groups.items() if v}


def _preset_data(name: str) -> dict:
    import json

    try:
        data = json.loads(preset_path(name).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


_PRESET_CONFIGS: dict[str, dict] = {}


def matching_preset(cfg) -> str | None:
    """The shipped preset whose configuration ``cfg`` is, if any."""
    from bpttviz.engine.training.presets import load_preset

    want = cfg.to_dict()
    for name in list_presets():
        if name not in _PRESET_CONFIGS:
            try:
                _PRESET_CONFIGS[name] = load_preset(name).to_dict()
            except ValueError:
                _PRESET_CONFIGS[name] = {}
        if _PRESET_CONFIGS[name] == want:
            return name
    return None


def preset_description(name: str) -> str:
    """The preset file's description (or its title when it has none)."""
    data = _preset_data(name)
    return str(data.get("description") or data.get("title") or "")


def preset_line(name: str, limit: int = 70) -> str:
    """One line for the menu: the title, else the description's first sentence, cut at a word."""
    data = _preset_data(name)
    text = str(data.get("title") or data.get("description") or "").split(". ")[0].strip()
    if len(text) > limit:
        text = text[:limit].rsplit(" ", 1)[0] + "…"
    return text


class LayoutPlan(NamedTuple):
    """Dock sizes for a window: left and right column widths, the bottom row's height, and
    whether the bottom views share tabs."""

    left: int
    right: int
    bottom: int
    bottom_tabbed: bool


def layout_plan(width: int, height: int, left_tabs: int = 300) -> LayoutPlan:
    """The layout policy for a ``width`` x ``height`` window (pixels): the left column as wide as
    its tab titles need (at least a fifth of the width), the right one a third (square
    heatmaps need the room), the bottom row 47% of the height -- enough for a plot of
    ``MIN_PLOT`` under its title and above its axis at 720p -- and the bottom views side by
    side only where each keeps ``BOTTOM_MIN_WIDTHS``."""
    width, height = max(width, 800), max(height, 500)
    left = int(min(max(0.2 * width, left_tabs + 12), 0.3 * width))
    right = int(min(max(0.33 * width, 360), 640))
    bottom = int(max(0.47 * height, 340))
    room = width - left - right
    return LayoutPlan(left, right, bottom, room < sum(BOTTOM_MIN_WIDTHS.values()) or bottom < 3 * MIN_PLOT)


GETTING_STARTED = """<h3>What you are looking at</h3>
<p>A network is trained on a task while you watch how backpropagation through time works.</p>
<ul>
<li><b>Unrolled graph</b> (centre): the network copied once per timestep. Node colour is the
activation (press D: the delta's size); during the backward pass edge width is the delta flowing back.</li>
<li><b>Configuration</b> (left): model, task and training settings; the learning rate, clipping and
truncation apply at once, the rest after <i>Apply &amp; reset</i>.</li>
<li><b>Task</b>: what the model does with its task now (text it writes, predictions, decision boundary).</li>
<li><b>Explain</b>: the equation of the current step with the numbers of one unit.</li>
<li><b>Weights</b> (right): a parameter matrix and its gradient, and the recurrent matrix's largest
singular value over training.</li>
<li><b>Deltas</b>, <b>Gradient decay</b>, <b>Loss</b> (bottom tabs): the delta of every timestep,
how fast the gradient shrinks or grows going back in time, and the loss and gradient norm over training.</li>
</ul>
<p><b>First keys:</b> Space plays and pauses training; → steps one record of the forward or backward
pass; Shift+→ one phase; Ctrl+→ one whole iteration; ? lists every key.</p>
<p><b>Room to read:</b> double-click a view's title (or press Ctrl+Shift+F over it) to enlarge it,
again to go back; View ▸ Reset layout puts every view back. Hover a plot to read the value under
the pointer; right-click a plot to save its data as CSV.</p>
<p><b>Presets</b> load ready-made models and tasks; the <i>lecture</i> presets are guided scenarios
(Page Down for the next stop, F5 for lecture mode).</p>"""


def default_settings() -> QtCore.QSettings:
    """The user's settings file (an INI file in the platform's config directory)."""
    return QtCore.QSettings(QtCore.QSettings.Format.IniFormat, QtCore.QSettings.Scope.UserScope,
                            "bpttviz", "bpttviz")


class MainWindow(QtWidgets.QMainWindow):
    """``MainWindow(controller, settings=None, theme=None, features=())``: docks, actions,
    keyboard, status bar; ``features`` are built in order (``feature_type(window)``) and plug in
    through ``bpttviz.window.feature`` (the registry is ``window.features``)."""

    def __init__(self, controller: Controller, settings: QtCore.QSettings | None = None,
                 theme: Theme | None = None, features: Sequence[Callable[[MainWindow], Feature]] = ()) -> None:
        super().__init__()
        self.setObjectName("main_window")
        self.controller = controller
        self.settings = settings if settings is not None else default_settings()
        self.theme = theme or default_theme()
        self.features = FeatureRegistry()
        self.shown_errors: set[str] = set()  # error summaries that have had their dialog
        self.blowup_message: str | None = None  # the status message of the session's blow-up, while it lasts
        self.last_raised_view: str | None = None  # the view a scenario stop (or the user) brought forward last
        self.readouts: list = []  # the plots' pointer read-outs
        self.preset_actions: dict[str, QtGui.QAction] = {}
        self.shown: dict[str, dict] = {}  # per view, the plain values its last push displayed
        self.dialogs: list[QtWidgets.QMessageBox] = []
        self._sized = False
        self._restored = False
        self._laying_out = False
        self._auto_layout = False  # True while the layout is the policy's own (not the user's)
        self._enlarged: tuple | None = None  # (state, dock visibility, name) while a view is enlarged
        self.plan: LayoutPlan | None = None
        self._user_rebuild = False
        self._title_cfg = None  # the configuration the session's title describes
        self._layout_size: QtCore.QSize | None = None  # the size the last policy layout was made for
        self._layout_time = -math.inf
        self._preset_name: str | None = None

        # ---- views
        self.graph = GraphView(self.theme)
        self.graph.setFocusPolicy(QtCore.Qt.FocusPolicy.StrongFocus)
        self.deltas = DeltasView(self.theme)
        self.weights = WeightsView(self.theme)
        self.decay = DecayView(self.theme)
        self.loss = LossView(self.theme)
        self.task = TaskView(self.theme)
        self.config = ConfigPanel(self.theme, list_presets())
        self.setCentralWidget(self.graph)
        self.docks: dict[str, QtWidgets.QDockWidget] = {}
        for name, title, widget in (("config", "Configuration", self.config), ("weights", "Weights", self.weights),
                                    ("task", "Task", self.task), ("deltas", "Deltas", self.deltas),
                                    ("decay", "Gradient decay", self.decay), ("loss", "Loss", self.loss)):
            self.docks[name] = self._new_dock(name, title, widget)
        self.overlay = ShortcutOverlay(self, self.theme)

        # ---- actions, menus, transport, status bar
        self._make_actions()
        self.transport = TransportBar([self.act["play"], None, self.act["back"], self.act["step"],
                                       self.act["phase"], self.act["iteration"], None, self.act["reset"]],
                                      self.theme, self)
        self.transport.speed_changed.connect(self.controller.set_speed)
        self.addToolBar(QtCore.Qt.ToolBarArea.TopToolBarArea, self.transport)
        self._make_menus()
        self._make_status_bar()
        self.default_layout()
        self._default_state = self.saveState(SETTINGS_VERSION)

        # ---- wiring
        c = self.controller
        c.playing_changed.connect(self._playing_changed)
        c.playing_changed.connect(heatmap_live)  # colour bars keep their width while training
        c.session_replaced.connect(self._session_replaced)
        c.error.connect(self.show_error)
        c.blowup.connect(self.show_blowup)
        c.message.connect(lambda m: self.statusBar().showMessage(m, 6000))
        c.state_changed.connect(self._clear_stale_messages)
        c.session_replaced.connect(self._clear_stale_messages)
        self.config.live_changed.connect(self._apply_live)
        self.config.rebuild_requested.connect(self._rebuild)
        self.config.preset_requested.connect(self._load_preset)
        self.graph.mode_changed.connect(lambda _m: self._refresh("graph"))
        self.deltas.quantity_changed.connect(lambda _q: self._refresh("deltas"))
        for view, name in ((self.deltas, "deltas view"), (self.decay, "decay view"), (self.loss, "loss view")):
            view.redraw_failed.connect(lambda e, name=name: self.controller.report(e, f"drawing the {name}"))
        self.weights.parameter_changed.connect(lambda _p: self._refresh("weights"))
        for view in self.findChildren(pg.GraphicsView):
            tune_view(view)
        self._bind_views()
        self._session_replaced()
        self.restore_settings()
        self.apply_theme(self.theme)
        own = list(self.docks.values())
        for make in features:
            self.add_feature(make(self))
        for dock in own:  # the features' docks are watched as they are added
            self.watch_dock(dock)
        self._install_plot_tools()
        self.controller.session_replaced.connect(self._sync_title)
        self.controller.state_changed.connect(self._sync_title)
        self._sync_title()

    # ------------------------------------------------------------------ layout
    def default_layout(self) -> None:
        """The layout policy: configuration, task and explain (tabbed) left, weights, the
        gradient check, the bug lab and the what-if panel (tabbed) right, both the full height; the
        deltas, decay and loss plots along the bottom under the graph -- side by side where each
        still gets a readable plot (``layout_plan``), else sharing tabs -- with the attribution
        view always a tab beside the decay curve. No view is ever squeezed below ``MIN_PLOT``."""
        self._laying_out = True
        try:
            plan = layout_plan(self.width(), self.height(), self._tab_width(LEFT_GROUP))
            L, R, B = (QtCore.Qt.DockWidgetArea.LeftDockWidgetArea, QtCore.Qt.DockWidgetArea.RightDockWidgetArea,
                       QtCore.Qt.DockWidgetArea.BottomDockWidgetArea)
            self.setCorner(QtCore.Qt.Corner.BottomLeftCorner, L)
            self.setCorner(QtCore.Qt.Corner.BottomRightCorner, R)
            size = self.size()
            # the right group first: the bug lab leaves the left one before that one is redone.
            # Docks already where they belong are not re-added: stacked even for a moment, a
            # group's minimum height would make the window grow (and a maximised window then
            # believes it is taller than the screen)
            for area, names in ((R, RIGHT_GROUP), (L, LEFT_GROUP), (B, BOTTOM_GROUP)):
                group = [self.docks[n] for n in names if n in self.docks]
                for d in group:
                    if d.isFloating():
                        d.setFloating(False)
                    d.show()
                first = group[0]
                if self.dockWidgetArea(first) != area:
                    self.addDockWidget(area, first)
                for a, b in zip(group, group[1:]):
                    if area == B and not plan.bottom_tabbed:
                        if b in self.tabifiedDockWidgets(a) or self.dockWidgetArea(b) != area:
                            self.splitDockWidget(a, b, QtCore.Qt.Orientation.Horizontal)
                    elif b not in self.tabifiedDockWidgets(first):
                        self.tabifyDockWidget(first, b)
            for name, beside in BOTTOM_TABBED.items():
                d = self.docks.get(name)
                if d is None:
                    continue
                if d.isFloating():
                    d.setFloating(False)
                d.show()
                if d not in self.tabifiedDockWidgets(self.docks[beside]):
                    self.tabifyDockWidget(self.docks[beside], d)
            if self.size() != size and not (self.isMaximized() or self.isFullScreen()):
                self.resize(size.expandedTo(self.minimumSizeHint()))
            for first in ("config", "weights", "deltas"):
                self.docks[first].raise_()
            for w in self._tab_bars():
                w.setElideMode(QtCore.Qt.TextElideMode.ElideNone)
            self.plan = plan
            self.fit_docks()
            self._layout_size = self.size()
            self._layout_time = time.monotonic()
        finally:
            self._laying_out = False

    def _tab_width(self, names) -> int:
        """Width the tab bar of a dock group needs to show every title whole."""
        fm = QtGui.QFontMetrics(self.font())
        titles = [self.docks[n].windowTitle() for n in names if n in self.docks] or ["Configuration"]
        return sum(fm.horizontalAdvance(t) + 2 * fm.height() + 8 for t in titles)

    def _tab_bars(self) -> list[QtWidgets.QTabBar]:
        return self.findChildren(QtWidgets.QTabBar, options=QtCore.Qt.FindChildOption.FindDirectChildrenOnly)

    def fit_docks(self) -> None:
        """Give the dock groups the layout policy's sizes for the window's size now."""
        plan = layout_plan(self.width(), self.height(), self._tab_width(LEFT_GROUP))
        H, V = QtCore.Qt.Orientation.Horizontal, QtCore.Qt.Orientation.Vertical
        self.resizeDocks([self.docks["config"], self.docks["weights"]], [plan.left, plan.right], H)
        bottom = [self.docks[n] for n in BOTTOM_GROUP if n in self.docks]
        if not plan.bottom_tabbed:
            self.resizeDocks(bottom, [1] * len(bottom), H)
        self.resizeDocks([bottom[0]], [plan.bottom], V)
        for w in self._tab_bars():
            w.setElideMode(QtCore.Qt.TextElideMode.ElideNone)

    def showEvent(self, ev: QtGui.QShowEvent) -> None:
        super().showEvent(ev)
        if not self._sized:  # dock sizes only take once the window has its real size
            self._sized = True
            if not self._restored:
                self._auto_layout = True
                QtCore.QTimer.singleShot(0, self._first_layout)

    def _first_layout(self) -> None:
        """The policy's layout for the size the window was shown at (lecture mode, entered
        before the window was shown, has its own)."""
        if not self.layout_held():
            self.default_layout()

    def resizeEvent(self, ev: QtGui.QResizeEvent) -> None:
        super().resizeEvent(ev)
        if self.overlay.isVisible():
            self.overlay.setGeometry(self.rect())
        # the first window is maximised a moment after it is shown: the policy follows the size
        # until the user arranges the docks themselves
        if self._auto_layout and self._sized and not self._laying_out:
            QtCore.QTimer.singleShot(0, self._relayout_if_auto)

    def _relayout_if_auto(self) -> None:
        last = self._layout_size
        far = last is None or max(abs(self.width() - last.width()), abs(self.height() - last.height())) > 40
        recent = time.monotonic() - self._layout_time < 0.5  # no relayout loops
        if far and recent:  # once the window has settled
            QtCore.QTimer.singleShot(600, self._relayout_if_auto)
            return
        if far and self._auto_layout and not self._enlarged and not self._laying_out and not self.layout_held():
            self.default_layout()

    def _dock_moved(self, *_args) -> None:
        if not self._laying_out and self._sized:
            self._auto_layout = False  # the user's own arrangement: leave it alone

    def reset_layout(self) -> None:
        """View ▸ Reset layout: the toolbars as at start, every view back in its group, the
        policy's sizes (no view collapsed)."""
        if self._enlarged:
            self.toggle_enlarged()
        size = self.size()
        # the start state predates the docks added after it (what-if, attribution, ...): restoring
        # it stacks them for a moment, and their minimum heights would make the window grow
        self.restoreState(self._default_state, SETTINGS_VERSION)
        self.default_layout()
        if self.size() != size and not (self.isMaximized() or self.isFullScreen()):
            self.resize(size.expandedTo(self.minimumSizeHint()))
            self.fit_docks()
        for f in self.features:
            f.layout_reset()
        self._auto_layout = True

    # ------------------------------------------------------------------ plots: read-outs and data
    def _install_plot_tools(self) -> None:
        """Every plot widget of the docks: the value under the pointer, and a right-click menu
        saving the plot's data as CSV."""
        from bpttviz.views.plot_tools import Readout

        self.readouts: list[Readout] = []
        for view in self.findChildren(pg.GraphicsView):
            if view is self.graph.plot:  # the graph's nodes have their own tips
                continue
            self.readouts.append(Readout(view, self.theme))
            vp = view.viewport()
            vp.setContextMenuPolicy(QtCore.Qt.ContextMenuPolicy.CustomContextMenu)
            vp.customContextMenuRequested.connect(lambda pos, v=view: self._plot_menu(v, pos))

    def _plot_menu(self, view: pg.GraphicsView, pos: QtCore.QPoint) -> None:
        menu = QtWidgets.QMenu(self)
        menu.addAction("Save plot data as CSV…", lambda: self.save_plot_csv(view))
        if view is self.loss.glw:
            menu.addAction(self.loss.log)
        menu.popup(view.viewport().mapToGlobal(pos))

    def save_plot_csv(self, view: QtWidgets.QWidget, path: str | None = None) -> str | None:
        """Ask for a file (unless ``path``) and write the data of ``view``'s plots there."""
        from bpttviz.features.export import export_csv

        if path is None:
            path, _ = QtWidgets.QFileDialog.getSaveFileName(self, "Save plot data", "plot-data.csv",
                                                            "CSV files (*.csv)")
            if not path:
                return None
        try:
            export_csv(view, path)
        except (OSError, ValueError) as e:
            self.statusBar().showMessage(f"Could not save the plot data: {e}", 8000)
            return None
        self.statusBar().showMessage(f"Saved the plot data to {path}", 6000)
        return path

    # ------------------------------------------------------------------ enlarging one view
    def view_names(self) -> list[str]:
        return ["graph", *[n for n, d in self.docks.items() if d.widget() is not None]]

    def toggle_enlarged(self, name: str | None = None) -> None:
        """Give one view the whole central area (the others hidden); again to go back.
        ``name`` defaults to the view under the mouse, else the focused or last raised one."""
        if self._enlarged:
            state, visible, which = self._enlarged
            self._enlarged = None
            self.graph.show()
            self.restoreState(state, SETTINGS_VERSION)
            for n, d in self.docks.items():
                d.setVisible(visible.get(n, d.isVisible()))
            self.act["enlarge"].setChecked(False)
            self.statusBar().showMessage("Back to all views", 2000)
            return
        name = name or self._view_at_cursor() or self._current_view()
        if name != "graph" and name not in self.docks:
            return
        self._enlarged = (self.saveState(SETTINGS_VERSION), {n: d.isVisible() for n, d in self.docks.items()}, name)
        for n, d in self.docks.items():
            if n != name:
                d.hide()
        if name == "graph":
            self.graph.show()
        else:
            d = self.docks[name]
            d.setFloating(False)
            d.show()
            d.raise_()
            self.graph.hide()  # the dock areas then share the central space
        self.act["enlarge"].setChecked(True)
        title = "Unrolled graph" if name == "graph" else self.docks[name].windowTitle()
        self.statusBar().showMessage(f"{title} enlarged: Ctrl+Shift+F or a double-click on its title to go back",
                                     5000)

    def enlarged_view(self) -> str | None:
        return self._enlarged[2] if self._enlarged else None

    def _view_at_cursor(self) -> str | None:
        w = QtWidgets.QApplication.widgetAt(QtGui.QCursor.pos())
        while w is not None and w is not self:
            if w is self.graph:
                return "graph"
            for n, d in self.docks.items():
                if w is d:
                    return n
            w = w.parentWidget()
        return None

    def _current_view(self) -> str:
        fw = QtWidgets.QApplication.focusWidget()
        while fw is not None:
            for n, d in self.docks.items():
                if fw is d:
                    return n
            fw = fw.parentWidget()
        last = self.last_raised_view
        return last if last in self.docks and self.docks[last].isVisible() else "graph"

    def eventFilter(self, obj: QtCore.QObject, ev: QtCore.QEvent) -> bool:
        # a double-click on a dock's title enlarges it (instead of Qt's float / unfloat)
        if ev.type() == QtCore.QEvent.Type.MouseButtonDblClick and isinstance(obj, QtWidgets.QDockWidget):
            inner = obj.widget()
            if inner is None or ev.position().y() < inner.geometry().top():
                name = next((n for n, d in self.docks.items() if d is obj), None)
                if name is not None:
                    self.toggle_enlarged(None if self._enlarged else name)
                    return True
        return super().eventFilter(obj, ev)

    def watch_dock(self, dock: QtWidgets.QDockWidget) -> None:
        """Dock title double-clicks enlarge; a dock the user moves ends the automatic layout."""
        dock.installEventFilter(self)
        dock.dockLocationChanged.connect(self._dock_moved)
        dock.topLevelChanged.connect(self._dock_moved)

    def restore_settings(self) -> None:
        s = self.settings
        geom = s.value("window/geometry")
        self.geometry_remembered = False
        if isinstance(geom, (QtCore.QByteArray, bytes)):
            self.geometry_remembered = bool(self.restoreGeometry(QtCore.QByteArray(geom)))
        state = s.value("window/state")
        if isinstance(state, (QtCore.QByteArray, bytes)):
            self._restored = bool(self.restoreState(QtCore.QByteArray(state), SETTINGS_VERSION))
        try:
            scale = float(s.value("view/zoom", 1.0))
        except (TypeError, ValueError):
            scale = 1.0
        div = s.value("view/diverging", self.theme.diverging)
        if div not in DIVERGING_NAMES:
            div = self.theme.diverging
        self.theme = self.theme.with_(scale=min(max(scale, ZOOM_LIMITS[0]), ZOOM_LIMITS[1]), diverging=div)
        self.act["colourblind"].setChecked(div != DIVERGING_NAMES[0])
        mode = s.value("view/graph_mode", "activation")
        self.graph.set_mode(mode if mode in ("activation", "delta") else "activation")

    def show_first(self) -> None:
        """Show the window as a launch should: where it was last time, else maximised on the
        available screen (the layout policy then fits the views to it)."""
        if self.geometry_remembered or self.isFullScreen():
            self.show()
        else:
            self.showMaximized()

    def save_settings(self) -> None:
        s = self.settings
        s.setValue("window/geometry", self.saveGeometry())
        s.setValue("window/state", self.saveState(SETTINGS_VERSION))
        s.setValue("view/zoom", self.theme.scale)
        s.setValue("view/diverging", self.theme.diverging)
        s.setValue("view/graph_mode", self.graph.current_mode())
        s.sync()

    def closeEvent(self, ev: QtGui.QCloseEvent) -> None:
        self.save_settings()
        self.controller.stop()
        super().closeEvent(ev)

    # ------------------------------------------------------------------ the feature protocol
    def add_feature(self, feature: Feature, replace: bool = False) -> Feature:
        """Register ``feature`` (built with this window; ``replace``: in place of one of the same
        name); see ``bpttviz.window.feature``."""
        return self.features.add(feature, replace)

    def feature(self, name: str) -> Feature | None:
        """The feature registered as ``name``, or None."""
        return self.features.get(name)

    def part(self, name: str) -> Any | None:
        """A feature, or a part a feature publishes (``Feature.parts``), by name; None if absent."""
        return self.features.part(name)

    def __getattr__(self, name: str) -> Any:
        # only called when normal lookup fails: ``window.scenario`` and the like read the registry
        # (for scripts and tests; the app's own code asks ``part(name)``)
        if not name.startswith("_"):
            registry = self.__dict__.get("features")
            found = registry.part(name) if isinstance(registry, FeatureRegistry) else None
            if found is not None:
                return found
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")

    def layout_held(self) -> bool:
        """True while a feature has laid the docks out itself (lecture mode)."""
        return any(f.holds_layout() for f in self.features)

    def menu(self, title: str) -> QtWidgets.QMenu | None:
        """The top-level menu titled ``title`` (without its ``&``), or None."""
        return next((a.menu() for a in self.menuBar().actions() if a.menu() is not None
                     and a.menu().title().replace("&", "") == title), None)

    def _new_dock(self, name: str, title: str, widget: QtWidgets.QWidget) -> QtWidgets.QDockWidget:
        dock = QtWidgets.QDockWidget(title, self)
        dock.setObjectName(f"dock_{name}")
        dock.setWidget(widget)
        dock.setFeatures(QtWidgets.QDockWidget.DockWidgetFeature.DockWidgetMovable
                         | QtWidgets.QDockWidget.DockWidgetFeature.DockWidgetFloatable
                         | QtWidgets.QDockWidget.DockWidgetFeature.DockWidgetClosable)
        dock.setFont(self.font())
        return dock

    def add_dock(self, name: str, title: str, widget: QtWidgets.QWidget, *, beside: str | None = None,
                 fallback: QtCore.Qt.DockWidgetArea = QtCore.Qt.DockWidgetArea.BottomDockWidgetArea,
                 register: bool = True) -> QtWidgets.QDockWidget:
        """A dock holding ``widget``: tabbed with the dock ``beside`` (in its area, else in
        ``fallback``), or wherever the user left it last time. ``register``: listed in ``docks``
        (laid out, toggled and enlarged with the others); unregistered docks are the feature's own
        to show and hide. Title double-clicks enlarge it, and moving it ends the automatic layout."""
        dock = self._new_dock(name, title, widget)
        anchor = self.docks.get(beside) if beside is not None else None
        area = self.dockWidgetArea(anchor) if anchor is not None else fallback
        if area == QtCore.Qt.DockWidgetArea.NoDockWidgetArea:
            area = fallback
        self.addDockWidget(area, dock)
        if anchor is not None and not anchor.isFloating():
            self.tabifyDockWidget(anchor, dock)
            anchor.raise_()
        self.restoreDockWidget(dock)  # where the user left it last time, if anywhere
        if register:
            self.docks[name] = dock
        self.watch_dock(dock)
        return dock

    def add_toolbar_row(self, name: str, title: str, widget: QtWidgets.QWidget, *,
                        bar: QtWidgets.QToolBar | None = None,
                        height: QtWidgets.QSizePolicy.Policy = QtWidgets.QSizePolicy.Policy.Fixed,
                        ) -> QtWidgets.QToolBar:
        """A full-width row of the top tool bar area holding ``widget`` (a caption, a banner);
        ``bar``: a tool bar of the feature's own class to use. Not movable, not in any menu."""
        bar = bar if bar is not None else QtWidgets.QToolBar(title, self)
        bar.setObjectName(name)
        bar.setMovable(False)
        bar.setFloatable(False)
        bar.toggleViewAction().setVisible(False)  # not something to switch off from a context menu
        bar.setContextMenuPolicy(QtCore.Qt.ContextMenuPolicy.PreventContextMenu)
        bar.setStyleSheet("QToolBar { border: 0px; padding: 0px; spacing: 0px; }")
        widget.setSizePolicy(QtWidgets.QSizePolicy.Policy.Expanding, height)
        bar.addWidget(widget)
        self.addToolBarBreak(QtCore.Qt.ToolBarArea.TopToolBarArea)
        self.addToolBar(QtCore.Qt.ToolBarArea.TopToolBarArea, bar)
        return bar

    def raise_view(self, name: str, bring_forward: bool = True) -> None:
        """Remember ``name`` as the view brought forward last (Export view and Enlarge take it
        when nothing has the focus) and, with ``bring_forward``, raise its dock."""
        if name in self.docks:
            self.last_raised_view = name
            if bring_forward:
                self.docks[name].raise_()

    # ------------------------------------------------------------------ actions
    def add_action(self, name: str, text: str, slot, keys=(), tip: str = "", checkable: bool = False,
                   context=QtCore.Qt.ShortcutContext.ApplicationShortcut) -> QtGui.QAction:
        """A window action ``act[name]``: its shortcuts ``keys`` (key codes, sequences or standard
        keys; duplicates dropped), a tooltip naming them, ``slot`` on trigger."""
        a = QtGui.QAction(text, self)
        a.setObjectName(name)
        a.setShortcutContext(context)
        a.setCheckable(checkable)
        a.setToolTip(tip or text)
        self.act[name] = a
        self.set_action_keys(name, keys)
        a.triggered.connect(slot)
        self.addAction(a)
        return a

    def set_action_keys(self, name: str, keys) -> None:
        """The shortcuts of action ``act[name]`` become ``keys`` (duplicates dropped); its tooltip
        names them after its description ("Next record (Right / PgDown)")."""
        a = self.act[name]
        seqs: list[QtGui.QKeySequence] = []
        for k in keys:  # standard keys may repeat an explicit one: duplicates make shortcuts ambiguous
            for q in (QtGui.QKeySequence.keyBindings(k) if isinstance(k, QtGui.QKeySequence.StandardKey)
                      else [QtGui.QKeySequence(k)]):
                if q not in seqs and not q.isEmpty():
                    seqs.append(q)
        a.setShortcuts(seqs)
        tip = a.property("bpttviz_tip") or a.toolTip()  # the description, without the keys
        a.setProperty("bpttviz_tip", tip)
        shown = " / ".join(q.toString(QtGui.QKeySequence.SequenceFormat.NativeText) for q in seqs)
        a.setToolTip(f"{tip} ({shown})" if shown else tip)

    def _make_actions(self) -> None:
        self.act: dict[str, QtGui.QAction] = {}
        c = self.controller
        K = QtCore.Qt.Key
        M = QtCore.Qt.KeyboardModifier
        self.add_action("play", "▶ Play", c.toggle_play, [K.Key_Space], "Play / pause training")
        self.add_action("step", "Step ▸", c.step_record, [K.Key_Right, K.Key_PageDown],
                        "Next record: one timestep of the forward or backward pass")
        self.add_action("back", "◂ Back", c.step_back, [K.Key_Left, K.Key_PageUp],
                        "Previous record of this iteration (replay)")
        self.add_action("phase", "Phase ▸▸", c.step_phase, [key(M.ShiftModifier, K.Key_Right)], "Next phase")
        self.add_action("phase_back", "◂◂ Phase", c.step_phase_back, [key(M.ShiftModifier, K.Key_Left)],
                        "Start of this phase / the previous phase")
        self.add_action("iteration", "Iteration ▸▸▸", c.step_iteration, [key(M.ControlModifier, K.Key_Right)],
                        "One whole iteration")
        self.add_action("reset", "Reset", self._reset, [K.Key_R], "Start again from iteration 0")
        self.add_action("rollback", "Roll back", c.rollback, [QtGui.QKeySequence.StandardKey.Undo],
                        "Restore the last finite parameters after a blow-up")
        self.add_action("fullscreen", "Full screen", self.toggle_full_screen, [K.Key_F11], checkable=True)
        self.add_action("leave_fullscreen", "Leave full screen", self.leave_full_screen, [K.Key_Escape],
                        context=QtCore.Qt.ShortcutContext.WindowShortcut)
        self.add_action("zoom_in", "Zoom in", lambda: self.zoom(ZOOM_STEP),
                        [QtGui.QKeySequence.StandardKey.ZoomIn, key(M.ControlModifier, K.Key_Equal)])
        self.add_action("zoom_out", "Zoom out", lambda: self.zoom(1 / ZOOM_STEP),
                        [QtGui.QKeySequence.StandardKey.ZoomOut, key(M.ControlModifier, K.Key_Minus)])
        self.add_action("zoom_reset", "Actual size", lambda: self.zoom(None), [key(M.ControlModifier, K.Key_0)])
        self.add_action("shortcuts", "Keyboard shortcuts", self.show_shortcuts,
                        [K.Key_Question, key(M.ShiftModifier, K.Key_Question), K.Key_F1])
        self.add_action("colour_mode", "Colour nodes by delta size", self.toggle_graph_mode, [K.Key_D], checkable=True)
        self.add_action("colourblind", "Colour-blind-safe colour map", self.toggle_colourblind, [], checkable=True)
        self.add_action("reset_layout", "Reset layout", self.reset_layout, [])
        self.add_action("enlarge", "Enlarge view", lambda: self.toggle_enlarged(),
                        [key(M.ControlModifier | M.ShiftModifier, K.Key_F)],
                        "Give the view under the mouse (or the current one) the whole window; again to go back",
                        checkable=True)
        self.add_action("getting_started", "Getting started", self.show_getting_started, [],
                        "A short tour of what each view shows")
        self.add_action("quit", "Quit", self.close, [QtGui.QKeySequence.StandardKey.Quit])

    def _make_menus(self) -> None:
        mb = self.menuBar()
        m = mb.addMenu("&Run")
        for n in ("play", "step", "back", "phase", "phase_back", "iteration", None, "reset", "rollback", None,
                  "quit"):
            m.addSeparator() if n is None else m.addAction(self.act[n])
        self.presets_menu = presets = mb.addMenu("&Presets")
        presets.setObjectName("presets_menu")
        presets.setToolTipsVisible(True)
        self.preset_actions.clear()
        self._preset_group = QtGui.QActionGroup(self)
        self._preset_group.setExclusionPolicy(QtGui.QActionGroup.ExclusionPolicy.ExclusiveOptional)
        for group, names in preset_groups().items():
            presets.addSection(group)
            for name in names:
                line = preset_line(name)
                a = presets.addAction(f"{name}  —  {line}" if line else name,
                                      lambda n=name: self._load_preset(n, ask=True))
                a.setObjectName(f"preset_{name}")
                a.setCheckable(True)
                a.setToolTip(preset_description(name) or line)
                self._preset_group.addAction(a)
                self.preset_actions[name] = a
        v = mb.addMenu("&View")
        for d in self.docks.values():
            v.addAction(d.toggleViewAction())
        v.addSeparator()
        v.addAction(self.loss.log)
        for n in ("colour_mode", "colourblind", None, "zoom_in", "zoom_out", "zoom_reset", "fullscreen", None,
                  "enlarge", "reset_layout"):
            v.addSeparator() if n is None else v.addAction(self.act[n])
        h = mb.addMenu("&Help")
        h.addAction(self.act["getting_started"])
        h.addAction(self.act["shortcuts"])

    def shortcut_rows(self) -> list[tuple[str, str]]:
        return [("Space", "play / pause training"), ("→  /  ←", "next / previous record (timestep)"),
                ("Shift+→  /  Shift+←", "next phase / back to the phase start"),
                ("Ctrl+→", "one whole iteration"), ("R", "reset to iteration 0"),
                ("D", "colour nodes by activation / by delta size"), ("Ctrl+Z", "roll back after a blow-up"),
                ("Ctrl+=  Ctrl+-  Ctrl+0", "zoom in / out / actual size"),
                ("F11  /  Esc", "full screen / leave it; Esc also leaves a settings field"),
                ("Ctrl+Shift+F", "enlarge the view under the mouse, again to go back (or double-click its title)"),
                ("Page Down / Page Up", "next / previous record, or scenario stop (presenter clickers)"),
                *(row for f in self.features for row in f.shortcut_rows()), ("?", "this overview")]

    def _make_status_bar(self) -> None:
        sb = self.statusBar()
        sb.setObjectName("status")
        # the loss field takes what room is left and cuts its description with "…" (a large font
        # on a projector must not make the fields overlap); the others keep fixed widths. Every
        # field has a fixed size (the loss field's is set by its holder), so a new text never
        # lays the window out again
        self.status_labels = {k: ElidedLabel() if k == "loss" else QtWidgets.QLabel("")
                              for k in ("iteration", "phase", "loss", "state")}
        for k, lab in self.status_labels.items():
            lab.setObjectName(f"status_{k}")
            lab.setContentsMargins(8, 0, 8, 0)
            if k == "loss":
                self._loss_holder = LabelHolder(lab)
                sb.addPermanentWidget(self._loss_holder, 1)
            else:
                sb.addPermanentWidget(lab, 0)

    # ------------------------------------------------------------------ bindings
    def _bind_views(self) -> None:
        """Every view reads the controller's moment (``bpttviz.presenters.moment``) and nothing else."""
        c = self.controller

        def mkey():
            m = c.moment
            return (m.generation, m.iteration, m.record, id(m.narration))

        def cursor() -> int:
            m = c.moment
            return m.record if m.record is not None else -1

        def push_graph():
            m = c.moment
            td = c.trace_data() or skeleton(c.session)
            mode = self.graph.current_mode()
            if isinstance(td, MLPTrace):
                f = mlp_frame(td, cursor(), m.params, mode)
            else:
                f = recurrent_frame(td, cursor(), mode)
            if m.trace is not None and f.caption:  # the iteration it shows, also while training lags
                f = dataclasses.replace(f, caption=f"Iteration {m.iteration} · {f.caption}")
            self.graph.show_frame(f)
            self.shown["graph"] = {"caption": f.caption}

        def work_deltas():
            td = c.trace_data() or skeleton(c.session)
            self.deltas.set_quantities(available_quantities(td))
            cur, quantity = cursor(), self.deltas.current_quantity()

            def show(f):
                self.deltas.show_frame(f)
                self.shown["deltas"] = {"title": f.title, "norms": {k: v.copy() for k, v in f.norms.items()},
                                        "image": f.image.copy()}

            return (lambda: deltas_frame(td, cur, quantity)), show

        # weights, decay and task: ``work`` gives (compute, show) -- for a large model the
        # controller runs the computing part off the UI thread
        def work_weights():
            s = c.session
            m = c.moment
            names = list(m.params)
            default = recurrent_matrix_name(s) or names[0]
            self.weights.set_parameters(names, default)
            name = self.weights.current_parameter() or default
            x, series = c.diagnostics.spectral.data(until=m.visible_until("spectral"))

            def show(f):
                self.weights.show_frame(f)
                title = ("recurrent matrix over training" if s.cfg.is_recurrent
                         else "largest singular value of each layer over training")
                self.weights.show_spectrum(x, series, title)
                self.shown["weights"] = dict(self.weights.shown(), spectrum_x=x, spectrum=series)

            return (lambda: weights_frame(m, name, s)), show

        decay = self.decay_presenter = DecayPresenter(c.diagnostics)

        def work_decay():
            s = c.session
            m = c.moment
            hist = c.diagnostics.earlier_decays(m.iteration)

            def show(f):
                if isinstance(f, str):
                    self.decay.show_message(f)
                    self.shown["decay"] = {"message": f}
                    return
                self.decay.show_frame(f)
                self.shown["decay"] = {"note": self.decay.note.text(), "curve": f.curve.copy(),
                                       "iteration": f.iteration, "reference_label": f.reference_label}
                c.diagnostics.remember_decay(m.iteration, f.curve)  # once it is whole

            return (lambda: decay.frame(s, m, hist)), show

        def push_loss():
            f = loss_frame(c.session, c.moment)
            self.loss.show_frame(f)
            self.shown["loss"] = {"x": f.x.copy(), "loss": f.loss.copy(), "val_x": f.val_x.copy(),
                                  "norm_x": f.norm_x.copy(), "norm": f.norm.copy(), "clip_x": f.clip_x.copy()}

        def work_task():
            s = c.session
            m = c.moment
            until = m.visible_until("val_metric")
            samples = [(i, t) for i, t in s.samples if i <= until]
            return (lambda: s.task.view(model_with(s.model, m.params))), \
                (lambda view: self.task.show_view(view, samples, s.task.describe()))

        c.bind(ViewBinding("unrolled graph", self.graph, lambda: mkey() + (self.graph.current_mode(),),
                           push_graph, min_interval=1 / 90, urgent=True, animate=self.graph.animate, needs_trace=True))
        c.bind(ViewBinding("deltas view", self.deltas, lambda: mkey() + (self.deltas.current_quantity(),),
                           None, min_interval=1 / 15, urgent=True, needs_trace=True, work=work_deltas))
        c.bind(ViewBinding("weights view", self.weights,
                           lambda: mkey() + (self.weights.current_parameter(), len(c.diagnostics.spectral)),
                           None, min_interval=1 / 15, urgent=True, work=work_weights))
        # secondary views: up to 15 updates a second while training (smooth enough to follow; more
        # would take frames from the graph)
        c.bind(ViewBinding("loss view", self.loss, mkey, push_loss, min_interval=1 / 15, urgent=True))
        c.bind(ViewBinding("decay view", self.decay, mkey, None, min_interval=1 / 15, urgent=True, work=work_decay))
        c.bind(ViewBinding("task view", self.task, mkey, None, min_interval=1.0, work=work_task))
        # the status bar is a view too: at most 10 updates a second while training
        c.bind(ViewBinding("status bar", self.statusBar(), lambda: (c.version, c.playing, c.generation) + mkey(),
                           self.refresh_status, min_interval=0.1, urgent=True))

    def shown_values(self) -> dict:
        """What each view displays now, as plain values (for tests and exports): the status bar's
        texts, and per view what its last push showed (``self.shown``)."""
        out = {k: dict(v) for k, v in self.shown.items()}
        out["status"] = {k: lab.full_text() if isinstance(lab, ElidedLabel) else lab.text()
                         for k, lab in self.status_labels.items()}
        return out

    def _refresh(self, name: str) -> None:
        """Repaint one view now (after its own control changed)."""
        binding = {"graph": "unrolled graph", "deltas": "deltas view", "weights": "weights view"}[name]
        self.controller.refresh(binding)
        if name == "graph":
            self.act["colour_mode"].setChecked(self.graph.current_mode() == "delta")

    # ------------------------------------------------------------------ reactions
    def _session_replaced(self) -> None:
        s = self.controller.session
        self.config.set_config(s.cfg)
        if not self._user_rebuild:  # a preset or a file: its title describes it until it is edited
            self._title_cfg = s.cfg
            self._preset_name = matching_preset(s.cfg)
        self._user_rebuild = False
        self._sync_title()
        self.refresh_status()

    def session_label(self) -> str:
        """What the window is showing, for its title and the default file names: the preset's (or
        file's) title while the configuration is unchanged, else a description of the current one."""
        s = self.controller.session
        cfg = s.cfg
        same = (self._title_cfg is not None
                and {k: v for k, v in self._title_cfg.to_dict().items() if k != "title"}
                == {k: v for k, v in cfg.to_dict().items() if k != "title"})
        if same and cfg.title:
            return cfg.title
        size = ("×".join(map(str, cfg.hidden_layers)) if cfg.model == "mlp" else str(cfg.hidden_size))
        return f"{cfg.model.upper()} {size} · {s.task.describe()} · lr {cfg.lr:g}"

    def _sync_title(self) -> None:
        want = f"bpttviz — {self.session_label()}"
        if not self.windowTitle().startswith(want):  # the bug lab may append its mark after it
            self.setWindowTitle(want)
        name = self._preset_name
        for n, a in self.preset_actions.items():
            on = n == name and self._title_cfg is self.controller.session.cfg
            if a.isChecked() != on:
                a.setChecked(on)

    def _apply_live(self, changes: dict) -> None:
        try:
            self.controller.set_hyper(**changes)
        except ValueError as e:
            self.config.show_error(str(e))
            return
        self.config.cfg = self.controller.session.cfg
        self.config.show_error(None)
        self.refresh_status()
        self.restore_focus()

    def _rebuild(self, cfg) -> None:
        self._user_rebuild = True
        try:
            self.controller.rebuild(cfg)
        except ValueError as e:
            self._user_rebuild = False
            self.config.show_error(str(e))
            return
        self.statusBar().showMessage("Rebuilt the model: iteration 0", 6000)
        self.restore_focus()

    def _load_preset(self, name: str, ask: bool = False) -> None:
        if ask and not self.config.confirm(f"Load the preset '{name}'?\nTraining restarts from iteration 0."):
            return
        try:
            self.controller.load_preset(name)
        except ValueError as e:
            self.config.show_error(str(e))
            return
        self._preset_name = name
        self._title_cfg = self.controller.session.cfg
        self._sync_title()
        self.restore_focus()

    def _reset(self) -> None:
        self.controller.reset()
        self.restore_focus()

    def restore_focus(self) -> None:
        """Give the keyboard back to the graph (after Apply, a reset, a preset or a dialog), so
        Space and the arrows step again without a click."""
        if self.isVisible():
            self.activateWindow()
        self.graph.setFocus(QtCore.Qt.FocusReason.OtherFocusReason)

    def track_dialog(self, box: QtWidgets.QWidget) -> None:
        """Keep ``box`` in ``dialogs`` and give the keyboard back to the graph when it closes."""
        if box not in self.dialogs:
            self.dialogs.append(box)
        finished = getattr(box, "finished", None)
        if finished is not None:
            finished.connect(lambda *_: QtCore.QTimer.singleShot(0, self.restore_focus))

    def _playing_changed(self, playing: bool) -> None:
        self.act["play"].setText("❚❚ Pause" if playing else "▶ Play")
        self.refresh_status()

    def refresh_status(self) -> None:
        """Show the controller's status (iteration, phase, loss, play state) in the status bar now."""
        st = self.controller.status()
        lab = self.status_labels
        lab["iteration"].setText(f"iteration {st['iteration']}")
        lab["iteration"].setToolTip(st["moment"])
        where = f"{st['phase']}" + (f", {st['where']}" if st["where"] else "")
        if st["cursor"] is not None and not st["playing"]:
            where += f"  (record {st['cursor'] + 1}/{st['records']})"
        lab["phase"].setText(where or ("training" if st["playing"] else st["moment"]))
        loss = "—" if st["loss"] is None else f"{st['loss']:.4g}"
        # the number first: on a narrow status bar the label's end is what gets cut
        lab["loss"].set_full_text(f"loss {loss}  ·  {st['loss_label']}")
        lab["loss"].setToolTip(f"{st['loss_label']}: {loss}")
        lab["state"].setText("▶ playing" if st["playing"] else ("⚠ non-finite: paused" if st["blowup"] else "paused"))
        for k, label in lab.items():  # fixed, growing only: a new text then lays nothing out again
            if k != "loss":
                fit_fixed(label)

    def _clear_stale_messages(self) -> None:
        """A blow-up message stays on the status bar only while that blow-up is the session's."""
        msg = self.blowup_message
        b = self.controller.session.blowup
        if msg and (b is None or b.message() != msg):
            if self.statusBar().currentMessage() == msg:
                self.statusBar().clearMessage()
            self.blowup_message = None

    def show_error(self, summary: str, details: str = "") -> None:
        """An error from stepping or painting: a status message always, a dialog once per error."""
        from bpttviz.recovery.crash import show_error_dialog  # a details area and "Copy details"

        show_error_dialog(self, summary, details)

    def show_blowup_message(self, message: str) -> None:
        """Keep ``message`` (the session's blow-up) on the status bar until that blow-up is gone
        (rolled back, reset, another session)."""
        self.statusBar().showMessage(message, 0)
        self.blowup_message = message
        self.refresh_status()

    def show_blowup(self, message: str) -> None:
        """Training paused on a non-finite value: where, what was kept, Roll back / Keep paused."""
        from bpttviz.recovery.crash import show_blowup_dialog

        show_blowup_dialog(self, message)

    # ------------------------------------------------------------------ view options
    def toggle_graph_mode(self) -> None:
        self.graph.set_mode("activation" if self.graph.current_mode() == "delta" else "delta")

    def toggle_colourblind(self) -> None:
        div = DIVERGING_NAMES[1] if self.act["colourblind"].isChecked() else DIVERGING_NAMES[0]
        self.apply_theme(self.theme.with_(diverging=div))

    def zoom(self, factor: float | None) -> None:
        """Scale every font of the window, plot axes included; None = actual size."""
        scale = 1.0 if factor is None else self.theme.scale * factor
        scale = min(max(scale, ZOOM_LIMITS[0]), ZOOM_LIMITS[1])
        self.apply_theme(self.theme.with_(scale=scale))
        self.statusBar().showMessage(f"Zoom {scale * 100:.0f}%", 2000)

    def apply_theme(self, theme: Theme) -> None:
        self.theme = theme
        f = theme.font(1.0)
        self.setFont(f)
        self.menuBar().setFont(f)
        self.statusBar().setFont(f)
        fm = QtGui.QFontMetrics(f)
        widths = {"iteration": "iteration 000000", "phase": "backward, t = 00 of 00  (record 00/00)",
                  "loss": "loss 000.0000  ·  …", "state": "⚠ non-finite: paused"}
        for k, lab in self.status_labels.items():
            lab.setFont(f)
            if widths[k]:  # fixed widths: changing numbers must not relayout the status bar
                lab.setMinimumWidth(fm.horizontalAdvance(widths[k]) + 16)
        self._loss_holder.setMinimumWidth(fm.horizontalAdvance(widths["loss"]) + 16)
        self._loss_holder.set_height(fm.height())
        for d in self.docks.values():
            d.setFont(f)
        body = f"font-size: {theme.points(1.0):.1f}pt;"  # no control below the body text (tabs, spin boxes...)
        self.setStyleSheet(f"QMainWindow {{ background: {theme.panel}; }}"
                           f"QDockWidget {{ {body} }}"
                           f"QTabBar, QAbstractSpinBox, QToolButton, QPushButton, QCheckBox, QComboBox, QLineEdit,"
                           f" QHeaderView, QTableView, QAbstractItemView {{ {body} }}"
                           f"QDockWidget::title {{ background: {theme.panel}; padding: 3px 6px; }}")
        self.overlay.theme = theme
        for v in (self.graph, self.deltas, self.weights, self.decay, self.loss, self.task, self.config,
                  self.transport):
            v.apply_theme(theme)
        for feature in self.features:
            feature.apply_theme(theme)
        for r in self.readouts:
            r.apply_theme(theme)
        self.controller.refresh_all()

    def toggle_full_screen(self) -> None:
        if self.isFullScreen():
            self.showNormal()
        else:
            self.showFullScreen()
        self.act["fullscreen"].setChecked(self.isFullScreen())

    def leave_full_screen(self) -> None:
        """Esc: close the overlay, or leave full screen; and give the keyboard back to the graph
        (out of a settings field), so the arrows step again."""
        if self.overlay.isVisible():
            self.overlay.hide()
        elif self.isFullScreen():
            self.showNormal()
            self.act["fullscreen"].setChecked(False)
        self.graph.setFocus()

    def show_getting_started(self) -> QtWidgets.QMessageBox:
        """Help ▸ Getting started: what each view shows and the first keys to press."""
        box = QtWidgets.QMessageBox(QtWidgets.QMessageBox.Icon.Information, "Getting started", "", parent=self)
        box.setObjectName("getting_started")
        box.setTextFormat(QtCore.Qt.TextFormat.RichText)
        box.setText(GETTING_STARTED)
        box.setFont(self.font())
        box.setWindowModality(QtCore.Qt.WindowModality.NonModal)
        box.show()
        self.dialogs.append(box)
        return box

    def show_shortcuts(self) -> None:
        self.overlay.theme = self.theme
        self.overlay.show_for(self.shortcut_rows())
