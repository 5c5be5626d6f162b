"""Guided scenarios: every shipped lecture runs from its first stop to its last from the keyboard;
Page Up replays to the previous stop exactly; the side-by-side comparison overlays a second
decay curve and loss."""

from __future__ import annotations

import numpy as np
import pytest
from PySide6 import QtCore

from engine.presets import list_presets
from engine.scenario import parse_scenario

Key = QtCore.Qt.Key
LECTURES = [n for n in list_presets() if n.startswith("lecture-")]
FACTOR = 0.02  # every stop's "train" count is scaled by this (at least one iteration)


def settle(qtbot, win, timeout: int = 30000) -> None:
    qtbot.waitUntil(lambda: not win.scenario.busy, timeout=timeout)
    win.controller.refresh_all()


def fingerprint(win) -> tuple:
    c = win.controller
    s = c.session
    params = tuple(p.tobytes() for p in s.model.params.values())
    return s.iteration, c.trace_iteration, c.cursor if c.trace is not None else None, params


@pytest.mark.parametrize("name", LECTURES)
def test_every_lecture_runs_start_to_end_from_the_keyboard(qtbot, make_window, name):
    win = make_window()
    win.scenario.train_factor = FACTOR
    win._load_preset(name)  # what the Presets menu does: the scenario starts with the preset
    stops = parse_scenario(win.controller.session.cfg, name)
    assert win.scenario.active and win.scenario.index == 0 and len(win.scenario.stops) == len(stops)
    for i, stop in enumerate(stops):
        if i:
            qtbot.keyClick(win.graph, Key.Key_PageDown)
        settle(qtbot, win)
        assert win.scenario.index == i
        assert win.classroom.caption.text() == stop.caption
        assert win.classroom.caption_bar.isVisible()
        if stop.focus and stop.focus in win.docks:
            assert win.docks[stop.focus].isVisible(), f"stop {i + 1}: {stop.focus} not raised"
        if stop.has_compare:
            assert win.comparison.active == (stop.compare is not None)
    qtbot.keyClick(win.graph, Key.Key_PageDown)  # past the end: stays on the last stop
    assert win.scenario.index == len(stops) - 1
    assert not win.scenario.errors
    assert win.controller.last_error is None, win.controller.last_error
    trained = sum(win.scenario.scaled(s.train) for s in stops)
    stepped = any(s.step for s in stops)
    assert win.controller.session.iteration >= (1 if stepped else 0) or win.controller.session.blowup
    if trained and not any("seed" in s.set or s.set.get("task") for s in stops):
        assert win.controller.session.iteration >= trained


def test_page_up_replays_to_the_previous_stop_exactly(qtbot, make_window):
    win = make_window()
    win.scenario.train_factor = FACTOR
    win._load_preset("lecture-1-bptt-tiny")
    seen = {}
    for i in range(6):
        if i:
            qtbot.keyClick(win.graph, Key.Key_PageDown)
        settle(qtbot, win)
        seen[i] = fingerprint(win)
    rec = win.controller.record
    assert rec is not None and rec.phase == "backward" and rec.t == 3  # the caption's "At t = 3"
    qtbot.keyClick(win.graph, Key.Key_PageUp)
    settle(qtbot, win)
    assert win.scenario.index == 4 and fingerprint(win) == seen[4]
    assert win.classroom.caption.text() == win.scenario.stops[4].caption
    qtbot.keyClick(win.graph, Key.Key_PageDown)
    settle(qtbot, win)
    assert fingerprint(win) == seen[5]


def test_right_arrow_still_steps_records_inside_a_scenario(qtbot, make_window):
    win = make_window()
    win._load_preset("lecture-1-bptt-tiny")
    settle(qtbot, win)
    qtbot.keyClick(win.graph, Key.Key_Right)
    assert win.scenario.index == 0 and win.controller.cursor == 0 and win.controller.trace is not None
    qtbot.keyClick(win.graph, Key.Key_Right)
    assert win.controller.cursor == 1


def test_a_stop_that_trains_stops_exactly_and_next_cuts_it_short(qtbot, make_window):
    win = make_window()
    win.scenario.train_factor = 1.0
    win._load_preset("lecture-6-char-rnn")
    qtbot.keyClick(win.graph, Key.Key_PageDown)  # stop 2: one narrated iteration
    settle(qtbot, win)
    start = win.controller.session.iteration
    win.scenario.train_factor = 0.01  # stop 3 trains 500 -> 5 iterations
    qtbot.keyClick(win.graph, Key.Key_PageDown)
    settle(qtbot, win)
    assert win.controller.session.iteration == start + 5 and not win.controller.playing
    win.scenario.train_factor = 1.0  # stop 4: 2500 iterations; Page Down stops it where it is
    qtbot.keyClick(win.graph, Key.Key_PageDown)
    assert win.scenario.training and win.controller.playing
    qtbot.waitUntil(lambda: win.controller.session.iteration > start + 6, timeout=10000)
    qtbot.keyClick(win.graph, Key.Key_PageDown)
    settle(qtbot, win)
    assert win.scenario.index == 4 and not win.controller.playing and win.controller.until is None
    assert win.controller.session.iteration < start + 5 + 2500
    assert win.controller.speed is None or win.transport.speed.currentData() == win.controller.speed


def test_opening_a_preset_without_a_scenario_ends_the_current_one(qtbot, make_window):
    win = make_window()
    win._load_preset("lecture-1-bptt-tiny")
    assert win.scenario.active and win.classroom.caption_bar.isVisible()
    win._load_preset("xor-mlp")
    assert not win.scenario.active and not win.classroom.caption_bar.isVisible()


