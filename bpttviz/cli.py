"""The command line.

    bpttviz [--preset NAME] [--lecture] [--screenshot PATH [--steps N] [--size WxH]]
    bpttviz --list-presets | --version
    bpttviz train --preset NAME [--iterations N] [--seed S] [--json]
    bpttviz check FILE.py

Iterations are numbered as everywhere in bpttviz (``engine.training.session``): iteration N is the N-th
update, so ``train`` prints "iteration N" after N updates and its JSON ``iterations`` is N.

Headless subcommands (``train``, ``check``, ``--list-presets``) never import Qt. Errors the user
can fix print one line to stderr and exit with code 2, without a traceback.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Sequence

from bpttviz.engine import __version__


class UsageError(Exception):
    """A problem with the user's input: printed as one line, exit code 2."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):  # argparse prints usage and exits 2; keep it one clear line
        raise UsageError(f"{self.prog}: {message}")


def _gui_parser() -> argparse.ArgumentParser:
    p = _Parser(prog="bpttviz", description="A desktop visualiser of backpropagation through time.",
                epilog="Subcommands: 'bpttviz train --help', 'bpttviz check --help'.")
    p.add_argument("--preset", default=None, help="preset name or .json file (default: min-char-rnn)")
    p.add_argument("--list-presets", action="store_true", help="list the shipped presets and exit")
    p.add_argument("--version", action="store_true", help="print the version and exit")
    p.add_argument("--lecture", action="store_true", help="start in lecture (presentation) mode")
    p.add_argument("--screenshot", metavar="PATH", help="train offscreen, save a PNG of the window, exit")
    p.add_argument("--steps", type=int, default=20, help="training iterations before --screenshot (default 20)")
    p.add_argument("--size", default="1280x800", help="window size for --screenshot, WxH (default 1280x800)")
    p.add_argument("--install-desktop-entry", action="store_true", help="add bpttviz to the desktop menu")
    p.add_argument("--uninstall-desktop-entry", action="store_true", help="remove it from the desktop menu")
    p.add_argument("--open", metavar="SESSION", help="open a saved session file")
    return p


def _train_parser() -> argparse.ArgumentParser:
    p = _Parser(prog="bpttviz train", description="Train a preset headless and report the loss.")
    p.add_argument("--preset", default="min-char-rnn", help="preset name or .json file")
    p.add_argument("--iterations", type=int, default=1000, help="training iterations (default 1000)")
    p.add_argument("--seed", type=int, default=None, help="override the preset's seed")
    p.add_argument("--json", action="store_true", help="print one JSON object at the end")
    p.add_argument("--every", type=int, default=None, help="print the loss every N iterations")
    return p


def _check_parser() -> argparse.ArgumentParser:
    p = _Parser(prog="bpttviz check", description="Check a hand-written backward pass numerically.")
    p.add_argument("file", help="a .py file defining loss_and_grads(params, inputs, targets) and example()")
    p.add_argument("--timeout", type=float, default=60.0, help="seconds the file may take (default 60)")
    p.add_argument("--eps", type=float, default=None,
                   help="central-difference step (default: chosen from the precision your code computes in, "
                        "1e-5 in float64)")
    p.add_argument("--tol", type=float, default=None,
                   help="largest relative error accepted per parameter (default: 1e-5 in float64, 1e-4 in float32)")
    return p


def run(argv: Sequence[str]) -> int:
    argv = list(argv)
    try:
        if argv and argv[0] == "train":
            return _train(_train_parser().parse_args(argv[1:]))
        if argv and argv[0] == "check":
            from bpttviz.commands.check import run_check

            return run_check(_check_parser().parse_args(argv[1:]))
        args = _gui_parser().parse_args(argv)
        if args.version:
            print(f"bpttviz {__version__}")
            return 0
        if args.list_presets:
            from bpttviz.engine.training.presets import list_presets, preset_summary

            for name in list_presets():
                print(preset_summary(name))
            return 0
        if args.install_desktop_entry or args.uninstall_desktop_entry:
            from bpttviz.commands.desktop_entry import install_desktop_entry, uninstall_desktop_entry

            if args.install_desktop_entry:
                for path in install_desktop_entry():
                    print(f"wrote {path}")
            else:
                for path in uninstall_desktop_entry():
                    print(f"removed {path}")
            return 0
        from bpttviz.app import run_gui

        return run_gui(args)
    except UsageError as e:
        print(str(e), file=sys.stderr)
        return 2
    except ValueError as e:
        print(f"bpttviz: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("bpttviz: interrupted", file=sys.stderr)
        return 130


def _train(args: argparse.Namespace) -> int:
    from bpttviz.engine.training.presets import load_preset
    from bpttviz.engine.training.session import Session

    if args.iterations < 1:
        raise UsageError(f"bpttviz train: --iterations: expected a positive whole number, got {args.iterations}")
    cfg = load_preset(args.preset)
    if args.seed is not None:
        cfg = cfg.replace("--seed", seed=args.seed)
    t0 = time.perf_counter()
    session = Session(cfg)
    n = args.iterations
    every = args.every or max(1, n // 10)
    tty = sys.stderr.isatty() and not args.json
    first = None
    for i in range(n):
        session.train_step()
        if session.blowup is not None:
            print(f"bpttviz: {session.blowup.message()}", file=sys.stderr)
            break
        if first is None:
            first = session.history["loss"].last()
        done = i + 1
        if tty and (done % max(1, n // 100) == 0 or done == n):
            bar = "#" * (30 * done // n)
            print(f"\r[{bar:30s}] iteration {session.iteration}/{n} loss {session.smoothed_loss():.4f}", end="",
                  file=sys.stderr)
        if not args.json and (done % every == 0 or done == n):
            if tty:
                print(file=sys.stderr)
            line = f"iteration {session.iteration:6d}  loss {session.smoothed_loss():10.4f}"
            print(line, flush=True)
            if hasattr(session.task, "sample") and (done % (every * 5) == 0 or done == n):
                print("  sample: " + session.sample(n=min(200, cfg.sample_length)).replace("\n", " | "), flush=True)
    metric = session.metric()
    result = {
        "preset": args.preset,
        "iterations": session.iteration,
        "loss_first": first,
        "loss_last": session.smoothed_loss(window=max(1, min(50, session.iteration // 10 or 1))),
        "metric_name": session.task.metric_name,
        "metric": metric,
        "baseline": session.task.baseline,
        "seconds": round(time.perf_counter() - t0, 3),
    }
    if hasattr(session.task, "sample"):
        result["sample"] = session.sample(n=min(200, cfg.sample_length))
    if args.json:
        print(json.dumps(result))
    else:
        print(f"{session.task.metric_name}: {metric:.4f}" + (
            f" (baseline {session.task.baseline:.4f})" if session.task.baseline is not None else ""))
    return 1 if session.blowup is not None else 0
