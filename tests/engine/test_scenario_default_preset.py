"""The default preset (min-char-rnn, the app's first screen) keeps improving: its names are
streamed in a fixed shuffled order, not in rank order, so training does not chase a drift from
common to rare names and the held-out tail is drawn like the training text; validation reads the
held-out names from the state training carries, so it is below chance from the first hundred
iterations on (read from zeros it was worse than chance for the whole first epoch)."""

import numpy as np
import pytest

from bpttviz.engine.data import load_names
from bpttviz.engine.nn.losses import log_softmax
from bpttviz.engine.training.session import Session


def _bits_from_zeros(s: Session) -> float:
    x, y = s.task.validation()
    out, _ = s.model.forward(x)
    return float(-np.take_along_axis(log_softmax(out), y[..., None], -1).mean() / np.log(2.0))


def test_min_char_rnn_is_below_chance_early_and_improves():
    """The first 1,000 iterations (about a second): every validation point from iteration 100 on
    is below chance (log2 27 bits), and the value at 1,000 is below the one at 250. The cause of
    the old early figures (6.45 bits at 500, 5.38 at 1,000) is kept as a fact: the tanh units are
    saturated, and from a zero state the network settles in the mirror image of the state training
    carries (most units of opposite sign), where its output layer predicts worse than chance."""
    s = Session.from_preset("min-char-rnn")
    uniform = np.log2(s.task.vocab.size)
    assert s.task.baseline == pytest.approx(uniform)
    s.train(500)
    carried = s.state[0]
    x, _ = s.task.validation()
    _, (from_zero,) = s.model.forward(x[:, :500])
    _, (from_carried,) = s.model.forward(x[:, :500], h0=carried)
    assert np.mean(np.sign(from_zero) != np.sign(from_carried)) > 0.8  # the mirror-image attractor
    assert _bits_from_zeros(s) > uniform > s.metric()  # why validation reads from the carried state
    assert s.metric() == pytest.approx(s.task.metric(s.model, s.state))
    s.train(500)
    it, val = s.history["val_metric"].data()
    assert it[-1] == 1000 and val[-1] == s.metric()
    assert np.all(val[it >= 100] < uniform), dict(zip(it.tolist(), val.round(2).tolist()))
    assert val[-1] < val[it == 250][0] and val[-1] < 0.8 * uniform


def test_names_are_streamed_shuffled_and_validation_is_like_training():
    s = Session.from_preset("min-char-rnn")
    task = s.task
    names = load_names()
    rank = {n: i for i, n in enumerate(names)}
    train = task.vocab.decode(task.train_ids).split()[:-1]  # the split may cut a name in two
    val = task.vocab.decode(task.val_ids).split()[1:-1]
    assert set(train) | set(val) <= set(names)
    assert len(set(names) - set(train) - set(val)) <= 3  # every name but the cut ones
    # rank order would put only the rarest 10% in validation; shuffled, its ranks spread evenly
    val_ranks = np.array([rank[n] for n in val]) / len(names)
    assert 0.4 < val_ranks.mean() < 0.6 and val_ranks.min() < 0.05
    assert task.baseline == pytest.approx(np.log2(task.vocab.size))  # uniform guessing: the line to stay under
    again = Session.from_preset("min-char-rnn", seed=7).task  # the order does not depend on the seed
    assert np.array_equal(again.train_ids, task.train_ids)


@pytest.mark.soak
def test_min_char_rnn_validation_never_worse_than_at_1000_iterations():
    """Validation bits/char at 3,000, 6,000 and 20,000 iterations are at most the 1,000 figure
    (before the fix 2,800 iterations gave 3.90 against 3.43 at 1,000, and worse than uniform in
    the app's run). One 20,000-iteration run, about a minute."""
    s = Session.from_preset("min-char-rnn")
    s.cfg = s.cfg.replace("test", eval_every=1000)
    seen = {}
    for target in (1000, 3000, 6000, 20000):
        s.train(target - s.iteration)
        assert s.blowup is None
        seen[target] = s.metric()
    uniform = np.log2(s.task.vocab.size)
    assert all(np.isfinite(v) for v in seen.values()), seen
    assert seen[1000] < uniform, seen
    for n in (3000, 6000, 20000):
        assert seen[n] <= seen[1000] and seen[n] < uniform, seen
