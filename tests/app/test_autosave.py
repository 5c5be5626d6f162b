"""Nothing lost: autosave on a timer and on exit, restore offered after a crash or a kill."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest

from bpttviz.autosaver import Autosaver, crashed_autosave, restore_autosave, running_marker
from engine.session_io import autosave_path, load_session


@pytest.fixture(autouse=True)
def state_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    return tmp_path / "state"


def test_clean_exit_saves_and_offers_nothing(make_window, qtbot):
    win = make_window(show=False)
    saver = Autosaver(win.controller, interval_s=0.05, parent=win)
    assert running_marker().exists()
    assert crashed_autosave() is None  # nothing saved yet
    win.controller.step_iteration()
    qtbot.waitUntil(lambda: saver.saves >= 1, timeout=5000)
    assert crashed_autosave() is not None  # saved while running: a crash now would offer it
    saver.close()
    assert not running_marker().exists() and autosave_path().is_file()
    assert crashed_autosave() is None  # clean exit: no offer
    restored, _ = load_session(autosave_path())
    for k, v in win.controller.session.model.params.items():
        np.testing.assert_array_equal(restored.model.params[k], v)


def test_restore_replaces_the_session(make_window):
    win = make_window(show=False)
    saver = Autosaver(win.controller, interval_s=3600, parent=win)
    for _ in range(3):
        win.controller.step_iteration()
    saved = {k: v.copy() for k, v in win.controller.session.model.params.items()}
    assert saver.save()
    win.controller.session_replaced.disconnect(saver.save)  # as if this were the next start
    win.controller.reset()
    assert win.controller.session.iteration == 0
    restore_autosave(win.controller)
    assert win.controller.session.iteration == 3
    for k, v in saved.items():
        np.testing.assert_array_equal(win.controller.session.model.params[k], v)


def test_unreadable_autosave_is_reported_not_fatal(make_window):
    win = make_window(show=False)
    Autosaver(win.controller, interval_s=3600, parent=win)  # leaves the running marker
    autosave_path().write_bytes(b"not a zip file")
    info = crashed_autosave()
    assert info is not None and "session file" in info["error"]
    with pytest.raises(ValueError):
        restore_autosave(win.controller)
    assert autosave_path().read_bytes() == b"not a zip file"  # the file is left untouched


def test_failed_autosave_keeps_the_previous_file(make_window, monkeypatch):
    win = make_window(show=False)
    saver = Autosaver(win.controller, interval_s=3600, parent=win)
    assert saver.save()
    before = autosave_path().read_bytes()
    import engine.atomic

    def broken_replace(src, dst):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(engine.atomic.os, "replace", broken_replace)
    win.controller.step_iteration()
    assert not saver.save() and "No space left" in saver.last_error
    assert autosave_path().read_bytes() == before


CHILD = textwrap.dedent("""
    import os
    os.environ["QT_QPA_PLATFORM"] = "offscreen"
    from bpttviz.app import application, build_window
    from bpttviz.autosaver import Autosaver
    app = application()
    win = build_window(preset="xor-mlp")
    win.autosaver = Autosaver(win.controller, interval_s=0.2, parent=win)
    win.controller.play()
    app.exec()
""")


def test_kill_and_restore(state_dir, tmp_path):
    env = {**os.environ, "XDG_STATE_HOME": str(state_dir), "QT_QPA_PLATFORM": "offscreen",
           "HOME": str(tmp_path)}
    proc = subprocess.Popen([sys.executable, "-c", CHILD], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, start_new_session=True)
    try:
        deadline = time.monotonic() + 90
        info = None
        while time.monotonic() < deadline:
            time.sleep(0.3)
            assert proc.poll() is None, proc.stderr.read().decode()
            info = crashed_autosave()
            if info is not None and "error" not in info and info["iteration"] > 5:
                break
        assert info is not None and info.get("iteration", 0) > 5, info
    finally:
        os.killpg(proc.pid, signal.SIGKILL)  # no clean exit
        proc.wait(timeout=30)
    info = crashed_autosave()
    assert info is not None and "error" not in info  # the offer is there, and the file is whole
    session, _ = load_session(autosave_path())
    assert session.iteration >= info["iteration"] > 5
    assert all(np.all(np.isfinite(p)) for p in session.model.params.values())
