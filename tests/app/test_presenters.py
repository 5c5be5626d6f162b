"""The presenters turn traces into view data without Qt: check the numbers they hand over."""

from __future__ import annotations

import numpy as np
import pytest

from bpttviz.engine.records import BackwardStep, LossStep
from bpttviz.engine.training.session import Session
from bpttviz.presenters.graph_frame import BACKWARD, FORWARD, log_scale, mlp_frame, recurrent_frame
from bpttviz.presenters.moment import moment_of
from bpttviz.presenters.panels import deltas_frame, loss_label, weights_frame
from bpttviz.presenters.trace_data import gradients_so_far, mlp_trace, recurrent_trace, skeleton

from .conftest import small_session


def _trace(session: Session):
    it = session.iteration
    tr = session.narrated_step()
    return tr, recurrent_trace(tr, iteration=it, kind=session.model.kind, activation=session.cfg.activation,
                               targets=session.last_batch[1], vocab=session.task.vocab,
                               truncation=session.cfg.truncation)


def test_gradients_so_far_add_up_to_the_full_gradient():
    s = small_session()
    tr, _ = _trace(s)
    for name in s.model.params:
        full = np.asarray(tr.gradients.grads[name])
        last_backward = max(i for i, r in enumerate(tr) if isinstance(r, BackwardStep))
        np.testing.assert_allclose(gradients_so_far(tr, last_backward, name), full, rtol=1e-10, atol=1e-12)
    loss_at = next(i for i, r in enumerate(tr) if isinstance(r, LossStep))
    assert gradients_so_far(tr, loss_at - 1, "W_hh") is None  # nothing before the loss
    assert gradients_so_far(tr, loss_at, "W_hh") is None  # the loss step gives only W_hy, b_y
    np.testing.assert_allclose(gradients_so_far(tr, loss_at, "W_hy"), tr[loss_at].grads["W_hy"])


def test_trace_arrays_match_the_records():
    s = small_session(batch_size=3)
    tr, td = _trace(s)
    for r in tr:
        if isinstance(r, BackwardStep):
            np.testing.assert_array_equal(td.dh[r.t], r.dh[0])
            assert np.isclose(td.dh_norm[r.t], np.linalg.norm(r.dh))
            np.testing.assert_allclose(td.dh_out[r.t] + td.dh_future[r.t], td.dh[r.t])
    np.testing.assert_allclose(td.per_step_loss.sum(), tr.loss)
    assert all(len(lab) == 1 for lab in td.x_labels)  # one character per input


def test_graph_frame_reveals_in_record_order_and_keeps_its_scales():
    s = small_session()
    tr, td = _trace(s)
    T = td.T
    first = recurrent_frame(td, 0, "activation")
    assert np.isfinite(first.node_value[T]) and np.all(np.isnan(first.node_value[T + 1:2 * T]))
    assert all(st != BACKWARD for st in first.edge_state)
    t4 = next(i for i, r in enumerate(tr) if isinstance(r, BackwardStep) and r.t == T - 2)
    f = recurrent_frame(td, t4, "delta")
    revealed = np.isfinite(f.node_value[T:2 * T])
    assert revealed.tolist() == [False] * (T - 2) + [True, True]
    full = recurrent_frame(td, len(tr) - 1, "delta")
    np.testing.assert_allclose(full.node_value[2 * T - 2:2 * T], f.node_value[2 * T - 2:2 * T])  # same scale
    assert np.all((full.edge_width >= 0) & (full.edge_width <= 1))
    assert np.sum(full.edge_state == FORWARD) + np.sum(full.edge_state == BACKWARD) == len(full.edges)


