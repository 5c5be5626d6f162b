"""Save a whole training session to one file and open it again exactly where it was.

``save_session(session, path, position=None)`` writes, ``load_session(path)`` returns
``(session, position)``; continuing training after a load gives bit-identical results to a session
that never stopped. ``read_session_info(path)`` reads only the description (for an "open recent"
list or the restore prompt). ``autosave_path()``, ``has_autosave()`` and ``discard_autosave()``
serve the app's autosave.

File format ``bpttviz-session``, format version 1
--------------------------------------------------
A zip archive (the ``.npz`` layout NumPy reads with ``np.load``) holding:

- ``meta.json``: UTF-8 JSON object with
  ``format`` = ``"bpttviz-session"``, ``format_version`` = 1 (an integer; bumped whenever a
  reader of the old version could not read the new files), ``app_version``, ``created``
  (ISO 8601, UTC), ``summary`` (title, task description, model; for display only), and the
  session's state: ``config`` (``Config.to_dict()``), ``iteration``, ``seconds``, ``rng``
  (``Generator.bit_generator.state``), ``optimizer`` (``name``, ``lr`` as currently annealed,
  step count ``t``, and ``slots``: slot name -> the parameter names saved for it), ``annealer``
  (null or its ``factor``, ``patience``, ``min_lr``, ``smoothing``, ``smooth``, ``best``,
  ``bad``), ``state`` (null or ``{"count": n}``: the carried hidden state), ``history`` and
  ``clip_events`` (per series ``capacity``, ``n``, ``stride``, ``skip``), ``samples``
  (``[[iteration, text], ...]``), ``bugs`` (bug-lab names), ``blowup`` (null or
  ``iteration``, ``phase``, ``name``, ``timestep``), ``task`` (where the data stream stands:
  ``{"kind": "none"}``, ``{"kind": "stream", "started", "epoch", "chunk", "epoch_start",
  "fingerprint"}`` for the chunked language models, ``{"kind": "shuffle", "pos"}`` for
  minibatched classification) and ``position`` (null or a JSON object the app chose to store,
  e.g. ``{"record": 12}``). Non-finite floats are written as JSON ``NaN``/``Infinity``.
- arrays, one ``.npy`` member each (never object arrays):
  ``params/<name>`` and ``last_finite/<name>`` float64 with the parameter's shape;
  ``optimizer/<slot>/<name>`` float64 with the parameter's shape; ``state/<i>`` float64
  ``(batch_size, hidden_size)`` for ``i < state.count``; ``history/<series>/x`` and ``.../y``
  and ``clip_events/x``, ``clip_events/y`` float64 ``(n,)``; ``task/order`` int64 ``(N_train,)``
  (kind ``"shuffle"`` only: the current shuffled order of the training examples).

The model, task and data are rebuilt from ``config`` (so a session over a user's text file needs
that file; its token stream's SHA-256 ``fingerprint`` must match), then every piece of state above
is checked and restored. What is *not* saved: ``last_update``/``last_batch`` and the records of a
narrated iteration (they are recomputed, bit for bit) and the app's own view settings beyond
``position``. To save a moment *inside* an iteration, the app saves the state captured just before
it (``capture_state``) with a ``position`` naming the record; opening narrates that iteration again
from that state, which gives the same batch and the same records.

Iterations are numbered as ``engine.training.session`` says: ``iteration`` is the number of updates done
(0: the initial parameters), and every history point of iteration N has x = N. ``numbering`` =
``"updates"`` says so; files written before it existed drew iteration N's points at x = N - 1 and
named a blow-up by the updates done before it, and are shifted by one when read.

Loading never unpickles (``np.load(..., allow_pickle=False)``, object dtypes refused), refuses
files over ``MAX_FILE_BYTES`` and checks every member's declared size, dtype and shape against
what the configuration implies *before* reading it, so a hostile file cannot make it allocate
much. Any problem becomes a ``ValueError`` naming the file and what is wrong; the file is only
ever opened for reading.

Saving is atomic: the archive is written to a temporary file in the target's directory, flushed
and fsynced, then moved over the target with ``os.replace``; if anything fails the temporary file
is removed and a previous file at ``path`` is left as it was.
"""

from __future__ import annotations

import hashlib
import io
import json
import math
import os
import re
import sys
import weakref
import zipfile
from collections.abc import Mapping
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np

