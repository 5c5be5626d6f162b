"""The attribution matrix, the chain-rule path, connectivity and the what-if transforms, against
brute force: finite differences of one loss term at a time, the engine's own backward records,
and finite differences of the outputs."""

from __future__ import annotations

import numpy as np
import pytest

from bpttviz import engine
from bpttviz.engine.gradients import attribution as at
from bpttviz.engine.gradients import diagnostics as dg
from bpttviz.engine.gradients.gradcheck import numerical_gradient
from bpttviz.engine.nn.losses import cross_entropy
from bpttviz.engine.records import BackwardStep
from bpttviz.engine.trace import Trace

MODELS = {"rnn": engine.RNN, "lstm": engine.LSTM, "gru": engine.GRU}
TRUNCATIONS = [None, 1, 2, 4]


def make(kind: str, D: int = 3, H: int = 4, O: int = 3, seed: int = 0, **kw):
    model = MODELS[kind](D, H, O, seed=seed, **kw)
    rng = np.random.default_rng(seed + 50)
    for p in model.params.values():
        p += 0.4 * rng.standard_normal(p.shape)
    return model


def batch(rng, B=2, T=6, D=3, O=3):
    return rng.standard_normal((B, T, D)), rng.integers(0, O, (B, T))


def state_after(model, x, h0, t):
    """The state tuple after step t (t = -1: h0), fresh copies."""
    if t < 0:
        return tuple(np.array(s, dtype=float) for s in h0)
    return tuple(np.array(s) for s in model.forward(x[:, :t + 1], h0=h0)[1])


def term_loss(model, x, y, state, t, tp, reduction):
    """L_tp alone as a function of the state after step t (brute force)."""
    if tp == t:
        out = state[0] @ model.params["W_hy"] + model.params["b_y"]
        total = float(cross_entropy(out, y[:, tp])[0].sum())
    else:
        total = model.loss_and_grads(x[:, t + 1:tp + 1], y[:, tp], h0=state, output="last", reduction="sum")[0]
    return total / len(y) if reduction == "mean" else total


# ---------------------------------------------------------------------------- exactness
@pytest.mark.parametrize("kind", MODELS)
@pytest.mark.parametrize("k", TRUNCATIONS)
def test_every_cell_equals_finite_differences_of_its_loss_term_alone(kind, k):
    rng = np.random.default_rng(7)
    model = make(kind)
    x, y = batch(rng)
    B, T = y.shape
    h0 = tuple(0.3 * rng.standard_normal((B, 4)) for _ in model.STATE)
    att = at.attribution(model, x, y, h0=h0, truncation=k, parts=True)
    assert att.A.shape == (T, T) and att.parts.shape == (T, T, B, 4)
    for t in range(T):
        for tp in range(T):
            if tp < t or (k is not None and tp - t >= k):
                assert att.A[t, tp] == 0.0 and not att.parts[t, tp].any()
                continue
            state = state_after(model, x, h0, t)
            g = numerical_gradient(lambda s=state, t=t, tp=tp: term_loss(model, x, y, s, t, tp, "mean"), state[0])
            np.testing.assert_allclose(att.parts[t, tp], g, rtol=1e-6, atol=1e-10)
            assert att.A[t, tp] == pytest.approx(np.linalg.norm(g), rel=1e-6, abs=1e-10)
            assert att.A[t, tp] > 0


def test_lstm_cell_state_parts_equal_finite_differences():
    rng = np.random.default_rng(8)
    model = make("lstm")
    x, y = batch(rng)
    B, T = y.shape
    h0 = (np.zeros((B, 4)), 0.5 * rng.standard_normal((B, 4)))
    att = at.attribution(model, x, y, h0=h0, truncation=3, reduction="sum")
    o = [r.extras["o"] for r in model.steps(x, y, h0=h0) if r.phase == "forward"]
    for t in range(T):
        for tp in range(t, min(T, t + 3)):
            state = state_after(model, x, h0, t)

            def loss(s=state, t=t, tp=tp):  # c_t reaches L_tp through c_{t+1} and h_t = o_t tanh(c_t)
                return term_loss(model, x, y, (o[t] * np.tanh(s[1]), s[1]), t, tp, "sum")

            g = numerical_gradient(loss, state[1])
            assert att.A_c[t, tp] == pytest.approx(np.linalg.norm(g), rel=1e-6, abs=1e-10)
    assert np.all(att.A_c[att.mask() == 0] == 0)


