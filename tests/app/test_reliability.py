"""Reliability in the app: blow-ups pause and offer a roll back, exceptions in stepping
and painting are shown with copyable details and the app goes on, the autosave is offered back
after a kill (without blocking), hostile session and preset files change nothing."""

from __future__ import annotations

import io
import json
import os
import signal
import subprocess
import sys
import textwrap
import time
import zipfile
from pathlib import Path

import numpy as np
import pytest
from PySide6 import QtCore, QtWidgets

from bpttviz.engine.training.session import Session
from bpttviz.engine.training.session_io import autosave_path, load_session, read_session_info, save_session
from bpttviz.recovery.autosaver import crashed_autosave, running_marker
from bpttviz.recovery.crash import crash_log_path, disable_crash_log, install_excepthook
from bpttviz.recovery.reliability import open_preset_file
from bpttviz.recovery.restore_offer import start_autosave

from .conftest import small_session

Key = QtCore.Qt.Key
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(autouse=True)
def state_dir(tmp_path, monkeypatch):
    """Autosave and crash log in a temporary state directory."""
    d = tmp_path / "state"
    monkeypatch.setenv("XDG_STATE_HOME", str(d))
    yield d
    disable_crash_log()


def open_dialogs(win, name: str) -> list:
    return [d for d in win.dialogs if d.objectName() == name and d.isVisible()]


# ------------------------------------------------------------------------------------ blow-ups
def test_lecture_3_blows_up_pauses_says_where_and_rolls_back(qtbot, make_window):
    win = make_window(preset="lecture-3-exploding")
    c = win.controller
    c.play()
    qtbot.waitUntil(lambda: c.session.blowup is not None, timeout=60000)
    b = c.session.blowup
    assert not c.playing
    it = c.session.iteration
    assert it == b.iteration - 1  # iteration N went non-finite: its update was not applied
    # the screen shows iteration N's records (before its update) or the parameters after N - 1
    m = c.moment
    assert (m.iteration, m.updated) in ((b.iteration, False), (it, True))
    assert win.status_labels["iteration"].text() == f"iteration {m.iteration}"
    assert all(np.all(np.isfinite(p)) for p in c.session.model.params.values())  # the last finite state
    [box] = open_dialogs(win, "blowup_dialog")
    assert f"at iteration {b.iteration}" in box.text() and b.phase in box.text()
    info = box.informativeText()
    assert f"Iteration: {b.iteration}" in info and f"Phase: {b.phase}" in info
    assert "last finite" in info and "Largest weights" in info
    assert f"after iteration {it}" in info
    assert "non-finite" in win.status_labels["state"].text()
    assert "Non-finite" in win.statusBar().currentMessage()

    # training never continues on NaN: play refuses, stepping shows the same iteration
    c.play()
    qtbot.wait(150)
    assert not c.playing and c.session.iteration == it
    qtbot.keyClick(win.graph, Key.Key_Right, QtCore.Qt.KeyboardModifier.ControlModifier)
    assert c.session.iteration == it

    roll = next(btn for btn in box.buttons() if btn.text() == "Roll back")
    roll.click()
    assert c.session.blowup is None
    c.play()  # trains again from the last finite parameters (and blows up again: nothing clips it)
    qtbot.waitUntil(lambda: c.session.blowup is not None or c.session.iteration > it + 3, timeout=30000)
    qtbot.waitUntil(lambda: c.session.blowup is not None, timeout=60000)
    assert len(open_dialogs(win, "blowup_dialog")) == 1  # the older dialog made way


def test_a_forward_blow_up_names_the_timestep_and_the_value(qtbot, make_window):
    win = make_window(small_session(task="sine", activation="relu", optimizer="sgd", lr=1.0, clip="none",
                                    init="xavier", init_scale=3.0))
    c = win.controller
    for _ in range(20):
        c.step_iteration()
        if c.session.blowup is not None:
            break
    [box] = open_dialogs(win, "blowup_dialog")
    info = box.informativeText()
    assert "Phase: forward" in info and "Timestep: 5" in info and "the hidden state h" in info


