"""The what-if panel: [ and ] nudge sigma_max, the forget bias, the activation and the truncation
change the shown iteration's numbers exactly as the engine's what-if copies say, the session is
never touched, and "Back to the trained weights" brings every number back exactly."""

from __future__ import annotations

import numpy as np
from PySide6 import QtCore

from bpttviz.engine.explain import fmt
from bpttviz.engine.gradients import attribution as at
from bpttviz.engine.records import GradientStep

from .conftest import small_session
from .test_attribution_view import shown, step_to

Key = QtCore.Qt.Key


def params_bytes(win):
    return {k: v.tobytes() for k, v in win.controller.session.model.params.items()}


def ready(win, qtbot):
    lab = shown(win, qtbot)
    lab.whatif_dock.show()
    lab.whatif_dock.raise_()
    step_to(win, GradientStep)
    win.controller.paint()
    return lab


def test_brackets_nudge_sigma_and_the_views_show_the_engines_what_if(qtbot, make_window):
    win = make_window(session=small_session(seq_len=8))
    lab = ready(win, qtbot)
    before = params_bytes(win)
    st = at.trace_setup(win.controller.trace, win.controller.session.model)
    trained_sigma = at.recurrent_sigma(st.model)
    notch = lab.panel.sigma.value()
    for _ in range(3):
        qtbot.keyClick(win, Key.Key_BracketRight)
    assert lab.panel.sigma.value() == notch + 3
    s = lab.settings
    assert s.sigma == (notch + 3) * 0.05
    win.controller.paint()
    f = lab.view.frame
    assert "what-if: σ_max = " in lab.view.title.text()
    new = at.scale_recurrent(st.model, s.sigma)
    att = at.attribution(new, st.inputs, st.targets, h0=st.h0, **st.options)
    ok = att.mask() & (att.A > 0)
    np.testing.assert_allclose(f.image[ok], np.log10(att.A[ok]), rtol=1e-6)
    # the panel's caption and curves are the engine's numbers
    wf = lab.panel.frame
    fr = at.what_if_frame(new, st.inputs, st.targets, h0=st.h0, **st.options)
    np.testing.assert_array_equal(wf.decay, fr.decay)
    np.testing.assert_array_equal(wf.bound, fr.bound)
    assert wf.sigma == fr.sigma and abs(fr.sigma - s.sigma) < 1e-12
    assert f"σ_max·γ = {fmt(fr.sigma)}·{fmt(1.0)} = {fmt(fr.sigma)}" in lab.panel.caption.text()
    assert f"keeps {fmt(fr.decay[-1] / fr.decay[0])} of its size" in lab.panel.caption.text()
    assert wf.sigma_trained == trained_sigma
    qtbot.keyClick(win, Key.Key_BracketLeft)
    assert lab.panel.sigma.value() == notch + 2
    assert params_bytes(win) == before  # the session's weights are never touched


def test_back_to_the_trained_weights_restores_every_number_exactly(qtbot, make_window):
    win = make_window(session=small_session(seq_len=8))
    lab = ready(win, qtbot)
    trained_image = lab.view.frame.image.copy()
    trained_panel = lab.panel.frame
    before = params_bytes(win)
    lab.panel.nudge(-6)
    lab.panel.truncation.setCurrentIndex(lab.panel.truncation.findData(2))
    assert lab.settings.active and lab.settings.truncation == 2
    win.controller.paint()
    assert not np.array_equal(lab.view.frame.image, trained_image, equal_nan=True)
    qtbot.keyClick(win, Key.Key_Backspace, QtCore.Qt.KeyboardModifier.ControlModifier)
    assert not lab.settings.active
    win.controller.paint()
    np.testing.assert_array_equal(lab.view.frame.image, trained_image)
    np.testing.assert_array_equal(lab.panel.frame.decay, trained_panel.decay)
    np.testing.assert_array_equal(lab.panel.frame.deltas, trained_panel.deltas)
    assert "(trained)" in lab.panel.sigma_value.text()
    assert params_bytes(win) == before
    lab.panel.nudge(2)
    lab.panel.back.click()
    assert not lab.settings.active


def test_truncation_what_if_draws_the_band(qtbot, make_window):
    win = make_window(session=small_session(seq_len=8))
    lab = ready(win, qtbot)
    lab.panel.truncation.setCurrentIndex(lab.panel.truncation.findData(4))
    win.controller.paint()
    f = lab.view.frame
    t, tp = np.indices(f.image.shape)
    assert f.truncation == 4
    assert np.isnan(f.image[tp - t >= 4]).all() and np.isfinite(f.image[(tp >= t) & (tp - t < 4)]).all()
    assert "Window k = 4" in lab.view.caption.text()


