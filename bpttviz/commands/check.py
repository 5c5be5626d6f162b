"""``bpttviz check FILE.py [--timeout S] [--eps E] [--tol T]``: run the gradient doctor on a learner's own file.

The file defines ``loss_and_grads(params, inputs, targets) -> (loss, grads)`` and ``example()``
returning ``(params, inputs, targets)``; optionally ``SEQ_AXIS`` (the time axis of the inputs, for
the "correct for T=1, wrong from T=2" check) and ``BATCH_AXIS``. ``check_file`` runs it in a
separate Python process with a time limit, so code that never returns is killed and code that
crashes the interpreter cannot take the checker with it; the report comes back as JSON
(``engine.gradients.doctor.Report.to_dict``). The app's "open my code" can call ``check_file`` too.

Exit codes of ``run_check``: 0 every gradient is correct; 1 a gradient is wrong, or
``loss_and_grads`` fails in a way the report explains (raises, wrong keys or shapes, NaN); 2 the
file cannot be used (missing, a syntax error, no ``example()``, ``example()`` raising, a timeout),
with the reason on one line of stderr and no traceback. Nothing here imports Qt.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import signal
import subprocess
import sys
import tempfile
import time
import types
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from bpttviz.engine.gradients.doctor import Report

#: Where ``engine`` and ``bpttviz`` live, so the child process imports the same code.
_ROOT = str(Path(__file__).resolve().parent.parent)
_BOOT = ("import os, sys; sys.path.insert(0, sys.argv[1]); from bpttviz.commands.check import _worker; "
         "_worker(sys.argv[2:]); os._exit(0)")  # _exit: threads the user's code left running must not keep us
_PHASES = {
    "": "while starting",
    "loading": "while loading the file (its top-level code)",
    "example": "in example()",
    "checking": "while checking loss_and_grads",
}


@dataclass
class FileCheck:
    """The outcome of ``check_file``: a report, or why the file could not be used (one line)."""

    report: Report | None = None
    problem: str | None = None


def check_file(path: str | os.PathLike, *, timeout: float = 60.0, eps: float | None = None,
               tol: float | None = None) -> FileCheck:
    """Check the ``loss_and_grads`` of the file at ``path`` on its ``example()``, in a child
    process that is killed after ``timeout`` seconds. ``eps``/``tol`` None: chosen from the
    precision the code computes in (``engine.gradients.doctor.check``)."""
    return CheckRun(path, timeout=timeout, eps=eps, tol=tol).wait()


class CheckRun:
    """One check of a file running in a child process, for callers that must not block (the app):
    ``poll()`` is None while it runs and the ``FileCheck`` once the child ended or the time limit
    passed (the child is then killed); ``wait()`` blocks; ``cancel()`` kills it and cleans up."""

    def __init__(self, path: str | os.PathLike, *, timeout: float = 60.0, eps: float | None = None,
                 tol: float | None = None, more_time: str = "allow more time with --timeout") -> None:
        self.path = Path(path)
        self.timeout = timeout
        self.more_time = more_time  # the last words of the time-limit message
        self.result: FileCheck | None = None
        self.proc: subprocess.Popen | None = None
        self._tmp: tempfile.TemporaryDirectory | None = None
        p = self.path
        if not p.exists():
            self.result = FileCheck(problem=f"{path}: no such file")
            return
        if p.is_dir():
            self.result = FileCheck(problem=f"{path}: is a folder, not a Python file")
            return
        budget = max(1.0, timeout / 3)  # at most this (and engine.gradients.doctor.BUDGET) for the numerical gradients
        self._tmp = tempfile.TemporaryDirectory(prefix="bpttviz-check-")
        self._out = Path(self._tmp.name)
        cmd = [sys.executable, "-c", _BOOT, _ROOT, str(p.resolve()), self._tmp.name, repr(eps), repr(tol),
               repr(budget)]
        env = {**os.environ, "MPLBACKEND": "Agg", "PYTHONDONTWRITEBYTECODE": "1"}  # plt.show() must not block
        with open(self._out / "stderr", "wb") as err:
            self.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=err,
                                         env=env, start_new_session=os.name == "posix")
        self._deadline = time.monotonic() + timeout

    def poll(self) -> FileCheck | None:
        """The outcome once there is one (never blocks)."""
        if self.result is None and self.proc is not None:
            rc = self.proc.poll()
            if rc is not None:
                self._finish(rc, timed_out=False)
            elif time.monotonic() >= self._deadline:
                _kill(self.proc)
                self._finish(self.proc.returncode, timed_out=True)
        return self.result

    def wait(self) -> FileCheck:
        """Block until the outcome (Ctrl-C kills the child: it runs in its own session)."""
        if self.result is None and self.proc is not None:
            try:
                rc = self.proc.wait(timeout=max(0.0, self._deadline - time.monotonic()))
                self._finish(rc, timed_out=False)
            except subprocess.TimeoutExpired:
                _kill(self.proc)
                self._finish(self.proc.returncode, timed_out=True)
            except BaseException:
                self.cancel()
                raise
        assert self.result is not None
        return self.result

    def cancel(self) -> None:
        """Kill the child (and anything it started) and remove its files."""
        if self.result is None and self.proc is not None:
            _kill(self.proc)
            self.result = FileCheck(problem=f"{self.path.name}: the check was stopped")
        self._cleanup()

    def _cleanup(self) -> None:
        if self._tmp is not None:
            self._tmp.cleanup()
            self._tmp = None

    def _finish(self, rc: int, timed_out: bool) -> None:
        try:
            self.result = self._read(rc, timed_out)
        finally:
            self._cleanup()

    def _read(self, rc: int, timed_out: bool) -> FileCheck:
        from bpttviz.engine.gradients.doctor import Report

        out, p, timeout = self._out, self.path, self.timeout
        phase = _read_text(out / "phase")
        if timed_out and not (out / "result.json").exists():  # (a result means only a leftover thread hung)
            why = " (a loop that never ends, or one call that takes very long?)" if phase == "checking" else ""
            return FileCheck(problem=f"{p.name} did not finish within {timeout:g} s {_PHASES.get(phase, '')}{why}; "
                                     + self.more_time)
        try:
            result = json.loads((out / "result.json").read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return FileCheck(problem=_crash(p.name, rc, out / "stderr", phase))
        if result.get("kind") == "report":
            return FileCheck(report=Report.from_dict(result["report"]))
        return FileCheck(problem=str(result.get("reason", "the file could not be used")))


def run_check(args: argparse.Namespace) -> int:
    """The ``check`` subcommand: ``args.file``, ``args.timeout``, ``args.eps``, ``args.tol`` (None:
    chosen from the code's precision); prints the report, returns the exit code."""
    timeout = args.timeout
    if not (isinstance(timeout, (int, float)) and math.isfinite(timeout) and timeout > 0):
        print(f"bpttviz check: --timeout: expected a positive number of seconds, got {timeout}", file=sys.stderr)
        return 2
    eps, tol = getattr(args, "eps", None), getattr(args, "tol", None)
    for flag, value, allowed in (("--eps", eps, "a positive step below 1, e.g. 1e-3"),
                                 ("--tol", tol, "a positive relative error below 1, e.g. 1e-4")):
        if value is not None and not (math.isfinite(value) and 0 < value < 1):
            print(f"bpttviz check: {flag}: expected {allowed}, got {value}", file=sys.stderr)
            return 2
    result = check_file(args.file, timeout=timeout, eps=eps, tol=tol)
    if result.report is None:
        print(f"bpttviz check: {result.problem}", file=sys.stderr)
        return 2
    try:
        print(result.report.format(), flush=True)
    except BrokenPipeError:  # `bpttviz check f.py | head`: the reader left; the exit code still counts
        sys.stdout = None
    return 0 if result.report.ok else 1


def _kill(proc: subprocess.Popen) -> None:
    """Kill the child and anything it started (its own process group), then reap it."""
    try:
        if os.name == "posix":
            os.killpg(proc.pid, signal.SIGKILL)
        else:
            proc.kill()
    except (ProcessLookupError, PermissionError):
        pass
    proc.wait()


def _read_text(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8").strip()
    except OSError:
        return ""


def _crash(name: str, rc: int, stderr: Path, phase: str) -> str:
    """One line for a child that ended without a result (a crash, ``os._exit``, a killed process)."""
    if rc < 0:
        try:
            how = f"was killed by {signal.Signals(-rc).name}"
        except ValueError:
            how = f"was killed by signal {-rc}"
    else:
        how = f"exited with code {rc}"
    try:
        with open(stderr, "rb") as f:
            f.seek(0, os.SEEK_END)
            f.seek(max(0, f.tell() - 4096))
            tail = f.read().decode("utf-8", "replace")
    except OSError:
        tail = ""
    last = next((line.strip() for line in reversed(tail.splitlines()) if line.strip()), "")
    return f"{name} stopped the checker: the process {how} {_PHASES.get(phase, '')}" + (f" ({last})" if last else "")


# --------------------------------------------------------------------------------------- the child
def _worker(argv: list[str]) -> None:
    """The child process: load the file, run ``example()`` and ``check``; write ``result.json``
    (``{"kind": "report", "report": ...}`` or ``{"kind": "unusable", "reason": ...}``)."""
    path, out = argv[0], Path(argv[1])
    eps, tol = (None if a == "None" else float(a) for a in argv[2:4])
    budget = float(argv[4])

    def phase(name: str) -> None:
        (out / "phase").write_text(name, encoding="utf-8")

    try:
        result = _run_file(path, phase, eps, tol, budget)
    except BaseException as e:  # our own failure: still one line, never a traceback
        result = dict(kind="unusable", reason=f"internal error in the checker: {type(e).__name__}: {e}")
    tmp = out / "result.tmp"
    tmp.write_text(json.dumps(result), encoding="utf-8")
    os.replace(tmp, out / "result.json")


def _unusable(reason: str) -> dict[str, Any]:
    return dict(kind="unusable", reason=reason)


def _run_file(path: str, phase: Callable[[str], None], eps: float | None, tol: float | None,
              budget: float) -> dict[str, Any]:
    from bpttviz.engine.gradients.doctor import BUDGET, check, describe_exception

    name = Path(path).name
    phase("loading")
    try:
        source = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        return _unusable(f"{name}: cannot be read ({type(e).__name__}: {e})")
    try:
        code = compile(source, path, "exec")
    except SyntaxError as e:
        return _unusable(f"{name}: syntax error at line {e.lineno}: {e.msg}")
    except ValueError as e:  # e.g. null bytes
        return _unusable(f"{name}: not Python source ({e})")
    module = types.ModuleType("bpttviz_user_file")  # not "__main__": its `if __name__ == ...` block stays quiet
    module.__file__ = path
    sys.modules[module.__name__] = module
    sys.path.insert(0, str(Path(path).parent))
    try:
        exec(code, module.__dict__)
    except KeyboardInterrupt:
        raise
    except BaseException as e:
        return _unusable(f"{name} raised {describe_exception(e, path)} while being loaded")

    ns = module.__dict__
    if not callable(ns.get("loss_and_grads")):
        return _unusable(f"{name} does not define loss_and_grads(params, inputs, targets)")
    if not callable(ns.get("example")):
        return _unusable(f"{name} does not define example(), which must return (params, inputs, targets)")
    axes = {}
    for key in ("SEQ_AXIS", "BATCH_AXIS"):
        value = ns.get(key)
        if value is not None and (isinstance(value, bool) or not isinstance(value, int)):
            return _unusable(f"{name}: {key} must be a whole number (an axis of the inputs) or None, got {value!r}")
        axes[key] = value

    phase("example")
    try:
        out = ns["example"]()
    except KeyboardInterrupt:
        raise
    except BaseException as e:
        return _unusable(f"example() raised {describe_exception(e, path)}")
    if not isinstance(out, (tuple, list)) or len(out) != 3:
        got = f"{len(out)} values" if isinstance(out, (tuple, list)) else f"a {type(out).__name__}"
        return _unusable(f"example() must return (params, inputs, targets), three values; it returned {got}")
    params, inputs, targets = out
    if not isinstance(params, Mapping) or not params:
        return _unusable("example() must return params as a non-empty dict of arrays (name -> array); "
                         f"got {'an empty dict' if isinstance(params, Mapping) else 'a ' + type(params).__name__}")

    phase("checking")
    budget = min(BUDGET, budget)
    report = check(ns["loss_and_grads"], params, inputs, targets, seq_axis=axes["SEQ_AXIS"],
                   batch_axis=axes["BATCH_AXIS"], eps=eps, tol=tol, budget=budget)
    report.function = f"loss_and_grads in {name}"
    return dict(kind="report", report=report.to_dict())
