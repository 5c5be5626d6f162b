"""Speed of the desktop app at the default preset (character RNN, H=100, T=25), every view
visible, 1280x800, offscreen.

    python benchmarks/bench_app.py [--seconds 4] [--preset min-char-rnn] [--json]

Measures, in one run:

- frames painted per second while training at full speed (repaints of the unrolled graph, the
  centre view; every other view's repaint rate is listed too), target >= 30;
- training iterations per second with the views live, as a fraction of headless iterations per
  second of a fresh session of the same preset. The two are measured in alternating slices
  (headless, live, headless, live...) so that other load on the machine affects both alike;
  target >= 0.6;
- the time from a Right-arrow key press to the repainted highlight (the graph's viewport has
  painted the new record), over many presses including ones that fetch a new iteration;
  target < 50 ms;
- startup: from launching ``python`` to the first painted window, in a fresh process;
  target < 2 s.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import bpttviz  # noqa: E402,F401  (one BLAS thread before numpy loads)

TARGETS = {"fps": 30.0, "ratio": 0.6, "key_ms": 50.0, "startup_s": 2.0}


def _window(preset: str):
    import pyqtgraph as pg
    from PySide6 import QtCore, QtWidgets

    from bpttviz.app import build_window

    settings = QtCore.QSettings(str(Path(tempfile.mkdtemp()) / "s.ini"), QtCore.QSettings.Format.IniFormat)
    win = build_window(preset=preset, settings=settings, size=(1280, 800))
    win.docks["task"].raise_()  # the configuration tab is not a view; every view is on screen
    win.show()
    app = QtWidgets.QApplication.instance()
    for _ in range(10):
        app.processEvents()
    views = {name: [gv.viewport() for gv in getattr(win, name).findChildren(pg.GraphicsView)]
             for name in ("graph", "deltas", "weights", "decay", "loss", "task")}
    return win, app, views


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


def measure_training(preset: str, seconds: float, rounds: int = 6) -> dict:
    """Alternate headless and live slices; totals over all rounds, and the per-round spread."""
    from engine.session import Session

    win, app, views = _window(preset)
    counters = {name: PaintCounter(vps) for name, vps in views.items()}
    c = win.controller
    headless = Session.from_preset(preset)
    h_iters = h_time = l_iters = l_time = 0.0
    frames = 0
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
        while time.perf_counter() - t0 < seconds / rounds:
            app.processEvents()
        c.pause()
        l_dt = time.perf_counter() - t0
        l_n = c.session.iteration - it0
        f = counters["graph"].count - before["graph"]
        h_iters, h_time, l_iters, l_time, frames = h_iters + n, h_time + h_dt, l_iters + l_n, l_time + l_dt, frames + f
        for k, ctr in counters.items():
            totals[k] += ctr.count - before[k]
        rounds_out.append({"fps": f / l_dt, "ratio": (l_n / l_dt) / (n / h_dt)})
    result = {"headless_its": h_iters / h_time, "live_its": l_iters / l_time, "fps": frames / l_time,
              "per_view_fps": {k: round(v / l_time, 1) for k, v in totals.items()}, "rounds": rounds_out}
    result["ratio"] = result["live_its"] / result["headless_its"]
    c.stop()
    win.close()
    return result


def measure_key_latency(preset: str, presses: int = 80) -> dict:
    from PySide6 import QtCore, QtTest

    win, app, views = _window(preset)
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


def startup_child() -> None:
    """Runs in a fresh interpreter: build and show the window, print the wall time of its first paint."""
    from PySide6 import QtCore, QtWidgets

    from bpttviz.app import build_window

    settings = QtCore.QSettings(str(Path(tempfile.mkdtemp()) / "s.ini"), QtCore.QSettings.Format.IniFormat)
    win = build_window(settings=settings, size=(1280, 800))
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
    win.controller.stop()
    win.close()
    os._exit(0)  # the measurement is done; skip interpreter teardown


def measure_startup(runs: int = 3) -> dict:
    times = []
    for _ in range(runs):
        t0 = time.time()
        out = subprocess.run([sys.executable, __file__, "--startup-child"], capture_output=True, text=True,
                             timeout=60, env={**os.environ, "QT_QPA_PLATFORM": "offscreen"})
        line = [ln for ln in out.stdout.splitlines() if ln.startswith("{")]
        if out.returncode != 0 or not line:
            raise RuntimeError(f"startup child failed: {out.stderr[-2000:]}")
        times.append(json.loads(line[-1])["painted_at"] - t0)
    return {"startup_s": statistics.median(times), "startup_runs": [round(t, 3) for t in times]}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=8.0, help="live training time measured (default 8)")
    ap.add_argument("--preset", default="min-char-rnn")
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--startup-child", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.startup_child:
        startup_child()
        return 0
    res = {"preset": args.preset}
    res.update(measure_startup())
    res.update(measure_training(args.preset, args.seconds))
    res.update(measure_key_latency(args.preset))
    if args.json:
        print(json.dumps(res, indent=2))
        return 0
    rows = [
        ("frames painted per second (unrolled graph)", f"{res['fps']:.1f}", ">= 30 (aim 60)", res["fps"] >= 30),
        ("training it/s with views live", f"{res['live_its']:.0f}", "", None),
        ("training it/s headless (same run)", f"{res['headless_its']:.0f}", "", None),
        ("live / headless", f"{res['ratio']:.2f}", ">= 0.6", res["ratio"] >= 0.6),
        ("Right key -> repainted highlight, median", f"{res['key_median_ms']:.1f} ms", "< 50 ms",
         res["key_median_ms"] < 50),
        ("Right key -> repainted highlight, p95 / max", f"{res['key_p95_ms']:.1f} / {res['key_max_ms']:.1f} ms",
         "", None),
        ("startup to first painted window (median of 3)", f"{res['startup_s']:.2f} s", "< 2 s",
         res["startup_s"] < 2.0),
    ]
    w = max(len(r[0]) for r in rows)
    load = ", ".join(f"{v:.2f}" for v in os.getloadavg()) if hasattr(os, "getloadavg") else "n/a"
    print(f"bpttviz app benchmark: preset {args.preset}, 1280x800 offscreen, every view visible "
          f"({os.cpu_count()} CPUs, load average {load})")
    print(f"{'measure':{w}s}  {'value':>14s}  {'target':>14s}")
    for name, value, target, ok in rows:
        mark = "" if ok is None else ("ok" if ok else "MISSED")
        print(f"{name:{w}s}  {value:>14s}  {target:>14s}  {mark}")
    print("repaints per second while training: " + ", ".join(f"{k} {v}" for k, v in res["per_view_fps"].items()))
    print("per round (fps / ratio): " + ", ".join(f"{r['fps']:.0f}/{r['ratio']:.2f}" for r in res["rounds"]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
