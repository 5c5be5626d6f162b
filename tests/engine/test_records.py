"""Step records: order, count, immutability, equality with loss_and_grads, replay."""

import numpy as np
import pytest

from bpttviz import engine
from bpttviz.engine.records import BackwardStep, ForwardStep, GradientStep, LayerBackward, LayerForward, LossStep


def problem(seed=0, B=2, T=5, V=6):
    rng = np.random.default_rng(seed)
    return rng.integers(0, V, (B, T)), rng.integers(0, V, (B, T))


@pytest.mark.parametrize("truncation", [None, 2])
@pytest.mark.parametrize("output", ["all", "last"])
def test_rnn_record_order_and_count(truncation, output):
    model = engine.RNN(6, 4, 6, seed=0)
    x, y = problem()
    if output == "last":
        y = y[:, 0]
    recs = list(model.steps(x, y, truncation=truncation, output=output))
    T = 5
    assert len(recs) == 2 * T + 2
    assert [type(r) for r in recs[:T]] == [ForwardStep] * T
    assert [r.t for r in recs[:T]] == list(range(T))
    assert isinstance(recs[T], LossStep)
    assert [r.t for r in recs[T + 1:2 * T + 1]] == list(range(T - 1, -1, -1))
    assert all(isinstance(r, BackwardStep) for r in recs[T + 1:2 * T + 1])
    assert isinstance(recs[-1], GradientStep)


@pytest.mark.parametrize("truncation", [None, 1, 3])
@pytest.mark.parametrize("reduction", ["mean", "sum"])
def test_steps_equal_loss_and_grads_bit_for_bit(truncation, reduction):
    model = engine.RNN(6, 5, 6, seed=2)
    x, y = problem(1, B=3, T=7)
    loss, grads = model.loss_and_grads(x, y, truncation=truncation, reduction=reduction)
    trace = engine.Trace(model.steps(x, y, truncation=truncation, reduction=reduction))
    assert trace.loss == loss
    assert trace.loss_step.total == loss
    for k in grads:
        np.testing.assert_array_equal(trace.grads[k], grads[k])
    # The per-step contributions add up to the gradients.
    summed = {k: np.zeros_like(v) for k, v in grads.items()}
    for r in trace:
        if isinstance(r, (BackwardStep, LossStep)):
            for k, v in r.grads.items():
                summed[k] += v
    for k in grads:
        np.testing.assert_allclose(summed[k], grads[k], rtol=1e-10, atol=1e-13)


def test_backward_record_delta_is_output_plus_future():
    model = engine.RNN(6, 4, 6, seed=0)
    x, y = problem()
    for r in model.steps(x, y):
        if isinstance(r, BackwardStep):
            np.testing.assert_allclose(r.dh, r.dh_out + r.dh_future, rtol=1e-14)
            np.testing.assert_allclose(r.dpre, r.dh * (1 - np.asarray(r.dh) * 0 - 0) * 0 + r.dpre)
    # dpre = dh * (1 - h^2) for tanh, using the forward record of the same t
    recs = list(model.steps(x, y))
    fw = {r.t: r for r in recs if isinstance(r, ForwardStep)}
    for r in recs:
        if isinstance(r, BackwardStep):
            np.testing.assert_allclose(r.dpre, r.dh * (1 - fw[r.t].h ** 2), rtol=1e-13)
            if r.t == 4:
                assert np.all(r.dh_future == 0)


def test_records_are_immutable_and_survive_later_iterations():
    model = engine.RNN(6, 4, 6, seed=0)
    x, y = problem()
    first = list(model.steps(x, y))
    snapshot = [np.array(r.h, copy=True) for r in first if isinstance(r, ForwardStep)]
    bw = next(r for r in first if isinstance(r, BackwardStep))
    with pytest.raises(ValueError):
        bw.dh[0, 0] = 1.0
    with pytest.raises(ValueError):
        first[0].h[0, 0] = 1.0
    with pytest.raises(TypeError):
        bw.grads["W_hh"] = None
    with pytest.raises(AttributeError):
        bw.dh = None
    # Another iteration after a parameter change leaves the old records as they were.
    model.params["W_hh"] += 1.0
    list(model.steps(x, y))
    again = [r.h for r in first if isinstance(r, ForwardStep)]
    for a, b in zip(snapshot, again):
        np.testing.assert_array_equal(a, b)


