"""The attribution view in the window: it fills in as the backward pass is stepped, its numbers
and caption are the engine's, truncation draws a band, clicking a cell shows the chain-rule path
in the explain panel, and the graph's inputs are shaded by connectivity."""

from __future__ import annotations

import numpy as np
import pytest
from PySide6 import QtCore
from pytestqt.qtbot import QtBot

from bpttviz.engine.explain import fmt, sub
from bpttviz.engine.gradients import attribution as at
from bpttviz.engine.records import BackwardStep, ForwardStep, GradientStep
from bpttviz.engine.trace import Trace

from .conftest import small_session

Key = QtCore.Qt.Key


def shown(win, qtbot: QtBot):
    lab = win.whatif
    lab.attribution_dock.show()
    lab.attribution_dock.raise_()
    qtbot.wait(20)
    win.controller.paint()
    return lab


def engine_attribution(win):
    c = win.controller
    st = at.trace_setup(c.trace, c.session.model)
    return st, at.attribution(st.model, st.inputs, st.targets, h0=st.h0, parts=True, **st.options)


def step_to(win, cls, t=None):
    """Step (→) until the cursor is on a record of ``cls`` (with index t)."""
    c = win.controller
    for _ in range(200):
        rec = c.record
        if isinstance(rec, cls) and (t is None or rec.index == t):
            return rec
        c.step_record()
    raise AssertionError(f"never reached {cls.__name__} {t}")


def test_before_any_step_the_view_says_what_it_will_show(qtbot, shared_window):
    win = shared_window
    lab = shown(win, qtbot)
    assert lab.view.pages.currentWidget() is lab.view.message
    assert "Step (→) or play" in lab.view.message.text()


def test_the_matrix_fills_in_as_the_backward_pass_is_stepped(qtbot, make_window):
    win = make_window(session=small_session(seq_len=6))
    lab = shown(win, qtbot)
    step_to(win, ForwardStep, 3)
    win.controller.paint()
    f = lab.view.frame
    assert f.filled_from == f.T and np.isnan(f.image).all()
    assert "has not started" in lab.view.caption.text()
    st, att = engine_attribution(win)
    T = att.T
    for t in (T - 1, 3, 0):
        rec = step_to(win, BackwardStep, t)
        win.controller.paint()
        f = lab.view.frame
        assert f.filled_from == t
        assert np.isnan(f.image[:t]).all()
        known = att.mask()[t:] & (att.A[t:] > 0)
        np.testing.assert_allclose(f.image[t:][known], np.log10(att.A[t:][known]), rtol=1e-6)
        # the caption's number is the record's own ||dL/dh_t||
        norm = float(np.linalg.norm(rec.dh))
        assert f"‖∂L/∂h{sub(t)}‖ = {fmt(norm)}" in lab.view.caption.text()
        np.testing.assert_allclose(att.parts[t].sum(0), rec.dh, rtol=1e-9, atol=1e-13)
    step_to(win, GradientStep)
    win.controller.paint()
    f = lab.view.frame
    assert f.filled_from == 0
    reach = att.reach(0.01)[T - 1]
    cap = lab.view.caption.text()
    assert f"keeps ≥ 1% of its size for {reach} of {T - 1} steps back" in cap
    assert fmt(att.A[0, T - 1]) in cap
    assert f"iteration {win.controller.trace_iteration + 1}" in lab.view.title.text()


def test_truncation_is_a_band_of_width_k(qtbot, make_window):
    win = make_window(session=small_session(seq_len=8, truncation=3))
    lab = shown(win, qtbot)
    step_to(win, GradientStep)
    win.controller.paint()
    f = lab.view.frame
    st, att = engine_attribution(win)
    assert st.options["truncation"] == 3 and f.truncation == 3
    t, tp = np.indices(f.image.shape)
    assert np.isnan(f.image[(tp - t >= 3) | (tp < t)]).all()
    assert np.isfinite(f.image[(tp - t < 3) & (tp >= t)]).all()
    assert np.all(att.A[(tp - t >= 3)] == 0.0)
    assert "Window k = 3" in lab.view.caption.text() and "t′ − t ≥ 3 is exactly 0" in lab.view.caption.text()


def test_lstm_offers_the_cell_state_and_the_weights(qtbot, make_window):
    win = make_window(session=small_session(model="lstm"))
    lab = shown(win, qtbot)
    step_to(win, GradientStep)
    win.controller.paint()
    names = [lab.view.quantity.itemData(i) for i in range(lab.view.quantity.count())]
    assert names == ["h", "c", "W"]
    st, att = engine_attribution(win)
    for q, A in (("c", att.A_c), ("W", att.A_w)):
        lab.view.quantity.setCurrentIndex(names.index(q))
        win.controller.paint()
        f = lab.view.frame
        assert f.quantity == q
        ok = att.mask() & (A > 0)
        np.testing.assert_allclose(f.image[ok], np.log10(A[ok]), rtol=1e-6)


def test_an_mlp_has_no_matrix(qtbot, make_window):
    win = make_window(preset="xor-mlp", session=None)
    lab = shown(win, qtbot)
    win.controller.step_record()
    win.controller.paint()
    assert "MLP" in lab.view.message.text()


def click_cell(qtbot, view, t, tp):
    vb = view.plot.getViewBox()
    scene = vb.mapViewToScene(QtCore.QPointF(tp, t))
    pos = view.plotw.mapFromScene(scene)
    qtbot.mouseClick(view.plotw.viewport(), QtCore.Qt.MouseButton.LeftButton, pos=pos)


