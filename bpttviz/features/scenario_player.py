"""Guided scenarios: play a preset's stops (``engine.training.scenario``) from the keyboard.

Entering a stop does, in this order: apply its ``set`` (a structural change, naming the
``seed`` or ``"restart": true`` rebuilds the session through the controller and starts again at iteration 0; other
settings apply live, to the comparison's second model too), open or close the side-by-side
``compare``, raise the ``focus`` view, take ``step`` single steps in ``unit`` (record, phase or
iteration), then run ``train`` iterations through the controller's time-budgeted training (the
window stays responsive; the count is exact: the controller's ``until`` stops it there). The
caption is shown in the caption bar from the moment the stop is entered.

After the stop's steps and training its claims (``engine.training.claims``) are measured on the live
sessions; a stop with ``until`` trains on in slices while a claim does not hold, up to its cap. A
claim that still does not hold is said in the caption bar instead of the caption: the room never
reads a sentence the screen contradicts.

Keys: Page Down (or the "Next stop" action) enters the next stop. Pressed while a stop is still
running, it never cuts that stop short: the press is ignored and the caption bar says the stop is
running. Page Up goes back one stop.

Snapshots: when a stop is ready, copies of both sessions (and the narrated iteration being
stepped through) are kept for it, so going back installs the previous stop's snapshot at once.
Then the next stop is prepared in a background thread from a copy (``engine.training.scenario.ScenarioRun``:
the same steps, comparison and training); Page Down installs the prepared result at once, or
shows its progress until it is done. If the presenter changed anything by hand in between
(stepped, trained, changed a setting), the preparation no longer applies and the stop runs live.
Without a snapshot (a session opened from a file), going back replays from the preset's start.

Shipped snapshots: a long stop reached the way the preset scripts it (no change by hand since the
scenario started) is installed from ``assets/snapshots`` instead of trained, when the shipped
state is still what the stop would compute (``engine.training.snapshots``: the scenario's
training content, the seed and the engine's numerics match). Its claims are measured on the
installed state like any stop's. Each kept snapshot carries the chain key of its state (None once
the presenter changed something by hand) so the background preparation knows when the shelf applies.

``train_factor`` scales every ``train`` count (at least 1 iteration when a stop trains at all);
it defaults to the environment variable ``BPTTVIZ_TRAIN_FACTOR`` (1 when unset) so that tests can
run every shipped scenario quickly.
"""

from __future__ import annotations

import os
import sys
import threading
import traceback
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from PySide6 import QtCore, QtWidgets

from bpttviz.engine.training.claims import Verdict, check
from bpttviz.engine.training.config import Config
from bpttviz.engine.training.scenario import (
    Cancelled,
    ScenarioRun,
    Stop,
    copy_session,
    more_training,
    parse_scenario,
    scaled,
)
from bpttviz.engine.training.snapshots import Shelf, chain_after, chain_keys, root_key, shipped
from bpttviz.features.compare import Comparison
from bpttviz.views.caption_bar import CaptionBar
from bpttviz.window.controller import Controller

Job = Callable[[], bool]  # returns True when it started something asynchronous (training)


@dataclass
class Snapshot:
    """Where a stop left the lecture: copies of both sessions, the narrated iteration and cursor,
    the comparison's changes and the verdicts of the stop's claims."""

    first: Any
    second: Any
    changes: dict[str, Any] | None
    narration: Any  # the narrated iteration on screen (engine.training.session.Narration) or None
    state: Any  # the first session's state just before it (saving that moment), or None
    cursor: int
    verdicts: list[Verdict]
    chain: str | None = None  # the scenario's chain key of this state (None: changed by hand)


