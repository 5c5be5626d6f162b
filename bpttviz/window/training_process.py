"""Training in a second process: the app's side.

At the classic size an iteration is mostly Python (about 1 ms), and so is pyqtgraph's painting:
on one thread, or on two threads sharing the GIL, training and painting take turns, and neither
gets a whole core (measured: 60 frames a second would need a whole frame, iteration included,
in 7 ms). A ``TrainingProcess`` runs the same jobs as ``TrainingWorker`` (``bpttviz.window.jobs``)
in a child Python process on the other core, and the UI thread only paints.

It is a drop-in for ``TrainingWorker``: ``submit(token, job)``, ``cancel()``, ``take()``,
``busy``, ``wait_idle()``, ``shutdown()`` and the ``delivered`` signal, plus ``update(live)``
(a running job's ``LiveSettings`` live in the child: changes are sent) and ``ready`` (the child
has started: a spawned Python with NumPy takes about a second, so the app starts it at launch and
trains on the UI thread until it is ready).

What crosses: the job once (its session pickled: about 1 MB at the classic size), then each
snapshot (the child's session as it is, the narration and the trace arrays; arrays travel as
out-of-band buffers, see ``process_child``). The UI swaps a snapshot in whole, as it does the
thread worker's, so nothing the UI reads is ever written by the child; a snapshot is a copy by
construction (it was pickled), so the child does not copy its session per snapshot.

``cancel()`` never waits: the child stops at its next iteration boundary (about a millisecond at
the sizes sent here) and its results meanwhile are dropped, here and by their tokens. If the
child dies, the running job fails with a message saying so, and ``alive`` turns False (the app
trains on the UI thread again).
"""

from __future__ import annotations

import json
import mmap
import os
import socket
import subprocess
import sys
import threading
from collections import deque
from collections.abc import Callable
from dataclasses import asdict
from multiprocessing.connection import Connection
from typing import Any

from PySide6 import QtCore

from bpttviz.window.jobs import Failure, LiveSettings
from bpttviz.window.process_child import Wire, dumps

#: what the child runs: argv[1] its end of the socket, argv[2] the app's import path
_CHILD = ("import json, sys; sys.path[:] = json.loads(sys.argv[1]); "
          "from bpttviz.window.process_child import child_entry; "
          "child_entry(int(sys.argv[2]), int(sys.argv[3]) if sys.argv[3] else None, int(sys.argv[4]))")
#: the shared memory the child's results pass through (see ``process_child.Wire``)
RING_BYTES = 32 << 20  # (a snapshot at the classic size: about 1 MB; above 16 MB the socket)


def _ring(size: int) -> tuple[mmap.mmap | None, int | None]:
    """Shared memory for the child's results (Linux: an anonymous memory file), or (None, None)
    where there is none: the socket carries everything then."""
    if not hasattr(os, "memfd_create"):
        return None, None
    try:
        fd = os.memfd_create("bpttviz-training", 0)
        os.ftruncate(fd, size)
        return mmap.mmap(fd, size), fd
    except OSError:
        return None, None


