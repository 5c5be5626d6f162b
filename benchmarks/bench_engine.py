"""The engine benchmark: one table of milliseconds per iteration, next to the hand-written classic
and PyTorch (when installed).

    python benchmarks/bench_engine.py [--quick] [--default-threads] [--wall]

Rows: the classic character model (vanilla tanh RNN, B=1, T=25, H=100, vocabulary 65, token-id
inputs, softmax cross-entropy, "mean" reduction) and larger ones (H=256 and H=512 at B=1, B=32 at
H=100), the same for LSTM and GRU, an MLP, and training with the gradient-flow diagnostics on vs off.

The classic size also runs ``classic_min_char_rnn`` below: the structure people write by hand for
this model (a one-hot column vector per step, ``np.dot`` per step, dicts of states, the gradients
clipped to [-5, 5] at the end), written for this benchmark from that description and checked
against ``loss_and_grads`` before timing.

Columns:
- ``ours``: ms per ``model.loss_and_grads`` (forward + backward + all gradients);
- ``classic``: ms per call of the hand-written structure and ``x`` = classic / ours;
- ``narrated``: ms per ``list(model.steps(...))`` (every step record) and its overhead over ``ours``;
- ``read``: the same, then every field of every record read once (the per-timestep records build
  their fields on first access; the per-step gradient contributions stay unevaluated, as they
  are until someone asks for one: an ``(H, G)`` outer product each), overhead over ``ours``;
- ``torch64``: PyTorch CPU doing the same forward+backward (``nn.RNN``/``nn.LSTM``/``nn.GRU`` +
  ``nn.Linear`` + ``cross_entropy``) in float64, the engine's precision, on one-hot inputs built
  once outside the timing; ``x`` = torch64 / ours (above 1: we are faster). ``torch32``: the same
  in PyTorch's default float32, for reference.

Threads: both sides single-threaded by default (``torch.set_num_threads(1)``, and the BLAS/OpenMP
thread variables set to 1 before NumPy loads, unless already set): the same work on the same core,
and far steadier on a small shared machine. ``--default-threads`` leaves both at their defaults
(PyTorch and OpenBLAS then use every core; our B=1 products are too small for BLAS to split).

Timing: for every row the contenders take turns in blocks of about 10 ms (so a noisy moment hits
all of them alike; each block starts with an untimed call), in rounds of about ``budget`` seconds
each; a row reports the best round per contender and
the *median over rounds* of the per-round ratio. The clock is the thread's CPU time by default: on a
shared machine the wall clock also counts the time other processes hold the core, which lands on
whichever contender happens to run; ``--wall`` uses the wall clock instead. Everything timed runs
on the calling thread (PyTorch is set to one thread), so CPU time counts all of its work.

Targets, each printed as met/MISSED: at the classic size >= 3x the hand-written classic, >= 3x
PyTorch float64, narration <= +10%; never slower than PyTorch up to H=512 at B=1; narration <= +30%
on every row; diagnostics on cost <= 25% of training throughput.
"""

from __future__ import annotations

import os
import sys

DEFAULT_THREADS = "--default-threads" in sys.argv
if not DEFAULT_THREADS:
    for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ.setdefault(_var, "1")  # must happen before NumPy is imported

import argparse  # noqa: E402
import platform  # noqa: E402
import statistics  # noqa: E402
import time  # noqa: E402
from collections.abc import Callable  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run from a checkout, too

from bpttviz import engine  # noqa: E402
from bpttviz.engine.gradients.diagnostics import Diagnostics  # noqa: E402
from bpttviz.engine.nn.optim import Clipper, apply_update, make_optimizer  # noqa: E402

try:  # optional: never a runtime dependency
    import torch
except ImportError:  # pragma: no cover - depends on the machine
    torch = None

V, T = 65, 25
CLASSIC = ("rnn", 1, 100)  # kind, B, H of the classic character model
MODELS = {"rnn": engine.RNN, "lstm": engine.LSTM, "gru": engine.GRU}
ROWS = [  # kind, B, H
    ("rnn", 1, 100), ("rnn", 1, 256), ("rnn", 1, 512), ("rnn", 32, 100),
    ("lstm", 1, 100), ("lstm", 1, 512), ("lstm", 32, 100),
    ("gru", 1, 100), ("gru", 1, 512), ("gru", 32, 100),
]


