"""Sessions, history series and narrations survive pickling (protocol 5) exactly.

A training process hands sessions and narrated iterations to the app by pickle, through the wire of
``bpttviz.window.process_child`` (which also carries the engine's frozen mappings). A session
that arrives must go on training bit for bit as the one that stayed would: same parameters,
optimiser state, history, random generator and place in the data stream. A narration that
arrives must hold the same numbers, still read-only.
"""

from __future__ import annotations

import dataclasses
import pickle
import socket
import threading
from collections.abc import Mapping
from multiprocessing.connection import Connection
from typing import Any

import numpy as np
import pytest

from bpttviz.engine import data
from bpttviz.engine.records import TapeStep
from bpttviz.engine.training.session import Series, Session
from bpttviz.window.process_child import OUT_OF_BAND, Wire


def through_wire(message: Any) -> Any:
    """``message`` sent through a ``Wire`` over a socket pair (no shared-memory ring) and received
    on the other end. The sender runs on a thread: a large message does not fit the socket's
    buffer, so receiving must go on while it is sent."""
    a, b = socket.socketpair()
    sender, receiver = Wire(Connection(a.detach())), Wire(Connection(b.detach()))
    failed: list[BaseException] = []

    def send() -> None:
        try:
            sender.send(message, final=True)
        except BaseException as e:  # noqa: BLE001 - re-raised on the test's thread
            failed.append(e)

    t = threading.Thread(target=send)
    t.start()
    try:
        out, final = receiver.receive()
    finally:
        t.join()
        sender.conn.close()
        receiver.conn.close()
    assert not failed, failed
    assert final is True
    return out


def assert_same(a: Any, b: Any, where: str = "") -> None:
    """``a`` and ``b`` hold equal values all the way down; arrays bit-identical, same dtype."""
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        assert isinstance(a, np.ndarray) and isinstance(b, np.ndarray), where
        assert a.dtype == b.dtype and a.shape == b.shape, where
        assert np.array_equal(a, b), where
    elif isinstance(a, Mapping):
        assert isinstance(b, Mapping), where
        assert list(a) == list(b), where
        for k in a:
            assert_same(a[k], b[k], f"{where}/{k}")
    elif isinstance(a, (list, tuple)):
        assert type(a) is type(b) and len(a) == len(b), where
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            assert_same(x, y, f"{where}[{i}]")
    else:
        assert type(a) is type(b) and a == b, f"{where}: {a!r} != {b!r}"


def session_state(s: Session) -> dict[str, Any]:
    """Everything that decides how a session trains on (its ``state_dict`` without the wall-clock
    seconds), plus the carried hidden state and the last loss."""
    out = dict(s.state_dict())
    del out["seconds"]
    out["last_loss"] = s.last_loss
    return out


# ---------------------------------------------------------------------------------------- sessions
#: (preset, overrides): every model kind on a language task, a synthetic sequence task and
#: (the MLP) a classification task. Sizes cut down where the preset's would only cost time.
CASES = {
    "rnn-chars": ("min-char-rnn", {"sample_every": 3, "eval_every": 2}),
    "lstm-chars": ("names-lstm", {"sample_every": 3, "eval_every": 2}),
    "gru-chars": ("min-char-rnn", {"model": "gru", "hidden_size": 32, "sample_every": 3, "eval_every": 2}),
    "rnn-words": ("word-lm", {"hidden_size": 16, "vocab_size": 300, "sample_every": 3, "eval_every": 2}),
    "lstm-words": ("word-lm", {"model": "lstm", "hidden_size": 16, "vocab_size": 300, "eval_every": 2}),
    "rnn-adding": ("adding-rnn", {"eval_every": 2}),
    "lstm-adding": ("adding-rnn", {"model": "lstm", "eval_every": 2}),
    "gru-parity": ("parity-rnn", {"model": "gru", "eval_every": 2}),
    "rnn-sine": ("sine-rnn", {"eval_every": 2}),
    "mlp-xor": ("xor-mlp", {"eval_every": 2}),
    "mlp-spirals-annealed": ("spirals-mlp", {"eval_every": 2, "anneal": True, "anneal_patience": 2}),
    "mlp-digits": ("digits-mlp", {"eval_every": 2}),
}


def train_mixed(s: Session, iterations: int) -> None:
    """``iterations`` iterations, every third one narrated (the app trains both ways)."""
    for i in range(iterations):
        if i % 3 == 1:
            assert s.narrated_step() is not None
        else:
            assert s.train_step() is not None


def assert_trains_on_identically(s: Session, copy: Session, iterations: int) -> None:
    assert copy is not s
    assert_same(session_state(s), session_state(copy), "before")
    for name, p in copy.model.params.items():
        assert p.flags.writeable, name  # trained again in place
    for i in range(iterations):
        if i % 2:
            s.narrated_step()
            copy.narrated_step()
            assert_same(s.last_narration.after, copy.last_narration.after, f"narration {i}")
        else:
            s.train_step()
            copy.train_step()
        assert s.blowup is None and copy.blowup is None
        assert_same(session_state(s), session_state(copy), f"iteration {s.iteration}")


