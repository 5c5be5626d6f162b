"""What a what-if change costs: the data of one redraw, and the attribution against a backward pass.

    python benchmarks/bench_whatif.py [--quick]

At the classic size (vanilla tanh RNN, H=100, vocabulary 65, T=25, B=1, token ids, "sum"
reduction; the same for LSTM and GRU), for a model trained a little so the numbers are typical:

- ``redraw``: ms for one what-if change end to end: build the changed model (``what_if``: scale
  the recurrent weights to a new sigma_max; LSTM: the forget bias too) and compute everything the
  views redraw (``what_if_frame``: attribution matrix, decay curve and its bound, delta norms,
  connectivity of the last output step, sigma_max). Target: <= 50 ms.
- ``app``: ms for the same change as the app's presenters compute it for one narrated iteration
  (``bpttviz.presenters.attribution``: the matrix frame, the what-if panel's curves against the
  trained ones, the connectivity shading of the last output); pure Python, no drawing. Target:
  <= 50 ms.
- ``attribution`` / ``loss_and_grads``: ms per ``attribution(...)`` (forward + the stacked
  backward over all sources) and per ``model.loss_and_grads`` (forward + backward + gradients),
  and their ratio. Target: the attribution costs no more than about one extra backward pass,
  i.e. ratio <= 2 (a whole ``loss_and_grads`` is more than one backward pass).
- the same with truncation k = 4 (a stack of at most 4 sources).

Both contenders run in interleaved rounds on one thread; a row reports the best round of each and
the median per-round ratio.
"""

from __future__ import annotations

import os
import sys

for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")  # before NumPy loads: the same single core for every contender

import argparse  # noqa: E402
import statistics  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run from a checkout, too

from bpttviz.engine.gradients import attribution as at  # noqa: E402
from bpttviz.engine.training.session import Session  # noqa: E402
from bpttviz.presenters.attribution import AttributionPresenter, WhatIfSettings  # noqa: E402

REDRAW_TARGET_MS = 50.0
RATIO_TARGET = 2.0


def classic(kind: str) -> Session:
    s = Session.from_preset("min-char-rnn", model=kind, reduction="sum")
    s.train(50)  # typical weights, not the initial ones
    return s


def best_of(fns: dict, rounds: int, reps: int) -> dict[str, list[float]]:
    """ms per call of each function, ``rounds`` interleaved rounds of ``reps`` calls."""
    times: dict[str, list[float]] = {name: [] for name in fns}
    for _ in range(rounds):
        for name, fn in fns.items():
            t0 = time.perf_counter()
            for _ in range(reps):
                fn()
            times[name].append(1e3 * (time.perf_counter() - t0) / reps)
    return times


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="fewer rounds (a rough figure)")
    args = ap.parse_args()
    rounds, reps = (5, 5) if args.quick else (15, 10)
    print(f"what-if redraw and attribution cost, classic size (H=100, V=65, T=25, B=1); "
          f"{rounds} rounds x {reps} calls, best round")
    header = (f"{'model':<6}{'k':>4}{'redraw ms':>11}{'app ms':>8}{'<=50ms':>8}{'attrib ms':>11}{'l&g ms':>9}"
              f"{'ratio':>8}{'<=2':>7}")
    print(header)
    print("-" * len(header))
    for kind in ("rnn", "lstm", "gru"):
        s = classic(kind)
        for k in (None, 4):
            print(row(s, kind, k, rounds, reps))


def row(s: Session, kind: str, k: int | None, rounds: int, reps: int) -> str:
    """One table row: session ``s``'s model and last batch, truncation ``k``."""
    x, y = s.last_batch
    m = s.model
    opts = {**s.options(), "truncation": k}
    change = {"sigma": 1.1 * at.recurrent_sigma(m)}
    if kind == "lstm":
        change["forget_bias"] = 2.0

    def redraw():
        return at.what_if_frame(at.what_if(m, **change), x, y, **opts)

    trace = s.narrated_step()  # the iteration the app would show (its weights, before the update)
    presenter = AttributionPresenter()
    presenter.trained(trace, s.model)
    flip = [0]

    def app():
        flip[0] ^= 1  # a new setting every call: nothing comes from the cache but the trained curves
        settings = WhatIfSettings(sigma=change["sigma"] * (1.0 + 0.01 * flip[0]), forget_bias=change.get("forget_bias"),
                                  truncation="trained" if k is None else k)
        presenter.frame(trace, len(trace) - 1, s.model, settings=settings)
        presenter.whatif_frame(trace, s.model, settings)
        presenter.connectivity(trace, s.model, trace.loss_step.per_step.size - 1, settings)

    fns = {"redraw": redraw, "app": app,
           "attrib": lambda: at.attribution(m, x, y, **opts),
           "lg": lambda: m.loss_and_grads(x, y, **opts)}
    times = best_of(fns, rounds, reps)
    red, ap, att, lg = (min(times[n]) for n in ("redraw", "app", "attrib", "lg"))
    ratio = statistics.median(a / b for a, b in zip(times["attrib"], times["lg"]))
    return (f"{kind:<6}{'-' if k is None else k:>4}{red:>11.2f}{ap:>8.2f}"
            f"{'met' if max(red, ap) <= REDRAW_TARGET_MS else 'MISSED':>8}{att:>11.2f}{lg:>9.2f}"
            f"{ratio:>8.2f}{'met' if ratio <= RATIO_TARGET else 'MISSED':>7}")

if __name__ == "__main__":
    main()
