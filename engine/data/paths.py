"""Find the shipped data files (``assets/``).

This is the one place that knows where ``assets/`` lives. In the source tree ``assets/`` and
``engine/`` are top-level folders side by side; the wheel installs them as ``bpttviz/assets`` and
``bpttviz/engine`` (so site-packages gains only ``bpttviz``). Either way ``assets/`` is the sibling
of the engine package, which is what ``_ASSETS_DIR`` computes.
"""

from __future__ import annotations

from pathlib import Path, PurePosixPath

# engine/data/paths.py -> engine/data -> engine -> the folder that holds engine/ and assets/
_ASSETS_DIR = Path(__file__).resolve().parent.parent.parent / "assets"


def asset_path(*parts: str) -> Path:
    """Return the path of a shipped asset, e.g. ``asset_path("corpora", "names.txt")``.

    ``parts`` are relative path components below ``assets/`` (a part may itself contain ``/``).
    With no parts the ``assets/`` directory itself is returned.

    Raises ``ValueError`` for an absolute part or one containing ``..`` (assets never live
    outside ``assets/``), and ``FileNotFoundError`` naming the full path if the asset (or the
    ``assets/`` directory itself) does not exist.
    """
    for part in parts:
        if not isinstance(part, str) or not part:
            raise ValueError(f"asset_path: each part must be a non-empty str, got {part!r}")
        pure = PurePosixPath(part.replace("\\", "/"))
        if pure.is_absolute() or ".." in pure.parts:
            raise ValueError(
                f"asset_path: part {part!r} is not allowed; parts must be relative paths inside assets/ without '..'"
            )
    if not _ASSETS_DIR.is_dir():
        raise FileNotFoundError(
            f"the assets directory was not found at {_ASSETS_DIR}; expected it next to the "
            "engine package (in the source checkout or installed by the wheel)"
        )
    path = _ASSETS_DIR.joinpath(*parts)
    if not path.exists():
        raise FileNotFoundError(f"asset {'/'.join(parts)!r} not found: {path} does not exist")
    return path
