"""The moment on screen: which iteration, which record, and the state that record was computed with.

Every view, caption, status field, dialog and export reads the controller's ``Moment`` and nothing
else, so two views never tell different stories. Iterations are numbered as in ``engine.training.session``:
iteration N is the N-th update, iteration 0 the initial parameters.

A moment is one of

- a **record** of a narrated iteration N (``record`` is an index into ``narration.trace``): the
  parameters are the ones *before* N's update for the forward, loss, backward and gradient
  records, the ones *after* it from the update record on;
- **between iterations** (``record is None``): after iteration N's update (N = 0: the initial
  parameters), e.g. after training at full speed with no narrated view on screen, or after a
  roll-back.

What the narration has not computed yet at the moment is not shown: the loss appears at the loss
record, the gradient norm at the gradient record, the validation metric, clip events and the
largest singular values after the update (``visible_until``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from bpttviz.engine.records import GradientStep, LossStep, Step, UpdateStep
from bpttviz.engine.trace import Trace
from bpttviz.engine.training.session import Narration

Array = np.ndarray


@dataclass(frozen=True)
class Moment:
    """Immutable; made by the controller whenever what is on screen changes (cheap: references)."""

    generation: int  # which session (bumps on reset, rebuild, preset, open)
    iteration: int  # N, see the module docstring
    record: int | None  # index into narration.trace, or None between iterations
    narration: Narration | None
    params: Mapping[str, Array]  # the parameters in force at this moment (before or after the update)
    loss: float | None  # the loss of iteration N, once computed at this moment (else None)

    # ------------------------------------------------------------------ what the moment is
    @property
    def trace(self) -> Trace | None:
        return self.narration.trace if self.narration is not None and self.record is not None else None

    @property
    def rec(self) -> Step | None:
        tr = self.trace
        return tr[self.record] if tr is not None else None

    def _first(self, cls: type) -> int | None:
        tr = self.narration.trace if self.narration is not None else None
        if tr is None:
            return None
        return next((i for i, r in enumerate(tr) if isinstance(r, cls)), None)

    def reached(self, cls: type) -> bool:
        """The narration has reached (or passed) its first record of class ``cls``; between
        iterations everything of iteration N has been computed."""
        if self.record is None:
            return True
        i = self._first(cls)
        return i is not None and self.record >= i

    @property
    def updated(self) -> bool:
        """The parameters shown are the ones after iteration N's update."""
        return self.record is None or self.reached(UpdateStep)

    @property
    def before(self) -> Mapping[str, Array] | None:
        return self.narration.before if self.narration is not None else None

    @property
    def after(self) -> Mapping[str, Array] | None:
        return self.narration.after if self.narration is not None and self.narration.updated else None

    def visible_until(self, series: str) -> float:
        """The largest history x (an iteration number) shown at this moment for ``series``:
        "loss", "grad_norm", "val_metric", "clipped", "lr", "clip_events" or "spectral"."""
        n = self.iteration
        if series == "loss":
            return n if self.reached(LossStep) else n - 1
        if series == "grad_norm":
            return n if self.reached(GradientStep) else n - 1
        return n if self.updated else n - 1

    def where(self) -> str:
        """"iteration N" plus whether the parameters are before or after its update."""
        if self.iteration == 0:
            return "iteration 0 (initial parameters)"
        if self.record is None:
            return f"after iteration {self.iteration}"
        return f"iteration {self.iteration}, " + ("after its update" if self.updated else "before its update")

    def label(self) -> str:
        """Short tag for a view's corner: "it. 12 · before update"."""
        if self.iteration == 0:
            return "initial parameters"
        if self.record is None:
            return f"after iteration {self.iteration}"
        return f"iteration {self.iteration} · " + ("after update" if self.updated else "before update")


def moment_of(generation: int, session: Any, narration: Narration | None, record: int | None) -> Moment:
    """The moment at ``record`` of ``narration``, or between iterations (``record`` None: the
    session as it is now)."""
    if narration is None or record is None:
        loss = session.last_loss if session.iteration > 0 else None
        return Moment(generation, session.iteration, None, None, session.model.params, loss)
    record = max(0, min(int(record), len(narration.trace) - 1))
    probe = Moment(generation, narration.iteration, record, narration, narration.before, None)
    params = narration.after if narration.updated and probe.updated else narration.before
    loss = float(narration.trace.loss) if probe.reached(LossStep) else None
    return Moment(generation, narration.iteration, record, narration, params, loss)
