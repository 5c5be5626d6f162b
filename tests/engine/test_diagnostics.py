"""Gradient-flow diagnostics against brute force (finite differences on the hidden state, explicit
Jacobians, exact SVD/eigenvalues), and the properties the product demonstrates."""

from __future__ import annotations

import numpy as np
import pytest

from bpttviz import engine
from bpttviz.engine.gradients import diagnostics as dg
from bpttviz.engine.gradients.gradcheck import numerical_gradient
from bpttviz.engine.nn.losses import cross_entropy
from bpttviz.engine.nn.optim import Clipper, apply_update, make_optimizer

MODELS = {"rnn": engine.RNN, "lstm": engine.LSTM, "gru": engine.GRU}


def make(kind: str, D: int = 3, H: int = 4, O: int = 3, seed: int = 0, **kw):
    model = MODELS[kind](D, H, O, seed=seed, **kw)
    rng = np.random.default_rng(seed + 50)
    for p in model.params.values():
        p += 0.3 * rng.standard_normal(p.shape)
    return model


def batch(rng, B=2, T=6, D=3, O=3):
    return rng.standard_normal((B, T, D)), rng.integers(0, O, (B, T))


def states_after(model, x, h0, t):
    """The state tuple after step t (t = -1: h0)."""
    if t < 0:
        return tuple(np.array(s, dtype=float) for s in h0)
    return tuple(np.array(s) for s in model.forward(x[:, :t + 1], h0=h0)[1])


def last_loss_from(model, x, y_last, state, t, reduction):
    """L_{T-1} as a function of the state after step t (brute force)."""
    T = x.shape[1]
    if t == T - 1:
        y = state[0] @ model.params["W_hy"] + model.params["b_y"]
        total = float(cross_entropy(y, y_last)[0].sum())
        return total / len(y_last) if reduction == "mean" else total
    return model.loss_and_grads(x[:, t + 1:], y_last, h0=state, output="last", reduction=reduction)[0]


# ---------------------------------------------------------------------------- gradient_decay
@pytest.mark.parametrize("kind", MODELS)
@pytest.mark.parametrize("reduction", ["mean", "sum"])
def test_gradient_decay_equals_finite_differences_on_the_hidden_state(kind, reduction):
    rng = np.random.default_rng(1)
    model = make(kind)
    x, y = batch(rng)
    B, T = y.shape
    h0 = tuple(0.3 * rng.standard_normal((B, 4)) for _ in model.STATE)
    decay = dg.gradient_decay(model, x, y, h0=h0, reduction=reduction)
    assert decay.shape == (T,)
    for k in range(T):
        t = T - 1 - k
        state = states_after(model, x, h0, t)

        def loss(state=state, t=t):
            return last_loss_from(model, x, y[:, -1], state, t, reduction)

        g = numerical_gradient(loss, state[0])  # perturbs h_t in place, c_t held fixed
        assert decay[k] == pytest.approx(np.linalg.norm(g), rel=1e-6, abs=1e-10)


def test_lstm_cell_state_decay_equals_finite_differences():
    rng = np.random.default_rng(2)
    model = make("lstm")
    x, y = batch(rng)
    B, T = y.shape
    h0 = (np.zeros((B, 4)), 0.5 * rng.standard_normal((B, 4)))
    decay = dg.gradient_decay(model, x, y, h0=h0, state="c")
    o = [r.extras["o"] for r in model.steps(x, y, h0=h0) if r.phase == "forward"]
    for k in range(T):
        t = T - 1 - k
        state = states_after(model, x, h0, t)

        def loss(state=state, t=t):  # c_t reaches the loss through c_{t+1} and h_t = o_t tanh(c_t)
            h = o[t] * np.tanh(state[1])
            return last_loss_from(model, x, y[:, -1], (h, state[1]), t, "mean")

        g = numerical_gradient(loss, state[1])
        assert decay[k] == pytest.approx(np.linalg.norm(g), rel=1e-6, abs=1e-10)


def test_gradient_decay_many_to_one_is_the_whole_loss():
    rng = np.random.default_rng(3)
    model = make("gru")
    x, y = batch(rng)
    d_all = dg.gradient_decay(model, x, y)
    d_last = dg.gradient_decay(model, x, y[:, -1], output="last")
    np.testing.assert_array_equal(d_all, d_last)


