"""Speed of the desktop app at the default preset (character RNN, H=100, T=25), every view
visible, offscreen, at 1280x800 and at 1920x1080; and how long a large model blocks the UI.

    python benchmarks/bench_app.py [--seconds 6] [--sizes 1280x800,1920x1080] [--json]
    python benchmarks/bench_app.py --no-big | --big-only [--big-variants all|plain|extra] [--why]
    python benchmarks/bench_app.py --code /path/to/other/checkout   # the same measurements of another tree

Every view on screen: a view the default layout puts behind a tab (the bottom plots share tabs in
smaller windows) floats beside it at the deltas view's size. Measured, per window size, in one run:

- frames painted per second by the unrolled graph (the centre view) while training at full
  speed; target >= 60 at 1280x800, >= 45 at 1920x1080;
- repaints per second of every secondary view (deltas, weights, decay, loss) while training;
  target >= 15 each;
- training iterations per second with the views live, as a fraction of the headless iterations
  per second of a fresh session of the same preset. Headless and live are measured in alternating
  slices (headless, live, headless, live...) so that other load on the machine affects both alike;
  target >= 0.8;
- Right key -> repainted highlight (the graph's viewport or its caption painted the new record),
  over many presses including ones that fetch a new iteration; target median < 16 ms, p95 < 33 ms;
- startup: from launching ``python`` to the first painted window, in a fresh process, with the
  bytecode compiled (as installed; kept in a temporary folder); target < 1.5 s. The first launch,
  which compiles every module, is reported too.

And, in a child process each (so a model that hangs the UI cannot hang the benchmark), for a
1000-unit RNN and for the largest model the configuration panel accepts in width and length
(LSTM, hidden 1024, seq_len 1000; batch 1 -- the panel's largest batch only multiplies the memory):
the longest time the event loop went without running while training (a 2 ms heartbeat timer),
target <= 50 ms, beside the longest such gap of the same window idle (the machine's own noise);
the time from Space / Right (sent through the event loop, the way a real key arrives) to its
action (training started or paused, the cursor moved, or the narration of a new iteration
started on the worker thread), target <= 100 ms; a Right inside a narrated iteration until the
graph repainted it, target <= 100 ms; and a Right into a new iteration until it is shown (as long
as narrating that iteration takes). Each large model is measured twice: with the views above, and
with the attribution view, the what-if panel and a side-by-side comparison (a second model of
the same size with truncation 10, trained in lock-step) on screen as well. ``--why`` adds, per
run, where the UI thread's Python stack was during gaps longer than 30 ms (sampled every 5 ms by
a watchdog thread) and the longest gaps with the UI thread's own CPU time in each: a long gap
with little CPU time is waiting (for the GIL or the scheduler), not work.

Small models train in the app's training process, as in the app (``BPTTVIZ_TRAINING_PROCESS=0``
measures the one-thread path instead: training slices and paints taking turns on the UI thread).

``--costs`` prints, instead, where the milliseconds of one frame go (each view's data push and
paint, CPU time, without the timers); ``--profile`` adds cProfile's listing.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")


def _code_root(argv: list[str]) -> Path:
    """The tree to import the app from: ``--code DIR`` or this checkout."""
    for i, a in enumerate(argv):
        if a == "--code" and i + 1 < len(argv):
            return Path(argv[i + 1]).resolve()
        if a.startswith("--code="):
            return Path(a.split("=", 1)[1]).resolve()
    return Path(__file__).resolve().parents[1]


CODE = _code_root(sys.argv)
sys.path.insert(0, str(CODE))

import bpttviz  # noqa: E402,F401  (one BLAS thread before numpy loads)

TARGETS = {"fps": {(1280, 800): 60.0, (1920, 1080): 45.0}, "view_hz": 15.0, "ratio": 0.8,
           "key_median_ms": 16.0, "key_p95_ms": 33.0, "startup_s": 1.5, "block_ms": 50.0, "big_key_ms": 100.0}
SECONDARY = ("deltas", "weights", "decay", "loss")
BIG_MODELS = {
    "1000-unit RNN": {"hidden_size": 1000},
    "largest (LSTM 1024 x T 1000)": {"model": "lstm", "hidden_size": 1024, "seq_len": 1000},
}
#: the large-model rows are measured twice: with the default views, and with the attribution view,
#: the what-if panel and a side-by-side comparison (a second model of the same size, trained in
#: lock-step; its graph, decay and loss overlays and attribution matrix drawn too) on screen as well
BIG_VARIANTS = {"": None, " + attribution, what-if, comparison": {"truncation": 10}}


def _size(text: str) -> tuple[int, int]:
    w, h = text.lower().split("x")
    return int(w), int(h)


def _window(preset: str, size: tuple[int, int], session=None, compare: dict | None = None):
    import pyqtgraph as pg
    from PySide6 import QtCore, QtWidgets

    from bpttviz.app import build_window

    settings = QtCore.QSettings(str(Path(tempfile.mkdtemp()) / "s.ini"), QtCore.QSettings.Format.IniFormat)
    if session is None:
        win = build_window(preset=preset, settings=settings, size=size)
    else:
        win = build_window(session, settings=settings, size=size)
    win.docks["task"].raise_()  # the configuration tab is not a view; every view is on screen
    win.show()
    app = QtWidgets.QApplication.instance()
    for _ in range(10):
        app.processEvents()
    extra: tuple[str, ...] = ()
    if compare is not None:  # a second model, and the views that only show on request
        win.part("comparison").open(compare)
        extra = ("attribution", "whatif", "compare")
        for name in extra:
            win.findChild(QtWidgets.QDockWidget, f"dock_{name}").show()
        for _ in range(10):
            app.processEvents()
    # the default layout may stack the bottom plots in tabs (a user switches between them): here
    # each one behind a tab floats on its own, at the deltas view's size, so every view is on screen
    size_of = win.docks["deltas"].size()
    for name in SECONDARY + extra:
        dock = win.findChild(QtWidgets.QDockWidget, f"dock_{name}")
        if dock.widget().visibleRegion().isEmpty():
            dock.setFloating(True)
            dock.resize(size_of)
            dock.show()
    for _ in range(10):
        app.processEvents()
    views = {name: [gv.viewport() for gv in getattr(win, name).findChildren(pg.GraphicsView)]
             for name in ("graph",) + SECONDARY + ("task",)}
    return win, app, views


def run_loop(seconds: float, until=None) -> None:
    """Run the Qt event loop (it sleeps when idle, as the app does) for ``seconds`` or until
    ``until()`` is true (checked every 2 ms). The large-model children use it: a worker thread
    needs the UI thread to sleep between events. The classic-size measurements spin
    ``processEvents`` instead (as earlier runs of this benchmark did): on a loaded machine a
    sleeping loop waits behind every other process each time it wakes."""
    from PySide6 import QtCore

    loop = QtCore.QEventLoop()
    end = time.perf_counter() + seconds
    check = QtCore.QTimer()
    check.setTimerType(QtCore.Qt.TimerType.PreciseTimer)
    check.timeout.connect(lambda: loop.quit() if time.perf_counter() >= end or (until is not None and until())
                          else None)
    check.start(2)
    loop.exec()
    check.stop()


class PaintCounter:
    """Counts paint events of some widgets (and remembers when the last one happened)."""

    def __init__(self, widgets) -> None:
        from PySide6 import QtCore

        class Filter(QtCore.QObject):
            def eventFilter(inner, obj, ev):  # noqa: N805
                if ev.type() == QtCore.QEvent.Type.Paint:
                    self.count += 1
                    self.last = time.perf_counter()
                return False

        self.count = 0
        self.last = 0.0
        self.filter = Filter()
        for w in widgets:
            w.installEventFilter(self.filter)


def measure_training(preset: str, size: tuple[int, int], seconds: float, rounds: int = 6) -> dict:
    """Alternate headless and live slices; totals over all rounds, and the per-round spread."""
    from bpttviz.engine.training.session import Session

    win, app, views = _window(preset, size)
    counters = {name: PaintCounter(vps) for name, vps in views.items()}
    c = win.controller
    headless = Session.from_preset(preset)
    h_iters = h_time = l_iters = l_time = 0.0
    totals = dict.fromkeys(counters, 0)
    rounds_out = []
    for _ in range(rounds):
        t0 = time.perf_counter()
        n = 0
        while time.perf_counter() - t0 < seconds / rounds * 0.6:
            headless.train_step()
            n += 1
        h_dt = time.perf_counter() - t0
        before = {k: ctr.count for k, ctr in counters.items()}
        it0 = c.session.iteration
        c.play()
        t0 = time.perf_counter()
        if getattr(c, "job_running", lambda: None)() == "train":  # on the worker: the event loop sleeps
            run_loop(seconds / rounds)
        else:
            while time.perf_counter() - t0 < seconds / rounds:  # spinning: see run_loop
                app.processEvents()
        c.pause()
        l_dt = time.perf_counter() - t0
        l_n = c.session.iteration - it0
        h_iters, h_time, l_iters, l_time = h_iters + n, h_time + h_dt, l_iters + l_n, l_time + l_dt
        for k, ctr in counters.items():
            totals[k] += ctr.count - before[k]
        rounds_out.append({"fps": (counters["graph"].count - before["graph"]) / l_dt,
                           "ratio": (l_n / l_dt) / (n / h_dt)})
    c.stop()
    win.close()
    hz = {k: v / l_time for k, v in totals.items()}
    return {"headless_its": h_iters / h_time, "live_its": l_iters / l_time, "fps": hz["graph"],
            "view_hz": {k: hz[k] for k in SECONDARY}, "ratio": (l_iters / l_time) / (h_iters / h_time),
            "rounds": rounds_out}


def measure_key_latency(preset: str, size: tuple[int, int], presses: int = 80) -> dict:
    from PySide6 import QtCore, QtTest

    win, app, views = _window(preset, size)
    win.activateWindow()
    win.graph.setFocus()
    for _ in range(5):
        app.processEvents()
    counter = PaintCounter(views["graph"] + [win.graph.caption])  # the highlight and its caption
    c = win.controller
    lat = []
    for _ in range(presses):
        t0 = time.perf_counter()
        n0 = counter.count
        QtTest.QTest.keyClick(win.graph, QtCore.Qt.Key.Key_Right)
        deadline = t0 + 2.0
        while counter.count == n0 and time.perf_counter() < deadline:
            app.processEvents()
        lat.append((counter.last - t0) * 1000 if counter.count > n0 else 2000.0)
    fetched = c.session.iteration
    c.stop()
    win.close()
    lat.sort()
    return {"key_median_ms": statistics.median(lat), "key_p95_ms": lat[int(0.95 * (len(lat) - 1))],
            "key_max_ms": lat[-1], "presses": presses, "iterations_fetched": fetched}


def startup_child(size: tuple[int, int]) -> None:
    """Runs in a fresh interpreter: build and show the window, print the wall time of its first paint."""
    from PySide6 import QtCore, QtWidgets

    from bpttviz.app import build_window

    settings = QtCore.QSettings(str(Path(tempfile.mkdtemp()) / "s.ini"), QtCore.QSettings.Format.IniFormat)
    win = build_window(settings=settings, size=size)
    painted = []

    class Filter(QtCore.QObject):
        def eventFilter(self, obj, ev):
            if ev.type() == QtCore.QEvent.Type.Paint and not painted:
                painted.append(time.time())
            return False

    f = Filter()
    win.graph.plot.viewport().installEventFilter(f)
    win.show()
    app = QtWidgets.QApplication.instance()
    while not painted:
        app.processEvents()
    print(json.dumps({"painted_at": painted[0]}), flush=True)
    os._exit(0)  # the measurement is done; skip interpreter teardown


def _child(args: list[str], timeout: float, env: dict | None = None) -> tuple[dict | None, str]:
    cmd = [sys.executable, str(Path(__file__).resolve()), "--code", str(CODE), *args]
    try:
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout,
                             env={**os.environ, "QT_QPA_PLATFORM": "offscreen", **(env or {})})
    except subprocess.TimeoutExpired as e:  # a child may have printed partial results
        out = e.stdout.decode() if isinstance(e.stdout, bytes) else (e.stdout or "")
        line = [ln for ln in out.splitlines() if ln.startswith("{")]
        if line:
            return {**json.loads(line[-1]), "partial": True}, ""
        return None, f"no answer within {timeout:.0f} s"
    line = [ln for ln in out.stdout.splitlines() if ln.startswith("{")]
    if out.returncode != 0 or not line:
        return None, out.stderr[-2000:]
    return json.loads(line[-1]), ""


_PYCACHE = tempfile.mkdtemp(prefix="bpttviz-bench-pycache-")


def measure_startup(size: tuple[int, int], runs: int = 3) -> dict:
    """Median of ``runs`` launches with the bytecode compiled (as after installing: pip compiles
    it, and any second launch finds it; kept in a temporary folder, not in the checkout), after one
    launch that compiles it; that first launch is reported too (every module compiled from source,
    as when bytecode writing is switched off)."""
    times = []
    env_write = {"PYTHONPYCACHEPREFIX": _PYCACHE, "PYTHONDONTWRITEBYTECODE": ""}
    for _ in range(runs + 1):
        t0 = time.time()
        res, err = _child(["--startup-child", f"{size[0]}x{size[1]}"], 120, env_write)
        if res is None:
            raise RuntimeError(f"startup child failed: {err}")
        times.append(res["painted_at"] - t0)
    return {"startup_s": statistics.median(times[1:]), "startup_runs": [round(t, 3) for t in times[1:]],
            "startup_compiling_s": times[0]}


def big_child(name: str, seconds: float, compare: dict | None = None) -> None:
    """Runs in a fresh interpreter: a large model trains in the window for ``seconds``; a 2 ms
    heartbeat timer records how long the event loop went without running; Space and Right are
    sent from another thread through the event loop (queued, like a real key press) and timed
    until they acted (training started or stopped, the cursor moved, or the narration of a new
    iteration started on the worker) and until the graph showed the result."""
    from PySide6 import QtCore, QtTest

    from bpttviz.engine.training.presets import load_preset
    from bpttviz.engine.training.session import Session

    cfg = load_preset("min-char-rnn").replace(**BIG_MODELS[name])
    t0 = time.perf_counter()
    win, app, views = _window("min-char-rnn", (1280, 800), session=Session(cfg), compare=compare)
    build_s = time.perf_counter() - t0  # building and first showing the window (before the heartbeat)
    c = win.controller
    job = getattr(c, "job_running", lambda: None)  # (a tree without the worker thread: always None)
    win.activateWindow()
    win.graph.setFocus()
    beats: list[float] = []
    hb = QtCore.QTimer()
    hb.setTimerType(QtCore.Qt.TimerType.PreciseTimer)
    hb.timeout.connect(lambda: beats.append(time.perf_counter()))
    hb.start(2)
    counter = PaintCounter(views["graph"] + [win.graph.caption])
    blocked: dict[str, int] = {}
    main_id = threading.get_ident()
    stat = Path(f"/proc/self/task/{threading.main_thread().native_id}/stat")
    tick = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
    long_gaps: list[tuple[float, float]] = []  # (gap, the UI thread's CPU time in it), seconds

    def ui_cpu() -> float | None:
        """CPU seconds the UI thread has used (Linux; 1/CLK_TCK resolution), or None."""
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
            return (int(fields[11]) + int(fields[12])) / tick
        except (OSError, IndexError, ValueError):
            return None

    def watchdog() -> None:
        import traceback as tb

        start = None  # (last beat before the gap, UI CPU time then)
        while True:
            time.sleep(0.005)
            if start is not None and beats and beats[-1] > start[0]:  # the gap ended
                cpu = ui_cpu()
                if cpu is not None and start[1] is not None:
                    long_gaps.append((beats[-1] - start[0], cpu - start[1]))
                start = None
            if beats and time.perf_counter() - beats[-1] > 0.03:
                if start is None:
                    start = (beats[-1], ui_cpu())
                frame = sys._current_frames().get(main_id)
                if frame is None:
                    continue
                stack = tb.extract_stack(frame)[::-1]  # innermost first
                ours = [fs for fs in stack[1:] if "bpttviz" in fs.filename or "engine" in fs.filename]
                where = " < ".join(f"{Path(fs.filename).name}:{fs.lineno} {fs.name}" for fs in stack[:1] + ours[:5])
                blocked[where] = blocked.get(where, 0) + 1

    threading.Thread(target=watchdog, daemon=True).start()

    class Keys(QtCore.QObject):
        press = QtCore.Signal(int)

    keys = Keys()
    keys.press.connect(lambda k: QtTest.QTest.keyClick(win.graph, QtCore.Qt.Key(k)),
                       QtCore.Qt.ConnectionType.QueuedConnection)
    acted: dict[str, float] = {}
    c.playing_changed.connect(lambda on: acted.__setitem__("play" if on else "pause", time.perf_counter()))
    c.state_changed.connect(lambda: acted.__setitem__("state", time.perf_counter()))
    c.message.connect(lambda _m: acted.__setitem__("message", time.perf_counter()))

    def wait(cond, limit: float) -> None:
        run_loop(limit, cond)

    def press_from_thread(key) -> float:
        sent = []
        th = threading.Thread(target=lambda: (sent.append(time.perf_counter()), keys.press.emit(int(key.value))))
        th.start()
        th.join()
        return sent[0]

    space, right = QtCore.Qt.Key.Key_Space, QtCore.Qt.Key.Key_Right
    key_ms: list[float] = []  # key -> acted
    within_ms: list[float] = []  # Right inside a narrated iteration -> graph repainted
    new_s: list[float] = []  # Right into a new iteration -> its first record shown
    iteration_s: list[float] = []  # the worker's CPU time of one iteration at that point

    def report() -> None:  # after every key: what a timed-out run still tells
        gaps = [b - a for a, b in zip(beats, beats[1:]) if b > idle_end]
        print(json.dumps({"block_ms": 1000 * max(gaps) if gaps else float("inf"), "idle_block_ms": idle_ms,
                          "big_key_ms": max(key_ms) if key_ms else float("inf"),
                          "within_ms": max(within_ms) if within_ms else None,
                          "new_iteration_s": max(new_s) if new_s else None,
                          "iteration_cpu_s": max(iteration_s) if iteration_s else None,
                          "iterations": c.session.iteration, "keys": len(key_ms), "build_s": build_s,
                          "threaded": bool(getattr(c, "_use_thread", lambda: False)()),
                          "blocked_in": sorted(((n, w) for w, n in blocked.items()), reverse=True)[:8],
                          "longest_gaps": sorted(long_gaps, reverse=True)[:5]}),
              flush=True)

    # the machine's own noise: the longest gap while the window is idle, nothing training
    wait(lambda: False, 2.0)
    idle_end = time.perf_counter()
    blocked.clear()
    long_gaps.clear()
    idle_ms = 1000 * max((b - a for a, b in zip(beats, beats[1:])), default=0.0)
    for _ in range(3):  # play, train a while, pause; each key timed
        acted.clear()
        t = press_from_thread(space)
        wait(lambda: "play" in acted, 20)
        key_ms.append((acted.get("play", t + 20) - t) * 1000)
        report()
        wait(lambda: False, seconds / 3)
        t = press_from_thread(space)
        wait(lambda: "pause" in acted, 20)
        key_ms.append((acted.get("pause", t + 20) - t) * 1000)
        report()
    for _ in range(4):  # step while paused
        acted.clear()
        n0 = counter.count
        rec = (c.moment.iteration, c.moment.record)
        t = press_from_thread(right)
        wait(lambda: "state" in acted or "message" in acted, 20)
        key_ms.append((min(acted.get("state", t + 20), acted.get("message", t + 20)) - t) * 1000)
        narrating = job() == "narrate"
        wait(lambda n0=n0: counter.count > n0 and job() is None, 300 if narrating else 20)
        shown = (counter.last - t) if counter.count > n0 and (c.moment.iteration, c.moment.record) != rec else 300.0
        if narrating:
            new_s.append(shown)
            iteration_s.append(getattr(c, "_iter_cost", float("nan")))
        else:
            within_ms.append(shown * 1000)
        report()
    os._exit(0)


def measure_big(seconds: float, variants: str = "all") -> dict:
    """Each large model in each variant (``BIG_VARIANTS``; ``variants`` "plain", "extra" or "all")."""
    out = {}
    chosen = {"plain": [""], "extra": [v for v in BIG_VARIANTS if v]}.get(variants, list(BIG_VARIANTS))
    for name in BIG_MODELS:
        for variant in chosen:
            args = ["--big-child", name, "--seconds", str(seconds)]
            if BIG_VARIANTS[variant] is not None:
                args += ["--big-compare", json.dumps(BIG_VARIANTS[variant])]
            res, err = _child(args, 1500 + 2 * seconds)
            lines = [ln for ln in err.strip().splitlines() if "plugin does not support" not in ln]  # (Qt's notes)
            why = next((ln for ln in reversed(lines) if "Error" in ln or "no answer" in ln), lines[-1] if lines else "")
            out[name + variant] = res if res is not None else {"error": why or "ended without a result"}
    return out


def frame_costs(preset: str, size: tuple[int, int], frames: int = 120, cprofile: bool = False) -> dict:
    """Where the milliseconds of a frame go, measured without the timers (steadier than the live
    loop on a busy machine): ``frames`` times, one training iteration (narrated, as the live loop
    does while the graph is on screen), then every visible view's data push, then the event loop
    painting them. CPU time of this thread per frame, split by view and by push / paint."""
    import cProfile
    import io
    import pstats

    import pyqtgraph as pg

    win, app, _ = _window(preset, size)
    c = win.controller
    paint: dict[str, float] = {}
    names = {"graph": "unrolled graph", **{k: f"{k} view" for k in SECONDARY}}
    for name in names:
        for gv in getattr(win, name).findChildren(pg.GraphicsView):
            def timed(ev, orig=gv.paintEvent, name=name):
                t = time.thread_time()
                r = orig(ev)
                paint[name] = paint.get(name, 0.0) + time.thread_time() - t
                return r
            gv.paintEvent = timed
    measured = set(names.values()) | {"status bar"}
    pushed: dict[str, float] = {}
    for b in c.bindings:  # CPU time of this thread in each push (the controller's own count is wall time)
        def timed_push(orig=b.push, name=b.name):
            t = time.thread_time()
            orig()
            pushed[name] = pushed.get(name, 0.0) + time.thread_time() - t
        b.push = timed_push
    for _ in range(20):  # warm up: caches, history
        c._fetch_trace(cursor=None)
        c.version += 1
        c.refresh_all()
        app.processEvents()
    for b in c.bindings:
        b.seconds, b.pushes = 0.0, 0
    paint.clear()
    pushed.clear()
    pr = cProfile.Profile() if cprofile else None
    train = push = total = 0.0
    c.playing = True  # the views' "while training" look (no stepping read-outs)
    c.playing_changed.emit(True)
    if pr is not None:
        pr.enable()
    for _ in range(frames):
        t0 = time.thread_time()
        c._fetch_trace(cursor=None)
        c.version += 1
        t1 = time.thread_time()
        for b in c.bindings:  # the measured views update every frame (no minimum intervals)
            if b.name in measured:
                b.last_push = -1e9
        c.paint()
        t2 = time.thread_time()
        app.processEvents()
        t3 = time.thread_time()
        train, push, total = train + t1 - t0, push + t2 - t1, total + t3 - t0
    if pr is not None:
        pr.disable()
    c.playing = False
    c.playing_changed.emit(False)
    out = {"train_ms": 1000 * train / frames, "push_ms": 1000 * push / frames, "frame_ms": 1000 * total / frames,
           "views": {}}
    for key, label in names.items():
        out["views"][key] = {"push_ms": 1000 * pushed.get(label, 0.0) / frames,
                             "paint_ms": 1000 * paint.get(key, 0.0) / frames}
    views = sum(v["push_ms"] + v["paint_ms"] for v in out["views"].values())
    out["other_ms"] = out["frame_ms"] - out["train_ms"] - views
    if pr is not None:
        s = io.StringIO()
        st = pstats.Stats(pr, stream=s)
        st.sort_stats("tottime").print_stats(30)
        st.sort_stats("cumtime").print_stats(45)
        out["profile"] = s.getvalue()
    c.stop()
    win.close()
    return out


def print_costs(res: dict, size: str) -> None:
    print(f"[{size}] CPU ms per frame (one iteration + every view pushed and painted), load average {_load()}")
    print(f"  training iteration (narrated) {res['train_ms']:6.2f}")
    for k, v in res["views"].items():
        print(f"  {k:8s} push {v['push_ms']:6.2f}   paint {v['paint_ms']:6.2f}")
    print(f"  status bar, task view (at most 1/s), widgets, Qt  {res['other_ms']:6.2f}")
    print(f"  frame total                 {res['frame_ms']:6.2f}")


def _load() -> str:
    return ", ".join(f"{v:.2f}" for v in os.getloadavg()) if hasattr(os, "getloadavg") else "n/a"


def rows_for(res: dict) -> list[tuple[str, str, str, bool | None]]:
    """The table: (measure, value, target, met) per row; ``met`` None for information rows."""
    rows: list[tuple[str, str, str, bool | None]] = []
    for sz in res["sizes"]:
        r = res[sz]
        w, h = _size(sz)
        want = TARGETS["fps"].get((w, h), 60.0)
        rows.append((f"[{sz}] graph frames per second", f"{r['fps']:.1f}", f">= {want:g}", r["fps"] >= want))
        for k in SECONDARY:
            v = r["view_hz"][k]
            rows.append((f"[{sz}] {k} view updates per second", f"{v:.1f}", f">= {TARGETS['view_hz']:g}",
                         v >= TARGETS["view_hz"]))
        rows.append((f"[{sz}] training it/s live / headless", f"{r['live_its']:.0f} / {r['headless_its']:.0f}", "",
                     None))
        rows.append((f"[{sz}] live / headless", f"{r['ratio']:.2f}", f">= {TARGETS['ratio']:g}",
                     r["ratio"] >= TARGETS["ratio"]))
        rows.append((f"[{sz}] Right key -> repainted highlight, median", f"{r['key_median_ms']:.1f} ms",
                     f"< {TARGETS['key_median_ms']:g} ms", r["key_median_ms"] < TARGETS["key_median_ms"]))
        rows.append((f"[{sz}] Right key -> repainted highlight, p95", f"{r['key_p95_ms']:.1f} ms",
                     f"< {TARGETS['key_p95_ms']:g} ms", r["key_p95_ms"] < TARGETS["key_p95_ms"]))
        rows.append((f"[{sz}] startup to first painted window", f"{r['startup_s']:.2f} s",
                     f"< {TARGETS['startup_s']:g} s", r["startup_s"] < TARGETS["startup_s"]))
        if "startup_compiling_s" in r:
            rows.append((f"[{sz}]   the same, compiling every module (no bytecode yet)",
                         f"{r['startup_compiling_s']:.2f} s", "", None))
    for name, b in res.get("big", {}).items():
        if "error" in b:
            rows.append((f"{name}: longest UI block", b["error"][:40], f"<= {TARGETS['block_ms']:g} ms", False))
            continue
        part = f" ({b['keys']} of 10 keys, then timed out)" if b.get("partial") else ""
        rows.append((f"{name}: longest UI block while training{part}", f"{b['block_ms']:.0f} ms",
                     f"<= {TARGETS['block_ms']:g} ms", b["block_ms"] <= TARGETS["block_ms"]))
        if "idle_block_ms" in b:
            rows.append((f"{name}:   the same, idle window before training (the machine's noise)",
                         f"{b['idle_block_ms']:.0f} ms", "", None))
        rows.append((f"{name}: slowest key (Space/Right) to its action", f"{b['big_key_ms']:.0f} ms",
                     f"<= {TARGETS['big_key_ms']:g} ms", b["big_key_ms"] <= TARGETS["big_key_ms"]))
        if b.get("within_ms") is not None:
            rows.append((f"{name}: Right within an iteration -> repainted", f"{b['within_ms']:.0f} ms",
                         f"<= {TARGETS['big_key_ms']:g} ms", b["within_ms"] <= TARGETS["big_key_ms"]))
        if b.get("new_iteration_s") is not None:
            rows.append((f"{name}: Right into a new iteration -> shown (narrated on the worker)",
                         f"{b['new_iteration_s']:.2f} s", "", None))
            rows.append((f"{name}:   one iteration's CPU time on the worker", f"{b['iteration_cpu_s']:.2f} s", "",
                         None))
        rows.append((f"{name}: iterations trained in the run", f"{b['iterations']}", "", None))
        if "build_s" in b:
            rows.append((f"{name}: building and showing the window", f"{b['build_s']:.1f} s", "", None))
    return rows


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=6.0, help="live training time measured per size (default 6)")
    ap.add_argument("--preset", default="min-char-rnn")
    ap.add_argument("--sizes", default="1280x800,1920x1080", help="window sizes, comma separated")
    ap.add_argument("--no-big", action="store_true", help="skip the large-model rows")
    ap.add_argument("--big-only", action="store_true", help="only the large-model rows")
    ap.add_argument("--big-variants", default="all", choices=("all", "plain", "extra"),
                    help="large models with the default views (plain), also with attribution, what-if and a "
                         "comparison on (extra), or both (all)")
    ap.add_argument("--why", action="store_true", help="with the large-model rows: where the UI thread was "
                                                       "while the event loop was blocked")
    ap.add_argument("--code", default=None, help="import the app from this checkout (A/B against another tree)")
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--costs", action="store_true", help="where a frame's milliseconds go, per view, at each size")
    ap.add_argument("--profile", action="store_true", help="--costs with cProfile's listing (first size only)")
    ap.add_argument("--startup-child", default=None, help=argparse.SUPPRESS)
    ap.add_argument("--big-child", default=None, help=argparse.SUPPRESS)
    ap.add_argument("--big-compare", default=None, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.startup_child:
        startup_child(_size(args.startup_child))
        return 0
    if args.big_child:
        big_child(args.big_child, args.seconds, json.loads(args.big_compare) if args.big_compare else None)
        return 0
    sizes = [s.strip() for s in args.sizes.split(",") if s.strip()]
    if args.costs or args.profile:
        for sz in sizes[:1] if args.profile else sizes:
            r = frame_costs(args.preset, _size(sz), cprofile=args.profile)
            print_costs(r, sz)
            if args.profile:
                print(r["profile"])
        return 0
    res: dict = {"preset": args.preset, "code": str(CODE), "sizes": [] if args.big_only else sizes,
                 "load_before": _load()}
    for sz in [] if args.big_only else sizes:
        r = {}
        r.update(measure_startup(_size(sz)))
        r.update(measure_training(args.preset, _size(sz), args.seconds))
        r.update(measure_key_latency(args.preset, _size(sz)))
        res[sz] = r
    if not args.no_big:
        res["big"] = measure_big(args.seconds, args.big_variants)
    res["load_after"] = _load()
    if args.json:
        print(json.dumps(res, indent=2))
        return 0
    print_table(res)
    if args.why:
        for name, b in res.get("big", {}).items():
            print(f"{name}: where the UI thread was during gaps > 30 ms (5 ms samples)")
            for n, where in b.get("blocked_in", []):
                print(f"  {n:5d}  {where}")
            if b.get("longest_gaps"):  # little CPU in a long gap: the UI thread was waiting (GIL, scheduler)
                print("  longest gaps (ms) and the UI thread's CPU time in each (ms): "
                      + ", ".join(f"{1000 * g:.0f}/{1000 * u:.0f}" for g, u in b["longest_gaps"]))
    return 0


def print_table(res: dict) -> None:
    rows = rows_for(res)
    w = max(len(r[0]) for r in rows)
    where = ("on the UI thread" if os.environ.get("BPTTVIZ_TRAINING_PROCESS", "1") == "0"
             else "in the training process")
    print(f"bpttviz app benchmark: preset {res['preset']}, offscreen, every view visible, training {where}, "
          f"code {res['code']} ({os.cpu_count()} CPUs, load average {res['load_before']} before, "
          f"{res['load_after']} after)")
    print(f"{'measure':{w}s}  {'value':>16s}  {'target':>10s}")
    if not rows:
        return
    for name, value, target, ok in rows:
        mark = "" if ok is None else ("met" if ok else "missed")
        print(f"{name:{w}s}  {value:>16s}  {target:>10s}  {mark}")
    for sz in res["sizes"]:
        print(f"[{sz}] per round (fps / ratio): "
              + ", ".join(f"{r['fps']:.0f}/{r['ratio']:.2f}" for r in res[sz]["rounds"]))


if __name__ == "__main__":
    sys.exit(main())
