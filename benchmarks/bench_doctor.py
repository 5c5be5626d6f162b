"""How long the gradient doctor takes on 100-unit language models, correct and with a bug.

    PYTHONPATH=. python benchmarks/bench_doctor.py

For ``examples/rnn_lm.py`` and ``examples/lstm_lm.py`` (H=100, 25 steps) and a copy of each with
the gradient from the future dropped, prints the seconds of ``engine.gradients.doctor.check`` in this
process, the time of one call of the user's function (the peer: every numerical entry costs two
calls), the ratio, the entries checked per parameter and what the check concluded. The target is
a check within 10 s on a 100-unit model, buggy or not; the time is shared between the full-length
check and the re-checks of shorter sequences by ``engine.gradients.doctor.BUDGET``.
"""

from __future__ import annotations

import statistics
import sys
import time
import types
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bpttviz.engine.gradients.doctor import BUDGET, check  # noqa: E402

BUGS = {  # the classic dropped dh_next, as text replacements in the examples' backward passes
    "rnn_lm": ("dh = Why.T @ dy + dhnext", "dh = Why.T @ dy"),
    "lstm_lm": ("dh = params[\"Wy\"].T @ dy + dh_next", "dh = params[\"Wy\"].T @ dy"),
}


def load(name: str, bug: bool) -> types.ModuleType:
    source = (ROOT / "examples" / f"{name}.py").read_text(encoding="utf-8")
    if bug:
        old, new = BUGS[name]
        assert old in source, old
        source = source.replace(old, new)
    module = types.ModuleType(f"{name}_{'bug' if bug else 'ok'}")
    exec(compile(source, f"{name}.py", "exec"), module.__dict__)
    return module


def main() -> None:
    print(f"engine.gradients.doctor.BUDGET = {BUDGET:g} s")
    print(f"{'model':<16} {'check s':>8} {'call ms':>8} {'calls-worth':>12} {'entries/param':>14}  result")
    for name in ("rnn_lm", "lstm_lm"):
        for bug in (False, True):
            m = load(name, bug)
            params, x, y = m.example()
            calls = []
            for _ in range(5):
                t0 = time.perf_counter()
                m.loss_and_grads(params, x, y)
                calls.append(time.perf_counter() - t0)
            call = statistics.median(calls)
            t0 = time.perf_counter()
            r = check(m.loss_and_grads, params, x, y, seq_axis=m.SEQ_AXIS)
            dt = time.perf_counter() - t0
            entries = sorted({pc.checked for pc in r.params.values()})
            what = "correct" if r.ok else f"WRONG, first bad length {r.first_bad_length}"
            label = name + (" (bug)" if bug else "")
            print(f"{label:<16} {dt:8.2f} {call * 1e3:8.1f} {dt / call:12.0f} {str(entries):>14}  {what}")


if __name__ == "__main__":
    main()