@pytest.mark.parametrize("kind", MODELS)
def test_gradient_decay_respects_window_truncation(kind):
    rng = np.random.default_rng(4)
    model = make(kind)
    x, y = batch(rng, T=7)
    full = dg.gradient_decay(model, x, y)
    assert np.all(full > 0)
    for k in (1, 3, 7, 10):
        d = dg.gradient_decay(model, x, y, truncation=k)
        kk = min(k, 7)
        np.testing.assert_array_equal(d[:kk], full[:kk])
        assert np.all(d[kk:] == 0.0)


def test_gradient_decay_rejects_unknown_state():
    model = make("gru")
    x, y = batch(np.random.default_rng(0))
    with pytest.raises(ValueError, match="state"):
        dg.gradient_decay(model, x, y, state="c")
    with pytest.raises(ValueError, match="model"):
        dg.gradient_decay(engine.MLP([2, 3, 2]), x, y)


# ---------------------------------------------------------------------------- delta norms
@pytest.mark.parametrize("kind", MODELS)
def test_delta_norms_equal_finite_differences_of_the_full_loss(kind):
    """dL/dh_t = (what the output at t sends) + d(losses after t)/dh_t, both by brute force."""
    rng = np.random.default_rng(5)
    model = make(kind)
    x, y = batch(rng)
    B, T = y.shape
    h0 = tuple(np.zeros((B, 4)) for _ in model.STATE)
    norms = dg.delta_norms(model, x, y, reduction="sum")
    assert norms.shape == (T,)
    for t in range(T):
        state = states_after(model, x, h0, t)

        def loss(state=state, t=t):
            yt = state[0] @ model.params["W_hy"] + model.params["b_y"]
            here = float(cross_entropy(yt, y[:, t])[0].sum())
            later = (model.loss_and_grads(x[:, t + 1:], y[:, t + 1:], h0=state, reduction="sum")[0]
                     if t < T - 1 else 0.0)
            return here + later

        g = numerical_gradient(loss, state[0])
        assert norms[t] == pytest.approx(np.linalg.norm(g), rel=1e-6, abs=1e-10)


def test_delta_norms_with_window_one_are_the_output_deltas_alone():
    rng = np.random.default_rng(6)
    model = make("lstm")
    x, y = batch(rng)
    norms = dg.delta_norms(model, x, y, truncation=1)
    records = list(model.steps(x, y))
    dy = next(r for r in records if r.phase == "loss").dy  # (B, T, O)
    expected = np.linalg.norm(dy @ model.params["W_hy"].T, axis=(0, 2))
    np.testing.assert_allclose(norms, expected, rtol=1e-12)
    np.testing.assert_allclose(dg.delta_norms_from_records(records), dg.delta_norms(model, x, y), rtol=0)
    with pytest.raises(ValueError, match="records"):
        dg.delta_norms_from_records(records[:3])


# ---------------------------------------------------------------------------- Jacobians
@pytest.mark.parametrize("kind", MODELS)
def test_jacobian_products_equal_finite_difference_jacobians(kind):
    rng = np.random.default_rng(7)
    model = make(kind)
    x, _ = batch(rng, B=2, T=5)
    T, H = 5, 4
    h0 = tuple(0.2 * rng.standard_normal((2, H)) for _ in model.STATE)
    P = dg.jacobian_products(model, x, h0=h0, example=1)
    assert P.shape == (T, H, H)
    np.testing.assert_array_equal(P[0], np.eye(H))
    x1, h01 = x[1:2], tuple(s[1:2] for s in h0)
    for k in range(1, T):
        start = T - 1 - k
        state = states_after(model, x1, h01, start)
        J = np.empty((H, H))
        for j in range(H):
            eps = 1e-6
            hp = [s.copy() for s in state]
            hm = [s.copy() for s in state]
            hp[0][0, j] += eps
            hm[0][0, j] -= eps
            J[:, j] = (model.forward(x1[:, start + 1:], h0=tuple(hp))[1][0][0]
                       - model.forward(x1[:, start + 1:], h0=tuple(hm))[1][0][0]) / (2 * eps)
        np.testing.assert_allclose(P[k], J, rtol=1e-6, atol=1e-9)


