"""The small public-domain corpora shipped in ``assets/corpora/`` (see assets/PROVENANCE.md)."""

from __future__ import annotations

from .paths import asset_path
from .text import load_text

#: name -> file in assets/corpora/
CORPORA: dict[str, str] = {
    "names": "names.txt",  # 5,163 US first names (1990 census), lowercase, one per line
    "tempest": "tempest.txt",  # Shakespeare, The Tempest (~98 KB)
    "midsummer": "midsummer.txt",  # Shakespeare, A Midsummer Night's Dream (~96 KB)
}


def load_corpus(name: str) -> str:
    """Return the text of a shipped corpus (``"names"``, ``"tempest"`` or ``"midsummer"``)."""
    if name not in CORPORA:
        raise ValueError(f"name must be one of {sorted(CORPORA)}, got {name!r}")
    return load_text(asset_path("corpora", CORPORA[name]))


def load_names() -> list[str]:
    """Return the shipped first names as a list (ranked, lowercase, ``a``-``z`` only).

    For a character model over names, ``load_corpus("names")`` gives the same names as one
    text where ``"\\n"`` ends every name.
    """
    return load_corpus("names").split()
