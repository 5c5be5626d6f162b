"""The configuration validator: every bad value is named, with what is allowed."""

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.config import CHECKS, Config, load_config_file
from engine.presets import list_presets, load_preset


@pytest.mark.parametrize("change,match", [
    (dict(lr=0), r"field 'lr': expected a finite number > 0"),
    (dict(lr=float("nan")), r"field 'lr'"),
    (dict(hidden_size=0), r"field 'hidden_size': expected a whole number from 1 to 1024, got 0"),
    (dict(truncation=0), r"field 'truncation'"),
    (dict(task="adding", lag=50, seq_len=20), r"field 'lag': 50 is longer than the sequence"),
    (dict(model="mlp"), r"model 'mlp' cannot run the sequence task"),
    (dict(task="xor"), r"model 'rnn' cannot run task 'xor'"),
    (dict(optimizer="lbfgs"), r"field 'optimizer': expected one of"),
    (dict(hidden_size=True), r"field 'hidden_size'"),
    (dict(seq_len="25"), r"field 'seq_len'"),
    (dict(bogus=1), r"unknown field 'bogus'"),
])
def test_bad_values_are_named(change, match):
    with pytest.raises(ValueError, match=match):
        Config().replace("preset x.json", **change)


def test_every_shipped_preset_validates():
    for name in list_presets():
        assert isinstance(load_preset(name), Config)


@pytest.mark.parametrize("content,match", [
    ("{", "not valid JSON"),
    ("[1, 2]", "expected a JSON object"),
    ('{"lr": "fast"}', "field 'lr'"),
    ('{"hidden_size": 3.5}', "field 'hidden_size'"),
    ("[" * 100000 + "]" * 100000, "JSON|nested"),
])
def test_bad_preset_files(tmp_path, content, match):
    f = tmp_path / "p.json"
    f.write_text(content)
    with pytest.raises(ValueError, match=match):
        load_config_file(f)


def test_huge_and_binary_preset_files(tmp_path):
    f = tmp_path / "big.json"
    f.write_bytes(b" " * 2_000_001)
    with pytest.raises(ValueError, match="limited to"):
        load_config_file(f)
    f.write_bytes(b"\xff\xfe{}")
    with pytest.raises(ValueError, match="not UTF-8"):
        load_config_file(f)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3),
    max_leaves=10)


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(st.sampled_from(sorted(CHECKS) + ["junk"]), json_values, max_size=6))
def test_validator_only_ever_accepts_or_raises_valueerror(data):
    try:
        cfg = Config.from_dict(data, "fuzz")
    except ValueError as e:
        assert str(e).startswith("fuzz: ")
    else:
        assert Config.from_dict(json.loads(json.dumps(cfg.to_dict())), "again") == cfg