from .. import __version__
from ..atomic import atomic_write
from ..gradients.bugs import check_bugs
from .config import BUILTIN_CORPORA, Config
from .session import HISTORY_SERIES, Session
from .tasks import ClassificationTask, LanguageModelTask

__all__ = [
    "FORMAT_NAME", "FORMAT_VERSION", "MAX_FILE_BYTES", "SessionState", "capture_state", "save_session",
    "load_session", "read_session_info",
    "autosave_dir", "autosave_path", "autosave_files", "has_autosave", "discard_autosave",
]

FORMAT_NAME = "bpttviz-session"
FORMAT_VERSION = 1
#: files (and the total of their members' uncompressed sizes) larger than this are refused
MAX_FILE_BYTES = 512 * 1024 * 1024
MAX_META_BYTES = 16 * 1024 * 1024
MAX_MEMBERS = 4096
MAX_HISTORY_CAPACITY = 1 << 18
MAX_SAMPLES = 1000
MAX_SAMPLE_CHARS = 100_000
MAX_POSITION_BYTES = 1024 * 1024
_MAX_NPY_HEADER = 10_000
_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")
_META = "meta.json"

Array = np.ndarray


class _Refused(Exception):
    """A problem with the file, already described; becomes ``ValueError("<path>: <message>")``."""


# ====================================================================================== saving
class SessionState:
    """Everything ``save_session`` writes about a session, captured at one instant (copies, so the
    session may train on): ``capture_state(session)`` before a narrated iteration lets the app
    save *that* moment later, e.g. while the learner steps through the iteration's records.
    ``iteration`` is the session's iteration count when captured."""

    __slots__ = ("meta", "arrays", "iteration")

    def __init__(self, meta: dict[str, Any], arrays: dict[str, Array]) -> None:
        self.meta = meta
        self.arrays = arrays
        self.iteration = int(meta["iteration"])


def capture_state(session: Session) -> SessionState:
    """A copy of ``session``'s saveable state now (see ``SessionState``)."""
    meta, arrays = _collect(session, None)
    return SessionState(meta, {k: np.array(v, copy=True) for k, v in arrays.items()})


def save_session(session: Session | SessionState, path: str | os.PathLike[str],
                 position: Mapping[str, Any] | None = None, *, reproducible: bool = False) -> Path:
    """Write ``session`` (a ``Session``, or a ``SessionState`` captured earlier) and the app's
    optional ``position``, a JSON-serialisable mapping, to ``path`` atomically; returns the path
    written. ``reproducible``: no creation time and fixed dates inside the archive, so the same
    session always gives the same bytes (files shipped with the app).

    Raises ``ValueError`` (before touching any file) if ``position`` is not JSON-serialisable or
    the session would exceed ``MAX_FILE_BYTES``, and ``OSError`` if the file cannot be written;
    in every failure a previous file at ``path`` is left intact.
    """
    path = Path(path)
    if isinstance(session, SessionState):
        meta = dict(session.meta, position=_checked_position(position),
                    created=datetime.now(timezone.utc).isoformat(timespec="seconds"))
        arrays = session.arrays
    else:
        meta, arrays = _collect(session, position)
    if reproducible:
        meta["created"] = ""
    meta_bytes = json.dumps(meta, sort_keys=True, indent=1).encode("utf-8")
    total = len(meta_bytes) + sum(a.nbytes + 128 for a in arrays.values())
    if total > MAX_FILE_BYTES:
        raise ValueError(f"cannot save session to {path}: it would take {total / 2**20:.0f} MB, more than the "
                         f"{MAX_FILE_BYTES // 2**20} MB a session file may hold")
    atomic_write(path, lambda f: _write_archive(f, meta_bytes, arrays, reproducible))
    return path


def _checked_position(position: Mapping[str, Any] | None) -> dict[str, Any] | None:
    if position is None:
        return None
    if not isinstance(position, Mapping):
        raise ValueError(f"position: expected a mapping such as {{'record': 12}}, got {type(position).__name__}")
    try:
        encoded = json.dumps(dict(position), allow_nan=False)
    except (TypeError, ValueError) as e:
        raise ValueError(f"position: not JSON-serialisable: {e}") from None
    if len(encoded) > MAX_POSITION_BYTES:
        raise ValueError(f"position: {len(encoded):,} bytes once encoded; at most {MAX_POSITION_BYTES:,}")
    return json.loads(encoded)


