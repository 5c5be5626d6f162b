"""The bug lab: switches that inject classic mistakes into the engine's backward pass, a banner
while any is on, the doctor flags them, the views and training show them, off restores the
correct engine."""

from __future__ import annotations

import numpy as np
from PySide6 import QtCore

from bpttviz.engine.gradients.bugs import BUGS, RECURRENT_ONLY
from bpttviz.engine.training.session import Session
from bpttviz.engine.training.session_io import load_session, save_session

from .conftest import small_session

Key = QtCore.Qt.Key


def lab_of(win):
    return win.gradient_lab


def test_never_on_unless_switched_on(qtbot, shared_window):
    win = shared_window
    lab = lab_of(win)
    assert win.controller.session.bugs == frozenset()
    assert not lab.banner_bar.isVisible() and "BUG LAB" not in win.windowTitle()
    assert not any(box.isChecked() for box in lab.panel.boxes.values())
    assert set(lab.panel.boxes) == set(BUGS)


def test_a_switch_turns_the_bug_on_with_a_banner_and_off_restores_the_correct_engine(qtbot, shared_window):
    win = shared_window
    lab = lab_of(win)
    s = win.controller.session
    fresh = small_session()  # same config and seed: the same parameters at iteration 0
    x, y = fresh.task.batch(np.random.default_rng(5))

    lab.panel.boxes["drop_dh_next"].click()
    assert s.bugs == {"drop_dh_next"}
    assert lab.banner_bar.isVisible() and "drop_dh_next" in lab.banner.text()
    assert "BUG LAB: drop_dh_next" in win.windowTitle()
    assert lab.banner.geometry().width() > win.width() * 0.9  # across the whole window
    _, wrong = s.model.loss_and_grads(x, y, **s.options())
    _, right = fresh.model.loss_and_grads(x, y, **fresh.options())
    assert not np.allclose(wrong["W_hh"], right["W_hh"])

    lab.panel.boxes["softmax_elementwise"].click()
    assert s.bugs == {"drop_dh_next", "softmax_elementwise"}
    assert "softmax_elementwise" in lab.banner.text()

    lab.panel.all_off.click()
    assert s.bugs == frozenset() and not lab.banner_bar.isVisible()
    assert "BUG LAB" not in win.windowTitle()
    loss, grads = s.model.loss_and_grads(x, y, **s.options())
    loss0, grads0 = fresh.model.loss_and_grads(x, y, **fresh.options())
    assert loss == loss0
    for k in grads0:
        np.testing.assert_array_equal(grads[k], grads0[k])


def test_drop_dh_next_is_flagged_by_the_check_view_from_length_2(qtbot, shared_window):
    win = shared_window
    lab = lab_of(win)
    lab.panel.boxes["drop_dh_next"].click()
    win.controller.step_iteration()
    qtbot.keyClick(win.graph, Key.Key_G)
    view = lab.view
    rep = view.report
    assert not rep.ok and rep.first_bad_length == 2
    assert "T=2" in view.length.text() and view.verdict.text().startswith("✗")
    result = {view.table.item(r, 0).text().split()[0]: view.table.item(r, 2).text() for r in range(5)}
    assert result["W_hh"] == "WRONG" and result["W_hy"] == "ok"
    assert any("dh_next" in h for h in rep.hints)
    assert "drop_dh_next" in view.source_label.text()


def test_every_backward_pass_bug_fails_the_gradient_check(qtbot, shared_window):
    win = shared_window
    lab = lab_of(win)
    for bug in sorted(set(BUGS) - {"targets_wrong_axis"}):
        lab.set_bugs({bug})
        lab.check_model()
        assert not lab.view.report.ok, bug
        assert lab.view.verdict.text().startswith("✗"), bug
    lab.set_bugs(())
    lab.check_model()
    assert lab.view.report.ok


def test_the_data_bug_passes_the_check_and_says_why(qtbot, shared_window):
    win = shared_window
    lab = lab_of(win)
    lab.set_bugs({"targets_wrong_axis"})
    lab.check_model()
    assert lab.view.report.ok  # the gradient is right for the wrong targets
    assert "mistake in the data" in lab.view.text.toPlainText()