CLOCK = time.perf_counter if "--wall" in sys.argv else time.thread_time


def per_call_ms(fn: Callable[[], object], n: int) -> float:
    t0 = CLOCK()
    for _ in range(n):
        fn()
    return (CLOCK() - t0) / n * 1e3


def classic_min_char_rnn(inputs: list[int], targets: list[int], hprev: np.ndarray, Wxh: np.ndarray,
                         Whh: np.ndarray, Why: np.ndarray, bh: np.ndarray, by: np.ndarray):
    """The hand-written structure: column vectors, weights ``Wxh (H, V)``, ``Whh (H, H)``,
    ``Why (V, H)``, biases ``(H, 1)``, ``(V, 1)``, state ``hprev (H, 1)``. Returns the summed loss,
    the five gradients (clipped to [-5, 5]) and the last state."""
    V = Wxh.shape[1]
    xs, hs, ps = {}, {}, {}
    hs[-1] = np.copy(hprev)
    loss = 0.0
    for t in range(len(inputs)):  # forward: one one-hot column and three products per step
        xs[t] = np.zeros((V, 1))
        xs[t][inputs[t]] = 1.0
        hs[t] = np.tanh(np.dot(Wxh, xs[t]) + np.dot(Whh, hs[t - 1]) + bh)
        y = np.dot(Why, hs[t]) + by
        ps[t] = np.exp(y) / np.sum(np.exp(y))
        loss += -np.log(ps[t][targets[t], 0])
    dWxh, dWhh, dWhy = np.zeros_like(Wxh), np.zeros_like(Whh), np.zeros_like(Why)
    dbh, dby = np.zeros_like(bh), np.zeros_like(by)
    dh_next = np.zeros_like(hprev)
    for t in reversed(range(len(inputs))):  # backward: the same per step, gradients summed
        dy = np.copy(ps[t])
        dy[targets[t]] -= 1.0
        dWhy += np.dot(dy, hs[t].T)
        dby += dy
        dh = np.dot(Why.T, dy) + dh_next
        dz = (1.0 - hs[t] * hs[t]) * dh
        dbh += dz
        dWxh += np.dot(dz, xs[t].T)
        dWhh += np.dot(dz, hs[t - 1].T)
        dh_next = np.dot(Whh.T, dz)
    for d in (dWxh, dWhh, dWhy, dbh, dby):
        np.clip(d, -5.0, 5.0, out=d)
    return loss, dWxh, dWhh, dWhy, dbh, dby, hs[len(inputs) - 1]


def classic_step(model, x: np.ndarray, y: np.ndarray) -> Callable[[], object]:
    """The classic structure on the model's own weights (transposed to column form), after checking
    that it computes what ``loss_and_grads`` computes (same loss, same gradients)."""
    p = model.params
    col = (p["W_xh"].T.copy(), p["W_hh"].T.copy(), p["W_hy"].T.copy(), p["b_h"][:, None].copy(),
           p["b_y"][:, None].copy())
    args = (x[0].tolist(), y[0].tolist(), np.zeros((model.hidden_size, 1))) + col
    ref = classic_min_char_rnn(*args)
    loss, grads = model.loss_and_grads(x, y)
    ours = [grads[n].T.reshape(r.shape) for n, r in zip(("W_xh", "W_hh", "W_hy", "b_h", "b_y"), ref[1:6])]
    ours = [np.clip(g, -5.0, 5.0) for g in ours]
    if not (np.isclose(ref[0], loss, rtol=1e-10) and all(np.allclose(a, b, rtol=1e-8, atol=1e-12)
                                                         for a, b in zip(ref[1:6], ours))):
        raise SystemExit("the classic reference disagrees with loss_and_grads: the comparison would be void")
    return lambda: classic_min_char_rnn(*args)