def test_comparison_overlays_a_second_decay_curve_and_loss(qtbot, make_window):
    win = make_window()
    c = win.controller
    win.docks["decay"].raise_()
    win.comparison.open({"model": "lstm"})
    assert win.classroom.compare_dock.isVisible()
    assert "LSTM" in win.classroom.compare_dock.windowTitle()
    for _ in range(3):
        c.step_iteration()
    qtbot.waitUntil(lambda: win.comparison.in_step, timeout=5000)
    s2 = win.comparison.session
    assert s2.cfg.model == "lstm" and s2.cfg.seed == c.session.cfg.seed
    assert np.array_equal(s2.last_batch[0], c.session.last_batch[0])  # the same data
    c.refresh_all()
    qtbot.waitUntil(lambda: win.decay.overlay is not None, timeout=5000)
    k = win.decay.overlay_curve.xData
    assert k is not None and len(k) == c.session.cfg.seq_len
    assert win.decay.overlay_cell.xData is not None  # the LSTM's path through its cell state
    assert np.any(np.isfinite(win.decay.overlay_curve.yData))
    title = win.decay.plot.titleLabel.text
    assert "RNN" in title and "LSTM" in title
    win.docks["loss"].raise_()
    c.refresh_all()
    qtbot.waitUntil(lambda: win.loss.overlay is not None, timeout=5000)
    assert len(win.loss.overlay_curve.xData) == 3
    # the second graph shows the same iteration at the same record
    c.step_back()
    qtbot.waitUntil(lambda: win.comparison.graph.frame is not None, timeout=5000)
    assert win.comparison.trace_iteration == c.trace_iteration
    i2 = win.comparison.record_for(c.record)
    assert win.comparison.trace[i2].phase == c.record.phase and win.comparison.trace[i2].index == c.record.index
    # reset rebuilds both; closing removes the overlays
    c.reset()
    assert win.comparison.session is not s2 and win.comparison.session.iteration == 0
    win.comparison.close()
    c.refresh_all()
    assert win.decay.overlay is None and win.loss.overlay is None
    assert not win.classroom.compare_dock.isVisible()


def test_a_broken_scenario_is_refused_with_a_message(qtbot, make_window):
    from engine.config import Config

    win = make_window()
    cfg = Config.from_dict({"task": "chars", "corpus": "names", "scenario": [{"caption": "x", "focus": "nowhere"}]})
    assert not win.scenario.start(cfg)
    assert not win.scenario.active and win.scenario.errors and "focus" in win.scenario.errors[-1]


def test_exploding_lecture_blows_up_then_a_new_seed_starts_again(qtbot, make_window):
    win = make_window()
    win.scenario.train_factor = 1.0
    win._load_preset("lecture-3-exploding")
    for _ in range(2):
        settle(qtbot, win)
        qtbot.keyClick(win.graph, Key.Key_PageDown)
    settle(qtbot, win, timeout=60000)  # stop 3: trains until the numbers are no longer finite
    c = win.controller
    assert win.scenario.index == 2 and c.session.blowup is not None and not c.playing
    assert c.until is None and any(b.objectName() == "blowup_dialog" for b in win.dialogs)
    qtbot.keyClick(win.graph, Key.Key_PageDown)  # stop 4: "start again" (it names the seed)
    settle(qtbot, win)
    s = c.session
    assert s.blowup is None and s.iteration == 0 and s.cfg.clip == "norm" and s.cfg.clip_threshold == 1.0
    assert not any(b.objectName() == "blowup_dialog" and b.isVisible() for b in win.dialogs)  # stale: closed


def test_the_task_view_follows_the_scenario(qtbot, make_window):
    """Lecture 7: the decision boundary is redrawn as it trains, and shows the spirals after the
    stop that switches the task (the view's page covers it whole: it must still count as shown)."""
    win = make_window()
    win.scenario.train_factor = 0.05
    win._load_preset("lecture-7-mlp")
    settle(qtbot, win)
    assert win.controller.binding("task view").on_screen()
    first = win.task.boundary.image.copy()
    for _ in range(3):
        qtbot.keyClick(win.graph, Key.Key_PageDown)
        settle(qtbot, win)
    assert not np.array_equal(win.task.boundary.image, first)  # trained: the boundary moved
    qtbot.keyClick(win.graph, Key.Key_PageDown)
    settle(qtbot, win)
    assert "spirals" in win.task.bp.titleLabel.text


def test_a_preset_file_of_ones_own_starts_its_scenario(qtbot, make_window, tmp_path):
    import json

    from bpttviz.reliability import open_preset_file

    win = make_window()
    win._load_preset("lecture-1-bptt-tiny")
    assert win.scenario.active
    mine = {"task": "parity", "model": "rnn", "hidden_size": 8, "seq_len": 6,
            "scenario": [{"caption": "My own first stop.", "step": 2}, {"caption": "And a second.", "train": 3}]}
    path = tmp_path / "mine.json"
    path.write_text(json.dumps(mine))
    assert open_preset_file(win, path)
    settle(qtbot, win)
    assert win.scenario.index == 0 and win.classroom.caption.text() == "My own first stop."
    assert win.controller.cursor == 1
    plain = tmp_path / "plain.json"
    plain.write_text(json.dumps({k: v for k, v in mine.items() if k != "scenario"}))
    assert open_preset_file(win, plain)
    assert not win.scenario.active and not win.classroom.caption_bar.isVisible()
