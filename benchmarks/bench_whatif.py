"""What the attribution costs against a backward pass, and how fast a what-if redraws.

    python benchmarks/bench_whatif.py [--quick] [--no-window | --window-only] [--sizes 1920x1080,1366x768]
        [--kinds rnn,lstm,gru] [--costs] [--wall]

At the classic size (vanilla tanh RNN, H=100, vocabulary 65, T=25, B=1, token ids, "sum"
reduction; the same for LSTM and GRU), for a model trained 50 iterations so the numbers are
typical, on one BLAS thread. Times are CPU time of this process (``time.process_time``: what the
work costs, not how long other programs on a shared machine kept it waiting; on an idle machine
the two agree, the work being single-threaded); ``--wall`` uses the wall clock instead. Every
contender runs in interleaved rounds; a time is the best round, a ratio the median of the
per-round ratios.

**Cost of the attribution** (table 1). The app narrates an iteration (forward and backward
pass) and then computes its attribution matrix from that iteration's own forward pass
(``Setup.forward``). So the honest question is: does the attribution add more than one backward
pass? Measured side by side:

- ``fwd``: the forward pass (``model.forward``);
- ``l&g``: ``model.loss_and_grads`` (forward, loss, backward through time, parameter gradients);
- ``bwd`` = ``l&g`` - ``fwd`` of the same round: one backward pass (loss, BPTT, gradients);
- ``attrib``: ``attribution(..., forward=setup.forward)`` on a narrated iteration (the whole
  matrix: the h parts, the LSTM's c parts, the W_hh parts, the summed deltas);
- ``attrib/bwd``: target <= 1 ("costs no more than one extra backward pass"), met or MISSED;
- ``+fwd/l&g``: the attribution with its own forward pass against ``loss_and_grads``;
- ``VJPs``: vector-Jacobian products of the sweep per product of a backward pass,
  ``sum_t alive(t) / T`` (13 untruncated at T = 25; about k with a window k). This is the
  floor: the sweep cannot cost less than that many of the backward's products.

**What-if redraw** (tables 2 and 3), target <= 50 ms each:

- ``engine`` (table 2): build the changed model (``what_if``) and everything the views redraw
  (``what_if_frame``: attribution, decay curve and bound, delta norms, connectivity);
- ``presenters``: the app's presenters for one change (attribution frame, what-if panel,
  connectivity shading, the main decay and deltas views' what-if frames), no drawing;
- ``window`` (table 3): in an offscreen main window of each ``--sizes`` (default 1920x1080 and
  1366x768) with the attribution, what-if, decay and deltas views all on screen (side by side)
  and the connectivity shading on: from a what-if change (``WhatIfLab.set_settings``) until every
  view has taken its new data and Qt has processed the repaints. Three iterations are narrated
  in turn (a narration ends a what-if); the first change after each (the WHAT-IF banners
  appear) is counted apart (``first``: the median of the three, ``1st max``: the worst), the
  others give the median, 90th percentile and worst. The target applies to the median, the
  90th percentile and the first change. ``--costs`` adds each view's push and paint per change
  (a change, and the first change). ``--no-window`` skips table 3, ``--window-only`` does only it.

The machine may be shared: run it several times and compare medians; the load average is printed.
"""

from __future__ import annotations

import os
import sys

for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")  # before NumPy loads: the same single core for every contender
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import argparse  # noqa: E402
import statistics  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run from a checkout, too

from bpttviz.engine.gradients import attribution as at  # noqa: E402
from bpttviz.engine.training.session import Session  # noqa: E402
from bpttviz.presenters.attribution import AttributionPresenter, WhatIfSettings  # noqa: E402

CLOCK = time.process_time
REDRAW_TARGET_MS = 50.0
BACKWARD_TARGET = 1.0  # the attribution costs at most this many backward passes
KINDS = ("rnn", "lstm", "gru")


def classic(kind: str) -> Session:
    s = Session.from_preset("min-char-rnn", model=kind, reduction="sum")
    s.train(50)  # typical weights, not the initial ones
    return s


