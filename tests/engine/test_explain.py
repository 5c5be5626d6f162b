"""The explain panel's content: every record type of every model explains itself with finite terms
that recombine to the value the record holds, for the selected unit of the first example."""

from __future__ import annotations

import math

import numpy as np
import pytest

from bpttviz import engine
from bpttviz.engine.explain import Explanation, explain, fmt
from bpttviz.engine.nn.optim import Clipper, apply_update, make_optimizer
from bpttviz.engine.records import (
    BackwardStep,
    ForwardStep,
    GradientStep,
    LayerBackward,
    LayerForward,
    LossStep,
    UpdateStep,
)

B, T, D, H, O = 3, 5, 4, 6, 3
UNIT = 2


def close(a: float, b: float) -> bool:
    return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-12)


def sigmoid(a: float) -> float:
    return 1.0 / (1.0 + math.exp(-a))


def recurrent_trace(kind="rnn", activation="tanh", loss="cross_entropy", output="all", truncation=None,
                    reduction="mean", ids=False, optimizer="sgd", clip="norm", threshold=0.05, seed=0):
    """A narrated iteration followed by its update: (model, records, targets, optimizer, clipper)."""
    rng = np.random.default_rng(seed)
    if kind == "rnn":
        model = engine.RNN(D, H, O, activation, seed=seed)
    else:
        model = getattr(engine, kind.upper())(D, H, O, seed=seed)
    x = rng.integers(0, D, (B, T)) if ids else rng.normal(size=(B, T, D))
    if loss == "cross_entropy":
        y = rng.integers(0, O, (B, T) if output == "all" else (B,))
    else:
        y = rng.normal(size=(B, T, O) if output == "all" else (B, O))
    recs = list(model.steps(x, y, loss=loss, output=output, truncation=truncation, reduction=reduction))
    opt = make_optimizer(optimizer, 0.1)
    clipper = Clipper(clip, threshold)
    recs.append(apply_update(model.params, dict(recs[-1].grads), opt, clipper, 7))
    return model, recs, y, opt, clipper


def mlp_trace(activation="tanh", output="softmax", reduction="mean", seed=0, optimizer="sgd"):
    rng = np.random.default_rng(seed)
    model = engine.MLP([3, 5, 4, O], activation=activation, output=output, seed=seed)
    x = rng.normal(size=(B, 3)) * 2
    y = rng.integers(0, O, B) if output == "softmax" else rng.normal(size=(B, O))
    recs = list(model.steps(x, y, reduction=reduction))
    opt = make_optimizer(optimizer, 0.1)
    clipper = Clipper("norm", 1.0)
    recs.append(apply_update(model.params, dict(recs[-1].grads), opt, clipper, 0))
    return model, recs, y, opt, clipper


def context(recs, opt, clipper):
    return {"records": recs, "optimizer": opt, "clipper": clipper}


def check_finite(e: Explanation) -> None:
    assert e.title and e.equation and e.sentence
    assert len(e.terms) == len(e.keys) > 0
    for label, value, note in e.terms:
        assert isinstance(label, str) and isinstance(note, str)
        assert math.isfinite(value), (label, value)


# ------------------------------------------------------------------------------ recombination checks
def check_rnn_forward(e, rec: ForwardStep, act: str, j: int):
    v = e.values()
    z, h = rec.pre[0, j], rec.h[0, j]
    assert close(v["pre"], z) and close(v["h"], h)
    assert math.isclose(v["input"] + v["recurrent"] + v["bias"], z, rel_tol=1e-9, abs_tol=1e-12)
    expected_deriv = {"tanh": 1 - h * h, "sigmoid": h * (1 - h), "relu": float(z > 0), "linear": 1.0}[act]
    assert close(v["deriv"], expected_deriv)


def check_rnn_backward(e, rec: BackwardStep, fw: ForwardStep, act: str, j: int):
    v = e.values()
    h, z = fw.h[0, j], fw.pre[0, j]
    expected_deriv = {"tanh": 1 - h * h, "sigmoid": h * (1 - h), "relu": float(z > 0), "linear": 1.0}[act]
    assert close(v["deriv"], expected_deriv)
    assert close(v["dh_out"], rec.dh_out[0, j]) and close(v["dh_future"], rec.dh_future[0, j])
    assert close(v["dh_out"] + v["dh_future"], rec.dh[0, j])
    # The headline product: δz_t = f'(·) (output's part + future's part)
    assert close(v["deriv"] * (v["dh_out"] + v["dh_future"]), rec.dpre[0, j])
    assert close(v["dpre"], rec.dpre[0, j])