def test_lstm_forget_bias_and_rnn_activation(qtbot, make_window):
    win = make_window(session=small_session(model="lstm", seq_len=8))
    lab = ready(win, qtbot)
    assert lab.panel.bias.isVisible() and not lab.panel.activation.isVisible()
    st = at.trace_setup(win.controller.trace, win.controller.session.model)
    lab.panel.bias.setValue(int(5.0 / 0.25))
    assert lab.settings.forget_bias == 5.0
    win.controller.paint()
    new = at.set_forget_bias(st.model, 5.0)
    fr = at.what_if_frame(new, st.inputs, st.targets, h0=st.h0, **st.options)
    np.testing.assert_array_equal(lab.panel.frame.decay, fr.decay)
    assert lab.panel.frame.bound is None  # the sigma*gamma bound is the vanilla RNN's

    win2 = make_window(session=small_session(seq_len=8))
    lab2 = ready(win2, qtbot)
    assert lab2.panel.activation.isVisible() and not lab2.panel.bias.isVisible()
    lab2.panel.activation.setCurrentIndex(lab2.panel.activation.findData("relu"))
    assert lab2.settings.activation == "relu"
    win2.controller.paint()
    st2 = at.trace_setup(win2.controller.trace, win2.controller.session.model)
    fr2 = at.what_if_frame(at.with_activation(st2.model, "relu"), st2.inputs, st2.targets, h0=st2.h0,
                           **st2.options)
    np.testing.assert_array_equal(lab2.panel.frame.decay, fr2.decay)
    assert lab2.panel.frame.gamma == 1.0


def test_playing_or_a_new_iteration_ends_the_what_if(qtbot, make_window):
    win = make_window(session=small_session(seq_len=6))
    lab = ready(win, qtbot)
    lab.panel.nudge(3)
    assert lab.settings.active
    win.controller.play()
    assert not lab.settings.active
    win.controller.pause()
    step_to(win, GradientStep)
    win.controller.paint()
    lab.panel.nudge(3)
    assert lab.settings.active
    win.controller.step_iteration()  # a new iteration
    win.controller.paint()
    assert not lab.settings.active


def test_shortcut_overview_lists_the_keys(qtbot, shared_window):
    win = shared_window
    rows = dict(win.shortcut_rows())
    assert "[  /  ]" in rows and "Ctrl+Backspace" in rows and "C" in rows


def test_non_finite_weights_give_a_message_not_an_error(qtbot, make_window):
    win = make_window(small_session(task="sine", activation="relu", optimizer="sgd", lr=1.0, clip="none",
                                    init="xavier", init_scale=3.0))
    lab = ready(win, qtbot)
    win.act["connectivity"].trigger()
    c = win.controller
    for _ in range(30):
        if c.session.blowup is not None:
            break
        c.step_iteration()
    assert c.session.blowup is not None
    c.paint()
    assert "not finite" in lab.view.message.text() and "not finite" in lab.panel.caption.text()
    assert c.last_error is None
    lab.nudge(1)  # says why it cannot, does not raise
    assert c.last_error is None


def test_huge_trained_weights_keep_the_slider_usable(qtbot):
    from bpttviz.views.theme import Theme
    from bpttviz.views.whatif_panel import WhatIfPanel

    p = WhatIfPanel(Theme())
    qtbot.addWidget(p)
    for sigma in (1e6, float("inf"), float("nan")):
        p.configure("rnn", 10, sigma=sigma, forget_bias=None, activation="tanh", truncation=None)
        assert not p.settings().active  # the trained value counts as unchanged
        p.nudge(-1)
        assert p.settings().sigma == (p.sigma.maximum() - 1) * 0.05


def on_top(win, name: str):
    """Raise the main view ``name`` (the bottom views share tabs) and paint; returns the view."""
    win.docks[name].show()
    win.docks[name].raise_()
    win.controller.paint()
    return {"decay": win.decay, "deltas": win.deltas}[name]