def test_trace_replays_backwards_and_forwards_identically():
    model = engine.RNN(6, 4, 6, seed=0)
    x, y = problem()
    trace = engine.Trace(model.steps(x, y))
    forward_walk = [id(trace[i]) for i in range(len(trace))]
    backward_walk = [id(trace[i]) for i in range(len(trace) - 1, -1, -1)]
    assert forward_walk == backward_walk[::-1]
    assert trace.next_phase(0) == 5  # first record after the forward phase: the loss
    assert trace.next_phase(5) == 6
    assert trace.prev_phase(8) == 6
    assert trace.prev_phase(6) == 5


def test_mlp_records():
    model = engine.MLP([3, 5, 4, 2], seed=0)
    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(6, 3)), rng.integers(0, 2, 6)
    recs = list(model.steps(X, y))
    kinds = [type(r) for r in recs]
    assert kinds == [LayerForward] * 3 + [LossStep] + [LayerBackward] * 3 + [GradientStep]
    assert [r.index for r in recs[4:7]] == [3, 2, 1]
    loss, grads = model.loss_and_grads(X, y)
    assert recs[-1].loss == loss
    for k in grads:
        np.testing.assert_array_equal(recs[-1].grads[k], grads[k])
    # output-layer delta is p - onehot, scaled by 1/B
    p = recs[2].p
    expect = np.array(p, copy=True)
    expect[np.arange(6), y] -= 1
    np.testing.assert_allclose(recs[4].dz, expect / 6, rtol=1e-13)


def _snapshot(rec):
    """Every field of a per-timestep record, copied (dicts of arrays as dicts of copies)."""
    out = {}
    for name in rec.FIELDS:
        v = getattr(rec, name)
        if v is None or isinstance(v, range):
            out[name] = v
        elif isinstance(v, np.ndarray):
            out[name] = np.array(v, copy=True)
        else:
            out[name] = {k: np.array(a, copy=True) for k, a in v.items()}
    return out


def _assert_same(a, b):
    assert a.keys() == b.keys()
    for name in a:
        x, y = a[name], b[name]
        if isinstance(x, dict):
            assert x.keys() == y.keys(), name
            for k in x:
                np.testing.assert_array_equal(x[k], y[k], err_msg=f"{name}[{k}]")
        elif isinstance(x, np.ndarray):
            np.testing.assert_array_equal(x, y, err_msg=name)
        else:
            assert x == y, name


GATED = {"rnn": lambda: engine.RNN(6, 4, 6, seed=3), "lstm": lambda: engine.LSTM(6, 4, 6, seed=3),
         "gru": lambda: engine.GRU(6, 4, 6, seed=3)}


@pytest.mark.parametrize("kind", sorted(GATED))
@pytest.mark.parametrize("truncation", [None, 2])
@pytest.mark.parametrize("output", ["all", "last"])
def test_fields_read_late_equal_fields_read_at_once(kind, truncation, output):
    """Per-timestep records build their fields on first access: reading them only after the model
    changed (parameters, bug-lab switches) and ran more iterations gives what reading them at
    once gave, bit for bit."""
    x, y = problem(4, B=3, T=6)
    if output == "last":
        y = y[:, 0]
    opts = dict(truncation=truncation, output=output)
    eager = [_snapshot(r) for r in GATED[kind]().steps(x, y, **opts) if hasattr(r, "FIELDS")]
    model = GATED[kind]()
    late = list(model.steps(x, y, **opts))
    model.params[model.W_H] += 0.5
    model.params[model.W_X] *= -1.0
    model.set_bugs({"deriv_wrong_variable", "overwrite_dh_next", "bias_not_summed"})
    for _ in range(2):
        list(model.steps(x, y, **opts))
        model.loss_and_grads(x, y, **opts)
    late = [r for r in late if hasattr(r, "FIELDS")]
    assert len(late) == len(eager) == 12
    for e, r in zip(eager, late):
        _assert_same(e, _snapshot(r))


