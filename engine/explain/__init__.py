"""The lecture "explain panel": what one step record computes, with its actual numbers.

``explain(record, model, unit, context)`` turns any step record of ``engine.records`` into an
``Explanation``: a title, the equation being applied (plain Unicode text), the terms of that
equation with their values for one selected unit of the *first example in the batch*, one
sentence of plain-language commentary, and an ``html()`` rendering for a Qt rich-text label.

The terms are not decoration: they are read from the records (and, where a split needs them, the
model's weights) and they recombine to the recorded value, e.g. for a tanh RNN at timestep t::

    δz_t = (1 − h_t²) · (δy_t W_hyᵀ + δh_t^future)     with every factor's value shown

``context`` holds what one record alone does not: the other records of the same iteration (the
``ForwardStep`` of the same t gives a backward explanation its ``h_t``; the ``UpdateStep`` tells
which weights the records were made with) and a few options. It is either an iterable of records
(e.g. a ``Trace``) or a mapping whose values are records, iterables of records, or these options:

- ``"optimizer"``: the ``engine.nn.optim.Optimizer`` that made an ``UpdateStep`` (its rule and state);
- ``"clipper"``: the ``Clipper`` used (or ``"clip_threshold"``: its threshold);
- ``"t"``: the timestep a ``LossStep`` explanation looks at (default: the last one);
- ``"gate"``: for LSTM/GRU gradient and update steps, which gate's column of ``W_h`` to follow
  (default: the candidate, ``"g"`` / ``"n"``);
- ``"param"``: ``(name, index)`` of the parameter entry a gradient/update step follows;
- ``"params"``: the parameters the records were computed with (a mapping name -> array, e.g.
  ``engine.training.session.Narration.before``). Given, they are used as they are: exact, whatever the
  model has done since.

Parameters: without ``"params"``, ``model.params`` are used; the app applies the update right
after narrating an iteration, so those are already the *new* weights. When the context holds the
iteration's ``UpdateStep``, the weights used to split a forward pre-activation are then
reconstructed as ``params − delta`` (what the records saw, up to rounding). If the split still
does not add up (the model has trained on since), the sentence says so.

Iterations are numbered as in ``engine.training.session``: the update record of iteration N has index N
(the N-th update), and its title says "iteration N".

Pure NumPy: no Qt here.

The code is split by cell: ``common`` (the result, formatting, context), ``rnn``, ``lstm``,
``gru``, ``mlp``, and the records every model shares: ``loss``, ``gradients``, ``update``.
Every name is importable from ``engine.explain``.
"""

from __future__ import annotations

from typing import Any

from ..records import BackwardStep, ForwardStep, GradientStep, LayerBackward, LayerForward, LossStep, Step, UpdateStep
from .common import (  # noqa: F401
    _ACT_EQ,
    _DERIV_EQ,
    _DERIV_WORDS,
    _STALE,
    _SUB,
    _SUP,
    EXAMPLE,
    KINDS,
    RECURRENT,
    Array,
    Explanation,
    Term,
    _act_remark,
    _collect,
    _Context,
    _deriv,
    _future_label,
    _kind,
    _p,
    _param,
    _pct,
    _records_in,
    _rich,
    _share_sentence,
    _stale,
    _Terms,
    _truncation_clause,
    _unit,
    _width,
    fmt,
    sub,
)
from .gradients import (  # noqa: F401
    _batch,
    _entry,
    _focus,
    _gradients,
)
from .gru import (  # noqa: F401
    _gru_backward,
    _gru_forward,
)
from .loss import (  # noqa: F401
    _loss,
)
from .lstm import (  # noqa: F401
    _lstm_backward,
    _lstm_c_prev,
    _lstm_forward,
    _lstm_gates,
)
from .mlp import (  # noqa: F401
    _mlp_act,
    _mlp_backward,
    _mlp_forward,
)
from .rnn import (  # noqa: F401
    _rnn_backward,
    _rnn_forward,
)
from .update import (  # noqa: F401
    _CLIP_EQ,
    _RULES,
    _optimizer_terms,
    _update,
)


def explain(record: Step, model: Any, unit: int = 0, context: Any = None) -> Explanation:
    """Explain one step record for hidden unit ``unit`` of the first example in the batch.

    record: any record of ``engine.records``; model: the ``RNN``/``LSTM``/``GRU``/``MLP`` that
    made it (its kind, activation and weights); unit: recurrent models: a hidden unit in
    ``[0, H)``; MLP: a unit in ``[0, widest layer)``, shown as the last unit of a narrower layer;
    context: other records of the same iteration and options (see the module docstring).
    Raises ``ValueError`` naming ``unit``, ``record``, ``model`` or ``context`` when one is wrong.
    """
    kind = _kind(model)
    ctx = _collect(context)
    if kind == "mlp":
        if isinstance(record, (ForwardStep, BackwardStep)):
            raise ValueError(f"record: a {type(record).__name__} comes from a recurrent model, not an MLP")
        widest = max(model.layer_sizes[1:])
        j = _unit(unit, widest, "unit")
    else:
        if isinstance(record, (LayerForward, LayerBackward)):
            raise ValueError(f"record: a {type(record).__name__} comes from an MLP, not a {kind.upper()}")
        j = _unit(unit, model.hidden_size, "hidden unit")
    handlers = {
        ForwardStep: {"rnn": _rnn_forward, "lstm": _lstm_forward, "gru": _gru_forward},
        BackwardStep: {"rnn": _rnn_backward, "lstm": _lstm_backward, "gru": _gru_backward},
        LayerForward: {"mlp": _mlp_forward},
        LayerBackward: {"mlp": _mlp_backward},
        LossStep: dict.fromkeys(KINDS, _loss),
        GradientStep: dict.fromkeys(KINDS, _gradients),
        UpdateStep: dict.fromkeys(KINDS, _update),
    }
    for cls, by_kind in handlers.items():
        if type(record) is cls:
            return by_kind[kind](record, model, j, ctx)
    raise ValueError(f"record: expected a step record from engine.records, got {type(record).__name__}")


__all__ = ["EXAMPLE", "Explanation", "Term", "explain", "fmt", "sub"]
