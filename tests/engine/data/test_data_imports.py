"""engine.data runs on NumPy alone: no Qt, torch or scikit-learn get imported."""

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]


def test_engine_data_imports_no_gui_or_heavy_frameworks():
    code = (
        "import sys, bpttviz.engine.data; "
        "bad = [m for m in sys.modules if m.split('.')[0] in "
        "{'PySide6', 'pyqtgraph', 'torch', 'sklearn', 'scipy'} "
        "or (m.startswith('bpttviz.') and not m.startswith('bpttviz.engine'))]; "
        "print(','.join(bad))"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""
