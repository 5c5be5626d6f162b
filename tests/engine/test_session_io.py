"""Session files: exact round trips, atomic saves, and refusal of damaged or hostile files."""

from __future__ import annotations

import hashlib
import io
import json
import os
import signal
import subprocess
import sys
import textwrap
import time
import tracemalloc
import zipfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import bpttviz.engine.training.session_io as sio
from bpttviz.engine.training.config import Config
from bpttviz.engine.training.session import Session
from bpttviz.engine.training.session_io import (
    FORMAT_VERSION,
    autosave_path,
    discard_autosave,
    has_autosave,
    load_session,
    read_session_info,
    save_session,
)

# Small but complete variants of the shipped presets: every model kind, a stateful language model
# (carried state, chunk position, samples), minibatch shuffling, annealing, a synthetic task.
CASES = {
    "min-char-rnn": ("min-char-rnn", dict(hidden_size=16, sample_every=7, sample_length=20, eval_every=40)),
    "names-lstm": ("names-lstm", dict(hidden_size=8, batch_size=2, sample_every=11, sample_length=20,
                                      eval_every=40)),
    "digits-mlp": ("digits-mlp", dict(hidden_layers=[16], batch_size=32, eval_every=7)),
    "xor-mlp-anneal": ("xor-mlp", dict(anneal=True, anneal_patience=2, anneal_factor=0.5, batch_size=16)),
    "parity-gru": ("parity-rnn", dict(model="gru", hidden_size=8, eval_every=10)),
}


def make(case: str) -> Session:
    preset, overrides = CASES[case]
    return Session.from_preset(preset, **overrides)


def file_digest(path: Path) -> tuple[str, int, int]:
    """Content hash (of the first and last MB for huge files), size and modification time."""
    st = path.stat()
    h = hashlib.sha256()
    with open(path, "rb") as f:
        h.update(f.read(2**20))
        if st.st_size > 2**20:
            f.seek(max(2**20, st.st_size - 2**20))
            h.update(f.read())
    return h.hexdigest(), st.st_size, st.st_mtime_ns


def assert_same_session(a: Session, b: Session) -> None:
    """Every piece of state that influences what happens next, compared exactly."""
    assert a.cfg == b.cfg and a.iteration == b.iteration
    assert a.model.params.keys() == b.model.params.keys()
    for k in a.model.params:
        assert a.model.params[k].dtype == b.model.params[k].dtype == np.float64
        assert a.model.params[k].tobytes() == b.model.params[k].tobytes(), k  # bit-identical
        assert a._last_finite[k].tobytes() == b._last_finite[k].tobytes(), k
    sa, sb = a.optimizer.state_dict(), b.optimizer.state_dict()
    assert sa.keys() == sb.keys() and a.optimizer.lr == b.optimizer.lr
    for k in sa:
        assert np.array_equal(sa[k], sb[k]), k
    for name in a.history:
        for s1, s2 in ((a.history[name], b.history[name]), (a.clip_events, b.clip_events)):
            assert (s1.capacity, s1.n, s1.stride, s1._skip) == (s2.capacity, s2.n, s2.stride, s2._skip), name
            assert s1.data()[0].tobytes() == s2.data()[0].tobytes(), name
            assert s1.data()[1].tobytes() == s2.data()[1].tobytes(), name
    assert a.samples == b.samples and a.bugs == b.bugs and a.blowup == b.blowup
    assert a.rng.bit_generator.state == b.rng.bit_generator.state
    assert (a.state is None) == (b.state is None)
    if a.state is not None:
        assert len(a.state) == len(b.state)
        for x, y in zip(a.state, b.state):
            assert x.tobytes() == y.tobytes()
    if a.annealer is not None:
        assert vars(a.annealer) == vars(b.annealer)


# ------------------------------------------------------------------------------------ round trips
@pytest.mark.parametrize("case", sorted(CASES))
def test_save_load_then_continue_is_bit_identical_to_never_stopping(case, tmp_path):
    straight = make(case)
    straight.train(50)

    first = make(case)
    first.train(30)
    path = save_session(first, tmp_path / "s.npz", position={"record": 12, "view": "decay"})
    loaded, position = load_session(path)
    assert position == {"record": 12, "view": "decay"}
    assert_same_session(first, loaded)
    loaded.train(20)
    first.train(20)
    assert_same_session(loaded, straight)
    assert_same_session(first, straight)


