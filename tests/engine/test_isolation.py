"""The engine must never import Qt, pyqtgraph or the app: only ``bpttviz`` itself (a package
with no imports of its own beyond the engine) and ``bpttviz.engine.*`` may be loaded."""

import subprocess
import sys


def test_importing_engine_loads_no_qt():
    code = (
        "import sys, bpttviz.engine as engine, bpttviz.engine.gradients.gradcheck, bpttviz.engine.nn.optim\n"
        "import pkgutil, importlib\n"
        "for m in pkgutil.walk_packages(engine.__path__, 'bpttviz.engine.'):\n"
        "    importlib.import_module(m.name)\n"
        "bad = sorted(m for m in sys.modules if m.split('.')[0] in ('PySide6', 'pyqtgraph', 'shiboken6')\n"
        "             or (m.startswith('bpttviz.') and not m.startswith('bpttviz.engine')))\n"
        "print(bad)\n"
        "sys.exit(1 if bad else 0)\n"
    )
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert res.returncode == 0, res.stdout + res.stderr
