"""The decay presenter's bound on a narrated iteration: sigma_max of the weights before the
update, exact, and measured once a frame for the decay and weights views together."""

from __future__ import annotations

import numpy as np

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