@pytest.mark.parametrize("kind", sorted(GATED))
@pytest.mark.parametrize("truncation", [None, 1, 3])
def test_every_backward_record_delta_is_output_plus_future(kind, truncation):
    """dh = dh_out + dh_future at every step of every cell, read after the whole pass (a cell that
    reused a buffer across steps would break this)."""
    x, y = problem(5, B=2, T=7)
    recs = list(GATED[kind]().steps(x, y, truncation=truncation))
    bws = [r for r in recs if isinstance(r, BackwardStep)]
    assert [r.t for r in bws] == list(range(6, -1, -1))
    for r in bws:
        np.testing.assert_allclose(r.dh, r.dh_out + r.dh_future, rtol=1e-13, atol=1e-16)
    # not trivially: the future carries gradient except at the last step (and k = 1)
    assert np.all(bws[0].dh_future == 0)
    assert (truncation == 1) == all(np.all(r.dh_future == 0) for r in bws)


@pytest.mark.parametrize("kind", sorted(GATED))
def test_per_timestep_records_are_frozen(kind):
    x, y = problem()
    recs = [r for r in GATED[kind]().steps(x, y) if isinstance(r, (ForwardStep, BackwardStep))]
    for r in recs:
        assert r.h is r.h if isinstance(r, ForwardStep) else r.dh is r.dh  # read once, then kept
        for name in r.FIELDS:
            v = getattr(r, name)
            arrays = [v] if isinstance(v, np.ndarray) else (list(v.values()) if hasattr(v, "values") else [])
            for a in arrays:
                assert not a.flags.writeable, f"{type(r).__name__}.{name}"
            with pytest.raises(AttributeError):
                setattr(r, name, None)
        with pytest.raises(AttributeError):
            r.index = 0
        with pytest.raises(AttributeError):
            del r.index
        assert repr(r).startswith(type(r).__name__ + f"(index={r.index}")
    # records are compared by identity: step t of two iterations are two different records
    again = [r for r in GATED[kind]().steps(x, y) if isinstance(r, ForwardStep)]
    assert recs[0] != again[0] and recs[0] == recs[0]


@pytest.mark.parametrize("kind", sorted(GATED))
@pytest.mark.parametrize("truncation", [None, 2])
@pytest.mark.parametrize("output", ["all", "last"])
def test_trace_series_equal_the_records_fields_stacked(kind, truncation, output):
    x, y = problem(6, B=2, T=5)
    if output == "last":
        y = y[:, 0]
    trace = engine.Trace(GATED[kind]().steps(x, y, truncation=truncation, output=output))
    fwd = [r for r in trace if isinstance(r, ForwardStep)]
    bwd = sorted((r for r in trace if isinstance(r, BackwardStep)), key=lambda r: r.t)
    names = [(ForwardStep, fwd, n) for n in ("x", "h_prev", "h", "pre")]
    names += [(BackwardStep, bwd, n) for n in ("dh_out", "dh_future", "dh", "dpre")]
    if output == "all":
        names += [(ForwardStep, fwd, n) for n in ("y", "p")]
    for cls, recs, name in names:
        s = trace.series(cls, name)
        assert not s.flags.writeable, name
        np.testing.assert_array_equal(s, np.stack([getattr(r, name) for r in recs]), err_msg=name)
    if kind == "lstm":
        with pytest.raises(ValueError, match="not an array"):
            trace.series(ForwardStep, "extras")
    if output == "last":
        with pytest.raises(ValueError, match="not an array"):
            trace.series(ForwardStep, "y")


def test_trace_series_of_a_partial_trace_and_bad_names():
    model = engine.RNN(6, 4, 6, seed=0)
    x, y = problem(B=2, T=5)
    recs = list(model.steps(x, y))
    full = engine.Trace(recs)
    partial = engine.Trace(recs[:5 + 1 + 2])  # forward, loss and the backward steps t = 4, 3
    s = partial.series(BackwardStep, "dh")
    assert s.shape == (2, 2, 4)
    np.testing.assert_array_equal(s, full.series(BackwardStep, "dh")[3:])
    with pytest.raises(ValueError, match="no field 'dz'; fields: dh_out"):
        full.series(BackwardStep, "dz")
    with pytest.raises(ValueError, match="no BackwardStep records"):
        engine.Trace(recs[:5]).series(BackwardStep, "dh")


