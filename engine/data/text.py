"""Text for language-model tasks: safe loading, character and word vocabularies, chunking.

The stream convention used throughout: a text becomes one 1-D int64 id array ``(N,)``;
:func:`chunk_stream` cuts it into ``(B, T)`` input/target chunks for truncated BPTT, where the
target at time ``t`` is the input at time ``t + 1`` of the same stream.
"""

from __future__ import annotations

import codecs
import os
import re
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple, TypeVar

import numpy as np

from ._validate import check_float, check_int

DEFAULT_MAX_BYTES = 2_000_000

# ---------------------------------------------------------------------------------------------
# loading


def load_text(path: str | os.PathLike[str], max_bytes: int = DEFAULT_MAX_BYTES) -> str:
    """Read a user's UTF-8 text file and return its text with ``\\n`` line endings.

    Policy for large files: **refuse**. A file larger than ``max_bytes`` raises ``ValueError``
    saying the limit (nothing is silently truncated); pass a larger ``max_bytes`` to accept it.

    A leading UTF-8 byte-order mark is dropped and ``\\r\\n`` / ``\\r`` become ``\\n``.

    Raises ``ValueError`` naming the file when it is empty (or only whitespace), binary (contains
    a NUL byte; the offset is given), not valid UTF-8 (the byte offset of the first bad byte is
    given) or larger than ``max_bytes``. A missing file raises the usual ``OSError``.
    """
    max_bytes = check_int("max_bytes", max_bytes, 1)
    p = Path(path)
    if p.exists() and not p.is_file():  # a folder, a FIFO or a device would block or fail oddly
        raise ValueError(f"'{p}' is not a regular file; choose a plain UTF-8 text file")
    with p.open("rb") as f:
        # Read one byte past the limit rather than trusting st_size (pipes, growing files).
        data = f.read(max_bytes + 1)
    if len(data) > max_bytes:
        size = p.stat().st_size
        size_text = f"{size:,} bytes" if size > max_bytes else "more than that"
        raise ValueError(
            f"text file '{p}' is too large ({size_text}): the limit is max_bytes={max_bytes:,} "
            "bytes; trim the file or pass a larger max_bytes"
        )
    if not data:
        raise ValueError(f"text file '{p}' is empty; choose a file that contains some text")
    nul = data.find(b"\x00")
    if nul >= 0:
        raise ValueError(f"file '{p}' looks binary (NUL byte at byte offset {nul}); choose a plain UTF-8 text file")
    skip = len(codecs.BOM_UTF8) if data.startswith(codecs.BOM_UTF8) else 0
    try:
        text = data[skip:].decode("utf-8")
    except UnicodeDecodeError as err:
        offset = skip + err.start
        raise ValueError(
            f"text file '{p}' is not valid UTF-8: byte 0x{data[offset]:02x} at byte offset "
            f"{offset} ({err.reason}); save the file as UTF-8"
        ) from None
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    if not text.strip():
        raise ValueError(f"text file '{p}' contains only whitespace; it has no text to learn")
    return text


# ---------------------------------------------------------------------------------------------
# vocabularies


def _as_id_array(ids: object, size: int, name: str = "ids") -> np.ndarray:
    arr = np.asarray(ids)
    if arr.size == 0:
        return np.zeros(0, dtype=np.int64)
    if arr.ndim != 1 or arr.dtype.kind not in "iu":
        raise ValueError(f"{name} must be a 1-D sequence of integer ids, got shape {arr.shape} dtype {arr.dtype}")
    bad = (arr < 0) | (arr >= size)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise ValueError(f"{name}[{i}] = {int(arr[i])} is out of range; ids must be in [0, {size - 1}]")
    return arr.astype(np.int64, copy=False)