def interleaved(contenders: dict[str, Callable[[], object]], rounds: int, budget_s: float,
                block_s: float = 0.01) -> dict[str, list[float]]:
    """ms per call of each contender, one entry per round. Within a round the contenders take
    turns in blocks of about ``block_s`` seconds (each block starts with one untimed call, so no
    contender pays for the caches another one left), so whatever else the machine does meanwhile
    (other processes, a busy sibling core) falls on all of them alike."""
    per = {k: max(per_call_ms(f, 3) / 1e3, 1e-6) for k, f in contenders.items()}
    block = {k: max(2, int(block_s / t)) for k, t in per.items()}
    turns = max(1, int(budget_s / block_s))  # ~budget_s of each contender per round
    out: dict[str, list[float]] = {k: [] for k in contenders}
    for _ in range(rounds):
        spent, calls = dict.fromkeys(contenders, 0.0), dict.fromkeys(contenders, 0)
        for _ in range(turns):
            for k, f in contenders.items():
                f()  # warm: this contender's arrays back in the caches
                t0 = CLOCK()
                for _ in range(block[k]):
                    f()
                spent[k] += CLOCK() - t0
                calls[k] += block[k]
        for k in contenders:
            out[k].append(spent[k] / calls[k] * 1e3)
    return out


def read_every_field(steps) -> list:
    """Consume a narrated iteration and read every field of every record once."""
    recs = list(steps)
    for r in recs:
        for name in getattr(r, "FIELDS", ()):
            getattr(r, name)
    return recs


def torch_step(kind: str, B: int, H: int, x: np.ndarray, y: np.ndarray, dtype) -> Callable[[], None]:
    cls = {"rnn": torch.nn.RNN, "lstm": torch.nn.LSTM, "gru": torch.nn.GRU}[kind]
    net = cls(V, H, batch_first=True).to(dtype)
    lin = torch.nn.Linear(H, V).to(dtype)
    onehot = torch.nn.functional.one_hot(torch.from_numpy(x), V).to(dtype)
    tgt = torch.from_numpy(y).reshape(-1)
    params = list(net.parameters()) + list(lin.parameters())

    def step() -> None:
        for p in params:
            p.grad = None
        out, _ = net(onehot)
        loss = torch.nn.functional.cross_entropy(lin(out).reshape(-1, V), tgt, reduction="sum") / B
        loss.backward()

    return step


def model_rows(rounds: int, budget_s: float, rows) -> list[dict]:
    results = []
    for kind, B, H in rows:
        rng = np.random.default_rng(0)
        x, y = rng.integers(0, V, (B, T)), rng.integers(0, V, (B, T))
        model = MODELS[kind](V, H, V, seed=0)
        c = {"ours": lambda m=model, x=x, y=y: m.loss_and_grads(x, y),
             "narrated": lambda m=model, x=x, y=y: list(m.steps(x, y)),
             "read": lambda m=model, x=x, y=y: read_every_field(m.steps(x, y))}
        if (kind, B, H) == CLASSIC:
            c["classic"] = classic_step(model, x, y)
        if torch is not None:
            c["torch64"] = torch_step(kind, B, H, x, y, torch.float64)
            c["torch32"] = torch_step(kind, B, H, x, y, torch.float32)
        ms = interleaved(c, rounds, budget_s)
        row = {"kind": kind, "B": B, "H": H, **{k: min(v) for k, v in ms.items()},
               "overhead": statistics.median(n / o - 1 for n, o in zip(ms["narrated"], ms["ours"])),
               "read_overhead": statistics.median(n / o - 1 for n, o in zip(ms["read"], ms["ours"]))}
        if "classic" in ms:
            row["xc"] = statistics.median(t / o for t, o in zip(ms["classic"], ms["ours"]))
        if torch is not None:
            row["x64"] = statistics.median(t / o for t, o in zip(ms["torch64"], ms["ours"]))
            row["x32"] = statistics.median(t / o for t, o in zip(ms["torch32"], ms["ours"]))
        results.append(row)
        print(f"  measured {kind} B={B} H={H}", file=sys.stderr, flush=True)
    return results


