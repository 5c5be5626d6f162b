"""Every claim of every stop of every shipped scenario holds, checked headlessly at the shipped
seed and at four others. At the shipped seed the long stops install their shipped snapshots, as
the app does (``engine.training.snapshots``; their claims are measured on them all the same).
Long runs are marked ``soak`` (run in CI): the four other seeds, and the shipped seed trained
from scratch for the lectures that train for thousands of iterations (4, 5 and 6; about 15-40 s
each on an idle 2-core machine, minutes on a loaded one). A claim is what the
stop's caption says is on the screen, measured by ``engine.training.claims``; a stop that trains may train
on (up to its cap) until its claims hold, exactly as the app's player does."""

import math

import numpy as np
import pytest

from bpttviz.engine.training.claims import Claim, check, parse_claims
from bpttviz.engine.training.config import Config
from bpttviz.engine.training.presets import list_presets, load_preset
from bpttviz.engine.training.scenario import ScenarioRun, parse_scenario
from bpttviz.engine.training.session import Session
from bpttviz.engine.training.snapshots import shipped

LECTURES = [n for n in list_presets() if n.startswith("lecture-")]
OTHER_SEEDS = (1, 2, 3, 4)
LONG = ("lecture-4-truncation", "lecture-5-lstm-vs-rnn", "lecture-6-char-rnn")
TRAINED = [pytest.param(n, marks=pytest.mark.soak) for n in LONG]


def play(name: str, seed_offset: int, shelf=None) -> list[tuple[int, list]]:
    cfg = load_preset(name)
    cfg = cfg.replace("test", seed=cfg.seed + seed_offset)
    stops = parse_scenario(cfg, name)
    run = ScenarioRun(cfg, shelf=shelf)
    out = []
    for i, stop in enumerate(stops, start=1):
        out.append((i, run.enter(stop)))
    return out


def assert_all_hold(name, offset, shelf=None):
    failed = [f"stop {i}: {v.sentence()}" for i, verdicts in play(name, offset, shelf) for v in verdicts
              if not v.holds]
    assert not failed, f"{name} at seed +{offset}:\n" + "\n".join(failed)


@pytest.mark.parametrize("name", LECTURES)
def test_every_claim_holds_at_the_shipped_seed(name):
    assert_all_hold(name, 0, shipped())


@pytest.mark.parametrize("name", TRAINED)
def test_every_claim_holds_at_the_shipped_seed_trained_from_scratch(name):
    assert_all_hold(name, 0)


@pytest.mark.soak
@pytest.mark.parametrize("offset", OTHER_SEEDS)
@pytest.mark.parametrize("name", LECTURES)
def test_every_claim_holds_at_four_other_seeds(name, offset):
    assert_all_hold(name, offset)


def test_the_lectures_that_teach_a_result_state_it_as_claims():
    for name in ("lecture-2-vanishing", "lecture-3-exploding", "lecture-4-truncation", "lecture-5-lstm-vs-rnn",
                 "lecture-6-char-rnn"):
        stops = parse_scenario(load_preset(name), name)
        assert any(s.claims for s in stops if s.train), name


def test_captions_use_one_notation():
    """A true minus in index arithmetic (the caption bar sets ``_t`` and ``_{t−1}`` as
    subscripts); outputs are p or ŷ and y is the target; no "left/right" for views (the
    comparison is in the "Second model" panel)."""
    for name in LECTURES:
        for s in parse_scenario(load_preset(name), name):
            assert "t-1" not in s.caption and "p - y" not in s.caption and "y_t and" not in s.caption, (name, s.caption)
            assert "Left:" not in s.caption and "on the left" not in s.caption, (name, s.caption)


def test_a_claim_that_does_not_hold_says_so():
    s = Session(Config.from_dict({"task": "adding", "model": "rnn", "hidden_size": 4, "seq_len": 8}))
    s.train(2)
    (v,) = check(parse_claims([{"kind": "val_vs_baseline", "max": 0.01, "says": "solved"}], "t"), s)
    assert not v.holds and v.value == pytest.approx(s.metric() / s.task.baseline)
    assert "solved: not this time" in v.sentence() and "claimed ≤ 0.01" in v.sentence()
    (w,) = check((Claim("val_vs_baseline", min=0.01),), s)
    assert w.holds


