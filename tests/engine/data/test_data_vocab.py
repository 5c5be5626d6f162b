"""Character and word vocabularies: round trips, special tokens, limits."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from bpttviz.engine.data import CharVocab, WordVocab, load_corpus, split_sentences, tokenize_words


@given(st.text(min_size=1, max_size=300))
def test_char_vocab_round_trip(text):
    v = CharVocab(text)
    ids = v.encode(text)
    assert ids.dtype == np.int64 and ids.shape == (len(text),)
    assert ids.min() >= 0 and ids.max() < v.size
    assert v.decode(ids) == text
    assert v.size == len(set(text))


def test_char_vocab_ids_are_sorted_ranks():
    v = CharVocab("banana!")
    assert v.chars == ("!", "a", "b", "n")
    assert v.encode("ban").tolist() == [2, 1, 3]


def test_char_vocab_unknown_char_is_named():
    v = CharVocab("abc")
    with pytest.raises(ValueError, match=r"'z' at position 2"):
        v.encode("abz")


def test_char_vocab_decode_rejects_out_of_range_ids():
    v = CharVocab("abc")
    with pytest.raises(ValueError, match=r"ids\[1\] = 3 is out of range.*\[0, 2\]"):
        v.decode([0, 3])


def test_char_vocab_on_the_shipped_play_round_trips():
    text = load_corpus("tempest")
    v = CharVocab(text)
    assert v.decode(v.encode(text)) == text


def test_tokenizer_lowercases_and_splits_punctuation():
    assert tokenize_words("Fall to't, YARELY!") == ["fall", "to't", ",", "yarely", "!"]
    assert tokenize_words("'Tis a--b") == ["'", "tis", "a", "-", "-", "b"]


def test_sentences_split_on_terminators_and_line_breaks():
    got = split_sentences("Who? Me! Yes... done.\nnext line\n\nlast")
    assert got == [
        ["who", "?"],
        ["me", "!"],
        ["yes", ".", ".", "."],
        ["done", "."],
        ["next", "line"],
        ["last"],
    ]


@given(st.lists(st.sampled_from(["a", "b", "c", "the", ",", ".", "!", "x'y"]), min_size=1))
def test_word_vocab_round_trip(tokens):
    text = " ".join(tokens)
    v = WordVocab(text)
    assert v.decode(v.encode(text)) == " ".join(tokenize_words(text))
    assert v.unk_id not in v.encode(text)


def test_word_vocab_specials_and_unknowns():
    v = WordVocab("the cat. the dog!")
    assert v.tokens[:3] == ("<unk>", "<s>", "</s>")
    assert (v.unk_id, v.bos_id, v.eos_id) == (0, 1, 2)
    assert v.tokens[3] == "the"  # most frequent first
    assert v.encode("the zebra").tolist() == [v.index["the"], v.unk_id]


def test_word_vocab_max_size_keeps_the_most_frequent():
    v = WordVocab("a a a b b c", max_size=5)
    assert v.size == 5
    assert v.tokens[3:] == ("a", "b")
    assert v.encode("c").tolist() == [v.unk_id]


def test_encode_sentences_wraps_each_sentence():
    v = WordVocab("Hello there. General Kenobi!")
    sents = v.encode_sentences("Hello there. General Kenobi!")
    assert len(sents) == 2
    for s in sents:
        assert s.dtype == np.int64 and s[0] == v.bos_id and s[-1] == v.eos_id
    assert v.lookup(sents[0]) == ["<s>", "hello", "there", ".", "</s>"]


def test_encode_stream_ends_each_sentence_with_eos():
    v = WordVocab("One. Two three!")
    assert v.lookup(v.encode_stream("One. Two three!")) == ["one", ".", "</s>", "two", "three", "!", "</s>"]


def test_word_vocab_bad_max_size_is_named():
    with pytest.raises(ValueError, match=r"max_size must be an int >= 4, got 3"):
        WordVocab("a b c", max_size=3)


def test_word_vocab_needs_words():
    with pytest.raises(ValueError, match=r"at least one word"):
        WordVocab("   \n ")
