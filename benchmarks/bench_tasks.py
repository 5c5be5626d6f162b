"""Long training runs: the sanity bars of the presets, printed as one table.

    python benchmarks/bench_tasks.py [--quick]

- the LSTM solves the adding problem at a lag where the vanilla RNN stays at the baseline;
- the digits MLP reaches at least 90% test accuracy;
- the names model's samples look like names (share of sampled words that are real names, and
  the mean sampled length next to the corpus's).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run from a checkout, too

from bpttviz.engine.data import load_names  # noqa: E402
from bpttviz.engine.training.session import Session  # noqa: E402

RUNS = [  # preset, iterations (full), iterations (quick)
    ("adding-rnn", 2500, 600),
    ("adding-lstm", 2500, 600),
    ("parity-rnn", 1000, 300),
    ("sine-rnn", 1500, 300),
    ("xor-mlp", 300, 100),
    ("spirals-mlp", 3000, 500),
    ("digits-mlp", 1500, 300),
    ("min-char-rnn", 20000, 3000),
    ("names-lstm", 3000, 600),
    ("word-lm", 3000, 600),
]


def names_quality(session: Session, n_chars: int = 3000) -> str:
    known = set(load_names())
    text = session.sample(n=n_chars, temperature=0.8)
    words = [w for w in text.split("\n")[1:-1] if w]
    if not words:
        return "no names sampled"
    real = np.mean([w in known for w in words])
    mean_len = np.mean([len(w) for w in words])
    corpus_len = np.mean([len(w) for w in known])
    return (f"{len(words)} sampled names, {real:.0%} are real names, mean length {mean_len:.1f} "
            f"(corpus {corpus_len:.1f}); e.g. {', '.join(words[:8])}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="fewer iterations")
    ap.add_argument("--only", nargs="*", help="preset names to run")
    args = ap.parse_args()
    rows = []
    notes = []
    for name, full, quick in RUNS:
        if args.only and name not in args.only:
            continue
        n = quick if args.quick else full
        s = Session.from_preset(name)
        t0 = time.perf_counter()
        s.train(n)
        sec = time.perf_counter() - t0
        _, loss = s.history["loss"].data()
        k = max(1, len(loss) // 20)
        base = s.task.baseline
        rows.append((name, s.iteration, loss[:k].mean(), loss[-k:].mean(), s.task.metric_name, s.metric(),
                     base, sec))
        if name in ("min-char-rnn", "names-lstm"):
            notes.append(f"{name}: {names_quality(s)}")
        if name == "word-lm":
            notes.append(f"word-lm sample: {s.sample(n=30, temperature=0.8)}")
        print(f"  done {name} in {sec:.1f} s", flush=True)
    print()
    print(f"{'preset':14s} {'iters':>6s} {'loss first':>11s} {'loss last':>10s}  {'metric':28s} {'value':>8s} "
          f"{'baseline':>9s} {'seconds':>8s}")
    for name, it, l0, l1, mname, m, base, sec in rows:
        b = f"{base:9.4f}" if base is not None else f"{'-':>9s}"
        print(f"{name:14s} {it:6d} {l0:11.4f} {l1:10.4f}  {mname:28s} {m:8.4f} {b} {sec:8.1f}")
    print()
    for n in notes:
        print(n)


if __name__ == "__main__":
    main()