class Preparation:
    """The next stop computed in a background thread from a snapshot (``ScenarioRun``)."""

    def __init__(self, index: int, stop: Stop, snap: Snapshot, factor: float, shelf: Shelf | None = None) -> None:
        self.index = index
        self.done = threading.Event()
        self.cancelled = False
        self.result: Snapshot | None = None
        self.error: str | None = None
        self.progress = (0, 0)
        self.run = ScenarioRun(first=copy_session(snap.first),
                               second=copy_session(snap.second) if snap.second is not None else None,
                               changes=snap.changes, narration=snap.narration, state_before=snap.state,
                               cursor=snap.cursor, factor=factor, chain=snap.chain, shelf=shelf)
        self.run.progress = self._progress
        self.run.should_stop = lambda: self.cancelled
        self._stop = stop
        self.thread = threading.Thread(target=self._work, name=f"prepare stop {index + 1}", daemon=True)
        self.thread.start()

    def _progress(self, done: int, total: int) -> None:
        self.progress = (done, total)

    def _work(self) -> None:
        r = self.run
        try:
            verdicts = r.enter(self._stop)
            self.result = Snapshot(r.first, r.second, r.changes, r.narration, r.state_before, r.cursor, verdicts,
                                   r.chain)
        except Cancelled:
            pass
        except Exception as e:  # noqa: BLE001 - reported when the stop is entered; it then runs live
            self.error = f"{type(e).__name__}: {e}"
        finally:
            self.done.set()

    def cancel(self) -> None:
        self.cancelled = True


def default_train_factor() -> float:
    try:
        v = float(os.environ.get("BPTTVIZ_TRAIN_FACTOR", "1") or 1)
    except ValueError:
        return 1.0
    return v if v > 0 else 1.0


