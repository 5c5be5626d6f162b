"""The training process's side, and the wire both sides use (no Qt: the child never imports it).

**The wire.** A message is any picklable value. It travels as frames on a
``multiprocessing.connection.Connection``: a small header (the sizes of its buffers), the pickle
(protocol 5) and each large array's memory as an out-of-band buffer, sent from the array itself
(no copy into the pickle). Either way a read-only array arrives read-only (``bytes``: the step
records' arrays stay frozen) and a writable one writable (``bytearray``: the session's
parameters can be trained again). Mapping proxies (the engine's
frozen dicts) travel as dicts and come back as proxies.

**The child** (``child_main``) says hello, then runs the jobs it is sent, one at a time, each as
``job(deliver, cancelled)`` with jobs from ``bpttviz.window.jobs``. Between iterations
``cancelled()`` reads what the app has sent meanwhile: ``("cancel",)`` stops the running job and
drops the queued ones, ``("live", fields)`` updates the running job's ``LiveSettings``, another
``("job", token, pickled job)`` waits its turn, ``("credit", n)`` says the app has taken ``n``
snapshots (see ``CREDITS``), ``("quit",)`` ends the process. A job the child
cannot unpickle fails as that job (``Failure``); the child goes on. Every job ends with one
final message (a ``Failure``, or ``Done``), so the app knows when the child is idle.
"""

from __future__ import annotations

import io
import mmap
import os
import pickle
import struct
import time
import traceback
from collections import deque
from copyreg import dispatch_table
from types import MappingProxyType
from typing import Any


def _proxy(d: dict) -> MappingProxyType:
    return MappingProxyType(d)


def _reduce_proxy(m: MappingProxyType):
    return _proxy, (dict(m),)


#: snapshots the child may send ahead of the app taking them (one being shown, one on its way):
#: the app hands back a credit for each it takes, so a busy window gets fewer snapshots and the
#: child spends the time saved on training instead of narrating and pickling unseen moments
CREDITS = 2

#: arrays of at least this many bytes travel as buffers of their own; smaller ones inside the
#: pickle (a narration holds hundreds of small arrays: a message each cost more than the copy)
OUT_OF_BAND = 1 << 16

_TABLE = dict(dispatch_table)
_TABLE[MappingProxyType] = _reduce_proxy


def _dump(message: Any) -> tuple[memoryview, list[memoryview]]:
    """``message`` pickled: the pickle, and the large arrays' memory (out-of-band buffers)."""
    buffers: list[pickle.PickleBuffer] = []

    def out_of_band(b: pickle.PickleBuffer) -> bool:  # False: sent on its own (small ones: in the pickle)
        if b.raw().nbytes < OUT_OF_BAND:
            return True
        buffers.append(b)
        return False

    f = io.BytesIO()
    p = pickle.Pickler(f, protocol=5, buffer_callback=out_of_band)
    p.dispatch_table = _TABLE
    p.dump(message)
    return f.getbuffer(), [b.raw() for b in buffers]


def dumps(obj: Any) -> bytes:
    """``obj`` pickled whole (mapping proxies included): a job, which the child unpickles itself,
    so that one it cannot read fails as that job instead of ending the child."""
    f = io.BytesIO()
    p = pickle.Pickler(f, protocol=5)
    p.dispatch_table = _TABLE
    p.dump(obj)
    return f.getvalue()


