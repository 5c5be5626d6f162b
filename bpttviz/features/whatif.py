"""Attribution and what-if in the main window: the attribution view (where each gradient comes
from), the what-if panel (change sigma_max, the forget bias, the activation or the truncation of the
shown iteration without training), the chain-rule path of a clicked cell in the explain panel, and
the connectivity shading of the graph's input row.

``WhatIfLab(window)`` adds all of it to a ``MainWindow`` (a window feature registered as
``"whatif"``: see ``bpttviz.window.feature``). Like the other features it talks to the engine
only through presenters and reads the moment from the controller: the current trace (a narrated
iteration), its cursor and the session's model.

With a side-by-side comparison open (``window.comparison``), the attribution view draws the
second model's matrix of the same iteration beside the first, on one colour scale (the trained
weights only: a what-if changes the first model's copy, and then the view shows that alone).

While a what-if is active the main Gradient decay and Deltas views draw it too (a "WHAT-IF"
banner above each; the decay view keeps the trained curve beside it, dashed), and "Back to the
trained weights" gives them back the trained frames they showed.

For a large model (``Controller.offloads``) every matrix, frame and panel value here is computed
off the UI thread (``ViewBinding.work``; a what-if of a 1000-unit model takes seconds): while one
is computed the view keeps showing the previous moment, and a result for a moment left meanwhile
is computed again rather than shown (the controller's view thread drops it). The presenters keep
caches, so whatever uses them runs under one lock (``_lock``), on whichever thread it runs.

A what-if never touches the session: it is computed on a copy of the weights the shown iteration
was made with, so "Back to the trained weights" (Ctrl+Backspace) is exact by construction. Playing,
a new iteration or a new session end a what-if (the copy belongs to the iteration it was made
from). Keys: ``[`` / ``]`` nudge sigma_max; ``C`` shades the inputs by the connectivity of the
current step's output (hovering an output y_t or loss L_t in the graph shades them for that t).
"""

from __future__ import annotations

import dataclasses
import threading

import numpy as np
from PySide6 import QtCore

from bpttviz.engine.gradients import attribution as at
from bpttviz.engine.records import BackwardStep, ForwardStep
from bpttviz.presenters.attribution import TRAINED, AttributionPresenter, WhatIfSettings, trace_is_recurrent
from bpttviz.views.attribution_view import AttributionView
from bpttviz.views.whatif_panel import WhatIfPanel
from bpttviz.window.controller import ViewBinding
from bpttviz.window.feature import Feature, key

K = QtCore.Qt.Key
M = QtCore.Qt.KeyboardModifier

SHORTCUT_ROWS = [("[  /  ]", "what-if: nudge σ_max of the recurrent weights down / up"),
                 ("Ctrl+Backspace", "what-if: back to the trained weights"),
                 ("C", "shade the graph's inputs by the current output's connectivity")]
NO_TRACE = ("Step (→) or play: this matrix shows, for the narrated iteration, how much of each ∂L/∂h_t "
            "comes from the loss at each later step t′.")
NO_TIME = "Attribution is about timesteps: an MLP has none."
NOT_FINITE = "The weights are not finite: roll back (Ctrl+Z) or reset (R) to see where the gradients come from."