@pytest.mark.parametrize("case", sorted(CASES))
def test_a_session_through_the_wire_trains_on_bit_for_bit(case):
    preset, overrides = CASES[case]
    s = Session.from_preset(preset, **overrides)
    train_mixed(s, 5)
    assert s.last_narration is not None and s.last_update is not None
    copy = through_wire(s)
    assert copy.iteration == s.iteration == 5
    if s.task.stateful:
        assert copy.task.chunk == s.task.chunk == 5 and copy.task.epoch == s.task.epoch == 0
    assert_trains_on_identically(s, copy, 6)
    assert s.iteration == copy.iteration == 11
    assert_same(s.samples, copy.samples)
    if s.task.stateful and "sample_every" in overrides:
        assert len(s.samples) == 3  # samples at iterations 3, 6 and 9 were drawn on both sides


def test_a_fresh_session_pickles_plainly_and_starts_its_stream_the_same():
    """Before any iteration there is no frozen mapping in a session: plain pickle suffices, and
    the copy's stream starts where the original's does (the task has drawn nothing)."""
    s = Session.from_preset("min-char-rnn", hidden_size=16)
    copy = pickle.loads(pickle.dumps(s, protocol=5))
    assert copy.task.state_dict() == s.task.state_dict() == {
        "kind": "stream", "started": False, "epoch": 0, "chunk": 0, "epoch_start": False}
    assert_trains_on_identically(s, copy, 4)


