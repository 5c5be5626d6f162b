"""bpttviz: the Qt application. Imports ``engine``; the engine never imports this."""

import os
import sys

# The engine multiplies small matrices (a few hundred rows at most): BLAS threads only add
# start-up and hand-over costs, and on a machine with few cores they fight the GUI thread for the
# CPU (measured here: 5x slower training). One thread each, unless the user decided otherwise.
if "numpy" not in sys.modules:
    for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ.setdefault(_var, "1")

from bpttviz.engine import __version__  # noqa: E402

__all__ = ["__version__"]