class WhatIfLab(QtCore.QObject, Feature):
    """The wiring of the attribution view, the what-if panel and the connectivity shading."""

    name = "whatif"

    def __init__(self, window) -> None:
        super().__init__(window)
        self.window = window
        self.controller = c = window.controller
        self.presenter = AttributionPresenter()
        self.second_presenter = AttributionPresenter()  # the comparison's second model
        self.settings: WhatIfSettings = TRAINED
        self.hovered_output: int | None = None
        self.path_cell: tuple[int, int] | None = None
        self.path_second = False  # the pinned path is the comparison's second model's
        self._path_moment: tuple | None = None
        # the trace the what-if belongs to, and the one the panel is configured for (the objects,
        # not their ids: a freed trace's id comes back for a new one, often while training runs)
        self._trace_seen = None
        self._configured = None
        self._finite = True  # the shown iteration's weights are finite
        self._lock = threading.Lock()  # the presenters' caches: one thread at a time

        self.view = AttributionView(window.theme)
        self.panel = WhatIfPanel(window.theme)
        # the matrix beside the decay curve (bottom), the controls beside the weights (right: the
        # left column stays as narrow as its own tab titles need), so both can be on screen at once
        view_menu = window.menu("View")
        for name, title, widget, beside in (("attribution", "Attribution", self.view, "decay"),
                                            ("whatif", "What-if", self.panel, "weights")):
            dock = window.add_dock(name, title, widget, beside=beside)
            if view_menu is not None:
                view_menu.addAction(dock.toggleViewAction())
        self.attribution_dock, self.whatif_dock = window.docks["attribution"], window.docks["whatif"]
        self._make_actions()

        self.view.cell_clicked.connect(self.show_path)
        self.view.second_cell_clicked.connect(lambda t, tp: self.show_path(t, tp, second=True))
        self.view.quantity_changed.connect(lambda _q: self._refresh("attribution view"))
        self.panel.settings_changed.connect(self.set_settings)
        self.panel.restore_requested.connect(self.back_to_trained)
        window.graph.node_hovered.connect(self._hovered)
        c.session_replaced.connect(self._session_replaced)
        c.playing_changed.connect(self._playing_changed)
        comparison = window.part("comparison")
        if comparison is not None:
            comparison.changed.connect(lambda: self._refresh("attribution view"))
        explain = window.part("explain")
        if explain is not None:
            explain.unit_changed.connect(lambda _u: self._reshow_path())
        self._bind()

    def shortcut_rows(self) -> list[tuple[str, str]]:
        return list(SHORTCUT_ROWS)

    # ------------------------------------------------------------------ set-up
    def _make_actions(self) -> None:
        w = self.window
        w.add_action("whatif_sigma_down", "What-if: σ_max down", lambda: self.nudge(-1), [K.Key_BracketLeft],
                     "Nudge the largest singular value of the recurrent weights down by one notch")
        w.add_action("whatif_sigma_up", "What-if: σ_max up", lambda: self.nudge(1), [K.Key_BracketRight],
                     "Nudge the largest singular value of the recurrent weights up by one notch")
        w.add_action("whatif_back", "Back to the trained weights", self.back_to_trained,
                     [key(M.ControlModifier, K.Key_Backspace)],
                     "End the what-if: every view shows the trained weights again")
        w.add_action("connectivity", "Shade inputs by connectivity", self._toggle_connectivity, [K.Key_C],
                     "Shade the graph's inputs by how strongly the current step's output depends on each",
                     checkable=True)

    def _bind(self) -> None:
        c = self.controller

        def moment() -> tuple:
            return (c.generation, id(c.trace), c.cursor if c.trace is not None else -1)

        c.bind(ViewBinding("attribution view", self.view,
                           lambda: moment() + (self.view.current_quantity(), self.settings, self._second_key()),
                           None, min_interval=0.3, urgent=True, needs_trace=True, work=self._work_attribution))
        c.bind(ViewBinding("what-if panel", self.panel, lambda: moment()[:2] + (self.settings,),
                           None, min_interval=0.3, urgent=True, work=self._work_panel))
        explain = self.window.part("explain")
        if explain is not None:  # after the explain panel's own binding: a pinned path stays on top
            record = c.binding("explain view")
            c.bind(ViewBinding("explain path", explain, lambda: (self.path_cell, self._path_moment, record.pushes),
                               self._reshow_path, urgent=True))
        # the main decay and deltas views: after their own bindings, so while a what-if is active
        # its frame replaces the trained one whenever that is pushed again
        decay, deltas = c.binding("decay view"), c.binding("deltas view")
        c.bind(ViewBinding("what-if decay", self.window.decay,
                           lambda: moment() + (self.settings, decay.pushes), None, urgent=True,
                           work=self._work_main_decay))
        c.bind(ViewBinding("what-if deltas", self.window.deltas,
                           lambda: moment() + (self.settings, deltas.pushes, self.window.deltas.current_quantity()),
                           None, urgent=True, work=self._work_main_deltas))
        c.bind(ViewBinding("connectivity shading", self.window.graph,
                           lambda: moment() + (self.settings, self.hovered_output,
                                               self.window.act["connectivity"].isChecked()),
                           None, min_interval=0.3, urgent=True, work=self._work_shading))

    # ------------------------------------------------------------------ the moment
    def _current(self):
        """The shown iteration's trace when it is recurrent and finite as far as known, else None.
        Cheap (UI thread): a new iteration ends a what-if (the copy belonged to the old one); the
        presenters' costly set-up is done where the data are computed (``_setup``)."""
        c = self.controller
        if not c.session.cfg.is_recurrent or not trace_is_recurrent(c.trace) or c.session.blowup is not None:
            return None
        if c.trace is not self._trace_seen:  # a new iteration: a what-if belonged to the old one
            self._trace_seen = c.trace
            self._configured = None
            self._finite = True
            self.path_cell = None
            self.view.select(None)
            if self.settings.active:
                self.settings = TRAINED
                self.controller.message.emit("New iteration: the what-if ended (back to the trained weights).")
        return c.trace

    def _trace(self):
        """``_current()`` set up now, on the UI thread (a click or key needs it at once), or None
        when its weights are not finite."""
        trace = self._current()
        if trace is None:
            return None
        presenter, model = self.presenter, self.controller.session.model
        with self._lock:
            setup = _setup(presenter, trace, model, self._configured is not trace)
        self._apply_setup(trace, setup)
        return trace if self._finite else None

    def _iteration(self) -> int:
        c = self.controller
        return (c.trace_iteration or 0) + 1  # numbered as the status bar numbers it

    def _apply_setup(self, trace, setup: tuple[bool, dict | None]) -> None:
        """On the UI thread: what ``_setup`` found for ``trace`` (if it is still the one shown)."""
        finite, panel = setup
        if trace is not self._trace_seen:
            return
        self._finite = finite
        if finite and panel is not None and self._configured is not trace:
            self._configured = trace
            self.panel.configure(**panel)

    def _work_attribution(self):
        s = self.controller.session
        view = self.view
        if not s.cfg.is_recurrent:
            return _nothing, lambda _v: view.show_message(NO_TIME)
        trace = self._current()
        if trace is None or not self._finite:
            text = NOT_FINITE if s.blowup is not None or not self._finite else NO_TRACE
            return _nothing, lambda _v: view.show_message(text)
        c = self.controller
        presenter, model, cursor = self.presenter, s.model, c.cursor
        quantity, settings, iteration = view.current_quantity(), self.settings, self._iteration()
        quantities = ("h", "c", "W") if "c" in s.model.STATE else ("h", "W")
        second = self._second_inputs()
        configure = self._configured is not trace
        lock = self._lock

        def compute():
            with lock:
                setup = _setup(presenter, trace, model, configure)
                if not setup[0]:
                    return setup, None
                f = presenter.frame(trace, cursor, model, quantity=quantity, settings=settings, iteration=iteration)
                if second is not None:
                    p2, trace2, rec2, model2, labels = second
                    if _setup(p2, trace2, model2, False)[0]:
                        f2 = p2.frame(trace2, rec2, model2, quantity=quantity, iteration=iteration)
                        f = presenter.side_by_side(f, f2, labels)
            return setup, f

        def show(value) -> None:
            setup, f = value
            self._apply_setup(trace, setup)
            if f is None:
                view.show_message(NOT_FINITE)
                return
            view.set_quantities(quantities)
            view.show_frame(f)

        return compute, show

    def _second_inputs(self):
        """``(presenter, trace, record, model, labels)`` of the comparison's second model when it
        narrated the shown iteration and no what-if is active (the matrices are side by side),
        else None. Cheap: whether its weights are finite is asked where the matrix is computed."""
        comparison = self.window.part("comparison")
        c = self.controller
        if (comparison is None or not comparison.active or self.settings.active or comparison.trace is None
                or comparison.trace_iteration != c.trace_iteration or not trace_is_recurrent(comparison.trace)
                or comparison.session.blowup is not None or not comparison.session.cfg.is_recurrent):
            return None
        return (self.second_presenter, comparison.trace, comparison.record_for(c.record), comparison.session.model,
                comparison.labels())

    def _second(self):
        """``(comparison, its trace)`` as ``_second_inputs`` finds it, with finite weights (UI thread)."""
        got = self._second_inputs()
        if got is None:
            return None
        p2, trace2, _, model2, _ = got
        with self._lock:
            if not _setup(p2, trace2, model2, False)[0]:
                return None
        return self.window.part("comparison"), trace2

    def _second_key(self) -> tuple:
        comparison = self.window.part("comparison")
        if comparison is None or not comparison.active:
            return ()
        return id(comparison.session), id(comparison.trace), comparison.trace_iteration

    def _work_panel(self):
        trace = self._current()
        s = self.controller.session
        panel = self.panel
        if trace is None or not self._finite:
            text = (NO_TIME if not s.cfg.is_recurrent else NOT_FINITE
                    if s.blowup is not None or not self._finite else NO_TRACE)

            def idle(_v) -> None:
                panel.setEnabled(False)
                panel.set_caption(text)
            return _nothing, idle
        presenter, model, settings, lock = self.presenter, s.model, self.settings, self._lock
        configure = self._configured is not trace

        def compute():
            with lock:
                setup = _setup(presenter, trace, model, configure)
                return setup, presenter.whatif_frame(trace, model, settings) if setup[0] else None

        def show(value) -> None:
            setup, f = value
            self._apply_setup(trace, setup)
            panel.setEnabled(f is not None)
            if f is None:
                panel.set_caption(NOT_FINITE)
                return
            panel.show_frame(f)

        return compute, show

    def _work_main_decay(self):
        view = self.window.decay
        trace = self._current() if self.settings.active else None
        if trace is None or not self.settings.active or not self._finite:
            def trained(_v) -> None:
                if view.whatif is not None:  # the what-if ended: the trained frame, unmarked
                    view.set_whatif("")
                    if view.frame is not None:
                        view.show_frame(view.frame)
            return _nothing, trained
        presenter, model, settings, iteration, lock = (self.presenter, self.controller.session.model, self.settings,
                                                       self._iteration(), self._lock)

        def compute():
            with lock:
                return (presenter.trained(trace, model).frame.decay,
                        presenter.whatif_decay(trace, model, settings, iteration))

        def show(value) -> None:
            trained, f = value
            view.set_whatif(settings.label(), trained)
            view.show_frame(f)
            self.window.shown["decay"] = {"note": view.note.text(), "curve": f.curve.copy(), "iteration": f.iteration,
                                          "reference_label": f.reference_label, "whatif": settings.label()}

        return compute, show

    def _work_main_deltas(self):
        view = self.window.deltas
        trace = self._current() if self.settings.active else None
        if trace is None or not self.settings.active or not self._finite:
            def trained(_v) -> None:
                if view.banner.label:
                    view.set_whatif("")
            return _nothing, trained
        presenter, model, settings, lock = self.presenter, self.controller.session.model, self.settings, self._lock
        quantity = view.current_quantity()

        def compute():
            with lock:
                return presenter.whatif_deltas(trace, model, settings, quantity)

        def show(f) -> None:
            view.set_whatif(settings.label())
            view.show_frame(f)
            self.window.shown["deltas"] = {"title": f.title, "norms": {k: v.copy() for k, v in f.norms.items()},
                                           "image": f.image.copy(), "whatif": settings.label()}

        return compute, show

    def output_step(self) -> int | None:
        """The output step whose connectivity shades the inputs: the hovered one, else (with C on)
        the current record's timestep (the last one outside the forward and backward passes)."""
        if self.hovered_output is not None:
            return self.hovered_output
        if not self.window.act["connectivity"].isChecked():
            return None
        rec = self.controller.record
        if isinstance(rec, (ForwardStep, BackwardStep)):
            return rec.index
        trace = self.controller.trace
        back = [r.index for r in trace if isinstance(r, BackwardStep)] if trace is not None else []
        return max(back) if back else None

    def _work_shading(self):
        graph = self.window.graph
        # the output step first: with no shading asked for, the trace's setup is not computed
        t = self.output_step() if self.controller.trace is not None else None
        trace = self._current() if t is not None else None
        if t is None or trace is None or not self._finite:
            return _nothing, lambda _v: graph.set_input_shading(None)
        presenter, model, settings, lock = self.presenter, self.controller.session.model, self.settings, self._lock

        def compute():
            with lock:
                if not _setup(presenter, trace, model, False)[0]:
                    return None
                return presenter.connectivity(trace, model, t, settings)

        def show(value) -> None:
            if value is None:
                graph.set_input_shading(None)
                return
            _, shade, label = value
            graph.set_input_shading(shade, label, output=t)

        return compute, show

    # ------------------------------------------------------------------ actions
    def set_settings(self, settings: WhatIfSettings) -> None:
        """Apply a what-if (from the panel); the views redraw at once."""
        if self.controller.playing and settings.active:
            self.controller.pause()
        ended = self.settings.active and not settings.active
        self.settings = settings
        self._reshow_path()
        self._refresh_all(main=ended)

    def back_to_trained(self) -> None:
        """End the what-if: the controls and every view return to the trained weights."""
        was = self.settings.active
        self.panel.reset()  # emits settings_changed(TRAINED)
        self.settings = TRAINED
        self._refresh_all(main=True)
        if was:
            self.controller.message.emit("Back to the trained weights.")

    def nudge(self, notches: int) -> None:
        trace = self._current()
        if trace is not None and self._finite and self._configured is trace:
            self.panel.nudge(notches)  # (the panel is set up already: nothing to wait for)
            return
        if self._trace() is None:
            self.controller.message.emit("What-if needs a narrated iteration of a recurrent model: step (→) first.")
            return
        self.panel.nudge(notches)

    def show_path(self, t: int, source: int, second: bool = False) -> None:
        """The chain-rule path of cell (t, source) in the explain panel (``second``: of the
        comparison's second model, side by side)."""
        trace = self._trace()
        explain = self.window.part("explain")
        pair = self._second() if second else None
        if trace is None or explain is None or (second and pair is None):
            return
        c = self.controller
        self.path_cell = (t, source)
        self.path_second = second
        self._path_moment = (trace, c.cursor)
        self.view.select(None if second else self.path_cell)
        if pair is not None:
            comparison, trace2 = pair
            model = comparison.session.model
            explain.set_unit_count(model.hidden_size)
            with self._lock:
                e = self.second_presenter.path_explanation(trace2, model, t, source, explain.current_unit())
            e = dataclasses.replace(e, title=f"{comparison.labels()[1]}: {e.title}")
        else:
            explain.set_unit_count(c.session.model.hidden_size)
            with self._lock:
                e = self.presenter.path_explanation(trace, c.session.model, t, source, explain.current_unit(),
                                                    self.settings)
        dock = self.window.docks.get("explain")
        if dock is not None:
            dock.show()
            dock.raise_()
        explain.show_explanation(e)
        # the panel keeps the path until the moment changes (a step, another unit): tell its
        # binding that what it would show for this moment has been replaced
        try:
            b = c.binding("explain view")
        except StopIteration:
            return
        b.last_key = b.key()

    def _reshow_path(self) -> None:
        """After a unit change or a what-if: the pinned path again, if the cursor has not moved."""
        c = self.controller
        if self.path_cell is not None and self._path_moment == (c.trace, c.cursor):
            self.show_path(*self.path_cell, second=self.path_second)

    def _toggle_connectivity(self) -> None:
        self._refresh("connectivity shading")

    def _hovered(self, node: int) -> None:
        """A graph node under the pointer: an output y_t or loss L_t selects output step t."""
        f = self.window.graph.frame
        T = f.key[2] if f is not None and f.key and f.key[0] == "rnn" else 0
        t = node - 2 * T if 2 * T <= node < 3 * T else (node - 3 * T if 3 * T <= node < 4 * T else None)
        if t != self.hovered_output:
            self.hovered_output = t
            self._refresh("connectivity shading")

    def _session_replaced(self) -> None:
        self.panel.reset()  # the controls say what the views show: the (new) trained weights
        self.settings = TRAINED
        self._finite = True
        self.presenter = AttributionPresenter()
        self.second_presenter = AttributionPresenter()
        self._trace_seen = None
        self._configured = None
        self.path_cell = None
        self.hovered_output = None
        self.view.select(None)

    def _playing_changed(self, playing: bool) -> None:
        if playing and self.settings.active:
            self.back_to_trained()
            self.controller.message.emit("Training runs on the trained weights: the what-if ended.")

    def _refresh(self, name: str) -> None:
        self.controller.refresh(name)

    def _refresh_all(self, main: bool = False) -> None:
        """Redraw what a what-if changes (``main``: the decay and deltas views' own frames too, as
        a what-if ends)."""
        names = ["attribution view", "what-if panel", "connectivity shading", "what-if decay", "what-if deltas"]
        self.controller.refresh(*names, *(["decay view", "deltas view"] if main else []))

    def apply_theme(self, theme) -> None:
        self.view.apply_theme(theme)
        self.panel.apply_theme(theme)
        for d in (self.attribution_dock, self.whatif_dock):
            d.setFont(self.window.font())



def _nothing() -> None:
    """The compute of a binding whose view only shows a message or clears itself."""
    return None


def _setup(presenter: AttributionPresenter, trace, model, configure: bool) -> tuple[bool, dict | None]:
    """Set ``presenter`` up for ``trace`` (an eigenvalue problem of size H: seconds for a large
    model; cached): ``(the shown iteration's weights are finite, the what-if panel's configuration
    or None)``; ``configure``: also compute that configuration. Qt-free (runs off the UI thread)."""
    st = presenter.setup(trace, model)
    finite = all(np.all(np.isfinite(p)) for p in st.model.params.values())
    if not finite or not configure:
        return finite, None
    m = st.model
    H = m.hidden_size
    return True, {"kind": m.kind, "T": len(st.inputs[0]), "sigma": at.recurrent_sigma(m),
                  "forget_bias": float(np.mean(m.params["b"][H:2 * H])) if m.kind == "lstm" else None,
                  "activation": m.activation.name if m.kind == "rnn" else None,
                  "truncation": st.options["truncation"], "weight_name": m.W_H}
