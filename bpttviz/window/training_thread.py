"""Training off the UI thread: a worker that runs jobs on a private copy of the session and hands
finished moments to the UI.

Large models spend whole seconds in one engine call (an iteration of a 1000-unit RNN with its
validation pass takes about 1.5 s; an LSTM of 1024 units over 1000 steps, 5 s per iteration and
half a minute for its validation pass). On the UI thread that freezes the window. Here such work
runs on one worker thread while the event loop keeps painting and answering keys; NumPy's matrix
products release the GIL, so the larger the model, the more the two threads overlap.

The hand-over has no shared mutable state:

- a job works on a **copy** of the session, which it makes itself as it starts (a large model's
  session with its optimiser state is a hundred megabytes: copying it on the UI thread blocked it
  for a tenth of a second). The UI thread does not change the session it handed over in place
  without cancelling the job first, and a result is only installed over the session as it was
  handed over (the controller compares fingerprints), so a copy taken while the UI changed it
  is never shown;
- each result it ``deliver``s is a ``Snapshot``: a copy of the session at an iteration boundary,
  the narration of that iteration (immutable records) and whatever else the UI needs, made
  entirely on the worker. The UI swaps it in whole, so a view never sees parameters of one
  iteration with the trace of another;
- every job carries a **token**; the UI ignores results whose token is no longer current, so
  pausing, resetting or opening a file never waits for the worker.

``cancel()`` stops the running job promptly even in the middle of an iteration: it raises
``Cancelled`` in the worker thread at its next Python instruction (``PyThreadState_SetAsyncExc``;
the engine's per-timestep loops are Python, so that is within one timestep). That is safe because
the job works on its own copy, which is then thrown away. ``Cancelled`` derives from
``BaseException`` so that no ``except Exception`` on the way catches it.
"""

from __future__ import annotations

import ctypes
import sys
import threading
import traceback
from collections import deque
from collections.abc import Callable
from typing import Any

from PySide6 import QtCore

from bpttviz.window.jobs import Cancelled, Done, Failure


class TrainingWorker(QtCore.QObject):
    """One worker thread, one job at a time. ``submit(token, job)`` queues ``job(deliver,
    cancelled)``; the job calls ``deliver(item)`` for each result and checks ``cancelled()``
    between iterations. ``delivered`` fires on the UI thread (queued) when results are waiting;
    ``take()`` returns them in order. A job submitted while another runs waits for it (which a
    ``cancel`` ends within one timestep)."""

    delivered = QtCore.Signal()

    def __init__(self, parent: QtCore.QObject | None = None) -> None:
        super().__init__(parent)
        self._lock = threading.Lock()
        self._wake = threading.Condition(self._lock)
        self._jobs: deque[tuple[int, Callable[..., Any]]] = deque()
        self._results: deque[Any] = deque()
        self._running: int | None = None  # token of the running job
        self._cancel_sent = False
        self._cancelled: set[int] = set()
        self._closed = False
        # while a worker runs Python, the UI thread waits for the GIL up to this long each time it
        # wants it (5 ms by default, a third of a frame); a shorter interval costs nothing when
        # only one thread runs
        sys.setswitchinterval(min(sys.getswitchinterval(), 0.001))
        self._thread = threading.Thread(target=self._loop, name="bpttviz-training", daemon=True)
        self._thread.start()

    # ------------------------------------------------------------------ UI thread
    def submit(self, token: int, job: Callable[[Callable[[Any], None], Callable[[], bool]], Any]) -> None:
        with self._lock:
            if self._closed:
                raise RuntimeError("the training worker was shut down")
            self._jobs.append((token, job))
            self._wake.notify()

    def cancel(self) -> None:
        """Stop the running job and drop the queued ones (never blocks)."""
        with self._lock:
            self._cancelled.update(t for t, _ in self._jobs)
            self._jobs.clear()
            if self._running is not None:
                self._cancelled.add(self._running)
                if not self._cancel_sent:
                    self._cancel_sent = True
                    ctypes.pythonapi.PyThreadState_SetAsyncExc(ctypes.c_ulong(self._thread.ident),
                                                               ctypes.py_object(Cancelled))

    @property
    def busy(self) -> bool:
        """A job is running or queued."""
        with self._lock:
            return self._running is not None or bool(self._jobs)

    def wait_idle(self, timeout: float | None = None) -> bool:
        """Block until no job runs or waits (True) or ``timeout`` seconds passed (False)."""
        with self._lock:
            return self._wake.wait_for(lambda: self._running is None and not self._jobs, timeout)

    def take(self) -> list[Any]:
        """The results delivered since the last call, oldest first."""
        with self._lock:
            out = list(self._results)
            self._results.clear()
        return out

    def shutdown(self, timeout: float = 5.0) -> bool:
        """Cancel everything, stop the thread and send no more signals. True when it ended."""
        self.cancel()
        with self._lock:
            self._closed = True
            self._wake.notify_all()
        self._thread.join(timeout)
        return not self._thread.is_alive()

    # ------------------------------------------------------------------ worker thread
    def _deliver(self, token: int, item: Any, *, final: bool = False) -> None:
        """Queue ``item`` for the UI and signal it (one signal per item: a ``Cancelled`` landing
        anywhere in here can lose at most a signal, and the job's final delivery sends another)."""
        with self._lock:
            dropped = self._closed or token in self._cancelled
            if not dropped:
                self._results.append(item)
                self.delivered.emit()  # under the lock: shutdown() cannot run while it is posted
        if dropped and not final:
            raise Cancelled

    def _is_cancelled(self, token: int) -> bool:
        with self._lock:
            return token in self._cancelled or self._closed

    def _loop(self) -> None:
        while True:
            with self._lock:
                self._wake.wait_for(lambda: self._jobs or self._closed)
                if self._closed:
                    return
                token, job = self._jobs.popleft()
                self._running = token
                self._cancel_sent = False
            outcome: Any = None
            try:
                try:
                    job(lambda item, token=token: self._deliver(token, item),
                        lambda token=token: self._is_cancelled(token))
                finally:
                    with self._lock:  # no Cancelled can be sent from here on
                        self._running = None
                        sent, self._cancel_sent = self._cancel_sent, False
                        self._wake.notify_all()
                    if sent:  # one may be pending still (sent just as the job returned): clear it
                        ctypes.pythonapi.PyThreadState_SetAsyncExc(ctypes.c_ulong(self._thread.ident), None)
            except Cancelled:  # (also one raised in the ``finally`` above: then nothing more is pending)
                with self._lock:
                    self._running = None
                    self._cancel_sent = False
                    self._wake.notify_all()
                outcome = Done(token)
            except BaseException as e:  # noqa: BLE001 - handed to the UI thread, which reports it
                outcome = Failure(token, e, "".join(traceback.format_exception(type(e), e, e.__traceback__)))
            else:
                outcome = Done(token)
            self._deliver(token, outcome, final=True)
            with self._lock:
                self._cancelled.discard(token)