def test_the_main_decay_and_deltas_views_show_the_what_if_labelled(qtbot, make_window):
    win = make_window(session=small_session(model="lstm", seq_len=8))
    lab = ready(win, qtbot)
    decay = on_top(win, "decay")
    trained_curve = decay.frame.curve.copy()
    trained_note = decay.note.text()
    deltas = on_top(win, "deltas")
    trained_image = deltas.frame.image.copy()
    trained_norms = {k: v.copy() for k, v in deltas.frame.norms.items()}
    assert not decay.banner.label and not deltas.banner.isVisible()
    lab.panel.bias.setValue(int(3.0 / 0.25))
    lab.panel.truncation.setCurrentIndex(lab.panel.truncation.findData(3))
    st = at.trace_setup(win.controller.trace, win.controller.session.model)
    new = at.set_forget_bias(st.model, 3.0)
    opts = at.set_truncation(st.options, 3)
    fr = at.what_if_frame(new, st.inputs, st.targets, h0=st.h0, **opts)
    # the deltas view: the changed model's summed deltas, as the records would show them
    on_top(win, "deltas")
    assert deltas.banner.isVisible() and deltas.frame.title.endswith(" · what-if")
    dh = fr.attribution.totals["dh"]
    np.testing.assert_allclose(deltas.frame.norms["‖dL/dhₜ‖"], np.sqrt((dh ** 2).sum((1, 2))), rtol=1e-12)
    np.testing.assert_allclose(deltas.frame.image, dh[:, 0].T.astype(np.float32))
    dc = fr.attribution.totals["dc"]
    np.testing.assert_allclose(deltas.frame.norms["‖dL/dcₜ‖"], np.sqrt((dc ** 2).sum((1, 2))), rtol=1e-12)
    assert win.shown_values()["deltas"]["whatif"] == lab.settings.label()
    # the decay view: the what-if's curve (and through c), the trained one dashed beside it
    on_top(win, "decay")
    assert decay.banner.isVisible() and "WHAT-IF" in decay.banner.text() and "forget bias = 3" in decay.banner.text()
    assert "Ctrl+Backspace" in decay.banner.text()
    np.testing.assert_array_equal(decay.frame.curve, fr.decay)
    np.testing.assert_array_equal(decay.frame.cell, fr.decay_c)
    np.testing.assert_allclose(decay.whatif[1], trained_curve, rtol=1e-12)  # the same numbers, by the attribution
    assert "what-if" in decay.plot.titleLabel.text and "trained" in decay.plot.titleLabel.text
    assert decay.note.text().startswith("what-if: forget bias = 3, k = 3 on iteration")
    assert "truncated at k = 3" in decay.note.text()
    assert win.shown_values()["decay"]["whatif"] == lab.settings.label()
    # back to the trained weights: both views exactly as before, unmarked
    qtbot.keyClick(win, Key.Key_Backspace, QtCore.Qt.KeyboardModifier.ControlModifier)
    on_top(win, "decay")
    assert not decay.banner.isVisible() and decay.whatif is None
    np.testing.assert_array_equal(decay.frame.curve, trained_curve)
    assert decay.note.text() == trained_note and "what-if" not in decay.plot.titleLabel.text
    on_top(win, "deltas")
    assert not deltas.banner.isVisible()
    np.testing.assert_array_equal(deltas.frame.image, trained_image)
    for k, v in trained_norms.items():
        np.testing.assert_array_equal(deltas.frame.norms[k], v)
    assert "what-if" not in deltas.frame.title
    assert win.controller.last_error is None


def test_a_new_iteration_unmarks_the_main_views(qtbot, make_window):
    win = make_window(session=small_session(seq_len=6))
    lab = ready(win, qtbot)
    lab.panel.nudge(-4)
    assert on_top(win, "decay").banner.isVisible() and on_top(win, "deltas").banner.isVisible()
    win.controller.step_iteration()
    assert not lab.settings.active
    assert not on_top(win, "deltas").banner.isVisible() and "what-if" not in win.deltas.frame.title
    assert not on_top(win, "decay").banner.isVisible() and win.decay.whatif is None


def test_sigma_gamma_of_one_is_said_as_one(qtbot, make_window):
    """σ_max set to 1.00 is 1 up to the rounding of the scaling: the caption says the bound
    stays level, never "1 < 1"."""
    win = make_window(session=small_session(seq_len=8))
    lab = ready(win, qtbot)
    lab.panel.sigma.setValue(20)  # 20 notches of 0.05
    win.controller.paint()
    text = lab.panel.caption.text()
    assert "σ_max·γ = 1·1 = 1: the bound stays level" in text and "1 < 1" not in text and "1 > 1" not in text
    lab.panel.sigma.setValue(16)
    win.controller.paint()
    assert "= 0.8 < 1: the bound shrinks ×0.8 per step back" in lab.panel.caption.text()


def test_a_new_session_puts_the_controls_back_to_the_trained_weights(qtbot, make_window):
    """Reset (or a scenario, a file) replaces the session: the panel's controls must not keep
    showing a what-if that no view shows any more, even before the panel is set up again."""
    win = make_window(session=small_session(seq_len=6))
    lab = ready(win, qtbot)
    lab.panel.nudge(3)
    assert lab.settings.active and lab.panel.settings().active
    win.controller.reset()
    assert not lab.settings.active
    assert not lab.panel.settings().active  # no control off its trained value
