"""Guided scenarios: every claim of every stop at five seeds, and how long each stop takes to be
ready, headless (``engine.scenario.ScenarioRun``, the code the app's background preparation runs).

    python benchmarks/bench_scenarios.py [--seeds 0,1,2,3,4] [--lectures lecture-3,lecture-5] [--json]

For every lecture, stop and claim it prints the measured value at each seed (seed = the
preset's seed + offset) and, per stop, the seconds it took to compute (its steps and training,
with any training on while a claim did not hold) -- the time the app's background preparation
needs before Page Down can install the stop -- and the seconds to copy both sessions, which is
what Page Down (a prepared stop) and Page Up (a kept snapshot) cost on the key press.

Run it with ``OMP_NUM_THREADS=1`` on a busy machine: BLAS threads fighting over two cores make
small matrix products many times slower.
"""

from __future__ import annotations

import argparse
import json
import time

from engine.presets import list_presets, load_preset
from engine.scenario import ScenarioRun, copy_session, parse_scenario


def run_lecture(name: str, offset: int) -> list[dict]:
    cfg = load_preset(name)
    cfg = cfg.replace("benchmark", seed=cfg.seed + offset)
    run = ScenarioRun(cfg)
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
        rows.append({"stop": i, "prepare_s": prepare, "install_s": install, "iterations": trained, "claims": claims})
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", default="0,1,2,3,4", help="seed offsets from each preset's seed")
    ap.add_argument("--lectures", default="", help="comma-separated name prefixes (default: all lectures)")
    ap.add_argument("--json", action="store_true")
    a = ap.parse_args()
    offsets = [int(s) for s in a.seeds.split(",") if s.strip()]
    names = [n for n in list_presets() if n.startswith("lecture-")]
    if a.lectures:
        names = [n for n in names if any(n.startswith(p) for p in a.lectures.split(","))]
    out = {}
    for name in names:
        out[name] = {off: run_lecture(name, off) for off in offsets}
    if a.json:
        print(json.dumps(out, indent=1, default=float))
        return
    head = " | ".join(f"seed+{o}" for o in offsets)
    print(f"| scenario | stop | claim | claimed | {head} | prepare s (max) | install s (max) |")
    print("|" + "---|" * (6 + len(offsets)))
    for name, by_seed in out.items():
        first = by_seed[offsets[0]]
        for j, row in enumerate(first):
            prep = max(by_seed[o][j]["prepare_s"] for o in offsets)
            inst = max(by_seed[o][j]["install_s"] for o in offsets)
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
                timing = f"{prep:.2f} | {inst:.3f}" if k == 0 else " | "
                print(f"| {name} | {row['stop']} | {says} | {bounds} | {' | '.join(cells)} | {timing} |")


if __name__ == "__main__":
    main()
