"""The lectures' attribution stops in the window. The sigma_max lecture raises the attribution
view on a freshly narrated iteration whose recurrent matrix has the stated sigma_max, and the band
narrows and widens as the captions say; the vanishing, truncation and LSTM lectures raise it where
it makes their point (one fading column; the band of width k beside the full matrix; the LSTM's
wide column beside the RNN's narrow one). Each caption's claims are data in the preset, checked at
five seeds in tests/engine/test_scenario_claims.py; here the window shows the matrix they are
about, and the caption bar shows the caption because they held."""

from __future__ import annotations

import numpy as np
import pytest
from PySide6 import QtCore

from bpttviz.engine.gradients import attribution as at

Key = QtCore.Qt.Key


def test_the_sigma_max_lecture_drives_the_attribution_view(qtbot, make_window):
    win = make_window()
    win._load_preset("lecture-8-spectral-radius")
    player = win.scenario
    assert player.active
    seen = {}
    for i in range(len(player.stops)):
        if i:
            qtbot.keyClick(win.graph, Key.Key_PageDown)
        qtbot.waitUntil(lambda: not player.busy, timeout=30000)
        win.controller.refresh_all()
        stop = player.stops[i]
        assert win.docks[stop.focus].isVisible()
        if stop.focus != "attribution":
            continue
        c = win.controller
        st = at.trace_setup(c.trace, c.session.model)
        sigma = np.linalg.norm(st.model.params["W_hh"], 2)
        assert abs(sigma - c.session.cfg.recurrent_norm) < 1e-9
        f = win.whatif.view.frame
        assert f.filled_from == 0 and f"σ_max(W_hh) = {sigma:.1f}" in stop.caption.replace("σ_max = ", "σ_max(W_hh) = ")
        seen[round(float(sigma), 1)] = int(f.reach[-1])
    assert sorted(seen) == [0.5, 1.0, 2.0, 3.0]
    assert seen[0.5] < seen[2.0] == 24 and seen[1.0] < 24
    assert win.controller.last_error is None
    # the last stop hands over to the what-if panel: ] moves sigma_max
    before = win.whatif.panel.sigma.value()
    qtbot.keyClick(win, Key.Key_BracketRight)
    assert win.whatif.panel.sigma.value() == before + 1


def _go_to_attribution_stop(qtbot, win, name: str, nth: int = 0, timeout: int = 60000):
    """Load lecture ``name`` and page down to its ``nth`` stop that raises the attribution view
    (each stop on the way given ``timeout`` ms to prepare and train)."""
    win._load_preset(name)
    player = win.scenario
    stops = [i for i, s in enumerate(player.stops) if s.focus == "attribution"]
    target = stops[nth]
    for i in range(target + 1):
        if i:
            qtbot.keyClick(win.graph, Key.Key_PageDown)
        qtbot.waitUntil(lambda: not player.busy, timeout=timeout)
    win.controller.refresh_all()
    assert player.index == target
    stop = player.stops[target]
    assert win.docks["attribution"].isVisible()
    assert all(v.holds for v in player.verdicts) and player.verdicts
    assert win.classroom.caption.text() == stop.caption  # every claim held: the caption is shown
    return stop


def test_the_vanishing_lecture_shows_one_fading_column(qtbot, make_window):
    win = make_window()
    _go_to_attribution_stop(qtbot, win, "lecture-2-vanishing")
    f = win.whatif.view.frame
    c = win.controller
    st = at.trace_setup(c.trace, c.session.model)
    att = at.attribution(st.model, st.inputs, st.targets, h0=st.h0, **st.options)
    assert f.second is None and f.filled_from == 0
    assert np.isnan(f.image[:, :-1]).all()  # one loss, at the last step: one column
    np.testing.assert_allclose(f.values, att.A)
    assert int(f.reach.max()) <= 4  # "keeps 1% of its size for at most 4 steps back"
    assert win.whatif.view.plot.getViewBox().viewRange()[0] == [f.T - 1.5, f.T - 0.5]  # the column, full width
    assert win.controller.last_error is None


def test_the_truncation_lecture_shows_the_band_beside_the_full_matrix(qtbot, make_window):
    win = make_window()
    _go_to_attribution_stop(qtbot, win, "lecture-4-truncation")
    view = win.whatif.view
    f = view.frame
    assert f.second is not None and view.plotw2.isVisible()
    assert f.label == "full BPTT" and f.second.label == "window k=4"
    assert f.truncation is None and f.second.truncation == 4
    t, tp = np.indices(f.second.image.shape)
    assert np.isnan(f.second.image[tp - t >= 4]).all() and np.isfinite(f.second.image[(tp >= t) & (tp - t < 4)]).all()
    # the second matrix is the comparison's own iteration, on the first one's colour scale
    comp = win.comparison
    st2 = at.trace_setup(comp.trace, comp.session.model)
    att2 = at.attribution(st2.model, st2.inputs, st2.targets, h0=st2.h0, **st2.options)
    np.testing.assert_allclose(f.second.values, att2.A)
    assert f.second.levels == f.levels
    # the caption states both bands with the view's numbers
    from bpttviz.engine.explain import fmt
    from bpttviz.presenters.attribution import far_share

    cap = view.caption.text()
    assert "window k=4: every cell with t′ − t ≥ 4 is exactly 0" in cap
    assert f"full BPTT: a loss keeps ≥ 1% for up to {int(f.reach.max())} of {f.T - 1} steps back" in cap
    assert f"{fmt(100 * far_share(f.values, 4))}% of the total lies ≥ 4 steps off the diagonal" in cap
    assert far_share(f.values, 4) >= 0.05 and int(f.reach.max()) >= 12  # what the lecture's caption says
    # clicking a cell of the second matrix puts its path in the explain panel
    win.whatif.show_path(2, 4, second=True)
    assert win.explain.title.startswith("window k=4: Path")
    assert win.controller.last_error is None


@pytest.mark.soak
def test_the_lstm_lecture_shows_the_wide_column_beside_the_narrow_one(qtbot, make_window):
    """After training (hundreds of iterations: a soak test), the last stop puts the RNN's column
    beside the LSTM's; the caption is shown only because its claims held on these numbers."""
    win = make_window()
    _go_to_attribution_stop(qtbot, win, "lecture-5-lstm-vs-rnn", timeout=900000)
    view = win.whatif.view
    f = view.frame
    assert f.second is not None and view.plotw2.isVisible()
    assert (f.label, f.second.label) == ("RNN", "LSTM")
    assert np.isnan(f.image[:, :-1]).all() and np.isnan(f.second.image[:, :-1]).all()  # one loss each
    assert int(f.second.reach.max()) >= 30 and f.second.reach.max() >= 2 * f.reach.max()
    cap = view.caption.text()
    assert f"LSTM: the loss keeps ≥ 1% for {int(f.second.reach.max())} of {f.T - 1} steps back" in cap
    assert f"RNN: the loss keeps ≥ 1% for {int(f.reach.max())} of {f.T - 1} steps back" in cap
    # one loss: the view draws its column across the plot's whole width
    assert view.plot.getViewBox().viewRange()[0] == [f.T - 1.5, f.T - 0.5]
    assert win.controller.last_error is None