def test_the_deltas_view_shows_the_dropped_future(qtbot, make_window):
    def dh_norms(win):
        c = win.controller
        c.step_iteration()
        c.go_to(len(c.trace) - 1)
        c.refresh_all()
        f = win.deltas.frame
        return f.norms["‖dL/dhₜ‖"], f.norms["from yₜ"]

    right = make_window()
    total, from_y = dh_norms(right)
    assert not np.allclose(total[:-1], from_y[:-1])  # the future adds to every step but the last
    wrong = make_window()
    lab_of(wrong).set_bugs({"drop_dh_next"})
    total, from_y = dh_norms(wrong)
    np.testing.assert_allclose(total, from_y)  # only the output's contribution is left


def test_training_visibly_misbehaves(qtbot, make_window):
    right, wrong = make_window(), make_window()
    lab_of(wrong).panel.boxes["softmax_elementwise"].click()
    for win in (right, wrong):
        win.controller.session.train(200)
        win.docks["loss"].raise_()  # the bottom plots share tabs: only a shown view is painted
        qtbot.wait(20)
        win.controller.refresh_all()
    loss_right = right.controller.session.smoothed_loss()
    loss_wrong = wrong.controller.session.smoothed_loss()
    assert loss_wrong > 2 * loss_right
    # and the loss view draws the two different curves
    assert not np.allclose(right.loss.smooth.getData()[1], wrong.loss.smooth.getData()[1])


def test_bugs_survive_reset_and_rebuild_but_only_where_they_apply(qtbot, shared_window):
    win = shared_window
    lab = lab_of(win)
    c = win.controller
    lab.set_bugs({"drop_dh_next", "softmax_elementwise"})
    qtbot.keyClick(win.graph, Key.Key_R)  # reset
    assert c.session.iteration == 0 and c.session.bugs == {"drop_dh_next", "softmax_elementwise"}
    assert lab.banner_bar.isVisible()
    c.load_preset("xor-mlp")  # an MLP: no recurrence, so no dh_next
    assert c.session.bugs == {"softmax_elementwise"}
    assert not lab.panel.boxes["drop_dh_next"].isEnabled()
    assert "drop_dh_next: an MLP has no recurrence" in lab.panel.status.text()
    c.load_preset("sine-rnn")  # mean squared error: there is no softmax
    assert c.session.bugs == frozenset() and not lab.banner_bar.isVisible()
    assert not lab.panel.boxes["softmax_elementwise"].isEnabled()


def test_mlp_offers_only_the_bugs_that_apply(qtbot, make_window):
    win = make_window(preset="xor-mlp")
    panel = lab_of(win).panel
    for name, box in panel.boxes.items():
        assert box.isEnabled() == (name not in RECURRENT_ONLY), name
    assert "MLP" in panel.boxes["drop_dh_next"].toolTip()


def test_a_session_file_brings_its_bugs_and_the_banner(qtbot, shared_window, tmp_path):
    s = small_session()
    s.set_bugs({"overwrite_dh_next"})
    s.train(2)
    save_session(s, tmp_path / "buggy.npz")
    loaded, _ = load_session(tmp_path / "buggy.npz")
    win = shared_window
    win.controller.replace_session(loaded)
    lab = lab_of(win)
    assert lab.banner_bar.isVisible() and "overwrite_dh_next" in lab.banner.text()
    assert lab.panel.boxes["overwrite_dh_next"].isChecked()


def test_bugs_set_elsewhere_still_show(qtbot, shared_window):
    win = shared_window
    win.controller.session.set_bugs({"deriv_wrong_variable"})  # e.g. a script or a scenario
    win.controller.step_iteration()
    assert lab_of(win).banner_bar.isVisible()
    assert lab_of(win).panel.boxes["deriv_wrong_variable"].isChecked()


def test_fresh_sessions_of_every_preset_have_no_bug():
    from bpttviz.engine.training.presets import list_presets

    for name in list_presets():
        assert Session.from_preset(name).bugs == frozenset(), name


def test_the_banner_stays_in_lecture_mode_and_never_comes_back_stale(qtbot, shared_window):
    win = shared_window
    lab = lab_of(win)
    lab.set_bugs({"drop_dh_next"})
    win.lecture.enter(full_screen=False)
    assert lab.banner_bar.isVisible() and "BUG LAB" in win.windowTitle()  # on the projector too
    lab.set_bugs(())
    win.lecture.leave()  # restores the window state saved on entry, banner row included...
    assert not lab.banner_bar.isVisible()  # ...but not a banner for a bug that is off
    assert "BUG LAB" not in win.windowTitle()