def test_the_cases_exercise_what_they_claim(tmp_path):
    s = make("names-lstm")
    s.train(30)
    assert s.state is not None and len(s.state) == 2 and s.samples
    x = make("xor-mlp-anneal")
    x.train(30)
    assert x.optimizer.lr < x.cfg.lr  # the annealer lowered it: that lr must survive the file
    d = make("digits-mlp")
    d.train(30)
    assert d.task._pos not in (0, len(d.task._order))


def test_decimated_histories_round_trip_with_their_phase(tmp_path):
    cfg = Config.from_dict(dict(task="xor", model="mlp", hidden_layers=[4], optimizer="sgd", lr=0.1,
                                clip="norm", clip_threshold=0.05, batch_size=8))
    a, b = Session(cfg, history_capacity=8), Session(cfg, history_capacity=8)
    a.train(37)
    assert a.history["loss"].stride > 1 and a.history["loss"]._skip > 0 and a.clip_events.n > 0
    loaded, _ = load_session(save_session(a, tmp_path / "h.npz"))
    assert_same_session(a, loaded)
    loaded.train(29)
    b.train(66)
    assert_same_session(loaded, b)


def test_a_mid_epoch_language_model_resumes_at_the_same_chunk(tmp_path):
    a = make("names-lstm")
    a.train(3)
    for _ in range(2):
        a.narrated_step()  # the app's path: state and chunk position must be the same
    loaded, _ = load_session(save_session(a, tmp_path / "lm.npz"))
    assert_same_session(a, loaded)
    ta, tb = a.narrated_step(), loaded.narrated_step()
    assert len(ta) == len(tb)
    assert_same_session(a, loaded)
    xa, ya = a.next_batch()
    xb, yb = loaded.next_batch()
    assert np.array_equal(xa, xb) and np.array_equal(ya, yb)


def test_language_model_round_trips_across_the_epoch_boundary(tmp_path):
    corpus = tmp_path / "tiny.txt"
    corpus.write_text("abracadabra, said the cat to the bat.\n" * 8, encoding="utf-8")
    cfg = Config.from_dict(dict(task="chars", corpus=str(corpus), model="rnn", hidden_size=6, seq_len=10,
                                eval_every=1000, sample_every=1000))
    n_chunks = len(Session(cfg).task.stream)
    straight = Session(cfg)
    straight.train(2 * n_chunks + 3)
    for stop in (n_chunks - 1, n_chunks, n_chunks + 1):
        first = Session(cfg)
        first.train(stop)
        loaded, _ = load_session(save_session(first, tmp_path / f"e{stop}.npz"))
        loaded.train(2 * n_chunks + 3 - stop)
        assert loaded.task.epoch == straight.task.epoch == 2
        assert_same_session(loaded, straight)


def test_a_fresh_session_round_trips(tmp_path):
    a = make("names-lstm")
    loaded, position = load_session(save_session(a, tmp_path / "fresh.npz"))
    assert position is None and loaded.state is None and loaded.iteration == 0
    assert_same_session(a, loaded)
    a.train(7)
    loaded.train(7)
    assert_same_session(a, loaded)


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
def test_blowup_bug_lab_and_rollback_survive_the_file(tmp_path):
    cfg = Config(task="sine", model="rnn", hidden_size=8, seq_len=10, optimizer="momentum", lr=0.01,
                 clip="none", init="xavier", activation="relu", reduction="sum", batch_size=4, noise=0.05)
    a = Session(cfg)
    a.train(5)
    a.set_bugs({"drop_dh_next"})
    a.train(3)
    a.model.params["W_hh"][...] = 1e200
    assert a.train_step() is None and a.blowup is not None
    loaded, _ = load_session(save_session(a, tmp_path / "b.npz"))
    assert_same_session(a, loaded)
    assert loaded.model.bugs == a.model.bugs == frozenset({"drop_dh_next"})
    assert loaded.train_step() is None  # still paused: never continues on a blow-up
    a.rollback()
    loaded.rollback()
    a.set_bugs(())
    loaded.set_bugs(())
    a.train(4)
    loaded.train(4)
    assert_same_session(a, loaded)


def test_the_file_is_a_documented_npz(tmp_path):
    a = make("xor-mlp-anneal")
    a.train(3)
    path = save_session(a, tmp_path / "x.npz")
    with np.load(path, allow_pickle=False) as npz:
        assert "meta.json" in npz.files and "params/W1" in npz.files and "optimizer/m/W1" in npz.files
        meta = json.loads(npz["meta.json"])
    assert meta["format"] == "bpttviz-session" and meta["format_version"] == FORMAT_VERSION
    assert meta["config"] == a.cfg.to_dict() and meta["iteration"] == 3
    info = read_session_info(path)
    assert info["iteration"] == 3 and info["summary"]["model"] == "mlp" and info["created"]