def training_row(kind: str, rounds: int, iterations: int) -> dict:
    """Throughput of a plain training loop (loss_and_grads, clip by value 5, Adagrad 0.1: the
    classic character model) with and without ``Diagnostics`` (default budget throttle)."""
    rng = np.random.default_rng(1)
    batches = [(rng.integers(0, V, (1, T)), rng.integers(0, V, (1, T))) for _ in range(64)]

    def run(diag_on: bool) -> tuple[float, int, float]:
        model = MODELS[kind](V, 100, V, seed=0, init="small")
        opt, clip = make_optimizer("adagrad", 0.1), Clipper("value", 5.0)
        diag = Diagnostics() if diag_on else None
        passes, pass_s = 0, 0.0
        t0 = CLOCK()
        for i in range(iterations):
            xb, yb = batches[i % len(batches)]
            _, grads = model.loss_and_grads(xb, yb)
            up = apply_update(model.params, grads, opt, clip, i)
            if diag is not None:
                snap = diag.step(i, model, xb, yb, update=up)
                if snap is not None:
                    passes += 1
                    pass_s += snap.seconds
        elapsed = CLOCK() - t0
        return iterations / elapsed, passes, (pass_s / passes * 1e3 if passes else 0.0)

    run(False)
    run(True)
    off, on, npass, pass_ms = [], [], [], []
    for _ in range(rounds):
        off.append(run(False)[0])
        r = run(True)
        on.append(r[0])
        npass.append(r[1])
        pass_ms.append(r[2])
    return {"kind": kind, "off": max(off), "on": max(on),
            "drop": statistics.median(1 - a / b for a, b in zip(on, off)),
            "passes": statistics.median(npass), "pass_ms": statistics.median(pass_ms), "iterations": iterations}


def mlp_row(rounds: int, budget_s: float) -> dict:
    """An MLP of the digits size ([64, 32, 10], tanh, softmax, B=32): ours and narrated only."""
    rng = np.random.default_rng(2)
    x, y = rng.standard_normal((32, 64)), rng.integers(0, 10, 32)
    model = engine.MLP([64, 32, 10], seed=0)
    ms = interleaved({"ours": lambda: model.loss_and_grads(x, y),
                      "narrated": lambda: list(model.steps(x, y)),
                      "read": lambda: read_every_field(model.steps(x, y))}, rounds, budget_s)
    return {"ours": min(ms["ours"]), "narrated": min(ms["narrated"]), "read": min(ms["read"]),
            "overhead": statistics.median(n / o - 1 for n, o in zip(ms["narrated"], ms["ours"])),
            "read_overhead": statistics.median(n / o - 1 for n, o in zip(ms["read"], ms["ours"]))}