def test_truncation_window_in_the_graph_frame():
    s = small_session(truncation=2)
    tr, td = _trace(s)
    i = next(i for i, r in enumerate(tr) if isinstance(r, BackwardStep) and r.t == 1)
    f = recurrent_frame(td, i, "activation")
    assert tr[i].window == range(1, 3)
    x0, x1, _, _ = f.region
    assert x0 < 1 < x1 and x0 < 2 < x1 and not (x0 < 3 < x1)
    assert "window k=2" in f.region_label
    before = recurrent_frame(td, 0, "activation")
    assert before.region_dashed and "BPTT window k=2" in before.region_label


def test_log_scale_maps_decades():
    v = log_scale(np.array([1.0, 0.1, 1e-4, 1e-9, np.nan]), 1.0, decades=4)
    np.testing.assert_allclose(v[:4], [1.0, 0.75, 0.0, 0.0])
    assert np.isnan(v[4])


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_deltas_frame_hides_what_is_not_computed_yet(seed):
    s = small_session(seed=seed)
    tr, td = _trace(s)
    f = deltas_frame(td, 0, "dh")
    assert np.all(np.isnan(f.image))
    assert "none before the backward pass" in f.title  # says why it is empty
    loss_at = next(i for i, r in enumerate(tr) if isinstance(r, LossStep))
    assert "none before" in deltas_frame(td, loss_at, "dh").title
    first = next(i for i, r in enumerate(tr) if isinstance(r, BackwardStep))
    assert "none before" not in deltas_frame(td, first, "dh").title
    assert np.isfinite(deltas_frame(td, first, "dh").image).any()
    full = deltas_frame(td, len(tr) - 1, "dpre")
    assert full.image.shape == (12, 6) and np.all(np.isfinite(full.image))
    assert "none before" not in full.title
    assert full.level == np.nanmax(np.abs(td.dpre))


def test_weights_frame_and_labels():
    s = small_session(reduction="mean")
    tr, _ = _trace(s)
    n = s.last_narration
    f = weights_frame(moment_of(0, s, n, len(tr) - 1), "W_hh", s)  # the update record
    assert f.value.shape == (12, 12) and f.grad is not None
    np.testing.assert_array_equal(f.value, np.asarray(n.after["W_hh"], dtype=np.float32))
    np.testing.assert_allclose(f.delta, np.asarray(n.after["W_hh"] - n.before["W_hh"], dtype=np.float32))
    early = weights_frame(moment_of(0, s, n, 0), "W_hh", s)  # the first forward record: before the update
    np.testing.assert_array_equal(early.value, np.asarray(n.before["W_hh"], dtype=np.float32))
    assert early.delta is None and early.grad is None and early.grad_title == "gradient: not computed yet"
    assert early.sigma == pytest.approx(np.linalg.norm(n.before["W_hh"], 2))
    assert loss_label(s) == "cross-entropy loss (mean over batch, sum over time)"
    mlp = Session.from_preset("xor-mlp")
    assert loss_label(mlp) == "cross-entropy loss (mean over batch)"


def test_mlp_frame_and_skeletons():
    s = Session.from_preset("xor-mlp")
    it = s.iteration
    tr = s.narrated_step()
    td = mlp_trace(tr, iteration=it, activations=[a.name for a in s.model.activations])
    f = mlp_frame(td, len(tr) - 1, s.model.params, "delta")
    assert len(f.pos) == sum(s.model.layer_sizes) + 1
    assert np.all(np.isfinite(f.node_value[s.model.layer_sizes[0]:]))  # every non-input unit has a delta
    sk = skeleton(small_session())
    assert sk.T == 6 and len(sk.trace) == 0
    g = recurrent_frame(sk, -1, "activation")
    assert "Press →" in g.caption and np.all(np.isnan(g.node_value[:24]))