# ------------------------------------------------------------------------------------ exceptions
def test_a_view_that_raises_once_is_reported_with_copyable_details_and_training_goes_on(qtbot, make_window,
                                                                                         monkeypatch):
    win = make_window()
    c = win.controller
    original = win.loss.show_frame
    failed = []

    def flaky(frame):
        if not failed:
            failed.append(True)
            raise RuntimeError("the loss view broke once")
        return original(frame)

    monkeypatch.setattr(win.loss, "show_frame", flaky)
    win.docks["loss"].raise_()  # the bottom plots share tabs: only a shown view is painted
    qtbot.wait(20)
    c.play()
    qtbot.waitUntil(lambda: bool(failed) and c.session.iteration > 30, timeout=20000)
    c.pause()
    assert "drawing the loss view" in c.last_error[0]
    [box] = open_dialogs(win, "error_dialog")
    assert "RuntimeError: the loss view broke once" in box.detailedText()
    assert "Traceback" in box.text.toPlainText()
    box.copy_button.click()
    copied = QtWidgets.QApplication.clipboard().text()
    assert "the loss view broke once" in copied and "PySide6" in copied and "Traceback" in copied
    c.refresh_all()
    x, _ = win.loss.raw.getData()
    assert len(x) == c.session.iteration  # the view works again
    assert win.isVisible()


def test_a_step_that_raises_once_pauses_reports_and_the_next_step_works(qtbot, make_window, monkeypatch):
    win = make_window()
    c = win.controller
    s = c.session
    real = s.train_step
    calls = []

    def flaky():
        calls.append(1)
        if len(calls) == 3:
            raise FloatingPointError("simulated engine bug")
        return real()

    monkeypatch.setattr(s, "train_step", flaky)
    monkeypatch.setattr(c, "wants_trace", lambda: False)  # every iteration through train_step
    c.play()
    qtbot.waitUntil(lambda: c.last_error is not None, timeout=10000)
    assert not c.playing and "simulated engine bug" in c.last_error[0]
    assert len(open_dialogs(win, "error_dialog")) == 1
    n = s.iteration
    c.play()
    qtbot.waitUntil(lambda: s.iteration > n + 5, timeout=10000)
    c.pause()
    qtbot.keyClick(win.graph, Key.Key_Right)  # and single-stepping still works
    assert c.record is not None


def test_an_error_every_frame_opens_one_dialog_not_hundreds(qtbot, make_window, monkeypatch):
    win = make_window()
    c = win.controller
    count = [0]

    def broken(frame):
        count[0] += 1
        raise ValueError(f"bad frame {count[0]}")  # a different message every time

    monkeypatch.setattr(win.decay, "show_frame", broken)
    win.docks["decay"].raise_()  # the bottom plots share tabs: only a shown view is painted
    qtbot.wait(20)
    for _ in range(40):
        c.step_iteration()
        c.refresh_all()
    assert count[0] >= 40
    [box] = open_dialogs(win, "error_dialog")
    assert box.detailedText().count("--- then:") >= 30
    assert len(win.dialogs) < 5


def test_exceptions_escaping_qt_slots_are_shown(qtbot, make_window, monkeypatch):
    win = make_window()
    monkeypatch.setattr(sys, "excepthook", sys.excepthook)  # restored afterwards
    install_excepthook(win)
    try:
        {}["no such key"]
    except KeyError:
        sys.excepthook(*sys.exc_info())
    [box] = open_dialogs(win, "error_dialog")
    assert "Unexpected error: KeyError" in box.summary and "Traceback" in box.detailedText()
    win.controller.step_iteration()  # still usable
    assert win.controller.session.iteration == 1


# ------------------------------------------------------------------------------------ autosave
def crashed_leftovers(iterations: int = 4) -> Session:
    """What a killed run leaves: an autosave and the running marker."""
    s = small_session()
    s.train(iterations)
    save_session(s, autosave_path())
    running_marker().write_text("running\n", encoding="ascii")
    return s


def test_no_leftovers_no_offer_and_autosaving_at_once(qtbot, make_window):
    win = make_window()
    offer = start_autosave(None, win, interval_s=0.05)
    assert not offer.pending and offer.bar is None
    qtbot.waitUntil(lambda: offer.saver.saves >= 1, timeout=5000)
    n = offer.saver.saves
    win.controller.reset()  # a structural rebuild saves at once
    assert offer.saver.saves == n + 1
    offer.quit()
    assert not running_marker().exists() and crashed_autosave() is None