def _collect(session: Session, position: Mapping[str, Any] | None) -> tuple[dict[str, Any], dict[str, Array]]:
    """The JSON description and the named arrays of a session (shared references, not copies),
    laid out from ``session.state_dict()``."""
    position = _checked_position(position)
    sd = session.state_dict()
    arrays: dict[str, Array] = {}
    for name, p in sd["params"].items():
        arrays[f"params/{name}"] = p
        arrays[f"last_finite/{name}"] = sd["last_finite"][name]  # so 'roll back' still works after a load
    om = sd["optimizer"]
    slots: dict[str, list[str]] = {}
    t = 0
    for key, value in om["state"].items():
        if key == "t":
            t = int(value)
            continue
        slot, pname = key.split("/", 1)
        slots.setdefault(slot, []).append(pname)
        arrays[f"optimizer/{slot}/{pname}"] = np.asarray(value, dtype=np.float64)
    state_meta = None
    if sd["state"] is not None:
        state_meta = {"count": len(sd["state"])}
        for i, a in enumerate(sd["state"]):
            arrays[f"state/{i}"] = np.asarray(a, dtype=np.float64)
    history = {}
    for name, series in sd["history"].items():
        history[name] = _series_meta(series)
        arrays[f"history/{name}/x"], arrays[f"history/{name}/y"] = series["x"], series["y"]
    arrays["clip_events/x"], arrays["clip_events/y"] = sd["clip_events"]["x"], sd["clip_events"]["y"]
    task_meta = dict(sd["task"])
    if task_meta["kind"] == "stream":
        task_meta["fingerprint"] = _stream_fingerprint(session.task)
    elif task_meta["kind"] == "shuffle":
        arrays["task/order"] = np.asarray(task_meta.pop("order"), dtype=np.int64)
    meta = {
        "format": FORMAT_NAME,
        "format_version": FORMAT_VERSION,
        "app_version": __version__,
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "summary": {"title": session.cfg.title, "task": session.task.describe(), "model": session.cfg.model},
        "config": session.cfg.to_dict(),
        "iteration": sd["iteration"],
        "seconds": sd["seconds"],
        "rng": sd["rng"],
        "optimizer": {"name": om["name"], "lr": om["lr"], "t": t, "slots": slots},
        "annealer": sd["annealer"],
        "state": state_meta,
        "history": history,
        "clip_events": _series_meta(sd["clip_events"]),
        "samples": [[i, text] for i, text in sd["samples"]],
        "bugs": sd["bugs"],
        "blowup": sd["blowup"],
        "task": task_meta,
        "position": position,
        "numbering": "updates",
    }
    return meta, arrays


def _series_meta(series: Mapping[str, Any]) -> dict[str, int]:
    return {k: series[k] for k in ("capacity", "n", "stride", "skip")}


_FINGERPRINTS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def _stream_fingerprint(task: LanguageModelTask) -> str:
    # a task's token stream never changes: hash it once (capture_state runs every narrated iteration)
    cached = _FINGERPRINTS.get(task)
    if cached is not None:
        return cached
    h = hashlib.sha256(str(task.vocab.size).encode())
    h.update(np.ascontiguousarray(task.train_ids, dtype=np.int64).tobytes())
    _FINGERPRINTS[task] = digest = h.hexdigest()
    return digest


#: the date inside a reproducible archive (the earliest a zip entry can hold)
_FIXED_DATE = (1980, 1, 1, 0, 0, 0)


def _write_archive(f: io.BufferedIOBase, meta_bytes: bytes, arrays: Mapping[str, Array],
                   reproducible: bool = False) -> None:
    def entry(name: str) -> zipfile.ZipInfo | str:
        if not reproducible:
            return name  # dated now
        info = zipfile.ZipInfo(name, date_time=_FIXED_DATE)
        info.compress_type = zipfile.ZIP_DEFLATED
        return info

    with zipfile.ZipFile(f, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=1) as zf:
        zf.writestr(entry(_META), meta_bytes)
        for name, arr in arrays.items():
            with zf.open(entry(f"{name}.npy"), "w", force_zip64=arr.nbytes > 2**30) as member:
                np.lib.format.write_array(member, np.asarray(arr), allow_pickle=False)


