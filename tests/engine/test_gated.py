"""LSTM and GRU: gradient checks over every option, step records, chunked state carry, and (when
PyTorch is installed) agreement with torch.nn.LSTM / torch.nn.GRU."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bpttviz import engine
from bpttviz.engine.gradients.gradcheck import numerical_gradient, numerical_grads, relative_error, truncated_loss_fn
from bpttviz.engine.records import BackwardStep, ForwardStep, GradientStep, LossStep

MODELS = {"lstm": engine.LSTM, "gru": engine.GRU}


def make(kind: str, D: int, H: int, O: int, seed: int = 0, jitter: float = 0.3):
    """A model whose weights and biases are all non-zero (zero biases hide bias-gradient bugs)."""
    model = MODELS[kind](D, H, O, seed=seed)
    rng = np.random.default_rng(seed + 100)
    for p in model.params.values():
        p += jitter * rng.standard_normal(p.shape)
    return model


def data(rng, B, T, D, O, *, ids: bool, loss: str, output: str):
    x = rng.integers(0, D, (B, T)) if ids else rng.standard_normal((B, T, D))
    if loss == "cross_entropy":
        y = rng.integers(0, O, (B, T) if output == "all" else (B,))
    else:
        y = rng.standard_normal((B, T, O) if output == "all" else (B, O))
    return x, y


def initial_state(model, rng, B):
    return tuple(0.5 * rng.standard_normal((B, model.hidden_size)) for _ in model.STATE)


# ---------------------------------------------------------------------------- parameters
@pytest.mark.parametrize("kind", MODELS)
def test_parameter_names_and_shapes(kind):
    D, H, O = 3, 5, 7
    model = MODELS[kind](D, H, O)
    G = (4 if kind == "lstm" else 3) * H
    biases = {"b": (G,)} if kind == "lstm" else {"b_x": (G,), "b_h": (G,)}
    expected = {"W_x": (D, G), "W_h": (H, G), **biases, "W_hy": (H, O), "b_y": (O,)}
    assert {k: v.shape for k, v in model.params.items()} == expected
    assert all(v.dtype == np.float64 for v in model.params.values())


def test_lstm_forget_bias_initialises_only_the_forget_slice():
    H = 4
    model = engine.LSTM(2, H, 3, forget_bias=1.0)
    b = model.params["b"]
    assert np.all(b[H:2 * H] == 1.0)
    assert np.all(b[:H] == 0.0) and np.all(b[2 * H:] == 0.0)
    assert model.describe()["forget_bias"] == 1.0


def test_same_seed_same_model_bit_for_bit():
    for cls in MODELS.values():
        a, b = cls(3, 4, 5, seed=7), cls(3, 4, 5, seed=7)
        assert all(np.array_equal(a.params[k], b.params[k]) for k in a.params)


def test_lstm_state_must_be_a_pair():
    model = engine.LSTM(2, 3, 2)
    x = np.zeros((1, 4, 2))
    with pytest.raises(ValueError, match="h0"):
        model.forward(x, h0=np.zeros((1, 3)))
    with pytest.raises(ValueError, match="h0"):
        model.forward(x, h0=(np.zeros((1, 3)), np.zeros((2, 3))))


# ---------------------------------------------------------------------------- gradient checks
OPTION_GRID = list(itertools.product(("cross_entropy", "mse"), ("mean", "sum"), ("all", "last"),
                                     (None, 1, 2, 3)))


@pytest.mark.parametrize("kind", MODELS)
@pytest.mark.parametrize(("loss", "reduction", "output", "truncation"), OPTION_GRID)
@settings(max_examples=3, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(B=st.integers(1, 2), T=st.integers(1, 5), D=st.integers(1, 3), H=st.integers(1, 3),
       O=st.integers(2, 3), ids=st.booleans(), carry=st.booleans(), seed=st.integers(0, 2**16))
def test_gradient_check_every_option(kind, loss, reduction, output, truncation, B, T, D, H, O, ids,
                                     carry, seed):
    """Analytic gradients against central differences of the brute-force truncated loss
    (``truncated_loss_fn``, which is the plain loss when truncation is None)."""
    rng = np.random.default_rng(seed)
    model = make(kind, D, H, O, seed=seed % 1000)
    x, y = data(rng, B, T, D, O, ids=ids, loss=loss, output=output)
    h0 = initial_state(model, rng, B) if carry else None
    opts = dict(reduction=reduction, output=output, loss=loss)
    _, grads = model.loss_and_grads(x, y, h0=h0, truncation=truncation, **opts)
    fn = truncated_loss_fn(model, x, y, truncation, h0=h0, **opts)
    num = numerical_grads(fn, model.params)
    errors = {k: relative_error(grads[k], num[k]) for k in grads}
    assert max(errors.values()) < 1e-6, errors


@pytest.mark.parametrize("kind", MODELS)
def test_truncation_at_or_beyond_length_is_full_bptt(kind):
    rng = np.random.default_rng(3)
    model = make(kind, 3, 4, 3)
    x, y = data(rng, 2, 5, 3, 3, ids=False, loss="cross_entropy", output="all")
    _, full = model.loss_and_grads(x, y)
    for k in (5, 9):
        _, g = model.loss_and_grads(x, y, truncation=k)
        assert all(np.array_equal(full[n], g[n]) for n in full)
    _, g1 = model.loss_and_grads(x, y, truncation=1)
    assert not np.allclose(g1["W_h"], full["W_h"])


@pytest.mark.parametrize("kind", MODELS)
def test_deriv_wrong_variable_bug_breaks_the_gradient_check(kind):
    rng = np.random.default_rng(4)
    model = make(kind, 2, 3, 2)
    x, y = data(rng, 2, 4, 2, 2, ids=False, loss="cross_entropy", output="all")
    model.set_bugs({"deriv_wrong_variable"})
    _, grads = model.loss_and_grads(x, y)
    num = numerical_grads(lambda: model.loss_and_grads(x, y)[0], model.params)
    assert relative_error(grads["W_h"], num["W_h"]) > 1e-3


# ---------------------------------------------------------------------------- step records
@pytest.mark.parametrize("kind", MODELS)
@pytest.mark.parametrize(("truncation", "output"), [(None, "all"), (2, "all"), (None, "last"), (2, "last")])
def test_steps_bit_identical_to_loss_and_grads(kind, truncation, output):
    rng = np.random.default_rng(5)
    model = make(kind, 4, 3, 4)
    x, y = data(rng, 2, 6, 4, 4, ids=True, loss="cross_entropy", output=output)
    loss, grads, state = model.loss_and_grads(x, y, truncation=truncation, output=output, return_state=True)
    records = list(model.steps(x, y, truncation=truncation, output=output))
    T = 6
    assert [type(r) for r in records] == [ForwardStep] * T + [LossStep] + [BackwardStep] * T + [GradientStep]
    assert [r.index for r in records[T + 1:2 * T + 1]] == list(range(T - 1, -1, -1))
    final = records[-1]
    assert final.loss == loss
    assert all(np.array_equal(final.grads[k], grads[k]) for k in grads)
    assert all(np.array_equal(a, b) for a, b in zip(final.state, state))
    # the per-step contributions add up to the recurrent-cell gradients
    backward = [r for r in records if isinstance(r, BackwardStep)]
    for name in backward[0].grads:
        np.testing.assert_allclose(sum(r.grads[name] for r in backward), grads[name], rtol=1e-12, atol=1e-14)


def _forward_and_backward(records):
    fw = [r for r in records if isinstance(r, ForwardStep)]
    bw = {r.t: r for r in records if isinstance(r, BackwardStep)}
    return fw, bw


def test_lstm_records_hold_gates_cell_state_and_its_delta():
    rng = np.random.default_rng(6)
    B, T, D, H, O = 2, 5, 3, 4, 3
    model = make("lstm", D, H, O)
    x, y = data(rng, B, T, D, O, ids=False, loss="cross_entropy", output="all")
    h0, c0 = initial_state(model, rng, B)
    records = list(model.steps(x, y, h0=(h0, c0), reduction="sum"))
    fw, bw = _forward_and_backward(records)
    c_prev = c0
    for r in fw:
        e = r.extras
        assert set(e) >= {"i", "f", "g", "o", "c"}
        assert all(e[k].shape == (B, H) for k in ("i", "f", "g", "o", "c"))
        assert all(np.all((e[k] > 0) & (e[k] < 1)) for k in "ifo")
        np.testing.assert_allclose(e["c"], e["f"] * c_prev + e["i"] * e["g"], rtol=1e-12)
        np.testing.assert_allclose(r.h, e["o"] * np.tanh(e["c"]), rtol=1e-12)
        assert r.pre.shape == (B, 4 * H)
        assert not r.extras["c"].flags.writeable
        c_prev = e["c"]
    for r in bw.values():
        assert set(r.extras) >= {"dc", "di", "df", "dg", "do"}
        np.testing.assert_array_equal(np.concatenate([r.extras[k] for k in ("di", "df", "dg", "do")], 1), r.dpre)

    # dc_t is dL/dc_t: the suffix loss from step t on, as a function of the state it starts from,
    # has dL/dc_{t-1} = dc_t * f_t (finite differences on the suffix's c0).
    states = [(h0, c0)] + [(r.h, r.extras["c"]) for r in fw]
    for t in (0, 2, T - 1):
        hs, cs = (np.array(s) for s in states[t])

        def suffix_loss(hs=hs, cs=cs, t=t):
            return model.loss_and_grads(x[:, t:], y[:, t:], h0=(hs, cs), reduction="sum")[0]

        num = numerical_gradient(suffix_loss, cs)
        np.testing.assert_allclose(bw[t].extras["dc"] * fw[t].extras["f"], num, rtol=1e-6, atol=1e-9)
        num_h = numerical_gradient(suffix_loss, hs)
        np.testing.assert_allclose(bw[t].dpre @ model.params["W_h"].T, num_h, rtol=1e-6, atol=1e-9)


def test_gru_records_hold_gates_and_gate_deltas():
    rng = np.random.default_rng(7)
    B, T, D, H, O = 2, 4, 3, 4, 3
    model = make("gru", D, H, O)
    x, y = data(rng, B, T, D, O, ids=False, loss="cross_entropy", output="all")
    records = list(model.steps(x, y, reduction="sum"))
    fw, bw = _forward_and_backward(records)
    for r in fw:
        e = r.extras
        assert all(e[k].shape == (B, H) for k in ("r", "z", "n"))
        np.testing.assert_allclose(r.h, (1 - e["z"]) * e["n"] + e["z"] * r.h_prev, rtol=1e-12)
        assert r.pre.shape == (B, 3 * H)
    for r in bw.values():
        np.testing.assert_array_equal(np.concatenate([r.extras[k] for k in ("dr", "dz", "dn")], 1), r.dpre)
    # dL/dh_t from the record equals finite differences of the suffix loss on its initial state
    states = [np.zeros((B, H))] + [r.h for r in fw]
    for t in (1, T - 1):
        hs = np.array(states[t + 1])

        def suffix_loss(hs=hs, t=t):
            return model.loss_and_grads(x[:, t + 1:], y[:, t + 1:], h0=hs, reduction="sum")[0]

        num = numerical_gradient(suffix_loss, hs) if t < T - 1 else 0.0
        np.testing.assert_allclose(bw[t].dh_future, num, rtol=1e-6, atol=1e-9)


# ---------------------------------------------------------------------------- chunked carry
@pytest.mark.parametrize("kind", MODELS)
def test_chunked_state_carry_equals_one_long_sequence(kind):
    rng = np.random.default_rng(8)
    model = make(kind, 5, 4, 5)
    x = rng.integers(0, 5, (2, 12))
    y = rng.integers(0, 5, (2, 12))
    Y_long, state_long = model.forward(x)
    pieces, state = [], None
    for s in range(0, 12, 5):
        Y, state = model.forward(x[:, s:s + 5], h0=state)
        pieces.append(Y)
    np.testing.assert_allclose(np.concatenate(pieces, 1), Y_long, rtol=1e-12, atol=1e-14)
    for a, b in zip(state, state_long):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-14)
    # loss_and_grads hands back the same final state for the carry
    state = None
    for s in range(0, 12, 5):
        _, _, state = model.loss_and_grads(x[:, s:s + 5], y[:, s:s + 5], h0=state, return_state=True)
    assert len(state) == len(model.STATE)
    for a, b in zip(state, state_long):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-14)


# ---------------------------------------------------------------------------- PyTorch
def _torch_twin(model, torch):
    """torch.nn.LSTM/GRU + Linear in float64 holding exactly our parameters."""
    D, H, O = model.input_size, model.hidden_size, model.output_size
    p = model.params
    cls = torch.nn.LSTM if model.kind == "lstm" else torch.nn.GRU
    net = cls(D, H, batch_first=True).double()
    lin = torch.nn.Linear(H, O).double()
    with torch.no_grad():
        net.weight_ih_l0.copy_(torch.from_numpy(p["W_x"].T.copy()))
        net.weight_hh_l0.copy_(torch.from_numpy(p["W_h"].T.copy()))
        if model.kind == "lstm":  # our b is PyTorch's b_ih + b_hh: split it unevenly on purpose
            net.bias_ih_l0.copy_(torch.from_numpy(0.25 * p["b"]))
            net.bias_hh_l0.copy_(torch.from_numpy(0.75 * p["b"]))
        else:
            net.bias_ih_l0.copy_(torch.from_numpy(p["b_x"].copy()))
            net.bias_hh_l0.copy_(torch.from_numpy(p["b_h"].copy()))
        lin.weight.copy_(torch.from_numpy(p["W_hy"].T.copy()))
        lin.bias.copy_(torch.from_numpy(p["b_y"].copy()))
    return net, lin


@pytest.mark.parametrize("kind", MODELS)
@pytest.mark.parametrize("reduction", ["mean", "sum"])
def test_matches_pytorch(kind, reduction):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(9)
    B, T, D, H, O = 3, 6, 4, 5, 6
    model = make(kind, D, H, O)
    x, y = data(rng, B, T, D, O, ids=False, loss="cross_entropy", output="all")
    h0 = initial_state(model, rng, B)
    net, lin = _torch_twin(model, torch)
    th0 = tuple(torch.from_numpy(s[None].copy()) for s in h0)
    out, tstate = net(torch.from_numpy(x), th0 if kind == "lstm" else th0[0])
    logits = lin(out)
    tl = torch.nn.functional.cross_entropy(logits.reshape(-1, O), torch.from_numpy(y).reshape(-1),
                                           reduction="sum")
    if reduction == "mean":
        tl = tl / B
    tl.backward()

    Y, state = model.forward(x, h0=h0 if kind == "lstm" else h0[0])
    np.testing.assert_allclose(Y, logits.detach().numpy(), rtol=1e-10, atol=1e-12)
    tstate = tstate if kind == "lstm" else (tstate,)
    for ours, theirs in zip(state, tstate):
        np.testing.assert_allclose(ours, theirs.detach().numpy()[0], rtol=1e-10, atol=1e-12)

    loss, grads = model.loss_and_grads(x, y, h0=h0 if kind == "lstm" else h0[0], reduction=reduction)
    assert loss == pytest.approx(tl.item(), rel=1e-12)
    expected = {"W_x": net.weight_ih_l0.grad.numpy().T, "W_h": net.weight_hh_l0.grad.numpy().T,
                "W_hy": lin.weight.grad.numpy().T, "b_y": lin.bias.grad.numpy()}
    if kind == "lstm":
        expected["b"] = net.bias_ih_l0.grad.numpy()
        np.testing.assert_allclose(net.bias_ih_l0.grad.numpy(), net.bias_hh_l0.grad.numpy(), rtol=1e-12)
    else:
        expected["b_x"] = net.bias_ih_l0.grad.numpy()
        expected["b_h"] = net.bias_hh_l0.grad.numpy()
    assert set(expected) == set(grads)
    for name, g in expected.items():
        np.testing.assert_allclose(grads[name], g, rtol=1e-9, atol=1e-12, err_msg=name)
