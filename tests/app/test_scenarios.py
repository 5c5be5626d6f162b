"""Guided scenarios: every shipped lecture runs from its first stop to its last from the keyboard;
Page Up replays to the previous stop exactly; the side-by-side comparison overlays a second
decay curve and loss."""

from __future__ import annotations

import numpy as np
import pytest
from PySide6 import QtCore

from bpttviz.engine.training.presets import list_presets
from bpttviz.engine.training.scenario import parse_scenario

Key = QtCore.Qt.Key
LECTURES = [n for n in list_presets() if n.startswith("lecture-")]
FACTOR = 0.02  # every stop's "train" count is scaled by this (at least one iteration)
# lecture 6 trains a 100-unit char-RNN, on (up to its stops' caps) while a claim does not hold yet:
# the tests of the background preparation and of Page Up's snapshots scale it down further (its
# stops 3 and 4 still train: 1 and 10 iterations, on to at most 2 and 20)
QUICK = 0.001


def settle(qtbot, win, timeout: int = 30000) -> None:
    qtbot.waitUntil(lambda: not win.scenario.busy, timeout=timeout)
    win.controller.refresh_all()


def prepared(qtbot, win, timeout: int = 60000) -> None:
    """Wait until the stop after the current one has been prepared in the background."""
    p = win.scenario
    qtbot.waitUntil(lambda: p.index + 1 in p.prepared or p.index + 1 >= len(p.stops), timeout=timeout)


def shows_the_truth(win, stop) -> None:
    """The caption bar shows the stop's caption when every claim held, else says which did not."""
    text = win.classroom.caption.text()
    failed = [v for v in win.scenario.verdicts if not v.holds]
    if not failed:
        assert text == stop.caption
    else:
        assert text.startswith("The caption is withheld") and stop.caption not in text
        for v in failed:
            assert v.claim.says in text


def fingerprint(win) -> tuple:
    c = win.controller
    s = c.session
    params = tuple(p.tobytes() for p in s.model.params.values())
    return s.iteration, c.trace_iteration, c.cursor if c.trace is not None else None, params


@pytest.mark.parametrize("name", LECTURES)
def test_every_lecture_runs_start_to_end_from_the_keyboard(qtbot, shared_window, name):
    win = shared_window
    win.scenario.train_factor = FACTOR
    win._load_preset(name)  # what the Presets menu does: the scenario starts with the preset
    stops = parse_scenario(win.controller.session.cfg, name)
    assert win.scenario.active and win.scenario.index == 0 and len(win.scenario.stops) == len(stops)
    for i, stop in enumerate(stops):
        if i:
            qtbot.keyClick(win.graph, Key.Key_PageDown)
        settle(qtbot, win)
        assert win.scenario.index == i
        assert len(win.scenario.verdicts) == len(stop.claims)
        shows_the_truth(win, stop)
        assert "_{" not in win.classroom.caption.shown() and "_t" not in win.classroom.caption.shown()
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
    if trained and not any("seed" in s.set or s.set.get("task") or s.restart for s in stops):
        assert win.controller.session.iteration >= trained


def test_page_up_replays_to_the_previous_stop_exactly(qtbot, shared_window):
    win = shared_window
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


def test_right_arrow_still_steps_records_inside_a_scenario(qtbot, shared_window):
    win = shared_window
    win._load_preset("lecture-1-bptt-tiny")
    settle(qtbot, win)
    qtbot.keyClick(win.graph, Key.Key_Right)
    assert win.scenario.index == 0 and win.controller.cursor == 0 and win.controller.trace is not None
    qtbot.keyClick(win.graph, Key.Key_Right)
    assert win.controller.cursor == 1


def test_a_second_press_while_a_stop_trains_never_cuts_it_short(qtbot, shared_window):
    """A clicker's double press: the stop's training runs to its exact count, the press is ignored
    and the caption bar says a stop is running."""
    win = shared_window
    win.scenario.prepare_ahead = False  # the live path: training in the window, slice by slice
    win.scenario.train_factor = 1.0
    win._load_preset("lecture-6-char-rnn")
    qtbot.keyClick(win.graph, Key.Key_PageDown)  # stop 2: one narrated iteration
    settle(qtbot, win)
    start = win.controller.session.iteration
    win.scenario.train_factor = 0.05  # stop 3 trains 500 -> 25 iterations (then on while its claim fails)
    count = win.scenario.scaled(win.scenario.stops[2].train)
    qtbot.keyClick(win.graph, Key.Key_PageDown)  # (a key press runs no timer: the training is still under way)
    assert win.scenario.training and win.controller.playing
    qtbot.keyClick(win.graph, Key.Key_PageDown)  # the double press
    qtbot.keyClick(win.graph, Key.Key_PageDown)
    assert win.scenario.index == 2 and win.scenario.busy
    assert "a stop is running" in win.classroom.caption.side.text()
    settle(qtbot, win, timeout=60000)
    assert win.scenario.index == 2 and not win.controller.playing and win.controller.until is None
    assert count == 25 and win.controller.session.iteration >= start + count  # the whole count, never cut short
    stop = win.scenario.stops[2]
    if win.scenario.verdicts[0].holds:
        assert win.controller.session.iteration - start <= win.scenario.scaled(stop.until)
    assert win.controller.speed is None or win.transport.speed.currentData() == win.controller.speed
    qtbot.keyClick(win.graph, Key.Key_PageDown)  # now it moves on
    assert win.scenario.index == 3
    win.scenario.end()  # leaving the scenario does stop a running stop
    assert not win.controller.playing