def test_leftovers_are_offered_without_blocking_and_kept_until_chosen(qtbot, make_window):
    saved = crashed_leftovers()
    before = autosave_path().read_bytes()
    win = make_window()
    offer = start_autosave(None, win, interval_s=0.05)
    assert offer.pending and offer.bar.isVisible()
    assert set(offer.bar.buttons) == {"restore", "discard"}
    assert "iteration 4" in offer.bar.label.text()
    qtbot.keyClick(win.graph, Key.Key_Right)  # the window is usable meanwhile
    qtbot.wait(300)
    assert autosave_path().read_bytes() == before  # not overwritten while the offer waits
    offer.quit()  # quitting without a choice keeps the offer for next time
    assert crashed_autosave() is not None and autosave_path().read_bytes() == before

    offer.bar.buttons["restore"].click()
    s = win.controller.session
    assert s.iteration == 4 and offer.bar is None and not offer.pending
    for k, v in saved.model.params.items():
        np.testing.assert_array_equal(s.model.params[k], v)
    qtbot.waitUntil(lambda: offer.saver.saves >= 1, timeout=5000)
    offer.quit()


def test_discard_deletes_the_leftovers(qtbot, make_window):
    crashed_leftovers()
    win = make_window()
    offer = start_autosave(None, win, interval_s=3600)
    offer.bar.buttons["discard"].click()
    assert offer.bar is None and win.controller.session.iteration == 0
    assert offer.saver is not None
    offer.saver.save()
    assert load_session(autosave_path())[0].iteration == 0
    offer.quit()


def test_an_unreadable_autosave_is_described_and_left_untouched(qtbot, make_window):
    crashed_leftovers()
    autosave_path().write_bytes(b"PK\x03\x04 but not really a zip")
    win = make_window()
    offer = start_autosave(None, win, interval_s=0.05)
    assert offer.pending and set(offer.bar.buttons) == {"discard"}
    assert "cannot be read" in offer.bar.label.text()
    qtbot.wait(200)
    assert autosave_path().read_bytes() == b"PK\x03\x04 but not really a zip"
    offer.bar.buttons["discard"].click()
    assert not offer.pending
    offer.quit()


def test_a_fatal_crash_of_the_last_run_is_reported_with_its_log(qtbot, make_window):
    crashed_leftovers()
    crash_log_path().write_text("Fatal Python error: none_dealloc: deallocating None\n\nCurrent thread ...\n",
                                encoding="utf-8")
    win = make_window()
    offer = start_autosave(None, win, interval_s=3600)
    assert "crashed last time (Fatal Python error: none_dealloc" in offer.bar.label.text()
    offer.bar.buttons["details"].click()
    [box] = open_dialogs(win, "error_dialog")
    assert "none_dealloc" in box.detailedText()
    assert not crash_log_path().read_text()  # this run's (empty) log; the old one was moved aside
    assert "none_dealloc" in crash_log_path().with_name(crash_log_path().name + ".old").read_text()
    offer.quit()
    assert not crash_log_path().exists()  # a clean exit leaves no crash log


CHILD = textwrap.dedent("""
    import sys
    from PySide6 import QtCore
    import bpttviz.app as app_module

    _build = app_module.build_window

    def build_and_play(*args, **kwargs):
        window = _build(*args, **kwargs)
        QtCore.QTimer.singleShot(300, window.controller.play)  # a user pressing Space
        return window

    app_module.build_window = build_and_play
    from bpttviz.__main__ import main

    sys.exit(main(["--preset", "xor-mlp"]))
""")