@pytest.mark.parametrize("activation", ["tanh", "sigmoid", "relu"])
def test_jacobian_norms_power_iteration_and_the_pascanu_bound(activation):
    rng = np.random.default_rng(8)
    model = engine.RNN(3, 6, 2, activation, seed=3)
    x = rng.standard_normal((1, 9, 3))
    exact = dg.jacobian_norms(model, x, method="svd")
    power = dg.jacobian_norms(model, x, iters=2000, tol=1e-13)
    np.testing.assert_allclose(power.norms, exact.norms, rtol=1e-6)
    np.testing.assert_array_equal(exact.spans, np.arange(9))
    sigma = np.linalg.norm(model.params["W_hh"], 2)
    gamma = engine.ACTIVATIONS[activation].gamma
    np.testing.assert_allclose(exact.reference, (sigma * gamma) ** np.arange(9), rtol=1e-12)
    assert np.all(exact.norms <= exact.reference * (1 + 1e-9))  # ||prod J|| <= (sigma gamma)^k
    # a warm start from the previous vectors needs only a few rounds
    warm = dg.jacobian_norms(model, x, iters=3, warm=power.vectors)
    np.testing.assert_allclose(warm.norms, exact.norms, rtol=1e-6)
    short = dg.jacobian_norms(model, x, max_span=3, method="svd")
    np.testing.assert_array_equal(short.norms, exact.norms[:4])


def test_gated_jacobian_norms_have_no_vanilla_reference():
    rng = np.random.default_rng(9)
    for kind in ("lstm", "gru"):
        jn = dg.jacobian_norms(make(kind), rng.standard_normal((1, 5, 3)))
        assert jn.reference is None and jn.norms.shape == (5,)


# ---------------------------------------------------------------------------- the recurrent matrix
@pytest.mark.parametrize("H", [2, 10, 60])
def test_power_iteration_matches_svd_and_eigenvalues(H):
    rng = np.random.default_rng(H)
    W = rng.standard_normal((H, H)) / np.sqrt(H)
    sigma, v = dg.largest_singular_value(W, iters=5000, tol=1e-14)
    assert sigma == pytest.approx(np.linalg.norm(W, 2), rel=1e-8)
    rho, Q = dg.spectral_radius(W, iters=3000, tol=1e-13)
    assert rho == pytest.approx(np.max(np.abs(np.linalg.eigvals(W))), rel=1e-6)
    # warm starts: W drifts a little (an optimiser step), a few rounds recover the answer
    W2 = W + 1e-3 * rng.standard_normal((H, H))
    sigma2, _ = dg.largest_singular_value(W2, v, iters=30)
    assert sigma2 == pytest.approx(np.linalg.norm(W2, 2), rel=1e-4)
    rho2, _ = dg.spectral_radius(W2, Q, iters=30)
    assert rho2 == pytest.approx(np.max(np.abs(np.linalg.eigvals(W2))), rel=1e-3)


def test_spectral_radius_of_a_rotation_pair():
    """Complex-conjugate dominant eigenvalues (a scaled rotation): single-vector power iteration
    would oscillate; the block iteration finds the modulus."""
    c, s = np.cos(0.7), np.sin(0.7)
    W = np.zeros((5, 5))
    W[:2, :2] = 1.3 * np.array([[c, -s], [s, c]])
    W[2:, 2:] = np.diag([0.5, -0.4, 0.2])
    rho, _ = dg.spectral_radius(W)
    assert rho == pytest.approx(1.3, rel=1e-8)


def test_recurrent_matrices_are_the_gate_blocks():
    H = 3
    assert set(dg.recurrent_matrices(engine.RNN(2, H, 2))) == {"W_hh"}
    lstm = engine.LSTM(2, H, 2)
    blocks = dg.recurrent_matrices(lstm)
    assert list(blocks) == ["W_hi", "W_hf", "W_hg", "W_ho"]
    np.testing.assert_array_equal(blocks["W_hg"], lstm.params["W_h"][:, 2 * H:3 * H])
    assert list(dg.recurrent_matrices(engine.GRU(2, H, 2))) == ["W_hr", "W_hz", "W_hn"]


