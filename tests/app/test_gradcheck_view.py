"""The gradient-check view: "Check gradients" on the app's model, and "Open my code…" on a
learner's file (a report, an unusable file, a file that never returns)."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pytest
from PySide6 import QtCore, QtWidgets

from .conftest import small_session

Key = QtCore.Qt.Key
EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def test_check_gradients_on_the_model_is_correct_and_quick(qtbot, shared_window):
    win = shared_window
    lab = win.gradient_lab
    win.controller.step_iteration()
    t0 = time.perf_counter()
    qtbot.keyClick(win.graph, Key.Key_G)
    seconds = time.perf_counter() - t0
    view = lab.view
    assert view.report is not None and view.report.ok
    assert seconds < 3.0  # a few hundred ms here; generous for a loaded CI machine
    assert set(view.report.params) == set(win.controller.session.model.params)
    assert view.verdict.text().startswith("✓")
    assert "none" in view.length.text() and "6 timesteps" in view.length.text()
    assert view.table.rowCount() == 5 and all(view.table.item(r, 2).text() == "ok" for r in range(5))
    assert lab.check_dock.isVisible()
    # bars on a log scale below the tolerance line; one heatmap per matrix with a colour bar
    heights = view.bars.opts["height"]
    y0 = view.bars.opts["y0"]
    assert np.all(y0 + np.asarray(heights) < np.log10(view.report.tol))
    assert set(view.heatmaps) == {"W_xh", "W_hh", "W_hy"}
    hm = view.heatmaps["W_hh"]
    lo, hi = hm.image.levels
    assert lo == -hi and hi > 0
    assert hm.bar.levels() == (lo, hi)


def test_check_before_any_step_takes_one_first(qtbot, shared_window):
    win = shared_window
    c = win.controller
    assert c.session.last_batch is None
    win.gradient_lab.check_model()
    assert c.session.iteration == 1 and win.gradient_lab.view.report.ok


def test_heatmap_is_analytic_minus_numerical_with_unchecked_entries_blank(qtbot, make_window):
    win = make_window(small_session(hidden_size=30))
    lab = win.gradient_lab
    lab.set_bugs({"drop_dh_next"})
    lab.check_model()
    rep = lab.view.report
    W = rep.params["W_hh"]
    assert W.checked < W.size  # 900 entries: a subset is checked, to stay quick
    img = lab.view.heatmaps["W_hh"].image.image
    assert img.shape == (30, 30)
    assert np.isnan(img).sum() == W.size - W.checked
    np.testing.assert_allclose(img[~np.isnan(img)], rep.diff["W_hh"][~np.isnan(rep.diff["W_hh"])], rtol=1e-6)


def test_mlp_check_has_no_sequence_length(qtbot, make_window):
    win = make_window(preset="xor-mlp")
    win.gradient_lab.check_model()
    view = win.gradient_lab.view
    assert view.report.ok and view.report.seq_len is None
    assert "no sequence axis" in view.length.text()
    assert set(view.heatmaps) == {"W1", "W2"}


def wait_for_file(qtbot, lab, timeout_ms: int = 60000):
    qtbot.waitUntil(lambda: lab.job is not None and not lab.job.running, timeout=timeout_ms)


def test_open_my_code_with_a_classic_bug(qtbot, make_window, monkeypatch):
    win = make_window()
    lab = win.gradient_lab
    path = str(EXAMPLES / "rnn_bug_dh_next.py")
    monkeypatch.setattr(QtWidgets.QFileDialog, "getOpenFileName", lambda *a, **k: (path, "Python files (*.py)"))
    win.gradient_lab.act_open.trigger()  # the menu action: the (patched) file dialog, then the check
    wait_for_file(qtbot, lab)
    view = lab.view
    assert view.report is not None and not view.report.ok
    assert view.report.first_bad_length == 2
    assert "T=2" in view.length.text()
    assert "rnn_bug_dh_next.py" in view.source_label.text()
    rows = {view.table.item(r, 0).text().split()[0]: view.table.item(r, 2).text() for r in range(view.table.rowCount())}
    assert rows == {"Wxh": "WRONG", "Whh": "WRONG", "Why": "ok", "bh": "WRONG", "by": "ok"}
    assert "dh_next" in view.text.toPlainText()  # the hints


def test_open_my_code_correct_file(qtbot, make_window):
    win = make_window()
    lab = win.gradient_lab
    lab.check_file(str(EXAMPLES / "rnn_correct.py"))
    wait_for_file(qtbot, lab)
    assert lab.view.report.ok and lab.view.verdict.text().startswith("✓")


@pytest.mark.parametrize("source, expected", [
    ("def loss_and_grads(p, x, y:\n    pass\n", "syntax error at line 1"),
    ("import numpy as np\n", "does not define loss_and_grads"),
    ("def loss_and_grads(p, x, y):\n    return 0.0, {}\n\ndef example():\n    raise RuntimeError('no data')\n",
     "example() raised"),
    (None, "no such file"),
])
def test_unusable_files_show_the_reason(qtbot, make_window, tmp_path, source, expected):
    win = make_window()
    lab = win.gradient_lab
    path = tmp_path / "mine.py"
    if source is not None:
        path.write_text(source, encoding="utf-8")
    lab.check_file(str(path))
    wait_for_file(qtbot, lab)
    assert lab.view.report is None and lab.view.problem is not None
    assert expected in lab.view.verdict.text()
    assert win.isVisible()


def test_a_file_that_never_returns_is_stopped_and_the_window_stays_responsive(qtbot, make_window, tmp_path):
    win = make_window()
    lab = win.gradient_lab
    path = tmp_path / "forever.py"
    path.write_text("import numpy as np\n\ndef loss_and_grads(params, inputs, targets):\n    while True:\n"
                    "        pass\n\ndef example():\n    return {'W': np.ones((2, 2))}, np.ones((1, 2)), np.ones(1)\n",
                    encoding="utf-8")
    ticks = []
    timer = QtCore.QTimer()
    timer.timeout.connect(lambda: ticks.append(time.perf_counter()))
    timer.start(20)
    t0 = time.perf_counter()
    job = lab.check_file(str(path), timeout=2.0)
    assert time.perf_counter() - t0 < 1.0  # returns at once: the check runs in a child process
    assert "Checking forever.py" in lab.view.verdict.text()
    qtbot.keyClick(win.graph, Key.Key_Right)  # the app still steps while the file runs
    assert win.controller.record is not None
    wait_for_file(qtbot, lab, timeout_ms=30000)
    timer.stop()
    assert job.result.report is None
    assert "did not finish within 2 s" in lab.view.verdict.text()
    gaps = np.diff(ticks)
    assert len(ticks) > 40 and gaps.max() < 0.5  # the event loop kept running throughout


def test_a_newer_check_replaces_a_running_one(qtbot, make_window, tmp_path):
    win = make_window()
    lab = win.gradient_lab
    slow = tmp_path / "slow.py"
    slow.write_text("import time\ntime.sleep(60)\n", encoding="utf-8")
    first = lab.check_file(str(slow), timeout=30)
    proc = first.run.proc
    lab.check_file(str(EXAMPLES / "rnn_correct.py"))
    assert proc.poll() is not None  # the first child was killed, not left running
    wait_for_file(qtbot, lab)
    assert lab.view.report.ok


def test_zoom_reaches_the_view(qtbot, make_window):
    win = make_window(small_session())
    win.gradient_lab.check_model()
    before = win.gradient_lab.view.verdict.font().pointSizeF()
    win.zoom(1.5)
    assert win.gradient_lab.view.verdict.font().pointSizeF() > before


def test_the_keys_are_in_the_overview(qtbot, shared_window):
    win = shared_window
    keys = dict(win.shortcut_rows())
    assert "G" in keys and "Ctrl+Shift+O" in keys


def test_closing_the_window_stops_a_running_check(qtbot, make_window, tmp_path):
    win = make_window()
    forever = tmp_path / "forever.py"
    forever.write_text("while True:\n    pass\n", encoding="utf-8")
    job = win.gradient_lab.check_file(str(forever), timeout=60)
    proc = job.run.proc
    assert proc.poll() is None
    win.close()
    assert proc.poll() is not None  # killed with the window, not left running for a minute
