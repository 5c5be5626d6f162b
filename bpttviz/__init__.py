"""bpttviz: the Qt application. Imports ``engine``; the engine never imports this."""

from engine import __version__

__all__ = ["__version__"]