def test_clicking_a_cell_shows_its_chain_rule_path_in_the_explain_panel(qtbot, make_window):
    win = make_window(session=small_session(seq_len=6))
    lab = shown(win, qtbot)
    step_to(win, GradientStep)
    win.controller.paint()
    qtbot.wait(50)
    with qtbot.waitSignal(lab.view.cell_clicked, timeout=2000) as sig:
        click_cell(qtbot, lab.view, 1, 4)
    assert sig.args == [1, 4]
    assert lab.view.selected == (1, 4)
    st, att = engine_attribution(win)
    ex = win.explain
    assert ex.title.startswith("Path L₄ → h₁ · unit 0")
    text = ex.plain_text()
    assert fmt(att.parts[1, 4, 0, 0]) in text
    # the next unit: the same path for unit 1
    win.act["unit_next"].trigger()
    assert ex.title.startswith("Path L₄ → h₁ · unit 1")
    assert fmt(att.parts[1, 4, 0, 1]) in ex.plain_text()
    win.controller.paint()  # the panel keeps the path until the moment changes
    assert ex.title.startswith("Path L₄ → h₁ · unit 1")
    win.controller.refresh_all()  # e.g. zoom: everything is pushed again, the path stays
    assert ex.title.startswith("Path L₄ → h₁ · unit 1")
    win.controller.step_record()  # a step: the explain panel explains the new record again
    win.controller.paint()
    assert not ex.title.startswith("Path")


def test_hovering_an_output_shades_the_inputs_by_connectivity(qtbot, make_window):
    win = make_window(session=small_session(seq_len=6))
    lab = shown(win, qtbot)
    step_to(win, GradientStep)
    win.controller.paint()
    T = 6
    lab._hovered(2 * T + 3)  # the output y_3
    assert lab.hovered_output == 3
    shade = win.graph._input_shade
    st, _ = engine_attribution(win)
    raw = at.connectivity(st.model, st.inputs, 3, h0=st.h0)[0]
    assert np.isnan(shade[4:]).all() and np.isfinite(shade[:4]).all()
    assert int(np.nanargmax(shade)) == int(np.argmax(raw[:4]))  # the brightest input is the strongest link
    legend = win.graph.legend.text()
    assert f"strongest t′ = {int(np.argmax(raw[:4]))}" in legend
    assert f"t′ = 0 gets {fmt(raw[0] / raw[:4].max())} of that" in legend
    assert ringed_output(win) == 3  # the graph marks the output the shading belongs to
    lab._hovered(-1)
    assert win.graph._input_shade is None and "Inputs shaded" not in win.graph.legend.text()
    assert ringed_output(win) is None
    # C: the current step's output, kept while stepping
    win.act["connectivity"].trigger()
    win.controller.paint()
    assert np.isfinite(win.graph._input_shade).sum() == T  # after the backward pass: the last output
    assert ringed_output(win) == T - 1
    step_to(win, BackwardStep, 2)  # while stepping: the current step's output
    win.controller.paint()
    assert np.isfinite(win.graph._input_shade).sum() == 3
    assert ringed_output(win) == 2
    win.act["connectivity"].trigger()
    win.controller.paint()
    assert win.graph._input_shade is None
    assert ringed_output(win) is None


def ringed_output(win) -> int | None:
    """The output step y_t whose node wears a ring in the graph (None: no output is ringed)."""
    g = win.graph
    T = g.frame.key[2]
    idx = g.nodes.ids  # the frame's node index of each drawn node
    outs = [int(idx[i]) - 2 * T for i in g.nodes.rings if 2 * T <= int(idx[i]) < 3 * T]
    assert len(outs) <= 1
    return outs[0] if outs else None


@pytest.mark.parametrize("model", ["rnn", "gru"])
def test_the_view_follows_the_trace_not_the_updated_weights(qtbot, make_window, model):
    """The session applies the update right after narrating: the matrix must still describe the
    records (the weights before the update): its rows sum to the records' dh."""
    win = make_window(session=small_session(model=model))
    shown(win, qtbot)
    step_to(win, GradientStep)
    st, att = engine_attribution(win)
    trace: Trace = win.controller.trace
    np.testing.assert_allclose(att.parts.sum(1), trace.series(BackwardStep, "dh"), rtol=1e-9, atol=1e-13)


def test_the_colour_bar_keeps_its_tick_labels_in_lecture_mode(qtbot, make_window):
    from PySide6 import QtGui

    win = make_window(size=(1920, 1080))
    c = win.controller
    for _ in range(3):
        c.session.train_step()
    c.step_iteration()
    win.lecture.enter(full_screen=False)
    lab = shown(win, qtbot)
    c.refresh_all()
    qtbot.wait(100)
    ax = lab.view.bar.axis
    img = QtGui.QImage(10, 10, QtGui.QImage.Format.Format_ARGB32)
    painter = QtGui.QPainter(img)
    specs = ax.generateDrawSpecs(painter)
    painter.end()
    texts = [s[2] for s in specs[2]]
    assert len(texts) >= 2, (ax.width(), lab.view.bar.levels(), texts)
    fm = QtGui.QFontMetrics(ax.style["tickFont"])
    assert all(fm.horizontalAdvance(t) < ax.width() for t in texts)