# ====================================================================================== loading
def load_session(path: str | os.PathLike[str]) -> tuple[Session, dict[str, Any] | None]:
    """Open a session file: ``(session, position)``, ``position`` being what was passed to
    ``save_session`` (or None). Raises ``ValueError`` naming the file and the problem for a
    missing, unreadable, damaged, wrong-version, oversized or hostile file."""
    path = Path(path)
    return _guarded(path, lambda npz, meta: _restore(npz, meta, str(path)))


def read_session_info(path: str | os.PathLike[str]) -> dict[str, Any]:
    """The file's description without rebuilding the session: ``format_version``,
    ``app_version``, ``created``, ``iteration``, ``summary`` and ``position``. ``ValueError`` as
    for ``load_session`` if the file is not a readable session file."""
    path = Path(path)

    def info(npz, meta):
        summary = meta.get("summary")
        return {"format_version": meta["format_version"], "app_version": str(meta.get("app_version", "")),
                "created": str(meta.get("created", "")), "iteration": _int(meta, "iteration", 0, 2**62),
                "summary": summary if isinstance(summary, dict) else {},
                "position": _position(meta)}

    return _guarded(path, info)


def _guarded(path: Path, body):
    """Open ``path`` read-only, check the archive and its meta.json, run ``body(npz, meta)`` and
    turn every failure into a ``ValueError`` naming the file."""
    try:
        size = path.stat().st_size
        if not path.is_file():
            raise _Refused("not a regular file")
        if size > MAX_FILE_BYTES:
            raise _Refused(f"the file is {size / 2**20:.0f} MB; session files are limited to "
                           f"{MAX_FILE_BYTES // 2**20} MB")
        with open(path, "rb") as f:
            head = f.read(4)
            if head not in (b"PK\x03\x04", b"PK\x05\x06"):
                raise _Refused("not a bpttviz session file (not a zip archive)")
            f.seek(0)
            with np.load(f, allow_pickle=False, max_header_size=_MAX_NPY_HEADER) as npz:
                if not isinstance(npz, np.lib.npyio.NpzFile):
                    raise _Refused("not a bpttviz session file")
                _check_members(npz.zip)
                meta = _read_meta(npz.zip)
                return body(npz, meta)
    except _Refused as e:
        raise ValueError(f"session file {path}: {e}") from None
    except FileNotFoundError:
        raise ValueError(f"session file {path}: no such file") from None
    except IsADirectoryError:
        raise ValueError(f"session file {path}: is a folder, not a file") from None
    except PermissionError:
        raise ValueError(f"session file {path}: permission denied") from None
    except MemoryError:
        raise ValueError(f"session file {path}: too large to load") from None
    except Exception as e:  # anything else a damaged archive can raise (zlib, struct, EOF, CRC ...)
        detail = str(e) or type(e).__name__
        raise ValueError(f"session file {path}: damaged or not a bpttviz session file "
                         f"({type(e).__name__}: {detail[:300]})") from e


def _check_members(zf: zipfile.ZipFile) -> None:
    infos = zf.infolist()
    if len(infos) > MAX_MEMBERS:
        raise _Refused(f"{len(infos)} entries; a session file has at most {MAX_MEMBERS}")
    names = [i.filename for i in infos]
    if len(set(names)) != len(names):
        raise _Refused("the archive lists an entry twice")
    total = sum(i.file_size for i in infos)
    if total > MAX_FILE_BYTES:
        raise _Refused(f"its entries unpack to {total / 2**20:.0f} MB; at most {MAX_FILE_BYTES // 2**20} MB")
    if _META not in names:
        raise _Refused(f"not a bpttviz session file (no {_META} entry)")


def _read_meta(zf: zipfile.ZipFile) -> dict[str, Any]:
    info = zf.getinfo(_META)
    if info.file_size > MAX_META_BYTES:
        raise _Refused(f"{_META} is {info.file_size:,} bytes; at most {MAX_META_BYTES:,}")
    raw = zf.read(info)
    try:
        meta = json.loads(raw.decode("utf-8"))
    except UnicodeDecodeError:
        raise _Refused(f"{_META} is not UTF-8 text") from None
    except json.JSONDecodeError as e:
        raise _Refused(f"{_META} is not valid JSON ({e.msg} at line {e.lineno} column {e.colno})") from None
    except RecursionError:
        raise _Refused(f"{_META} is nested too deeply") from None
    if not isinstance(meta, dict):
        raise _Refused(f"{_META} must hold a JSON object")
    if meta.get("format") != FORMAT_NAME:
        raise _Refused(f"not a bpttviz session file (format {str(meta.get('format'))[:80]!r}, "
                       f"expected {FORMAT_NAME!r})")
    version = meta.get("format_version")
    if isinstance(version, bool) or not isinstance(version, int) or version < 1:
        raise _Refused(f"unknown format version {str(version)[:40]!r}; this bpttviz reads version {FORMAT_VERSION}")
    if version > FORMAT_VERSION:
        app = str(meta.get("app_version", "?"))[:40]
        raise _Refused(f"written by a newer bpttviz ({app}, session format version {version}); this bpttviz "
                       f"{__version__} reads format version {FORMAT_VERSION}: please upgrade bpttviz")
    return meta


