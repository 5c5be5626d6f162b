"""`bpttviz train`: headless runs, JSON output, clean one-line errors with exit code 2."""

import json
import subprocess
import sys


def run(*args):
    return subprocess.run([sys.executable, "-m", "bpttviz", *args], capture_output=True, text=True, timeout=300)


def test_train_json():
    r = run("train", "--preset", "xor-mlp", "--iterations", "80", "--json")
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    for key in ("iterations", "loss_first", "loss_last", "metric_name", "metric", "seconds"):
        assert key in out
    assert out["iterations"] == 80 and out["loss_last"] < out["loss_first"]
    assert "PySide6" not in r.stderr


def test_train_prints_loss_and_sample_for_language_models():
    r = run("train", "--preset", "min-char-rnn", "--iterations", "50")
    assert r.returncode == 0, r.stderr
    assert "loss" in r.stdout and "sample:" in r.stdout
    # iterations counted as everywhere in the app: iteration N is the N-th update
    printed = [int(line.split()[1]) for line in r.stdout.splitlines() if line.startswith("iteration ")]
    assert printed == [5, 10, 15, 20, 25, 30, 35, 40, 45, 50]


def test_train_does_not_import_qt():
    code = ("import sys; from bpttviz.cli import run; run(['train','--preset','xor-mlp','--iterations','2','--json']);"
            "sys.exit(1 if any(m.startswith(('PySide6','pyqtgraph')) for m in sys.modules) else 0)")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr


def test_bad_inputs_exit_2_with_one_line(tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text('{"task": "adding", "model": "rnn", "seq_len": 10, "lag": 20}')
    empty = tmp_path / "empty.txt"
    empty.write_text("")
    corpus_preset = tmp_path / "c.json"
    corpus_preset.write_text(json.dumps({"task": "chars", "corpus": str(empty)}))
    unknown = tmp_path / "u.json"
    unknown.write_text('{"learning_rate": 0.1}')
    cases = [
        (("train", "--preset", "no-such"), "unknown preset"),
        (("train", "--preset", str(bad)), "lag"),
        (("train", "--preset", str(corpus_preset)), "empty"),
        (("train", "--preset", str(unknown)), "unknown field 'learning_rate'"),
        (("train", "--iterations", "0"), "--iterations"),
    ]
    for args, needle in cases:
        r = run(*args)
        assert r.returncode == 2, (args, r.stdout, r.stderr)
        assert needle in r.stderr and "Traceback" not in r.stderr
        assert len(r.stderr.strip().splitlines()) == 1, r.stderr