def test_unserialisable_position_is_refused_before_writing(tmp_path):
    a = make("xor-mlp-anneal")
    with pytest.raises(ValueError, match="position"):
        save_session(a, tmp_path / "p.npz", position={"record": object()})
    with pytest.raises(ValueError, match="position"):
        save_session(a, tmp_path / "p.npz", position=[1, 2])  # type: ignore[arg-type]
    assert list(tmp_path.iterdir()) == []


# ------------------------------------------------------------------------------------ atomic save
@pytest.fixture
def saved(tmp_path) -> tuple[Session, Path]:
    s = make("xor-mlp-anneal")
    s.train(4)
    return s, save_session(s, tmp_path / "session.npz")


def _fail_on_second_call(real):
    calls = {"n": 0}

    def wrapper(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 2:
            raise OSError(28, "No space left on device")
        return real(*args, **kwargs)

    return wrapper


@pytest.mark.parametrize("where", ["write_array", "fsync", "replace"])
def test_a_failed_save_leaves_the_previous_file_intact(saved, monkeypatch, where):
    session, path = saved
    before = file_digest(path)
    session.train(5)
    if where == "write_array":  # dies in the middle of writing the archive
        monkeypatch.setattr(np.lib.format, "write_array", _fail_on_second_call(np.lib.format.write_array))
    elif where == "fsync":
        monkeypatch.setattr(sio.os, "fsync", lambda fd: (_ for _ in ()).throw(OSError(5, "I/O error")))
    else:
        monkeypatch.setattr(sio.os, "replace", lambda a, b: (_ for _ in ()).throw(OSError(13, "denied")))
    with pytest.raises(OSError):
        save_session(session, path)
    assert file_digest(path) == before
    assert sorted(p.name for p in path.parent.iterdir()) == ["session.npz"]  # no temp file left behind
    monkeypatch.undo()
    loaded, _ = load_session(path)
    assert loaded.iteration == 4


def test_saving_over_an_existing_file_keeps_its_permissions(saved):
    session, path = saved
    os.chmod(path, 0o640)
    save_session(session, path)
    assert path.stat().st_mode & 0o777 == 0o640


def test_autosave_under_kill_always_leaves_a_loadable_file(tmp_path):
    """A process that autosaves in a loop is killed at an arbitrary moment: the file left behind
    is always a complete session (the previous or the new one), never a torn write."""
    target = tmp_path / "autosave.npz"
    code = textwrap.dedent(f"""
        import sys
        from bpttviz.engine.training.session import Session
        from bpttviz.engine.training.session_io import save_session
        s = Session.from_preset("xor-mlp", batch_size=16)
        save_session(s, {str(target)!r})
        print("ready", flush=True)
        while True:
            s.train(1)
            save_session(s, {str(target)!r})
    """)
    env = dict(os.environ)
    for delay in (0.05, 0.2, 0.35):
        proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, env=env)
        try:
            assert proc.stdout.readline().strip() == b"ready"
            time.sleep(delay)
        finally:
            proc.send_signal(signal.SIGKILL if hasattr(signal, "SIGKILL") else signal.SIGTERM)
            proc.wait(timeout=30)
            proc.stdout.close()
        loaded, _ = load_session(target)
        assert loaded.cfg.task == "xor"


# ------------------------------------------------------------------------------------ bad files
def members(path: Path) -> dict[str, bytes]:
    with zipfile.ZipFile(path) as zf:
        return {n: zf.read(n) for n in zf.namelist()}


def write_zip(path: Path, entries: dict[str, bytes], compression: int = zipfile.ZIP_STORED) -> Path:
    with zipfile.ZipFile(path, "w", compression=compression) as zf:
        for name, data in entries.items():
            zf.writestr(name, data)
    return path


def npy(arr: np.ndarray, allow_pickle: bool = False) -> bytes:
    buf = io.BytesIO()
    np.save(buf, arr, allow_pickle=allow_pickle)
    return buf.getvalue()


def with_meta(entries: dict[str, bytes], **changes) -> dict[str, bytes]:
    meta = json.loads(entries["meta.json"])
    meta.update(changes)
    return {**entries, "meta.json": json.dumps(meta).encode()}


