"""The gradient lab in the main window : the gradient-check dock, the bug
lab dock, the red banner while a bug is on, and the Gradients menu.

``GradientLab(window)`` adds all of it to a ``MainWindow`` (a window feature, registered as
``"gradient_lab"``: see ``bpttviz.window.feature``). It talks to the engine only through the window's
controller and its session (``session.set_bugs``, ``session.bugs``), like the rest of the app.

The model check runs at the moment on screen (``bpttviz.presenters.moment``): the moment's batch and the
parameters in force then (before the update for the forward..gradient records), and its text says
which moment. A model check's result is cleared when the model, its bugs or the preset change (it
would describe another model); a check of the learner's own file stays.

Bugs and rebuilds: a bug stays on through Reset, a rebuild from the settings and a preset, as
long as it applies to the new model and task (the ones that no longer apply are switched off,
with a message); a session opened from a file brings the bugs it was saved with. Whatever the
cause, the banner and the window title always show ``session.bugs``.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from PySide6 import QtCore, QtWidgets

from bpttviz.commands.check import FileCheck
from bpttviz.engine.gradients.bugs import BUGS, RECURRENT_ONLY
from bpttviz.engine.training.session import Session, model_with
from bpttviz.features.gradcheck_runs import FILE_TIMEOUT, FileCheckJob, check_session
from bpttviz.views.bug_lab_view import BugBanner, BugLabPanel
from bpttviz.views.gradcheck_view import GradCheckView
from bpttviz.window.feature import Feature, key

TITLE_MARK = " — ⚠ BUG LAB: "
#: rows for the keyboard overview (``?``)
SHORTCUT_ROWS = [("G", "check the model's gradients (the Gradient check view)"),
                 ("Ctrl+Shift+O", "check your own code: loss_and_grads in a .py file")]


def bug_reasons(session: Session) -> dict[str, str | None]:
    """name -> None when the bug applies to this session's model and task, else why not."""
    cfg, task = session.cfg, session.task
    out: dict[str, str | None] = {}
    for name in BUGS:
        why = None
        if name in RECURRENT_ONLY and not cfg.is_recurrent:
            why = "an MLP has no recurrence" if name != "targets_wrong_axis" else "an MLP reads no token stream"
        elif name.startswith("softmax") and task.loss != "cross_entropy":
            why = "this task's loss is the mean squared error: there is no softmax"
        elif name == "targets_wrong_axis" and not task.stateful:
            why = "only the language models shift a token stream into targets"
        elif name == "bias_not_summed" and cfg.batch_size == 1:
            why = "with batch size 1 the sum over the batch is the first example"
        out[name] = why
    return out


class BannerBar(QtWidgets.QToolBar):
    """The tool bar row holding the banner: visible exactly while ``wanted`` (restoring a saved
    window state, as lecture mode does on leaving, cannot bring back a stale banner)."""

    wanted = False

    def setVisible(self, visible: bool) -> None:  # noqa: N802 - Qt's name
        super().setVisible(bool(visible) and self.wanted)

    def want(self, on: bool) -> None:
        self.wanted = bool(on)
        self.setVisible(on)


