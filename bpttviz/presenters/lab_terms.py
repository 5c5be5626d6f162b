"""What the gradient lab's views show, in the engine's terms: the catalogue of classic mistakes
the bug lab can switch on (name -> one-line description), and the doctor's ``Report`` (per
parameter: relative errors, analytic - numerical maps, the first bad sequence length, hints),
which the gradient-check view draws as it is.

The views read these names from here, so they never import the engine.
"""

from __future__ import annotations

from bpttviz.engine.gradients.bugs import BUGS
from bpttviz.engine.gradients.doctor import Report

__all__ = ["BUGS", "Report"]
