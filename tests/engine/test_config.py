"""The configuration validator: every bad value is named, with what is allowed."""

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bpttviz.engine.training.config import CHECKS, Config, load_config_file
from bpttviz.engine.training.presets import list_presets, load_preset


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


# ------------------------------------------------------------------------------- the field table
# The lists that were kept by hand before the table existed, copied verbatim: the derived ones
# must say the same thing.
OLD_STRUCTURAL = frozenset({
    "task", "corpus", "model", "hidden_size", "hidden_layers", "activation", "seq_len", "stride", "lag",
    "init", "init_scale", "recurrent_norm", "forget_bias", "batch_size", "seed", "vocab_size",
    "n_samples", "noise", "test_fraction", "optimizer", "n_remember",
})
OLD_FIELD_HELP = {
    "task": "what to train on", "corpus": "text for chars/words: built-in name or file path",
    "model": "rnn, lstm, gru or mlp", "hidden_size": "hidden units H (recurrent models)",
    "hidden_layers": "hidden layer sizes (mlp)", "activation": "hidden nonlinearity (rnn, mlp)",
    "seq_len": "timesteps T per training sequence",
    "stride": "tokens between chunk starts for language models (null = seq_len: contiguous chunks)",
    "lag": "distance the task must remember",
    "truncation": "BPTT window k (null = full)", "reduction": "sum or mean (sum / batch size)",
    "optimizer": "sgd, momentum, adagrad, adam", "lr": "learning rate",
    "clip": "none, value (element-wise) or norm (global)", "clip_threshold": "clipping threshold",
    "init": "weight initialisation", "init_scale": "multiplier on initial weights",
    "recurrent_norm": "largest singular value of the initial recurrent matrix (null = as drawn)",
    "forget_bias": "initial LSTM forget-gate bias", "batch_size": "sequences per batch",
    "seed": "random seed (same seed, same run)",
}
OLD_DEFAULTS = dict(
    task="chars", corpus="names", model="rnn", hidden_size=100, hidden_layers=(8, 8), activation="tanh", seq_len=25,
    stride=None, lag=None, n_remember=3, truncation=None, reduction="sum", loss_label="", optimizer="adagrad",
    lr=0.1, clip="value", clip_threshold=5.0, init="small", init_scale=1.0, recurrent_norm=None, forget_bias=1.0,
    batch_size=1, seed=0, vocab_size=4000, n_samples=400, noise=0.2, test_fraction=0.2, anneal=False,
    anneal_factor=0.5, anneal_patience=200, sample_every=100, sample_length=200, temperature=1.0, eval_every=50,
    diagnostics_every=5, title="", description="")
OLD_PANEL_LIVE = ("lr", "clip", "clip_threshold", "truncation", "reduction")
PANEL_FIELDS = ("task", "corpus", "model", "hidden_size", "hidden_layers", "activation", "seq_len", "lag",
                "vocab_size", "n_samples", "noise", "optimizer", "init", "init_scale", "recurrent_norm",
                "forget_bias", "batch_size", "seed", "lr", "clip", "clip_threshold", "truncation", "reduction")


def test_the_table_gives_the_config_its_fields_defaults_and_order():
    import dataclasses

    from bpttviz.engine.training.config import FIELDS

    names = [f.name for f in dataclasses.fields(Config)]
    assert names == [*OLD_DEFAULTS, "extras"] == [*FIELDS, "extras"]
    assert {k: getattr(Config(), k) for k in OLD_DEFAULTS} == OLD_DEFAULTS
    assert Config().extras == {} and Config(lr=0.2) != Config() and Config(extras={"views": 1}) == Config()


def test_derived_lists_equal_the_hand_kept_ones():
    from bpttviz.engine.training.config import CHECKS, FIELD_HELP, LIVE, STRUCTURAL, is_live

    assert STRUCTURAL == OLD_STRUCTURAL
    assert LIVE == frozenset(OLD_DEFAULTS) - OLD_STRUCTURAL
    assert set(CHECKS) == set(OLD_DEFAULTS)
    assert FIELD_HELP == OLD_FIELD_HELP  # the panel's tooltips, unchanged
    assert tuple(k for k in PANEL_FIELDS if is_live(k)) == OLD_PANEL_LIVE