class TrainingProcess(QtCore.QObject):
    """A child process running one job at a time (see the module docstring)."""

    delivered = QtCore.Signal()
    started = QtCore.Signal()  # the child said hello (``ready`` turned True)

    def __init__(self, parent: QtCore.QObject | None = None) -> None:
        super().__init__(parent)
        # a fresh interpreter (not fork: that would copy the Qt process's threads' locks), started
        # directly rather than by multiprocessing's spawn, which runs the parent's main script
        # again in the child; it gets this process's import path
        ours, theirs = socket.socketpair()
        ring, ring_fd = _ring(RING_BYTES)
        self._wire = Wire(Connection(ours.detach()), ring)
        fd = theirs.fileno()
        fds = (fd,) if ring_fd is None else (fd, ring_fd)
        try:
            self._proc = subprocess.Popen([sys.executable, "-c", _CHILD, json.dumps(sys.path), str(fd),
                                           "" if ring_fd is None else str(ring_fd), str(RING_BYTES)],
                                          pass_fds=fds, stdin=subprocess.DEVNULL)
        except BaseException:
            self._wire.conn.close()
            raise
        finally:
            theirs.close()
            if ring_fd is not None:
                os.close(ring_fd)  # (the mapping stays)
        self._lock = threading.Lock()
        self._wake = threading.Condition(self._lock)
        self._send_lock = threading.Lock()
        self._results: deque[Any] = deque()
        self._open: list[int] = []  # tokens of jobs sent and not ended, oldest first
        self._cancelled: set[int] = set()
        self._ready = False
        self._alive = True
        self._closed = False
        self.pid: int | None = None
        # the reader thread unpickles each result: while the UI thread runs Python it waits up to
        # the GIL switch interval for its turn (5 ms by default: a third of a frame, every snapshot)
        sys.setswitchinterval(min(sys.getswitchinterval(), 0.001))
        self._reader = threading.Thread(target=self._read, name="bpttviz-training-reader", daemon=True)
        self._reader.start()

    # ------------------------------------------------------------------ UI thread
    @property
    def ready(self) -> bool:
        """The child has started and is alive (jobs submitted before this wait for it)."""
        with self._lock:
            return self._ready and self._alive

    @property
    def alive(self) -> bool:
        with self._lock:
            return self._alive

    def wait_ready(self, timeout: float | None = None) -> bool:
        """Block until the child has started (True) or died or ``timeout`` passed (False)."""
        with self._lock:
            self._wake.wait_for(lambda: self._ready or not self._alive, timeout)
            return self._ready and self._alive

    def submit(self, token: int, job: Callable[..., Any]) -> None:
        """Run ``job`` in the child after the ones before it. The job is pickled here (its session
        included); a job with a ``copies`` field is told not to copy (see the module docstring)."""
        if hasattr(job, "copies"):
            job.copies = False
        with self._lock:
            if self._closed or not self._alive:
                raise RuntimeError("the training process has stopped")
            self._open.append(token)
        try:
            self._send(("job", token, dumps(job)))
        except BaseException:
            with self._lock:
                self._open.remove(token)
                self._wake.notify_all()
            raise

    def update(self, live: LiveSettings) -> None:
        """Send the running job the current ``live`` settings."""
        if self.busy:
            self._send(("live", asdict(live)))

    def cancel(self) -> None:
        """Stop the running job and drop the queued ones (never blocks); nothing they still
        deliver reaches ``take()``."""
        with self._lock:
            if not self._open or not self._alive:
                return
            self._cancelled.update(self._open)
        self._send(("cancel",))

    @property
    def busy(self) -> bool:
        """A job is running or queued."""
        with self._lock:
            return bool(self._open) and self._alive

    def wait_idle(self, timeout: float | None = None) -> bool:
        """Block until no job runs or waits (True) or ``timeout`` seconds passed (False)."""
        with self._lock:
            return self._wake.wait_for(lambda: not self._open or not self._alive, timeout)

    def take(self) -> list[Any]:
        """The results delivered since the last call, oldest first (the running job is told it
        may send as many more: see ``process_child.CREDITS``)."""
        with self._lock:
            out = list(self._results)
            self._results.clear()
            busy = bool(self._open) and self._alive and not self._closed
        if out and busy:
            try:
                self._send(("credit", len(out)))
            except (OSError, ValueError):
                pass  # the child has gone: the reader reports it
        return out

    def shutdown(self, timeout: float = 5.0) -> bool:
        """Stop the child (cancelling its job) and send no more signals. True when it ended."""
        with self._lock:
            if self._closed:
                return self._proc.poll() is not None
            self._closed = True
        try:
            self._send(("cancel",))
            self._send(("quit",))
        except (OSError, ValueError):
            pass
        try:
            self._proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self._proc.terminate()
            try:
                self._proc.wait(1.0)
            except subprocess.TimeoutExpired:
                self._proc.kill()
        self._reader.join(timeout)
        self._wire.conn.close()
        return self._proc.poll() is not None

    def _send(self, message: Any) -> None:
        with self._send_lock:
            self._wire.send(message)

    # ------------------------------------------------------------------ reader thread
    def _read(self) -> None:
        while True:
            try:
                item, final = self._wire.receive()
            except (EOFError, OSError, ValueError):
                break
            except Exception as e:  # noqa: BLE001 - a result that cannot be read: the job fails with it
                item, final = Failure(self._open[0] if self._open else -1, e, ""), False
            with self._lock:
                if isinstance(item, tuple) and item and item[0] == "hello":
                    self._ready, self.pid = True, item[1]
                    self._wake.notify_all()
                    signal = self.started
                else:
                    token = getattr(item, "token", None)
                    if final and token in self._open:
                        self._open.remove(token)
                        self._wake.notify_all()
                    if token in self._cancelled:
                        if final:
                            self._cancelled.discard(token)
                        continue
                    self._results.append(item)
                    signal = self.delivered
                if self._closed:
                    continue
                signal.emit()  # under the lock: shutdown() cannot finish while it is posted
        with self._lock:  # the child has gone
            self._alive = False
            if self._open and not self._closed:
                token = self._open[0]
                code = self._proc.poll()
                self._results.append(Failure(token, RuntimeError(
                    "the training process stopped unexpectedly"
                    + (f" (exit code {code})" if code is not None else "")
                    + "; training goes on in the window itself when you press Space again"), ""))
                self._open.clear()
                self._wake.notify_all()
                self.delivered.emit()
            self._wake.notify_all()