class CharVocab:
    """Character vocabulary: the sorted unique characters of a text; id = rank in that order.

    ``encode(str) -> (N,) int64``, ``decode((N,) ints) -> str``; ``size`` ids in ``[0, size)``.
    """

    def __init__(self, text: str) -> None:
        if not isinstance(text, str) or not text:
            raise ValueError(f"CharVocab needs a non-empty str text, got {text!r:.60}")
        self.chars: tuple[str, ...] = tuple(sorted(set(text)))
        # Code points in sorted order: sorting str sorts by code point, so ids are ranks here.
        self._codes = np.array([ord(c) for c in self.chars], dtype=np.uint32)

    @property
    def size(self) -> int:
        """Number of distinct characters (ids are ``0 .. size-1``)."""
        return len(self.chars)

    def __len__(self) -> int:
        return self.size

    def __repr__(self) -> str:
        return f"CharVocab(size={self.size})"

    def encode(self, text: str) -> np.ndarray:
        """Return the ids of ``text`` as an ``(len(text),)`` int64 array.

        Raises ``ValueError`` naming the first character that is not in the vocabulary.
        """
        if not isinstance(text, str):
            raise ValueError(f"text must be a str, got {type(text).__name__}")
        codes = np.frombuffer(text.encode("utf-32-le"), dtype=np.uint32)
        ids = np.searchsorted(self._codes, codes)
        ids_clipped = np.minimum(ids, self.size - 1)
        unknown = self._codes[ids_clipped] != codes
        if unknown.any():
            i = int(np.flatnonzero(unknown)[0])
            raise ValueError(
                f"character {text[i]!r} at position {i} of text is not in the vocabulary ({self.size} characters)"
            )
        return ids_clipped.astype(np.int64)

    def decode(self, ids: Sequence[int] | np.ndarray) -> str:
        """Return the text of a 1-D id sequence ``(N,)``."""
        arr = _as_id_array(ids, self.size)
        return self._codes[arr].tobytes().decode("utf-32-le")


# Words (letters/digits, with inner apostrophes as in "to't" or "o'er") or single punctuation.
_TOKEN_RE = re.compile(r"[^\W_]+(?:'[^\W_]+)*|[^\w\s]|_")
_SENTENCE_END = frozenset(".!?")


def tokenize_words(text: str) -> list[str]:
    """Lowercase ``text`` and split it into words and single punctuation tokens.

    ``"Fall to't, yarely!"`` -> ``["fall", "to't", ",", "yarely", "!"]``.
    """
    return _TOKEN_RE.findall(text.lower())


def split_sentences(text: str) -> list[list[str]]:
    """Tokenize ``text`` into sentences: split at line breaks and after ``.``, ``!``, ``?``.

    A run of terminators (``"?!"``, ``"..."``) stays with its sentence; the terminator tokens
    are kept as the last tokens of the sentence. Empty sentences are dropped.
    """
    sentences: list[list[str]] = []
    for line in text.splitlines():
        tokens = tokenize_words(line)
        current: list[str] = []
        for i, tok in enumerate(tokens):
            current.append(tok)
            nxt = tokens[i + 1] if i + 1 < len(tokens) else None
            if tok in _SENTENCE_END and nxt not in _SENTENCE_END:
                sentences.append(current)
                current = []
        if current:
            sentences.append(current)
    return sentences


