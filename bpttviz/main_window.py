"""The main window: the unrolled graph in the centre, the other views in dock widgets around it,
the transport bar, the status bar, the keyboard, zoom and full screen, and the remembered layout.

The window wires views to the controller with ``ViewBinding``s; it never calls the engine to
train or step (that is the controller's job) and views never see the session.
"""

from __future__ import annotations

import math
import time
from collections import deque

import numpy as np
import pyqtgraph as pg
from PySide6 import QtCore, QtGui, QtWidgets

from engine.presets import list_presets

from .controller import Controller, ViewBinding
from .presenters.decay import DecayPresenter
from .presenters.graph_frame import mlp_frame, recurrent_frame
from .presenters.panels import available_quantities, deltas_frame, loss_frame, recurrent_matrix_name, weights_frame
from .presenters.trace_data import MLPTrace, skeleton
from .theme import DIVERGING_NAMES, Theme, tune_view
from .views.config_panel import ConfigPanel
from .views.decay_view import DecayView
from .views.deltas_view import DeltasView
from .views.graph_view import GraphView
from .views.loss_view import LossView
from .views.shortcut_overlay import ShortcutOverlay
from .views.task_view import TaskView
from .views.transport import TransportBar
from .views.weights_view import WeightsView

SETTINGS_VERSION = 1
ZOOM_STEP = 1.15
ZOOM_LIMITS = (0.6, 3.0)


def default_settings() -> QtCore.QSettings:
    """The user's settings file (an INI file in the platform's config directory)."""
    return QtCore.QSettings(QtCore.QSettings.Format.IniFormat, QtCore.QSettings.Scope.UserScope,
                            "bpttviz", "bpttviz")


