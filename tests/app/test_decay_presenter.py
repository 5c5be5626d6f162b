"""The decay presenter's bound on a narrated iteration: sigma_max of the weights before the
update, exact, and measured once a frame for the decay and weights views together."""

from __future__ import annotations

import numpy as np
import pytest

from bpttviz.presenters.decay import DecayPresenter
from bpttviz.presenters.moment import moment_of
from bpttviz.presenters.panels import activation_gamma, weights_frame

from .conftest import small_session


def test_the_bound_uses_the_exact_sigma_max_shared_with_the_weights_view(monkeypatch):
    s = small_session(seq_len=8)
    s.train(3)
    tr = s.narrated_step()
    n = s.last_narration
    moment = moment_of(0, s, n, len(tr) - 1)  # the update record: the weights view shows before / after
    W = n.before["W_hh"]
    exact = float(np.linalg.norm(W, 2))
    w = weights_frame(moment, "W_hh", s)
    assert w.sigma_before == exact
    svds = []
    real_norm = np.linalg.norm
    monkeypatch.setattr(np.linalg, "norm", lambda a, *args, **kw: (svds.append(args) if args[:1] == (2,) else None)
                        or real_norm(a, *args, **kw))
    f = DecayPresenter().frame(s, moment, [])
    assert not any(a[:1] == (2,) for a in svds)  # the weights view's SVD served the decay's bound too
    gamma = activation_gamma(s)
    np.testing.assert_allclose(f.reference, f.curve[0] * (exact * gamma) ** np.arange(f.curve.size), rtol=1e-12)
    assert f.reference_label == f"σ_max={exact:.3g}, γ={gamma:g}"
    # alone (no weights view), the same exact value
    g = DecayPresenter().frame(s, moment_of(1, s, n, len(tr) - 1), [])
    np.testing.assert_allclose(g.reference, f.reference, rtol=0, atol=0)


def test_the_note_says_when_nothing_reaches_back():
    """A curve that is zero beyond k = 0 (sigma_max scaled to 0 in a what-if, a dead recurrent
    path) is said as such, not as "1.0 of the error reaches 0 steps back"."""
    from bpttviz.presenters.decay import decay_note

    zero = np.array([0.3, 0.0, 0.0, 0.0])
    note = decay_note(zero, 4, "iteration 5", None)
    assert note == "iteration 5: none of the last step's error reaches 1 step back (every value there is exactly 0)"
    assert "backward pass so far: none" in decay_note(zero, 3, "iteration 5", None)
    live = np.array([0.3, 0.03, 0.003, 0.0003])
    assert decay_note(live, 4, "t", None) == f"t: {live[3] / live[0]:.1e} of the last step's error reaches 3 steps back"
    assert "none" not in decay_note(np.array([0.3, np.nan, 0.0]), 3, "t", None)  # not finite: not "exactly 0"
    assert "truncated at k = 1" in decay_note(zero, 4, "t", 1)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_the_note_of_a_live_curve_with_no_recurrent_path(seed):
    """The engine's own decay curve of a vanilla RNN whose W_hh is scaled to 0 (the what-if at
    sigma_max = 0) is exactly 0 past the last step: the note says so, at several seeds."""
    from bpttviz.engine.gradients import attribution as at
    from bpttviz.engine.gradients.diagnostics import decay_curves
    from bpttviz.presenters.decay import decay_note

    s = small_session(seed=seed)
    s.train(3)
    x, y = s.last_batch
    dead = at.scale_recurrent(s.model, 0.0)
    curve = decay_curves(dead, x, y, **s.options())["h"]
    assert curve[0] > 0 and np.all(curve[1:] == 0)
    assert decay_note(curve, curve.size, "iteration 3", None) == (
        "iteration 3: none of the last step's error reaches 1 step back (every value there is exactly 0)")
    live = decay_curves(s.model, x, y, **s.options())["h"]
    assert "none" not in decay_note(live, live.size, "iteration 3", None)