def test_kill_9_and_restore_through_the_real_app(qtbot, make_window, state_dir, tmp_path):
    env = {**os.environ, "XDG_STATE_HOME": str(state_dir), "XDG_CONFIG_HOME": str(tmp_path / "config"),
           "HOME": str(tmp_path), "QT_QPA_PLATFORM": "offscreen", "BPTTVIZ_AUTOSAVE_SECONDS": "0.3"}
    proc = subprocess.Popen([sys.executable, "-c", CHILD], env=env, cwd=str(tmp_path), stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, start_new_session=True)
    theirs = autosave_path(proc.pid)  # every window process autosaves to its own file
    try:
        deadline = time.monotonic() + 90
        info = None
        while time.monotonic() < deadline:
            time.sleep(0.2)
            assert proc.poll() is None, proc.stderr.read().decode()
            try:
                info = read_session_info(theirs) if theirs.is_file() else None
            except ValueError:
                info = None
            if info is not None and info["iteration"] > 20:
                break
        assert info is not None and info.get("iteration", 0) > 20, info
        assert crashed_autosave() is None  # still running: not on offer
    finally:
        os.killpg(proc.pid, signal.SIGKILL)  # kill -9: no clean exit
        proc.wait(timeout=30)
    assert crashed_autosave()["path"] == str(theirs)
    saved, position = load_session(theirs)  # whole: atomic saves survive the kill
    before = theirs.read_bytes()
    moment = position["moment"]

    # the next start
    win = make_window(preset="min-char-rnn")
    offer = start_autosave(None, win, interval_s=0.05)
    assert offer.pending and offer.bar.isVisible()
    text = offer.bar.label.text()
    assert "did not exit cleanly" in text and f"iteration {moment['iteration']}" in text
    qtbot.wait(200)
    assert theirs.read_bytes() == before
    offer.bar.buttons["restore"].click()
    c = win.controller
    s = c.session
    assert s.cfg.model == "mlp" and c.moment.iteration == moment["iteration"] and c.moment.record == moment["record"]
    if moment["record"] is not None:  # saved inside a narrated iteration: the state before it, narrated again
        saved.narrated_step()
    for k, v in saved.model.params.items():
        np.testing.assert_array_equal(s.model.params[k], v)
    # and it trains on exactly as the saved session would
    s.train(3)
    saved.train(3)
    for k, v in saved.model.params.items():
        np.testing.assert_array_equal(s.model.params[k], v)
    assert not theirs.exists()  # restored: this window's autosave takes over
    offer.quit()


