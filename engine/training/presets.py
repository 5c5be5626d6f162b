"""Presets: named configurations stored as JSON data files in ``assets/presets/``."""

from __future__ import annotations

import json
from pathlib import Path

from ..data.paths import asset_path
from .config import Config, load_config_file


def presets_dir() -> Path:
    return asset_path("presets")


def list_presets() -> list[str]:
    """Names of the shipped presets, sorted."""
    return sorted(p.stem for p in presets_dir().glob("*.json"))


def preset_path(name: str) -> Path:
    """A shipped preset by name, or a path to a user's own preset file."""
    if isinstance(name, str) and (name.endswith(".json") or "/" in name or "\\" in name):
        return Path(name).expanduser()
    names = list_presets()
    if name not in names:
        raise ValueError(f"preset: unknown preset {name!r}; available: {', '.join(names)}")
    return presets_dir() / f"{name}.json"


def load_preset(name: str) -> Config:
    """The validated ``Config`` of a preset (name or file path)."""
    path = preset_path(name)
    if not path.is_file():
        raise ValueError(f"preset: no such file {str(path)!r}")
    return load_config_file(path, f"preset {path.name}")


def preset_summary(name: str) -> str:
    """One line: the preset's name and title."""
    data = json.loads(preset_path(name).read_text(encoding="utf-8"))
    return f"{name:18s} {data.get('title', '')}"