class ScenarioPlayer(QtCore.QObject):
    """Plays the stops of the current preset's scenario; ``index`` is the current stop (-1: none)."""

    changed = QtCore.Signal()  # a stop was entered or finished, the scenario started or ended

    def __init__(self, window: QtWidgets.QMainWindow, controller: Controller, comparison: Comparison,
                 caption: CaptionBar, holder: QtWidgets.QWidget | None = None) -> None:
        super().__init__(window)
        self.holder = holder or caption  # what is shown and hidden with the caption (its dock)
        self.window = window
        self.controller = controller
        self.comparison = comparison
        self.caption = caption
        self.stops: list[Stop] = []
        self.base: Config | None = None
        self.name = ""
        self.index = -1
        self.train_factor = default_train_factor()
        self.replaying = False
        self.errors: list[str] = []
        self._queue: deque[Job] = deque()
        self._target: int | None = None  # the iteration the running "train" stops at
        self._train_total = 0
        self._saved_speed: float | None = None
        self._own_rebuild = False
        self._generation = controller.generation  # the session the scenario last put in place
        self.verdicts: list[Verdict] = []  # of the current stop, once it is ready
        self.snapshots: dict[int, Snapshot] = {}
        self.preparing: Preparation | None = None  # the stop being computed in the background
        self.prepared: dict[int, Snapshot] = {}  # stops computed ahead, from the current stop on
        self.prepare_ahead = True  # compute the following stops in the background
        self.shelf: Shelf | None = shipped()  # the shipped snapshots (None: always train)
        self._entering_chain: str | None = None  # the chain key the stop being run live leads to
        self._ready_mark: tuple | None = None  # the state the preparations started from
        self._waiting: int | None = None  # the entered stop whose preparation is still running
        self._stop_trained = 0
        self._train_start = 0
        self._poll = QtCore.QTimer(self)
        self._poll.setInterval(50)
        self._poll.timeout.connect(self._poll_preparation)
        controller.state_changed.connect(self._progress)
        controller.playing_changed.connect(self._playing_changed)
        controller.preset_loaded.connect(self._preset_loaded)
        controller.session_replaced.connect(self._session_replaced)

    # ------------------------------------------------------------------ state
    @property
    def active(self) -> bool:
        return bool(self.stops)

    @property
    def busy(self) -> bool:
        """A stop is still being entered (steps, training or a preparation under way)."""
        return bool(self._queue) or self._target is not None or self._waiting is not None

    @property
    def training(self) -> bool:
        return self._target is not None

    @property
    def current(self) -> Stop | None:
        return self.stops[self.index] if 0 <= self.index < len(self.stops) else None

    # ------------------------------------------------------------------ starting and ending
    def start(self, cfg: Config | None = None, name: str = "") -> bool:
        """Start the scenario of ``cfg`` (default: the current session's) at its first stop.
        Returns False when it has none; a broken scenario is reported and not started."""
        cfg = cfg or self.controller.session.cfg
        try:
            stops = parse_scenario(cfg, name or "scenario")
        except ValueError as e:
            self._report(str(e))
            self.end()
            return False
        if not stops:
            self.end()
            return False
        self._cancel()
        self._forget()
        self.stops, self.base, self.name = stops, cfg, name or (cfg.title or "scenario")
        self._generation = self.controller.generation
        self.comparison.close()
        self.index = 0
        s = self.controller.session
        fresh = s.iteration == 0 and self.controller.trace is None and s.cfg == cfg
        self._entering_chain = chain_after(root_key(cfg), stops[0]) if fresh else None
        self._queue.extend(self._jobs(stops[0], replay=False))
        self.show_caption()
        self._run()
        return True

    def resume(self, cfg: Config, index: int, base: Config | None = None) -> bool:
        """Show stop ``index`` of ``cfg``'s scenario without running it (a session opened from a
        file is already where that stop left it). ``base``: the configuration the scenario started
        from (what going back replays from; default ``cfg``)."""
        base = base or cfg
        try:
            stops = parse_scenario(base, "scenario")
        except ValueError as e:
            self._report(str(e))
            return False
        if not stops or not 0 <= index < len(stops):
            return False
        self._cancel()
        self._forget()
        self.stops, self.base, self.name, self.index = stops, base, base.title or "scenario", index
        self._generation = self.controller.generation
        try:  # the opened session is measured like a stop just run: its caption must be true too
            self.comparison.catch_up()
            self.verdicts = check(stops[index].claims, self.controller.session, self.comparison.session)
        except Exception as e:  # noqa: BLE001
            print(f"scenario: claims of stop {index + 1} not measured: {e}", file=sys.stderr)
        self.show_caption()
        self.changed.emit()
        return True

    def end(self) -> None:
        """Leave the scenario (the session stays as it is)."""
        self._cancel()
        self._forget()
        was = self.active
        self.stops, self.base, self.index = [], None, -1
        self.holder.hide()
        if was:
            self.changed.emit()

    # ------------------------------------------------------------------ the presenter's keys
    def next(self) -> None:
        """The next stop. While a stop is still running the press is ignored (it never cuts the
        stop's training short) and the caption bar says so."""
        if not self.active:
            return
        if self.busy:
            self.caption.set_progress(self._running_text() + "<br/>a stop is running: wait for it")
            self.controller.message.emit(f"Stop {self.index + 1} is still running; Page Down again when it is done.")
            return
        if self.index >= len(self.stops) - 1:
            self.controller.message.emit("This is the last stop of the scenario (Page Up goes back).")
            self.show_caption()
            return
        self.index += 1
        self.verdicts = []
        self._entering_chain = None
        if self._ready_mark == self._mark():  # nothing changed by hand since the last stop was ready
            here = self.snapshots.get(self.index - 1)
            self._entering_chain = chain_after(here.chain if here is not None else None, self.stops[self.index])
            ready = self.prepared.get(self.index) or self.snapshots.get(self.index)
            if ready is not None:
                self._enter_prepared(ready)
                return
            if self.preparing is not None and self.preparing.index == self.index:
                self._waiting = self.index
                self.show_caption()
                self._poll_preparation()
                return
        self._drop_chain()
        self._queue.extend(self._jobs(self.stops[self.index], replay=False))
        self.show_caption()
        self._run()

    def previous(self) -> None:
        """The previous stop, replayed from the start of the scenario (see the module docstring)."""
        if not self.active:
            return
        if self.detached:  # the model was replaced by hand: back to this stop first
            self.go_to(self.index)
            return
        if self.index <= 0:
            self.controller.message.emit("This is the first stop of the scenario.")
            return
        self.go_to(self.index - 1)

    def go_to(self, index: int) -> None:
        """Stop ``index`` as it was when it was ready (its snapshot), or rebuilt from the preset's
        configuration with stops ``0..index-1`` replayed and ``index`` entered."""
        if not self.active or not 0 <= index < len(self.stops):
            return
        self._cancel()
        snap = self.snapshots.get(index)
        if snap is not None:
            self.index = index
            self._drop_chain()
            self._enter_prepared(snap)
            return
        self._drop_chain()
        self.comparison.close()
        self._rebuild(self.base)
        self.index = index
        self._entering_chain = chain_keys(self.base, self.stops)[index]
        self.replaying = index > 0
        for stop in self.stops[:index]:
            self._queue.extend(self._jobs(stop, replay=True))
        self._queue.append(self._end_replay)
        self._queue.extend(self._jobs(self.stops[index], replay=False))
        self.show_caption()
        self._run()

    def restart(self) -> None:
        if self.active:
            self.go_to(0)

    # ------------------------------------------------------------------ running a stop
    def _jobs(self, stop: Stop, replay: bool) -> list[Job]:
        jobs: list[Job] = []
        if stop.set or stop.restart:
            jobs.append(lambda: self._apply_set(stop))
        if stop.has_compare:
            jobs.append(lambda: self._apply_compare(stop))
        if stop.focus and not replay:
            jobs.append(lambda: self._focus(stop.focus))
        if stop.step:
            jobs.append(lambda: self._step(stop.step, stop.unit))
        jobs.append(self._begin_training)
        if stop.train:
            jobs.append(lambda: self._train(self.scaled(stop.train)))
        if not replay:
            jobs.append(lambda: self._check_claims(stop))
        return jobs

    def _apply_set(self, stop: Stop) -> bool:
        c = self.controller
        cfg = c.session.cfg.replace("scenario 'set'", **stop.set) if stop.set else c.session.cfg
        if stop.restart or "seed" in stop.set or cfg.structural_changes(c.session.cfg):
            self._rebuild(cfg)
        else:
            c.set_hyper(**stop.set)
            self.comparison.set_hyper(**stop.set)
            self.window.config.set_config(c.session.cfg)
        return False

    def _apply_compare(self, stop: Stop) -> bool:
        if stop.compare is None:
            self.comparison.close()
        else:
            self.comparison.open(stop.compare)
        self.comparison.refresh()
        return False

    def _focus(self, view: str) -> bool:
        w = self.window
        lecture = w.part("lecture")
        if lecture is not None:
            lecture.emphasise(view)
        if view == "graph":
            w.graph.setFocus()
            return False
        dock = w.docks.get(view)
        if dock is not None:
            dock.show()
            dock.raise_()
        w.graph.setFocus()  # the keys keep stepping
        return False

    def _step(self, n: int, unit: str) -> bool:
        c = self.controller
        fn = {"record": c.step_record, "phase": c.step_phase, "iteration": c.step_iteration}[unit]
        for _ in range(n):
            fn()
            if c.session.blowup is not None and (c.trace is None or c.cursor >= len(c.trace) - 1):
                break
        return False

    def scaled(self, n: int) -> int:
        return scaled(n, self.train_factor)

    def _begin_training(self) -> bool:
        self._stop_trained = 0
        return False

    def _check_claims(self, stop: Stop) -> bool:
        """Measure the stop's claims; train on in slices while one does not hold (up to ``until``)."""
        c = self.controller
        self.comparison.catch_up()
        self.verdicts = check(stop.claims, c.session, self.comparison.session)
        n = more_training(stop, self._stop_trained, self.verdicts, self.train_factor)
        if n and c.session.blowup is None:
            self._queue.appendleft(lambda: self._check_claims(stop))
            self._queue.appendleft(lambda: self._train(n))
        return False

    def _train(self, n: int) -> bool:
        c = self.controller
        if n == 0 or c.session.blowup is not None:
            return False
        self._train_start = c.session.iteration
        self._target = c.session.iteration + n
        self._train_total = n
        self._saved_speed = c.speed
        c.set_speed(None)
        c.until = self._target
        c.play()
        if not c.playing:  # refused (e.g. a non-finite value): nothing to wait for
            self._training_over()
            return False
        self._progress()
        return True

    def _end_replay(self) -> bool:
        self.replaying = False
        self.show_caption()
        return False

    def _run(self) -> None:
        """Run queued jobs until one starts training (``_training_over`` resumes) or none is left."""
        while self._queue:
            job = self._queue.popleft()
            try:
                waiting = job()
            except Exception as e:  # noqa: BLE001 - a failing stop must not take the lecture down
                print(traceback.format_exc(), file=sys.stderr)
                self._report(f"Scenario stop {self.index + 1}: {type(e).__name__}: {e}")
                self._queue.clear()
                self.replaying = False
                break
            if waiting:
                return
        if self.active and not self.replaying:
            self._stop_ready()
        self.show_caption()
        self.changed.emit()

    def _progress(self) -> None:
        if self._target is None:
            return
        c = self.controller
        left = self._target - c.session.iteration
        done = self._train_total - left
        self.caption.set_progress(f"{'replaying · ' if self.replaying else ''}training {done:,} / "
                                  f"{self._train_total:,}")
        if left <= 0 and c.playing:
            c.pause()  # -> _playing_changed -> _training_over

    def _playing_changed(self, playing: bool) -> None:
        if not playing and self._target is not None:
            self._training_over()
            QtCore.QTimer.singleShot(0, self._run)

    def _training_over(self) -> None:
        c = self.controller
        if self._target is not None:
            self._stop_trained += max(0, c.session.iteration - self._train_start)
        self._target = None
        c.until = None
        if c.speed != self._saved_speed:
            c.set_speed(self._saved_speed)
        self.caption.set_progress("")

    def _cancel(self) -> None:
        """Drop the queued jobs and stop a running training where it is (leaving the scenario,
        starting another, going back; never a second Page Down)."""
        self._queue.clear()
        self.replaying = False
        self._waiting = None
        if self._target is not None:
            self._target = None
            self.controller.pause()
            self._training_over()

    # ------------------------------------------------------------------ snapshots and preparation
    def _mark(self) -> tuple:
        """What the presenter could have changed by hand since a stop was ready."""
        c = self.controller
        return (id(c.session), c.session.iteration, c.version, id(c.trace), c.cursor, id(self.comparison.session))

    def _snapshot(self) -> Snapshot:
        c, cmp = self.controller, self.comparison
        cmp.catch_up()
        m = c.moment
        n = m.narration
        return Snapshot(copy_session(c.session), copy_session(cmp.session) if cmp.session is not None else None,
                        dict(cmp.changes) if cmp.changes is not None else None, n,
                        c.state_before(n) if n is not None else None, m.record or 0, list(self.verdicts),
                        self._entering_chain)

    def _stop_ready(self) -> None:
        """A stop run live is done: keep its snapshot and start preparing the stops after it."""
        snap = None
        try:
            snap = self._snapshot()
        except Exception as e:  # noqa: BLE001 - without a snapshot, going back replays
            print(f"scenario: no snapshot of stop {self.index + 1}: {e}", file=sys.stderr)
        if snap is not None:
            self.snapshots[self.index] = snap
        for i in [i for i in self.snapshots if i > self.index]:
            del self.snapshots[i]  # kept from an earlier pass through another state
        self._drop_chain()  # a stop run live: anything prepared came from another state
        self._ready_mark = self._mark()
        self._prepare_more()

    def _enter_prepared(self, snap: Snapshot) -> None:
        """Enter the current stop from a prepared result or a kept snapshot: ready at once."""
        self._install(snap)
        stop = self.stops[self.index]
        if stop.focus:
            self._focus(stop.focus)
        self.snapshots[self.index] = snap
        self._ready_mark = self._mark()
        for i in [i for i in self.prepared if i <= self.index]:
            del self.prepared[i]
        self._prepare_more()
        self.show_caption()
        self.changed.emit()

    def _prepare_more(self) -> None:
        """Start computing the first stop after the current one that is not prepared yet."""
        if not self.prepare_ahead or self.preparing is not None or not self.active:
            return
        j = self.index + 1
        while j in self.prepared or j in self.snapshots:
            j += 1
        if j >= len(self.stops):
            return
        source = self.prepared.get(j - 1) or self.snapshots.get(j - 1)
        if source is None:
            return
        self.preparing = Preparation(j, self.stops[j], source, self.train_factor, self.shelf)
        self._poll.start()

    def _drop_chain(self) -> None:
        if self.preparing is not None:
            self.preparing.cancel()
            self.preparing = None
        self.prepared.clear()

    def _forget(self) -> None:
        self._drop_chain()
        self._waiting = None
        self.snapshots.clear()
        self.verdicts = []

    def _poll_preparation(self) -> None:
        """Collect a finished preparation (entering the stop waiting for it, or preparing the next
        one); show the progress of the one the room is waiting for."""
        prep = self.preparing
        if prep is not None and prep.done.is_set():
            self.preparing = None
            if prep.result is not None and not prep.cancelled:
                self.prepared[prep.index] = prep.result
            elif prep.error:
                print(f"scenario: preparing stop {prep.index + 1} failed ({prep.error})", file=sys.stderr)
            if self._waiting == prep.index:
                self._waiting = None
                if prep.index in self.prepared:
                    self._enter_prepared(self.prepared[prep.index])
                else:  # failed: run the stop live instead
                    self._queue.extend(self._jobs(self.stops[self.index], replay=False))
                    self._run()
            else:
                self._prepare_more()
        if self._waiting is not None and self.preparing is not None:
            done, total = self.preparing.progress
            self.caption.set_progress(f"preparing · training {done:,} / {total:,}" if total else "preparing…")
        if self.preparing is None and self._waiting is None:
            self._poll.stop()

    def _install(self, snap: Snapshot) -> None:
        """Put a snapshot's sessions in place (copies: the snapshot stays as it was)."""
        c, cmp = self.controller, self.comparison
        second = copy_session(snap.second) if snap.second is not None else None
        if second is None:
            cmp.close()
        cmp.adopt_next(second, snap.changes)
        self.verdicts = list(snap.verdicts)
        self._own_rebuild = True
        try:
            # one moment: the session, its narrated iteration and the record, installed together
            c.install(copy_session(snap.first), snap.narration, snap.cursor, snap.state)
        finally:
            self._own_rebuild = False
        cmp.adopt_next(None, None)
        self.window.config.set_config(c.session.cfg)
        cmp.refresh()
        c.refresh_all()

    def _running_text(self) -> str:
        if self._target is not None:
            left = self._target - self.controller.session.iteration
            return f"training {self._train_total - left:,} / {self._train_total:,}"
        if self._waiting is not None and self.preparing is not None:
            done, total = self.preparing.progress
            return f"preparing · training {done:,} / {total:,}" if total else "preparing…"
        return "running"

    def _rebuild(self, cfg: Config) -> None:
        self._own_rebuild = True
        try:
            self.controller.rebuild(cfg)
        finally:
            self._own_rebuild = False

    @property
    def detached(self) -> bool:
        """The model on screen was replaced outside the scenario (reset, rebuild, a structural
        setting): the current stop's caption and claims are not about it."""
        return self.active and self.controller.generation != self._generation

    def _session_replaced(self) -> None:
        if self._own_rebuild:
            self._generation = self.controller.generation
        elif self.active:
            self.show_caption()
            self.changed.emit()

    def _preset_loaded(self, name: str) -> None:
        """Opening a lecture preset starts its scenario; any other preset ends the current one."""
        if not self.start(self.controller.session.cfg, name):
            self.end()

    # ------------------------------------------------------------------ showing
    def show_caption(self) -> None:
        stop = self.current
        bar = self.caption
        if stop is None:
            self.holder.hide()
            return
        last = self.index == len(self.stops) - 1
        if self.replaying:
            hint = f"going back to stop {self.index + 1}…"
        else:
            hint = ("end of the scenario" if last else "Page Down ▸ next stop") + "<br/>Page Up ◂ back"
        bar.show_stop(self.index, len(self.stops), stop.caption, hint)
        failed = [v for v in self.verdicts if not v.holds]
        if self.detached:
            bar.say_instead("The model was replaced outside the scenario (reset or a new model): this stop's "
                            "caption is not about it. Page Up returns to this stop.")
        elif failed and not self.busy:
            bar.withhold([v.sentence() for v in failed])
        self.holder.show()

    def _report(self, text: str) -> None:
        self.errors.append(text)
        self.controller.message.emit(text)
        self.window.show_error(text, "")