class Wire:
    """Messages over ``conn``, the large ones from the child through ``ring``: shared memory (a
    ``mmap`` both processes map) used as a ring buffer. A socket moves a megabyte in a few
    milliseconds of system calls (its buffer holds 200 kB); the ring takes a copy in and a copy
    out, a tenth of that. The ring's first ``HEAD`` bytes hold how many bytes the receiver has
    taken (it writes that; the sender waits for room, up to ``wait`` seconds, then uses the
    socket). Only one side sends through the ring (``sends_through_ring``: the child); messages
    the other way (small: jobs, cancels) go through the socket."""

    HEAD = 64

    def __init__(self, conn, ring: mmap.mmap | None = None, *, sends_through_ring: bool = False,
                 wait: float = 2.0) -> None:
        self.conn, self.ring, self.wait = conn, ring, wait
        self._ring_out = sends_through_ring and ring is not None
        self._written = 0  # sender: bytes placed in the ring so far
        self._taken = 0  # receiver: bytes taken out of the ring so far

    def send(self, message: Any, *, final: bool = False) -> None:
        """Send ``message``; ``final``: the last message of a job (the receiver learns the job ended)."""
        payload, raws = _dump(message)
        parts = [payload, *raws]
        sizes = [p.nbytes for p in parts]
        place = self._reserve(sum(sizes)) if self._ring_out else None
        head = (sizes, [r.readonly for r in raws], final, place)
        if place is None:
            self.conn.send_bytes(pickle.dumps(head))
            for part in parts:
                self.conn.send_bytes(part)
            return
        pos = place[0]
        for part, n in zip(parts, sizes, strict=True):
            self.ring[pos:pos + n] = part
            pos += n
        self.conn.send_bytes(pickle.dumps(head))

    def _reserve(self, total: int) -> tuple[int, int] | None:
        """Room for ``total`` bytes in one piece: (offset, bytes used including any skipped at the
        ring's end), or None (too large, or no room in time)."""
        size = len(self.ring) - self.HEAD
        if total > size // 2:
            return None
        start = self._written % size
        used = total + (size - start if start + total > size else 0)
        deadline = time.monotonic() + self.wait
        while self._written + used - struct.unpack_from("Q", self.ring, 0)[0] > size:
            if time.monotonic() > deadline:
                return None
            time.sleep(0.0005)  # the receiver has not taken the older messages yet
        offset = self.HEAD + (self._written + used - total) % size
        self._written += used
        return offset, used

    def receive(self) -> tuple[Any, bool]:
        """The next message and whether it was a job's final one. ``EOFError`` when the other side
        has gone. Read-only arrays arrive read-only, writable ones writable."""
        sizes, readonly, final, place = pickle.loads(self.conn.recv_bytes())
        if place is None:
            payload = self.conn.recv_bytes()
            buffers: list[Any] = []
            for size, ro in zip(sizes[1:], readonly, strict=True):
                if ro:
                    buffers.append(self.conn.recv_bytes())
                else:
                    buf = bytearray(size)
                    if size:
                        self.conn.recv_bytes_into(buf)
                    else:
                        self.conn.recv_bytes()
                    buffers.append(buf)
        else:
            pos, used = place
            view = memoryview(self.ring)
            try:
                payload = bytes(view[pos:pos + sizes[0]])
                pos += sizes[0]
                buffers = []
                for size, ro in zip(sizes[1:], readonly, strict=True):
                    buffers.append((bytes if ro else bytearray)(view[pos:pos + size]))
                    pos += size
            finally:
                view.release()
            self._taken += used
            struct.pack_into("Q", self.ring, 0, self._taken)
        return pickle.loads(payload, buffers=buffers), final


def _picklable(e: BaseException) -> BaseException:
    try:
        pickle.dumps(e)
        return e
    except Exception:  # noqa: BLE001 - any exception: its message still gets through
        return RuntimeError(f"{type(e).__name__}: {e}")


def child_entry(fd: int, ring_fd: int | None = None, ring_size: int = 0) -> None:
    """The training process's main: its loop over the socket ``fd`` (and the shared memory
    ``ring_fd`` of ``ring_size`` bytes, if given); ends quietly when the app has gone."""
    from multiprocessing.connection import Connection

    ring = mmap.mmap(ring_fd, ring_size) if ring_fd is not None else None
    try:
        child_main(Wire(Connection(fd), ring, sends_through_ring=True))
    except (EOFError, BrokenPipeError, ConnectionResetError, KeyboardInterrupt):
        pass


def child_main(wire: Wire) -> None:
    """The training process's loop (see the module docstring)."""
    import numpy as np

    from bpttviz.window.jobs import Cancelled, Done, Failure

    wire.send(("hello", os.getpid()))
    queue: deque[Any] = deque()
    while True:
        message = queue.popleft() if queue else wire.receive()[0]
        kind = message[0]
        if kind == "quit":
            return
        if kind != "job":
            continue  # a cancel or live change for a job that has ended
        _, token, packed = message
        try:
            job = pickle.loads(packed)
        except Exception as e:  # noqa: BLE001 - e.g. a job defined where this process cannot import it
            wire.send(Failure(token, _picklable(e), "".join(traceback.format_exception(type(e), e, e.__traceback__))),
                      final=True)
            continue
        stop = [False]
        live = getattr(job, "live", None)
        credits = [CREDITS]
        if hasattr(job, "gate"):
            job.gate = lambda credits=credits: credits[0] > 0

        def cancelled(stop=stop, live=live, credits=credits) -> bool:
            while wire.conn.poll():
                m = wire.receive()[0]
                if m[0] == "cancel":
                    stop[0] = True
                    while queue:  # queued jobs are dropped too; each still ends with its final message
                        dropped = queue.popleft()
                        if dropped[0] == "job":
                            wire.send(Done(dropped[1]), final=True)
                        elif dropped[0] == "quit":
                            queue.append(dropped)
                            break
                elif m[0] == "live" and live is not None:
                    for k, v in m[1].items():
                        setattr(live, k, v)
                elif m[0] == "credit":
                    credits[0] = min(CREDITS, credits[0] + m[1])
                else:
                    queue.append(m)
                    stop[0] = stop[0] or m[0] == "quit"
            return stop[0]

        def deliver(item: Any, cancelled=cancelled, credits=credits) -> None:
            if cancelled():
                raise Cancelled
            wire.send(item)
            credits[0] -= 1

        try:
            with np.errstate(over="ignore", invalid="ignore", divide="ignore"):  # NaN/Inf: the engine reports them
                job(deliver, cancelled)
            outcome: Any = Done(token)
        except Cancelled:
            outcome = Done(token)
        except BaseException as e:  # noqa: BLE001 - handed to the app, which reports it
            outcome = Failure(token, _picklable(e), "".join(traceback.format_exception(type(e), e, e.__traceback__)))
        wire.send(outcome, final=True)