def test_claim_values_are_the_live_numbers():
    s = Session(Config.from_dict({"task": "adding", "model": "rnn", "hidden_size": 4, "seq_len": 8, "clip": "norm",
                                  "clip_threshold": 0.01}))
    s.train(20)
    claims = parse_claims([{"kind": k, "min": 0} for k in ("clipped_fraction", "train_loss", "blowup")]
                          + [{"kind": "decay_growth", "k": 3, "min": 0}], "t")
    v = {c.kind: x.value for c, x in zip(claims, check(claims, s))}
    _, clipped = s.history["clipped"].data()
    _, loss = s.history["loss"].data()
    assert v["clipped_fraction"] == clipped.mean() == 1.0
    assert v["train_loss"] == pytest.approx(loss[-50:].mean())
    assert v["blowup"] == 0
    from bpttviz.engine.gradients.diagnostics import gradient_decay

    d = gradient_decay(s.model, *s.last_batch, **s.options())
    assert v["decay_growth"] == pytest.approx(d[3] / d[0])


@pytest.mark.parametrize("claim,match", [
    ([{"kind": "nope", "min": 1}], "'kind': expected one of"),
    ([{"kind": "blowup"}], "give 'min', 'max' or both"),
    ([{"kind": "decay_ratio", "min": 1}], "'k': decay_ratio needs"),
    ([{"kind": "blowup", "min": 1, "model": "third"}], "'model': expected 'first' or 'second'"),
    ([{"kind": "blowup", "min": "1"}], "'min': expected a finite number"),
    ([{"kind": "blowup", "min": 1, "extra": 2}], "unknown key 'extra'"),
])
def test_broken_claims_are_refused_with_the_stop_named(claim, match):
    cfg = Config.from_dict({"scenario": [{"caption": "ok"}, {"caption": "x", "claims": claim}]})
    with pytest.raises(ValueError, match=match):
        parse_scenario(cfg)
    assert "stop 2" in str(pytest.raises(ValueError, parse_scenario, cfg).value)


def test_until_must_cover_train_and_restart_is_a_flag():
    with pytest.raises(ValueError, match="'until': expected at least 'train'"):
        parse_scenario(Config.from_dict({"scenario": [{"caption": "x", "train": 10, "until": 5}]}))
    with pytest.raises(ValueError, match="'restart': expected true or false"):
        parse_scenario(Config.from_dict({"scenario": [{"caption": "x", "restart": 1}]}))


def test_a_copied_session_goes_on_exactly_like_the_original():
    from bpttviz.engine.training.scenario import copy_session

    for name in ("min-char-rnn", "adding-lstm", "xor-mlp"):
        s = Session.from_preset(name)
        s.train(30)
        twin = copy_session(s)
        s.train(5)
        twin.train(5)
        assert twin.iteration == s.iteration == 35
        for k, p in s.model.params.items():
            assert np.array_equal(p, twin.model.params[k]), (name, k)


def test_copying_a_session_only_reads_it():
    """A worker thread copies the session the UI thread shows: the copy must not touch it (the
    language task's chunk iterator stays the original's, its saved state unchanged)."""
    from bpttviz.engine.training.scenario import copy_session

    s = Session.from_preset("min-char-rnn")
    s.train(3)
    it, state = s.task._iter, s.task.state_dict()
    assert it is not None and state["started"]
    twin = copy_session(s)
    assert s.task._iter is it and s.task.state_dict() == state
    assert twin.task._iter is not it and twin.task.state_dict() == state


def test_a_stop_trains_until_its_claim_holds_within_its_cap():
    cfg = Config.from_dict({"task": "adding", "model": "rnn", "hidden_size": 4, "seq_len": 8, "scenario": [
        {"caption": "x", "train": 10, "until": 100, "claims": [{"kind": "blowup", "min": 1}]}]})
    (stop,) = parse_scenario(cfg)
    run = ScenarioRun(cfg)
    (v,) = run.enter(stop)
    assert not v.holds and run.first.iteration == 100  # never blows up: trained to the cap, no further
    assert not math.isnan(v.value)