@pytest.mark.parametrize("kind", MODELS)
@pytest.mark.parametrize("k", TRUNCATIONS + [6, 50])
@pytest.mark.parametrize("output", ["all", "last"])
def test_row_sums_are_the_engines_backward_dh(kind, k, output):
    rng = np.random.default_rng(9)
    model = make(kind)
    x, y = batch(rng, B=3, T=7)
    tg = y if output == "all" else y[:, -1]
    att = at.attribution(model, x, tg, truncation=k, output=output, parts=True, reduction="sum")
    trace = Trace(model.steps(x, tg, truncation=k, output=output, reduction="sum"))
    dh = trace.series(BackwardStep, "dh")
    np.testing.assert_allclose(att.parts.sum(1), dh, rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(att.dh_norm, np.sqrt((dh ** 2).sum((1, 2))), rtol=1e-12, atol=1e-15)
    assert np.all(att.A[~att.mask()] == 0.0)
    if output == "last":
        assert not att.A[:, :-1].any()
    # the summed deltas are the records' own (what the deltas view draws for a what-if)
    for name in ("dh", "dh_out", "dpre"):
        np.testing.assert_allclose(att.totals[name], trace.series(BackwardStep, name), rtol=1e-12, atol=1e-15)
    if kind == "lstm":
        backs = sorted((r for r in trace if isinstance(r, BackwardStep)), key=lambda r: r.index)
        dc = np.stack([r.extras["dc"] for r in backs])
        np.testing.assert_allclose(att.totals["dc"], dc, rtol=1e-12, atol=1e-15)
    else:
        assert "dc" not in att.totals


@pytest.mark.parametrize("kind", MODELS)
@pytest.mark.parametrize("k", [None, 3])
def test_weight_parts_sum_to_each_steps_recurrent_gradient(kind, k):
    """A_w[t, t'] is the norm of the part of step t's dL/dW_h that comes from L_t' (one source
    pushed back alone), and the parts sum to the backward record's contribution."""
    rng = np.random.default_rng(10)
    model = make(kind)
    x, y = batch(rng, B=2, T=5)
    att = at.attribution(model, x, y, truncation=k, parts=True)
    recs = {r.index: r for r in model.steps(x, y, truncation=k) if isinstance(r, BackwardStep)}
    # brute force: each single source's delta pushed one step through the cell gives its d(ah)
    model_fw = at._prepare(model, x, y, None, model._options("mean", k, "all", "cross_entropy"))
    for t in range(5):
        total = np.zeros_like(recs[t].grads[model.W_H])
        for tp in range(t, 5):
            if k is not None and tp - t >= k:
                assert att.A_w[t, tp] == 0.0
                continue
            D = _single_source(model, x, y, k, t, tp)
            np.testing.assert_allclose(D[0][0], att.parts[t, tp], rtol=1e-12, atol=1e-15)
            _, dah, _ = model._step_backward(D, t, model_fw)
            g = model_fw.cell["h"][t].T @ dah[0]
            assert att.A_w[t, tp] == pytest.approx(np.linalg.norm(g), rel=1e-9, abs=1e-14)
            total += g
        np.testing.assert_allclose(total, recs[t].grads[model.W_H], rtol=1e-9, atol=1e-14)


def _single_source(model, x, y, k, t, tp):
    """The state deltas (LSTM: dh and the carousel's dc) that the loss term tp alone sends to
    step t: one source pushed back step by step (no stack)."""
    opts = model._options("mean", k, "all", "cross_entropy")
    fw = at._prepare(model, x, y, None, opts)
    out = at._output_deltas(model, fw, opts)
    D = (out[tp][None],) + tuple(np.zeros((1,) + out.shape[1:]) for _ in model.STATE[1:])
    for i in range(tp, t, -1):
        D = model._step_backward(D, i, fw)[2]
    return D


@pytest.mark.parametrize("kind", MODELS)
def test_last_column_is_the_decay_curve(kind):
    rng = np.random.default_rng(11)
    model = make(kind)
    x, y = batch(rng)
    for k in (None, 3):
        att = at.attribution(model, x, y, truncation=k)
        np.testing.assert_allclose(att.decay, dg.gradient_decay(model, x, y, truncation=k), rtol=1e-12, atol=0)
        if kind == "lstm":
            np.testing.assert_allclose(att.decay_c, dg.gradient_decay(model, x, y, state="c", truncation=k),
                                       rtol=1e-12, atol=0)


def test_token_inputs_and_reach():
    rng = np.random.default_rng(12)
    model = make("rnn", D=5)
    ids = rng.integers(0, 5, (1, 8))
    y = rng.integers(0, 3, (1, 8))
    full = at.attribution(model, ids, y)
    band = at.attribution(model, ids, y, truncation=4)
    assert np.all(band.reach(0.0)[3:] == 3)  # the window: h_t' .. h_t'-3
    assert np.all(full.reach(0.0) == np.arange(8))  # untruncated: every loss reaches h_0
    assert np.all(full.A[band.mask()] == band.A[band.mask()])


def test_attribution_refuses_bad_input():
    model = make("rnn")
    x, y = batch(np.random.default_rng(0))
    with pytest.raises(ValueError, match="model"):
        at.attribution(engine.MLP([2, 3, 2]), x, y)
    with pytest.raises(ValueError, match="truncation"):
        at.attribution(model, x, y, truncation=0)
    with pytest.raises(ValueError, match="targets"):
        at.attribution(model, x, y[:, :2])


# ---------------------------------------------------------------------------- the path
@pytest.mark.parametrize("kind", MODELS)
@pytest.mark.parametrize("k", [None, 2])
def test_path_ends_at_the_cells_part_and_its_gains_multiply_to_the_ratio(kind, k):
    rng = np.random.default_rng(13)
    model = make(kind)
    x, y = batch(rng)
    att = at.attribution(model, x, y, truncation=k, parts=True)
    for t, tp in ((0, 5), (2, 3), (4, 4), (1, 2)):
        p = at.path(model, x, y, t, tp, unit=2, example=1, truncation=k)
        assert p.value == pytest.approx(att.parts[t, tp, 1, 2], rel=1e-12, abs=1e-15)
        assert p.norm == pytest.approx(np.linalg.norm(att.parts[t, tp, 1]), rel=1e-12, abs=1e-15)
        assert len(p.steps) == tp - t
        assert p.window == (k is None or tp - t < k)
        if p.window:
            assert p.ratio == pytest.approx(np.prod([s.gain for s in p.steps]), rel=1e-10)
        for s in p.steps:  # every link's pieces recombine to the next delta
            nxt = s.value("dh_prev")
            if kind == "rnn":
                assert s.value("dz") == pytest.approx(s.value("dh") * s.value("fprime"), rel=1e-12, abs=1e-15)
                assert s.value("self") + s.value("others") == pytest.approx(nxt, rel=1e-9, abs=1e-14)
            elif kind == "gru":
                assert s.value("carry") + s.value("weights") == pytest.approx(nxt, rel=1e-9, abs=1e-14)
                assert s.value("carry") == pytest.approx(s.value("dh") * s.value("z"), rel=1e-12, abs=1e-15)
            else:
                assert s.value("dc") == pytest.approx(s.value("dc_future") + s.value("dh") * s.value("K"),
                                                      rel=1e-9, abs=1e-14)
                assert s.value("dc_prev") == pytest.approx(s.value("dc") * s.value("f"), rel=1e-12, abs=1e-15)
        ex = p.explanation()
        assert ex.term("value").value == p.value
        if p.window and tp > t:
            assert at.fmt(p.ratio) in ex.sentence and at.fmt(p.norm) in ex.sentence
        elif not p.window:
            assert "exactly 0" in ex.sentence and p.value == 0.0


def test_path_refuses_a_source_before_the_state():
    model = make("rnn")
    x, y = batch(np.random.default_rng(0))
    with pytest.raises(ValueError, match="source"):
        at.path(model, x, y, 3, 2)
    with pytest.raises(ValueError, match="unit"):
        at.path(model, x, y, 1, 2, unit=9)


# ---------------------------------------------------------------------------- connectivity
def numerical_connectivity(model, X, t, h0=None, eps=1e-6):
    B, T, D = X.shape
    C = np.zeros((B, T))
    for tp in range(T):
        for b in range(B):
            J = []
            for d in range(D):
                Xp, Xm = X.copy(), X.copy()
                Xp[b, tp, d] += eps
                Xm[b, tp, d] -= eps
                yp = model.forward(Xp, h0=h0)[0][b, t]
                ym = model.forward(Xm, h0=h0)[0][b, t]
                J.append((yp - ym) / (2 * eps))
            C[b, tp] = np.linalg.norm(np.array(J))
    return C


@pytest.mark.parametrize("kind", MODELS)
def test_connectivity_equals_finite_differences_of_the_outputs(kind):
    rng = np.random.default_rng(14)
    model = make(kind)
    X = rng.standard_normal((2, 5, 3))
    for t in (0, 2, 4):
        C = at.connectivity(model, X, t)
        np.testing.assert_allclose(C, numerical_connectivity(model, X, t), rtol=1e-6, atol=1e-9)
        assert np.all(C[:, t + 1:] == 0) and np.all(C[:, :t + 1] > 0)
    M = at.connectivity_matrix(model, X)
    np.testing.assert_allclose(M[3], at.connectivity(model, X, 3), rtol=0, atol=0)


@pytest.mark.parametrize("kind", MODELS)
def test_token_connectivity_is_the_embedding_row_gradient(kind):
    """For token ids, connectivity is ||dy_t/d(x_t' W_x)||: the same as a float-input model whose
    inputs are the embedding rows and whose input weights are the identity."""
    rng = np.random.default_rng(15)
    model = make(kind, D=6)
    ids = rng.integers(0, 6, (2, 5))
    G = model.params[model.W_X].shape[1]
    twin = MODELS[kind](G, 4, 3)
    twin.params = {n: p.copy() for n, p in model.params.items()}
    twin.params[model.W_X] = np.eye(G)
    X = model.params[model.W_X][ids]  # (B, T, G): the rows the tokens select
    for t in (1, 4):
        np.testing.assert_allclose(at.connectivity(model, ids, t), numerical_connectivity(twin, X, t),
                                   rtol=1e-6, atol=1e-9)


def test_connectivity_is_not_changed_by_truncation_and_refuses_bad_t():
    model = make("rnn")
    X = np.random.default_rng(0).standard_normal((1, 4, 3))
    with pytest.raises(ValueError, match="t: expected"):
        at.connectivity(model, X, 4)


# ---------------------------------------------------------------------------- what-if
@pytest.mark.parametrize("kind", MODELS)
def test_scale_recurrent_sets_sigma_max_and_leaves_the_original(kind):
    model = make(kind)
    before = at.snapshot(model)
    for sigma in (0.5, 1.0, 1.7):
        new = at.scale_recurrent(model, sigma)
        assert at.recurrent_sigma(new) == pytest.approx(sigma, rel=1e-12)
        assert np.linalg.svd(new.params[new.W_H], compute_uv=False)[0] == pytest.approx(sigma, rel=1e-12)
        for name in model.params:
            assert np.array_equal(model.params[name], before[name])
            if name != model.W_H:
                assert np.array_equal(new.params[name], model.params[name])
                assert new.params[name] is not model.params[name]
    with pytest.raises(ValueError, match="sigma"):
        at.scale_recurrent(model, -1)


def test_sigma_through_one_narrows_and_widens_the_band():
    """The point the what-if slider makes: below 1 the attribution falls off from the diagonal,
    above 1 (tanh near its linear regime) it does not."""
    rng = np.random.default_rng(16)
    model = engine.RNN(4, 16, 4, seed=1, init_scale=0.01)
    model.params["W_hh"][...] = np.linalg.qr(rng.standard_normal((16, 16)))[0]  # sigma_max = rho
    x = rng.standard_normal((1, 12, 4)) * 1e-3  # tiny states: tanh' stays near 1
    y = rng.integers(0, 4, (1, 12))
    small = at.attribution(at.scale_recurrent(model, 0.5), x, y)
    large = at.attribution(at.scale_recurrent(model, 1.5), x, y)
    assert small.decay[-1] / small.decay[0] < 1e-2
    assert large.decay[-1] / large.decay[0] > 1.0
    assert small.reach(1e-2).max() < large.reach(1e-2).max()


def test_forget_bias_activation_and_truncation_what_ifs():
    rng = np.random.default_rng(17)
    lstm = make("lstm")
    x, y = batch(rng)
    high = at.set_forget_bias(lstm, 5.0)
    H = lstm.hidden_size
    assert np.all(high.params["b"][H:2 * H] == 5.0) and not np.all(lstm.params["b"][H:2 * H] == 5.0)
    # f near 1 keeps the carousel open: the cell-state gradient reaches further back
    assert (at.attribution(high, x, y).decay_c[-1] / at.attribution(high, x, y).decay_c[0]
            > at.attribution(lstm, x, y).decay_c[-1] / at.attribution(lstm, x, y).decay_c[0])
    with pytest.raises(ValueError, match="forget gate"):
        at.set_forget_bias(make("gru"), 1.0)
    rnn = make("rnn")
    relu = at.with_activation(rnn, "relu")
    assert relu.activation.name == "relu" and rnn.activation.name == "tanh"
    assert not np.allclose(relu.forward(x)[0], rnn.forward(x)[0])
    with pytest.raises(ValueError, match="activation"):
        at.with_activation(lstm, "relu")
    with pytest.raises(ValueError, match="unknown activation"):
        at.with_activation(rnn, "swish")
    opts = {"reduction": "sum", "truncation": None}
    assert at.set_truncation(opts, 4) == {"reduction": "sum", "truncation": 4} and opts["truncation"] is None
    with pytest.raises(ValueError, match="truncation"):
        at.set_truncation(opts, -2)


@pytest.mark.parametrize("kind", MODELS)
def test_restore_is_bit_exact(kind):
    model = make(kind)
    trained = at.snapshot(model)
    arrays = {n: p for n, p in model.params.items()}
    raw = {n: p.tobytes() for n, p in model.params.items()}
    changed = at.what_if(model, sigma=3.3, **({"forget_bias": -2.0} if kind == "lstm" else {}),
                         **({"activation": "sigmoid"} if kind == "rnn" else {}))
    for name, p in changed.params.items():  # the app writes the what-if weights into the live model
        np.copyto(model.params[name], p)
    assert model.params[model.W_H].tobytes() != raw[model.W_H]
    at.restore(model, trained)
    for name, p in model.params.items():
        assert p is arrays[name] and p.tobytes() == raw[name]
    with pytest.raises(ValueError, match="saved"):
        at.restore(model, {"W": np.zeros(1)})


def test_what_if_frame_agrees_with_its_parts():
    rng = np.random.default_rng(18)
    model = make("rnn")
    x, y = batch(rng)
    fr = at.what_if_frame(model, x, y, t=3, truncation=4)
    att = at.attribution(model, x, y, truncation=4)
    np.testing.assert_array_equal(fr.attribution.A, att.A)
    np.testing.assert_array_equal(fr.decay, att.decay)
    np.testing.assert_allclose(fr.deltas, dg.delta_norms(model, x, y, truncation=4), rtol=1e-12)
    np.testing.assert_array_equal(fr.connectivity, at.connectivity(model, x, 3))
    sigma = np.linalg.norm(model.params["W_hh"], 2)
    assert fr.sigma == pytest.approx(sigma, rel=1e-12) and fr.gamma == 1.0
    np.testing.assert_allclose(fr.bound[:4], fr.decay[0] * sigma ** np.arange(4), rtol=1e-12)
    assert np.all(fr.decay[:4] <= fr.bound[:4] * (1 + 1e-12))  # holds per example, so for the batch


@pytest.mark.parametrize("kind", MODELS)
@pytest.mark.parametrize("k", [None, 3])
def test_large_size_path_gives_the_same_numbers(kind, k, monkeypatch):
    """Beyond the buffer limit the norms are taken step by step: same numbers."""
    rng = np.random.default_rng(19)
    model = make(kind)
    x, y = batch(rng, B=3, T=7)
    ref = at.attribution(model, x, y, truncation=k)
    monkeypatch.setattr(at, "_BUFFER_LIMIT", 0)
    big = at.attribution(model, x, y, truncation=k)
    for name in ("A", "A_c", "A_w", "dh_norm"):
        a, b = getattr(ref, name), getattr(big, name)
        if a is None:
            assert b is None
        else:
            np.testing.assert_allclose(b, a, rtol=1e-12, atol=1e-15)
    assert ref.totals.keys() == big.totals.keys()
    for name in ref.totals:
        np.testing.assert_allclose(big.totals[name], ref.totals[name], rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("kind", MODELS)
@pytest.mark.parametrize("k", [None, 2, 5])
@pytest.mark.parametrize("output", ["all", "last"])
def test_trace_setup_recomputes_the_narrated_iteration(kind, k, output):
    """From a narrated and applied iteration (the app's situation: the model has been updated),
    the setup gives back the records' inputs, state, options and weights: the attribution's rows
    sum to the records' dh."""
    from bpttviz.engine.nn.optim import Clipper, apply_update, make_optimizer

    rng = np.random.default_rng(20)
    model = make(kind)
    x, y = batch(rng, B=2, T=5)
    tg = y if output == "all" else y[:, -1]
    h0 = tuple(0.2 * rng.standard_normal((2, 4)) for _ in model.STATE)
    recs = list(model.steps(x, tg, h0=h0, truncation=k, output=output, reduction="sum"))
    recs.append(apply_update(model.params, dict(recs[-1].grads), make_optimizer("sgd", 0.5), Clipper("none", 1.0), 0))
    trace = Trace(recs)
    setup = at.trace_setup(trace, model)
    assert setup.options == {"reduction": "sum", "truncation": None if k is None or k >= 5 else k,
                             "output": output, "loss": "cross_entropy"}
    np.testing.assert_array_equal(setup.inputs, x)
    for a, b in zip(setup.h0, h0):
        np.testing.assert_array_equal(a, b)
    att = at.attribution(setup.model, setup.inputs, setup.targets, h0=setup.h0, parts=True, **setup.options)
    np.testing.assert_allclose(att.parts.sum(1), trace.series(BackwardStep, "dh"), rtol=1e-9, atol=1e-13)
    assert not np.allclose(setup.model.params[model.W_H], model.params[model.W_H])  # the weights before the update


@pytest.mark.parametrize("kind", MODELS)
@pytest.mark.parametrize("output", ["all", "last"])
def test_the_narrated_forward_pass_serves_and_is_never_written(kind, output):
    """``what_if_frame(..., forward=setup.forward)`` reuses the narrated iteration's forward pass:
    the same numbers as a fresh one, and the records (whose LSTM cell deltas are read lazily from
    the forward buffers) still say what they said before, bit for bit."""
    rng = np.random.default_rng(31)
    model = make(kind)
    x, y = batch(rng, B=2, T=6)
    tg = y if output == "all" else y[:, -1]
    trace = Trace(list(model.steps(x, tg, output=output, reduction="sum")))
    twin = Trace(list(model.steps(x, tg, output=output, reduction="sum")))  # never read before the end
    setup = at.trace_setup(trace, model)
    assert setup.forward is not None
    cached = at.what_if_frame(setup.model, setup.inputs, setup.targets, h0=setup.h0, forward=setup.forward,
                              **setup.options)
    fresh = at.what_if_frame(setup.model, setup.inputs, setup.targets, h0=setup.h0, **setup.options)
    for a, b in ((cached.attribution.A, fresh.attribution.A), (cached.attribution.A_w, fresh.attribution.A_w),
                 (cached.deltas, fresh.deltas), (cached.connectivity, fresh.connectivity)):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-300)
    if kind == "lstm":
        np.testing.assert_allclose(cached.attribution.A_c, fresh.attribution.A_c, rtol=1e-12)
    att = at.attribution(setup.model, setup.inputs, setup.targets, h0=setup.h0, forward=setup.forward,
                         **setup.options)
    np.testing.assert_allclose(att.A, fresh.attribution.A, rtol=1e-12, atol=1e-300)
    for t in (0, 3):
        np.testing.assert_allclose(at.connectivity(setup.model, setup.inputs, t, h0=setup.h0, forward=setup.forward),
                                   at.connectivity(setup.model, setup.inputs, t, h0=setup.h0), rtol=1e-12, atol=1e-300)
    lazy = at.what_if_frame(setup.model, setup.inputs, setup.targets, h0=setup.h0, forward=setup.forward,
                            connect=False, **setup.options)
    assert lazy.connectivity is None and lazy.forward is not None
    backs = [[r for r in tr if isinstance(r, BackwardStep)] for tr in (trace, twin)]
    for a, b in zip(*backs):
        assert a.extras.keys() == b.extras.keys()
        for k in a.extras:
            np.testing.assert_array_equal(a.extras[k], b.extras[k])