def test_the_next_stop_is_prepared_in_the_background_and_installed_at_once(qtbot, shared_window):
    """Page Down after the preparation finished: the stop is ready on the key press (no training in
    the window), with exactly the numbers a headless run of the same stops gives."""
    from bpttviz.engine.training.scenario import ScenarioRun

    win = shared_window
    win.scenario.train_factor = QUICK
    win._load_preset("lecture-6-char-rnn")
    qtbot.keyClick(win.graph, Key.Key_PageDown)
    settle(qtbot, win)
    prepared(qtbot, win)
    qtbot.keyClick(win.graph, Key.Key_PageDown)
    assert not win.scenario.busy and not win.controller.playing and win.scenario.index == 2
    run = ScenarioRun(win.scenario.base, factor=QUICK)
    for stop in win.scenario.stops[:3]:
        run.enter(stop)
    s = win.controller.session
    assert s.iteration == run.first.iteration
    for k, p in s.model.params.items():
        assert np.array_equal(p, run.first.model.params[k])
    assert [v.value for v in win.scenario.verdicts] == [v.value for v in run.verdicts]
    shows_the_truth(win, win.scenario.stops[2])
    # something done by hand in between: the preparation no longer applies, the stop runs live
    prepared(qtbot, win)
    win.controller.step_iteration()
    qtbot.keyClick(win.graph, Key.Key_PageDown)
    assert win.scenario.index == 3 and (win.scenario.training or win.controller.session.iteration > run.first.iteration)
    settle(qtbot, win, timeout=60000)


def test_page_up_installs_the_snapshot_of_the_previous_stop_at_once(qtbot, shared_window):
    win = shared_window
    win.scenario.train_factor = QUICK
    win._load_preset("lecture-6-char-rnn")
    seen = {}
    for i in range(4):
        if i:
            prepared(qtbot, win)
            qtbot.keyClick(win.graph, Key.Key_PageDown)
        settle(qtbot, win)
        seen[i] = fingerprint(win)
    qtbot.keyClick(win.graph, Key.Key_PageUp)
    assert not win.scenario.busy and win.scenario.index == 2  # ready on the key press
    assert fingerprint(win) == seen[2]
    qtbot.keyClick(win.graph, Key.Key_PageUp)
    assert not win.scenario.busy and fingerprint(win) == seen[1]


def test_a_stop_whose_claim_fails_says_so_instead_of_its_caption(qtbot, shared_window):
    win = shared_window
    win.scenario.prepare_ahead = False
    win.scenario.train_factor = 0.01  # lecture 2 stop 4 trains 3 iterations: its claims still hold?
    win._load_preset("lecture-1-bptt-tiny")
    for _ in range(9):
        qtbot.keyClick(win.graph, Key.Key_PageDown)
        settle(qtbot, win)
    stop = win.scenario.current
    (v,) = win.scenario.verdicts
    assert not v.holds  # 3 iterations: the loss has not fallen by 10%
    text = win.classroom.caption.text()
    assert text.startswith("The caption is withheld") and "the smoothed loss falls by at least 5%" in text
    assert stop.caption not in text and "⚠" in win.classroom.caption.shown()
    _, loss = win.controller.session.history["loss"].data()
    assert v.value == pytest.approx(loss[-30:].mean() / loss[:30].mean())


def test_opening_a_preset_without_a_scenario_ends_the_current_one(qtbot, shared_window):
    win = shared_window
    win._load_preset("lecture-1-bptt-tiny")
    assert win.scenario.active and win.classroom.caption_bar.isVisible()
    win._load_preset("xor-mlp")
    assert not win.scenario.active and not win.classroom.caption_bar.isVisible()