def rounds_of(fns: dict, rounds: int, reps: int) -> dict[str, list[float]]:
    """ms per call of each function, ``rounds`` interleaved rounds of ``reps`` calls."""
    times: dict[str, list[float]] = {name: [] for name in fns}
    for _ in range(rounds):
        for name, fn in fns.items():
            t0 = CLOCK()
            for _ in range(reps):
                fn()
            times[name].append(1e3 * (CLOCK() - t0) / reps)
    return times


def vjps(T: int, k: int | None) -> float:
    """Vector-Jacobian products of the sweep per product of a backward pass (many-to-many)."""
    return sum(min(T - t, k or T) for t in range(T)) / T


# ---------------------------------------------------------------------------- table 1
def cost_row(kind: str, k: int | None, rounds: int, reps: int) -> str:
    s = classic(kind)
    s.set_hyper(truncation=k)
    trace = s.narrated_step()  # the iteration the app shows, with its forward pass
    st = at.trace_setup(trace, s.model)
    m, x, y, h0, opts = st.model, st.inputs, st.targets, st.h0, st.options
    fns = {
        "fwd": lambda: m.forward(x, h0=h0),
        "lg": lambda: m.loss_and_grads(x, y, h0=h0, **opts),
        "attrib": lambda: at.attribution(m, x, y, h0=h0, forward=st.forward, **opts),
        "own": lambda: at.attribution(m, x, y, h0=h0, **opts),
    }
    t = rounds_of(fns, rounds, reps)
    bwd = [a - b for a, b in zip(t["lg"], t["fwd"])]
    ratio = statistics.median(a / b for a, b in zip(t["attrib"], bwd))
    own = statistics.median(a / b for a, b in zip(t["own"], t["lg"]))
    ok = "met" if ratio <= BACKWARD_TARGET else "MISSED"
    return (f"{kind:<6}{'-' if k is None else k:>4}{min(t['fwd']):>8.3f}{min(t['lg']):>8.3f}"
            f"{statistics.median(bwd):>8.3f}{min(t['attrib']):>9.3f}{ratio:>11.2f}{ok:>8}{own:>11.2f}"
            f"{vjps(len(x[0]), k):>7.1f}")


# ---------------------------------------------------------------------------- table 2
def presenter_times(kind: str, k: int | None, rounds: int, reps: int) -> tuple[float, float]:
    s = classic(kind)
    x, y = s.last_batch
    m = s.model
    opts = {**s.options(), "truncation": k}
    change = {"sigma": 1.1 * at.recurrent_sigma(m)}
    if kind == "lstm":
        change["forget_bias"] = 2.0

    def engine():
        return at.what_if_frame(at.what_if(m, **change), x, y, **opts)

    trace = s.narrated_step()
    presenter = AttributionPresenter()
    presenter.trained(trace, s.model)
    flip = [0]
    T = trace.loss_step.per_step.size

    def app():
        flip[0] ^= 1  # a new setting every call: nothing comes from the cache but the trained curves
        settings = WhatIfSettings(sigma=change["sigma"] * (1.0 + 0.01 * flip[0]), forget_bias=change.get("forget_bias"),
                                  truncation="trained" if k is None else k)
        presenter.frame(trace, len(trace) - 1, s.model, settings=settings)
        presenter.whatif_frame(trace, s.model, settings)
        presenter.connectivity(trace, s.model, T - 1, settings)
        presenter.whatif_decay(trace, s.model, settings)
        presenter.whatif_deltas(trace, s.model, settings)

    t = rounds_of({"engine": engine, "app": app}, rounds, reps)
    return min(t["engine"]), min(t["app"])