# ---------------------------------------------------------------------------- field checks
def _get(d: Mapping[str, Any], key: str, where: str = "") -> Any:
    if not isinstance(d, Mapping) or key not in d:
        raise _Refused(f"{_META}: missing field {where + key!r}")
    return d[key]


def _int(d: Mapping[str, Any], key: str, lo: int, hi: int, where: str = "") -> int:
    v = _get(d, key, where)
    if isinstance(v, bool) or not isinstance(v, int) or not lo <= v <= hi:
        raise _Refused(f"{_META}: field {where + key!r}: expected a whole number from {lo} to {hi}, "
                       f"got {str(v)[:40]!r}")
    return v


def _float(d: Mapping[str, Any], key: str, where: str = "", *, finite: bool = True, optional: bool = False,
           positive: bool = False) -> float | None:
    v = _get(d, key, where)
    if v is None and optional:
        return None
    if isinstance(v, bool) or not isinstance(v, (int, float)) or (finite and not math.isfinite(v)) \
            or (positive and not v > 0):
        kind = "a positive finite number" if positive else "a finite number" if finite else "a number"
        raise _Refused(f"{_META}: field {where + key!r}: expected {kind}, got {str(v)[:40]!r}")
    return float(v)


def _str(d: Mapping[str, Any], key: str, max_len: int, where: str = "") -> str:
    v = _get(d, key, where)
    if not isinstance(v, str) or len(v) > max_len:
        raise _Refused(f"{_META}: field {where + key!r}: expected text of at most {max_len} characters")
    return v


def _dict(d: Mapping[str, Any], key: str, where: str = "", optional: bool = False) -> dict[str, Any] | None:
    v = _get(d, key, where)
    if v is None and optional:
        return None
    if not isinstance(v, dict):
        raise _Refused(f"{_META}: field {where + key!r}: expected a JSON object")
    return v


def _position(meta: Mapping[str, Any]) -> dict[str, Any] | None:
    return _dict(meta, "position", optional=True) if "position" in meta else None


# ---------------------------------------------------------------------------- arrays
class _Arrays:
    """Reads the archive's arrays, each only after its declared dtype and shape match what the
    configuration implies; tracks which entries were used so stray ones are refused."""

    def __init__(self, npz: np.lib.npyio.NpzFile) -> None:
        self.npz = npz
        self.infos = {i.filename: i for i in npz.zip.infolist()}
        self.used = {_META}

    def read(self, name: str, shape: tuple[int, ...], kind: str = "f") -> Array:
        member = f"{name}.npy"
        info = self.infos.get(member)
        if info is None:
            raise _Refused(f"missing array {name!r}")
        self.used.add(member)
        with self.npz.zip.open(info) as fp:
            version = np.lib.format.read_magic(fp)
            if version == (1, 0):
                got_shape, _, dtype = np.lib.format.read_array_header_1_0(fp, max_header_size=_MAX_NPY_HEADER)
            elif version == (2, 0):
                got_shape, _, dtype = np.lib.format.read_array_header_2_0(fp, max_header_size=_MAX_NPY_HEADER)
            else:
                raise _Refused(f"array {name!r}: unsupported .npy version {version}")
            header_len = fp.tell()
        if dtype.hasobject or dtype.kind != kind or dtype.itemsize != 8 or dtype.fields is not None:
            want = "float64" if kind == "f" else "int64"
            raise _Refused(f"array {name!r}: expected {want}, got dtype {dtype.str!r}")
        if tuple(got_shape) != tuple(shape):
            raise _Refused(f"array {name!r}: expected shape {tuple(shape)}, got {tuple(got_shape)[:8]}")
        if info.file_size != header_len + 8 * math.prod(shape):
            raise _Refused(f"array {name!r}: its size does not match its header (truncated or padded)")
        arr = self.npz[name]
        if not isinstance(arr, np.ndarray) or arr.shape != tuple(shape):
            raise _Refused(f"array {name!r}: could not be read")
        return np.array(arr, dtype=np.float64 if kind == "f" else np.int64, order="C")

    def check_all_used(self) -> None:
        stray = sorted(set(self.infos) - self.used)
        if stray:
            raise _Refused(f"unexpected entry {stray[0][:100]!r} (not part of a session file, format "
                           f"version {FORMAT_VERSION})")


