"""``bpttviz check FILE.py``: the two worked examples, and files that cannot be used (exit 2 with
the reason on one line, never a traceback of ours), including code that never returns."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples"

GOOD_BODY = '''
import numpy as np

def loss_and_grads(params, inputs, targets):
    W = params["W"]
    r = inputs @ W - targets
    return 0.5 * float(np.sum(r * r)), {"W": inputs.T @ r}

def example():
    rng = np.random.default_rng(0)
    return {"W": rng.normal(size=(3, 2))}, rng.normal(size=(4, 3)), rng.normal(size=(4, 2))
'''


def bpttviz(*args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "bpttviz", "check", *args], cwd=ROOT, capture_output=True,
                          text=True, timeout=timeout)


def write(tmp_path: Path, source: str, name: str = "mine.py") -> str:
    path = tmp_path / name
    path.write_text(textwrap.dedent(source), encoding="utf-8")
    return str(path)


def assert_unusable(res: subprocess.CompletedProcess, *phrases: str) -> None:
    assert res.returncode == 2, res.stdout + res.stderr
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("bpttviz check: "), res.stderr
    assert "Traceback" not in res.stderr + res.stdout
    for phrase in phrases:
        assert phrase in lines[0], (phrase, lines[0])


def test_the_correct_example_passes():
    res = bpttviz("examples/rnn_correct.py")
    assert res.returncode == 0, res.stdout + res.stderr
    assert "Result: all 5 gradients correct." in res.stdout
    for name in ("Wxh", "Whh", "Why", "bh", "by"):
        assert f"\n  {name} " in res.stdout  # one table row per parameter
    assert "all 10 timesteps checked, correct" in res.stdout


def test_the_buggy_example_fails_with_the_hint():
    res = bpttviz("examples/rnn_bug_dh_next.py")
    assert res.returncode == 1, res.stdout + res.stderr
    assert "Sequence length: correct for T=1, wrong from T=2." in res.stdout
    assert "path from h_t back to h_{t-1}" in res.stdout
    assert "not dropped or" in res.stdout
    assert "Result: WRONG gradient for Wxh, Whh, bh (3 of 5)." in res.stdout


def test_a_good_file_anywhere(tmp_path):
    res = bpttviz(write(tmp_path, GOOD_BODY))
    assert res.returncode == 0, res.stdout + res.stderr
    assert "Result: the gradient is correct." in res.stdout


def test_a_wrong_gradient_in_a_small_file(tmp_path):
    res = bpttviz(write(tmp_path, GOOD_BODY.replace('{"W": inputs.T @ r}', '{"W": -(inputs.T @ r)}')))
    assert res.returncode == 1 and "opposite sign" in res.stdout


def test_loss_and_grads_that_raises_is_reported_not_crashed(tmp_path):
    res = bpttviz(write(tmp_path, GOOD_BODY.replace('W = params["W"]', 'W = params["W_hh"]')))
    assert res.returncode == 1, res.stdout + res.stderr
    assert "loss_and_grads raised KeyError: 'W_hh' (mine.py, line 5" in res.stdout
    assert "Traceback" not in res.stdout + res.stderr


@pytest.mark.parametrize("source,phrases", [
    (GOOD_BODY + "\ndef broken(:\n    pass\n", ["mine.py: syntax error at line 13"]),
    (GOOD_BODY.replace("def example", "def make_example"), ["does not define example()"]),
    (GOOD_BODY.replace("def loss_and_grads", "def lossgrads"), ["does not define loss_and_grads"]),
    (GOOD_BODY.replace("rng = np.random.default_rng(0)", "rng = 1 / 0"),
     ["example() raised ZeroDivisionError: division by zero (mine.py, line 10"]),
    (GOOD_BODY.replace("return {", "return [{").replace("size=(4, 2))", "size=(4, 2))][:2]"),
     ["example() must return (params, inputs, targets)", "2 values"]),
    ("import numpy\nraise RuntimeError('no data file')\n", ["raised RuntimeError: no data file", "while being loaded"]),
    (GOOD_BODY + "\nSEQ_AXIS = 'time'\n", ["SEQ_AXIS must be a whole number"]),
    ("import os\n" + GOOD_BODY.replace('r * r)), {"W"', 'r * r)), os._exit(3) or {"W"'),
     ["stopped the checker", "exited with code 3 while checking loss_and_grads"]),
])
def test_files_that_cannot_be_used(tmp_path, source, phrases):
    assert_unusable(bpttviz(write(tmp_path, source)), *phrases)


def test_a_missing_file():
    assert_unusable(bpttviz("no/such/file.py"), "no/such/file.py: no such file")


def test_code_that_never_returns_is_killed_at_the_timeout(tmp_path):
    path = write(tmp_path, GOOD_BODY.replace('    W = params["W"]\n', '    while True:\n        pass\n'))
    t0 = time.perf_counter()
    res = bpttviz(path, "--timeout", "2", timeout=60)
    assert time.perf_counter() - t0 < 30
    assert_unusable(res, "mine.py did not finish within 2 s while checking loss_and_grads", "--timeout")


def test_a_file_that_hangs_while_loading(tmp_path):
    res = bpttviz(write(tmp_path, "import time\ntime.sleep(600)\n"), "--timeout", "2", timeout=60)
    assert_unusable(res, "did not finish within 2 s while loading the file")


def test_a_thread_left_running_does_not_hang_the_check(tmp_path):
    source = GOOD_BODY + "\nimport threading, time\nthreading.Thread(target=time.sleep, args=(600,)).start()\n"
    t0 = time.perf_counter()
    res = bpttviz(write(tmp_path, source), "--timeout", "30", timeout=60)
    assert res.returncode == 0 and time.perf_counter() - t0 < 25, res.stdout + res.stderr


def test_a_bad_timeout():
    assert_unusable(bpttviz("examples/rnn_correct.py", "--timeout", "0"), "--timeout")


def test_check_never_imports_qt():
    code = ("import sys\n"
            "from bpttviz.cli import run\n"
            "rc = run(['check', 'examples/rnn_correct.py'])\n"
            "qt = sorted(m for m in sys.modules if m.split('.')[0] in ('PySide6', 'shiboken6', 'pyqtgraph'))\n"
            "print('QT', qt)\n"
            "sys.exit(rc if not qt else 3)\n")
    res = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stdout + res.stderr
    assert "QT []" in res.stdout


CASES = ROOT / "tests" / "engine" / "doctor_cases"


def test_float32_code_passes_with_the_precision_said():
    res = bpttviz(str(CASES / "rnn_float32.py"))
    assert res.returncode == 0, res.stdout + res.stderr
    assert "float32" in res.stdout.splitlines()[0] and "Your code computes in float32" in res.stdout
    assert "Result: all 5 gradients correct." in res.stdout


def test_eps_and_tol_options_are_used():
    res = bpttviz(str(CASES / "rnn_float32.py"), "--eps", "1e-5", "--tol", "1e-5")
    assert res.returncode == 1, res.stdout + res.stderr
    assert "eps 1e-05, tol 1e-05, float32" in res.stdout.splitlines()[0]
    assert "NOT VERIFIED" in res.stdout and "WRONG" not in res.stdout  # rounding is not called a bug
    res = bpttviz("examples/rnn_correct.py", "--eps", "1e-6", "--tol", "1e-4")
    assert res.returncode == 0 and "eps 1e-06, tol 0.0001" in res.stdout


@pytest.mark.parametrize("flag,value", [("--eps", "0"), ("--eps", "-1e-3"), ("--tol", "2"), ("--tol", "nan")])
def test_bad_eps_or_tol(flag, value):
    assert_unusable(bpttviz("examples/rnn_correct.py", f"{flag}={value}"), flag, "expected a positive")


def test_help_lists_the_options():
    res = bpttviz("--help")
    assert res.returncode == 0 and "--eps" in res.stdout and "--tol" in res.stdout
