"""The default preset (min-char-rnn, the app's first screen) keeps improving: its names are
streamed in a fixed shuffled order, not in rank order, so training does not chase a drift from
common to rare names and the held-out tail is drawn like the training text."""

import numpy as np
import pytest

from bpttviz.engine.data import load_names
from bpttviz.engine.training.session import Session


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
    # at the shipped seed the first thousand or so iterations can still sit above uniform guessing
    # (validation runs the held-out text from a zero state; the app draws the chance line); from
    # 3,000 on it stays below it and keeps improving
    for n in (3000, 6000, 20000):
        assert seen[n] <= seen[1000] and seen[n] < uniform, seen
