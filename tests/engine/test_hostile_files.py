"""Hostile files: whatever bytes a corpus or preset file holds, loading gives text/a config or a
ValueError naming the file; never another exception, never a hang."""

from __future__ import annotations

import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bpttviz.engine.data import load_text
from bpttviz.engine.training.config import load_config_file

FILE_BYTES = st.one_of(
    st.binary(max_size=400),
    st.text(max_size=200).map(lambda s: s.encode("utf-8")),
    st.text(max_size=100).map(lambda s: s.encode("utf-16")),
    st.builds(lambda a, b: a + b, st.text(max_size=50).map(str.encode), st.binary(max_size=20)),
)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=FILE_BYTES)
def test_corpus_loader_never_fails_uncleanly(tmp_path, data):
    f = tmp_path / "corpus.txt"
    f.write_bytes(data)
    try:
        text = load_text(f)
    except ValueError as e:
        assert "corpus.txt" in str(e)
    else:
        assert isinstance(text, str) and text.strip() and "\x00" not in text


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.one_of(FILE_BYTES, st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=10),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=20).map(lambda v: json.dumps(v).encode())))
def test_preset_loader_never_fails_uncleanly(tmp_path, data):
    f = tmp_path / "preset.json"
    f.write_bytes(data)
    try:
        load_config_file(f)
    except ValueError as e:
        assert "preset.json" in str(e)


def test_corpus_with_one_enormous_line_is_capped(tmp_path):
    f = tmp_path / "line.txt"
    f.write_bytes(b"a" * 3_000_000)  # one 3 MB line: over the 2 MB limit
    with pytest.raises(ValueError, match="line.txt"):
        load_text(f)


def test_fifo_corpus_is_refused_without_blocking(tmp_path):
    import os

    fifo = tmp_path / "pipe.txt"
    os.mkfifo(fifo)
    with pytest.raises(ValueError, match="not a regular file"):
        load_text(fifo)