# ------------------------------------------------------------------ the attribution view's claims
def _before_training(name: str) -> list:
    """The stops of lecture ``name`` before the first one that trains (fast to play)."""
    stops = parse_scenario(load_preset(name), name)
    n = next((i for i, s in enumerate(stops) if s.train), len(stops))
    return stops[:n]


FAST_ATTRIBUTION = [n for n in LECTURES if any(s.focus == "attribution" and s.claims for s in _before_training(n))]


@pytest.mark.parametrize("offset", (0,) + OTHER_SEEDS)
@pytest.mark.parametrize("name", FAST_ATTRIBUTION)
def test_attribution_claims_before_training_hold_at_five_seeds(name, offset):
    """The attribution stops that need no training (the vanishing, truncation and sigma_max
    lectures) checked at the shipped seed and four others in every run; those after training
    (the LSTM lecture's) are in the soak tests above."""
    cfg = load_preset(name)
    cfg = cfg.replace("test", seed=cfg.seed + offset)
    stops = parse_scenario(cfg, name)[:len(_before_training(name))]
    run = ScenarioRun(cfg)
    failed = [f"stop {i}: {v.sentence()}" for i, stop in enumerate(stops, start=1) for v in run.enter(stop)
              if not v.holds]
    assert not failed, f"{name} at seed +{offset}:\n" + "\n".join(failed)


def test_every_attribution_stop_states_its_claims():
    """Every stop that raises the attribution view in the vanishing, truncation, LSTM and sigma_max
    lectures carries checked claims about the matrix it shows."""
    from bpttviz.engine.training.claims import ATTRIBUTION_KINDS

    for name in ("lecture-2-vanishing", "lecture-4-truncation", "lecture-5-lstm-vs-rnn", "lecture-8-spectral-radius"):
        stops = [s for s in parse_scenario(load_preset(name), name) if s.focus == "attribution"]
        assert stops, name
        for s in stops:
            assert any(c.kind in ATTRIBUTION_KINDS for c in s.claims), (name, s.caption)


def test_attribution_claims_measure_the_shown_iteration():
    """The attribution kinds read the newest narrated iteration with the parameters before its
    update (what the attribution view draws), and between iterations the last batch now."""
    from bpttviz.engine.gradients import attribution as at
    from bpttviz.engine.training.session import model_with

    s = Session(Config.from_dict({"task": "adding", "model": "rnn", "hidden_size": 6, "seq_len": 10,
                                  "recurrent_norm": 0.9}))
    s.narrated_step()
    n = s.last_narration
    ref = at.attribution(model_with(s.model, n.before), n.inputs, n.targets, h0=n.h0, **n.options)
    claims = parse_claims([{"kind": "attribution_far", "k": 3, "min": 0}, {"kind": "attribution_reach", "min": 0},
                           {"kind": "attribution_decay", "k": 4, "min": 0}, {"kind": "recurrent_sigma", "min": 0},
                           {"kind": "spectral_ratio", "min": 0}], "t")
    v = [x.value for x in check(claims, s)]
    t, tp = np.indices(ref.A.shape)
    assert v[0] == pytest.approx(ref.A[tp - t >= 3].sum() / ref.A.sum())
    assert v[1] == ref.reach(0.01).max()
    T = ref.T
    assert v[2] == pytest.approx(ref.A[T - 5, T - 1] / ref.A[T - 1, T - 1])
    W = n.before["W_hh"]
    assert v[3] == pytest.approx(np.linalg.norm(W, 2)) and v[3] == pytest.approx(0.9)  # the initial weights
    assert v[4] == pytest.approx(max(abs(np.linalg.eigvals(W))) / np.linalg.norm(W, 2))
    s.train_step()  # between iterations: the last batch with the parameters now
    x, y = s.last_batch
    now = at.attribution(s.model, x, y, **s.options())
    assert check(claims[:1], s)[0].value == pytest.approx(now.A[tp - t >= 3].sum() / now.A.sum())
    # a cell state the model does not have, or a ratio without a second model: not measurable
    (c,) = check(parse_claims([{"kind": "attribution_reach", "state": "c", "min": 0}], "t"), s)
    (r,) = check(parse_claims([{"kind": "attribution_reach_ratio", "min": 0}], "t"), s)
    assert math.isnan(c.value) and not c.holds and math.isnan(r.value)