def check_lstm_forward(e, rec: ForwardStep, prev: ForwardStep | None, j: int):
    v = e.values()
    for name in "ifo":
        assert close(v[name], sigmoid(v["a_" + name]))
    assert close(v["g"], math.tanh(v["a_g"]))
    c_prev = prev.extras["c"][0, j] if prev is not None else 0.0  # h0 = c0 = 0
    assert close(v["c_prev"], c_prev)
    assert close(v["f"] * v["c_prev"] + v["i"] * v["g"], rec.extras["c"][0, j])
    assert close(v["f_c_prev"] + v["i_g"], v["c"])
    assert close(v["o"] * math.tanh(v["c"]), rec.h[0, j])


def check_lstm_backward(e, rec: BackwardStep, j: int):
    v = e.values()
    x = rec.extras
    assert close(v["dh_out"] + v["dh_future"], rec.dh[0, j])
    assert close(v["dc_future"] + v["dh"] * v["o"] * v["dtanh"], x["dc"][0, j])
    assert close(v["dc_from_h"] + v["dc_future"], v["dc"])
    assert close(v["dc"] * v["g"] * v["i"] * (1 - v["i"]), x["di"][0, j])
    assert close(v["dc"] * v["c_prev"] * v["f"] * (1 - v["f"]), x["df"][0, j])
    assert close(v["dc"] * v["i"] * (1 - v["g"] ** 2), x["dg"][0, j])
    assert close(v["dh"] * v["tanh_c"] * v["o"] * (1 - v["o"]), x["do"][0, j])
    # the gate deltas are the slices of the stacked pre-activation delta
    for k, name in enumerate("ifgo"):
        assert close(v["d" + name], rec.dpre[0, k * H + j])


def check_gru_forward(e, rec: ForwardStep, j: int):
    v = e.values()
    assert close(v["r"], sigmoid(v["a_r"])) and close(v["z"], sigmoid(v["a_z"]))
    assert close(v["n"], math.tanh(v["a_n"]))
    assert close(v["r_hn"], v["r"] * v["hn"])
    assert close((1 - v["z"]) * v["n"] + v["z"] * v["h_prev"], rec.h[0, j])
    assert close(v["h_prev"], rec.h_prev[0, j])


def check_gru_backward(e, rec: BackwardStep, j: int):
    v = e.values()
    x = rec.extras
    dh = v["dh"]
    assert close(v["dh_out"] + v["dh_future"], rec.dh[0, j])
    assert close(dh * (1 - v["z"]) * (1 - v["n"] ** 2), x["dn"][0, j])
    assert close(dh * (v["h_prev"] - v["n"]) * v["z"] * (1 - v["z"]), x["dz"][0, j])
    assert close(v["dn"] * v["hn"] * v["r"] * (1 - v["r"]), x["dr"][0, j])
    assert close(dh * v["z"], x["dh_carry"][0, j])


def check_loss(e, rec: LossStep, targets, t: int | None, fw_p):
    v = e.values()
    dy = rec.dy[0, t] if (t is not None and rec.dy.ndim == 3) else rec.dy[0]
    losses = rec.losses[0, t] if rec.losses.ndim == 2 else rec.losses[0]
    assert close(v["scale"], rec.scale)
    assert close(v["total"], rec.total)
    assert close(v["loss"], losses)
    if rec.loss == "cross_entropy":
        c = int(targets[0, t] if targets.ndim == 2 else targets[0])
        assert e.term("p").label.endswith(f"[{c}]")
        assert close(v["p"], fw_p[0, c])
        assert close((v["p"] - v["onehot"]) * v["scale"], dy[c])
        assert close(v["dy"], dy[c])
        assert close(-math.log(v["p"]), losses)
    else:
        tg = targets[0, t] if targets.ndim == 3 else targets[0]
        o = int(np.argmax(np.abs(dy)))
        assert close(v["target"], tg[o])
        assert close((v["y"] - v["target"]) * v["scale"], dy[o])
        assert close(v["residual"] * v["scale"], v["dy"])
        assert close(0.5 * float(np.sum((dy / rec.scale) ** 2)), v["loss"])