class GradientLab(QtCore.QObject, Feature):
    """The wiring: actions, docks, banner, bug switches and gradient-check runs."""

    name = "gradient_lab"

    def __init__(self, window) -> None:
        super().__init__(window)
        self.window = window
        self.controller = window.controller
        self.theme = window.theme
        self.wanted: frozenset[str] = frozenset()  # the bugs the user switched on
        self.job: FileCheckJob | None = None
        self.last_file: str | None = None
        self._shown_bugs: frozenset[str] | None = None

        self.view = GradCheckView(window.theme)
        self.panel = BugLabPanel(window.theme)
        self.banner = BugBanner(window.theme)
        self._make_actions()
        self.view.set_actions(self.act_check, self.act_open)
        self._make_docks()
        self._make_banner()
        self._make_menu()

        c = self.controller
        self.panel.bugs_changed.connect(self.set_bugs)
        c.session_replaced.connect(self._session_replaced)
        c.state_changed.connect(self.sync)
        window.windowTitleChanged.connect(lambda _t: self._sync_title())
        window.installEventFilter(self)  # closing the window stops a running file check
        app = QtWidgets.QApplication.instance()
        if app is not None:
            app.aboutToQuit.connect(self.shutdown)
        self._session_replaced()

    def eventFilter(self, obj: QtCore.QObject, event: QtCore.QEvent) -> bool:  # noqa: N802 - Qt's name
        if obj is self.window and event.type() == QtCore.QEvent.Type.Close:
            self.shutdown()
        return False

    def shortcut_rows(self) -> list[tuple[str, str]]:
        return list(SHORTCUT_ROWS)

    # ------------------------------------------------------------------ set-up
    def _make_actions(self) -> None:
        w = self.window
        K, M = QtCore.Qt.Key, QtCore.Qt.KeyboardModifier
        self.act_check = w.add_action("check_gradients", "Check gradients", self.check_model, [K.Key_G],
                                      "Check the model's gradients on its last batch against central differences")
        self.act_open = w.add_action("open_code", "Open my code…", self.open_code,
                                     [key(M.ControlModifier | M.ShiftModifier, K.Key_O)],
                                     "Check your own loss_and_grads(params, inputs, targets) from a .py file")
        self.act_bugs_off = w.add_action("bugs_off", "All bugs off", lambda: self.set_bugs(()), [],
                                         "Switch every bug-lab mistake off: the correct engine again")

    def _make_docks(self) -> None:
        w, right = self.window, QtCore.Qt.DockWidgetArea.RightDockWidgetArea
        self.check_dock = w.add_dock("gradcheck", "Gradient check", self.view, beside="weights", fallback=right)
        self.lab_dock = w.add_dock("buglab", "Bug lab", self.panel, beside="config", fallback=right)

    def _make_banner(self) -> None:
        """The banner sits in its own full-width tool bar row under the transport bar."""
        w = self.window
        self.banner_bar = w.add_toolbar_row("bug_banner_bar", "Bug lab banner", self.banner,
                                            bar=BannerBar("Bug lab banner", w),
                                            height=QtWidgets.QSizePolicy.Policy.Preferred)

    def _make_menu(self) -> None:
        w = self.window
        menu = QtWidgets.QMenu("&Gradients", w)
        menu.setObjectName("gradients_menu")
        menu.addAction(self.act_check)
        menu.addAction(self.act_open)
        menu.addSeparator()
        menu.addAction(self.act_bugs_off)
        menu.addSeparator()
        menu.addAction(self.check_dock.toggleViewAction())
        menu.addAction(self.lab_dock.toggleViewAction())
        mb = w.menuBar()
        help_menu = w.menu("Help")
        if help_menu is not None:
            mb.insertMenu(help_menu.menuAction(), menu)
        else:
            mb.addMenu(menu)
        self.menu = menu
        view_menu = w.menu("View")
        if view_menu is not None:
            first = view_menu.actions()[0] if view_menu.actions() else None
            view_menu.insertAction(first, self.check_dock.toggleViewAction())
            view_menu.insertAction(first, self.lab_dock.toggleViewAction())

    def apply_theme(self, theme) -> None:
        self.theme = theme
        self.view.apply_theme(theme)
        self.panel.apply_theme(theme)
        self.banner.apply_theme(theme)

    # ------------------------------------------------------------------ bugs
    @property
    def session(self) -> Session:
        return self.controller.session

    def set_bugs(self, bugs: Iterable[str]) -> None:
        """Switch exactly ``bugs`` on (the applicable ones) in the current session."""
        bugs = frozenset(bugs)
        reasons = bug_reasons(self.session)
        refused = sorted(b for b in bugs if reasons.get(b, "unknown") is not None)
        bugs = bugs - set(refused)
        try:
            self.session.set_bugs(bugs)
        except ValueError as e:
            self.controller.message.emit(str(e))
            self.sync()
            return
        changed = frozenset(self.session.bugs) != self._shown_bugs
        self.wanted = bugs
        self.panel.set_status(f"Not applicable here: {', '.join(refused)}." if refused else "")
        if changed:
            self.clear_model_check("the bug-lab switches changed")
        self._changed_engine()
        if refused:
            self.controller.message.emit(f"Not applicable here: {', '.join(refused)}")
        elif bugs:
            self.controller.message.emit(f"Bug lab ON: {', '.join(sorted(bugs))}")
        else:
            self.controller.message.emit("Bug lab off: the correct engine again")

    def _changed_engine(self) -> None:
        """The numbers shown were computed by the other engine: drop the current trace's
        cached arrays so views redraw from the next step, and repaint."""
        self.sync()
        self.controller.notify()

    def clear_model_check(self, why: str) -> None:
        """Take a model check's result off the view (it described another model or other bugs);
        a check of the learner's own file stays."""
        v = self.view
        if v.report is None and v.problem is None or not v.source.startswith("Model"):
            return
        v.clear(f"No check of this model yet ({why}, so the last result was cleared): press “Check gradients” (G).")

    def _session_replaced(self) -> None:
        s = self.session
        self.clear_model_check("a new session started")
        self.panel.set_available(bug_reasons(s))
        if s.bugs:  # a session opened from a file brings its own bugs
            self.wanted = frozenset(s.bugs)
        elif self.wanted:  # keep the lab's bugs through reset, rebuild and presets
            reasons = bug_reasons(s)
            keep = frozenset(b for b in self.wanted if reasons.get(b) is None)
            dropped = sorted(self.wanted - keep)
            if keep:
                s.set_bugs(keep)
            if dropped:
                why = "; ".join(f"{b}: {reasons.get(b)}" for b in dropped)
                self.panel.set_status(f"Switched off by the new model or task (not applicable here): {why}.")
                self.controller.message.emit(f"Bug lab: {', '.join(dropped)} switched off (not applicable here)")
            self.wanted = keep
        self.sync()

    def sync(self) -> None:
        """Show ``session.bugs`` on the switches, the banner and the window title."""
        bugs = frozenset(self.session.bugs)
        if bugs == self._shown_bugs and self.banner_bar.isVisibleTo(self.window) == bool(bugs):
            return
        self._shown_bugs = bugs
        self.panel.set_active(bugs)
        self.banner.show_bugs(bugs)
        self.banner_bar.want(bool(bugs))
        self.act_bugs_off.setEnabled(bool(bugs))
        self._sync_title()

    def _sync_title(self) -> None:
        w = self.window
        title = w.windowTitle()
        base = title.split(TITLE_MARK, 1)[0]
        bugs = self._shown_bugs or frozenset()
        want = base + (TITLE_MARK + ", ".join(sorted(bugs)) if bugs else "")
        if want != title:
            w.setWindowTitle(want)

    # ------------------------------------------------------------------ gradient checks
    def reveal(self) -> None:
        self.check_dock.show()
        self.check_dock.raise_()

    def check_model(self) -> None:
        """"Check gradients": the doctor on the current model and its last batch (one narrated
        step first when nothing has run yet)."""
        c = self.controller
        c.pause()
        self.reveal()
        if c.moment.narration is None and self.session.last_batch is None:
            c.step_iteration()
        try:
            report, what = check_session(MomentSession(self.session, c.moment))
        except Exception as e:  # noqa: BLE001 - a failed check is shown, never a crash
            self.view.show_problem(f"{type(e).__name__}: {e}", "Model")
            return
        self.view.show_report(report, what)
        c.message.emit("Gradient check: " + ("all correct" if report.ok else "WRONG gradients, see the "
                                                                               "Gradient check view"))

    def open_code(self) -> None:
        """"Open my code…": pick a .py file, then ``check_file`` it."""
        start = str(Path(self.last_file).parent) if self.last_file else str(Path.home())
        path, _ = QtWidgets.QFileDialog.getOpenFileName(
            self.window, "Check my code: a .py file with loss_and_grads(params, inputs, targets) and example()",
            start, "Python files (*.py);;All files (*)")
        if path:
            self.check_file(path)

    def check_file(self, path: str, timeout: float = FILE_TIMEOUT) -> FileCheckJob:
        """Check a learner's file in a child process (no dialog); the report lands in the view."""
        if self.job is not None and self.job.running:
            self.job.finished.disconnect()
            self.job.cancel()
        self.last_file = str(path)
        self.reveal()
        name = Path(path).name
        self.view.show_busy(f"Checking {name}… (stopped after {timeout:g} s)")
        self.controller.message.emit(f"Checking {name}…")
        job = FileCheckJob(path, timeout=timeout, parent=self)
        job.finished.connect(lambda res, p=str(path): self._file_done(p, res))
        self.job = job
        return job

    def _file_done(self, path: str, res: FileCheck) -> None:
        source = f"File: {path}"
        if res.report is None:
            self.view.show_problem(res.problem or "the file could not be used", source)
            self.controller.message.emit(f"{Path(path).name}: could not check it")
        else:
            self.view.show_report(res.report, source)
            self.controller.message.emit(f"{Path(path).name}: " + ("all gradients correct" if res.report.ok
                                                                    else "WRONG gradients"))

    def shutdown(self) -> None:
        """Stop a running file check (the window is closing)."""
        if self.job is not None and self.job.running:
            self.job.cancel()


class MomentSession:
    """What ``check_session`` reads of a session, at a moment: the moment's batch and parameters
    (a copy of the model computing with them), the session's options, bugs and configuration;
    ``iteration`` is the moment's, and the description says whether before or after its update."""

    def __init__(self, session: Session, moment) -> None:
        self._session = session
        self.moment = moment
        self.cfg = session.cfg
        self.bugs = session.bugs
        self.is_recurrent = session.is_recurrent
        self.model = model_with(session.model, moment.params)
        n = moment.narration
        self.last_batch = (n.inputs, n.targets) if n is not None else session.last_batch
        self._options = dict(n.options) if n is not None else session.options()

    @property
    def iteration(self) -> str:  # noqa: D401 - used in the text "at iteration ..."
        m = self.moment
        if m.iteration == 0:
            return "0 (initial parameters)"
        if m.narration is None:
            return f"{m.iteration} (parameters after its update, its batch)"
        when = "after" if m.updated else "before"
        return f"{m.iteration} (parameters {when} its update)"

    def options(self) -> dict:
        return dict(self._options)