def _read_series(arrays: _Arrays, meta: Mapping[str, Any], prefix: str, where: str) -> dict[str, Any]:
    """A ``Series.state_dict()`` from the file, each field checked."""
    capacity = _int(meta, "capacity", 2, MAX_HISTORY_CAPACITY, where)
    n = _int(meta, "n", 0, capacity, where)
    stride = _int(meta, "stride", 1, 2**62, where)
    if stride & (stride - 1):
        raise _Refused(f"{_META}: field {where + 'stride'!r}: expected a power of two, got {stride}")
    skip = _int(meta, "skip", 0, stride - 1, where)
    x = arrays.read(f"{prefix}/x", (n,))
    y = arrays.read(f"{prefix}/y", (n,))
    return {"capacity": capacity, "n": n, "stride": stride, "skip": skip, "x": x, "y": y}


# ---------------------------------------------------------------------------- rebuilding
def _restore(npz: np.lib.npyio.NpzFile, meta: dict[str, Any], source: str) -> tuple[Session, dict[str, Any] | None]:
    """Rebuild the session from ``config``, check every field of the file and the arrays it
    implies, and hand them to ``Session.load_state_dict``."""
    config = _dict(meta, "config")
    try:
        cfg = Config.from_dict(config, "config")
    except ValueError as e:
        raise _Refused(f"{_META}: {e}") from None
    history_meta = _dict(meta, "history")
    unknown = sorted(set(history_meta) - set(HISTORY_SERIES))
    if unknown:
        raise _Refused(f"{_META}: history: unknown series {unknown[0][:60]!r}")
    position = _position(meta)
    if cfg.task in ("chars", "words") and cfg.corpus not in BUILTIN_CORPORA:
        corpus = Path(cfg.corpus).expanduser()
        if corpus.exists() and not corpus.is_file():  # a FIFO or device would block or never end
            raise _Refused(f"config: corpus {cfg.corpus!r} is not a regular file")
    try:
        session = Session(cfg)
    except ValueError as e:  # e.g. the corpus file named in the configuration is gone
        raise _Refused(f"cannot rebuild the session from its configuration: {e}") from None
    arrays = _Arrays(npz)
    sd: dict[str, Any] = {"task": _read_task(session, _dict(meta, "task"), arrays)}  # first: a changed text
    params = session.model.params

    # model parameters and the rollback point
    sd["params"] = {name: arrays.read(f"params/{name}", p.shape) for name, p in params.items()}
    sd["last_finite"] = {name: arrays.read(f"last_finite/{name}", p.shape) for name, p in params.items()}

    # optimiser
    om = _dict(meta, "optimizer")
    name = _str(om, "name", 40, "optimizer.")
    if name != session.optimizer.name:
        raise _Refused(f"{_META}: optimizer {name[:40]!r} does not match the configuration's "
                       f"{session.optimizer.name!r}")
    opt_state: dict[str, Array] = {"t": np.array(_int(om, "t", 0, 2**62, "optimizer."))}
    slots = _dict(om, "slots", "optimizer.")
    for slot, pnames in slots.items():
        if not _NAME.match(slot) or not isinstance(pnames, list) or len(pnames) > len(params):
            raise _Refused(f"{_META}: optimizer.slots: bad entry {str(slot)[:40]!r}")
        for pname in pnames:
            if pname not in params:
                raise _Refused(f"{_META}: optimizer.slots.{slot}: unknown parameter {str(pname)[:40]!r}")
            opt_state[f"{slot}/{pname}"] = arrays.read(f"optimizer/{slot}/{pname}", params[pname].shape)
    sd["optimizer"] = {"name": name, "lr": _float(om, "lr", "optimizer.", positive=True), "state": opt_state}

    # annealer
    am = _dict(meta, "annealer", optional=True)
    if (am is None) != (session.annealer is None):
        raise _Refused(f"{_META}: annealer state does not match the configuration's 'anneal' setting")
    sd["annealer"] = None if am is None else {
        "factor": _float(am, "factor", "annealer.", positive=True),
        "patience": _int(am, "patience", 1, 2**62, "annealer."),
        "min_lr": _float(am, "min_lr", "annealer.", positive=True),
        "smoothing": _float(am, "smoothing", "annealer."),
        "smooth": _float(am, "smooth", "annealer.", finite=False, optional=True),
        "best": _float(am, "best", "annealer.", finite=False),
        "bad": _int(am, "bad", 0, 2**62, "annealer.")}

    # carried hidden state
    sm = _dict(meta, "state", optional=True)
    sd["state"] = None
    if sm is not None:
        if not session.is_recurrent:
            raise _Refused(f"{_META}: state: an MLP carries no hidden state")
        count = len(session.model.STATE)
        _int(sm, "count", count, count, "state.")
        shape = (cfg.batch_size, cfg.hidden_size)
        sd["state"] = tuple(arrays.read(f"state/{i}", shape) for i in range(count))

    # histories
    sd["history"] = {}
    for sname, series_meta in history_meta.items():
        if not isinstance(series_meta, dict):
            raise _Refused(f"{_META}: history.{sname}: expected a JSON object")
        sd["history"][sname] = _read_series(arrays, series_meta, f"history/{sname}", f"history.{sname}.")
    sd["clip_events"] = _read_series(arrays, _dict(meta, "clip_events"), "clip_events", "clip_events.")
    old_numbering = meta.get("numbering") != "updates"
    if old_numbering:  # an older file: iteration N's points were drawn at x = N - 1
        for series in [*sd["history"].values(), sd["clip_events"]]:
            series["x"] += 1

    # rng, counters
    rng_state = _dict(meta, "rng")
    expected_bg = type(session.rng.bit_generator).__name__
    if rng_state.get("bit_generator") != expected_bg:
        raise _Refused(f"{_META}: rng: expected a {expected_bg} state")
    try:
        type(session.rng.bit_generator)(0).state = rng_state  # checked on a spare generator
    except (TypeError, ValueError, KeyError, OverflowError) as e:
        raise _Refused(f"{_META}: rng: not a valid {expected_bg} state ({e})") from None
    sd["rng"] = rng_state
    sd["iteration"] = _int(meta, "iteration", 0, 2**62)
    sd["seconds"] = _float(meta, "seconds")

    samples = _get(meta, "samples")
    if not isinstance(samples, list) or len(samples) > MAX_SAMPLES:
        raise _Refused(f"{_META}: samples: expected a list of at most {MAX_SAMPLES} [iteration, text] pairs")
    restored = []
    for item in samples:
        if not (isinstance(item, list) and len(item) == 2 and isinstance(item[0], int)
                and not isinstance(item[0], bool) and isinstance(item[1], str) and len(item[1]) <= MAX_SAMPLE_CHARS):
            raise _Refused(f"{_META}: samples: expected [iteration, text] pairs")
        restored.append((item[0], item[1]))
    sd["samples"] = restored

    bugs = _get(meta, "bugs")
    if not isinstance(bugs, list) or not all(isinstance(b, str) for b in bugs) or len(bugs) > 64:
        raise _Refused(f"{_META}: bugs: expected a list of bug-lab names")
    try:
        check_bugs(bugs, recurrent=session.is_recurrent)
    except ValueError as e:
        raise _Refused(f"{_META}: {e}") from None
    sd["bugs"] = bugs

    bm = _dict(meta, "blowup", optional=True)
    sd["blowup"] = None
    if bm is not None:
        ts = _get(bm, "timestep", "blowup.")
        sd["blowup"] = {
            "iteration": _int(bm, "iteration", 0, 2**62, "blowup.") + int(old_numbering),
            "phase": _str(bm, "phase", 40, "blowup."), "name": _str(bm, "name", 200, "blowup."),
            "timestep": None if ts is None else _int(bm, "timestep", 0, 2**62, "blowup.")}

    arrays.check_all_used()
    try:
        session.load_state_dict(sd)
    except ValueError as e:  # what the checks above cannot see, e.g. an optimiser slot of another optimiser
        raise _Refused(str(e)) from None
    return session, position


