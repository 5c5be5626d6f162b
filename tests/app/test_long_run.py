"""Soak: train and render the whole default window for many frames offscreen, without a crash
and without memory growth. This also guards the PySide6 pin of DESIGN.md (6.12 on CPython 3.11
dies after a few thousand pyqtgraph frames). CI (CI=true) runs 20,000 frames; a local run 1,500
(set BPTTVIZ_SOAK_FRAMES to choose)."""

from __future__ import annotations

import os
import time

import numpy as np
import pytest
from PySide6 import QtWidgets

pytestmark = pytest.mark.soak


def rss_mb() -> float:
    with open("/proc/self/status", encoding="ascii") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def frames_wanted() -> int:
    if os.environ.get("BPTTVIZ_SOAK_FRAMES"):
        return int(os.environ["BPTTVIZ_SOAK_FRAMES"])
    return 20_000 if os.environ.get("CI") else 1_500


@pytest.mark.skipif(not os.path.exists("/proc/self/status"), reason="reads RSS from /proc")
def test_soak_render_and_train(make_window):
    win = make_window(preset="min-char-rnn")  # the default preset, every view visible, 1280x800
    c = win.controller
    app = QtWidgets.QApplication.instance()
    n = frames_wanted()
    warm = max(200, n // 10)
    start = time.perf_counter()
    rss_warm = None
    painted = 0
    for frame in range(n):
        if frame % 3 == 0:  # new data for the views: a training iteration, narrated now and then
            if frame % 30 == 0:
                c.step_iteration()
            else:
                assert c.session.train_step() is not None
            c.version += 1
        painted += c.paint() or 0
        app.processEvents()
        if frame == warm:
            rss_warm = rss_mb()
    seconds = time.perf_counter() - start
    rss_end = rss_mb()
    growth = rss_end - rss_warm
    print(f"soak: {n} frames ({painted} view updates) in {seconds:.1f} s, "
          f"{c.session.iteration} iterations, RSS {rss_warm:.0f} -> {rss_end:.0f} MB")
    assert win.isVisible() and c.session.blowup is None
    assert all(np.all(np.isfinite(p)) for p in c.session.model.params.values())
    assert growth < 60, f"memory grew by {growth:.0f} MB over {n - warm} frames"
