"""The sigma_max lecture in the window: each stop raises the attribution view on a freshly
narrated iteration whose recurrent matrix has the stated sigma_max, and the band the view draws
narrows and widens as the captions say (the numbers are checked at several seeds in
tests/engine/test_attribution.py)."""

from __future__ import annotations

import numpy as np
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
