"""The classroom features in the main window (issue 7, in the app): lecture mode, the explain
panel, guided scenarios with their caption bar, the side-by-side comparison, and the File menu
(save/open sessions, export views and the window, record animations).

``install_classroom(window)`` adds all of it to a ``MainWindow`` and returns the ``Classroom``
(also ``window.classroom``); the pieces are ``window.lecture``, ``window.explain``,
``window.scenario``, ``window.comparison`` and ``window.files``. ``apply_command_line`` does what
``--lecture``, ``--open`` and a lecture ``--preset`` ask for once the window exists.

Keys: F5 / Ctrl+L lecture mode; Page Down / Page Up the next / previous stop of a scenario (the
next / previous record otherwise: presenter clickers send these); U / Shift+U the explained unit;
Ctrl+S / Ctrl+Shift+S / Ctrl+O save, save as, open; Ctrl+E / Ctrl+Shift+E export the current view /
the window; Ctrl+Shift+R start / stop recording.
"""

from __future__ import annotations

import math
from typing import Any

from PySide6 import QtCore, QtGui, QtWidgets

from bpttviz.engine.explain import explain
from bpttviz.features.compare import Comparison
from bpttviz.features.file_actions import VIEW_TITLES, FileActions, key
from bpttviz.features.lecture import LectureMode, PresenterBar, tidy_tab_bars
from bpttviz.features.scenario_player import ScenarioPlayer
from bpttviz.views.caption_bar import CaptionBar
from bpttviz.views.explain_view import ExplainView
from bpttviz.views.theme import Theme
from bpttviz.window.controller import ViewBinding

K = QtCore.Qt.Key
M = QtCore.Qt.KeyboardModifier

SHORTCUT_ROWS = [
    ("F5  /  Ctrl+L", "lecture mode on / off (full screen, large type)"),
    ("U  /  Shift+U", "next / previous unit in the explain panel"),
    ("Ctrl+S  Ctrl+O", "save / open the session"),
    ("Ctrl+E  Ctrl+Shift+E", "export the current view / the window (PNG, SVG)"),
    ("Ctrl+Shift+R", "record an animation / stop and save it"),
]


