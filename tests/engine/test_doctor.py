"""The gradient doctor (engine.gradients.doctor.check): every hint on a hand-written NumPy RNN or MLP
that has exactly that bug, the bug lab's own broken backward passes, shorter-sequence re-checks,
the caller's arrays left alone, and user code that raises or returns nonsense."""

from __future__ import annotations

import json
import runpy
import sys
from pathlib import Path

import numpy as np
import pytest

from bpttviz import engine
from bpttviz.engine.gradients.bugs import BUGS
from bpttviz.engine.gradients.doctor import Report, check

ROOT = Path(__file__).resolve().parents[2]
B, T, D, H, O = 4, 5, 3, 6, 7  # all different, so a factor names exactly one of them


# ----------------------------------------------------------------------------- hand-written models
def softmax(y: np.ndarray) -> np.ndarray:
    e = np.exp(y - y.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def rnn(bug: str | None = None):
    """A learner's batch-first, row-vector tanh RNN, mean over the batch, summed over time:
    params Wx (D,H), Wh (H,H), b (H,), Wy (H,O), by (O,); inputs (B,T,D); targets (B,T) ids.
    ``bug`` switches on exactly one classic mistake in the backward pass."""

    def loss_and_grads(params, inputs, targets):
        Wx, Wh, b, Wy, by = (params[k] for k in ("Wx", "Wh", "b", "Wy", "by"))
        nB, nT, _ = inputs.shape
        rows = np.arange(nB)
        hs, zs, ps = [np.zeros((nB, Wh.shape[0]))], [], []
        loss = 0.0
        for t in range(nT):
            z = inputs[:, t] @ Wx + hs[-1] @ Wh + b
            zs.append(z)
            hs.append(np.tanh(z))
            ps.append(softmax(hs[-1] @ Wy + by))
            loss += -np.log(ps[-1][rows, targets[:, t]]).sum()
        loss /= nB
        if bug == "loss_mean_over_time":
            loss /= nT
        g = {k: np.zeros_like(v) for k, v in params.items()}
        dh_next = np.zeros_like(hs[0])
        for t in reversed(range(nT)):
            dy = ps[t].copy()
            dy[rows, targets[:, t]] -= 1
            if bug == "softmax_elementwise":  # dL/dp * p(1-p): -(1-p) at the target, 0 elsewhere
                p_t = ps[t][rows, targets[:, t]]
                dy = np.zeros_like(ps[t])
                dy[rows, targets[:, t]] = -(1 - p_t)
            if bug == "sign":
                dy = -dy
            if bug != "sum_not_mean":
                dy = dy / nB
            g["Wy"] += hs[t + 1].T @ dy
            g["by"] += {"bias_first_example": dy[0], "bias_mean": dy.mean(0)}.get(bug, dy.sum(0))
            dh = dy @ Wy.T
            if bug == "overwrite_dh_next" and t < nT - 1:
                dh = dh_next
            elif bug != "drop_dh_next":
                dh = dh + dh_next
            dz = dh * ((1 - zs[t] ** 2) if bug == "deriv_at_z" else (1 - hs[t + 1] ** 2))
            g["Wx"] += inputs[:, t].T @ dz
            if bug == "dWh_pairs_h_t":
                g["Wh"] += hs[t + 1].T @ dz
            elif bug == "dWh_transposed":
                g["Wh"] += (hs[t].T @ dz).T
            elif bug != "forgot_dWh":
                g["Wh"] += hs[t].T @ dz
            g["b"] += {"bias_first_example": dz[0], "bias_mean": dz.mean(0)}.get(bug, dz.sum(0))
            dh_next = dz @ Wh.T
        return loss, g

    return loss_and_grads


def rnn_problem(seed: int = 0):
    rng = np.random.default_rng(seed)
    params = {"Wx": rng.normal(0, 0.5, (D, H)), "Wh": rng.normal(0, 0.4, (H, H)), "b": rng.normal(0, 0.1, H),
              "Wy": rng.normal(0, 0.5, (H, O)), "by": rng.normal(0, 0.1, O)}
    return params, rng.normal(size=(B, T, D)), rng.integers(0, O, (B, T))


def mlp(bug: str | None = None):
    """A learner's two-layer MLP (sigmoid hidden layer, softmax + cross-entropy, batch mean):
    W1 (D,H), b1 (H,), W2 (H,O), b2 (O,); inputs (B,D); targets (B,) ids."""

    def loss_and_grads(params, X, y):
        W1, b1, W2, b2 = params["W1"], params["b1"], params["W2"], params["b2"]
        n = len(X)
        z = X @ W1 + b1
        a = 1 / (1 + np.exp(-z))
        p = softmax(a @ W2 + b2)
        loss = -np.log(p[np.arange(n), y]).mean()
        dy = p.copy()
        dy[np.arange(n), y] -= 1
        if bug == "softmax_elementwise":
            p_t = p[np.arange(n), y]
            dy = np.zeros_like(p)
            dy[np.arange(n), y] = -(1 - p_t)
        dy /= n
        da = dy @ W2.T
        dz = da * (z * (1 - z) if bug == "deriv_at_z" else a * (1 - a))
        first = bug == "bias_first_example"
        return loss, {"W1": X.T @ dz, "b1": dz[0] if first else dz.sum(0),
                      "W2": a.T @ dy, "b2": dy[0] if first else dy.sum(0)}

    return loss_and_grads


def mlp_problem(seed: int = 0):
    rng = np.random.default_rng(seed)
    params = {"W1": rng.normal(0, 0.7, (D, H)), "b1": rng.normal(0, 0.2, H),
              "W2": rng.normal(0, 0.7, (H, O)), "b2": rng.normal(0, 0.2, O)}
    return params, rng.normal(size=(B, D)), rng.integers(0, O, B)


def engine_fn(model, **options):
    """The engine's own model as a user function f(params, inputs, targets)."""

    def f(params, inputs, targets):
        model.params = params
        return model.loss_and_grads(inputs, targets, **options)

    return f


def hints_text(report: Report) -> str:
    return " ".join(report.hints)


# ----------------------------------------------------------------------------- correct code
def test_correct_rnn_passes():
    params, x, y = rnn_problem()
    r = check(rnn(), params, x, y, seq_axis=1)
    assert r.ok and not r.errors and not r.hints
    assert set(r.per_param) == set(params) and max(r.per_param.values()) < 1e-8
    assert r.first_bad_length is None and r.seq_len == T and r.batch_size == B
    assert "all 5 gradients correct" in r.format()
    for name, p in params.items():
        assert r.diff[name].shape == p.shape and np.all(np.abs(r.diff[name]) < 1e-8)


def test_correct_mlp_passes_without_seq_axis():
    params, x, y = mlp_problem()
    r = check(mlp(), params, x, y)
    assert r.ok and not r.hints and r.first_bad_length is None and r.seq_len is None
    assert r.batch_size == B


def test_worked_example_files():
    good = runpy.run_path(str(ROOT / "examples" / "rnn_correct.py"))
    r = check(good["loss_and_grads"], *good["example"](), seq_axis=good["SEQ_AXIS"])
    assert r.ok, r.format()
    bad = runpy.run_path(str(ROOT / "examples" / "rnn_bug_dh_next.py"))
    r = check(bad["loss_and_grads"], *bad["example"](), seq_axis=bad["SEQ_AXIS"])
    assert not r.ok and r.first_bad_length == 2
    assert r.params["Why"].ok and r.params["by"].ok and not r.params["Whh"].ok
    assert "from h_t back to h_{t-1}" in hints_text(r)


def test_the_callers_arrays_are_never_touched():
    params, x, y = rnn_problem()
    saved = {k: v.copy() for k, v in params.items()}, x.copy(), y.copy()
    correct = rnn()

    def vandal(p, inputs, targets):  # right gradients, then wrecks every argument in place
        out = correct(p, inputs, targets)
        for v in p.values():
            v += 1.0
        inputs *= 2.0
        targets[:] = 0
        return out

    r = check(vandal, params, x, y, seq_axis=1)
    assert r.ok, r.format()  # every call got fresh copies, so the vandalism changed nothing
    for k in params:
        np.testing.assert_array_equal(params[k], saved[0][k])
    np.testing.assert_array_equal(x, saved[1])
    np.testing.assert_array_equal(y, saved[2])
    for k, p in params.items():
        assert not np.shares_memory(r.diff[k], p)


# ----------------------------------------------------------------------------- each hint, each bug
@pytest.mark.parametrize("bug,expected", [
    ("drop_dh_next", ["Correct for T=1, wrong from T=2", "path from h_t back to h_{t-1}", "presumably Wh"]),
    ("overwrite_dh_next", ["Correct for T=1, wrong from T=2", "not dropped or overwritten"]),
    ("dWh_pairs_h_t", ["Only Wh is wrong", "previous state h_{t-1}, not h_t"]),
    ("dWh_transposed", ["grads['Wh'] is the transpose"]),
    ("sum_not_mean", ["exactly 4 × the numerical one", "the batch size B=4", "sum vs mean",
                      "averaged over the batch (mean) but the gradients are summed"]),
    ("loss_mean_over_time", ["exactly 5 × the numerical one", "the sequence length T=5", "sum vs mean"]),
    ("sign", ["opposite sign", "`p - y`"]),
    ("forgot_dWh", ["grads['Wh'] is all zeros", "a term was dropped"]),
    ("bias_first_example", ["Only the bias gradients (b and by) are wrong while the weights are right",
                            "summed over the batch"]),
    ("bias_mean", ["Only the bias gradients (b and by)", "exactly 1/B of the right values, B=4"]),
    ("softmax_elementwise", ["already wrong at T=1", "`dy = p - onehot(target)`", "`p(1 - p)`"]),
    ("deriv_at_z", ["Wy and by are right but Wx and b are wrong at T=1", "`1 - h²`", "not `1 - z²`"]),
])
def test_each_hint_on_an_rnn_with_exactly_that_bug(bug, expected):
    params, x, y = rnn_problem()
    r = check(rnn(bug), params, x, y, seq_axis=1)
    assert not r.ok and not r.errors, r.format()
    text = hints_text(r)
    for phrase in expected:
        assert phrase in text, (phrase, r.format())


def test_first_bad_length_puts_the_bug_in_time():
    params, x, y = rnn_problem()
    r = check(rnn("drop_dh_next"), params, x, y, seq_axis=1)
    assert r.first_bad_length == 2
    assert max(r.length_errors[1].values()) < 1e-8 and max(r.length_errors[2].values()) > 1e-3
    assert r.params["Wy"].ok and r.params["by"].ok  # the output layer is right
    assert {n for n, pc in r.params.items() if not pc.ok} == {"Wx", "Wh", "b"}
    assert "correct for T=1, wrong from T=2" in r.format()
    # a bug at the top is wrong already for one step
    assert check(rnn("softmax_elementwise"), params, x, y, seq_axis=1).first_bad_length == 1


def test_factors_are_reported_per_parameter():
    params, x, y = rnn_problem()
    r = check(rnn("sum_not_mean"), params, x, y, seq_axis=1)
    assert all(abs(pc.factor - B) < 1e-6 for pc in r.params.values())
    r = check(rnn("sign"), params, x, y, seq_axis=1)
    assert all(abs(pc.factor + 1) < 1e-6 for pc in r.params.values())
    r = check(rnn("forgot_dWh"), params, x, y, seq_axis=1)
    assert r.params["Wh"].factor == 0.0 and r.params["Wh"].worst[0].analytic == 0.0


@pytest.mark.parametrize("bug,expected", [
    ("softmax_elementwise", ["Every parameter is already wrong", "`dy = p - onehot(target)`"]),
    ("deriv_at_z", ["W2 and b2 are right but W1 and b1 are wrong", "`s(1 - s)`"]),
    ("bias_first_example", ["Only the bias gradients (b1 and b2)"]),
])
def test_hints_on_an_mlp(bug, expected):
    params, x, y = mlp_problem()
    r = check(mlp(bug), params, x, y)
    assert not r.ok and r.first_bad_length is None
    for phrase in expected:
        assert phrase in hints_text(r), (phrase, r.format())


BUG_LAB_HINTS = {
    "drop_dh_next": "path from h_t back to h_{t-1}",
    "overwrite_dh_next": "path from h_t back to h_{t-1}",
    "deriv_wrong_variable": "W_hy and b_y are right but W_xh and b_h are wrong at T=1",
    "softmax_elementwise": "`dy = p - onehot(target)`",
    "bias_not_summed": "Only the bias gradients (b_h and b_y)",
}


@pytest.mark.parametrize("bug", sorted(BUG_LAB_HINTS))
def test_the_bug_labs_backward_passes_are_diagnosed(bug):
    assert bug in BUGS
    rng = np.random.default_rng(5)
    model = engine.RNN(4, 6, 5, seed=1)
    for name in ("b_h", "b_y"):
        model.params[name] = rng.normal(0, 0.3, model.params[name].shape)
    x, y = rng.integers(0, 4, (3, 7)), rng.integers(0, 5, (3, 7))
    clean = check(engine_fn(model), dict(model.params), x, y, seq_axis=1)
    assert clean.ok, clean.format()
    model.set_bugs({bug})
    r = check(engine_fn(model), dict(model.params), x, y, seq_axis=1)
    assert not r.ok and BUG_LAB_HINTS[bug] in hints_text(r), r.format()
    assert r.first_bad_length == (2 if "dh_next" in bug else 1)


def test_many_to_one_targets_without_a_time_axis_are_left_alone():
    rng = np.random.default_rng(2)
    model = engine.RNN(4, 6, 5, seed=1)
    x, y = rng.normal(size=(3, 6, 4)), rng.integers(0, 5, 3)  # targets (B,): no time axis
    assert check(engine_fn(model, output="last"), dict(model.params), x, y, seq_axis=1).ok
    model.set_bugs({"drop_dh_next"})
    r = check(engine_fn(model, output="last"), dict(model.params), x, y, seq_axis=1)
    assert r.first_bad_length == 2 and not any("Could not" in n for n in r.notes), r.format()


def test_time_on_the_last_axis_with_shorter_rank_targets():
    params, x, y = rnn_problem()

    def time_last(bug):  # inputs (B, D, T), targets (B, T)
        f = rnn(bug)
        return lambda p, inputs, targets: f(p, inputs.transpose(0, 2, 1), targets)

    xt = np.ascontiguousarray(x.transpose(0, 2, 1))
    assert check(time_last(None), params, xt, y, seq_axis=2).ok
    r = check(time_last("drop_dh_next"), params, xt, y, seq_axis=2)
    assert r.first_bad_length == 2 and r.seq_len == T and r.batch_size == B


# ----------------------------------------------------------------------------- unusable user code
def _problem_report(f) -> Report:
    params, x, y = rnn_problem()
    r = check(f, params, x, y, seq_axis=1)
    assert not r.ok and r.errors and not r.hints
    r.format()  # always renders
    return r


def test_code_that_raises_is_reported_with_the_users_line():
    def loss_and_grads(params, inputs, targets):
        raise ValueError("shapes (4,6) and (7,6) not aligned")

    r = _problem_report(loss_and_grads)
    assert "loss_and_grads raised ValueError: shapes (4,6) and (7,6) not aligned" in r.errors[0]
    assert "test_doctor.py, line" in r.errors[0] and 'raise ValueError("shapes' in r.errors[0]
    assert "Problems:" in r.format() and "could not be compared" in r.format()


def test_code_that_raises_only_when_a_parameter_moves():
    correct, params0 = rnn(), rnn_problem()[0]

    def touchy(params, inputs, targets):
        if params["Wy"][0, 0] != params0["Wy"][0, 0]:
            raise RuntimeError("do not touch")
        return correct(params, inputs, targets)

    r = _problem_report(touchy)
    assert any("while Wy[0, 0] was changed by ±1e-05" in e and "RuntimeError" in e for e in r.errors)
    assert r.params["Wx"].ok


@pytest.mark.parametrize("change,expected", [
    (lambda g: {("d" + k): v for k, v in g.items()},
     ["no entry for 'Wx', 'Wh', 'b', 'Wy', 'by'", "name each gradient exactly like its parameter"]),
    (lambda g: {**g, "b": g["b"][:, None]}, ["grads['b'] has shape (6, 1) but params['b'] has shape (6,)"]),
    (lambda g: {**g, "Wx": g["Wx"].T}, ["has shape (6, 3) but params['Wx'] has shape (3, 6): transposed"]),
    (lambda g: {**g, "Wh": g["Wh"] * np.nan}, ["grads['Wh'] contains NaN"]),
    (lambda g: {**g, "by": None}, ["grads['by'] is None"]),
    (lambda g: {**g, "by": "oops"}, ["grads['by'] is not an array of numbers"]),
    (lambda g: tuple(g.values()), ["must be a dict with the parameter names as keys", "tuple"]),
])
def test_wrong_gradients_output_is_reported(change, expected):
    correct = rnn()

    def f(params, inputs, targets):
        loss, g = correct(params, inputs, targets)
        return loss, change(g)

    text = " ".join(_problem_report(f).errors)
    for phrase in expected:
        assert phrase in text, text


@pytest.mark.parametrize("result,expected", [
    (lambda loss, g: (np.nan, g), "the loss is nan"),
    (lambda loss, g: (np.full(4, loss), g), "the loss must be one number"),
    (lambda loss, g: ("loss", g), "the loss must be a number"),
    (lambda loss, g: loss, "must return (loss, grads)"),
    (lambda loss, g: (loss, g, None), "must return (loss, grads)"),
])
def test_wrong_loss_output_is_reported(result, expected):
    correct = rnn()

    def f(params, inputs, targets):
        return result(*correct(params, inputs, targets))

    assert expected in " ".join(_problem_report(f).errors)


def test_exit_and_randomness_in_user_code_are_reported():
    def quits(params, inputs, targets):
        sys.exit(3)

    assert "called exit(3)" in _problem_report(quits).errors[0]
    correct, rng = rnn(), np.random.default_rng(0)

    def noisy(params, inputs, targets):
        loss, g = correct(params, inputs, targets)
        return loss + rng.normal() * 1e-3, g

    assert "different loss on identical calls" in _problem_report(noisy).errors[0]


def test_bad_arguments_are_reported():
    params, x, y = rnn_problem()
    assert "not callable" in check(42, params, x, y).errors[0]
    assert "params must be a non-empty dict" in check(rnn(), [1, 2], x, y).errors[0]
    assert "not an array of numbers" in check(rnn(), {**params, "Wx": object()}, x, y).errors[0]
    r = check(rnn(), params, x, y, seq_axis=5)
    assert r.ok and "seq_axis=5 does not fit" in r.notes[0]


def test_float32_parameters_are_checked_in_float64():
    params, x, y = rnn_problem()
    p32 = {k: v.astype(np.float32) for k, v in params.items()}
    r = check(rnn(), p32, x, y, seq_axis=1)
    assert r.ok and "float64" in " ".join(r.notes)
    assert all(v.dtype == np.float32 for v in p32.values())


# ----------------------------------------------------------------------------- size and transport
def test_a_big_model_checks_on_a_seeded_subset():
    # how long it takes is benchmarks/bench_doctor.py's business; here: what gets checked
    rng = np.random.default_rng(0)
    model = engine.RNN(50, 100, 50, seed=1)
    x, y = rng.integers(0, 50, (1, 25)), rng.integers(0, 50, (1, 25))
    r = check(engine_fn(model, reduction="sum"), dict(model.params), x, y, seq_axis=1, max_entries=100)
    assert r.ok
    assert r.params["W_hh"].checked == 100 and r.params["W_hh"].size == 10_000
    assert r.params["b_h"].checked == 100  # small parameters are checked in full
    assert "seeded sample" in " ".join(r.notes) and "W_hh 100 of 10000" in " ".join(r.notes)
    assert np.isnan(r.diff["W_hh"]).sum() == 10_000 - 100
    again = check(engine_fn(model, reduction="sum"), dict(model.params), x, y, seq_axis=1, max_entries=100)
    np.testing.assert_array_equal(np.isnan(again.diff["W_hh"]), np.isnan(r.diff["W_hh"]))  # seeded


def test_report_round_trips_through_json():
    params, x, y = rnn_problem()
    r = check(rnn("drop_dh_next"), params, x, y, seq_axis=1)
    back = Report.from_dict(json.loads(json.dumps(r.to_dict())))
    assert back.format() == r.format()
    assert back.first_bad_length == 2 and back.length_errors.keys() == r.length_errors.keys()
    for k in params:
        np.testing.assert_array_equal(back.diff[k], r.diff[k])
        assert back.worst[k] == r.worst[k]
