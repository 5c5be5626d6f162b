"""Save / open whole sessions from the window, export views and the window, record animations."""

from __future__ import annotations

import subprocess
import sys
import xml.etree.ElementTree as ET

import numpy as np
import pytest
from PySide6 import QtCore, QtGui

from bpttviz.engine.training.session_io import load_session, read_session_info, save_session
from bpttviz.features.file_actions import (
    VIEW_TITLES,
    export_view,
    open_session_file,
    save_recording,
    save_window_session,
    session_position,
)

from .conftest import small_session

Key = QtCore.Qt.Key
Mod = QtCore.Qt.KeyboardModifier


def _histories(session) -> dict:
    return {k: session.history[k].data() for k in session.history}


def _assert_same_state(a, b) -> None:
    assert a.iteration == b.iteration and a.cfg == b.cfg
    assert a.model.params.keys() == b.model.params.keys()
    for name in a.model.params:
        assert a.model.params[name].tobytes() == b.model.params[name].tobytes(), name  # bit-identical
    for k, (x, y) in _histories(a).items():
        x2, y2 = _histories(b)[k]
        assert np.array_equal(x, x2) and np.array_equal(y, y2, equal_nan=True), k


def test_save_then_open_restores_the_session_and_the_position(qtbot, make_window, tmp_path):
    win = make_window()
    c = win.controller
    for _ in range(4):
        c.step_iteration()
    c.session.train(30)
    c.step_record()  # a new narrated iteration...
    for _ in range(8):
        c.step_record()  # ...stepped into its backward pass
    win.graph.set_mode("delta")
    rec = c.record
    path = tmp_path / "lecture.npz"
    win.files.save_to(path)
    assert win.files.path == path and path.is_file()
    pos = read_session_info(path)["position"]
    assert pos["record"] == c.cursor and pos["trace_iteration"] == c.trace_iteration
    saved, _ = load_session(path)
    assert saved.iteration == c.moment.iteration - 1  # the state just before the narrated iteration

    other = make_window()
    opened = open_session_file(other, path)
    oc = other.controller
    assert oc.session is opened
    # the same moment: the same iteration, narrated again from the saved state, the same record
    assert oc.moment.iteration == c.moment.iteration and oc.cursor == c.cursor
    assert oc.record.phase == rec.phase and oc.record.index == rec.index
    assert oc.trace_iteration == c.trace_iteration
    np.testing.assert_array_equal(oc.moment.narration.inputs, c.moment.narration.inputs)  # the same batch
    assert oc.moment.narration.trace.loss == c.moment.narration.trace.loss
    assert other.graph.current_mode() == "delta"
    _assert_same_state(c.session, oc.session)
    # it goes on exactly as the original: the next iteration is bit-identical
    c.step_iteration()
    oc.step_iteration()
    _assert_same_state(c.session, oc.session)


def test_ctrl_s_saves_to_the_current_file_and_the_file_menu_lists_the_actions(qtbot, make_window, tmp_path):
    win = make_window()
    win.controller.step_iteration()
    path = tmp_path / "again.npz"
    win.files.save_to(path)
    win.controller.step_iteration()
    qtbot.keyClick(win.graph, Key.Key_S, Mod.ControlModifier)
    assert read_session_info(path)["position"]["moment"]["iteration"] == 2
    names = {a.objectName() for a in win.findChild(QtCore.QObject, "file_menu").actions()}
    assert {"open", "save", "save_as", "export_view", "export_window", "record"} <= names


def test_open_restores_a_scenario_stop_and_a_comparison(qtbot, make_window, tmp_path):
    win = make_window()
    win.scenario.train_factor = 0.02
    win._load_preset("lecture-5-lstm-vs-rnn")
    qtbot.keyClick(win.graph, Key.Key_PageDown)
    qtbot.waitUntil(lambda: not win.scenario.busy and win.comparison.in_step, timeout=20000)
    pos = session_position(win)
    assert pos["stop"] == 1 and pos["compare"] == {"model": "lstm"}
    path = save_window_session(win, tmp_path / "l5.npz")
    other = make_window()
    open_session_file(other, path)
    assert other.scenario.active and other.scenario.index == 1
    assert other.scenario.base == win.scenario.base  # going back replays from the scenario's start
    assert other.controller.moment.iteration == win.controller.moment.iteration  # the same moment
    # the caption, or what its claims say instead (measured again on the opened session; the decay
    # curves are measured on the last batch, which a session file does not keep)
    withheld = "The caption is withheld"
    assert other.classroom.caption.text().startswith(withheld) == win.classroom.caption.text().startswith(withheld)
    same = [(v.value, w.value) for v, w in zip(other.scenario.verdicts, win.scenario.verdicts)
            if not v.claim.kind.startswith("decay")]
    assert same and all(a == b for a, b in same)
    qtbot.waitUntil(lambda: other.comparison.in_step and win.comparison.in_step, timeout=10000)
    a, b = win.comparison.session, other.comparison.session
    assert a.iteration == b.iteration == other.controller.session.iteration
    for name in a.model.params:  # the second model, trained again in lock-step, is the same
        assert a.model.params[name].tobytes() == b.model.params[name].tobytes()


