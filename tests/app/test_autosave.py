"""Nothing lost: autosave on a timer, restore offered after a crash or a kill; one autosave per
window process, so two windows never overwrite each other's; a restore brings back the moment."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest

from bpttviz.engine.training.session_io import autosave_dir, autosave_path, load_session, read_session_info
from bpttviz.recovery.autosaver import Autosaver, crashed_autosave, orphaned_autosaves, restore_autosave, running_marker


@pytest.fixture(autouse=True)
def state_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    return tmp_path / "state"


@pytest.fixture(autouse=True)
def _release():
    yield
    import bpttviz.recovery.autosaver as a

    a._release_marker()


def test_clean_exit_removes_the_autosave_and_offers_nothing(make_window, qtbot):
    win = make_window(show=False)
    saver = Autosaver(win.controller, interval_s=0.05, parent=win)
    assert running_marker().exists() and autosave_path().name == f"autosave-{os.getpid()}.npz"
    assert crashed_autosave() is None  # nothing saved yet
    win.controller.step_iteration()
    qtbot.waitUntil(lambda: saver.saves >= 1, timeout=5000)
    assert crashed_autosave() is None  # this window is running: its autosave is not on offer
    restored, position = load_session(autosave_path())
    assert position["moment"] == {"iteration": 1, "record": win.controller.moment.record}
    saver.close()
    assert not running_marker().exists() and not autosave_path().is_file()
    assert crashed_autosave() is None  # clean exit: no offer


def test_restore_replaces_the_session_at_the_same_moment(make_window):
    win = make_window(show=False)
    c = win.controller
    saver = Autosaver(c, interval_s=3600, parent=win)
    for _ in range(3):
        c.step_iteration()
    c.step_back()  # the gradient record of iteration 3: parameters before its update
    saved = {k: v.copy() for k, v in c.moment.params.items()}
    record = c.moment.record
    assert saver.save()
    c.session_replaced.disconnect(saver.save)  # as if this were the next start
    c.reset()
    assert c.session.iteration == 0
    restore_autosave(c, autosave_path())
    assert c.moment.iteration == 3 and c.moment.record == record and not c.moment.updated
    for k, v in saved.items():
        np.testing.assert_array_equal(c.moment.params[k], v)


def _orphan(pid: int, payload: bytes | None = None, session=None) -> None:
    """What a killed window with process id ``pid`` leaves: its autosave and an unlocked marker."""
    from bpttviz.engine.training.session_io import save_session

    path = autosave_path(pid)
    if payload is not None:
        path.write_bytes(payload)
    else:
        save_session(session, path)
    running_marker(path).write_text(f"{pid}\n", encoding="ascii")


def test_unreadable_autosave_is_reported_not_fatal(make_window):
    win = make_window(show=False)
    Autosaver(win.controller, interval_s=3600, parent=win)
    _orphan(99999991, b"not a zip file")
    info = crashed_autosave()
    assert info is not None and "session file" in info["error"] and info["path"].endswith("autosave-99999991.npz")
    with pytest.raises(ValueError):
        restore_autosave(win.controller, info["path"])
    assert autosave_path(99999991).read_bytes() == b"not a zip file"  # the file is left untouched


def test_failed_autosave_keeps_the_previous_file(make_window, monkeypatch):
    win = make_window(show=False)
    saver = Autosaver(win.controller, interval_s=3600, parent=win)
    assert saver.save()
    before = autosave_path().read_bytes()
    from bpttviz.engine import atomic

    def broken_replace(src, dst):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(atomic.os, "replace", broken_replace)
    win.controller.step_iteration()
    assert not saver.save() and "No space left" in saver.last_error
    assert autosave_path().read_bytes() == before


CHILD = textwrap.dedent("""
    import os
    os.environ["QT_QPA_PLATFORM"] = "offscreen"
    from bpttviz.app import application, build_window
    from bpttviz.recovery.autosaver import Autosaver
    app = application()
    win = build_window(preset="xor-mlp")
    win.autosaver = Autosaver(win.controller, interval_s=0.2, parent=win)
    win.controller.play()
    app.exec()
""")


def test_two_windows_keep_their_own_autosaves_and_a_killed_one_is_offered(state_dir, tmp_path, make_window,
                                                                          qtbot):
    win = make_window(show=False)  # this process's window: a small RNN, stepped by hand
    mine = Autosaver(win.controller, interval_s=0.1, parent=win)
    win.controller.step_iteration()
    env = {**os.environ, "XDG_STATE_HOME": str(state_dir), "QT_QPA_PLATFORM": "offscreen",
           "HOME": str(tmp_path)}
    proc = subprocess.Popen([sys.executable, "-c", CHILD], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, start_new_session=True)
    theirs = autosave_path(proc.pid)
    try:
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            qtbot.wait(300)
            assert proc.poll() is None, proc.stderr.read().decode()
            if theirs.is_file():
                try:
                    if read_session_info(theirs)["iteration"] > 5:
                        break
                except ValueError:  # not written yet
                    pass
        assert read_session_info(theirs)["iteration"] > 5
        assert crashed_autosave() is None  # both windows are running: nothing is offered
        ours = read_session_info(autosave_path())  # ours, not theirs: the moment on our screen
        assert mine.saves >= 1 and ours["position"]["moment"]["iteration"] == 1 and ours["summary"]["model"] == "rnn"
    finally:
        os.killpg(proc.pid, signal.SIGKILL)  # no clean exit
        proc.wait(timeout=30)
    assert orphaned_autosaves() == [theirs]
    info = crashed_autosave()
    assert info is not None and "error" not in info and info["path"] == str(theirs)  # the file is whole
    session, _ = load_session(theirs)
    assert session.iteration >= info["iteration"] > 5
    assert all(np.all(np.isfinite(p)) for p in session.model.params.values())
    assert sorted(p.name for p in autosave_dir().glob("autosave-*.npz")) == sorted([theirs.name, autosave_path().name])
