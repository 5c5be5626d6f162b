"""The batched-softmax mistake, losses, optimisers and clipping."""

import numpy as np
import pytest

from bpttviz import engine
from bpttviz.engine.nn.losses import cross_entropy, softmax
from bpttviz.engine.nn.optim import apply_update, global_norm


def test_softmax_is_normalised_over_the_class_axis_for_any_batch_shape():
    rng = np.random.default_rng(0)
    for shape in [(4,), (3, 4), (2, 5, 4)]:
        logits = rng.normal(size=shape) * 3
        _, _, p = cross_entropy(logits, np.zeros(shape[:-1], int))
        np.testing.assert_allclose(p.sum(-1), 1.0, rtol=1e-14)
        # and not over the batch axis: those sums are not all 1
        if len(shape) > 1:
            assert not np.allclose(p.sum(0), 1.0)


def test_batched_loss_equals_sum_of_single_example_losses():
    # "works with batch size 1, not with batches": fails if softmax mixes examples.
    rng = np.random.default_rng(1)
    model = engine.RNN(5, 6, 5, seed=1)
    x = rng.integers(0, 5, (4, 6))
    y = rng.integers(0, 5, (4, 6))
    batched, gb = model.loss_and_grads(x, y, reduction="sum")
    singles = [model.loss_and_grads(x[i:i + 1], y[i:i + 1], reduction="sum") for i in range(4)]
    assert np.isclose(batched, sum(s[0] for s in singles), rtol=1e-12)
    for k in gb:
        np.testing.assert_allclose(gb[k], sum(s[1][k] for s in singles), rtol=1e-10, atol=1e-14)
    # the bug lab's wrong-axis softmax breaks exactly this
    model.set_bugs({"softmax_wrong_axis"})
    wrong, _ = model.loss_and_grads(x, y, reduction="sum")
    assert not np.isclose(wrong, batched)


def test_softmax_stable_for_huge_logits():
    p = softmax(np.array([[1000.0, 0.0, -1000.0]]))
    assert np.all(np.isfinite(p)) and np.isclose(p[0, 0], 1.0)
    losses, delta, _ = cross_entropy(np.array([[1000.0, 0.0]]), np.array([1]))
    assert np.isclose(losses[0], 1000.0) and np.all(np.isfinite(delta))


def test_clipping_by_value_and_by_norm():
    g = {"a": np.array([3.0, -12.0]), "b": np.array([[4.0]])}
    norm = global_norm(g)
    assert np.isclose(norm, 13.0)
    r = engine.Clipper("value", 5.0)(g)
    assert r.clipped and r.n_clipped == 1 and r.norm == norm
    np.testing.assert_array_equal(r.grads["a"], [3.0, -5.0])
    r = engine.Clipper("norm", 6.5)(g)
    assert r.clipped and np.isclose(r.scale, 0.5)
    assert np.isclose(global_norm(r.grads), 6.5)
    np.testing.assert_allclose(r.grads["a"], [1.5, -6.0])
    r = engine.Clipper("norm", 20.0)(g)
    assert not r.clipped and r.scale == 1.0
    assert g["a"][1] == -12.0  # the caller's gradients are untouched


@pytest.mark.parametrize("name,hyper,lr", [
    ("sgd", {}, 0.1), ("momentum", {"momentum": 0.9}, 0.1), ("adagrad", {}, 1.0), ("adam", {}, 0.1)])
def test_optimisers_reduce_a_quadratic_and_round_trip_state(name, hyper, lr):
    target = np.array([1.0, -2.0, 3.0])
    params = {"w": np.zeros(3)}
    opt = engine.make_optimizer(name, lr, **hyper)
    for _ in range(200):
        opt.step(params, {"w": params["w"] - target})
    assert np.linalg.norm(params["w"] - target) < 0.5
    clone = engine.make_optimizer(name, lr, **hyper)
    clone.load_state_dict(opt.state_dict())
    p1, p2 = {"w": params["w"].copy()}, {"w": params["w"].copy()}
    g = {"w": np.array([0.3, -0.1, 0.2])}
    opt.step(p1, g)
    clone.step(p2, g)
    np.testing.assert_array_equal(p1["w"], p2["w"])


def test_adagrad_matches_the_classic_update():
    params = {"w": np.array([1.0, 2.0])}
    opt = engine.Adagrad(0.1)
    g1, g2 = np.array([0.5, -1.0]), np.array([0.2, 0.3])
    opt.step(params, {"w": g1})
    opt.step(params, {"w": g2})
    m = g1 ** 2
    w = np.array([1.0, 2.0]) - 0.1 * g1 / np.sqrt(m + 1e-8)
    m += g2 ** 2
    w -= 0.1 * g2 / np.sqrt(m + 1e-8)
    np.testing.assert_allclose(params["w"], w, rtol=1e-15)


def test_update_record_reports_preclip_norm_and_change():
    params = {"w": np.zeros(2)}
    rec = apply_update(params, {"w": np.array([30.0, 40.0])}, engine.SGD(0.1), engine.Clipper("norm", 5.0), 7)
    assert rec.index == 7 and rec.norm == 50.0 and rec.clipped and np.isclose(rec.scale, 0.1)
    np.testing.assert_allclose(rec.delta["w"], [-0.3, -0.4])
    np.testing.assert_allclose(params["w"], [-0.3, -0.4])


def test_annealer_lowers_lr_when_loss_rises():
    opt = engine.SGD(1.0)
    ann = engine.LossAnnealer(factor=0.5, patience=3, smoothing=0.0)
    assert not any(ann.observe(v, opt) for v in [5, 4, 3])
    events = [ann.observe(v, opt) for v in [3.5, 3.6, 3.7]]
    assert events == [False, False, True] and opt.lr == 0.5


def test_same_seed_same_run_bit_for_bit():
    def run(seed):
        m = engine.RNN(4, 8, 4, seed=seed)
        opt = engine.make_optimizer("adam", 0.01)
        rng = np.random.default_rng(seed)
        x, y = rng.integers(0, 4, (2, 10)), rng.integers(0, 4, (2, 10))
        for _ in range(5):
            _, g = m.loss_and_grads(x, y)
            opt.step(m.params, g)
        return m.params
    a, b, c = run(3), run(3), run(4)
    for k in a:
        np.testing.assert_array_equal(a[k], b[k])
    assert not np.array_equal(a["W_hh"], c["W_hh"])