# ---------------------------------------------------------------------------- what the product shows
def test_contracting_tanh_rnn_decays_at_least_geometrically():
    """||W_hh||_2 = 0.5 and |tanh'| <= 1: each step back multiplies the delta by at most 0.5."""
    rng = np.random.default_rng(10)
    model = engine.RNN(4, 16, 4, seed=1)
    W = model.params["W_hh"]
    W *= 0.5 / np.linalg.norm(W, 2)
    x, y = rng.standard_normal((3, 20, 4)), rng.integers(0, 4, (3, 20))
    d = dg.gradient_decay(model, x, y)
    assert np.all(d[1:] <= 0.5 * d[:-1] * (1 + 1e-12))
    assert np.all(d <= d[0] * 0.5 ** np.arange(20) * (1 + 1e-12))


def test_expanding_linear_regime_rnn_grows():
    """All singular values 1.5 and tiny inputs (tanh' ~ 1): the delta grows ~1.5x per step back."""
    rng = np.random.default_rng(11)
    model = engine.RNN(4, 16, 4, seed=1, recurrent_init="orthogonal", recurrent_scale=1.5)
    x = 1e-6 * rng.standard_normal((2, 15, 4))
    y = rng.standard_normal((2, 15, 4))
    d = dg.gradient_decay(model, x, y, loss="mse")
    ratios = d[1:] / d[:-1]
    assert np.all(ratios > 1.49), ratios
    assert d[-1] > 250 * d[0]  # 1.5^14 ~ 292


def test_lstm_with_forget_bias_keeps_more_error_30_steps_back_than_a_vanilla_rnn(record_property, capsys):
    """Same size, same input, same small initial weights (0.01 N(0, 1)); LSTM forget bias +1."""
    rng = np.random.default_rng(12)
    V, H, T = 10, 32, 40
    x, y = rng.integers(0, V, (4, T)), rng.integers(0, V, (4, T))
    rnn = engine.RNN(V, H, V, seed=1, init="small")
    lstm = engine.LSTM(V, H, V, seed=1, init="small", forget_bias=1.0)
    d_rnn = dg.gradient_decay(rnn, x, y)
    d_lstm = dg.gradient_decay(lstm, x, y)
    d_cell = dg.gradient_decay(lstm, x, y, state="c")
    frac_rnn, frac_lstm, frac_cell = d_rnn[30] / d_rnn[0], d_lstm[30] / d_lstm[0], d_cell[30] / d_cell[0]
    record_property("fraction_30_back_rnn", float(frac_rnn))
    record_property("fraction_30_back_lstm_h", float(frac_lstm))
    record_property("fraction_30_back_lstm_c", float(frac_cell))
    with capsys.disabled():
        print(f"\nfraction of the final error 30 steps back: tanh RNN {frac_rnn:.3e}, "
              f"LSTM (forget bias +1) h {frac_lstm:.3e}, c {frac_cell:.3e}")
    assert frac_lstm > 1e6 * frac_rnn
    assert frac_cell > frac_lstm


# ---------------------------------------------------------------------------- clipping and the loop object
def _updates(model, x, y, n, threshold):
    opt, clip = make_optimizer("sgd", 0.1), Clipper("norm", threshold)
    out = []
    for i in range(n):
        _, g = model.loss_and_grads(x, y)
        out.append(apply_update(model.params, g, opt, clip, i))
    return out


def test_clip_log_collects_pre_clip_norms_and_events():
    rng = np.random.default_rng(13)
    model = make("rnn")
    x, y = batch(rng)
    ups = _updates(model, x, y, 4, threshold=1e-3)
    log = dg.clip_log(ups + ["not an update"])
    np.testing.assert_array_equal(log.iterations, [0, 1, 2, 3])
    np.testing.assert_array_equal(log.norms, [u.norm for u in ups])
    assert log.clipped.all() and np.all(log.scales < 1)
    np.testing.assert_array_equal(log.events, [0, 1, 2, 3])
    none = dg.clip_log(_updates(model, x, y, 2, threshold=1e9))
    assert not none.clipped.any() and none.events.size == 0


