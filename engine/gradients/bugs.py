"""The bug lab's catalogue: classic mistakes in a hand-written backward pass (``BUGS`` describes
each).

A model's ``bugs`` attribute is a frozenset of these names; it is empty unless someone switches a
bug on, and every code path that honours one is marked ``# bug lab``. ``targets_wrong_axis`` is a
data mistake, applied where batches are built (the training session), not inside the model.
"""

from __future__ import annotations

BUGS: dict[str, str] = {
    "softmax_wrong_axis": "softmax normalised over the batch axis instead of the class axis",
    "targets_wrong_axis": "next-token targets shifted along the batch axis instead of time",
    "deriv_wrong_variable": "activation derivative evaluated at the pre-activation instead of "
    "the activation (1 - z² in place of 1 - h² for tanh)",
    "drop_dh_next": "the future's contribution dh_next is dropped",
    "overwrite_dh_next": "dh_next overwrites the output's contribution instead of adding to it",
    "softmax_elementwise": "element-wise softmax derivative p(1-p) used in place of p - y",
    "bias_not_summed": "bias gradients taken from the first example instead of summed over the batch",
}

#: Bugs that only make sense for recurrent models.
RECURRENT_ONLY = frozenset({"drop_dh_next", "overwrite_dh_next", "targets_wrong_axis"})


def check_bugs(bugs, recurrent: bool) -> frozenset[str]:
    """Validate a collection of bug names; ``ValueError`` naming any unknown one."""
    bugs = frozenset(bugs or ())
    allowed = set(BUGS) if recurrent else set(BUGS) - RECURRENT_ONLY
    unknown = sorted(bugs - allowed)
    if unknown:
        raise ValueError(f"bugs: unknown {', '.join(map(repr, unknown))}; allowed: {', '.join(sorted(allowed))}")
    return bugs