def _read_task(session: Session, tm: dict[str, Any], arrays: _Arrays) -> dict[str, Any]:
    """A ``Task.state_dict()`` from the file, checked: where the data stream stood."""
    task = session.task
    kind = _str(tm, "kind", 20, "task.")
    if isinstance(task, LanguageModelTask):
        if kind != "stream":
            raise _Refused(f"{_META}: task.kind: expected 'stream' for a language model, got {kind[:20]!r}")
        if _str(tm, "fingerprint", 64, "task.") != _stream_fingerprint(task):
            raise _Refused(f"the text of corpus {session.cfg.corpus!r} is not the one the session was trained on "
                           f"(the file changed since it was saved)")
        chunk = _int(tm, "chunk", 0, len(task.stream), "task.")
        started = _get(tm, "started", "task.")
        epoch_start = _get(tm, "epoch_start", "task.")
        if not isinstance(started, bool) or not isinstance(epoch_start, bool):
            raise _Refused(f"{_META}: task.started and task.epoch_start must be true or false")
        return {"kind": kind, "started": started, "epoch": _int(tm, "epoch", 0, 2**62, "task."),
                "chunk": chunk, "epoch_start": epoch_start}
    if isinstance(task, ClassificationTask):
        if kind != "shuffle":
            raise _Refused(f"{_META}: task.kind: expected 'shuffle' for a classification task, got {kind[:20]!r}")
        n = len(task.y_train)
        order = arrays.read("task/order", (n,), kind="i")
        if not np.array_equal(np.sort(order), np.arange(n)):
            raise _Refused(f"array 'task/order': not a permutation of the {n} training examples")
        return {"kind": kind, "order": order, "pos": _int(tm, "pos", 0, n, "task.")}
    if kind != "none":
        raise _Refused(f"{_META}: task.kind: expected 'none' for task {session.cfg.task!r}, got {kind[:20]!r}")
    return {"kind": kind}


