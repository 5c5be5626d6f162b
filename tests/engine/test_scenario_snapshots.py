"""Shipped snapshots of long stops (``engine.training.snapshots``): each one still matches its
scenario's training content and today's numerics; a run installs one instead of training only when
it is the state the stop would compute, and trains otherwise; wording and view-only stops do not
invalidate them. The soak test retrains the shortest shipped stop from scratch and compares."""

from __future__ import annotations

import copy
import json
import math

import numpy as np
import pytest

from bpttviz.commands.make_snapshots import snapshot_lecture
from bpttviz.engine.training.claims import check
from bpttviz.engine.training.config import Config
from bpttviz.engine.training.presets import list_presets, load_preset
from bpttviz.engine.training.scenario import ScenarioRun, parse_scenario
from bpttviz.engine.training.snapshots import INDEX, Shelf, chain_keys, shipped

TINY = {
    "title": "tiny", "task": "adding", "model": "rnn", "hidden_size": 6, "seq_len": 8, "lag": 4,
    "optimizer": "adam", "lr": 0.01, "batch_size": 4, "eval_every": 5, "seed": 3,
    "scenario": [
        {"caption": "two models", "compare": {"model": "lstm"}},
        {"caption": "look", "focus": "loss"},
        {"caption": "train", "train": 40},
        {"caption": "train on", "train": 20, "until": 60,
         "claims": [{"kind": "val_vs_baseline", "max": 10.0, "says": "anything"}]},
    ],
}


def tiny(**changes) -> Config:
    d = copy.deepcopy(TINY)
    d.update(changes)
    return Config.from_dict(d, "tiny")


def play(cfg: Config, shelf=None) -> list[ScenarioRun]:
    run = ScenarioRun(cfg, shelf=shelf)
    used = []
    for stop in parse_scenario(cfg, "tiny"):
        run.enter(stop)
        used.append(run.shipped_stop)
    return run, used


@pytest.fixture()
def shelf(tmp_path):
    from bpttviz.engine.training.snapshots import write_index

    entries = snapshot_lecture("tiny", tmp_path, 0.0, log=lambda *a: None, cfg=tiny())
    write_index(tmp_path, entries)
    assert [e.stop for e in entries] == [3, 4]
    return Shelf(tmp_path)


def same_params(a, b) -> bool:
    return a.iteration == b.iteration and all(np.array_equal(a.model.params[k], b.model.params[k])
                                              for k in a.model.params)


def test_a_shelved_stop_is_installed_bit_for_bit(shelf):
    live, _ = play(tiny())
    run, used = play(tiny(), Shelf(shelf.folder))
    assert used == [False, False, True, True]
    assert same_params(run.first, live.first) and same_params(run.second, live.second)
    # the iteration on screen is there as after a live run: its batch, update record and loss
    assert np.array_equal(run.first.last_batch[0], live.first.last_batch[0])
    assert run.first.last_loss == live.first.last_loss and run.first.last_update.norm == live.first.last_update.norm
    assert run.first.history["val_metric"].data()[1].tolist() == live.first.history["val_metric"].data()[1].tolist()
    assert run.trained == live.trained and run.first.iteration == 60


def test_wording_claims_and_view_stops_keep_the_snapshot(shelf):
    d = copy.deepcopy(TINY)
    d["scenario"][2]["caption"] = "another caption"
    d["scenario"][2]["claims"] = [{"kind": "train_loss", "max": 1e9}]  # a stop without until
    d["scenario"][3]["claims"].append({"kind": "loss_drop", "max": 1e9, "says": "added"})  # added to until
    d["scenario"][3]["claims"][0]["says"] = "reworded"
    d["scenario"].insert(1, {"caption": "a new view-only stop", "focus": "decay"})
    d["title"] = "renamed"
    cfg = Config.from_dict(d, "tiny")
    run, used = play(cfg, shelf)
    assert used == [False, False, False, True, True]
    assert run.first.cfg.title == "renamed" and run.first.cfg.extras["scenario"] == d["scenario"]
    assert run.second.cfg.title == "renamed" and run.second.cfg.model == "lstm"


@pytest.mark.parametrize("change", ["seed", "lr", "train", "until claim", "set", "removed claim"])
def test_a_change_to_training_falls_back_to_training(shelf, change):
    d = copy.deepcopy(TINY)
    if change == "seed":
        d["seed"] = 4
    elif change == "lr":
        d["lr"] = 0.02
    elif change == "train":
        d["scenario"][2]["train"] = 41
    elif change == "until claim":
        d["scenario"][3]["claims"][0]["max"] = 9.0
    elif change == "removed claim":
        d["scenario"][3]["claims"] = [{"kind": "loss_drop", "max": 1e9}]
    else:
        d["scenario"][3]["set"] = {"lr": 0.005}
    cfg = Config.from_dict(d, "tiny")
    run, used = play(cfg, shelf)
    live, _ = play(cfg)
    expect = {"seed": [False] * 4, "lr": [False] * 4, "train": [False] * 4, "set": [False, False, True, False],
              "until claim": [False, False, True, False], "removed claim": [False, False, True, False]}
    assert used == expect[change]
    assert same_params(run.first, live.first)