class WordVocab:
    """Word vocabulary built from a text, with special tokens.

    Ids: ``<unk>`` = 0, ``<s>`` = 1, ``</s>`` = 2, then the most frequent tokens of
    :func:`tokenize_words` (ties broken alphabetically) up to ``max_size`` entries in total.
    Tokens outside the vocabulary encode as ``<unk>``.
    """

    UNK = "<unk>"
    BOS = "<s>"
    EOS = "</s>"
    SPECIALS = (UNK, BOS, EOS)
    unk_id = 0
    bos_id = 1
    eos_id = 2

    def __init__(self, text: str, max_size: int = 4000) -> None:
        max_size = check_int("max_size", max_size, len(self.SPECIALS) + 1)
        if not isinstance(text, str):
            raise ValueError(f"text must be a str, got {type(text).__name__}")
        counts = Counter(tok for sent in split_sentences(text) for tok in sent)
        if not counts:
            raise ValueError(f"WordVocab needs a text with at least one word, got {text!r:.60}")
        ranked = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
        words = [w for w, _ in ranked[: max_size - len(self.SPECIALS)]]
        self.tokens: tuple[str, ...] = self.SPECIALS + tuple(words)
        self.index: dict[str, int] = {tok: i for i, tok in enumerate(self.tokens)}
        self.counts: dict[str, int] = dict(counts)

    @property
    def size(self) -> int:
        """Number of tokens including the three special tokens."""
        return len(self.tokens)

    def __len__(self) -> int:
        return self.size

    def __repr__(self) -> str:
        return f"WordVocab(size={self.size})"

    def encode(self, tokens: str | Sequence[str]) -> np.ndarray:
        """Return ``(N,)`` int64 ids of a token list, or of ``tokenize_words(text)`` for a str.

        Unknown tokens map to ``unk_id``; no sentence markers are added.
        """
        toks = tokenize_words(tokens) if isinstance(tokens, str) else tokens
        return np.array([self.index.get(t, self.unk_id) for t in toks], dtype=np.int64)

    def decode(self, ids: Sequence[int] | np.ndarray) -> str:
        """Return the tokens of a 1-D id sequence ``(N,)`` joined by single spaces."""
        return " ".join(self.lookup(ids))

    def lookup(self, ids: Sequence[int] | np.ndarray) -> list[str]:
        """Return the token strings of a 1-D id sequence ``(N,)``."""
        return [self.tokens[i] for i in _as_id_array(ids, self.size)]

    def encode_sentences(self, text: str) -> list[np.ndarray]:
        """Split ``text`` with :func:`split_sentences`; return one ``(n_i + 2,)`` int64 array
        per sentence: ``<s>``, the sentence's ``n_i`` token ids, ``</s>``."""
        return [
            np.array(
                [self.bos_id, *(self.index.get(t, self.unk_id) for t in sent), self.eos_id],
                dtype=np.int64,
            )
            for sent in split_sentences(text)
        ]

    def encode_stream(self, text: str) -> np.ndarray:
        """Return one ``(N,)`` int64 stream for :func:`chunk_stream`: every sentence's ids
        followed by ``</s>`` (no ``<s>``: in a continuous stream ``</s>`` already marks the
        boundary, as in the Penn Treebank language-model convention)."""
        out: list[int] = []
        for sent in split_sentences(text):
            out.extend(self.index.get(t, self.unk_id) for t in sent)
            out.append(self.eos_id)
        return np.array(out, dtype=np.int64)


# ---------------------------------------------------------------------------------------------
# chunking for truncated BPTT


class Chunk(NamedTuple):
    """One chunk: ``inputs (B, T)`` and ``targets (B, T)`` int64, ``targets[:, t]`` being the
    token that follows ``inputs[:, t]`` in the same stream (shift along the time axis)."""

    inputs: np.ndarray
    targets: np.ndarray


@dataclass(frozen=True)
class ChunkStream:
    """Re-iterable sequence of :class:`Chunk` over ``streams (B, L)``; see :func:`chunk_stream`."""

    streams: np.ndarray
    seq_len: int
    stride: int
    drop_last: bool

    @property
    def batch_size(self) -> int:
        return int(self.streams.shape[0])

    def _starts(self) -> list[int]:
        last = self.streams.shape[1] - 1  # number of (input, target) pairs per stream
        starts = range(0, last, self.stride)
        if self.drop_last:
            return [s for s in starts if s + self.seq_len <= last]
        return list(starts)

    def __len__(self) -> int:
        return len(self._starts())

    def __iter__(self) -> Iterator[Chunk]:
        return self.iter_from(0)

    def iter_from(self, first: int) -> Iterator[Chunk]:
        """The chunks from the ``first``-th on (what ``__iter__`` yields after skipping ``first``)."""
        last = self.streams.shape[1] - 1
        for s in self._starts()[first:]:
            e = min(s + self.seq_len, last)
            # Copies: chunks are handed to traces that must never see the data change.
            yield Chunk(self.streams[:, s:e].copy(), self.streams[:, s + 1 : e + 1].copy())


