"""Write the shipped snapshots of the long lecture stops again (``engine.training.snapshots``).

    python -m bpttviz.commands.make_snapshots [--min-seconds 0.3] [--lectures lecture-4,lecture-6]
                                              [--folder assets/snapshots]

Every lecture scenario is played from its preset at the shipped seed (``ScenarioRun``, the code
the app's background preparation runs). A stop that trains, ends between iterations without a
non-finite value and took at least ``--min-seconds`` to compute here is kept: its sessions one
iteration before the stop's end go to ``<scenario>.stop-<N>.npz`` (and ``...second.npz`` for
the comparison's model), its chain key, until-claims and numerics probe to ``index.json``. Each
written snapshot is then installed through the shelf and compared with the live run: the
parameters bit for bit and every claim's value. Run it after changing a lecture's training, the
engine's numerics or a corpus; captions and claims' wording can change without it. Nothing here
imports Qt.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

from bpttviz.engine.training.claims import check
from bpttviz.engine.training.config import Config
from bpttviz.engine.training.presets import list_presets, load_preset
from bpttviz.engine.training.scenario import ScenarioRun, parse_scenario
from bpttviz.engine.training.session_io import save_session
from bpttviz.engine.training.snapshots import (
    Entry,
    Shelf,
    claim_content,
    default_folder,
    probe,
    stop_content,
    write_index,
)


def snapshot_lecture(name: str, folder: Path, min_seconds: float, log=print, cfg: Config | None = None) -> list[Entry]:
    """Play ``name``'s scenario (``cfg``: its configuration, default the preset's) and write the
    snapshots of its long stops to ``folder``; returns their index entries."""
    cfg = cfg or load_preset(name)
    stops = parse_scenario(cfg, name)
    run = ScenarioRun(cfg)
    run.keep_last = True
    entries = []
    for i, stop in enumerate(stops, start=1):
        run.before_last = None
        before = run.first.iteration
        t0 = time.perf_counter()
        run.enter(stop)
        seconds = time.perf_counter() - t0
        trained = run.first.iteration - before
        keep = (stop_content(stop) is not None and stop.train and run.narration is None and run.before_last
                and run.first.blowup is None and seconds >= min_seconds
                and run.before_last[0].iteration == run.first.iteration - 1
                and (run.second is None or run.before_last[1] is not None))
        log(f"{name} stop {i}: {trained:,} iterations in {seconds:.1f} s{' -> snapshot' if keep else ''}")
        if not keep:
            continue
        first_state, second_state = run.before_last
        stem = f"{name}.stop-{i}"
        save_session(first_state, folder / f"{stem}.npz", reproducible=True)
        second = None
        if run.second is not None:
            second = f"{stem}.second.npz"
            save_session(second_state, folder / second, reproducible=True)
        probes = {"first": probe(run.first.cfg)}
        if run.second is not None:
            probes["second"] = probe(run.second.cfg)
        entries.append(Entry(key=run.chain, scenario=name, stop=i, first=f"{stem}.npz", second=second,
                             changes=dict(run.changes) if run.changes is not None and run.second is not None else None,
                             trained=run.trained, iteration=run.first.iteration,
                             claims=tuple(claim_content(c) for c in stop.claims) if stop.until else (),
                             probe=probes))
    return entries


def verify(name: str, entries: list[Entry], folder: Path, cfg: Config | None = None) -> None:
    """Play the scenario again with the new shelf: every kept stop installs from it and matches
    the live run's parameters bit for bit and its claims' values."""
    cfg = cfg or load_preset(name)
    stops = parse_scenario(cfg, name)
    live = ScenarioRun(cfg)
    shelf = Shelf(folder)
    kept = {e.stop for e in entries}
    shipped = ScenarioRun(cfg, shelf=shelf)
    for i, stop in enumerate(stops, start=1):
        live.enter(stop)
        shipped.enter(stop)
        if i in kept and not shipped.shipped_stop:
            raise SystemExit(f"{name} stop {i}: the new snapshot was not used ({'; '.join(shelf.problems)})")
        for a, b in ((live.first, shipped.first), (live.second, shipped.second)):
            if (a is None) != (b is None):
                raise SystemExit(f"{name} stop {i}: the comparison differs")
            if a is None:
                continue
            if a.iteration != b.iteration or any(not np.array_equal(a.model.params[k], b.model.params[k])
                                                 for k in a.model.params):
                raise SystemExit(f"{name} stop {i}: the installed snapshot differs from the live run")
        v1 = [v.value for v in check(stop.claims, live.first, live.second)]
        v2 = [v.value for v in check(stop.claims, shipped.first, shipped.second)]
        if not np.array_equal(np.array(v1, dtype=float), np.array(v2, dtype=float), equal_nan=True):
            raise SystemExit(f"{name} stop {i}: claims measure {v2} on the snapshot, {v1} live")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--min-seconds", type=float, default=0.3,
                    help="keep stops that take at least this long to compute (default 0.3)")
    ap.add_argument("--lectures", default="", help="comma-separated name prefixes (default: every lecture)")
    ap.add_argument("--folder", default=None, help="where to write (default: the package's assets/snapshots)")
    a = ap.parse_args(argv)
    folder = Path(a.folder) if a.folder else default_folder()
    if folder is None:
        print("make_snapshots: no assets/snapshots folder; pass --folder", file=sys.stderr)
        return 2
    folder.mkdir(parents=True, exist_ok=True)
    names = [n for n in list_presets() if n.startswith("lecture-")]
    chosen = [n for n in names if not a.lectures or any(n.startswith(p) for p in a.lectures.split(","))]
    old = Shelf(folder).entries.values()
    entries = [e for e in old if e.scenario not in chosen and e.scenario in names]
    for name in chosen:
        for f in folder.glob(f"{name}.stop-*.npz"):
            f.unlink()
        mine = snapshot_lecture(name, folder, a.min_seconds)
        entries += mine
        write_index(folder, entries)
        verify(name, mine, folder)
    size = sum(f.stat().st_size for f in folder.iterdir() if f.is_file())
    print(f"{len(entries)} snapshots, {size / 1024:.0f} KiB in {folder}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