def check_gradients(e, rec: GradientStep, model, j: int):
    v = e.values()
    name = model.W_H
    col = {"rnn": j, "lstm": 2 * H + j, "gru": 2 * H + j}[model.kind]
    total = rec.grads[name][j, col]
    assert close(v["total"], total)
    parts = [val for key, val in v.items() if key.startswith("t") and key[1:].isdigit()] + [v.get("rest", 0.0)]
    assert len(parts) >= 2
    assert math.isclose(math.fsum(parts), total, rel_tol=1e-9, abs_tol=1e-12)
    assert close(v["norm"], engine.nn.optim.global_norm(rec.grads))


def check_update(e, rec: UpdateStep, opt, clipper):
    v = e.values()
    g = v["g"]
    if rec.clip == "norm":
        g_hat = g * rec.scale
    elif rec.clip == "value":
        g_hat = float(np.clip(g, -clipper.threshold, clipper.threshold))
    else:
        g_hat = g
    assert close(v["g_hat"], g_hat)
    assert close(v["norm"], rec.norm)
    lr = v["lr"]
    if opt.name == "sgd":
        predicted = -lr * g_hat
    elif opt.name == "momentum":
        predicted = v["v"]
        assert close(v["mu_v"] - lr * g_hat, v["v"])
    elif opt.name == "adagrad":
        predicted = -lr * g_hat / v["root"]
        assert close(v["root"], math.sqrt(v["m"] + opt.eps))
    else:
        predicted = -lr * v["m_hat"] / (math.sqrt(v["v_hat"]) + opt.eps)
    assert math.isclose(predicted, v["delta"], rel_tol=1e-7, abs_tol=1e-13)
    assert "moved on" not in e.sentence


def check_recurrent_iteration(model, recs, targets, opt, clipper, j=UNIT, act="tanh"):
    ctx = context(recs, opt, clipper)
    fws = {r.t: r for r in recs if isinstance(r, ForwardStep)}
    seen = set()
    for rec in recs:
        e = explain(rec, model, j, ctx)
        check_finite(e)
        seen.add(type(rec))
        if isinstance(rec, ForwardStep):
            if model.kind == "rnn":
                check_rnn_forward(e, rec, act, j)
            elif model.kind == "lstm":
                check_lstm_forward(e, rec, fws.get(rec.t - 1), j)
            else:
                check_gru_forward(e, rec, j)
        elif isinstance(rec, BackwardStep):
            if model.kind == "rnn":
                check_rnn_backward(e, rec, fws[rec.t], act, j)
            elif model.kind == "lstm":
                check_lstm_backward(e, rec, j)
            else:
                check_gru_backward(e, rec, j)
        elif isinstance(rec, LossStep):
            fw = fws[T - 1]
            check_loss(e, rec, targets, T - 1, fw.p)
        elif isinstance(rec, GradientStep):
            check_gradients(e, rec, model, j)
        elif isinstance(rec, UpdateStep):
            check_update(e, rec, opt, clipper)
    assert seen == {ForwardStep, LossStep, BackwardStep, GradientStep, UpdateStep}


# ------------------------------------------------------------------------------ the models
@pytest.mark.parametrize("activation", ["tanh", "sigmoid", "relu", "linear"])
def test_rnn_every_record_recombines(activation):
    model, recs, y, opt, clipper = recurrent_trace("rnn", activation)
    check_recurrent_iteration(model, recs, y, opt, clipper, act=activation)


@pytest.mark.parametrize("kind", ["rnn", "lstm", "gru"])
@pytest.mark.parametrize("options", [
    dict(),
    dict(truncation=2),
    dict(output="last", loss="mse", reduction="sum"),
    dict(ids=True, loss="mse", truncation=3),
    dict(output="last", truncation=2),
])
def test_recurrent_models_every_record_recombines(kind, options):
    model, recs, y, opt, clipper = recurrent_trace(kind, **options)
    check_recurrent_iteration(model, recs, y, opt, clipper)