def test_unrolled_layout_is_the_graph_of_the_recurrence():
    """The layout built once per shape: every step has x->h and h_(t-1)->h (the initial state at
    t=0); steps with an output add h->y and y->L; nodes sit at (t, row)."""
    from bpttviz.presenters.graph_frame import IN, LOSS, OUT, REC, _recurrent_layout

    for out in (np.ones(5, bool), np.arange(5) == 4):
        T = len(out)
        pos, size, edges, kinds, ts = _recurrent_layout(T, out.tobytes())
        X, Hn, Y, Lo, H0 = 0, T, 2 * T, 3 * T, 4 * T
        want = []
        for t in range(T):
            want += [((X + t, Hn + t), IN, t), ((H0 if t == 0 else Hn + t - 1, Hn + t), REC, t)]
            if out[t]:
                want += [((Hn + t, Y + t), OUT, t), ((Y + t, Lo + t), LOSS, t)]
        assert [(tuple(e), k, t) for e, k, t in zip(edges.tolist(), kinds.tolist(), ts.tolist())] == want
        for row, base in enumerate((X, Hn, Y, Lo)):
            np.testing.assert_array_equal(pos[base:base + T], np.stack([np.arange(T), np.full(T, row)], 1))
        assert tuple(pos[H0]) == (-1.0, 1.0)
        assert np.all(size[Y:Y + T][~out] == 0) and np.all(size[Y:Y + T][out] == 1)
        assert not edges.flags.writeable  # shared between frames


def test_decay_leaves_out_the_jacobian_lines_only_beyond_the_budget():
    from bpttviz.presenters.decay import JACOBIAN_BUDGET, DecayPresenter, jacobian_cost

    small = small_session(seq_len=8)
    small.train_step()
    f = DecayPresenter().frame(small, moment_of(0, small, None, None), [])
    assert jacobian_cost(12, f.curve.size) == 7 * 12**3 <= JACOBIAN_BUDGET
    assert f.jacobian is not None and f.reference is not None and "left out" not in f.note
    # above the budget: 200 units and 14 steps back cost 14 * 200**3 = 1.1e8 multiply-adds
    big = small_session(hidden_size=200, seq_len=15, batch_size=1)
    big.train_step()
    f = DecayPresenter().frame(big, moment_of(0, big, None, None), [])
    assert jacobian_cost(200, f.curve.size) == 14 * 200**3 > JACOBIAN_BUDGET
    assert f.jacobian is None and f.reference is None
    assert "Jacobian lines left out: 200 units × 14 steps back" in f.note
    assert f.curve.size == 15 and np.all(np.isfinite(f.curve))  # the curve itself is still drawn


def test_large_heatmaps_are_drawn_in_blocks_of_their_largest_magnitude(qtbot):
    import pyqtgraph as pg

    from bpttviz.views.heatmap import MAX_CELLS, Heatmap, pool_max_abs
    from bpttviz.views.theme import Theme

    rng = np.random.default_rng(0)
    img = rng.standard_normal((1000, 300))
    img[:4, :2] = np.nan  # an all-NaN block stays blank
    glw = pg.GraphicsLayoutWidget()
    qtbot.addWidget(glw)
    h = Heatmap(glw.ci, Theme(), title="W_hh")
    h.set_image(img, 4.0)
    kr, kc = -(-1000 // MAX_CELLS), -(-300 // MAX_CELLS)
    assert h.blocks == (kr, kc) == (4, 2)
    shown = h.image.image
    assert shown.shape == (250, 150)
    block = img[8:12, 6:8].ravel()
    assert shown[2, 3] == np.float32(block[np.argmax(np.abs(block))])  # sign kept
    assert np.isnan(shown[0, 0])
    assert "W_hh · 4×2 blocks: largest |value| of each" in h.plot.titleLabel.text
    # the axes still count matrix rows and columns
    assert h.image.mapRectToParent(h.image.boundingRect()).height() == 1000
    small = rng.standard_normal((30, 20))
    h.set_image(small, 4.0)
    assert h.blocks == (1, 1) and h.image.image.shape == (30, 20) and "blocks" not in h.plot.titleLabel.text
    np.testing.assert_array_equal(pool_max_abs(small, 1, 1), small)
