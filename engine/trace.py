"""A finished, replayable iteration: the records of ``model.steps()`` kept in order.

The trace holds no cursor: whoever replays it (the app's controller) keeps its own position and
asks the trace where the next phase or the previous record is. Replaying in any order gives the
same records, because they are immutable and nothing is recomputed.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np

from .records import GradientStep, LossStep, Step, TapeStep


class Trace(Sequence[Step]):
    """``Trace(model.steps(x, y))``: consumes the iterator once and keeps every record."""

    def __init__(self, steps: Iterable[Step]) -> None:
        self.records: tuple[Step, ...] = tuple(steps)

    def __len__(self) -> int:
        return len(self.records)

    def __getitem__(self, i):
        return self.records[i]

    def __iter__(self):  # the tuple's own iterator (Sequence's default indexes one by one)
        return iter(self.records)

    @property
    def loss_step(self) -> LossStep:
        return next(r for r in self.records if isinstance(r, LossStep))

    @property
    def gradients(self) -> GradientStep:
        return next(r for r in self.records if isinstance(r, GradientStep))

    @property
    def loss(self) -> float:
        return self.gradients.loss

    @property
    def grads(self):
        return self.gradients.grads

    def series(self, cls: type[TapeStep], name: str) -> np.ndarray:
        """Field ``name`` of the trace's ``cls`` records (``ForwardStep`` or ``BackwardStep``) over
        time: ``(T, ...)`` in timestep order t = 0..T-1, read-only.

        When the trace holds every timestep of one iteration and the engine keeps that field as
        one buffer, this is the buffer itself (no copy, no per-record reads: what a view plotting
        ``dL/dh`` over time wants). Otherwise (a partial trace; a field kept per step, such as
        ``extras``) the records' values, stacked."""
        recs = sorted((r for r in self.records if isinstance(r, cls)), key=lambda r: r.index)
        if not recs:
            raise ValueError(f"series: the trace holds no {cls.__name__} records")
        if name not in cls.FIELDS:
            raise ValueError(f"series: {cls.__name__} has no field {name!r}; fields: {', '.join(cls.FIELDS)}")
        tape = recs[0]._tape
        whole = tape.series(name) if all(r._tape is tape for r in recs) else None
        if whole is not None and len(whole) == len(recs) and recs[-1].index == len(recs) - 1:
            return whole
        values = [getattr(r, name) for r in recs]
        if any(v is None or not isinstance(v, np.ndarray) for v in values):
            raise ValueError(f"series: {cls.__name__}.{name} is not an array at every timestep")
        out = np.stack(values)
        out.flags.writeable = False
        return out

    def phases(self) -> list[str]:
        """The phase of each record, in order."""
        return [r.phase for r in self.records]

    def next_phase(self, i: int) -> int:
        """Index of the first record of the phase after record i's (clamped to the last)."""
        ph = self.records[i].phase
        for j in range(i + 1, len(self.records)):
            if self.records[j].phase != ph:
                return j
        return len(self.records) - 1

    def prev_phase(self, i: int) -> int:
        """Index of the first record of record i's phase, or of the previous phase if i already is."""
        ph = self.records[i].phase
        j = i
        while j > 0 and self.records[j - 1].phase == ph:
            j -= 1
        if j < i:
            return j
        if j == 0:
            return 0
        ph = self.records[j - 1].phase
        j -= 1
        while j > 0 and self.records[j - 1].phase == ph:
            j -= 1
        return j