@pytest.mark.parametrize("unit", [0, H - 1])
def test_first_and_last_unit(unit):
    for kind in ("rnn", "lstm", "gru"):
        model, recs, y, opt, clipper = recurrent_trace(kind, seed=3)
        check_recurrent_iteration(model, recs, y, opt, clipper, j=unit)


@pytest.mark.parametrize("optimizer", ["sgd", "momentum", "adagrad", "adam"])
@pytest.mark.parametrize("clip", ["none", "norm", "value"])
def test_update_rule_recombines(optimizer, clip):
    model, recs, y, opt, clipper = recurrent_trace("rnn", optimizer=optimizer, clip=clip, threshold=0.01)
    rec = recs[-1]
    e = explain(rec, model, UNIT, context(recs, opt, clipper))
    check_finite(e)
    check_update(e, rec, opt, clipper)
    assert {"sgd": "θ − lr · ĝ", "momentum": "μ v", "adagrad": "√(m + ε)", "adam": "m̂"}[optimizer] in e.equation
    if clip == "norm":
        assert rec.clipped and "exceeded" in e.sentence and fmt(rec.scale) in e.sentence
    elif clip == "value":
        assert rec.clipped and f"{rec.n_clipped} gradient entries were clipped" in e.sentence
    else:
        assert "No clipping" in e.sentence


def test_update_without_clipping_says_so():
    model, recs, y, opt, clipper = recurrent_trace("lstm", clip="norm", threshold=1e6)
    e = explain(recs[-1], model, UNIT, context(recs, opt, clipper))
    assert not recs[-1].clipped and "nothing was clipped" in e.sentence
    check_update(e, recs[-1], opt, clipper)


def test_update_without_optimizer_in_context_still_explains_sgd():
    model, recs, y, opt, clipper = recurrent_trace("rnn", clip="norm")
    e = explain(recs[-1], model, UNIT, recs)  # a plain list of records; the threshold comes from the scale
    check_finite(e)
    assert "θ − lr · ĝ" in e.equation
    assert close(e.values()["threshold"], clipper.threshold)


@pytest.mark.parametrize("activation", ["tanh", "sigmoid", "relu"])
@pytest.mark.parametrize("output", ["softmax", "linear"])
def test_mlp_every_record_recombines(activation, output):
    model, recs, y, opt, clipper = mlp_trace(activation, output)
    ctx = context(recs, opt, clipper)
    lfs = {r.index: r for r in recs if isinstance(r, LayerForward)}
    lbs = {r.index: r for r in recs if isinstance(r, LayerBackward)}
    L = model.n_layers
    for unit in (0, 4):
        for rec in recs:
            e = explain(rec, model, unit, ctx)
            check_finite(e)
            v = e.values()
            if isinstance(rec, (LayerForward, LayerBackward)):
                jj = min(unit, model.layer_sizes[rec.index] - 1)
                assert f"unit {jj}" in e.title
            if isinstance(rec, LayerForward):
                z = rec.z[0, jj]
                assert math.isclose(v["input"] + v["bias"], z, rel_tol=1e-9, abs_tol=1e-12)
                if rec.index < L:
                    assert close(v["pre"], z) and close(v["a"], rec.a[0, jj])
                    a = rec.a[0, jj]
                    deriv = {"tanh": 1 - a * a, "sigmoid": a * (1 - a), "relu": float(z > 0)}[activation]
                    assert close(v["deriv"], deriv)
                else:
                    assert close(v["y"], z)
                    if output == "softmax":
                        assert close(v["p"], rec.p[0, jj])
            elif isinstance(rec, LayerBackward):
                assert close(v["bias_grad"], rec.dz[:, jj].sum())
                assert close(v["dpre"], rec.dz[0, jj])
                if rec.index == L:
                    assert close(v["da"], v["dpre"])
                else:
                    assert close(v["da"] * v["deriv"], rec.dz[0, jj])
            elif isinstance(rec, LossStep):
                check_loss(e, rec, y, None, lfs[L].p)
                if output == "linear":
                    assert close(v["y"], lfs[L].a[0, int(np.argmax(np.abs(rec.dy[0])))])
            elif isinstance(rec, GradientStep):
                for layer in range(1, L + 1):
                    jl = min(unit, model.layer_sizes[layer] - 1)
                    assert close(v[f"b{layer}"], lbs[layer].dz[:, jl].sum())
                    assert close(v[f"b{layer}"], rec.grads[f"b{layer}"][jl])
            elif isinstance(rec, UpdateStep):
                check_update(e, rec, opt, clipper)