@pytest.mark.parametrize("model", ["rnn", "lstm", "gru"])
@pytest.mark.parametrize("where", ["mid-epoch", "epoch boundary", "just after the boundary"])
def test_a_language_session_continues_its_epoch_where_it_stood(model, where):
    """A short epoch (batches of 50 names' characters): pickled mid-epoch, exactly after its last
    chunk (the next batch starts epoch 1 and resets the carried state) and one chunk into
    epoch 1; the copy walks the same chunks as the original."""
    s = Session.from_preset("min-char-rnn", model=model, hidden_size=12, batch_size=50, sample_every=7)
    chunks = len(s.task.stream)
    assert 10 < chunks < 60
    done = {"mid-epoch": chunks // 2, "epoch boundary": chunks, "just after the boundary": chunks + 1}[where]
    s.train(done)
    assert s.iteration == done
    expected_epoch, expected_chunk = divmod(done, chunks) if where != "epoch boundary" else (0, chunks)
    assert (s.task.epoch, s.task.chunk) == (expected_epoch, expected_chunk)
    copy = through_wire(s)
    assert copy.task.state_dict() == s.task.state_dict()
    assert_same(copy.state, s.state)  # the carried hidden state
    x0, y0 = s.next_batch()
    x1, y1 = copy.next_batch()
    assert_same((x0, y0), (x1, y1))
    assert s.task.epoch_start == copy.task.epoch_start == (where == "epoch boundary")
    if where == "epoch boundary":
        assert s.task.epoch == copy.task.epoch == 1 and s.state is None and copy.state is None
    # both drew one batch outside an iteration: put both back where they stood, then train on
    s, copy = through_wire(s), through_wire(copy)
    assert_trains_on_identically(s, copy, 5)


def test_the_copy_is_independent_of_the_original():
    s = Session.from_preset("names-lstm", hidden_size=8)
    s.train(3)
    copy = through_wire(s)
    before = {k: v.copy() for k, v in s.model.params.items()}
    copy.train(2)
    assert copy.iteration == 5 and s.iteration == 3
    assert_same(dict(s.model.params), before)
    assert s.history["loss"].n == 3 and copy.history["loss"].n == 5


# ------------------------------------------------------------------------------------------ series
@pytest.mark.parametrize("count", [0, 3, 8, 9, 10, 21, 27, 100])
def test_a_series_pickles_with_its_points_capacity_and_decimation_phase(count):
    series = Series(8)
    for i in range(count):
        series.append(float(i), float(i) * 0.5 - 1.0)
    state = series.state_dict()
    if count > 8:
        assert state["stride"] > 1  # decimation happened
    if count in (10, 27):
        assert state["skip"] > 0  # mid-way between two kept points: the phase matters
    copy = pickle.loads(pickle.dumps(series, protocol=5))
    assert_same(copy.state_dict(), state)
    assert copy.capacity == 8 and copy.x.shape == copy.y.shape == (8,)
    assert_same(copy.data(), series.data())
    for i in range(count, count + 37):  # both fill, decimate and keep the same points
        series.append(float(i), float(i) * 0.5 - 1.0)
        copy.append(float(i), float(i) * 0.5 - 1.0)
        assert_same(copy.state_dict(), series.state_dict(), f"after point {i}")
    assert_same(copy.data(), series.data())


def test_a_series_pickles_only_its_points_not_its_capacity():
    small, large = Series(8), Series(1_000_000)
    for s in (small, large):
        for i in range(5):
            s.append(i, i)
    n_small, n_large = len(pickle.dumps(small, protocol=5)), len(pickle.dumps(large, protocol=5))
    assert n_large - n_small < 16  # the capacity's digits, not 16 MB of unused points
    copy = pickle.loads(pickle.dumps(large, protocol=5))
    assert copy.capacity == 1_000_000 and copy.x.shape == (1_000_000,)
    assert_same(copy.data(), large.data())


# -------------------------------------------------------------------------------------- narrations
def record_values(rec) -> dict[str, Any]:
    """A record's fields by name (a tape record's read through its tape)."""
    if isinstance(rec, TapeStep):
        return {name: getattr(rec, name) for name in rec.FIELDS}
    return {f.name: getattr(rec, f.name) for f in dataclasses.fields(rec)}


def arrays_in(value: Any, where: str):
    """(where, array) for every array in ``value`` (mappings and tuples opened)."""
    if isinstance(value, np.ndarray):
        yield where, value
    elif isinstance(value, Mapping):
        for k, v in value.items():
            yield from arrays_in(v, f"{where}/{k}")
    elif isinstance(value, (list, tuple)):
        for i, v in enumerate(value):
            yield from arrays_in(v, f"{where}[{i}]")


NARRATED = {
    "rnn": ("min-char-rnn", {}),
    "lstm": ("names-lstm", {"hidden_size": 24}),
    "gru": ("min-char-rnn", {"model": "gru", "hidden_size": 24}),
    "rnn-truncated": ("adding-rnn", {"truncation": 7}),
    "gru-many-to-one": ("parity-rnn", {"model": "gru"}),
    "mlp": ("spirals-mlp", {}),
}


@pytest.mark.parametrize("case", sorted(NARRATED))
def test_a_narration_through_the_wire_holds_the_same_frozen_numbers(case):
    preset, overrides = NARRATED[case]
    s = Session.from_preset(preset, **overrides)
    s.train(2)
    s.narrated_step()
    n = s.last_narration
    assert n is not None and n.updated and n.iteration == 3
    copy = through_wire(n)
    assert copy is not n
    assert (copy.iteration, copy.updated, copy.bugs, copy.update_index) == (n.iteration, n.updated, n.bugs,
                                                                            n.update_index)
    assert_same(copy.before, n.before, "before")
    assert_same(copy.after, n.after, "after")
    assert not all(np.array_equal(n.before[k], n.after[k]) for k in n.before)  # an update happened
    assert_same((copy.inputs, copy.targets, copy.h0, copy.options), (n.inputs, n.targets, n.h0, n.options))
    assert_same(copy.optimizer.state_dict(), n.optimizer.state_dict(), "optimizer")
    assert copy.trace.phases() == n.trace.phases()
    frozen, biggest = 0, max(v.nbytes for v in n.before.values())
    for i, (a, b) in enumerate(zip(n.trace, copy.trace, strict=True)):
        assert type(b) is type(a) and b.index == a.index, i
        va, vb = record_values(a), record_values(b)
        assert_same(vb, va, f"record {i} ({a.label})")
        pairs = zip(arrays_in(va, a.label), arrays_in(vb, a.label), strict=True)
        for (where, x), (_, y) in pairs:
            assert y.flags.writeable == x.flags.writeable, where
            frozen += not y.flags.writeable
            biggest = max(biggest, x.nbytes)
    assert frozen > len(n.trace)  # the records' arrays are read-only, and arrive so
    if case in ("rnn", "mlp"):  # large arrays travel as buffers of their own: that way is covered too
        assert biggest >= OUT_OF_BAND
    for d in (copy.before, copy.after):
        assert all(not v.flags.writeable for v in d.values())
    with pytest.raises(ValueError):
        next(iter(copy.before.values()))[...] = 0.0
    assert copy.trace.loss == n.trace.loss == s.history["loss"].last()


# ------------------------------------------------------------------------------------ chunk stream
@pytest.mark.parametrize("seq_len, stride, batch_size, drop_last",
                         [(5, None, 1, False), (5, None, 3, True), (4, 3, 2, False), (3, 7, 2, True)])
def test_iter_from_yields_what_skipping_would(seq_len, stride, batch_size, drop_last):
    ids = np.random.default_rng(4).integers(0, 30, size=211)
    stream = data.chunk_stream(ids, seq_len, stride=stride, batch_size=batch_size, drop_last=drop_last)
    every = list(stream)
    assert len(every) == len(stream) > 5
    for k in sorted({0, 1, 2, len(stream) // 2, len(stream) - 1, len(stream)}):
        got = list(stream.iter_from(k))
        assert len(got) == len(stream) - k
        assert_same([tuple(c) for c in got], [tuple(c) for c in every[k:]], f"k={k}")
    assert list(stream.iter_from(len(stream))) == []