@pytest.mark.parametrize("content", [b"", b"not a zip at all", b"PK\x03\x04broken"])
def test_a_bad_file_is_a_message_and_changes_nothing(qtbot, make_window, tmp_path, content):
    win = make_window()
    win.controller.step_iteration()
    before = win.controller.session
    path = tmp_path / "bad.npz"
    path.write_bytes(content)
    assert not win.files.open_path(path)
    assert win.controller.session is before and path.read_bytes() == content
    box = win.dialogs[-1]
    assert box.objectName() == "file_error_dialog" and "bad.npz" in box.text()


def test_a_failed_save_leaves_the_old_file_whole(qtbot, make_window, tmp_path, monkeypatch):
    win = make_window()
    path = tmp_path / "keep.npz"
    save_session(small_session(), path)
    old = path.read_bytes()
    monkeypatch.setattr("bpttviz.features.file_actions.save_session",
                        lambda *a, **k: (_ for _ in ()).throw(OSError("disk full")))
    assert not win.files.save_to(path)
    assert path.read_bytes() == old and "disk full" in win.dialogs[-1].text()


def test_open_from_the_command_line(tmp_path):
    s = small_session()
    s.train(5)
    path = tmp_path / "s.npz"
    save_session(s, path, position={"record": 3})
    out = tmp_path / "shot.png"
    r = subprocess.run([sys.executable, "-m", "bpttviz", "--open", str(path), "--screenshot", str(out),
                        "--steps", "0"], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert not QtGui.QImage(str(out)).isNull()


def _png_ok(path) -> QtGui.QImage:
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    img = QtGui.QImage(str(path))
    assert not img.isNull() and img.width() > 50 and img.height() > 50
    return img


def _svg_ok(path) -> ET.Element:
    root = ET.parse(path).getroot()
    assert root.tag.endswith("svg") and float(root.get("width").rstrip("px")) > 50
    return root


def test_exports_of_views_and_the_window(qtbot, make_window, tmp_path):
    win = make_window()
    win.controller.step_iteration()
    win.docks["decay"].raise_()
    win.controller.refresh_all()
    for name in ("graph", "decay", "window"):
        png = export_view(win, name, tmp_path / f"{name}.png")
        img = _png_ok(png)
        widget = win if name == "window" else (win.graph if name == "graph" else win.decay)
        assert (img.width(), img.height()) == (widget.width(), widget.height())
        _svg_ok(export_view(win, name, tmp_path / f"{name}.svg"))
    win.docks["deltas"].hide()
    with pytest.raises(ValueError, match="not on screen"):
        export_view(win, "deltas", tmp_path / "hidden.png")
    with pytest.raises(ValueError, match="allowed suffixes"):
        export_view(win, "graph", tmp_path / "x.jpg")
    assert set(VIEW_TITLES) >= {"graph", "deltas", "weights", "decay", "loss", "task", "explain"}
    assert win.files.export_to("graph", tmp_path / "no_suffix")  # .png added
    _png_ok(tmp_path / "no_suffix.png")
    assert not win.files.export_to("graph", tmp_path / "missing" / "x.png")
    assert win.dialogs[-1].objectName() == "file_error_dialog"


def test_record_an_animation_as_gif_or_png_frames(qtbot, make_window, tmp_path, monkeypatch):
    pytest.importorskip("PIL")
    win = make_window()
    qtbot.keyClick(win.graph, Key.Key_R, Mod.ControlModifier | Mod.ShiftModifier)
    rec = win.files.recorder
    assert rec is not None and rec.recording and win.act["record"].isChecked()
    for _ in range(3):
        win.controller.step_record()
        rec.grab()
    files = win.files.stop_recording(tmp_path / "steps.gif")
    assert files == [tmp_path / "steps.gif"] and files[0].read_bytes()[:6] in (b"GIF89a", b"GIF87a")
    assert not win.act["record"].isChecked() and win.files.recorder is None
    # without Pillow: a PNG sequence next to it, and a message that says so
    win.files.start_recording()
    win.files.recorder.grab()
    monkeypatch.setitem(sys.modules, "PIL", None)
    files, note = save_recording(win.files.recorder, tmp_path / "again.gif")
    assert files and all(f.suffix == ".png" for f in files) and files[0].parent == tmp_path / "again"
    assert "Pillow" in note
    _png_ok(files[0])
    win.files.recorder.stop()