# ====================================================================================== autosave
def autosave_dir() -> Path:
    """Where the app autosaves: ``$XDG_STATE_HOME/bpttviz`` (default ``~/.local/state``;
    ``%LOCALAPPDATA%`` on Windows, ``~/Library/Application Support`` on macOS when
    ``XDG_STATE_HOME`` is unset). Created (private to the user) on demand."""
    base = os.environ.get("XDG_STATE_HOME", "")
    if not base or not os.path.isabs(base):  # the XDG spec: relative values are ignored
        if sys.platform == "win32" and os.environ.get("LOCALAPPDATA"):
            base = os.environ["LOCALAPPDATA"]
        elif sys.platform == "darwin":
            base = str(Path.home() / "Library" / "Application Support")
        else:
            base = str(Path.home() / ".local" / "state")
    directory = Path(base) / "bpttviz"
    directory.mkdir(parents=True, exist_ok=True, mode=0o700)
    return directory


def autosave_path(owner: int | None = None) -> Path:
    """The autosave file of the app process ``owner`` (default: this process):
    ``autosave_dir()/autosave-<pid>.npz``. One file per window process, so two windows open at
    once never overwrite each other's autosave."""
    return autosave_dir() / f"autosave-{os.getpid() if owner is None else int(owner)}.npz"


def autosave_files() -> list[Path]:
    """Every autosave file in ``autosave_dir()`` (``autosave-<pid>.npz``, and ``autosave.npz``
    from older versions), newest first."""
    d = autosave_dir()
    files = [p for p in d.glob("autosave-*.npz") if re.fullmatch(r"autosave-\d+\.npz", p.name)]
    if (d / "autosave.npz").is_file():
        files.append(d / "autosave.npz")

    def mtime(p: Path) -> float:
        try:
            return p.stat().st_mtime
        except OSError:
            return 0.0
    return sorted(files, key=mtime, reverse=True)


def has_autosave(owner: int | None = None) -> bool:
    """True when ``autosave_path(owner)`` exists (it may still turn out to be unreadable: load it
    with ``load_session`` and discard it if that raises)."""
    return autosave_path(owner).is_file()


def discard_autosave(path: str | os.PathLike[str] | None = None) -> None:
    """Delete an autosave file (default: this process's) and any temporary file an interrupted
    save of it left behind."""
    path = Path(path) if path is not None else autosave_path()
    for p in [path, *path.parent.glob(f".{path.name}.*.tmp")]:
        try:
            p.unlink()
        except FileNotFoundError:
            pass