def test_comparison_overlays_a_second_decay_curve_and_loss(qtbot, shared_window):
    win = shared_window
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
    vx, vy = s2.history["val_metric"].data()
    assert len(vx) and np.array_equal(win.loss.overlay_val.xData, vx)  # its validation curve too
    assert np.allclose(win.loss.overlay_val.yData, vy)
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
    assert win.loss.overlay_val.xData is None or len(win.loss.overlay_val.xData) == 0
    assert not win.classroom.compare_dock.isVisible()


def test_a_broken_scenario_is_refused_with_a_message(qtbot, shared_window):
    from bpttviz.engine.training.config import Config

    win = shared_window
    cfg = Config.from_dict({"task": "chars", "corpus": "names", "scenario": [{"caption": "x", "focus": "nowhere"}]})
    assert not win.scenario.start(cfg)
    assert not win.scenario.active and win.scenario.errors and "focus" in win.scenario.errors[-1]


def test_exploding_lecture_blows_up_then_starts_again_from_the_same_seed(qtbot, shared_window):
    win = shared_window
    win.scenario.prepare_ahead = False
    win.scenario.train_factor = 1.0
    win._load_preset("lecture-3-exploding")
    settle(qtbot, win)
    c = win.controller
    seed = c.session.cfg.seed
    qtbot.keyClick(win.graph, Key.Key_PageDown)
    settle(qtbot, win, timeout=60000)  # stop 2: trains until the numbers are no longer finite
    assert win.scenario.index == 1 and c.session.blowup is not None and not c.playing
    assert all(v.holds for v in win.scenario.verdicts), [v.sentence() for v in win.scenario.verdicts]
    assert c.until is None and any(b.objectName() == "blowup_dialog" for b in win.dialogs)
    qtbot.keyClick(win.graph, Key.Key_PageDown)  # stop 3: start again, same seed, clipped
    settle(qtbot, win)
    s = c.session
    assert s.blowup is None and s.iteration == 0 and s.cfg.clip == "norm" and s.cfg.seed == seed
    assert not any(b.objectName() == "blowup_dialog" and b.isVisible() for b in win.dialogs)  # stale: closed
    win.activateWindow()  # the closed dialog had the keyboard
    qtbot.waitUntil(win.isActiveWindow, timeout=3000)
    qtbot.keyClick(win.graph, Key.Key_PageDown)  # stop 4: the clipped model learns
    settle(qtbot, win, timeout=60000)
    assert win.scenario.index == 3
    assert all(v.holds for v in win.scenario.verdicts), [v.sentence() for v in win.scenario.verdicts]
    assert win.classroom.caption.text() == win.scenario.current.caption
    v = win.scenario.verdicts[0]
    assert v.value == c.session.metric() / c.session.task.baseline, (v.value, c.session.iteration, c.session.blowup)


def test_the_task_view_follows_the_scenario(qtbot, shared_window):
    """Lecture 7: the decision boundary is redrawn as it trains, and shows the spirals after the
    stop that switches the task (the view's page covers it whole: it must still count as shown)."""
    win = shared_window
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


def test_a_preset_file_of_ones_own_starts_its_scenario(qtbot, shared_window, tmp_path):
    import json

    from bpttviz.recovery.reliability import open_preset_file

    win = shared_window
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


def test_an_installed_stop_is_one_moment(qtbot, shared_window):
    """A stop installed from its background preparation: the moment is the stop's narrated record
    (the views, the cursor and a saved file all agree), not "between iterations"."""
    from bpttviz.engine.training.session_io import SessionState
    from bpttviz.features.file_actions import moment_position

    win = shared_window
    win.scenario.train_factor = FACTOR
    win._load_preset("lecture-1-bptt-tiny")
    settle(qtbot, win)
    qtbot.keyClick(win.graph, Key.Key_PageDown)  # stop 2: one record, run live
    settle(qtbot, win)
    prepared(qtbot, win)
    snap = win.scenario.prepared[2]
    assert snap.narration is not None and snap.state is not None
    qtbot.keyClick(win.graph, Key.Key_PageDown)  # stop 3: four more records, installed at once
    c = win.controller
    m = c.moment
    assert win.scenario.index == 2 and not win.scenario.busy
    assert m.narration is snap.narration and m.record == snap.cursor == c.cursor == 4
    assert c.trace is m.trace and c.trace_iteration == m.iteration - 1 and c.record is m.rec
    assert not m.updated and all(np.array_equal(m.params[k], snap.narration.before[k]) for k in m.params)
    state, pos = moment_position(c)
    assert isinstance(state, SessionState) and state.iteration == m.iteration - 1
    assert pos["moment"] == {"iteration": m.iteration, "record": 4}


