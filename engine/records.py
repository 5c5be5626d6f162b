"""Immutable step records: the narrated training iteration (docs/architecture.md, "Steps and traces").

An iteration is an ordered sequence of records:

- RNN/LSTM/GRU: ``ForwardStep`` for t = 0..T-1, one ``LossStep``, ``BackwardStep`` for
  t = T-1..0, one ``GradientStep`` with the finished gradients, and (when an optimiser applies
  them) one ``UpdateStep``.
- MLP: ``LayerForward`` for layer 1..L, ``LossStep``, ``LayerBackward`` for layer L..1,
  ``GradientStep``, ``UpdateStep``.

Every array in a record is read-only and never mutated afterwards: the engine allocates fresh
buffers for every iteration. Field names, not positions, are the interface.

The per-timestep records (``ForwardStep``, ``BackwardStep``; 2T of them per iteration) are
``TapeStep``s: their fields are views into the iteration's buffers, made on first access and then
kept, so narrating an iteration costs little more than computing it. The other records are
frozen dataclasses built whole.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import FrozenInstanceError, dataclass, field
from operator import itemgetter
from types import MappingProxyType
from typing import Any, ClassVar

import numpy as np

Array = np.ndarray
EMPTY: Mapping[str, Array] = MappingProxyType({})


def frozen(a: Array | None) -> Array | None:
    """A read-only view of ``a`` (no copy): the engine never writes to an iteration's buffers
    after the step that filled them, and this makes sure nobody else does either."""
    if a is None:
        return None
    v = a.view()
    v.setflags(write=False)  # (half the cost of assigning flags.writeable)
    return v


def frozen_dict(d: Mapping[str, Array]) -> Mapping[str, Array]:
    return MappingProxyType({k: frozen(v) for k, v in d.items()})


@dataclass(frozen=True)
class Step:
    """Base of all records. ``phase`` groups them; ``index`` is a timestep or a layer."""

    phase: ClassVar[str] = ""
    index: int

    @property
    def label(self) -> str:
        return f"{self.phase} {self.index}"


class _Field:
    """A field of a ``TapeStep``: read from the iteration's tape on first access, then kept in the
    record (so ``r.h is r.h``, and a later read costs a dict lookup). A *row* field is a row of
    one of the iteration's buffers: the first read of any of a record's row fields fills them all
    (``tape.rows(t)``, one call instead of one per field); the others (``extras``, ``grads``)
    cost more to build and are read one by one (``tape.<field>(t)``)."""

    __slots__ = ("name", "row", "pair")

    def __init__(self, *, row: bool, pair: bool = True) -> None:
        self.row = row
        self.pair = pair  # the record is an (index, tape) pair (a TapeStep), else it has both attributes

    def __set_name__(self, owner: type, name: str) -> None:
        self.name = name

    def __get__(self, rec, owner=None):
        if rec is None:
            return self
        d = rec.__dict__
        index, tape = rec if self.pair else (rec.index, rec._tape)
        if self.row:
            d.update(tape.rows(index))
            return d[self.name]
        value = d[self.name] = getattr(tape, self.name)(index)
        return value


class TapeStep(Step, tuple):
    """A per-timestep record whose fields are read from the iteration's buffers on first access.

    A narrated iteration makes 2T of these; building every field's view eagerly cost more than a
    third of a classic-size iteration. The record holds its index and the iteration's *tape*: an
    object with ``rows(t)`` (a dict of the record's row fields) and one method per other field,
    ``tape.<field>(t)``. They read only what never changes after the step was yielded (the
    iteration's read-only buffers; not the model's parameters, not its bug-lab switches), so a
    field has the same value whenever it is first read, and reading it recomputes nothing of the
    iteration. Fields cannot be assigned; equality is identity (the records of timestep t in two
    iterations are two different records).

    Made as ``ForwardStep((t, tape))``: the record *is* the pair ``(index, tape)`` (a tuple),
    built without running any Python code -- a Python ``__init__`` per record was a tenth of a
    classic-size iteration's time. Fields read are kept in the record's ``__dict__``. Records are
    immutable, so copying one gives the record itself."""

    index = property(itemgetter(0), doc="the timestep")
    _tape = property(itemgetter(1), doc="the iteration's tape the fields are read from")
    __init__ = object.__init__  # (tuple.__new__ did all there is to do)

    #: the record's fields in declaration order (derived from its ``_Field`` attributes)
    FIELDS: ClassVar[tuple[str, ...]] = ()

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        cls.FIELDS = tuple(n for n, v in vars(cls).items() if isinstance(v, _Field))

    @property
    def t(self) -> int:
        """The timestep (same as ``index``)."""
        return self.index

    def __setattr__(self, name: str, value: Any) -> None:
        raise FrozenInstanceError(f"cannot assign to field {name!r} of a step record")

    def __delattr__(self, name: str) -> None:
        raise FrozenInstanceError(f"cannot delete field {name!r} of a step record")

    __eq__ = object.__eq__
    __ne__ = object.__ne__
    __hash__ = object.__hash__

    def __copy__(self) -> TapeStep:
        return self

    def __deepcopy__(self, memo: dict) -> TapeStep:
        return self

    def __repr__(self) -> str:
        return f"{type(self).__name__}(index={self.index}, fields: {', '.join(self.FIELDS)})"


class ForwardStep(TapeStep):
    """Forward pass of a recurrent model at timestep ``t = index``.

    x: ``(B, D)`` floats, or ``(B,)`` token ids; h_prev, h: ``(B, H)``;
    pre: the pre-activation ``z_t = x_t W_xh + h_{t-1} W_hh + b_h`` ``(B, H)`` (gated cells: the
    stacked gate pre-activations ``(B, 4H)`` / ``(B, 3H)``);
    y: output ``(B, O)`` or None when this step has no output (many-to-one before the last step);
    p: softmax probabilities ``(B, O)`` for cross-entropy, else None;
    extras: gate activations (``i, f, g, o`` / ``r, z, n``) and the cell state ``c`` (LSTM).
    """

    phase: ClassVar[str] = "forward"
    x = _Field(row=True)
    h_prev = _Field(row=True)
    pre = _Field(row=True)
    h = _Field(row=True)
    y = _Field(row=True)
    p = _Field(row=True)
    extras = _Field(row=False)


@dataclass(frozen=True)
class LossStep(Step):
    """The loss of the whole iteration (index is always 0).

    losses: per position before reduction, ``(B, T)`` (many-to-many) or ``(B,)`` (many-to-one, MLP);
    per_step: ``(T,)`` the loss at each timestep after reduction (MLP: ``(1,)``);
    total: the reduced loss; scale: 1 for "sum", 1/B for "mean";
    dy: output deltas ``dL/dy`` after reduction, same shape as the outputs;
    grads: the output layer's gradients (``W_hy, b_y``; MLP: none, they come per layer).
    """

    phase: ClassVar[str] = "loss"
    losses: Array
    per_step: Array
    total: float
    scale: float
    reduction: str
    loss: str
    dy: Array
    grads: Mapping[str, Array] = field(default_factory=lambda: EMPTY)

    @classmethod
    def from_tape(cls, tape: Any, **others: Any) -> LossStep:
        """A ``LossStep`` whose arrays ``losses``, ``per_step`` and ``dy`` are read from an
        iteration's *tape* on first access, then kept (as a ``TapeStep``'s fields are); ``others``
        are the remaining fields, given whole. The recurrent models narrate one per iteration, and
        locking three arrays read-only costs more than the rest of the record. The tape has one
        method per field, ``tape.<field>(0)``, reading only what never changes afterwards."""
        rec = object.__new__(cls)
        rec.__dict__.update(others, index=0, _tape=tape)
        return rec


# An eagerly built LossStep holds its arrays in its own dict, which takes precedence; one built
# from_tape has none there, so these read them from its tape on first access.
for _name in ("losses", "per_step", "dy"):
    _lazy = _Field(row=False, pair=False)
    _lazy.name = _name
    setattr(LossStep, _name, _lazy)
del _name, _lazy


class BackwardStep(TapeStep):
    """Backward pass through timestep ``t = index`` (visited T-1 down to 0).

    dh_out: the delta arriving from this step's output, ``dy_t W_hy^T`` ``(B, H)``;
    dh_future: the delta arriving from the future through ``h_{t+1}`` ``(B, H)`` (zero at T-1);
    dh: their sum, ``dL/dh_t`` ``(B, H)`` (under window truncation: only the contributions of the
        losses whose window still reaches h_t);
    dpre: the pre-activation delta ``dL/dz_t`` ``(B, H)`` (gated cells: the stacked gate deltas);
    grads: this step's contribution to each parameter gradient (same names and shapes as params);
    extras: LSTM ``dc`` (cell-state delta) and per-gate deltas ``di, df, dg, do``; GRU ``dr, dz, dn``;
    window: the loss timesteps whose gradient reaches h_t (``range``; all of t..T-1 untruncated).
    """

    phase: ClassVar[str] = "backward"
    dh_out = _Field(row=True)
    dh_future = _Field(row=True)
    dh = _Field(row=True)
    dpre = _Field(row=True)
    grads = _Field(row=False)
    extras = _Field(row=False)
    window = _Field(row=True)


@dataclass(frozen=True)
class LayerForward(Step):
    """MLP forward through layer ``l = index`` (1-based): ``z = a_in W_l + b_l``, ``a = f(z)``.

    a_in ``(B, n_{l-1})``, z and a ``(B, n_l)``; for the output layer ``a`` is the output ``y``
    and ``p`` the softmax probabilities (cross-entropy), else None."""

    phase: ClassVar[str] = "forward"
    a_in: Array
    z: Array
    a: Array
    p: Array | None = None


@dataclass(frozen=True)
class LayerBackward(Step):
    """MLP backward through layer ``l = index`` (visited L down to 1).

    da: ``dL/da_l`` ``(B, n_l)`` (for the output layer: ``dL/dy``); dz: ``dL/dz_l``;
    da_prev: ``dL/da_{l-1} = dz W_l^T`` ``(B, n_{l-1})``; grads: ``W_l``, ``b_l``."""

    phase: ClassVar[str] = "backward"
    da: Array
    dz: Array
    da_prev: Array
    grads: Mapping[str, Array]


@dataclass(frozen=True)
class GradientStep(Step):
    """End of the backward pass: the loss and the full gradients, identical to what
    ``loss_and_grads`` returns; ``state``: the final hidden state (tuple; empty for an MLP)."""

    phase: ClassVar[str] = "gradients"
    loss: float
    grads: Mapping[str, Array]
    state: tuple = ()


@dataclass(frozen=True)
class UpdateStep(Step):
    """An optimiser update (index: the iteration number).

    grads: raw gradients; norm: their global 2-norm before clipping; clip: how they were clipped
    (``"none"``, ``"value"``, ``"norm"``) and ``clipped`` whether it changed anything; scale: the
    global-norm factor applied (1.0 if none); n_clipped: entries clipped by value;
    delta: the parameter change ``new - old``; lr: the learning rate used."""

    phase: ClassVar[str] = "update"
    grads: Mapping[str, Array]
    norm: float
    clip: str
    clipped: bool
    scale: float
    n_clipped: int
    delta: Mapping[str, Array]
    lr: float
    extras: Mapping[str, Any] = field(default_factory=lambda: EMPTY)
