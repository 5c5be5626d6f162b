"""What the wheel installs: only ``bpttviz`` at the top level, with the engine and the assets
inside it, and every source or data folder of the repository listed in pyproject.toml."""

from __future__ import annotations

import importlib.metadata
import sys
from pathlib import Path

import pytest

import bpttviz
import bpttviz.engine

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    tomllib = None

ROOT = Path(__file__).resolve().parents[1]
MAPPED = {"bpttviz": "bpttviz", "engine": "bpttviz.engine", "assets": "bpttviz.assets"}


def test_the_engine_and_the_assets_live_inside_bpttviz():
    pkg = Path(bpttviz.__file__).resolve().parent
    assert bpttviz.engine.__name__ == "bpttviz.engine"
    assert bpttviz.engine.data.asset_path("presets").is_dir()
    installed = importlib.metadata.files("bpttviz") or []
    tops = {p.parts[0] for p in installed if not p.parts[0].startswith("..")}
    if any(p.name.startswith("__editable__") for p in installed):  # pip install -e: files stay in the checkout
        assert (pkg / "__init__.py").is_file()
        return
    assert tops <= {"bpttviz"} | {t for t in tops if t.endswith(".dist-info")}, tops
    assert (pkg / "engine" / "models").is_dir() and (pkg / "assets" / "presets").is_dir()


@pytest.mark.skipif(tomllib is None, reason="tomllib needs Python 3.11")
def test_every_code_and_data_folder_is_packaged():
    cfg = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    listed = set(cfg["packages"])
    assert cfg["package-dir"] == {v: k for k, v in MAPPED.items()}
    wanted = set()
    for folder, package in MAPPED.items():
        for d in [ROOT / folder, *sorted(p for p in (ROOT / folder).rglob("*") if p.is_dir())]:
            if d.name == "__pycache__" or not any(f.is_file() for f in d.iterdir()):
                continue
            rel = d.relative_to(ROOT / folder).parts
            wanted.add(".".join((package, *rel)))
    assert wanted == listed, f"missing: {sorted(wanted - listed)}, extra: {sorted(listed - wanted)}"
