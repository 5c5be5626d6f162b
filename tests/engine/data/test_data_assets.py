"""Asset paths (source checkout and installed layout) and the shipped files themselves."""

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import bpttviz.engine.data.paths as paths_module
from bpttviz.engine.data import CORPORA, asset_path, load_corpus, load_names

ROOT = Path(__file__).resolve().parents[3]


def test_asset_path_finds_the_top_level_assets_directory():
    assert asset_path() == ROOT / "assets"
    assert asset_path("corpora", "names.txt") == ROOT / "assets" / "corpora" / "names.txt"
    assert asset_path("corpora/names.txt").is_file()


def test_missing_asset_is_a_clear_file_not_found():
    with pytest.raises(FileNotFoundError, match=r"asset 'corpora/nope\.txt' not found"):
        asset_path("corpora", "nope.txt")


@pytest.mark.parametrize("part", ["..", "../secrets", "/etc/passwd", ""])
def test_escaping_parts_are_refused(part):
    with pytest.raises(ValueError, match="part"):
        asset_path(part)


def test_installed_layout_assets_next_to_engine(tmp_path):
    # Mimic site-packages after installing the wheel: engine/ and assets/ side by side.
    site = tmp_path / "site-packages"
    (site / "engine" / "data").mkdir(parents=True)
    (site / "engine" / "__init__.py").write_text("")
    (site / "engine" / "data" / "__init__.py").write_text("")
    shutil.copy(paths_module.__file__, site / "engine" / "data" / "paths.py")
    (site / "assets" / "corpora").mkdir(parents=True)
    (site / "assets" / "corpora" / "x.txt").write_text("hi")
    code = "import engine.data.paths as p; print(p.asset_path('corpora', 'x.txt').read_text()); print(p.__file__)"
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=site, capture_output=True, text=True, check=True
    ).stdout.split("\n")
    assert out[0] == "hi"
    assert Path(out[1]).resolve().is_relative_to(site.resolve())


def test_missing_assets_directory_is_reported(tmp_path, monkeypatch):
    monkeypatch.setattr(paths_module, "_ASSETS_DIR", tmp_path / "assets")
    with pytest.raises(FileNotFoundError, match=r"assets directory was not found"):
        paths_module.asset_path("corpora", "names.txt")


def test_shipped_data_is_small():
    total = sum(f.stat().st_size for sub in ("corpora", "datasets") for f in (ROOT / "assets" / sub).iterdir())
    assert total < 400_000


def test_names_are_lowercase_unique_and_ranked():
    names = load_names()
    assert 3000 <= len(names) <= 6000
    assert len(set(names)) == len(names)
    assert all(n.isascii() and n.isalpha() and n.islower() for n in names)
    assert names[:4] == ["james", "mary", "john", "patricia"]  # interleaved by rank


def test_plays_are_plain_text_of_the_agreed_size():
    sizes = [asset_path("corpora", CORPORA[k]).stat().st_size for k in ("tempest", "midsummer")]
    assert 100_000 <= sum(sizes) <= 200_000
    tempest = load_corpus("tempest")
    assert tempest.startswith("THE TEMPEST") and "Let your indulgence set me free." in tempest
    assert "\r" not in tempest


def test_provenance_covers_every_shipped_file():
    text = asset_path("PROVENANCE.md").read_text()
    for sub in ("corpora", "datasets"):
        for f in (ROOT / "assets" / sub).iterdir():
            assert f"{sub}/{f.name}" in text
    assert "CC BY 4.0" in text and "Alpaydin" in text


def test_bad_corpus_name():
    with pytest.raises(ValueError, match=r"name must be one of .*got 'hamlet'"):
        load_corpus("hamlet")
