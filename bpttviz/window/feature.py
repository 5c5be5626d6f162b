"""How a feature plugs into the main window.

A *feature* is a piece of the app that is not one of the window's own views: the classroom
(lecture mode, explain panel, scenarios, side by side, files), the gradient lab, attribution and
what-if, the preset-file opener, the restore offer. ``bpttviz.app`` assembles the window with its
features; the window builds each one (``feature_type(window)``) and keeps it in its registry.

What a feature may use of the window (its public API, nothing else):

- ``window.controller`` and its public methods and signals (``refresh(*views)``, ``notify()``,
  ``report(exc, where)``, ``bind(ViewBinding)``, ``message``, ``session_replaced``...);
- ``window.add_action(name, text, slot, keys, tip)``: a keyboard action (``window.act[name]``;
  ``key(modifiers, key)`` below makes a key sequence);
- ``window.add_dock(name, title, widget, beside=..., fallback=...)``: the one dock builder (a
  dock tabbed beside another, or where the user left it last time);
- ``window.add_toolbar_row(name, title, widget)``: a full-width row under the transport bar;
- ``window.menu(title)``: a top-level menu; ``window.docks``, ``window.act`` and the views;
- ``window.refresh_status()``, ``window.raise_view(name)``, ``window.track_dialog(box)``,
  ``window.show_error(...)``, ``window.restore_focus()``;
- ``window.feature(name)`` / ``window.part(name)``: another feature, or a named part of one
  (the classroom's ``"scenario"`` player, ``"explain"`` panel...), None when absent.

What the window asks of every feature (the ``Feature`` hooks below, with do-nothing defaults), in
the order the features were added:

- ``shortcut_rows()``: rows for the keyboard overview (``?``);
- ``apply_theme(theme)``: a new theme or zoom;
- ``holds_layout()``: True while the feature has laid the docks out itself (lecture mode), so the
  window's layout policy leaves them alone;
- ``layout_reset()``: View ▸ Reset layout has just put every dock back.

A feature never sets attributes on the window, and the window never looks a feature up by
attribute: parts are published through ``parts()`` and found with ``window.part(name)`` (for
scripts and tests, ``window.<part>`` reads the same registry).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from PySide6 import QtCore, QtGui


def key(*parts: Any) -> QtGui.QKeySequence:
    """A key sequence from modifiers and a key, e.g. ``key(Mod.ControlModifier, Key.Key_L)``
    (for ``window.add_action``'s ``keys``)."""
    return QtGui.QKeySequence(QtCore.QKeyCombination(*parts))


class Feature:
    """The hooks a window feature answers. Subclass it beside ``QtCore.QObject`` (Qt first:
    ``class Lab(QtCore.QObject, Feature)``); ``name`` is the registry key."""

    name: str = ""

    def parts(self) -> Mapping[str, Any]:
        """Named pieces other features (and scripts) may use: name -> object."""
        return {}

    def shortcut_rows(self) -> Sequence[tuple[str, str]]:
        """(keys, what they do) rows for the keyboard overview."""
        return ()

    def apply_theme(self, theme: Any) -> None:
        """Restyle the feature's own widgets (the window's views are done by the window)."""

    def holds_layout(self) -> bool:
        """True while the feature owns the dock layout (the window's policy then waits)."""
        return False

    def layout_reset(self) -> None:
        """Called after View ▸ Reset layout put the docks back in their groups."""


class FeatureRegistry:
    """The window's features, in the order they were added; parts looked up by name."""

    def __init__(self) -> None:
        self._features: dict[str, Feature] = {}

    def add(self, feature: Feature, replace: bool = False) -> Feature:
        """Register ``feature`` under its ``name``; ``replace``: in place of one of that name."""
        name = feature.name
        if not name:
            raise ValueError(f"feature {type(feature).__name__}: a feature needs a name")
        if name in self._features and not replace:
            raise ValueError(f"feature {name!r}: already added to this window")
        self._features[name] = feature
        return feature

    def get(self, name: str) -> Feature | None:
        return self._features.get(name)

    def part(self, name: str) -> Any | None:
        """The feature called ``name``, else the part called ``name`` of the first feature that
        publishes one, else None."""
        if name in self._features:
            return self._features[name]
        for f in self._features.values():
            found = f.parts().get(name)
            if found is not None:
                return found
        return None

    def __iter__(self) -> Iterator[Feature]:
        return iter(list(self._features.values()))

    def __contains__(self, name: object) -> bool:
        return name in self._features

    def __len__(self) -> int:
        return len(self._features)
