"""The Gradient lab shows the doctor's hints: a learner's file checked from the app gives the same
hints, first bad length and verdicts as ``engine.gradients.doctor.check`` on the same file in-process (the
app runs the same code in a child process)."""

from __future__ import annotations

import runpy
from pathlib import Path

import pytest

from bpttviz.engine.gradients.doctor import check

CASES = Path(__file__).resolve().parents[1] / "engine" / "doctor_cases"


@pytest.mark.parametrize("case", ["rnn_sigmoid_mse", "rnn_unused_bias", "rnn_mean_over_time_no_dhnext"])
def test_the_lab_shows_the_same_hints_as_the_doctor(qtbot, shared_window, case):
    path = CASES / f"{case}.py"
    ns = runpy.run_path(str(path))
    expected = check(ns["loss_and_grads"], *ns["example"](), seq_axis=ns.get("SEQ_AXIS"))
    assert expected.hints
    lab = shared_window.gradient_lab
    lab.check_file(str(path))
    qtbot.waitUntil(lambda: lab.job is not None and not lab.job.running, timeout=60000)
    shown = lab.view.report
    assert shown is not None and shown.hints == expected.hints
    assert shown.first_bad_length == expected.first_bad_length
    text = " ".join(lab.view.text.toPlainText().split())
    for hint in expected.hints:
        assert " ".join(hint.split()) in text
    view = lab.view
    rows = {view.table.item(r, 0).text().split()[0]: view.table.item(r, 2).text() for r in range(view.table.rowCount())}
    assert rows == {n: ("ok" if pc.ok else "WRONG") for n, pc in expected.params.items()}