def test_every_condition_of_the_table_names_a_field_and_values_it_allows():
    from bpttviz.engine.training.config import FIELDS

    for name, spec in FIELDS.items():
        for other, allowed in spec.applies_to.items():
            assert other in FIELDS and other != name, (name, other)
            assert allowed, (name, other)
            for v in allowed:
                assert CHECKS[other](v) == v, (name, other, v)  # a value the other field can take


@pytest.mark.parametrize("name,holds,fails", [
    # what each condition means, stated on configurations (the form shows a field exactly then)
    ("hidden_size", dict(model="gru"), dict(model="mlp", task="xor")),
    ("seq_len", dict(model="lstm"), dict(model="mlp", task="xor")),
    ("truncation", dict(model="rnn"), dict(model="mlp", task="digits")),
    ("recurrent_norm", dict(model="rnn"), dict(model="mlp", task="xor")),
    ("hidden_layers", dict(model="mlp", task="xor"), dict(model="rnn")),
    ("activation", dict(model="mlp", task="xor"), dict(model="lstm")),
    ("forget_bias", dict(model="lstm"), dict(model="gru")),
    ("corpus", dict(task="words"), dict(task="adding")),
    ("stride", dict(task="chars"), dict(task="copy")),
    ("vocab_size", dict(task="words"), dict(task="chars")),
    ("lag", dict(task="copy"), dict(task="parity")),
    ("n_remember", dict(task="copy"), dict(task="adding")),
    ("n_samples", dict(task="spirals", model="mlp"), dict(task="digits", model="mlp")),
    ("noise", dict(task="sine"), dict(task="digits", model="mlp")),
    ("test_fraction", dict(task="digits", model="mlp"), dict(task="sine")),
    ("clip_threshold", dict(clip="norm"), dict(clip="none")),
    ("anneal_factor", dict(anneal=True), dict(anneal=False)),
    ("sample_every", dict(task="chars"), dict(task="sine")),
    ("lr", dict(model="mlp", task="xor"), None),
])
def test_applies_says_when_a_setting_means_something(name, holds, fails):
    from bpttviz.engine.training.config import applies

    assert applies(name, Config().replace("test", **holds))
    assert applies(name, holds)  # a mapping: missing fields count as their defaults
    if fails is not None:
        assert not applies(name, Config().replace("test", **fails))
    with pytest.raises(ValueError, match="unknown field 'bogus'"):
        applies("bogus", Config())


def test_ranges_and_choices_are_the_ones_the_checks_enforce():
    from bpttviz.engine.training.config import FIELDS, field_choices, field_range

    for name, spec in FIELDS.items():
        choices, rng = field_choices(name), field_range(name)
        if choices is not None:
            for c in choices:
                assert CHECKS[name](c) == c
            with pytest.raises(TypeError):
                CHECKS[name]("not-a-choice")
        if rng is not None:
            lo, hi = rng
            kind = int if spec.type.startswith("int") else float
            assert CHECKS[name](kind(hi)) == hi
            with pytest.raises(TypeError):
                CHECKS[name](kind(hi) + 1)
            if getattr(spec.check, "open_lo", False):
                with pytest.raises(TypeError):
                    CHECKS[name](kind(lo))
            else:
                assert CHECKS[name](kind(lo)) == lo
                with pytest.raises(TypeError):
                    CHECKS[name](kind(lo) - 1)
        if spec.optional:
            assert CHECKS[name](None) is None
        assert CHECKS[name](spec.default) == spec.default  # every default passes its own check
    assert field_range("hidden_size") == (1, 1024) and field_choices("hidden_size") is None
    assert field_choices("reduction") == ("sum", "mean") and field_range("reduction") is None
    assert field_range("n_samples") == (10, 100_000)  # the 2-D tasks need at least 10 points