# ------------------------------------------------------------------------------------ hostile files
def _session_files(tmp: Path) -> dict[str, tuple[Path, str]]:
    """name -> (path, a fragment of the message)."""
    s = small_session()
    s.train(2)
    good = tmp / "good.npz"
    save_session(s, good)
    data = good.read_bytes()
    out: dict[str, tuple[Path, str]] = {}

    def put(name: str, content: bytes, expect: str) -> None:
        p = tmp / name
        p.write_bytes(content)
        out[name] = (p, expect)

    put("random.npz", np.random.default_rng(0).bytes(4000), "not a zip archive")
    put("empty.npz", b"", "not a zip archive")
    put("truncated.npz", data[: len(data) // 2], "damaged")
    put("a-preset.npz", b'{"task": "xor"}', "not a zip archive")

    def rewritten(name: str, change) -> None:
        buf = io.BytesIO()
        with zipfile.ZipFile(good) as zin, zipfile.ZipFile(buf, "w") as zout:
            for info in zin.infolist():
                zout.writestr(info.filename, change(info.filename, zin.read(info.filename)))
        out[name] = (tmp / name, "")
        (tmp / name).write_bytes(buf.getvalue())

    def newer(n, d):
        if n != "meta.json":
            return d
        m = json.loads(d)
        m["format_version"] = 99
        return json.dumps(m).encode()

    def pickled(n, d):
        if not n.startswith("params/"):
            return d
        b = io.BytesIO()
        np.save(b, np.array([{"evil": 1}], dtype=object), allow_pickle=True)
        return b.getvalue()

    rewritten("newer-version.npz", newer)
    out["newer-version.npz"] = (out["newer-version.npz"][0], "format version 99")
    rewritten("pickled.npz", pickled)
    out["pickled.npz"] = (out["pickled.npz"][0], "expected float64")
    big = tmp / "huge.npz"
    with open(big, "wb") as f:
        f.truncate(3 * 2**30)  # sparse: no disk used
    out["huge.npz"] = (big, "limited to")
    (tmp / "folder.npz").mkdir()
    out["folder.npz"] = (tmp / "folder.npz", "not a regular file")
    out["missing.npz"] = (tmp / "missing.npz", "no such file")
    return out


def _fingerprint(p: Path):
    if p.is_file():
        st = p.stat()
        return (st.st_size, st.st_mtime_ns, p.read_bytes() if st.st_size < 2**20 else None)
    return p.exists()


def test_hostile_session_files_show_the_message_and_change_nothing(qtbot, make_window, tmp_path):
    win = make_window()
    c = win.controller
    c.step_iteration()
    session = c.session
    for name, (path, expect) in _session_files(tmp_path).items():
        before = _fingerprint(path)
        assert win.files.open_path(path) is False, name
        box = open_dialogs(win, "file_error_dialog")[-1]
        assert expect in box.text() and "Nothing was changed" in box.text(), (name, box.text())
        assert c.session is session, name
        assert _fingerprint(path) == before, name  # only ever read
        box.close()
    c.step_iteration()  # still works
    assert session.iteration == 2 and win.isVisible()


PRESETS = {
    "not-json.json": (b"{", "not valid JSON"),
    "a-list.json": (b"[1, 2]", "expected a JSON object"),
    "deeply-nested.json": (b"[" * 100_000, "nested too deeply"),
    "unknown-field.json": (b'{"hidden_sizee": 3}', "unknown field 'hidden_sizee'"),
    "wrong-type.json": (b'{"hidden_size": "big"}', "field 'hidden_size'"),
    "nan-lr.json": (b'{"lr": NaN}', "field 'lr'"),
    "truncation-0.json": (b'{"truncation": 0}', "field 'truncation'"),
    "hidden-0.json": (b'{"hidden_size": 0}', "field 'hidden_size'"),
    "lag-too-long.json": (b'{"task": "copy", "lag": 50, "seq_len": 10}', "longer than the sequence"),
    "latin-1.json": (b'{"title": "caf\xe9"}', "not UTF-8"),
    "nul-bytes.json": (b'{"ti\x00tle": 1}', "not valid JSON"),
    "empty.json": (b"", "not valid JSON"),
}


def test_hostile_preset_files_show_the_message_and_change_nothing(qtbot, make_window, tmp_path):
    win = make_window()
    c = win.controller
    session = c.session
    cases = {name: (tmp_path / name, expect) for name, (_, expect) in PRESETS.items()}
    for name, (content, _) in PRESETS.items():
        (tmp_path / name).write_bytes(content)
    with open(tmp_path / "huge.json", "wb") as f:
        f.truncate(50 * 2**20)
    cases["huge.json"] = (tmp_path / "huge.json", "limited to")
    os.mkfifo(tmp_path / "fifo.json")  # reading it would block forever
    cases["fifo.json"] = (tmp_path / "fifo.json", "not a regular file")
    (tmp_path / "folder.json").mkdir()
    cases["folder.json"] = (tmp_path / "folder.json", "is a folder")
    cases["missing.json"] = (tmp_path / "missing.json", "no such file")
    for name, (path, expect) in cases.items():
        before = _fingerprint(path)
        t0 = time.perf_counter()
        assert open_preset_file(win, path) is False, name
        assert time.perf_counter() - t0 < 5
        box = open_dialogs(win, "file_error_dialog")[-1]
        assert expect in box.text() and name in box.text() and "Nothing was changed" in box.text(), (name, box.text())
        assert c.session is session, name
        assert _fingerprint(path) == before, name
        box.close()
    good = tmp_path / "mine.json"
    good.write_text(json.dumps({"task": "xor", "model": "mlp", "hidden_layers": [4]}), encoding="utf-8")
    assert open_preset_file(win, good) is True
    assert c.session.cfg.task == "xor" and c.session.iteration == 0


def test_open_a_preset_file_from_the_presets_menu(qtbot, make_window, tmp_path, monkeypatch):
    win = make_window()
    bad = tmp_path / "bad.json"
    bad.write_text("{", encoding="utf-8")
    monkeypatch.setattr(QtWidgets.QFileDialog, "getOpenFileName", lambda *a, **k: (str(bad), ""))
    menu = next(a.menu() for a in win.menuBar().actions() if a.text().replace("&", "") == "Presets")
    assert win.preset_opener.action in menu.actions()
    win.preset_opener.action.trigger()
    assert "not valid JSON" in open_dialogs(win, "file_error_dialog")[-1].text()
    assert win.isVisible()
