"""A finished, replayable iteration: the records of ``model.steps()`` kept in order.

The trace holds no cursor: whoever replays it (the app's controller) keeps its own position and
asks the trace where the next phase or the previous record is. Replaying in any order gives the
same records, because they are immutable and nothing is recomputed.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from .records import GradientStep, LossStep, Step


class Trace(Sequence[Step]):
    """``Trace(model.steps(x, y))``: consumes the iterator once and keeps every record."""

    def __init__(self, steps: Iterable[Step]) -> None:
        self.records: tuple[Step, ...] = tuple(steps)

    def __len__(self) -> int:
        return len(self.records)

    def __getitem__(self, i):
        return self.records[i]

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
