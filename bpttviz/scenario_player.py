"""Guided scenarios: play a preset's stops (``engine.scenario``) from the keyboard.

Entering a stop does, in this order: apply its ``set`` (a structural change -- or naming the
``seed`` -- rebuilds the session through the controller and starts again at iteration 0; other
settings apply live, to the comparison's second model too), open or close the side-by-side
``compare``, raise the ``focus`` view, take ``step`` single steps in ``unit`` (record, phase or
iteration), then run ``train`` iterations through the controller's time-budgeted training (the
window stays responsive; the count is exact: the controller's ``until`` stops it there). The
caption is shown in the caption bar from the moment the stop is entered.

Keys: Page Down (or the "Next stop" action) enters the next stop; pressing it while a stop is
still training stops the training there and moves on. Page Up goes back one stop.

Going back replays: the session is rebuilt from the preset's configuration and every stop before
the target is run again (settings, comparisons, steps and training, without raising views), then
the target stop is entered. Everything is seeded, so the replay reproduces exactly what the
presenter showed the first time -- except anything they did by hand between stops (extra steps,
playing, changed settings), which is not replayed. Replaying long training takes its time again;
the caption bar says it is replaying.

``train_factor`` scales every ``train`` count (at least 1 iteration when a stop trains at all);
it defaults to the environment variable ``BPTTVIZ_TRAIN_FACTOR`` (1 when unset) so that tests can
run every shipped scenario quickly.
"""

from __future__ import annotations

import os
import sys
import traceback
from collections import deque
from collections.abc import Callable

from PySide6 import QtCore, QtWidgets

from engine.config import Config
from engine.scenario import Stop, parse_scenario

from .compare import Comparison
from .controller import Controller
from .views.caption_bar import CaptionBar

Job = Callable[[], bool]  # returns True when it started something asynchronous (training)


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
        controller.state_changed.connect(self._progress)
        controller.playing_changed.connect(self._playing_changed)
        controller.preset_loaded.connect(self._preset_loaded)

    # ------------------------------------------------------------------ state
    @property
    def active(self) -> bool:
        return bool(self.stops)

    @property
    def busy(self) -> bool:
        """A stop is still being entered (steps or training under way)."""
        return bool(self._queue) or self._target is not None

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
        self.stops, self.base, self.name = stops, cfg, name or (cfg.title or "scenario")
        self.comparison.close()
        self.index = 0
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
        self.stops, self.base, self.name, self.index = stops, base, base.title or "scenario", index
        self.show_caption()
        self.changed.emit()
        return True

    def end(self) -> None:
        """Leave the scenario (the session stays as it is)."""
        self._cancel()
        was = self.active
        self.stops, self.base, self.index = [], None, -1
        self.holder.hide()
        if was:
            self.changed.emit()

    # ------------------------------------------------------------------ the presenter's keys
    def next(self) -> None:
        """The next stop (stopping a stop's training first, if it is still running)."""
        if not self.active:
            return
        if self.busy:
            self._cancel()
        if self.index >= len(self.stops) - 1:
            self.controller.message.emit("This is the last stop of the scenario (Page Up goes back).")
            self.show_caption()
            return
        self.index += 1
        self._queue.extend(self._jobs(self.stops[self.index], replay=False))
        self.show_caption()
        self._run()

    def previous(self) -> None:
        """The previous stop, replayed from the start of the scenario (see the module docstring)."""
        if not self.active:
            return
        if self.index <= 0:
            self.controller.message.emit("This is the first stop of the scenario.")
            return
        self.go_to(self.index - 1)

    def go_to(self, index: int) -> None:
        """Rebuild from the preset's configuration, replay stops ``0..index-1``, enter ``index``."""
        if not self.active or not 0 <= index < len(self.stops):
            return
        self._cancel()
        self.comparison.close()
        self._rebuild(self.base)
        self.index = index
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
        if stop.set:
            jobs.append(lambda: self._apply_set(stop))
        if stop.has_compare:
            jobs.append(lambda: self._apply_compare(stop))
        if stop.focus and not replay:
            jobs.append(lambda: self._focus(stop.focus))
        if stop.step:
            jobs.append(lambda: self._step(stop.step, stop.unit))
        if stop.train:
            jobs.append(lambda: self._train(stop.train))
        return jobs

    def _apply_set(self, stop: Stop) -> bool:
        c = self.controller
        cfg = c.session.cfg.replace("scenario 'set'", **stop.set)
        if "seed" in stop.set or cfg.structural_changes(c.session.cfg):
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
        lecture = getattr(w, "lecture", None)
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
        return 0 if n <= 0 else max(1, round(n * self.train_factor))

    def _train(self, n: int) -> bool:
        c = self.controller
        n = self.scaled(n)
        if n == 0 or c.session.blowup is not None:
            return False
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
        self._target = None
        c.until = None
        if c.speed != self._saved_speed:
            c.set_speed(self._saved_speed)
        self.caption.set_progress("")

    def _cancel(self) -> None:
        """Drop the queued jobs and stop a running training where it is."""
        self._queue.clear()
        self.replaying = False
        if self._target is not None:
            self._target = None
            self.controller.pause()
            self._training_over()

    def _rebuild(self, cfg: Config) -> None:
        self._own_rebuild = True
        try:
            self.controller.rebuild(cfg)
        finally:
            self._own_rebuild = False

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
        self.holder.show()

    def _report(self, text: str) -> None:
        self.errors.append(text)
        self.controller.message.emit(text)
        show = getattr(self.window, "show_error", None)
        if show is not None:
            show(text, "")