def window_times(kind: str, k: int | None, changes: int, size: tuple[int, int] = (1920, 1080),
                 narrations: int = 3, costs: dict | None = None) -> dict:
    """Milliseconds from a what-if change to every view redrawn, in an offscreen window of
    ``size``: ``{"median", "p90", "max"}`` of the changes after the first one of a narration,
    and ``"first"`` (the median of the ``narrations`` first changes after a narrated iteration,
    ``"first_max"`` the worst: the banners appear then). ``costs``, when given, receives the
    CPU ms per change of each view's push and paint (the steady changes)."""
    import pyqtgraph as pg
    from PySide6 import QtCore, QtWidgets

    from bpttviz.app import build_window

    s = classic(kind)
    win = build_window(s, size=size)
    win.show()
    app = QtWidgets.QApplication.instance()
    for _ in range(5):  # the window settles its layout first
        app.processEvents()
    c = win.controller
    lab = win.whatif
    for name in ("attribution", "whatif", "decay", "deltas"):  # all on screen at once (some share tabs)
        dock = win.docks[name]
        win.removeDockWidget(dock)
        win.addDockWidget(QtCore.Qt.DockWidgetArea.TopDockWidgetArea, dock, QtCore.Qt.Orientation.Horizontal)
        dock.show()
    win.act["connectivity"].setChecked(True)
    for _ in range(5):
        app.processEvents()
    pushed: dict[str, float] = {}
    painted: dict[str, float] = {}
    if costs is not None:
        for b in c.bindings:
            def timed_push(orig=b.push, name=b.name):
                t = CLOCK()
                orig()
                pushed[name] = pushed.get(name, 0.0) + CLOCK() - t
            b.push = timed_push
        for name, widget in (("attribution view", lab.view), ("what-if panel", lab.panel), ("decay view", win.decay),
                             ("deltas view", win.deltas), ("graph", win.graph)):
            for gv in widget.findChildren(pg.GraphicsView):
                def timed_paint(ev, orig=gv.paintEvent, name=name):
                    t = CLOCK()
                    r = orig(ev)
                    painted[name] = painted.get(name, 0.0) + CLOCK() - t
                    return r
                gv.paintEvent = timed_paint
    views = ("attribution view", "what-if panel", "what-if decay", "what-if deltas", "connectivity shading")
    firsts: list[float] = []
    out: list[float] = []
    per = max(1, changes // narrations)
    for n in range(narrations):
        c.step_iteration()  # narrate an iteration, as the user does with Shift+Right (a what-if ends)
        c.refresh_all()
        for _ in range(5):
            app.processEvents()
        if not all(c.binding(name).on_screen() for name in views):
            raise SystemExit("the what-if views are not all on screen: the window figure would be too low")
        sigma = at.recurrent_sigma(at.trace_setup(c.trace, s.model).model)
        for i in range(per + 1):
            settings = WhatIfSettings(sigma=sigma * (0.8 + 0.4 * ((i + n) % 7) / 6),
                                      forget_bias=2.0 if kind == "lstm" else None,
                                      truncation="trained" if k is None else k)
            if i < 2:
                pushed.clear()
                painted.clear()
            t0 = CLOCK()
            lab.set_settings(settings)
            app.processEvents()
            (out if i else firsts).append(1e3 * (CLOCK() - t0))
            if costs is not None and i == 0:
                for name, v in list(pushed.items()) + [(f"{k} paint", v) for k, v in painted.items()]:
                    costs[f"first: {name}"] = costs.get(f"first: {name}", 0.0) + 1e3 * v / narrations
        if costs is not None:
            for name, v in list(pushed.items()) + [(f"{k} paint", v) for k, v in painted.items()]:
                costs[name] = costs.get(name, 0.0) + 1e3 * v / per / narrations
        assert win.decay.banner.label and win.deltas.banner.label and win.whatif.view.frame.whatif, \
            "the main views did not show the what-if"
    if c.last_error is not None:
        raise SystemExit(f"the window reported an error: {c.last_error}")
    c.stop()
    win.close()
    win.deleteLater()
    return {"median": statistics.median(out), "p90": statistics.quantiles(out, n=10)[-1], "max": max(out),
            "first": statistics.median(firsts), "first_max": max(firsts), "firsts": firsts}


def _load() -> str:
    return ", ".join(f"{v:.2f}" for v in os.getloadavg()) if hasattr(os, "getloadavg") else "n/a"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="fewer rounds (a rough figure)")
    ap.add_argument("--no-window", action="store_true", help="skip the offscreen window's redraw")
    ap.add_argument("--window-only", action="store_true", help="only the window's redraw (table 3)")
    ap.add_argument("--sizes", default="1920x1080,1366x768", help="window sizes, comma separated")
    ap.add_argument("--kinds", default=",".join(KINDS), help="models, comma separated (rnn, lstm, gru)")
    ap.add_argument("--costs", action="store_true", help="with the window: each view's push and paint per change")
    ap.add_argument("--wall", action="store_true", help="wall-clock time instead of CPU time")
    args = ap.parse_args()
    global CLOCK
    if args.wall:
        CLOCK = time.perf_counter
    kinds = [k.strip() for k in args.kinds.split(",") if k.strip()]
    bad = [k for k in kinds if k not in KINDS]
    if bad:
        raise SystemExit(f"--kinds: unknown model {', '.join(bad)}; allowed: {', '.join(KINDS)}")
    try:
        sizes = [tuple(int(v) for v in sz.lower().split("x")) for sz in args.sizes.split(",") if sz.strip()]
        assert all(len(sz) == 2 and min(sz) > 0 for sz in sizes)
    except (ValueError, AssertionError):
        raise SystemExit(f"--sizes: {args.sizes!r} is not a list like 1920x1080,1366x768") from None
    rounds, reps = (5, 5) if args.quick else (15, 10)
    changes = 12 if args.quick else 30
    print(f"classic size (H=100, V=65, T=25, B=1), one BLAS thread; {rounds} rounds x {reps} calls, "
          f"times = best round in ms of {'wall-clock' if args.wall else 'CPU'} time, ratios = median of the rounds; "
          f"load average {_load()}")
    if not args.window_only:
        print("\n1. attribution vs one backward pass (target: attrib/bwd <= 1)")
        head = (f"{'model':<6}{'k':>4}{'fwd':>8}{'l&g':>8}{'bwd':>8}{'attrib':>9}{'attrib/bwd':>11}{'<=1':>8}"
                f"{'+fwd/l&g':>11}{'VJPs':>7}")
        print(head)
        print("-" * len(head))
        for kind in kinds:
            for k in (None, 4):
                print(cost_row(kind, k, rounds, reps))
        print(f"\n2. what-if engine and presenters (target: <= {REDRAW_TARGET_MS:.0f} ms)")
        head = f"{'model':<6}{'k':>4}{'engine':>9}{'presenters':>12}{'<=50':>7}"
        print(head)
        print("-" * len(head))
        for kind in kinds:
            for k in (None, 4):
                eng, pres = presenter_times(kind, k, rounds, reps)
                print(f"{kind:<6}{'-' if k is None else k:>4}{eng:>9.2f}{pres:>12.2f}"
                      f"{'met' if max(eng, pres) <= REDRAW_TARGET_MS else 'MISSED':>7}")
    if args.no_window:
        return
    print(f"\n3. what-if redraw in the window, ms per change (target: median, p90 and first <= "
          f"{REDRAW_TARGET_MS:.0f} ms); {changes} changes after 3 narrated iterations; the first change after "
          f"each narration (the banners appear) counted apart")
    head = f"{'size':<10}{'model':<6}{'k':>4}{'median':>8}{'p90':>7}{'max':>7}{'first':>7}{'1st max':>9}{'<=50':>7}"
    print(head)
    print("-" * len(head))
    for size in sizes:
        for kind in kinds:
            for k in (None, 4):
                costs: dict | None = {} if args.costs else None
                r = window_times(kind, k, changes, size, costs=costs)
                top = max(r["median"], r["p90"], r["first"])
                print(f"{size[0]}x{size[1]:<5}{kind:<6}{'-' if k is None else k:>4}{r['median']:>8.1f}{r['p90']:>7.1f}"
                      f"{r['max']:>7.1f}{r['first']:>7.1f}{r['first_max']:>9.1f}"
                      f"{'met' if top <= REDRAW_TARGET_MS else 'MISSED':>7}", flush=True)
                if costs:
                    for first in (False, True):
                        part = {n.removeprefix("first: "): v for n, v in costs.items()
                                if n.startswith("first: ") == first}
                        print(f"    {'first change' if first else 'a change':<13}" + ", ".join(
                            f"{name} {v:.1f}" for name, v in sorted(part.items(), key=lambda kv: -kv[1]) if v >= 0.05))
    print(f"load average {_load()}")


if __name__ == "__main__":
    main()