@pytest.mark.parametrize("kind", MODELS)
def test_diagnostics_object_fixed_cadence(kind):
    rng = np.random.default_rng(14)
    model = make(kind)
    x, y = batch(rng)
    diag = dg.Diagnostics(every=3)
    opt, clip = make_optimizer("sgd", 0.05), Clipper("norm", 0.5)
    ran = []
    for i in range(7):
        _, g = model.loss_and_grads(x, y, truncation=4)
        up = apply_update(model.params, g, opt, clip, i)
        snap = diag.step(i, model, x, y, update=up, truncation=4)
        if snap is not None:
            ran.append(i)
            np.testing.assert_array_equal(snap.decay, dg.gradient_decay(model, x, y, truncation=4))
            np.testing.assert_allclose(snap.deltas, dg.delta_norms(model, x, y, truncation=4), rtol=0)
            assert (snap.decay_c is not None) == (kind == "lstm")
            assert set(snap.sigma_max) == set(dg.recurrent_matrices(model))
            assert set(snap.spectral_radius) == ({"W_hh"} if kind == "rnn" else set())
            assert diag.spectral.iterations[-1] == i and diag.decay_history[-1][0] == i
            for name, W in dg.recurrent_matrices(model).items():
                # the spectrum: power iteration from a fixed start, converged
                assert snap.sigma_max[name] == pytest.approx(np.linalg.norm(W, 2), rel=1e-3)
            assert snap.jacobian.norms.shape == (6,)
            assert snap.seconds > 0
    assert ran == [0, 3, 6]
    assert diag.latest.iteration == 6
    log = diag.clip_log()
    assert len(log.norms) == 7 and log.iterations[-1] == 6


def test_diagnostics_uses_the_callers_records_and_budget_throttle():
    rng = np.random.default_rng(15)
    model = make("rnn")
    x, y = batch(rng)
    diag = dg.Diagnostics(budget=0.1, jacobian=False)
    records = list(model.steps(x, y))
    first = diag.step(0, model, x, y, records=records)
    assert first is not None and first.jacobian is None
    np.testing.assert_array_equal(first.deltas, dg.delta_norms_from_records(records))
    # no training time has passed since: the budget says wait
    assert diag.step(1, model, x, y) is None
    diag._train_seconds = 20 * first.seconds  # as if 20 pass-costs of training went by
    assert diag.due(2)
    with pytest.raises(ValueError, match="budget"):
        dg.Diagnostics(budget=0)
    with pytest.raises(ValueError, match="options"):
        diag.run(3, model, x, y, bogus=1)


# ---------------------------------------------------------------------------- the one pipeline
def test_spectrum_is_a_function_of_the_weights_and_close_to_exact():
    for kind in MODELS:
        model = make(kind, H=5)
        values = dg.spectrum(model)
        assert values == dg.spectrum(model)  # fixed start: the same weights, the same numbers
        want = {f"σ_max({n})" for n in dg.recurrent_matrices(model)}
        want |= {"ρ(W_hh) spectral radius"} if kind == "rnn" else set()
        assert set(values) == want
        for name, W in dg.recurrent_matrices(model).items():
            assert values[f"σ_max({name})"] == pytest.approx(np.linalg.norm(W, 2), rel=1e-6)
            # exactly the cold power iteration the weights view has always plotted
            assert values[f"σ_max({name})"] == dg.largest_singular_value(W, None, iters=dg.SPECTRUM_ITERS)[0]
        if kind == "rnn":
            assert values["ρ(W_hh) spectral radius"] == dg.spectral_radius(model.params["W_hh"], None,
                                                                           iters=dg.SPECTRUM_ITERS)[0]
            rho = np.max(np.abs(np.linalg.eigvals(model.params["W_hh"])))
            assert values["ρ(W_hh) spectral radius"] == pytest.approx(rho, rel=1e-4)  # 60 rounds, block of 4
    mlp = engine.MLP([3, 4, 2], seed=0)
    assert {k: pytest.approx(np.linalg.norm(mlp.params[k[6:-1]], 2), rel=1e-6) for k in dg.spectrum(mlp)} == \
        dg.spectrum(mlp) and set(dg.spectrum(mlp)) == {"σ_max(W1)", "σ_max(W2)"}
    bad = make("rnn")
    bad.params["W_hh"][0, 0] = np.nan
    assert all(np.isnan(v) for v in dg.spectrum(bad).values())