def chunk_stream(
    ids: Sequence[int] | np.ndarray,
    seq_len: int,
    stride: int | None = None,
    batch_size: int = 1,
    *,
    drop_last: bool = False,
) -> ChunkStream:
    """Cut a 1-D id stream ``(N,)`` into chunks for stateful truncated BPTT.

    The stream is split into ``batch_size`` parallel contiguous streams: with
    ``L = N // batch_size`` tokens each, stream ``b`` is ``ids[b*L : (b+1)*L]`` (the last
    ``N - B*L`` tokens are dropped). Iterating yields :class:`Chunk` ``(inputs (B, T),
    targets (B, T))`` in order, with ``inputs[:, t] = streams[:, s + t]`` and
    ``targets[:, t] = streams[:, s + t + 1]`` for chunk start ``s = 0, stride, 2*stride, ...``
    and ``T = seq_len`` (the last chunk may be shorter unless ``drop_last``).

    With the default ``stride = seq_len`` the chunks tile each stream exactly, so chunk ``k + 1``
    of row ``b`` continues chunk ``k`` of row ``b``: carry the hidden state of row ``b`` from one
    chunk to the next (without carrying gradient). A ``stride`` other than ``seq_len`` gives
    overlapping or gapped windows, for which carrying state is wrong.

    The result is re-iterable (one pass per epoch) and has ``len()``.
    """
    arr = np.asarray(ids)
    if arr.ndim != 1 or arr.dtype.kind not in "iu":
        raise ValueError(f"ids must be a 1-D integer array, got shape {arr.shape} dtype {arr.dtype}")
    seq_len = check_int("seq_len", seq_len, 1)
    stride = seq_len if stride is None else check_int("stride", stride, 1)
    batch_size = check_int("batch_size", batch_size, 1)
    n = arr.shape[0]
    per_stream = n // batch_size
    need = seq_len + 1 if drop_last else 2
    if per_stream < need:
        raise ValueError(
            f"ids has {n} tokens: with batch_size={batch_size} each stream gets {per_stream}, "
            f"but at least {need} per stream are needed"
            + (f" for one full chunk of seq_len={seq_len} (drop_last=True)" if drop_last else "")
            + "; use a longer text or a smaller batch_size"
        )
    streams = arr[: per_stream * batch_size].astype(np.int64).reshape(batch_size, per_stream)
    streams.setflags(write=False)
    return ChunkStream(streams, seq_len, stride, bool(drop_last))


# ---------------------------------------------------------------------------------------------
# splitting

_Splittable = TypeVar("_Splittable", str, np.ndarray)


def train_val_split(data: _Splittable, val_fraction: float = 0.1) -> tuple[_Splittable, _Splittable]:
    """Split a text (str) or a 1-D id array ``(N,)`` into ``(train, val)``: the last
    ``round(N * val_fraction)`` items are the validation part (no shuffling: text order matters).

    Raises ``ValueError`` if ``val_fraction`` is not in ``(0, 1)`` or either part would be empty.
    """
    val_fraction = check_float("val_fraction", val_fraction, 0.0, 1.0, open_min=True, open_max=True)
    if isinstance(data, np.ndarray):
        if data.ndim != 1:
            raise ValueError(f"data must be a str or a 1-D array, got shape {data.shape}")
    elif not isinstance(data, str):
        raise ValueError(f"data must be a str or a 1-D numpy array, got {type(data).__name__}")
    n = len(data)
    n_val = int(round(n * val_fraction))
    if n_val < 1 or n_val > n - 1:
        raise ValueError(f"cannot split {n} items with val_fraction={val_fraction}: both parts must be non-empty")
    return data[: n - n_val], data[n - n_val :]
