"""bpttviz: the Qt application and, inside it, the engine (``bpttviz.engine``, pure NumPy; it never
imports the application)."""

import os
import sys

# The engine multiplies small matrices (a few hundred rows at most): BLAS threads only add
# start-up and hand-over costs, and on a machine with few cores they fight the GUI thread for the
# CPU (measured here: 5x slower training). One thread each, unless the user decided otherwise.
if "numpy" not in sys.modules:
    for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ.setdefault(_var, "1")

try:
    from bpttviz.engine import __version__  # noqa: E402
except ModuleNotFoundError as _e:  # the source tree's bpttviz/ folder shadows the installed package
    if _e.name != "bpttviz.engine":
        raise
    raise ModuleNotFoundError(
        f"bpttviz was imported from its source folder ({__path__[0]}), which does not hold the engine: "
        "the wheel maps engine/ and assets/ into the package. Install it (pip install . or pip install -e .) "
        "and run it from outside the source folder, or with the installed `bpttviz` command.",
        name="bpttviz.engine") from None

__all__ = ["__version__"]