def test_changed_numerics_fall_back_to_training(shelf):
    index = shelf.folder / INDEX
    data = json.loads(index.read_text())
    data["snapshots"][0]["probe"]["first"][0] *= 1 + 1e-6  # as if the engine computed another loss
    index.write_text(json.dumps(data))
    _, used = play(tiny(), Shelf(shelf.folder))
    assert used == [False, False, False, True]


def test_a_shelf_is_not_used_from_a_state_changed_by_hand(shelf):
    cfg = tiny()
    stops = parse_scenario(cfg, "tiny")
    run = ScenarioRun(cfg, shelf=shelf)
    run.enter(stops[0])
    run.enter(stops[1])
    run.train(1)  # by hand: the state is no longer the scenario's
    run.chain = None
    run.enter(stops[2])
    assert not run.shipped_stop and run.first.iteration == 41


def test_a_missing_or_broken_file_falls_back_to_training(shelf):
    (shelf.folder / "tiny.stop-3.npz").write_bytes(b"not a zip")
    run, used = play(tiny(), Shelf(shelf.folder))
    live, _ = play(tiny())
    assert used == [False, False, False, True] and same_params(run.first, live.first)


# ------------------------------------------------------------------------------------ shipped
LECTURES = [n for n in list_presets() if n.startswith("lecture-")]


def test_every_shipped_snapshot_matches_its_scenario_now():
    """Fast: the chain key of the stop each snapshot was made for is today's, its files are there
    and the numerics probe agrees (a few iterations per configuration)."""
    shelf = Shelf()
    assert shelf.entries, "no shipped snapshots"
    assert not shelf.problems
    for e in shelf.entries.values():
        assert e.scenario in LECTURES
        cfg = load_preset(e.scenario)
        stops = parse_scenario(cfg, e.scenario)
        assert chain_keys(cfg, stops)[e.stop - 1] == e.key, f"{e.scenario} stop {e.stop}: run make_snapshots"
        assert (shelf.folder / e.first).is_file() and (e.second is None or (shelf.folder / e.second).is_file())
        assert shelf.find(e.key, stops[e.stop - 1]) is e, f"{e.scenario} stop {e.stop}: numerics changed"
    files = {p.name for p in shelf.folder.glob("*.npz")}
    named = {f for e in shelf.entries.values() for f in (e.first, e.second) if f}
    assert files == named  # no stale file ships
    total = sum(p.stat().st_size for p in shelf.folder.iterdir())
    assert total < 8 * 2**20, f"{total / 2**20:.1f} MB of snapshots"


def test_the_long_stops_are_shipped():
    """Every stop that trains 1,000 iterations or more (or may, while its claim fails) is shipped."""
    have = {(e.scenario, e.stop) for e in shipped().entries.values()}
    want = set()
    for name in LECTURES:
        for i, stop in enumerate(parse_scenario(load_preset(name), name), start=1):
            if stop.train + stop.until >= 1000:
                want.add((name, i))
    assert {("lecture-4-truncation", 4), ("lecture-5-lstm-vs-rnn", 2)} <= want  # the longest ones are seen
    assert want <= have, sorted(want - have)


@pytest.mark.soak
def test_training_from_scratch_reproduces_the_shortest_shipped_stop():
    """Bit for bit on the machine kind that made the snapshots (the same NumPy and BLAS)."""
    shelf = Shelf()
    e = min(shelf.entries.values(), key=lambda e: e.iteration)
    cfg = load_preset(e.scenario)
    run = ScenarioRun(cfg)
    stops = parse_scenario(cfg, e.scenario)
    for stop in stops[: e.stop]:
        run.enter(stop)
    first, second = shelf.load(e)
    assert same_params(run.first, first)
    assert (second is None) == (run.second is None) and (second is None or same_params(run.second, second))
    assert run.trained == e.trained
    v_live = [v.value for v in check(stops[e.stop - 1].claims, run.first, run.second)]
    v_shelf = [v.value for v in check(stops[e.stop - 1].claims, first, second)]
    assert all(a == b or (math.isnan(a) and math.isnan(b)) for a, b in zip(v_live, v_shelf))
