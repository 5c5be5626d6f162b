"""Guided scenarios: every shipped one parses; broken ones are refused with the stop named."""

import pytest

from bpttviz.engine.training.config import Config
from bpttviz.engine.training.presets import list_presets, load_preset
from bpttviz.engine.training.scenario import parse_scenario

LECTURES = [n for n in list_presets() if n.startswith("lecture-")]


def test_seven_lecture_scenarios_ship():
    assert len(LECTURES) >= 7


@pytest.mark.parametrize("name", LECTURES)
def test_shipped_scenarios_parse(name):
    stops = parse_scenario(load_preset(name), name)
    assert stops and all(s.caption for s in stops)
    assert all(s.config is not None for s in stops)


@pytest.mark.parametrize("scenario,match", [
    ([], "non-empty list"),
    ([{"caption": ""}], "stop 1: 'caption'"),
    ([{"caption": "ok"}, {"caption": "x", "train": -1}], "stop 2: 'train'"),
    ([{"caption": "ok", "focus": "nowhere"}], "stop 1: 'focus': expected one of"),
    ([{"caption": "ok", "set": {"lr": 0}}], "stop 1 'set': field 'lr'"),
    ([{"caption": "ok", "set": {"model": "mlp"}}], "cannot run the sequence task"),
    ([{"caption": "ok", "jump": 3}], "unknown key 'jump'"),
    ([{"caption": "ok", "compare": {"hidden_size": 0}}], "stop 1 'compare': field 'hidden_size'"),
    ([{"caption": "ok", "unit": "epoch"}], "'unit': expected one of record, phase, iteration"),
])
def test_broken_scenarios_refused(scenario, match):
    cfg = Config.from_dict({"scenario": scenario})
    with pytest.raises(ValueError, match=match):
        parse_scenario(cfg)


def test_settings_accumulate_across_stops():
    cfg = Config.from_dict({"scenario": [{"caption": "a", "set": {"lr": 0.5}}, {"caption": "b", "set": {"seed": 3}}]})
    a, b = parse_scenario(cfg)
    assert a.config.lr == 0.5 and b.config.lr == 0.5 and b.config.seed == 3
