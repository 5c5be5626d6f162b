"""Guided scenarios: every claim of every stop at five seeds, and how long each stop takes to be
ready, headless (``engine.training.scenario.ScenarioRun``, the code the app's background preparation runs).

    python benchmarks/bench_scenarios.py [--seeds 0,1,2,3,4] [--lectures lecture-3,lecture-5] [--json]
    python benchmarks/bench_scenarios.py --app [--lectures lecture-5]

For every lecture, stop and claim it prints the measured value at each seed (seed = the
preset's seed + offset) and, per stop, the seconds it took to compute (its steps and training,
with any training on while a claim did not hold) -- the time the app's background preparation
needs before Page Down can install the stop -- and the seconds to copy both sessions, which is
what Page Down (a prepared stop) and Page Up (a kept snapshot) cost on the key press. At the
preset's own seed a long stop is installed from its shipped snapshot (``assets/snapshots``, as
the app does; marked "shipped"), unless ``--no-shelf``; its claims are measured on it all the same.

``--app`` drives the real window offscreen (1280x800) from the keyboard instead: per stop, the
seconds from the Page Down press to the stop being ready when pressed as soon as the previous
stop was ready ("at once": includes waiting for the background preparation), the seconds when
pressed after the preparation finished ("prepared", target <= 0.5), and the seconds from a
Page Up press back to that stop (target <= 0.5).

Run it with ``OMP_NUM_THREADS=1`` on a busy machine: BLAS threads fighting over two cores make
small matrix products many times slower.
"""

from __future__ import annotations

import argparse
import json
import time

from bpttviz.engine.training.presets import list_presets, load_preset
from bpttviz.engine.training.scenario import ScenarioRun, copy_session, parse_scenario
from bpttviz.engine.training.snapshots import shipped


def run_lecture(name: str, offset: int, shelf: bool = True) -> list[dict]:
    cfg = load_preset(name)
    cfg = cfg.replace("benchmark", seed=cfg.seed + offset)
    run = ScenarioRun(cfg, shelf=shipped() if shelf else None)
    rows = []
    for i, stop in enumerate(parse_scenario(cfg, name), start=1):
        before = run.first.iteration
        t0 = time.perf_counter()
        verdicts = run.enter(stop)
        prepare = time.perf_counter() - t0
        t0 = time.perf_counter()
        copy_session(run.first)
        if run.second is not None:
            copy_session(run.second)
        install = time.perf_counter() - t0
        trained = max(0, run.first.iteration - before)
        claims = [(v.claim.says or v.claim.what(), v.claim.bounds(), v.value, v.holds) for v in verdicts]
        rows.append({"stop": i, "prepare_s": prepare, "install_s": install, "iterations": trained, "claims": claims,
                     "shipped": run.shipped_stop})
    return rows


def app_timings(names: list[str]) -> None:
    import os
    import tempfile
    from pathlib import Path

    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6 import QtCore, QtWidgets
    from PySide6.QtTest import QTest

    import bpttviz  # noqa: F401  (one BLAS thread)
    from bpttviz.app import build_window

    app = QtWidgets.QApplication.instance() or QtWidgets.QApplication([])
    settings = QtCore.QSettings(str(Path(tempfile.mkdtemp()) / "s.ini"), QtCore.QSettings.Format.IniFormat)
    win = build_window(preset="min-char-rnn", settings=settings, size=(1280, 800))
    win.show()
    win.activateWindow()

    def press(key) -> None:
        # a closed dialog (lecture 3's blow-up message) hands the activation back asynchronously;
        # a shortcut pressed before that would be lost, as it would be on a presenter's clicker
        win.activateWindow()
        wait(win.isActiveWindow, 2.0)
        win.graph.setFocus()
        QTest.keyClick(win.graph, key)

    def wait(cond, limit: float = 600.0) -> float:
        t0 = time.perf_counter()
        while not cond() and time.perf_counter() - t0 < limit:
            app.processEvents(QtCore.QEventLoop.ProcessEventsFlag.AllEvents, 20)
        return time.perf_counter() - t0

    p = win.scenario
    print("| scenario | stop | Page Down at once (s) | Page Down prepared (s) | Page Up back to it (s) |")
    print("|---|---|---|---|---|")
    for name in names:
        for mode in ("at once", "prepared"):
            win._load_preset(name)
            wait(lambda: not p.busy and win.isActiveWindow(), 10.0)
            times = {}
            for i in range(1, len(p.stops)):
                if mode == "prepared":
                    wait(lambda: p.index + 1 in p.prepared)
                t0 = time.perf_counter()
                press(QtCore.Qt.Key.Key_PageDown)
                wait(lambda: not p.busy)
                times[i] = time.perf_counter() - t0 if p.index == i else float("nan")
            if mode == "at once":
                once = times
            else:
                prepared = times
        back = {}
        for i in range(len(p.stops) - 2, -1, -1):
            t0 = time.perf_counter()
            press(QtCore.Qt.Key.Key_PageUp)
            wait(lambda: not p.busy)
            back[i] = time.perf_counter() - t0 if p.index == i else float("nan")
        def cell(v: float | None) -> str:
            return "—" if v is None else f"{v:.2f}"

        print(f"| {name} | 1 | (opening) | | {cell(back.get(0))} |")
        for i in range(1, len(p.stops)):
            print(f"| {name} | {i + 1} | {cell(once[i])} | {cell(prepared[i])} | {cell(back.get(i))} |")
    win.close()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", default="0,1,2,3,4", help="seed offsets from each preset's seed")
    ap.add_argument("--lectures", default="", help="comma-separated name prefixes (default: all lectures)")
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--app", action="store_true", help="time the keys in the real window instead")
    ap.add_argument("--no-shelf", action="store_true", help="train every stop, even those shipped as snapshots")
    a = ap.parse_args()
    offsets = [int(s) for s in a.seeds.split(",") if s.strip()]
    names = [n for n in list_presets() if n.startswith("lecture-")]
    if a.lectures:
        names = [n for n in names if any(n.startswith(p) for p in a.lectures.split(","))]
    if a.app:
        app_timings(names)
        return
    out = {}
    for name in names:
        out[name] = {off: run_lecture(name, off, not a.no_shelf) for off in offsets}
    if a.json:
        print(json.dumps(out, indent=1, default=float))
        return
    head = " | ".join(f"seed+{o}" for o in offsets)
    print(f"| scenario | stop | claim | claimed | {head} | prepare s (seed+{offsets[0]}) | prepare s (max, "
          "trained) | install s (max) |")
    print("|" + "---|" * (7 + len(offsets)))
    for name, by_seed in out.items():
        first = by_seed[offsets[0]]
        for j, row in enumerate(first):
            prep = by_seed[offsets[0]][j]["prepare_s"]
            worst = max(by_seed[o][j]["prepare_s"] for o in offsets)
            inst = max(by_seed[o][j]["install_s"] for o in offsets)
            how = " shipped" if by_seed[offsets[0]][j]["shipped"] else ""
            claims = row["claims"] or [("(no claim)", "", None, True)]
            for k, (says, bounds, _, _) in enumerate(claims):
                cells = []
                for o in offsets:
                    cl = by_seed[o][j]["claims"]
                    if not cl:
                        cells.append("")
                        continue
                    _, _, v, ok = cl[k]
                    cells.append(f"{v:.3g}{'' if ok else ' ✗'}")
                timing = f"{prep:.2f}{how} | {worst:.2f} | {inst:.3f}" if k == 0 else " |  | "
                print(f"| {name} | {row['stop']} | {says} | {bounds} | {' | '.join(cells)} | {timing} |")


if __name__ == "__main__":
    main()
