"""What every recurrent model shares: inputs, the output layer, the loss, window truncation, the
backward loop over time, parameter-gradient assembly and the narrated step records.

A cell (vanilla RNN, LSTM, GRU) supplies only these:

- ``_sequence(AX, state0) -> dict`` runs its forward recurrence over time, given the input
  projection ``AX = x W_x + b_x`` of shape ``(T, B, G)`` (time-major inside the engine), and
  returns its buffers, at least ``"h"`` of shape ``(T+1, B, H)`` with ``h[0] = h0``;
- ``_backward_context(fw)``: what every backward step reads (derivatives for all t at once, the
  transposed recurrent weights), computed once per pass;
- ``_backstep(ctx, D, t, dax, dah, prev)``: given deltas ``D`` on the state at time t (a tuple,
  one array per state component, each ``(B, H)``, or ``(S, B, H)`` when S independent deltas are
  stacked, see below), writes the deltas on the input projection into ``dax (..., G)``, on the
  recurrent projection ``dah = d(h_{t-1} W_h + b_h)`` into ``dah`` (the same array unless the
  cell sets ``_separate_dah``), and the deltas on the previous state into the arrays of ``prev``
  (None at t = 0, where nobody needs them). It writes into buffers it is given, so the loop
  allocates nothing per step; ``_step_backward(D, t, fw) -> (dax, dah, D_prev)`` is the same
  step with fresh arrays, for callers outside the loop;
- ``_forward_extras(fw, t)`` / ``_backward_extras(...)``: what its step records add (gates...),
  and ``PRE``, the name of its ``(T, B, G)`` buffer of (gate) pre-activations.

Backpropagation through time is the single reversed loop that carries ``dh_next`` (Werbos 1990):
at step t, ``dL/dh_t = dy_t W_hy^T + dL/dh_{t+1} * dh_{t+1}/dh_t``. It *is* full BPTT; no nested
loop is needed (learners often expect one and doubt that the single loop is full BPTT).

Window truncation ``k`` (Williams & Peng 1990, "BPTT(h)" with h = k): the loss at step t sends
gradient to h_t, h_{t-1}, ..., h_{t-k+1} only -- k states, counting h_t itself. So ``k = 1``
means each loss reaches only its own h_t (no gradient through W_hh at all), and ``k >= T`` is full
BPTT. Tutorials that loop ``for s in range(t, t - k, -1)`` and then also step through W_hh once
more (or stop one early) are off by one; ours is tested against a brute-force definition. We
implement it exactly and cheaply by keeping the k deltas that are still alive as a stack
``(S = k, B, H)``: slot j holds the delta that the loss at t+j sends to h_t. Each step shifts the
stack by one slot and drops the delta whose window has ended. Parameter gradients are linear in
the deltas, so they are taken from the sum over the stack. Untruncated, all slots would be
summed anyway, so S = 1 and the loop is the plain ``dh_next`` recurrence.

Chunked (stateful) training carries the final state into the next call's ``h0`` but no gradient
across the boundary; ``return_state=True`` hands that state back.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from itertools import chain, repeat
from types import MappingProxyType
from typing import Any

import numpy as np

from ..checks import choice, float_array, int_array, positive_int
from ..gradients import bugs as bug_lab
from ..nn.init import init_matrix
from ..nn.losses import LOSSES, REDUCTIONS, cross_entropy, squared_error
from ..records import (
    EMPTY,
    BackwardStep,
    ForwardStep,
    GradientStep,
    LossStep,
    Step,
    frozen,
)

Array = np.ndarray
OUTPUTS = ("all", "last")


def _scatter_rows(ids: Array, rows: Array, n: int) -> Array:
    """``out[ids[j]] += rows[j]`` for every j (repeated ids accumulate): ``x^T rows`` for one-hot
    ``x`` without building it. ids ``(N,)``, rows ``(N, G)`` -> ``(n, G)``. A flat 1-D
    ``np.add.at`` is several times faster than the row-wise one and adds in the same order."""
    G = rows.shape[1]
    out = np.zeros(n * G)
    np.add.at(out, (ids[:, None] * G + np.arange(G)).ravel(), rows.ravel())
    return out.reshape(n, G)


def _dot_rows(a: Array, W: Array, out: Array) -> Array:
    """``out = a W`` over the last axis of ``a`` (``(..., n) x (n, m) -> (..., m)``) in one BLAS
    call, written into the C-contiguous ``out``. A 2-D ``np.dot`` with ``out=`` is the cheapest
    small product NumPy has (``@`` and stacked products cost more per call)."""
    if a.ndim == 2:
        return np.dot(a, W, out=out)
    np.dot(a.reshape(-1, a.shape[-1]), W, out=out.reshape(-1, out.shape[-1]))
    return out


def _total(a: Array) -> Array:
    """A delta as the records show it, ``(B, H)``: ``a`` itself, or the sum of a stack
    ``(S, B, H)`` of deltas (window truncation)."""
    return a if a.ndim == 2 else a.sum(0)


def _readonly(d: Mapping[str, Array]) -> Mapping[str, Array]:
    """``frozen_dict`` that leaves arrays that are read-only already (views of the locked forward
    buffers) as they are."""
    return MappingProxyType({k: v if not v.flags.writeable else frozen(v) for k, v in d.items()})


class _LazyGrads(Mapping):
    """A read-only mapping of one timestep's parameter-gradient contributions, each computed on
    first access (then kept, read-only). Materialising an ``(H, G)`` outer product per timestep
    would cost more than the whole backward pass at large H, and narration must stay cheap; the
    inputs (forward buffers, the step's deltas) are never written again, so the value is the same
    whenever it is asked for."""

    __slots__ = ("_names", "_fn", "_context", "_t", "_cache")

    def __init__(self, names: tuple[str, ...], fn, context: tuple, t: int) -> None:
        self._names, self._fn, self._context, self._t = names, fn, context, t
        self._cache: dict[str, Array] = {}

    def __getitem__(self, name: str) -> Array:
        value = self._cache.get(name)
        if value is None:
            if name not in self._names:
                raise KeyError(name)
            value = self._cache[name] = frozen(self._fn(name, self._context, self._t))
        return value

    def __iter__(self):
        return iter(self._names)

    def __len__(self) -> int:
        return len(self._names)

    def __contains__(self, name: object) -> bool:  # (Mapping's would compute the value)
        return name in self._names

    def since(self, name: str) -> Array:
        """This step's contribution to ``name`` plus those of every later step (t..T-1): what the
        backward pass has accumulated when it reaches step t, in one product instead of one per
        step (equal to their sum up to rounding)."""
        if name not in self._names:
            raise KeyError(name)
        model = self._fn.__self__  # the model whose ``_step_grad`` this is
        return frozen(model._grad_since(name, self._context, self._t))


_new = tuple.__new__  # makes a TapeStep record: ``_new(ForwardStep, (t, tape))``


def _lock(*arrays: Array | None) -> None:
    """Make this iteration's own arrays read-only in place (cheaper than a read-only view of each;
    every view taken from them afterwards, such as a record's row, is read-only too, for good).
    ``setflags`` costs half of assigning ``flags.writeable``."""
    for a in arrays:
        if a is not None:
            a.setflags(write=False)


class _LockedOnRead(Mapping):
    """A read-only mapping of this iteration's own arrays (gradients), each locked read-only in
    place the first time it is read: nothing writes them after the iteration, and a narrated
    iteration whose gradients nobody reads pays nothing for locking them."""

    __slots__ = ("_d",)

    def __init__(self, d: dict[str, Array]) -> None:
        self._d = d

    def __getitem__(self, name: str) -> Array:
        a = self._d[name]
        if a.flags.writeable:
            a.setflags(write=False)
        return a

    def __iter__(self):
        return iter(self._d)

    def __len__(self) -> int:
        return len(self._d)

    def __repr__(self) -> str:
        return f"{{{', '.join(f'{k!r}: array{self[k].shape}' for k in self._d)}}}"


class _LossTape:
    """The array fields of an iteration's ``LossStep`` (``records.LossStep.from_tape``), batch-first:
    this iteration's own arrays (never written after the loss), locked read-only in place on
    first read. losses ``(T, B)`` time-major (many-to-one: ``(B,)``), dY likewise with ``O``."""

    __slots__ = ("_losses", "_dY", "_scale", "_last", "_T")  # (a tape per narrated iteration: cheap to make)

    def __init__(self, losses: Array, dY: Array, scale: float, last: bool, T: int) -> None:
        self._losses, self._dY, self._scale, self._last, self._T = losses, dY, scale, last, T

    def losses(self, _: int) -> Array:
        _lock(self._losses)
        return self._losses if self._last else self._losses.T

    def per_step(self, _: int) -> Array:
        """The loss at each timestep after reduction, ``(T,)`` (many-to-one: all at T-1)."""
        losses, scale = self._losses, self._scale
        if self._last:
            out = np.concatenate([np.zeros(self._T - 1), [losses.sum() * scale]])
        else:
            out = losses.sum(-1) * scale
        _lock(out)
        return out

    def dy(self, _: int) -> Array:
        _lock(self._dY)
        return self._dY if self._last else self._dY.transpose(1, 0, 2)


class _ForwardTape:
    """The fields of one iteration's ``ForwardStep`` records (``records.TapeStep``): row t of the
    iteration's forward buffers (inputs, cell buffers, outputs, probabilities).

    Those buffers belong to this iteration alone and nothing writes them after the forward pass;
    the first read of any field locks them all read-only in place, so every field handed out is
    read-only (a narrated iteration nobody reads pays nothing for it)."""

    __slots__ = ("_model", "_fw", "_last", "_T", "_X", "_H", "_Y", "_P", "_pre", "_has_extras", "_locked")

    def __init__(self, model: RecurrentModel, fw: Forward, probs: Array | None, last: bool) -> None:
        batch = fw.batch
        self._model, self._fw, self._last, self._T = model, fw, last, batch.T
        self._X = batch.ids if batch.ids is not None else batch.X
        self._H, self._Y, self._P = fw.cell["h"], fw.Y, probs
        self._pre = fw.cell[model.PRE]
        self._has_extras = model._has_forward_extras
        self._locked = False

    def _ready(self) -> None:
        if not self._locked:
            _lock(*(buf for buf in self._fw.cell.values() if isinstance(buf, np.ndarray)))
            _lock(self._X, self._Y, self._P)
            self._locked = True

    def series(self, name: str) -> Array | None:
        """Field ``name`` of every timestep, ``(T, ...)``, read-only, no copy; None for fields
        kept per step only (y and p of a many-to-one model, extras)."""
        self._ready()
        if name == "x":
            return self._X[:]
        if name in ("h", "h_prev"):
            return self._H[1:] if name == "h" else self._H[:-1]
        if name == "pre":
            return self._pre[:]
        if name in ("y", "p") and not self._last:
            return self._Y[:] if name == "y" else (self._P[:] if self._P is not None else None)
        return None

    def rows(self, t: int) -> dict[str, Array | None]:
        """Step t's row fields: x, h_prev, h, pre, y, p."""
        self._ready()
        if self._last:  # many-to-one: only the last step has an output
            y, p = (self._Y[:], self._P[:] if self._P is not None else None) if t == self._T - 1 else (None, None)
        else:
            y, p = self._Y[t], (self._P[t] if self._P is not None else None)
        H = self._H
        return {"x": self._X[t], "h_prev": H[t], "h": H[t + 1], "pre": self._pre[t], "y": y, "p": p}

    def extras(self, t: int) -> Mapping[str, Array]:
        if not self._has_extras:
            return EMPTY
        self._ready()
        return _readonly(self._model._forward_extras(self._fw, t))


class _BackwardTape:
    """The fields of one iteration's ``BackwardStep`` records (``records.TapeStep``).

    The BPTT loop fills row t of its buffers ``FUT`` (per state component, the delta arriving from
    t+1; ``FUT[0]`` is the part of ``dL/dh_t`` from h_{t+1}), ``(T, B, H)`` each, and of
    ``dAX``/``dAH`` at step t, and never writes them again. ``dL/dh_t`` itself, ``dh_out_t +
    FUT[0][t]``, the loop keeps in a scratch array; it is made again here, by the same additions
    on the same numbers (so bit for bit the same), when a record's field is first read. Under
    window truncation the loop fills ``DH`` and ``states[t]`` (the deltas on the state at t as the
    cell's backward step got them, ``(S, B, H)`` stacks) itself; gated cells derive their extras
    from those deltas. The records are handed out once the loop is done (a yield per step cost
    more than the records themselves). Read-only views of the buffers are made on the first read
    of any field."""

    __slots__ = ("_model", "_fw", "_T", "_k", "_last", "_B", "_H", "_out", "_out_last", "_bufs", "_names",
                 "states", "_has_extras", "_ready", "_zeros", "_dAX", "_dAH", "_context", "_DH", "_FUT",
                 "_FUTS", "_bugs")

    def __init__(self, model: RecurrentModel, fw: Forward, opts: Options, dHout: Array | None,
                 dHout_last: Array | None, dAX: Array, dAH: Array, DH: Array | None, FUT: tuple[Array, ...],
                 bugs: tuple[bool, bool]) -> None:
        batch = fw.batch
        T, B, H = batch.T, batch.B, model.hidden_size
        self._model, self._fw, self._T = model, fw, T
        self._k, self._last = opts.truncation, opts.output == "last"
        self._B, self._H = B, H
        self._out, self._out_last = dHout, dHout_last  # computed before the loop, only read by it
        self._bufs = (dAX, dAH, DH, FUT)
        self._bugs = bugs  # the bug lab's (drop_dh_next, overwrite_dh_next), as the loop ran
        self._names = (model.W_X, model.W_H, model.B_X) + ((model.B_H,) if model.B_H is not None else ())
        self.states: list[tuple | None] | None = [None] * T if DH is not None else None
        self._has_extras = model._has_backward_extras
        self._ready = False

    def _views(self) -> None:
        """Read-only views of the loop's buffers, made once, on the first read of any field."""
        if self._ready:
            return
        dAX, dAH, DH, FUT = self._bufs
        _lock(self._out, self._out_last)
        self._zeros = frozen(np.zeros((self._B, self._H)))
        self._dAX = frozen(dAX)  # row t is filled at step t and never written again
        self._dAH = self._dAX if dAH is dAX else frozen(dAH)
        self._context = (self._fw.batch, self._fw, self._dAX, self._dAH)
        self._FUTS = tuple(frozen(F) for F in FUT)
        self._DH, self._FUT = frozen(DH if DH is not None else self._dh_again()), self._FUTS[0]
        self._ready = True

    def _dh_again(self) -> Array:
        """``dL/dh_t`` for every t, ``(T, B, H)``, as the full-BPTT loop made it at each step:
        ``dh_out_t + FUT[0][t]`` (the bug lab: ``drop_dh_next`` keeps dh_out alone,
        ``overwrite_dh_next`` the future part alone, except at T-1)."""
        fut = self._bufs[3][0]
        T = self._T
        if self._out is not None:
            out = self._out
        else:  # many-to-one: only the last step has an output (the loop added zeros elsewhere)
            out = np.zeros_like(fut)
            out[T - 1] = self._out_last
        drop, overwrite = self._bugs
        if drop:
            return out.copy()
        dh = np.add(out, fut)
        if overwrite:
            dh[:T - 1] = fut[:T - 1]
        return dh

    def series(self, name: str) -> Array | None:
        """Field ``name`` of every timestep in timestep order ``(T, ...)``, read-only, no copy;
        None for fields kept per step only (grads, extras, window; dh_out of a many-to-one model).
        Only complete once the loop has reached t = 0."""
        self._views()
        if name == "dh":
            return self._DH
        if name == "dh_future":
            return self._FUT
        if name == "dpre":
            return self._dAX
        if name == "dh_out":
            return self._out[:] if self._out is not None else None
        return None

    def rows(self, t: int) -> dict[str, Array | range]:
        """Step t's row fields: dh_out, dh_future, dh, dpre, window."""
        self._views()
        T, k = self._T, self._k
        if self._out is not None:
            out = self._out[t]
        else:
            out = self._out_last if t == T - 1 else self._zeros
        if not self._last:
            window = range(t, T if k is None else min(T, t + k))
        else:
            window = range(T - 1, T) if (k is None or T - 1 - t < k) else range(0)
        return {"dh_out": out, "dh_future": self._FUT[t], "dh": self._DH[t], "dpre": self._dAX[t], "window": window}

    def grads(self, t: int) -> Mapping[str, Array]:
        self._views()
        return _LazyGrads(self._names, self._model._step_grad, self._context, t)

    def extras(self, t: int) -> Mapping[str, Array]:
        if not self._has_extras:
            return EMPTY
        self._views()
        if self.states is not None:
            D = self.states[t]
        else:  # full BPTT: what the cell's step got, (dh_t,) + the other components' future deltas
            D = (self._DH[t],) + tuple(F[t] for F in self._FUTS[1:])
        return _readonly(self._model._backward_extras(self._fw, t, D, self._dAX[t], self._dAH[t]))


@dataclass(frozen=True)
class Options:
    """The validated options of one pass (see ``loss_and_grads``)."""

    reduction: str = "mean"
    truncation: int | None = None
    output: str = "all"
    loss: str = "cross_entropy"


@dataclass
class Batch:
    """Validated inputs and targets, time-major views for the engine's loops.

    ids ``(T, B)`` int or None; X ``(T, B, D)`` float or None; targets as given (batch-first)."""

    ids: Array | None
    X: Array | None
    targets: Array
    B: int
    T: int


@dataclass
class Forward:
    """The forward pass of a whole sequence (time-major buffers)."""

    batch: Batch
    cell: dict[str, Array]  # "h" (T+1, B, H) and the cell's own buffers
    Y: Array  # (T, B, O) or (B, O) for output="last"


class RecurrentModel:
    """Base of RNN, LSTM and GRU. Subclasses set the parameter names below and the cell."""

    kind = "recurrent"
    #: names of the input weights, recurrent weights, input-side bias, recurrent-side bias (or None)
    W_X, W_H, B_X, B_H = "W_xh", "W_hh", "b_h", None
    W_Y, B_Y = "W_hy", "b_y"
    #: names of the state components, h first
    STATE = ("h",)
    #: the gate count: G = GATES * H
    GATES = 1
    #: the cell buffer (T, B, G) that records show as ``pre``: the (gate) pre-activations
    PRE = "z"

    def __init__(self, input_size: int, hidden_size: int, output_size: int, *, seed: int = 0,
                 init: str = "xavier", init_scale: float = 1.0, recurrent_init: str | None = None,
                 recurrent_scale: float | None = None) -> None:
        self.input_size = positive_int(input_size, "input_size")
        self.hidden_size = positive_int(hidden_size, "hidden_size")
        self.output_size = positive_int(output_size, "output_size")
        if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)):
            raise ValueError(f"seed: expected an integer, got {seed!r}")
        self.seed = int(seed)
        self.init = init
        self.init_scale = init_scale
        rng = np.random.default_rng(self.seed)
        D, H, O, G = self.input_size, self.hidden_size, self.output_size, self.GATES * self.hidden_size
        self.params: dict[str, Array] = {
            self.W_X: init_matrix(rng, (D, G), init, init_scale),
            self.W_H: init_matrix(rng, (H, G), recurrent_init or init,
                                  init_scale if recurrent_scale is None else recurrent_scale),
            self.B_X: np.zeros(G),
        }
        if self.B_H is not None:
            self.params[self.B_H] = np.zeros(G)
        self.params[self.W_Y] = init_matrix(rng, (H, O), init, init_scale)
        self.params[self.B_Y] = np.zeros(O)
        self.bugs: frozenset[str] = frozenset()

    # ------------------------------------------------------------------ public API
    def set_bugs(self, bugs) -> None:
        """Switch bug-lab mistakes on (a collection of names from ``engine.gradients.bugs.BUGS``) or off."""
        self.bugs = bug_lab.check_bugs(bugs, recurrent=True)

    def describe(self) -> dict[str, Any]:
        """The constructor arguments, enough to rebuild an identically-shaped model."""
        return dict(kind=self.kind, input_size=self.input_size, hidden_size=self.hidden_size,
                    output_size=self.output_size, seed=self.seed, init=self.init,
                    init_scale=self.init_scale)

    def zero_state(self, batch_size: int) -> tuple[Array, ...]:
        return tuple(np.zeros((batch_size, self.hidden_size)) for _ in self.STATE)

    def loss_and_grads(self, inputs, targets, *, h0=None, reduction: str = "mean",
                       truncation: int | None = None, output: str = "all",
                       loss: str = "cross_entropy", return_state: bool = False):
        """Loss and gradients of one batch.

        inputs: ``(B, T, D)`` floats, or ``(B, T)`` integer token ids in ``[0, input_size)`` (used
        as one-hot rows without building the one-hot matrix).
        targets: cross-entropy: ``(B, T)`` class ids (``output="last"``: ``(B,)``);
        mse: ``(B, T, O)`` floats (``output="last"``: ``(B, O)``).
        h0: initial state, ``(B, H)`` (LSTM: a tuple ``(h0, c0)``), default zeros.
        reduction: ``"sum"`` over batch and time, or ``"mean"`` = that sum / B.
        truncation: None (full BPTT) or window k >= 1 (see the module docstring).
        output: ``"all"`` (a prediction at every step) or ``"last"`` (many-to-one).
        Returns ``(loss, grads)`` with grads named and shaped as ``params``; with
        ``return_state=True``, ``(loss, grads, state)`` where state is the final state tuple.
        """
        loss_value, grads, state, _ = self._iteration(inputs, targets, h0,
                                                      self._options(reduction, truncation, output, loss), narrate=False)
        return (loss_value, grads, state) if return_state else (loss_value, grads)

    def steps(self, inputs, targets, *, h0=None, reduction: str = "mean",
              truncation: int | None = None, output: str = "all",
              loss: str = "cross_entropy") -> Iterator[Step]:
        """The narrated iteration: ``ForwardStep`` x T, ``LossStep``, ``BackwardStep`` x T (from
        t = T-1 down to 0), ``GradientStep``. Same arguments and the same numbers, bit for bit, as
        ``loss_and_grads``. The whole iteration is computed here (after validating the arguments);
        the iterator then hands out its records."""
        opts = self._options(reduction, truncation, output, loss)
        batch = self._batch(inputs, targets, opts)
        return self._iteration(batch, None, h0, opts, narrate=True)[3]

    def forward(self, inputs, h0=None) -> tuple[Array, tuple[Array, ...]]:
        """Outputs ``(B, T, O)`` (logits or regression values) and the final state tuple."""
        batch = self._batch(inputs, None, Options())
        fw = self._forward(batch, self._state0(h0, batch.B), Options())
        return np.ascontiguousarray(fw.Y.transpose(1, 0, 2)), self._final_state(fw)

    def hidden_states(self, inputs, h0=None) -> Array:
        """Hidden states ``h_1..h_T`` as ``(B, T, H)``."""
        batch = self._batch(inputs, None, Options())
        fw = self._forward(batch, self._state0(h0, batch.B), Options())
        return np.ascontiguousarray(fw.cell["h"][1:].transpose(1, 0, 2))

    # ------------------------------------------------------------------ validation
    @staticmethod
    def _options(reduction, truncation, output, loss) -> Options:
        choice(reduction, REDUCTIONS, "reduction")
        choice(output, OUTPUTS, "output")
        choice(loss, LOSSES, "loss")
        if truncation is not None:
            truncation = positive_int(truncation, "truncation")
        return Options(reduction, truncation, output, loss)

    def _batch(self, inputs, targets, opts: Options) -> Batch:
        a = np.asarray(inputs) if not isinstance(inputs, np.ndarray) else inputs
        D, O = self.input_size, self.output_size
        if a.dtype.kind in "iu":  # integer ids (bool is kind 'b')
            ids = int_array(a, "inputs", (None, None), upper=D,
                            what="(batch, time) token ids")
            B, T = ids.shape
            # always a copy: records show x, and the caller may refill its array afterwards
            ids_t, X_t = np.array(ids.T, order="C"), None
        else:
            if a.ndim == 2 and (np.issubdtype(a.dtype, np.number) or a.dtype == bool):  # ids, not integers
                raise ValueError(f"inputs: (batch, time) token ids must be integers, got dtype {a.dtype}; "
                                 f"float features need shape (batch, time, {D})")
            X = float_array(a, "inputs", (None, None, D), what="(batch, time, input_size) or (batch, time) ids")
            B, T = X.shape[:2]
            ids_t, X_t = None, np.array(X.transpose(1, 0, 2), order="C")
        if B == 0 or T == 0:
            raise ValueError(f"inputs: expected at least one sequence and one timestep, got shape {a.shape}")
        tg = None
        if targets is not None:
            if opts.loss == "cross_entropy":
                shape = (B, T) if opts.output == "all" else (B,)
                tg = int_array(targets, "targets", shape, upper=O, what="class ids")
            else:
                shape = (B, T, O) if opts.output == "all" else (B, O)
                tg = float_array(targets, "targets", shape)
        return Batch(ids_t, X_t, tg, B, T)

    def _state0(self, h0, B: int) -> tuple[Array, ...]:
        if h0 is None:
            return self.zero_state(B)
        parts = (h0,) if len(self.STATE) == 1 and not isinstance(h0, (tuple, list)) else tuple(h0)
        if len(parts) != len(self.STATE):
            raise ValueError(f"h0: expected a tuple ({', '.join(self.STATE)}), got {len(parts)} arrays")
        return tuple(float_array(p, f"h0 ({name})", (B, self.hidden_size), "(batch, hidden_size)").copy()
                     for p, name in zip(parts, self.STATE))

    # ------------------------------------------------------------------ the passes
    def _forward(self, batch: Batch, state0: tuple[Array, ...], opts: Options) -> Forward:
        p = self.params
        if batch.ids is not None:
            AX = p[self.W_X][batch.ids]  # gather rows: x_t W_x for one-hot x_t, never built
        else:
            T, B, D = batch.X.shape  # one 2-D product over all T (a stacked 3-D one costs more)
            AX = np.dot(batch.X.reshape(T * B, D), p[self.W_X]).reshape(T, B, -1)
        AX += p[self.B_X]
        cell = self._sequence(AX, state0)
        Hs = cell["h"]
        if opts.output == "all":
            T, B, H = Hs.shape[0] - 1, Hs.shape[1], Hs.shape[2]
            Y = np.dot(Hs[1:].reshape(T * B, H), p[self.W_Y]).reshape(T, B, -1)
        else:
            Y = np.dot(Hs[-1], p[self.W_Y])
        Y += p[self.B_Y]
        return Forward(batch, cell, Y)

    def _final_state(self, fw: Forward) -> tuple[Array, ...]:
        return tuple(fw.cell[name][-1].copy() for name in self.STATE)

    def _iteration(self, batch_or_inputs, targets, h0, opts: Options, *, narrate: bool):
        """The one implementation of an iteration: returns ``(loss, grads, final_state, records)``,
        ``records`` an iterator over the step records when narrating (made once the whole
        iteration is computed, by C-level iterators: no Python code runs per record), else None.
        Narrating changes nothing of the arithmetic: both paths run these same lines, the same
        operations on arrays of the same shapes (only where the per-step deltas are kept differs),
        so their numbers are the same bit for bit; narrating only adds the records and the
        buffers they are views of."""
        batch = (batch_or_inputs if isinstance(batch_or_inputs, Batch)
                 else self._batch(batch_or_inputs, targets, opts))
        state0 = self._state0(h0, batch.B)
        p, bugs = self.params, self.bugs
        B, T, H, O = batch.B, batch.T, self.hidden_size, self.output_size
        fw = self._forward(batch, state0, opts)
        Hs, Y = fw.cell["h"], fw.Y
        last = opts.output == "last"

        # ---- loss (outputs time-major (T, B, O), or (B, O) when many-to-one)
        tg = batch.targets if last else (batch.targets.T if batch.targets.ndim == 2
                                         else batch.targets.transpose(1, 0, 2))
        probs = None
        if opts.loss == "cross_entropy":
            axis = -2 if "softmax_wrong_axis" in bugs else -1  # bug lab: the batch axis
            losses, delta, probs = cross_entropy(Y, tg, softmax_axis=axis,
                                                 elementwise_derivative="softmax_elementwise" in bugs)
        else:
            losses, delta = squared_error(Y, tg)
        scale = 1.0 / B if opts.reduction == "mean" else 1.0
        total = float(losses.sum() * scale)
        dY = delta
        if scale != 1.0:  # (multiplying by 1 changes nothing)
            dY *= scale
        W_yT = p[self.W_Y].T
        if last:
            dW_y = np.dot(Hs[-1].T, dY)
            db_y = dY.sum(0)
            dHout_last = np.dot(dY, W_yT)
            dHout = None
        else:  # (T*B, .) views: one 2-D product each
            dY2 = dY.reshape(T * B, O)
            dW_y = np.dot(Hs[1:].reshape(T * B, H).T, dY2)
            db_y = dY2.sum(0)
            dHout = np.dot(dY2, W_yT).reshape(T, B, H)  # what each output sends into its h_t
            dHout_last = None
        if narrate:  # (records are (index, tape) pairs made by tuple.__new__: no Python code per record)
            forward = map(_new, repeat(ForwardStep, T), zip(range(T), repeat(_ForwardTape(self, fw, probs, last))))
            loss_step = LossStep.from_tape(_LossTape(losses, dY, scale, last, T), total=total, scale=scale,
                                           reduction=opts.reduction, loss=opts.loss,
                                           grads=_LockedOnRead({self.W_Y: dW_y, self.B_Y: db_y}))

        # ---- backward through time
        # dAX[t], dAH[t] are rows of per-iteration buffers, written once. Narrated (and under
        # truncation) so are FUT[j][t] (the delta on state component j at t arriving from t+1;
        # zero at T-1) and, under truncation, DH[t] (dL/dh_t); the step records are views of these
        # rows (untruncated, the records' dh is made again from FUT, see _BackwardTape). Otherwise
        # dh and the future deltas go to a few (B, H) arrays used in turn (the same operations on
        # the same shapes, so the same numbers; fresh (T, B, H) buffers cost page faults at large B*H).
        k = opts.truncation
        merged = k is None or k >= T
        G = self.GATES * H
        dAX = np.empty((T, B, G))
        dAH = np.empty((T, B, G)) if self._separate_dah else dAX
        DH = None if merged else np.empty((T, B, H))
        if narrate or not merged:
            FUT = tuple(np.empty((T, B, H)) for _ in self.STATE)
            for F in FUT:
                F[T - 1] = 0.0
        drop, overwrite = "drop_dh_next" in bugs, "overwrite_dh_next" in bugs  # bug lab
        ctx = self._backward_context(fw)
        step = self._backstep
        if narrate:
            btape = _BackwardTape(self, fw, opts, dHout, dHout_last, dAX, dAH, DH, FUT, (drop, overwrite))
        if last:
            zeros = np.zeros((B, H))
            outs = [zeros] * (T - 1) + [dHout_last]
        else:
            outs = dHout
        if merged:
            # Full BPTT: dL/dh_t = dh_out_t + (delta from h_{t+1}), one delta per state component.
            # Step t's rows come from zip (no per-step indexing): futures[t] holds the deltas on
            # the state at t from t+1, prevs[t] receives those on the state at t-1 (None at t = 0).
            # Ds[t] = (dh_t,) + the other components' future deltas: what the cell's step gets.
            # Narrated, the future deltas go to FUT's rows (the records show them); dh_t goes to a
            # scratch array in both paths (the records' dh is made again from FUT: _BackwardTape).
            plain = not (drop or overwrite)
            dh = np.empty((B, H))
            if narrate:
                futures = list(zip(*[F[::-1] for F in FUT]))
                prevs = futures[1:]
                prevs.append(None)
            else:
                pair = [tuple(np.empty((B, H)) for _ in self.STATE) for _ in range(2)]
                prevs = [pair[i % 2] for i in range(T - 1)] + [None]
                futures = [tuple(np.zeros((B, H)) for _ in self.STATE)] + prevs[:-1]
            Ds = [(dh,) + f[1:] for f in futures] if len(self.STATE) > 1 else repeat((dh,), T)
            same = dAH is dAX  # (then one row view per step serves as both)
            for t, D, fut, out, dax, dah, prev in zip(range(T - 1, -1, -1), Ds, futures, outs[::-1],
                                                      dAX[::-1], repeat(None) if same else dAH[::-1], prevs):
                dh, future = D[0], fut[0]
                if plain:
                    np.add(out, future, out=dh)
                elif drop:  # bug lab
                    np.copyto(dh, out)
                elif t < T - 1:  # bug lab: overwrite
                    np.copyto(dh, future)
                else:
                    np.add(out, future, out=dh)
                step(ctx, D, t, dax, dax if same else dah, prev)
        else:
            # Window truncation: a stack of S = k deltas per state component (module docstring).
            S = k
            D = tuple(np.zeros((S, B, H)) for _ in self.STATE)
            dax = np.empty((S, B, G))
            dah = dax if dAH is dAX else np.empty((S, B, G))
            for t in range(T - 1, -1, -1):
                hs = D[0]
                np.sum(hs[1:], 0, out=FUT[0][t])
                hs[0] = outs[t]
                if drop:  # bug lab
                    hs[1:] = 0.0
                elif overwrite and t < T - 1:  # bug lab
                    hs[0] = 0.0
                np.sum(hs, 0, out=DH[t])
                prev = tuple(np.empty((S, B, H)) for _ in self.STATE) if t else None
                step(ctx, D, t, dax, dah, prev)
                np.sum(dax, 0, out=dAX[t])
                if dAH is not dAX:
                    np.sum(dah, 0, out=dAH[t])
                if narrate:
                    btape.states[t] = D
                if t:  # shift the stack: origin t+j becomes slot j+1 at h_{t-1}; slot k-1 expires
                    D = tuple(np.concatenate([np.zeros((1, B, H)), d[:-1]]) for d in prev)

        if narrate:  # the records of the loop just run
            backward = map(_new, repeat(BackwardStep, T), zip(range(T - 1, -1, -1), repeat(btape)))

        # ---- parameter gradients from the whole sequence at once
        dAX2 = dAX.reshape(T * B, G)
        dAH2 = dAX2 if dAH is dAX else dAH.reshape(T * B, G)
        grads: dict[str, Array] = {}
        if batch.ids is not None:
            dW_x = _scatter_rows(batch.ids.ravel(), dAX2, self.input_size)
        else:
            dW_x = np.dot(batch.X.reshape(T * B, self.input_size).T, dAX2)
        grads[self.W_X] = dW_x
        grads[self.W_H] = np.dot(Hs[:-1].reshape(T * B, H).T, dAH2)
        grads[self.B_X] = self._bias_grad(dAX, dAX2)
        if self.B_H is not None:
            grads[self.B_H] = self._bias_grad(dAH, dAH2)
        grads[self.W_Y] = dW_y
        grads[self.B_Y] = db_y if "bias_not_summed" not in bugs else (
            dY[0] if last else dY[:, 0].sum(0))  # bug lab: first example only
        grads = {name: grads[name] for name in p}  # same order as params
        state = self._final_state(fw)
        if narrate:
            end = GradientStep(0, loss=total, grads=_LockedOnRead(dict(grads)), state=state)
            return total, grads, state, chain(forward, (loss_step,), backward, (end,))
        return total, grads, state, None

    _separate_dah = False  # True when a cell's recurrent delta differs from its input delta (GRU)
    _has_forward_extras = _has_backward_extras = False  # set per cell class below

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        cls._has_forward_extras = cls._forward_extras is not RecurrentModel._forward_extras
        cls._has_backward_extras = cls._backward_extras is not RecurrentModel._backward_extras

    def _deriv(self, act, z: Array, y: Array) -> Array:
        """``act'`` from pre-activation ``z`` and activation ``y``; the bug lab's
        ``deriv_wrong_variable`` swaps the two (e.g. ``1 - z²`` in place of ``1 - h²``)."""
        if "deriv_wrong_variable" in self.bugs:  # bug lab
            return act.deriv(y, z)
        return act.deriv(z, y)

    def _bias_grad(self, dA: Array, dA2: Array) -> Array:
        """Bias gradient from the deltas ``dA (T, B, G)`` (``dA2``: the same as ``(T*B, G)``)."""
        if "bias_not_summed" in self.bugs:  # bug lab: first example only
            return dA[:, 0].sum(0)
        return dA2.sum(0)

    def _step_grad(self, name: str, context: tuple, t: int) -> Array:
        """Timestep t's contribution to the recurrent-cell parameter ``name`` (narration only):
        ``x_t^T dax_t``, ``h_{t-1}^T dah_t``, or the bias deltas summed over the batch.
        context: ``(batch, fw, dAX, dAH)`` of the iteration, deltas ``(T, B, G)``."""
        batch, fw, dAX, dAH = context
        dax, dah = dAX[t], dAH[t]
        if name == self.W_X:
            if batch.ids is not None:
                return _scatter_rows(batch.ids[t], dax, self.input_size)
            return batch.X[t].T @ dax
        if name == self.W_H:
            return fw.cell["h"][t].T @ dah
        return (dax if name == self.B_X else dah).sum(0)

    def _grad_since(self, name: str, context: tuple, t: int) -> Array:
        """``sum_{u >= t}`` of ``_step_grad(name, context, u)``, as one product over the steps
        (the batch and time axes flattened together)."""
        batch, fw, dAX, dAH = context
        G = dAX.shape[-1]
        dax, dah = dAX[t:].reshape(-1, G), dAH[t:].reshape(-1, G)
        if name == self.W_X:
            if batch.ids is not None:
                return _scatter_rows(batch.ids[t:].reshape(-1), dax, self.input_size)
            return batch.X[t:].reshape(-1, batch.X.shape[-1]).T @ dax
        if name == self.W_H:
            h = fw.cell["h"][t:dAH.shape[0]]
            return h.reshape(-1, h.shape[-1]).T @ dah
        return (dax if name == self.B_X else dah).sum(0)

    # ------------------------------------------------------------------ cell hooks
    def _sequence(self, AX: Array, state0: tuple[Array, ...]) -> dict[str, Array]:
        raise NotImplementedError

    def _backward_context(self, fw: Forward):
        """What every backward step of this pass reads, computed once (cached in ``fw.cell``)."""
        raise NotImplementedError

    def _backstep(self, ctx, D: tuple[Array, ...], t: int, dax: Array, dah: Array,
                  prev: tuple[Array, ...] | None) -> None:
        """One step back through time, written into ``dax``, ``dah``, ``prev`` (module docstring)."""
        raise NotImplementedError

    def _step_backward(self, D: tuple[Array, ...], t: int, fw: Forward):
        """The backward step at t on deltas ``D`` (each ``(S, B, H)`` or ``(B, H)``), into fresh
        arrays: ``(dax, dah, D_prev)``. The loop's own step, for callers outside it (the
        diagnostics push unit deltas and single-loss deltas back with it)."""
        lead = D[0].shape[:-1]
        H = self.hidden_size
        dax = np.empty(lead + (self.GATES * H,))
        dah = np.empty_like(dax) if self._separate_dah else dax
        prev = tuple(np.empty(lead + (H,)) for _ in self.STATE)
        self._backstep(self._backward_context(fw), D, t, dax, dah, prev)
        return dax, dah, prev

    def _forward_extras(self, fw: Forward, t: int) -> dict[str, Array]:
        return {}

    def _backward_extras(self, fw: Forward, t: int, D, dax: Array, dah: Array) -> dict[str, Array]:
        return {}
