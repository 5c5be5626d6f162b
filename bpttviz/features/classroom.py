"""The classroom features in the main window: lecture mode, the explain panel, guided scenarios
with their caption bar, the side-by-side comparison, and the File menu (save/open sessions,
export views and the window, record animations).

``Classroom(window)`` adds all of it to a ``MainWindow`` (a window feature registered as
``"classroom"``: see ``bpttviz.window.feature``); its parts, found with ``window.part(name)``, are
``"lecture"``, ``"explain"``, ``"scenario"``, ``"comparison"`` and ``"files"``.
``apply_command_line`` does what ``--lecture``, ``--open`` and a lecture ``--preset`` ask for once
the window exists.

Keys: F5 / Ctrl+L lecture mode; Page Down / Page Up the next / previous stop of a scenario (the
next / previous record otherwise: presenter clickers send these); U / Shift+U the explained unit;
Ctrl+S / Ctrl+Shift+S / Ctrl+O save, save as, open; Ctrl+E / Ctrl+Shift+E export the current view /
the window; Ctrl+Shift+R start / stop recording.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from PySide6 import QtCore, QtGui, QtWidgets

from bpttviz.engine.explain import explain
from bpttviz.features.compare import Comparison
from bpttviz.features.file_actions import VIEW_TITLES, FileActions
from bpttviz.features.lecture import LectureMode, PresenterBar, tidy_tab_bars
from bpttviz.features.scenario_player import ScenarioPlayer
from bpttviz.views.caption_bar import CaptionBar
from bpttviz.views.explain_view import ExplainView
from bpttviz.views.theme import Theme
from bpttviz.window.controller import ViewBinding
from bpttviz.window.feature import Feature, key

K = QtCore.Qt.Key
M = QtCore.Qt.KeyboardModifier

SHORTCUT_ROWS = [
    ("F5  /  Ctrl+L", "lecture mode on / off (full screen, large type)"),
    ("U  /  Shift+U", "next / previous unit in the explain panel"),
    ("Ctrl+S  Ctrl+O", "save / open the session"),
    ("Ctrl+E  Ctrl+Shift+E", "export the current view / the window (PNG, SVG)"),
    ("Ctrl+Shift+R", "record an animation / stop and save it"),
]


class Classroom(QtCore.QObject, Feature):
    """Owns the classroom pieces of one window and their actions, menus and bindings."""

    name = "classroom"

    def __init__(self, window) -> None:
        super().__init__(window)
        self.window = window
        c = self.controller = window.controller
        th = window.theme

        # ---- views and docks: explain in a tab beside the task (left; it stays visible in
        # lecture mode, where the configuration is hidden), the second graph beside the weights
        A = QtCore.Qt.DockWidgetArea
        self.explain = ExplainView(th)
        self.explain_dock = window.add_dock("explain", "Explain", self.explain, beside="task",
                                            fallback=A.LeftDockWidgetArea)
        self.comparison = Comparison(window, c)
        self.compare_dock = window.add_dock("compare", "Second model", self.comparison.graph, beside="weights",
                                            fallback=A.RightDockWidgetArea, register=False)
        self.compare_dock.hide()
        for name in ("config", "task"):
            if name in window.docks and window.docks[name].isVisible():
                window.docks[name].raise_()
                break
        self.caption = CaptionBar(th)
        self.caption_bar = window.add_toolbar_row("caption_bar_row", "Scenario caption", self.caption)

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
        window.installEventFilter(self)

    # ------------------------------------------------------------------ the feature hooks
    def parts(self) -> Mapping[str, Any]:
        return {"explain": self.explain, "comparison": self.comparison, "scenario": self.player,
                "lecture": self.lecture, "files": self.files}

    def shortcut_rows(self) -> list[tuple[str, str]]:
        return list(SHORTCUT_ROWS)

    def holds_layout(self) -> bool:
        return self.lecture.active  # lecture mode lays the docks out itself

    def layout_reset(self) -> None:
        if not self.comparison.active:
            self.compare_dock.hide()

    # ------------------------------------------------------------------ set-up
    def _make_actions(self) -> None:
        w, p, f = self.window, self.player, self.files
        # Page Down / Page Up: scenario stops when a scenario runs, records otherwise (one action
        # per key: the same key on two actions would make both ambiguous)
        for name, page in (("step", K.Key_PageDown), ("back", K.Key_PageUp)):
            w.set_action_keys(name, [s for s in w.act[name].shortcuts() if s != QtGui.QKeySequence(page)])
        w.add_action("clicker_next", "Next stop / record", self.clicker_next, [K.Key_PageDown],
                     "Next stop of the scenario, or the next record (presenter clickers)")
        w.add_action("clicker_back", "Previous stop / record", self.clicker_back, [K.Key_PageUp],
                     "Previous stop of the scenario, or the previous record (presenter clickers)")
        w.add_action("next_stop", "Stop ▸", p.next, [], "Next stop of the scenario (Page Down)")
        w.add_action("prev_stop", "◂ Stop", p.previous, [], "Previous stop of the scenario, replayed (Page Up)")
        w.add_action("restart_scenario", "Restart the scenario", p.restart, [], "Back to the first stop")
        w.add_action("end_scenario", "End the scenario", p.end, [], "Hide the caption; the session stays as it is")
        w.add_action("lecture", "Lecture mode", self.lecture_toggle, [K.Key_F5, key(M.ControlModifier, K.Key_L)],
                     "Full screen, large type, projector colours", checkable=True)
        w.add_action("unit_next", "Next unit", lambda: self.explain.step_unit(1), [K.Key_U],
                     "Explain the next hidden unit")
        w.add_action("unit_prev", "Previous unit", lambda: self.explain.step_unit(-1),
                     [key(M.ShiftModifier, K.Key_U)], "Explain the previous hidden unit")
        w.add_action("save", "Save session", f.save, [QtGui.QKeySequence.StandardKey.Save],
                     "Save the whole session (parameters, optimiser, histories, position)")
        w.add_action("save_as", "Save session as…", f.save_as,
                     [key(M.ControlModifier | M.ShiftModifier, K.Key_S)], "Save the session to a new file")
        w.add_action("open", "Open session…", f.open, [QtGui.QKeySequence.StandardKey.Open],
                     "Open a saved session exactly where it was")
        w.add_action("export_view", "Export view…", f.export_view, [key(M.ControlModifier, K.Key_E)],
                     "The current view as PNG or SVG")
        w.add_action("export_window", "Export window…", f.export_window,
                     [key(M.ControlModifier | M.ShiftModifier, K.Key_E)], "The whole window as PNG or SVG")
        w.add_action("record", "Record animation", f.toggle_recording,
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
        view_menu = w.menu("View")
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
        self.controller.refresh(f"{name} view")

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
            # raised again: e.g. after lecture mode laid the docks out anew
            self.window.raise_view(stop.focus, bring_forward=not self.player.busy)

    def _close_stale_dialogs(self) -> None:
        """A new session (a scenario's "start again", reset, a preset): the blow-up message of the
        old one no longer applies (and would cover the projected picture)."""
        for box in list(self.window.dialogs):
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



def apply_command_line(window, *, lecture: bool = False, position: dict | None = None, opened: bool = False,
                       full_screen: bool = True) -> None:
    """What the command line asks for once the window exists: a session opened with ``--open``
    goes back to its saved ``position``; a preset with a scenario starts it; ``--lecture``."""
    from bpttviz.features.file_actions import apply_session

    room = window.feature("classroom")
    if room is None:
        raise ValueError("the window has no classroom feature: build it with bpttviz.app.build_window")
    c = window.controller
    if lecture:
        room.lecture.enter(full_screen=full_screen)
    if opened:
        apply_session(window, c.session, position)
    elif c.session.cfg.extras.get("scenario") is not None:
        room.player.start(c.session.cfg)