def assert_refused(path: Path, match: str) -> None:
    before = file_digest(path)
    with pytest.raises(ValueError, match=match) as err:
        load_session(path)
    assert str(path) in str(err.value)
    assert file_digest(path) == before  # the file is never touched


def test_missing_file_and_folder(tmp_path):
    with pytest.raises(ValueError, match="no such file"):
        load_session(tmp_path / "nope.npz")
    with pytest.raises(ValueError, match="not a regular file|folder"):
        load_session(tmp_path)


def test_not_a_zip_empty_and_truncated(saved, tmp_path):
    _, path = saved
    (tmp_path / "text.npz").write_text("hello, I am not a session\n")
    assert_refused(tmp_path / "text.npz", "not a zip archive")
    (tmp_path / "empty.npz").write_bytes(b"")
    assert_refused(tmp_path / "empty.npz", "not a zip archive")
    data = path.read_bytes()
    for cut in (10, len(data) // 3, len(data) - 30):
        (tmp_path / "cut.npz").write_bytes(data[:cut])
        assert_refused(tmp_path / "cut.npz", "damaged|not a bpttviz")


def test_a_plain_npy_file_is_refused(tmp_path):
    np.save(tmp_path / "arr.npy", np.arange(3.0))
    assert_refused(tmp_path / "arr.npy", "not a zip archive")


def test_wrong_format_and_versions(saved, tmp_path):
    _, path = saved
    e = members(path)
    assert_refused(write_zip(tmp_path / "v2.npz", with_meta(e, format_version=FORMAT_VERSION + 1, app_version="9.0")),
                   r"newer bpttviz \(9.0, session format version 2\).*upgrade")
    for bad in (0, "1", 1.0, None, True):
        assert_refused(write_zip(tmp_path / "v.npz", with_meta(e, format_version=bad)), "unknown format version")
    assert_refused(write_zip(tmp_path / "f.npz", with_meta(e, format="something-else")), "not a bpttviz session")
    no_meta = {k: v for k, v in e.items() if k != "meta.json"}
    assert_refused(write_zip(tmp_path / "nm.npz", no_meta), "no meta.json")
    assert_refused(write_zip(tmp_path / "j.npz", {**e, "meta.json": b"{not json"}), "not valid JSON")
    assert_refused(write_zip(tmp_path / "u.npz", {**e, "meta.json": b"\xff\xfe{}"}), "not UTF-8")
    assert_refused(write_zip(tmp_path / "l.npz", {**e, "meta.json": b"[1, 2]"}), "JSON object")
    deep = b"[" * 100_000 + b"]" * 100_000
    assert_refused(write_zip(tmp_path / "d.npz", {**e, "meta.json": deep}), "JSON object|nested too deeply")


def test_bad_meta_fields_are_named(saved, tmp_path):
    _, path = saved
    e = members(path)
    meta = json.loads(e["meta.json"])
    cases = {
        "iteration": ({"iteration": -1}, "'iteration'"),
        "lr": ({"config": {**meta["config"], "lr": "fast"}}, "field 'lr'"),
        "optimizer": ({"optimizer": {**meta["optimizer"], "name": "adagrad"}}, "optimizer 'adagrad'"),
        "rng": ({"rng": {"bit_generator": "MT19937", "state": {}}}, "rng"),
        "rng2": ({"rng": {**meta["rng"], "state": {"state": "x", "inc": 1}}}, "rng"),
        "capacity": ({"history": {**meta["history"], "loss": {**meta["history"]["loss"], "capacity": 10**12}}},
                     "capacity"),
        "stride": ({"clip_events": {**meta["clip_events"], "stride": 3}}, "power of two"),
        "series": ({"history": {**meta["history"], "evil": meta["history"]["loss"]}}, "unknown series"),
        "samples": ({"samples": "lots"}, "samples"),
        "bugs": ({"bugs": ["rm -rf /"]}, "bugs"),
        "position": ({"position": [1, 2]}, "position"),
        "annealer": ({"annealer": None}, "annealer"),
        "task": ({"task": {"kind": "stream"}}, "task.kind"),
        "order": ({"task": {"kind": "shuffle", "pos": 10**9}}, "pos"),
    }
    for name, (change, match) in cases.items():
        assert_refused(write_zip(tmp_path / f"{name}.npz", with_meta(e, **change)), match)


def test_missing_wrong_and_stray_arrays(saved, tmp_path):
    _, path = saved
    e = members(path)
    gone = {k: v for k, v in e.items() if k != "params/W1.npy"}
    assert_refused(write_zip(tmp_path / "gone.npz", gone), "missing array 'params/W1'")
    w1 = np.load(io.BytesIO(e["params/W1.npy"]))
    assert_refused(write_zip(tmp_path / "f32.npz", {**e, "params/W1.npy": npy(w1.astype(np.float32))}),
                   "array 'params/W1': expected float64")
    assert_refused(write_zip(tmp_path / "shape.npz", {**e, "params/W1.npy": npy(w1.T.copy())}),
                   "array 'params/W1': expected shape")
    assert_refused(write_zip(tmp_path / "stray.npz", {**e, "extra/thing.npy": npy(np.zeros(2))}),
                   "unexpected entry 'extra/thing.npy'")
    order = np.arange(len(np.load(io.BytesIO(e["task/order.npy"]))))
    order[0] = order[1]
    assert_refused(write_zip(tmp_path / "perm.npz", {**e, "task/order.npy": npy(order)}), "not a permutation")


class _Evil:
    """Unpickling this would create ``marker``: proves nothing is ever unpickled."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (os.mkdir, (str(self.marker),))


def test_pickled_objects_are_never_unpickled(saved, tmp_path):
    _, path = saved
    e = members(path)
    marker = tmp_path / "pwned"
    evil = np.empty(2, dtype=object)
    evil[:] = [_Evil(marker), 1]
    assert_refused(write_zip(tmp_path / "obj.npz", {**e, "params/W1.npy": npy(evil, allow_pickle=True)}),
                   "expected float64, got dtype '\\|O'")
    pickled = tmp_path / "pickle.npz"
    import pickle

    pickled.write_bytes(pickle.dumps(_Evil(marker)))
    assert_refused(pickled, "not a zip archive")
    npy_file = tmp_path / "obj.npy"
    npy_file.write_bytes(npy(evil, allow_pickle=True))
    assert_refused(npy_file, "not a zip archive")
    assert not marker.exists()


def _header_only(shape: tuple[int, ...], descr: str = "<f8") -> bytes:
    buf = io.BytesIO()
    np.lib.format.write_array_header_1_0(buf, {"descr": descr, "fortran_order": False, "shape": shape})
    return buf.getvalue() + b"\0" * 64


def test_absurd_shapes_are_refused_before_allocating(saved, tmp_path):
    _, path = saved
    e = members(path)
    tracemalloc.start()
    try:
        for i, shape in enumerate([(10**6, 10**6), (2**62,), (10**4, 10**4, 10**4)]):
            assert_refused(write_zip(tmp_path / f"huge{i}.npz", {**e, "params/W1.npy": _header_only(shape)}),
                           "expected shape")
        loss_n = json.loads(e["meta.json"])["history"]["loss"]["n"]
        lie = {**e, "history/loss/x.npy": _header_only((loss_n,))}  # right shape, too little data
        assert_refused(write_zip(tmp_path / "lie.npz", lie), "size does not match|damaged")
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 64 * 2**20


def test_oversized_files_and_zip_bombs_are_refused_unread(saved, tmp_path, monkeypatch):
    _, path = saved
    big = tmp_path / "big.npz"
    with open(big, "wb") as f:
        f.write(path.read_bytes())
        f.truncate(sio.MAX_FILE_BYTES + 1)  # sparse: cheap to make
    assert_refused(big, "limited to 512 MB")
    monkeypatch.setattr(sio, "MAX_FILE_BYTES", 4 * 2**20)
    bomb = write_zip(tmp_path / "bomb.npz", {**members(path), "z.npy": b"\0" * (8 * 2**20)}, zipfile.ZIP_DEFLATED)
    assert bomb.stat().st_size < sio.MAX_FILE_BYTES
    assert_refused(bomb, "unpack to")
    dup = tmp_path / "dup.npz"
    with zipfile.ZipFile(dup, "w") as zf:
        for name, data in members(path).items():
            zf.writestr(name, data)
        with pytest.warns(UserWarning, match="Duplicate name"):
            zf.writestr("meta.json", b"{}")
    assert_refused(dup, "entry twice")


def test_a_changed_corpus_is_detected(tmp_path):
    corpus = tmp_path / "text.txt"
    corpus.write_text("the quick brown fox jumps over the lazy dog\n" * 40, encoding="utf-8")
    s = Session(Config.from_dict(dict(task="chars", corpus=str(corpus), model="rnn", hidden_size=8, seq_len=10)))
    s.train(3)
    path = save_session(s, tmp_path / "c.npz")
    corpus.write_text("the quick brown fox jumps over the lazy cat\n" * 40, encoding="utf-8")
    assert_refused(path, "not the one the session was trained on")
    corpus.unlink()
    assert_refused(path, "cannot rebuild the session.*no such file")


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs named pipes")
def test_a_corpus_that_is_a_pipe_or_device_is_refused_without_blocking(saved, tmp_path):
    _, path = saved
    e = members(path)
    meta = json.loads(e["meta.json"])
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    for corpus in (str(fifo), "/dev/zero", str(tmp_path)):
        config = {**meta["config"], "task": "chars", "model": "rnn", "corpus": corpus}
        assert_refused(write_zip(tmp_path / "pipe.npz", with_meta(e, config=config)), "not a regular file")


@pytest.fixture(scope="module")
def valid_bytes(tmp_path_factory) -> bytes:
    s = Session.from_preset("xor-mlp", hidden_layers=[3], batch_size=16, n_samples=40)
    s.train(3)
    return save_session(s, tmp_path_factory.mktemp("valid") / "v.npz").read_bytes()


@settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_random_corruption_only_ever_gives_valueerror(valid_bytes, tmp_path, data):
    blob = bytearray(valid_bytes)
    for _ in range(data.draw(st.integers(1, 8), label="n_changes")):
        i = data.draw(st.integers(0, len(blob) - 1), label="offset")
        blob[i] = data.draw(st.integers(0, 255), label="byte")
    if data.draw(st.booleans(), label="truncate"):
        blob = blob[: data.draw(st.integers(0, len(blob)), label="length")]
    path = tmp_path / "corrupt.npz"
    path.write_bytes(bytes(blob))
    try:
        session, _ = load_session(path)
    except ValueError as e:
        assert str(path) in str(e)
    else:
        assert isinstance(session, Session)  # harmless corruption (e.g. in a zip comment field)
    assert path.read_bytes() == bytes(blob)


# ------------------------------------------------------------------------------------ autosave
def test_autosave_location_and_helpers(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    path = autosave_path()
    assert path == tmp_path / "state" / "bpttviz" / f"autosave-{os.getpid()}.npz" and path.parent.is_dir()
    assert autosave_path(123) == tmp_path / "state" / "bpttviz" / "autosave-123.npz"  # one per window process
    assert not has_autosave()
    s = make("xor-mlp-anneal")
    s.train(2)
    save_session(s, path, position={"record": 1})
    assert has_autosave()
    (path.parent / f".{path.name}.abc123.tmp").write_bytes(b"torn")  # left by a killed save
    assert load_session(path)[1] == {"record": 1}
    discard_autosave()
    assert not has_autosave() and list(path.parent.iterdir()) == []
    discard_autosave()  # nothing there: still fine


def test_autosave_ignores_a_relative_xdg_state_home(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_STATE_HOME", "relative/dir")
    monkeypatch.setenv("HOME", str(tmp_path))
    if sys.platform in ("win32", "darwin"):
        pytest.skip("the fallback is platform-specific")
    assert autosave_path() == tmp_path / ".local" / "state" / "bpttviz" / f"autosave-{os.getpid()}.npz"


def test_a_reproducible_file_is_the_same_bytes_every_time(tmp_path):
    """Files shipped with the app (lecture snapshots) are written ``reproducible``: no creation
    time, fixed dates inside the archive, so writing them again changes nothing that did not."""
    s = Session(Config.from_dict({"task": "chars", "corpus": "names", "hidden_size": 8, "seq_len": 5}))
    s.train(3)
    a = sio.save_session(s, tmp_path / "a.npz", reproducible=True)
    b = sio.save_session(s, tmp_path / "b.npz", reproducible=True)
    assert a.read_bytes() == b.read_bytes()
    assert sio.read_session_info(a)["created"] == ""
    with zipfile.ZipFile(a) as zf:
        assert {i.date_time for i in zf.infolist()} == {(1980, 1, 1, 0, 0, 0)}
    back, _ = sio.load_session(a)
    assert back.iteration == s.iteration
    for k, v in s.model.params.items():
        assert np.array_equal(back.model.params[k], v)
    plain = sio.save_session(s, tmp_path / "c.npz")
    assert sio.read_session_info(plain)["created"] != ""  # a user's file says when it was saved