class Classroom(QtCore.QObject):
    """Owns the classroom pieces of one window and their actions, menus and bindings."""

    def __init__(self, window) -> None:
        super().__init__(window)
        self.window = window
        c = self.controller = window.controller
        th = window.theme

        # ---- views and docks
        self.explain = ExplainView(th)
        self.explain_dock = self._dock("explain", "Explain", self.explain, register=True)
        self.comparison = Comparison(window, c)
        self.compare_dock = self._dock("compare", "Second model", self.comparison.graph, register=False)
        self.caption = CaptionBar(th)
        self.caption_bar = self._toolbar_row("caption_bar_row", "Scenario caption", self.caption)
        self._place_docks()

        # ---- the scenario player, lecture mode, files
        self.files = FileActions(window)
        self.player = ScenarioPlayer(window, c, self.comparison, self.caption, holder=self.caption_bar)
        self._make_actions()
        self.presenter = PresenterBar([window.act["back"], window.act["step"], window.act["play"], None,
                                       window.act["prev_stop"], window.act["next_stop"], None,
                                       window.act["lecture"]], th, window)
        window.insertToolBar(window.transport, self.presenter)  # the same row as the transport
        self.lecture = LectureMode(window, self.presenter, {"compare": self.compare_dock})
        self._make_menus()
        self._add_to_transport()

        # ---- wiring
        self.explain.unit_changed.connect(lambda _u: self._refresh("explain"))
        self.player.changed.connect(self._scenario_changed)
        self.comparison.changed.connect(self._comparison_changed)
        self.lecture.toggled.connect(lambda _on: self._scenario_changed())
        c.session_replaced.connect(self._close_stale_dialogs)
        self._bind()
        self.comparison.bind()
        self._scenario_changed()
        self.caption_bar.hide()

        window.explain = self.explain
        window.comparison = self.comparison
        window.scenario = self.player
        window.lecture = self.lecture
        window.files = self.files
        window.extra_shortcut_rows = SHORTCUT_ROWS
        window.installEventFilter(self)

    # ------------------------------------------------------------------ set-up
    def _dock(self, name: str, title: str, widget: QtWidgets.QWidget, register: bool) -> QtWidgets.QDockWidget:
        w = self.window
        dock = QtWidgets.QDockWidget(title, w)
        dock.setObjectName(f"dock_{name}")
        dock.setWidget(widget)
        dock.setFeatures(QtWidgets.QDockWidget.DockWidgetFeature.DockWidgetMovable
                         | QtWidgets.QDockWidget.DockWidgetFeature.DockWidgetFloatable
                         | QtWidgets.QDockWidget.DockWidgetFeature.DockWidgetClosable)
        dock.setFont(w.font())
        if register:
            w.docks[name] = dock
        return dock

    def _place_docks(self) -> None:
        """Explain in a tab beside the task (left; it stays visible in lecture mode, where the
        configuration is hidden), the second graph in a tab beside the weights (right)."""
        w = self.window
        for dock, anchor, fallback in ((self.explain_dock, "task", QtCore.Qt.DockWidgetArea.LeftDockWidgetArea),
                                       (self.compare_dock, "weights", QtCore.Qt.DockWidgetArea.RightDockWidgetArea)):
            a = w.docks.get(anchor)
            area = w.dockWidgetArea(a) if a is not None else fallback
            if area == QtCore.Qt.DockWidgetArea.NoDockWidgetArea:
                area = fallback
            w.addDockWidget(area, dock)
            if a is not None and not a.isFloating():
                w.tabifyDockWidget(a, dock)
                a.raise_()
            w.restoreDockWidget(dock)  # where the user left it last time, if anywhere
        self.compare_dock.hide()
        for name in ("config", "task"):
            if name in w.docks and w.docks[name].isVisible():
                w.docks[name].raise_()
                break

    def _toolbar_row(self, name: str, title: str, widget: QtWidgets.QWidget) -> QtWidgets.QToolBar:
        """A full-width row of the top tool bar area holding ``widget`` (the caption bar)."""
        w = self.window
        bar = QtWidgets.QToolBar(title, w)
        bar.setObjectName(name)
        bar.setMovable(False)
        bar.setFloatable(False)
        bar.toggleViewAction().setVisible(False)
        bar.setContextMenuPolicy(QtCore.Qt.ContextMenuPolicy.PreventContextMenu)
        bar.setStyleSheet("QToolBar { border: 0px; padding: 0px; spacing: 0px; }")
        widget.setSizePolicy(QtWidgets.QSizePolicy.Policy.Expanding, QtWidgets.QSizePolicy.Policy.Fixed)
        bar.addWidget(widget)
        w.addToolBarBreak(QtCore.Qt.ToolBarArea.TopToolBarArea)
        w.addToolBar(QtCore.Qt.ToolBarArea.TopToolBarArea, bar)
        return bar

    def _make_actions(self) -> None:
        w, p, f = self.window, self.player, self.files
        # Page Down / Page Up: scenario stops when a scenario runs, records otherwise (one action
        # per key: the same key on two actions would make both ambiguous)
        for name, page in (("step", K.Key_PageDown), ("back", K.Key_PageUp)):
            a = w.act[name]
            a.setShortcuts([s for s in a.shortcuts() if s != QtGui.QKeySequence(page)])
            shown = " / ".join(s.toString(QtGui.QKeySequence.SequenceFormat.NativeText) for s in a.shortcuts())
            a.setToolTip(f"{a.toolTip().split(' (')[0]} ({shown})")
        w._action("clicker_next", "Next stop / record", self.clicker_next, [K.Key_PageDown],
                  "Next stop of the scenario, or the next record (presenter clickers)")
        w._action("clicker_back", "Previous stop / record", self.clicker_back, [K.Key_PageUp],
                  "Previous stop of the scenario, or the previous record (presenter clickers)")
        w._action("next_stop", "Stop ▸", p.next, [], "Next stop of the scenario (Page Down)")
        w._action("prev_stop", "◂ Stop", p.previous, [], "Previous stop of the scenario, replayed (Page Up)")
        w._action("restart_scenario", "Restart the scenario", p.restart, [], "Back to the first stop")
        w._action("end_scenario", "End the scenario", p.end, [], "Hide the caption; the session stays as it is")
        w._action("lecture", "Lecture mode", self.lecture_toggle, [K.Key_F5, key(M.ControlModifier, K.Key_L)],
                  "Full screen, large type, projector colours", checkable=True)
        w._action("unit_next", "Next unit", lambda: self.explain.step_unit(1), [K.Key_U],
                  "Explain the next hidden unit")
        w._action("unit_prev", "Previous unit", lambda: self.explain.step_unit(-1),
                  [key(M.ShiftModifier, K.Key_U)], "Explain the previous hidden unit")
        w._action("save", "Save session", f.save, [QtGui.QKeySequence.StandardKey.Save],
                  "Save the whole session (parameters, optimiser, histories, position)")
        w._action("save_as", "Save session as…", f.save_as,
                  [key(M.ControlModifier | M.ShiftModifier, K.Key_S)], "Save the session to a new file")
        w._action("open", "Open session…", f.open, [QtGui.QKeySequence.StandardKey.Open],
                  "Open a saved session exactly where it was")
        w._action("export_view", "Export view…", f.export_view, [key(M.ControlModifier, K.Key_E)],
                  "The current view as PNG or SVG")
        w._action("export_window", "Export window…", f.export_window,
                  [key(M.ControlModifier | M.ShiftModifier, K.Key_E)], "The whole window as PNG or SVG")
        w._action("record", "Record animation", f.toggle_recording,
                  [key(M.ControlModifier | M.ShiftModifier, K.Key_R)],
                  "Record the window while training or stepping; again to stop and save (GIF or PNG frames)",
                  checkable=True)
        self.presenter_actions = ("prev_stop", "next_stop")

    def _make_menus(self) -> None:
        w = self.window
        mb = w.menuBar()
        file_menu = QtWidgets.QMenu("&File", w)
        file_menu.setObjectName("file_menu")
        for n in ("open", "save", "save_as"):
            file_menu.addAction(w.act[n])
        file_menu.addSeparator()
        export_menu = file_menu.addMenu("Export view")
        export_menu.setObjectName("export_view_menu")
        for name, title in VIEW_TITLES.items():
            export_menu.addAction(f"{title}…", lambda n=name: self.files.export_view(n))
        file_menu.addAction(w.act["export_view"])
        file_menu.addAction(w.act["export_window"])
        file_menu.addAction(w.act["record"])
        first = mb.actions()[0] if mb.actions() else None
        mb.insertMenu(first, file_menu) if first is not None else mb.addMenu(file_menu)

        scen = QtWidgets.QMenu("&Scenario", w)
        scen.setObjectName("scenario_menu")
        nxt = scen.addAction("Next stop\tPage Down", self.player.next)
        prv = scen.addAction("Previous stop\tPage Up", self.player.previous)
        scen.addSeparator()
        scen.addAction(w.act["restart_scenario"])
        scen.addAction(w.act["end_scenario"])
        self.scenario_menu_actions = [nxt, prv, w.act["restart_scenario"], w.act["end_scenario"]]
        view_menu = next((a.menu() for a in mb.actions() if a.menu() is not None
                          and a.menu().title().replace("&", "") == "View"), None)
        if view_menu is not None:
            before = next((a for a in view_menu.actions() if a.isSeparator()), None)  # after the dock toggles
            view_menu.insertAction(before, self.explain_dock.toggleViewAction())
            view_menu.insertAction(before, self.compare_dock.toggleViewAction())
            view_menu.addSeparator()
            view_menu.addAction(w.act["lecture"])
            mb.insertMenu(view_menu.menuAction(), scen)
        else:
            mb.addMenu(scen)

    def _add_to_transport(self) -> None:
        t = self.window.transport
        self.transport_separator = t.addSeparator()
        for n in self.presenter_actions:
            t.addAction(self.window.act[n])
            b = t.widgetForAction(self.window.act[n])
            if b is not None:
                b.setFocusPolicy(QtCore.Qt.FocusPolicy.NoFocus)
                b.setObjectName(f"button_{n}")

    def _bind(self) -> None:
        c, view = self.controller, self.explain

        def key_() -> tuple:
            m = c.moment
            return (m.generation, m.iteration, m.record, id(m.narration), view.current_unit())

        def push() -> None:
            s = c.session
            m = c.moment
            view.set_unit_count(s.model.hidden_size if s.cfg.is_recurrent else max(s.model.layer_sizes[1:]))
            rec = m.rec
            if rec is None:
                view.set_moment(m.where())
                view.show_message("Step with → or Page Down: the equation of the current step appears here, "
                                  "with the numbers of the selected unit.")
                return
            n = m.narration
            # the records' own parameters and the optimiser as it was right after this update: exact
            # for any kept iteration, whatever the session has done since
            context: dict[str, Any] = {"records": n.trace, "optimizer": n.optimizer,
                                       "clipper": n.clipper or s.clipper, "params": n.before}
            view.set_moment(m.where())
            view.show_explanation(explain(rec, s.model, view.current_unit(), context))

        c.bind(ViewBinding("explain view", view, key_, push, min_interval=0.25, urgent=True, needs_trace=True))

    # ------------------------------------------------------------------ behaviour
    def clicker_next(self) -> None:
        if self.player.active:
            self.player.next()
        else:
            self.controller.step_record()

    def clicker_back(self) -> None:
        if self.player.active:
            self.player.previous()
        else:
            self.controller.step_back()

    def lecture_toggle(self) -> None:
        self.lecture.toggle()
        self.window.act["lecture"].setChecked(self.lecture.active)

    def _refresh(self, name: str) -> None:
        b = self.controller.binding(f"{name} view")
        b.last_key = None
        b.last_push = -math.inf
        self.controller.paint(urgent_only=True)

    def _scenario_changed(self) -> None:
        on = self.player.active
        for n in self.presenter_actions:
            self.window.act[n].setVisible(on)
        self.transport_separator.setVisible(on)
        for a in self.scenario_menu_actions:
            a.setEnabled(on)
        if on:
            self.player.show_caption()
        else:
            self.caption_bar.hide()
        stop = self.player.current
        if stop is not None and stop.focus and stop.focus in self.window.docks:
            self.window.last_raised_view = stop.focus
            if not self.player.busy:
                self.window.docks[stop.focus].raise_()  # e.g. after lecture mode laid the docks out anew

    def _close_stale_dialogs(self) -> None:
        """A new session (a scenario's "start again", reset, a preset): the blow-up message of the
        old one no longer applies (and would cover the projected picture)."""
        for box in list(getattr(self.window, "dialogs", [])):
            try:
                if box.objectName() == "blowup_dialog" and box.isVisible():
                    box.close()
            except RuntimeError:  # already deleted
                pass

    def _comparison_changed(self) -> None:
        on = self.comparison.active
        self.compare_dock.setWindowTitle(f"Second model: {self.comparison.labels()[1]}" if on else "Second model")
        if on and not self.compare_dock.isVisible():
            self.compare_dock.show()
            self.compare_dock.raise_()
        elif not on and self.compare_dock.isVisible():
            self.compare_dock.hide()
        if not on:
            self.comparison.refresh()
        QtCore.QTimer.singleShot(50, lambda: tidy_tab_bars(self.window))

    def eventFilter(self, obj: QtCore.QObject, ev: QtCore.QEvent) -> bool:
        if obj is self.window and ev.type() == QtCore.QEvent.Type.Show:
            QtCore.QTimer.singleShot(100, lambda: tidy_tab_bars(self.window))
        return False

    def apply_theme(self, theme: Theme) -> None:
        for v in (self.explain, self.comparison.graph, self.caption, self.presenter):
            v.apply_theme(theme)
        self.explain_dock.setFont(self.window.font())
        self.compare_dock.setFont(self.window.font())


def install_classroom(window) -> Classroom:
    """Add the classroom features to ``window`` (a ``MainWindow``); idempotent."""
    room = getattr(window, "classroom", None)
    if room is None:
        room = Classroom(window)
        window.classroom = room
    return room


def apply_command_line(window, *, lecture: bool = False, position: dict | None = None, opened: bool = False,
                       full_screen: bool = True) -> None:
    """What the command line asks for once the window exists: a session opened with ``--open``
    goes back to its saved ``position``; a preset with a scenario starts it; ``--lecture``."""
    from bpttviz.features.file_actions import apply_session

    room = install_classroom(window)
    c = window.controller
    if lecture:
        room.lecture.enter(full_screen=full_screen)
    if opened:
        apply_session(window, c.session, position)
    elif c.session.cfg.extras.get("scenario") is not None:
        room.player.start(c.session.cfg)
