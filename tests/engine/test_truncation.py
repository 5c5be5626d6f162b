"""Window truncation against a brute-force definition; None == k >= T; h0 carry == one sequence."""

import numpy as np
import pytest

from bpttviz import engine


def brute_force_truncated(model, ids, targets, k):
    """Gradient of sum_t L_t where L_t is differentiated through h_t..h_{t-k+1} only: an
    explicit double loop over loss steps and the states in their window (the 'nested loop'
    learners write), computed with per-step Jacobians; reduction 'sum'."""
    p = model.params
    W_xh, W_hh, b_h, W_hy, b_y = (p[n] for n in ("W_xh", "W_hh", "b_h", "W_hy", "b_y"))
    B, T = ids.shape
    H = W_hh.shape[0]
    hs = [np.zeros((B, H))]
    for t in range(T):
        hs.append(np.tanh(W_xh[ids[:, t]] + hs[-1] @ W_hh + b_h))
    g = {n: np.zeros_like(v) for n, v in p.items()}
    for t in range(T):  # loss at step t
        y = hs[t + 1] @ W_hy + b_y
        pr = np.exp(y - y.max(1, keepdims=True))
        pr /= pr.sum(1, keepdims=True)
        dy = pr.copy()
        dy[np.arange(B), targets[:, t]] -= 1
        g["W_hy"] += hs[t + 1].T @ dy
        g["b_y"] += dy.sum(0)
        dh = dy @ W_hy.T
        for s in range(t, t - k, -1):  # exactly k states: h_t .. h_{t-k+1}
            if s < 0:
                break
            dz = dh * (1 - hs[s + 1] ** 2)
            g["W_hh"] += hs[s].T @ dz
            np.add.at(g["W_xh"], ids[:, s], dz)
            g["b_h"] += dz.sum(0)
            dh = dz @ W_hh.T
    return g


@pytest.mark.parametrize("k", [1, 2, 3, 5, 8])
def test_window_truncation_matches_brute_force(k):
    rng = np.random.default_rng(k)
    model = engine.RNN(5, 4, 5, seed=k, init_scale=2.0)
    ids = rng.integers(0, 5, (3, 8))
    tg = rng.integers(0, 5, (3, 8))
    _, grads = model.loss_and_grads(ids, tg, truncation=k, reduction="sum")
    ref = brute_force_truncated(model, ids, tg, k)
    for n in grads:
        np.testing.assert_allclose(grads[n], ref[n], rtol=1e-10, atol=1e-12, err_msg=n)


def test_truncation_one_gives_no_recurrent_gradient_through_time():
    rng = np.random.default_rng(0)
    model = engine.RNN(4, 3, 4, seed=0)
    ids = rng.integers(0, 4, (2, 6))
    tg = rng.integers(0, 4, (2, 6))
    records = list(model.steps(ids, tg, truncation=1))
    for r in records:
        if r.phase == "backward":
            assert np.all(r.dh_future == 0)
            assert list(r.window) == [r.t]


@pytest.mark.parametrize("T", [1, 4, 9])
def test_none_equals_truncation_at_least_T(T):
    rng = np.random.default_rng(T)
    model = engine.RNN(3, 4, 3, seed=1)
    x = rng.normal(size=(2, T, 3))
    tg = rng.integers(0, 3, (2, T))
    l0, g0 = model.loss_and_grads(x, tg)
    for k in (T, T + 1, 100):
        l1, g1 = model.loss_and_grads(x, tg, truncation=k)
        assert l1 == l0
        for n in g0:
            np.testing.assert_array_equal(g0[n], g1[n])
    if T > 1:
        _, g2 = model.loss_and_grads(x, tg, truncation=T - 1)
        assert np.abs(g2["W_xh"] - g0["W_xh"]).max() > 1e-9


def test_chunked_h0_carry_equals_one_long_sequence():
    rng = np.random.default_rng(5)
    model = engine.RNN(7, 6, 7, seed=5)
    ids = rng.integers(0, 7, (2, 12))
    full_out, full_state = model.forward(ids)
    h, outs = None, []
    for c in range(0, 12, 5):
        out, state = model.forward(ids[:, c:c + 5], h0=h)
        outs.append(out)
        h = state[0]
    np.testing.assert_allclose(np.concatenate(outs, axis=1), full_out, rtol=1e-13, atol=1e-14)
    np.testing.assert_allclose(h, full_state[0], rtol=1e-13, atol=1e-14)
    # loss_and_grads hands the same state back
    _, _, st = model.loss_and_grads(ids, rng.integers(0, 7, (2, 12)), return_state=True)
    np.testing.assert_array_equal(st[0], full_state[0])