def verdict(ok: bool) -> str:
    return "met" if ok else "MISSED"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="fewer rounds (noisier)")
    ap.add_argument("--classic-only", action="store_true", help="only the classic-size row (and its targets)")
    ap.add_argument("--default-threads", action="store_true",
                    help="leave PyTorch and BLAS at their default thread counts (default: 1 thread each)")
    ap.add_argument("--wall", action="store_true", help="time with the wall clock instead of the thread's CPU time")
    args = ap.parse_args()
    if torch is not None and not args.default_threads:
        torch.set_num_threads(1)
    rounds, budget_s, train_iters = (5, 0.1, 600) if args.quick else (11, 0.2, 2000)

    rows = model_rows(rounds, budget_s, [CLASSIC] if args.classic_only else ROWS)
    mlp = None if args.classic_only else mlp_row(rounds, budget_s)
    train = [] if args.classic_only else [training_row(k, max(3, rounds // 2), train_iters) for k in ("rnn", "lstm")]

    blas = os.environ.get("OPENBLAS_NUM_THREADS", "default")  # what NumPy's OpenBLAS was given
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"\nbpttviz engine benchmark  (Python {platform.python_version()}, NumPy {np.__version__} with "
          f"BLAS threads={blas}, {os.cpu_count()} CPUs, load average {load:.2f}; "
          + (f"PyTorch {torch.__version__} with {torch.get_num_threads()} thread(s))" if torch else
             "PyTorch not installed: no PyTorch comparison)"))
    print(f"T={T}, vocabulary {V}, token-id inputs, cross-entropy, reduction 'mean'; best of {rounds} "
          f"interleaved rounds ({'wall clock' if args.wall else 'thread CPU time'}), ratios are medians over rounds")
    head = (f"{'model':<6}{'B':>4}{'H':>5} | {'ours ms':>8} | {'narrated ms':>11} {'(+%)':>6} {'read':>6} | "
            f"{'classic ms':>10} {'x':>5} |")
    if torch:
        head += f" {'torch64 ms':>10} {'x':>6} | {'torch32 ms':>10} {'x':>6} |"
    print(head)
    print("-" * len(head))
    for r in rows:
        line = (f"{r['kind']:<6}{r['B']:>4}{r['H']:>5} | {r['ours']:8.3f} | {r['narrated']:11.3f} "
                f"{100 * r['overhead']:+5.0f}% {100 * r['read_overhead']:+5.0f}% | ")
        line += f"{r['classic']:10.3f} {r['xc']:5.2f} |" if "xc" in r else f"{'':10} {'':5} |"
        if torch:
            line += f" {r['torch64']:10.3f} {r['x64']:6.2f} | {r['torch32']:10.3f} {r['x32']:6.2f} |"
        print(line)
    if mlp is not None:
        print(f"{'mlp':<6}{32:>4}{'':>5} | {mlp['ours']:8.3f} | {mlp['narrated']:11.3f} "
              f"{100 * mlp['overhead']:+5.0f}% {100 * mlp['read_overhead']:+5.0f}% |   (MLP [64, 32, 10], B=32)")

    classic = rows[0]
    targets = [("classic size: loss_and_grads vs the hand-written classic", f"{classic['xc']:.2f}x", ">= 3x",
                classic["xc"] >= 3.0),
               ("classic size: narration overhead (steps())", f"{100 * classic['overhead']:+.1f}%", "<= +10%",
                classic["overhead"] <= 0.10)]
    if torch is not None:
        targets.insert(1, ("classic size: loss_and_grads vs PyTorch float64", f"{classic['x64']:.2f}x", ">= 3x",
                           classic["x64"] >= 3.0))
        for r in rows[1:]:
            if r["kind"] == "rnn" and r["B"] == 1:
                targets.append((f"rnn B=1 H={r['H']}: vs PyTorch float64", f"{r['x64']:.2f}x", ">= 1x",
                                r["x64"] >= 1.0))
    else:
        targets.insert(1, ("classic size: loss_and_grads vs PyTorch float64", "skipped", ">= 3x", None))
    if len(rows) > 1:
        worst = max(rows, key=lambda r: r["overhead"])
        targets.append((f"narration overhead, worst row ({worst['kind']} B={worst['B']} H={worst['H']})",
                        f"{100 * worst['overhead']:+.1f}%", "<= +30%", worst["overhead"] <= 0.30))
    for t in train:
        targets.append((f"training throughput drop with Diagnostics() ({t['kind']})", f"{100 * t['drop']:.1f}%",
                        "<= 25%", t["drop"] <= 0.25))
    print()
    w = max(len(t[0]) for t in targets)
    print(f"{'target':<{w}} | {'measured':>9} | {'want':>8} | verdict")
    print("-" * (w + 33))
    for name, got, want, ok in targets:
        print(f"{name:<{w}} | {got:>9} | {want:>8} | {'skipped (no PyTorch)' if ok is None else verdict(ok)}")
    if train:
        print()
        print(f"{'training (B=1, H=100, Adagrad)':<32} | {'off it/s':>9} | {'on it/s':>9} | {'drop':>6} | "
              f"{'passes':>6} | {'ms/pass':>7}")
        for t in train:
            print(f"{t['kind'] + ' + Diagnostics()':<32} | {t['off']:9.0f} | {t['on']:9.0f} | "
                  f"{100 * t['drop']:5.1f}% | "
                  f"{t['passes']:6.0f} | {t['pass_ms']:7.2f}")
        print(f"(passes: diagnostics passes in {train[0]['iterations']} iterations under the default budget "
              f"throttle; ms/pass: one full pass)")


if __name__ == "__main__":
    main()
