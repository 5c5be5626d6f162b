"""chunk_stream: targets are the inputs shifted along TIME; chunks continue each stream."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from bpttviz.engine.data import CharVocab, WordVocab, chunk_stream, load_corpus, train_val_split


def test_arange_stream_pins_down_every_axis():
    # ids = 0..N-1: a shift along time adds 1, a shift along the batch axis would add L.
    ids = np.arange(30)
    chunks = list(chunk_stream(ids, seq_len=4, batch_size=3))
    L = 10
    first = chunks[0]
    assert first.inputs.shape == first.targets.shape == (3, 4)
    assert first.inputs.tolist() == [[0, 1, 2, 3], [10, 11, 12, 13], [20, 21, 22, 23]]
    assert np.array_equal(first.targets, first.inputs + 1)
    # streams are contiguous slices of length L, last chunk is shorter (L - 1 = 9 pairs)
    assert [c.inputs.shape[1] for c in chunks] == [4, 4, 1]
    assert chunks[-1].inputs[:, 0].tolist() == [8, 8 + L, 8 + 2 * L]
    assert chunks[-1].targets[:, 0].tolist() == [9, 9 + L, 9 + 2 * L]


@given(
    n=st.integers(2, 400),
    seq_len=st.integers(1, 40),
    batch_size=st.integers(1, 8),
    seed=st.integers(0, 2**32 - 1),
)
def test_chunks_tile_each_stream_in_order(n, seq_len, batch_size, seed):
    if n // batch_size < 2:
        with pytest.raises(ValueError, match="batch_size"):
            chunk_stream(np.arange(n), seq_len, batch_size=batch_size)
        return
    ids = np.random.default_rng(seed).integers(0, 50, size=n)
    cs = chunk_stream(ids, seq_len, batch_size=batch_size)
    chunks = list(cs)
    assert len(chunks) == len(cs)
    L = n // batch_size
    streams = ids[: L * batch_size].reshape(batch_size, L)
    inputs = np.concatenate([c.inputs for c in chunks], axis=1)
    targets = np.concatenate([c.targets for c in chunks], axis=1)
    # Concatenating chunk k, k+1, ... along time rebuilds each row's stream: state carries.
    assert np.array_equal(inputs, streams[:, :-1])
    assert np.array_equal(targets, streams[:, 1:])
    for c in chunks:
        assert c.inputs.dtype == np.int64 and c.inputs.shape[0] == batch_size
        assert np.array_equal(c.targets[:, :-1], c.inputs[:, 1:])
    for a, b in zip(chunks, chunks[1:]):
        assert np.array_equal(b.inputs[:, 0], a.targets[:, -1])


def test_drop_last_keeps_only_full_chunks():
    cs = chunk_stream(np.arange(30), seq_len=4, batch_size=3, drop_last=True)
    assert len(cs) == 2
    assert all(c.inputs.shape == (3, 4) for c in cs)


def test_stride_gives_overlapping_windows():
    chunks = list(chunk_stream(np.arange(10), seq_len=4, stride=2, drop_last=True))
    assert [c.inputs[0, 0] for c in chunks] == [0, 2, 4]
    assert chunks[1].targets.tolist() == [[3, 4, 5, 6]]


def test_stream_is_reiterable_and_chunks_are_copies():
    cs = chunk_stream(np.arange(20), seq_len=3, batch_size=2)
    a = [c.inputs.copy() for c in cs]
    first = next(iter(cs))
    first.inputs[:] = -1  # a consumer scribbling on a chunk must not change the data
    b = [c.inputs for c in cs]
    assert all(np.array_equal(x, y) for x, y in zip(a, b))


def test_char_chunks_on_the_play_follow_the_text():
    text = load_corpus("tempest")
    v = CharVocab(text)
    B, T = 4, 50
    chunks = list(chunk_stream(v.encode(text), T, batch_size=B))
    L = len(text) // B
    for b in range(B):
        row_in = "".join(v.decode(c.inputs[b]) for c in chunks)
        row_tg = "".join(v.decode(c.targets[b]) for c in chunks)
        assert row_in == text[b * L : (b + 1) * L - 1]
        assert row_tg == text[b * L + 1 : (b + 1) * L]
    c = chunks[3]
    assert v.decode(c.targets[2])[:-1] == v.decode(c.inputs[2])[1:]


def test_word_chunks_shift_along_time():
    text = load_corpus("midsummer")
    v = WordVocab(text)
    stream = v.encode_stream(text)
    chunks = list(chunk_stream(stream, seq_len=12, batch_size=5, drop_last=True))
    L = len(stream) // 5
    for k, c in enumerate(chunks[:10]):
        for b in range(5):
            start = b * L + 12 * k
            assert v.lookup(c.inputs[b]) == v.lookup(stream[start : start + 12])
            assert v.lookup(c.targets[b]) == v.lookup(stream[start + 1 : start + 13])
    assert np.array_equal(chunks[1].inputs[:, 0], chunks[0].targets[:, -1])


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"ids": np.arange(10), "seq_len": 0}, r"seq_len must be an int >= 1, got 0"),
        ({"ids": np.arange(10), "seq_len": 2, "stride": 0}, r"stride must be an int >= 1, got 0"),
        ({"ids": np.arange(10), "seq_len": 2, "batch_size": 0}, r"batch_size must be an int >= 1"),
        ({"ids": np.arange(10), "seq_len": 2, "batch_size": 6}, r"10 tokens.*batch_size=6"),
        ({"ids": np.zeros((2, 5), int), "seq_len": 2}, r"ids must be a 1-D integer array"),
        ({"ids": np.linspace(0, 1, 9), "seq_len": 2}, r"ids must be a 1-D integer array"),
        (
            {"ids": np.arange(10), "seq_len": 10, "drop_last": True},
            r"full chunk of seq_len=10",
        ),
    ],
)
def test_bad_arguments_are_named(kwargs, message):
    with pytest.raises(ValueError, match=message):
        chunk_stream(**kwargs)


def test_train_val_split_takes_the_last_tenth():
    train, val = train_val_split("abcdefghij" * 10)
    assert len(val) == 10 and len(train) == 90
    assert train + val == "abcdefghij" * 10
    ids = np.arange(50)
    tr, va = train_val_split(ids, 0.2)
    assert tr.tolist() == list(range(40)) and va.tolist() == list(range(40, 50))


@pytest.mark.parametrize("frac", [0.0, 1.0, -0.1, float("nan")])
def test_train_val_split_bad_fraction(frac):
    with pytest.raises(ValueError, match=r"val_fraction must be a finite number in \(0.0, 1.0\)"):
        train_val_split("abcdef", frac)


def test_train_val_split_too_short():
    with pytest.raises(ValueError, match="both parts must be non-empty"):
        train_val_split("ab", 0.1)