BUG_NAMES = sorted(set(engine.BUGS) - {"targets_wrong_axis"})  # (that one is applied by the session)


@pytest.mark.parametrize("kind", ["rnn", "lstm", "gru"])
@pytest.mark.parametrize("bug", [None] + BUG_NAMES)
@pytest.mark.parametrize("output,truncation", [("all", None), ("all", 1), ("all", 3), ("last", None), ("last", 2)])
def test_narrated_and_silent_paths_agree_bit_for_bit_with_every_bug_switch(kind, bug, output, truncation):
    """The silent pass keeps dh and the future deltas in a few reused arrays, the narrated one in
    per-iteration buffers: same loss, gradients and final state, bit for bit, for every cell,
    output, truncation and bug-lab switch; and every switch changes some gradient."""
    cls = {"rnn": engine.RNN, "lstm": engine.LSTM, "gru": engine.GRU}[kind]
    rng = np.random.default_rng(3)
    B, T, V = 3, 6, 5
    x = rng.integers(0, V, (B, T))
    y = rng.integers(0, V, (B, T) if output == "all" else (B,))
    h0 = rng.normal(size=(B, 4))
    h0 = (h0, rng.normal(size=(B, 4))) if kind == "lstm" else h0
    model = cls(V, 4, V, seed=1)
    for name in model.params:
        if name.startswith("b"):
            model.params[name][:] = rng.normal(scale=0.3, size=model.params[name].shape)
    opts = dict(output=output, truncation=truncation, h0=h0)
    clean = model.loss_and_grads(x, y, return_state=True, **opts)
    model.set_bugs({bug} if bug else set())
    loss, grads, state = model.loss_and_grads(x, y, return_state=True, **opts)
    trace = engine.Trace(model.steps(x, y, **opts))
    assert trace.loss == loss
    for k in grads:
        np.testing.assert_array_equal(trace.grads[k], grads[k], err_msg=k)
    for a, b in zip(trace.gradients.state, state):
        np.testing.assert_array_equal(a, b)
    if bug is None:
        return
    changed = [k for k in grads if not np.array_equal(grads[k], clean[1][k])]
    if bug == "drop_dh_next" and truncation == 1:
        return  # a window of one step: nothing flows from the future, so nothing to drop
    if bug == "overwrite_dh_next" and output == "last":
        return  # many-to-one: dh_out is zero before the last step, so overwriting it changes nothing
    assert changed, f"bug {bug!r} changed no gradient"


@pytest.mark.parametrize("kind", sorted(GATED))
@pytest.mark.parametrize("truncation", [None, 2])
@pytest.mark.parametrize("float_inputs", [False, True])
def test_contributions_since_a_step_are_the_sum_of_the_later_steps(kind, truncation, float_inputs):
    """``grads.since(name)`` at step t (one product) equals the sum of the per-step contributions
    of steps t..T-1 (one outer product each), and asking whether a name is there computes nothing."""
    model = GATED[kind]()
    x, y = problem(3)
    if float_inputs:
        x = np.random.default_rng(4).normal(size=x.shape + (model.input_size,))
    bws = [r for r in model.steps(x, y, truncation=truncation) if isinstance(r, BackwardStep)]
    names = list(bws[0].grads)
    assert all(name in bws[0].grads for name in names) and "W_nope" not in bws[0].grads
    assert not bws[0].grads._cache  # asking about membership computed no contribution
    for name in names:
        running = np.zeros_like(bws[0].grads[name])
        for r in bws:  # t = T-1 down to 0
            running = running + r.grads[name]
            since = r.grads.since(name)
            np.testing.assert_allclose(since, running, rtol=1e-12, atol=1e-14)
            assert not since.flags.writeable
    with pytest.raises(KeyError):
        bws[0].grads.since("W_nope")


def test_a_per_timestep_record_is_its_own_copy():
    import copy

    model = engine.RNN(6, 4, 6, seed=0)
    x, y = problem()
    recs = list(model.steps(x, y))
    fw = recs[0]
    assert copy.copy(fw) is fw and copy.deepcopy(fw) is fw  # immutable: shared, never copied
    assert copy.deepcopy(recs)[0] is fw
    assert (fw.index, fw.t) == (0, 0) and fw.h_prev.shape == (2, 4)
