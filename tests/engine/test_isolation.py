"""The engine must never import Qt, pyqtgraph or the app (DESIGN.md)."""

import subprocess
import sys


def test_importing_engine_loads_no_qt():
    code = (
        "import sys, engine, engine.gradcheck, engine.optim, engine.trace\n"
        "import pkgutil, importlib\n"
        "for m in pkgutil.walk_packages(engine.__path__, 'engine.'):\n"
        "    importlib.import_module(m.name)\n"
        "bad = sorted(m for m in sys.modules if m.split('.')[0] in ('PySide6', 'pyqtgraph', 'bpttviz', 'shiboken6'))\n"
        "print(bad)\n"
        "sys.exit(1 if bad else 0)\n"
    )
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert res.returncode == 0, res.stdout + res.stderr