def test_a_model_replaced_outside_the_scenario_is_labelled(qtbot, shared_window):
    """Reset by hand during a stop: the caption no longer states the stop's text as if it were
    about the new model; Page Up returns to the stop (its caption again)."""
    win = shared_window
    win.scenario.train_factor = FACTOR
    win._load_preset("lecture-1-bptt-tiny")
    settle(qtbot, win)
    qtbot.keyClick(win.graph, Key.Key_PageDown)
    settle(qtbot, win)
    stop = win.scenario.current
    assert win.classroom.caption.text() == stop.caption and not win.scenario.detached
    win.controller.reset()
    assert win.scenario.detached
    text = win.classroom.caption.text()
    assert text.startswith("The model was replaced outside the scenario") and stop.caption not in text
    qtbot.keyClick(win.graph, Key.Key_PageUp)
    settle(qtbot, win)
    assert win.scenario.index == 1 and not win.scenario.detached
    assert win.classroom.caption.text() == stop.caption


def test_the_comparison_decay_overlay_is_at_the_moment(qtbot, shared_window):
    """Stepping a narrated iteration with a comparison open: the second model's decay curve is
    computed with its parameters before that iteration's update (as the first model's curve is),
    not with its live parameters."""
    from bpttviz.engine.gradients import diagnostics
    from bpttviz.engine.training.session import model_with

    win = shared_window
    win.scenario.train_factor = FACTOR
    win._load_preset("lecture-4-truncation")
    settle(qtbot, win)
    qtbot.keyClick(win.graph, Key.Key_PageDown)  # stop 2: one narrated iteration, both models
    settle(qtbot, win)
    c, cmp = win.controller, win.comparison
    n = c.moment.narration
    n2 = cmp.session.last_narration
    assert n is not None and n2 is not None and n2.iteration == n.iteration
    _, _, k, curve, _ = cmp.decay_overlay()
    want = diagnostics.gradient_decay(model_with(cmp.session.model, n2.before), n2.inputs, n2.targets,
                                      h0=n2.h0, **n2.options)
    live = diagnostics.gradient_decay(cmp.session.model, n2.inputs, n2.targets, h0=n2.h0, **n2.options)
    assert np.array_equal(curve, want) and k.size == want.size
    assert not np.allclose(live, want)  # the update moved the second model's parameters


def test_a_long_stop_reached_as_scripted_installs_its_shipped_snapshot(qtbot, shared_window):
    """Lecture 6's 9,500-iteration stop, reached the way the preset scripts it: the background
    preparation installs the shipped state (the numbers a live run gives, bit for bit on this
    machine kind) and measures the claims on it; after a change by hand the stop trains live."""
    win = shared_window
    p = win.scenario
    p.train_factor = 1.0
    win._load_preset("lecture-6-char-rnn")
    shipped = {e.stop: e for e in p.shelf.entries.values() if e.scenario == "lecture-6-char-rnn"}
    assert 4 in shipped
    for _ in range(3):
        settle(qtbot, win)
        prepared(qtbot, win, timeout=120000)
        qtbot.keyClick(win.graph, Key.Key_PageDown)
    settle(qtbot, win)
    assert p.index == 3 and not win.controller.playing
    e = shipped[4]
    first, _ = p.shelf.load(e)
    s = win.controller.session
    assert s.iteration == e.iteration
    assert all(np.array_equal(v, first.model.params[k]) for k, v in s.model.params.items())
    assert p.verdicts and all(v.holds for v in p.verdicts)
    shows_the_truth(win, p.stops[3])
    assert p.snapshots[3].chain == e.key
    # back to stop 3, one iteration by hand: the shelf no longer applies, stop 4 trains in the window
    qtbot.keyClick(win.graph, Key.Key_PageUp)
    settle(qtbot, win)
    win.controller.step_iteration()
    qtbot.keyClick(win.graph, Key.Key_PageDown)
    assert p.index == 3 and p.training and p._entering_chain is None
    p.end()


def test_a_clicker_press_on_the_blowup_dialog_still_moves_the_lecture_on(qtbot, shared_window):
    """The blow-up dialog of lecture 3 must not swallow the presenter's Page Down: the clicker's key
    goes to whatever window has the keyboard."""
    win = shared_window
    win.scenario.prepare_ahead = False
    win._load_preset("lecture-3-exploding")
    settle(qtbot, win)
    qtbot.keyClick(win.graph, Key.Key_PageDown)
    settle(qtbot, win, timeout=60000)
    [box] = [b for b in win.dialogs if b.objectName() == "blowup_dialog" and b.isVisible()]
    assert win.scenario.index == 1
    assert box.testAttribute(QtCore.Qt.WidgetAttribute.WA_ShowWithoutActivating)  # the window keeps the keyboard
    qtbot.keyClick(box.defaultButton(), Key.Key_PageDown)  # if the dialog got the keyboard anyway
    settle(qtbot, win)
    assert win.scenario.index == 2 and win.controller.session.blowup is None