# ------------------------------------------------------------------------------ the sentences
def test_backward_sentences_say_where_the_delta_comes_from():
    model, recs, y, opt, clipper = recurrent_trace("rnn")
    ctx = context(recs, opt, clipper)
    back = {r.t: r for r in recs if isinstance(r, BackwardStep)}
    last = explain(back[T - 1], model, UNIT, ctx)
    assert "last step" in last.sentence and "only from its own output" in last.sentence
    assert last.title == f"Backward through t = {T - 1} · unit {UNIT}"
    assert "δz₄ = (1 − h₄²) ⊙ (δy₄ W_hyᵀ + δh₄^future)" in last.equation
    mid = explain(back[2], model, UNIT, ctx)
    out, fut = back[2].dh_out[0, UNIT], back[2].dh_future[0, UNIT]
    share = f"{100 * abs(fut) / (abs(out) + abs(fut)):.0f}%"
    assert share in mid.sentence
    assert "truncation" not in mid.sentence.lower()


def test_truncation_is_mentioned():
    model, recs, y, opt, clipper = recurrent_trace("rnn", truncation=2)
    ctx = context(recs, opt, clipper)
    back = {r.t: r for r in recs if isinstance(r, BackwardStep)}
    e = explain(back[1], model, UNIT, ctx)
    assert "Window truncation (k = 2)" in e.sentence and "t = 1…2" in e.sentence
    assert "truncation" not in explain(back[T - 1], model, UNIT, ctx).sentence.lower()
    # many-to-one: steps beyond the window get nothing at all
    model, recs, y, opt, clipper = recurrent_trace("gru", output="last", truncation=2)
    back = {r.t: r for r in recs if isinstance(r, BackwardStep)}
    e = explain(back[0], model, UNIT, context(recs, opt, clipper))
    assert "no gradient at all" in e.sentence


def test_many_to_one_steps_take_everything_from_the_future():
    model, recs, y, opt, clipper = recurrent_trace("rnn", output="last")
    back = {r.t: r for r in recs if isinstance(r, BackwardStep)}
    e = explain(back[1], model, UNIT, recs)
    assert "all of its delta comes from the future" in e.sentence


def test_dropped_future_is_called_out():
    model, recs, y, opt, clipper = recurrent_trace("rnn")
    model.set_bugs({"overwrite_dh_next"})
    x = np.random.default_rng(0).normal(size=(B, T, D))
    recs = list(model.steps(x, np.zeros((B, T), int)))
    rec = next(r for r in recs if isinstance(r, BackwardStep) and r.t == 1)
    e = explain(rec, model, UNIT, recs)
    assert "dropped or overwritten" in e.sentence


def test_stale_weights_are_detected_and_update_context_fixes_them():
    model, recs, y, opt, clipper = recurrent_trace("rnn", clip="none")
    fw = recs[2]
    # The update has changed the weights: without it, the split cannot add up, and says so.
    e = explain(fw, model, UNIT, [r for r in recs if not isinstance(r, UpdateStep)])
    assert "changed since" in e.sentence
    e = explain(fw, model, UNIT, recs)
    assert "changed since" not in e.sentence
    check_rnn_forward(e, fw, "tanh", UNIT)


def test_without_context_the_record_alone_still_explains():
    for kind in ("rnn", "lstm", "gru"):
        model, recs, y, opt, clipper = recurrent_trace(kind)
        for rec in recs:
            e = explain(rec, model, UNIT)
            check_finite(e)
            if isinstance(rec, BackwardStep) and kind == "rnn":
                v = e.values()
                assert close(v["dh_out"] + v["dh_future"], rec.dh[0, UNIT])
    model, recs, *_ = mlp_trace()
    for rec in recs:
        check_finite(explain(rec, model, 1))


