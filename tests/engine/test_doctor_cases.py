"""The gradient doctor on learner-style NumPy files (``doctor_cases/``): for each class of
weakness, the hint a file must produce (every case failed before: it passed a bug, raised a false
alarm, or gave another class's hint)."""

from __future__ import annotations

import runpy
from pathlib import Path

import numpy as np
import pytest

from bpttviz.engine.gradients.doctor import check, loss_kind

CASES = Path(__file__).resolve().parent / "doctor_cases"


def run_case(name: str, **options):
    ns = runpy.run_path(str(CASES / f"{name}.py"))
    return check(ns["loss_and_grads"], *ns["example"](), seq_axis=ns.get("SEQ_AXIS"), **options)


def text(report) -> str:
    return " ".join(report.hints)


# 1. sparse gradients: the sample goes where the gradient lives; an all-zero sample is no pass
def test_a_bug_in_twelve_rows_of_an_8000_word_embedding_is_found():
    r = run_case("sparse_embedding_mean")
    assert not r.ok and not r.params["E"].ok and r.params["W"].ok
    assert "grads['E'] is exactly 12 × the numerical gradient" in text(r)
    assert "batch size" not in text(r)  # a bag of 12 word ids with one label has no batch axis
    # the sample holds the rows of the sentence's words
    rows = {int(i) for i in np.unravel_index(np.flatnonzero(~np.isnan(r.diff["E"])), (8000, 16))[0]}
    ns = runpy.run_path(str(CASES / "sparse_embedding_mean.py"))
    assert set(int(i) for i in ns["example"]()[1]) <= rows


def test_a_gradient_written_to_the_wrong_rows_is_not_a_pass():
    r = run_case("sparse_offset_rows")
    assert not r.ok and not r.params["E"].ok
    assert "grads['E'] is non-zero at entries where the loss does not depend on E" in text(r)
    assert "the loss does depend on E elsewhere" in text(r) and "ids shifted by an offset" in text(r)


def test_an_all_zero_sample_is_never_reported_as_correct():
    rng = np.random.default_rng(0)
    E = rng.normal(size=(4000, 4))

    def f(params, inputs, targets):  # reads row 3999 only; its gradient is never filled in
        return float(params["E"][3999] @ params["E"][3999]), {"E": np.zeros_like(params["E"])}

    r = check(f, {"E": E}, np.zeros(3), np.zeros(3), max_entries=50)
    assert not r.ok and not r.params["E"].ok and 3999 not in np.argwhere(~np.isnan(r.diff["E"]))[:, 0]
    # the derivative along a random direction through all 16,000 entries sees what the sample missed
    da, dn = r.params["E"].direction
    assert da == 0.0 and abs(dn) > 1e-3
    assert "agrees with the numerical gradient at all 50 sampled entries, but not along a random direction" in \
        text(r)


def test_a_sample_with_no_gradient_anywhere_is_not_verified():
    def f(params, inputs, targets):  # E is not used at all, and its gradient is zero: nothing to see
        return float(np.sum(params["w"] ** 2)), {"E": np.zeros((3000, 2)), "w": 2 * params["w"]}

    r = check(f, {"E": np.ones((3000, 2)), "w": np.ones(3)}, np.zeros(2), None, max_entries=40)
    assert not r.ok and r.params["E"].unverified and r.params["w"].ok
    assert "NOT VERIFIED: E" in r.verdict() and "not reported as correct" in " ".join(r.notes)


# 2. float32 code: no false alarm, and the precision is said
def test_correct_float32_code_passes_with_the_precision_stated():
    r = run_case("rnn_float32")
    assert r.ok, r.format()
    assert r.precision == "float32" and r.eps > 1e-5 and r.tol == 1e-4
    assert "Your code computes in float32" in " ".join(r.notes) and "Precision limits what the check can tell" in \
        " ".join(r.notes)


def test_float32_with_a_float64_step_is_not_verified_rather_than_wrong():
    r = run_case("rnn_float32", eps=1e-5, tol=1e-5)
    assert not r.ok and not r.hints and r.eps == 1e-5
    assert all(pc.unverified for pc in r.params.values() if not pc.ok)
    assert "precision hides any bug" in " ".join(r.notes)


def test_a_float32_bug_is_still_found():
    ns = runpy.run_path(str(CASES / "rnn_float32.py"))
    good = ns["loss_and_grads"]

    def buggy(params, inputs, targets):
        loss, g = good(params, inputs, targets)
        return loss, {**g, "Whh": g["Whh"] * 0.9}

    r = check(buggy, *ns["example"](), seq_axis=0)
    assert not r.ok and not r.params["Whh"].ok and r.params["Why"].ok and r.precision == "float32"


