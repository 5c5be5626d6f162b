"""The gradient doctor: check anyone's hand-written backward pass and point at the bug.

``check(f, params, inputs, targets, seq_axis=...)`` takes the user's own
``f(params, inputs, targets) -> (loss, grads)`` (``params`` and ``grads`` dicts of arrays with the
same keys and shapes; any naming, row- or column-vector convention) and compares every gradient
with central differences (``engine.gradients.gradcheck``), then reads the *pattern* of the errors
(``hints``): which parameters are wrong, by what factor, from which sequence length on.

The modules, in the order a check runs:

- ``usercode``: calling the user's function safely on fresh copies (it may modify its arguments,
  raise, exit, return nonsense: every problem becomes one report line naming the user's file and
  line), and reading its source for the kind of loss it computes;
- ``sampling``: the time per call (the median of several calls) and which entries of a large
  parameter to check (steered to where the gradient lives: rows the input ids touch, entries with
  a non-zero gradient);
- ``compare``: central differences at those entries, the rounding noise of the user's loss and
  the precision it implies (float32 code gets a larger step and tolerance), and the verdict per
  parameter;
- ``sequences``: prefixes of the sequences and the search for the first wrong length;
- ``hints``: the recognisers, ranked, each with its own plain-language hint;
- ``report``: ``Report`` (the result, its text and its JSON form);
- ``checker``: ``check``, tying them together.

The caller's arrays are never touched: ``params`` are copied to float64 working arrays, and every
call of ``f`` gets fresh copies of the parameters, inputs and targets.
"""

from .checker import BUDGET, MAX_ENTRIES, SCAN_ENTRIES, check
from .compare import Settings
from .report import Entry, ParamCheck, Report
from .usercode import UserCodeError, describe_exception, loss_kind

__all__ = ["BUDGET", "MAX_ENTRIES", "SCAN_ENTRIES", "Entry", "ParamCheck", "Report", "Settings", "UserCodeError",
           "check", "describe_exception", "loss_kind"]