def test_spectral_history_keeps_points_and_round_trips_through_json():
    h = dg.SpectralHistory(capacity=4)
    for it in range(6):
        h.add(it, {"a": float(it), "b": float("nan") if it == 3 else -it})
    h.add(5, {"a": 99.0, "b": 99.0})  # the same iteration again: ignored
    x, s = h.data()
    np.testing.assert_array_equal(x, [2, 3, 4, 5])
    np.testing.assert_array_equal(s["a"], [2, 3, 4, 5])
    x, s = h.data(until=3)
    np.testing.assert_array_equal(x, [2, 3])
    np.testing.assert_array_equal(s["a"], [2, 3])
    back = dg.SpectralHistory.from_json(h.to_json(), capacity=4)
    assert list(back.iterations) == [2, 3, 4, 5] and np.isnan(back.values["b"][1])
    back.drop_after(3)
    assert list(back.iterations) == [2, 3] and list(back.values["a"]) == [2.0, 3.0]
    for bad in ({}, {"iterations": [1.5], "values": {}}, {"iterations": [1], "values": {"a": [1, 2]}}):
        with pytest.raises(ValueError, match="spectral history"):
            dg.SpectralHistory.from_json(bad)


@pytest.mark.parametrize("kind", MODELS)
def test_decay_is_the_decay_curves_and_the_jacobian_lines(kind):
    rng = np.random.default_rng(17)
    model = make(kind)
    x, y = batch(rng)
    diag = dg.Diagnostics(power_iters=6, cold_iters=30)
    got = diag.decay(model, x, y, truncation=4, key="first")
    np.testing.assert_array_equal(got.curve, dg.gradient_decay(model, x, y, truncation=4))
    if kind == "lstm":
        np.testing.assert_array_equal(got.cell, dg.gradient_decay(model, x, y, state="c", truncation=4))
    else:
        assert got.cell is None
    cold = dg.jacobian_norms(model, x, iters=30)
    np.testing.assert_array_equal(got.jacobian, cold.norms)  # the first call starts cold
    if kind == "rnn":
        sigma = float(np.linalg.norm(model.params["W_hh"], 2))
        assert got.sigma == sigma
        np.testing.assert_array_equal(got.reference, cold.reference)
    else:
        assert got.sigma is None and got.reference is None
    assert diag.decay(model, x, y, truncation=4, key="first") is got  # cached by key
    again = diag.decay(model, x, y, truncation=4, key="second")  # warm-started from the first call's vectors
    warm = dg.jacobian_norms(model, x, iters=6, warm=cold.vectors)
    np.testing.assert_array_equal(again.jacobian, warm.norms)
    over = dg.Diagnostics(jacobian_budget=1.0).decay(model, x, y)
    assert over.jacobian is None and over.reference is None and over.sigma is None
    assert dg.jacobian_cost(4, 6) == 5 * 64


def test_decay_history_remembers_whole_curves_once():
    diag = dg.Diagnostics(decay_capacity=3)
    diag.remember_decay(1, np.array([1.0, 0.5]))
    diag.remember_decay(1, np.array([9.0, 9.0]))  # the same iteration: kept once
    diag.remember_decay(2, np.array([1.0, np.nan]))  # not whole yet: not kept
    for it in (3, 4, 5):
        diag.remember_decay(it, np.array([1.0, 1.0 / it]))
    assert [it for it, _ in diag.decay_history] == [3, 4, 5]
    assert [c[1] for c in diag.earlier_decays(5)] == [1 / 3, 1 / 4]
    assert len(diag.earlier_decays(99, count=1)) == 1
    saved = diag.histories_json()
    other = dg.Diagnostics()
    other.measure(0, make("rnn"))
    assert other.load_histories(saved["spectral"], saved["decay_history"], iteration=4)
    assert [it for it, _ in other.decay_history] == [3, 4]  # later iterations dropped
    assert not other.load_histories({"bad": 1}, None, iteration=4)  # malformed: the history stays
    assert [it for it, _ in other.decay_history] == [3, 4]


def test_the_spectrum_throttle_follows_the_clock():
    now = [100.0]
    diag = dg.Diagnostics(min_interval=0.25, clock=lambda: now[0])
    assert diag.spectrum_due()
    model = make("gru")
    diag.measure(0, model)
    assert not diag.spectrum_due()
    now[0] += 0.24
    assert not diag.spectrum_due()
    now[0] += 0.02
    assert diag.spectrum_due()
    diag.measure(1, model)
    assert len(diag.spectral) == 2
    diag.reset()
    assert len(diag.spectral) == 0 and not diag.decay_history
    with pytest.raises(ValueError, match="min_interval"):
        dg.Diagnostics(min_interval=-1)