# 3. two bugs at once: the factor is common to all, the rest read with it divided out
def test_two_bugs_at_once_are_told_apart():
    r = run_case("rnn_mean_over_time_no_dhnext")
    h = text(r)
    assert "The pattern is mixed: two bugs at once" in h
    assert "Wy and by are exactly 6 × the numerical gradient" in h and "the sequence length T=6" in h
    assert "applies to every parameter" in h and "for this parameter only" not in h
    assert "Right at T=1 but wrong at T=6: Wx, Wh and bh" in h  # the output weights are not listed
    assert "batch size" not in h and r.batch_size == 1  # one-hot rows: the vocabulary is no batch


# 4. everything wrong at T=1: the loss the code computes decides the hint; zeros are zeros
def test_sigmoid_with_squared_error_gets_its_own_delta():
    r = run_case("rnn_sigmoid_mse")
    h = text(r)
    assert r.first_bad_length == 1
    assert "a sigmoid output with a squared error" in h and "`(y - t) * y * (1 - y)`" in h
    assert "softmax" not in h


def test_all_zero_gradients_at_one_step_are_reported_as_zero():
    r = run_case("rnn_loop_skips_t0")
    assert r.first_bad_length == 1
    assert text(r).startswith("At T=1 every gradient your code returns is zero")
    assert "softmax" not in text(r) and len(r.hints) == 1


@pytest.mark.parametrize("case,kind", [("rnn_sigmoid_mse", "sigmoid_se"), ("rnn_unused_bias", "softmax_ce"),
                                       ("rnn_truncated_bptt", "softmax_ce"), ("sparse_offset_rows", "se")])
def test_the_loss_is_read_from_the_source(case, kind):
    ns = runpy.run_path(str(CASES / f"{case}.py"))
    assert loss_kind(ns["loss_and_grads"]) == kind


# 5. recognisers, each with its own hint
def test_an_unused_parameter():
    r = run_case("rnn_unused_bias")
    assert [n for n, pc in r.params.items() if not pc.ok] == ["by"]
    assert len(r.hints) == 1 and "params['by'] does not change the loss at all" in text(r)
    assert "forward pass never uses by" in text(r)


def test_repeated_ids_not_accumulated():
    r = run_case("embedding_repeated_ids")
    h = text(r)
    assert r.first_bad_length == 4  # the length at which word 3 first occurs twice
    assert "ids that occur more than once" in h and "3 (3×)" in h and "`np.add.at(dE, ids, g)`" in h
    assert len(r.hints) == 1


def test_a_transposed_recurrent_gradient_on_a_sample():
    r = run_case("rnn_transposed_dwhh")
    assert r.params["Whh"].checked < r.params["Whh"].size and r.params["Whh"].transposed
    assert text(r).startswith("grads['Whh'] is the transpose of the right gradient")


def test_truncated_bptt_keeps_the_first_bad_length_at_realistic_size():
    r = run_case("rnn_truncated_bptt")
    assert r.params["U"].checked < r.params["U"].size  # sampled
    assert r.first_bad_length == 6, r.format()  # bptt_truncate=4 covers steps t-4..t: five steps
    assert "correct for T=1..5, wrong from T=6" in r.format()
    assert "your backward pass stops after 5 steps" in text(r)
    assert "presumably W " in text(r) or "presumably W (" in text(r)


# 6. calibration: one slow first call does not cut the coverage
def test_a_cold_first_call_does_not_cut_coverage():
    # a generous budget, so that a busy machine cannot cut the sample: only the slow first call could
    r = run_case("cold_first_call", budget=120)
    assert r.ok
    assert r.params["W1"].checked == 200 and r.params["b1"].checked == 30
    assert not any("checked at most" in n for n in r.notes)


def test_kinks_are_not_taken_for_rounding_noise():
    """A correct ReLU MLP on a big batch: the fourth differences that measure rounding noise may
    cross a kink along one entry; the median over entries keeps the check in float64."""

    def f(params, X, y):
        W1, b1, W2, b2 = params["W1"], params["b1"], params["W2"], params["b2"]
        z = X @ W1 + b1
        a = np.maximum(z, 0)
        s = a @ W2 + b2
        p = np.exp(s - s.max(1, keepdims=True))
        p /= p.sum(1, keepdims=True)
        n = len(X)
        ds = p.copy()
        ds[np.arange(n), y] -= 1
        ds /= n
        dz = ds @ W2.T * (z > 0)
        return -np.log(p[np.arange(n), y]).mean(), {"W1": X.T @ dz, "b1": dz.sum(0), "W2": a.T @ ds,
                                                     "b2": ds.sum(0)}

    rng = np.random.default_rng(0)
    params = {"W1": rng.normal(0, 1, (10, 50)), "b1": rng.normal(0, 0.1, 50), "W2": rng.normal(0, 0.3, (50, 4)),
              "b2": np.zeros(4)}
    r = check(f, params, rng.normal(size=(256, 10)), rng.integers(0, 4, 256))
    assert r.ok and r.precision == "float64" and r.eps == 1e-5 and r.tol == 1e-5