class MainWindow(QtWidgets.QMainWindow):
    """``MainWindow(controller, settings=None)``: docks, actions, keyboard, status bar."""

    def __init__(self, controller: Controller, settings: QtCore.QSettings | None = None,
                 theme: Theme | None = None) -> None:
        super().__init__()
        self.setObjectName("main_window")
        self.controller = controller
        self.settings = settings if settings is not None else default_settings()
        self.theme = theme or Theme()
        self._shown_errors: set[str] = set()
        self._decay_history: deque[np.ndarray] = deque(maxlen=12)
        self._decay_last = (-1, -math.inf)  # (iteration, time) of the last curve kept in the history
        self.dialogs: list[QtWidgets.QMessageBox] = []
        self._sized = False
        self._restored = False

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
            dock = QtWidgets.QDockWidget(title, self)
            dock.setObjectName(f"dock_{name}")
            dock.setWidget(widget)
            dock.setFeatures(QtWidgets.QDockWidget.DockWidgetFeature.DockWidgetMovable
                             | QtWidgets.QDockWidget.DockWidgetFeature.DockWidgetFloatable
                             | QtWidgets.QDockWidget.DockWidgetFeature.DockWidgetClosable)
            self.docks[name] = dock
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
        c.session_replaced.connect(self._session_replaced)
        c.error.connect(self.show_error)
        c.blowup.connect(self.show_blowup)
        c.message.connect(lambda m: self.statusBar().showMessage(m, 6000))
        self.config.live_changed.connect(self._apply_live)
        self.config.rebuild_requested.connect(self._rebuild)
        self.config.preset_requested.connect(self._load_preset)
        self.graph.mode_changed.connect(lambda _m: self._refresh("graph"))
        self.deltas.quantity_changed.connect(lambda _q: self._refresh("deltas"))
        self.weights.parameter_changed.connect(lambda _p: self._refresh("weights"))
        for view in self.findChildren(pg.GraphicsView):
            tune_view(view)
        self._bind_views()
        self._session_replaced()
        self.restore_settings()
        self.apply_theme(self.theme)
        from .gradient_lab import install_gradient_lab  # the gradient check, bug lab and banner (issue 6)

        install_gradient_lab(self)
        from .reliability import install_reliability  # Presets ▸ Open a preset file… (issue 8)

        install_reliability(self)
        from .classroom import install_classroom  # lecture mode, explain, scenarios, side by side, files (issue 7)

        install_classroom(self)

    # ------------------------------------------------------------------ layout
    def default_layout(self) -> None:
        """Configuration (and the task, in a tab) left, weights right, deltas/decay/loss along the bottom."""
        for d in self.docks.values():
            d.setFloating(False)
            d.show()
        L, R, B = (QtCore.Qt.DockWidgetArea.LeftDockWidgetArea, QtCore.Qt.DockWidgetArea.RightDockWidgetArea,
                   QtCore.Qt.DockWidgetArea.BottomDockWidgetArea)
        self.addDockWidget(L, self.docks["config"])
        self.addDockWidget(L, self.docks["task"])
        self.tabifyDockWidget(self.docks["config"], self.docks["task"])
        self.docks["config"].raise_()
        self.addDockWidget(R, self.docks["weights"])
        self.addDockWidget(B, self.docks["deltas"])
        self.splitDockWidget(self.docks["deltas"], self.docks["decay"], QtCore.Qt.Orientation.Horizontal)
        self.splitDockWidget(self.docks["decay"], self.docks["loss"], QtCore.Qt.Orientation.Horizontal)
        self.setCorner(QtCore.Qt.Corner.BottomLeftCorner, QtCore.Qt.DockWidgetArea.LeftDockWidgetArea)
        self.setCorner(QtCore.Qt.Corner.BottomRightCorner, QtCore.Qt.DockWidgetArea.BottomDockWidgetArea)
        self._size_docks()

    def _size_docks(self) -> None:
        w = max(self.width(), 1000)
        h = max(self.height(), 700)
        H = QtCore.Qt.Orientation.Horizontal
        self.resizeDocks([self.docks["config"], self.docks["weights"]], [int(w * 0.19), int(w * 0.30)], H)
        self.resizeDocks([self.docks["deltas"], self.docks["decay"], self.docks["loss"]], [1, 1, 1], H)
        self.resizeDocks([self.docks["deltas"]], [int(h * 0.40)], QtCore.Qt.Orientation.Vertical)

    def showEvent(self, ev: QtGui.QShowEvent) -> None:
        super().showEvent(ev)
        if not self._sized:  # dock sizes only take once the window has its real size
            self._sized = True
            if not self._restored:
                QtCore.QTimer.singleShot(0, self._size_docks)

    def reset_layout(self) -> None:
        self.restoreState(self._default_state, SETTINGS_VERSION)
        self.default_layout()

    def restore_settings(self) -> None:
        s = self.settings
        geom = s.value("window/geometry")
        if isinstance(geom, (QtCore.QByteArray, bytes)):
            self.restoreGeometry(QtCore.QByteArray(geom))
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

    # ------------------------------------------------------------------ actions
    def _action(self, name: str, text: str, slot, keys=(), tip: str = "", checkable: bool = False,
                context=QtCore.Qt.ShortcutContext.ApplicationShortcut) -> QtGui.QAction:
        a = QtGui.QAction(text, self)
        a.setObjectName(name)
        seqs: list[QtGui.QKeySequence] = []
        for k in keys:  # standard keys may repeat an explicit one: duplicates make shortcuts ambiguous
            for q in (QtGui.QKeySequence.keyBindings(k) if isinstance(k, QtGui.QKeySequence.StandardKey)
                      else [QtGui.QKeySequence(k)]):
                if q not in seqs and not q.isEmpty():
                    seqs.append(q)
        a.setShortcuts(seqs)
        a.setShortcutContext(context)
        a.setCheckable(checkable)
        shown = " / ".join(q.toString(QtGui.QKeySequence.SequenceFormat.NativeText) for q in seqs)
        a.setToolTip(f"{tip or text} ({shown})" if shown else (tip or text))
        a.triggered.connect(slot)
        self.addAction(a)
        self.act[name] = a
        return a

    def _make_actions(self) -> None:
        self.act: dict[str, QtGui.QAction] = {}
        c = self.controller
        K = QtCore.Qt.Key
        M = QtCore.Qt.KeyboardModifier
        seq = lambda *parts: QtGui.QKeySequence(QtCore.QKeyCombination(*parts))  # noqa: E731
        self._action("play", "▶ Play", c.toggle_play, [K.Key_Space], "Play / pause training")
        self._action("step", "Step ▸", c.step_record, [K.Key_Right, K.Key_PageDown],
                     "Next record: one timestep of the forward or backward pass")
        self._action("back", "◂ Back", c.step_back, [K.Key_Left, K.Key_PageUp],
                     "Previous record of this iteration (replay)")
        self._action("phase", "Phase ▸▸", c.step_phase, [seq(M.ShiftModifier, K.Key_Right)], "Next phase")
        self._action("phase_back", "◂◂ Phase", c.step_phase_back, [seq(M.ShiftModifier, K.Key_Left)],
                     "Start of this phase / the previous phase")
        self._action("iteration", "Iteration ▸▸▸", c.step_iteration, [seq(M.ControlModifier, K.Key_Right)],
                     "One whole iteration")
        self._action("reset", "Reset", self._reset, [K.Key_R], "Start again from iteration 0")
        self._action("rollback", "Roll back", c.rollback, [QtGui.QKeySequence.StandardKey.Undo],
                     "Restore the last finite parameters after a blow-up")
        self._action("fullscreen", "Full screen", self.toggle_full_screen, [K.Key_F11], checkable=True)
        self._action("leave_fullscreen", "Leave full screen", self.leave_full_screen, [K.Key_Escape],
                     context=QtCore.Qt.ShortcutContext.WindowShortcut)
        self._action("zoom_in", "Zoom in", lambda: self.zoom(ZOOM_STEP),
                     [QtGui.QKeySequence.StandardKey.ZoomIn, seq(M.ControlModifier, K.Key_Equal)])
        self._action("zoom_out", "Zoom out", lambda: self.zoom(1 / ZOOM_STEP),
                     [QtGui.QKeySequence.StandardKey.ZoomOut, seq(M.ControlModifier, K.Key_Minus)])
        self._action("zoom_reset", "Actual size", lambda: self.zoom(None), [seq(M.ControlModifier, K.Key_0)])
        self._action("shortcuts", "Keyboard shortcuts", self.show_shortcuts,
                     [K.Key_Question, seq(M.ShiftModifier, K.Key_Question), K.Key_F1])
        self._action("colour_mode", "Colour nodes by delta size", self.toggle_graph_mode, [K.Key_D], checkable=True)
        self._action("colourblind", "Colour-blind-safe colour map", self.toggle_colourblind, [], checkable=True)
        self._action("reset_layout", "Reset layout", self.reset_layout, [])
        self._action("quit", "Quit", self.close, [QtGui.QKeySequence.StandardKey.Quit])

    def _make_menus(self) -> None:
        mb = self.menuBar()
        m = mb.addMenu("&Run")
        for n in ("play", "step", "back", "phase", "phase_back", "iteration", None, "reset", "rollback", None,
                  "quit"):
            m.addSeparator() if n is None else m.addAction(self.act[n])
        presets = mb.addMenu("&Presets")
        for name in list_presets():
            presets.addAction(name, lambda n=name: self._load_preset(n, ask=True))
        v = mb.addMenu("&View")
        for d in self.docks.values():
            v.addAction(d.toggleViewAction())
        v.addSeparator()
        for n in ("colour_mode", "colourblind", None, "zoom_in", "zoom_out", "zoom_reset", "fullscreen", None,
                  "reset_layout"):
            v.addSeparator() if n is None else v.addAction(self.act[n])
        h = mb.addMenu("&Help")
        h.addAction(self.act["shortcuts"])

    def shortcut_rows(self) -> list[tuple[str, str]]:
        return [("Space", "play / pause training"), ("→  /  ←", "next / previous record (timestep)"),
                ("Shift+→  /  Shift+←", "next phase / back to the phase start"),
                ("Ctrl+→", "one whole iteration"), ("R", "reset to iteration 0"),
                ("D", "colour nodes by activation / by delta size"), ("Ctrl+Z", "roll back after a blow-up"),
                ("Ctrl+=  Ctrl+-  Ctrl+0", "zoom in / out / actual size"),
                ("F11  /  Esc", "full screen / leave it; Esc also leaves a settings field"),
                ("Page Down / Page Up", "next / previous record, or scenario stop (presenter clickers)"),
                *getattr(self, "extra_shortcut_rows", ()),
                *getattr(getattr(self, "gradient_lab", None), "shortcut_rows", ()), ("?", "this overview")]

    def _make_status_bar(self) -> None:
        sb = self.statusBar()
        sb.setObjectName("status")
        self.status_labels = {k: QtWidgets.QLabel("") for k in ("iteration", "phase", "loss", "state")}
        for k, lab in self.status_labels.items():
            lab.setObjectName(f"status_{k}")
            lab.setContentsMargins(8, 0, 8, 0)
            sb.addPermanentWidget(lab)

    # ------------------------------------------------------------------ bindings
    def _bind_views(self) -> None:
        c = self.controller

        def trace_key():
            return (c.generation, id(c.trace), c.cursor if c.trace is not None else -1)

        def push_graph():
            td = c.trace_data() or skeleton(c.session)
            cur = c.cursor if c.trace is not None else -1
            mode = self.graph.current_mode()
            if isinstance(td, MLPTrace):
                self.graph.show_frame(mlp_frame(td, cur, c.session.model.params, mode))
            else:
                self.graph.show_frame(recurrent_frame(td, cur, mode))

        def push_deltas():
            td = c.trace_data() or skeleton(c.session)
            self.deltas.set_quantities(available_quantities(td))
            cur = c.cursor if c.trace is not None else -1
            self.deltas.show_frame(deltas_frame(td, cur, self.deltas.current_quantity()))

        def push_weights():
            s = c.session
            names = list(s.model.params)
            default = recurrent_matrix_name(s) or names[0]
            self.weights.set_parameters(names, default)
            name = self.weights.current_parameter() or default
            stepping = c.trace is not None and not c.playing
            self.weights.show_frame(weights_frame(s, name, c.trace if stepping else None,
                                                  c.cursor if stepping else None))
            x, series = c.spectral.data()
            title = ("recurrent matrix over training" if s.cfg.is_recurrent
                     else "largest singular value of each layer over training")
            self.weights.show_spectrum(x, series, title)

        decay = DecayPresenter()

        def push_decay():
            s = c.session
            f = c.binding("decay view").prepared()
            if isinstance(f, str):
                self.decay.show_message(f)
                return
            self.decay.show_frame(f)
            it, t_last = self._decay_last
            now = time.perf_counter()
            if s.iteration != it and (not c.playing or now - t_last > 0.6):
                self._decay_history.append(f.curve)
                self._decay_last = (s.iteration, now)

        def push_loss():
            self.loss.show_frame(loss_frame(c.session))

        def prepare_task():  # sampling through the model: the costly part, Qt-free
            s = c.session
            return s.task.view(s.model), list(s.samples), s.task.describe()

        def push_task():
            view, samples, text = c.binding("task view").prepared()
            self.task.show_view(view, samples, text)

        gen_it = lambda: (c.generation, c.session.iteration)  # noqa: E731
        c.bind(ViewBinding("unrolled graph", self.graph, lambda: trace_key() + (self.graph.current_mode(),),
                           push_graph, min_interval=1 / 90, urgent=True, animate=self.graph.animate, needs_trace=True))
        c.bind(ViewBinding("deltas view", self.deltas, lambda: trace_key() + (self.deltas.current_quantity(),),
                           push_deltas, min_interval=1 / 15, urgent=True, needs_trace=True))
        c.bind(ViewBinding("weights view", self.weights,
                           lambda: trace_key() + gen_it() + (self.weights.current_parameter(), c.playing),
                           push_weights, min_interval=1 / 15, urgent=True))
        # secondary views: 15 updates a second while training (smooth enough to follow; more would
        # take frames from the graph)
        c.bind(ViewBinding("loss view", self.loss, gen_it, push_loss, min_interval=1 / 15))
        c.bind(ViewBinding("decay view", self.decay, gen_it, push_decay, min_interval=1 / 15,
                           prepare=lambda: decay.frame(c.session, list(self._decay_history))))
        c.bind(ViewBinding("task view", self.task, gen_it, push_task, min_interval=1.0, prepare=prepare_task))
        # the status bar is a view too: at most 10 updates a second while training
        c.bind(ViewBinding("status bar", self.statusBar(), lambda: (c.version, c.playing, c.generation),
                           self._update_status, min_interval=0.1, urgent=True))

    def _refresh(self, name: str) -> None:
        """Repaint one view now (after its own control changed)."""
        key = {"graph": "unrolled graph", "deltas": "deltas view", "weights": "weights view"}[name]
        b = self.controller.binding(key)
        b.last_key = None
        b.last_push = -math.inf
        self.controller.paint(urgent_only=True)
        if name == "graph":
            self.act["colour_mode"].setChecked(self.graph.current_mode() == "delta")

    # ------------------------------------------------------------------ reactions
    def _session_replaced(self) -> None:
        s = self.controller.session
        self.config.set_config(s.cfg)
        self._decay_history.clear()
        self._decay_last = (-1, -math.inf)
        title = s.cfg.title or s.task.describe()
        self.setWindowTitle(f"bpttviz — {title}")
        self._update_status()

    def _apply_live(self, changes: dict) -> None:
        try:
            self.controller.set_hyper(**changes)
        except ValueError as e:
            self.config.show_error(str(e))
            return
        self.config.cfg = self.controller.session.cfg
        self.config.show_error(None)
        self._update_status()

    def _rebuild(self, cfg) -> None:
        try:
            self.controller.rebuild(cfg)
        except ValueError as e:
            self.config.show_error(str(e))
            return
        self.statusBar().showMessage("Rebuilt the model: iteration 0", 6000)

    def _load_preset(self, name: str, ask: bool = False) -> None:
        if ask and not self.config.confirm(f"Load the preset '{name}'?\nTraining restarts from iteration 0."):
            return
        try:
            self.controller.load_preset(name)
        except ValueError as e:
            self.config.show_error(str(e))

    def _reset(self) -> None:
        self.controller.reset()

    def _playing_changed(self, playing: bool) -> None:
        self.act["play"].setText("❚❚ Pause" if playing else "▶ Play")
        self._update_status()

    def _update_status(self) -> None:
        st = self.controller.status()
        lab = self.status_labels
        lab["iteration"].setText(f"iteration {st['iteration']}")
        where = f"{st['phase']}" + (f", {st['where']}" if st["where"] else "")
        if st["cursor"] is not None and not st["playing"]:
            where += f"  (record {st['cursor'] + 1}/{st['records']})"
        lab["phase"].setText(where or ("training" if st["playing"] else "—"))
        loss = "—" if st["loss"] is None else f"{st['loss']:.4g}"
        lab["loss"].setText(f"{st['loss_label']}: {loss}")
        lab["state"].setText("▶ playing" if st["playing"] else ("⚠ non-finite: paused" if st["blowup"] else "paused"))

    def show_error(self, summary: str, details: str = "") -> None:
        """An error from stepping or painting: a status message always, a dialog once per error."""
        from .crash import show_error_dialog  # a details area and "Copy details" (issue 8)

        show_error_dialog(self, summary, details)

    def show_blowup(self, message: str) -> None:
        """Training paused on a non-finite value: where, what was kept, Roll back / Keep paused."""
        from .crash import show_blowup_dialog

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
                  "loss": "", "state": "⚠ non-finite: paused"}
        for k, lab in self.status_labels.items():
            lab.setFont(f)
            if widths[k]:  # fixed widths: changing numbers must not relayout the status bar
                lab.setMinimumWidth(fm.horizontalAdvance(widths[k]) + 16)
        for d in self.docks.values():
            d.setFont(f)
        self.setStyleSheet(f"QMainWindow {{ background: {theme.panel}; }}"
                           f"QDockWidget {{ font-size: {theme.points(1.0):.1f}pt; }}"
                           f"QDockWidget::title {{ background: {theme.panel}; padding: 3px 6px; }}")
        self.overlay.theme = theme
        for v in (self.graph, self.deltas, self.weights, self.decay, self.loss, self.task, self.config,
                  self.transport):
            v.apply_theme(theme)
        if getattr(self, "gradient_lab", None) is not None:
            self.gradient_lab.apply_theme(theme)
        if getattr(self, "classroom", None) is not None:
            self.classroom.apply_theme(theme)
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

    def show_shortcuts(self) -> None:
        self.overlay.theme = self.theme
        self.overlay.show_for(self.shortcut_rows())

    def resizeEvent(self, ev: QtGui.QResizeEvent) -> None:
        super().resizeEvent(ev)
        if self.overlay.isVisible():
            self.overlay.setGeometry(self.rect())