def test_lstm_derives_the_previous_cell_state_when_it_is_not_given():
    model, recs, y, opt, clipper = recurrent_trace("lstm")
    fws = [r for r in recs if isinstance(r, ForwardStep)]
    e = explain(fws[3], model, UNIT, {"update": recs[-1]})
    assert math.isclose(e.values()["c_prev"], fws[2].extras["c"][0, UNIT], rel_tol=1e-9, abs_tol=1e-12)
    assert "solved from" in e.term("c_prev").note


def test_loss_step_at_a_chosen_timestep():
    model, recs, y, opt, clipper = recurrent_trace("rnn")
    fws = {r.t: r for r in recs if isinstance(r, ForwardStep)}
    loss = next(r for r in recs if isinstance(r, LossStep))
    e = explain(loss, model, UNIT, {"records": recs, "t": 1})
    check_loss(e, loss, y, 1, fws[1].p)
    assert "p − onehot(target)" in e.sentence and "1/B = 1/3" in e.sentence
    with pytest.raises(ValueError, match=r"context\['t'\]"):
        explain(loss, model, UNIT, {"t": T})


def test_gate_and_param_options():
    model, recs, y, opt, clipper = recurrent_trace("lstm")
    grad = next(r for r in recs if isinstance(r, GradientStep))
    e = explain(grad, model, UNIT, {"records": recs, "gate": "f"})
    assert close(e.values()["total"], grad.grads["W_h"][UNIT, H + UNIT])
    e = explain(grad, model, UNIT, {"records": recs, "param": ("b", 5)})
    assert close(e.values()["total"], grad.grads["b"][5])
    with pytest.raises(ValueError, match="gate"):
        explain(grad, model, UNIT, {"gate": "q"})
    with pytest.raises(ValueError, match="param"):
        explain(grad, model, UNIT, {"param": ("nope", 0)})


# ------------------------------------------------------------------------------ bad input
@pytest.mark.parametrize("bad", [-1, H, 99, 1.5, True, "2", None])
def test_bad_unit_is_a_value_error_naming_unit(bad):
    model, recs, *_ = recurrent_trace("rnn")
    with pytest.raises(ValueError, match="unit"):
        explain(recs[0], model, bad)


def test_bad_unit_for_mlp():
    model, recs, *_ = mlp_trace()
    with pytest.raises(ValueError, match=r"unit: .*\[0, 5\)"):
        explain(recs[0], model, 5)


def test_record_and_model_must_match():
    rnn, rrecs, *_ = recurrent_trace("rnn")
    mlp, mrecs, *_ = mlp_trace()
    with pytest.raises(ValueError, match="record"):
        explain(rrecs[0], mlp, 0)
    with pytest.raises(ValueError, match="record"):
        explain(mrecs[0], rnn, 0)
    with pytest.raises(ValueError, match="record"):
        explain(rrecs[0], engine.RNN(D, H + 1, O), 0)
    with pytest.raises(ValueError, match="record"):
        explain("forward 0", rnn, 0)
    with pytest.raises(ValueError, match="model"):
        explain(rrecs[0], object(), 0)
    with pytest.raises(ValueError, match="context"):
        explain(rrecs[0], rnn, 0, [1, 2])


# ------------------------------------------------------------------------------ rendering
def test_html_and_text_rendering():
    model, recs, y, opt, clipper = recurrent_trace("rnn")
    rec = next(r for r in recs if isinstance(r, BackwardStep) and r.t == 2)
    e = explain(rec, model, UNIT, recs)
    page = e.html(font_size=28)
    assert page.startswith("<div") and "font-size:28px" in page
    assert "<sup>future</sup>" in page and "^future" not in page
    assert "http" not in page and "<img" not in page and "url(" not in page
    assert e.title in page
    for _label, value, _note in e.terms:
        assert fmt(value) in page
    text = e.text()
    assert e.title in text and e.sentence in text and str(e) == text
    # escaping: nothing in a label can break the markup
    assert "<t" not in page.replace("<table", "").replace("<tr", "").replace("<td", "")


def test_fmt_is_projector_friendly():
    assert fmt(-0.5) == "−0.5"
    assert fmt(0.123456) == "0.1235"
    assert fmt(1.5e-5) == "1.500×10⁻⁵"
    assert fmt(0) == "0"
    assert fmt(float("nan")) == "NaN"
