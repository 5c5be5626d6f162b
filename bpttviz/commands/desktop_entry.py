"""The desktop menu entry: ``bpttviz --install-desktop-entry`` / ``--uninstall-desktop-entry``.

A wheel cannot install menu entries, so the app writes them itself, on request, into the user's
XDG data directory (``$XDG_DATA_HOME``, default ``~/.local/share``):

- ``applications/io.github.bpttviz.bpttviz.desktop``, from the template
  ``assets/bpttviz.desktop.in`` with an absolute ``Exec`` (the ``bpttviz`` script installed with
  this Python, or ``<python> -m bpttviz``), quoted as the Desktop Entry Specification requires;
- ``icons/hicolor/scalable/apps/io.github.bpttviz.bpttviz.svg``, the app icon.

For the desktop to match the running windows to this entry, the app must call
``QGuiApplication.setDesktopFileName(APP_ID)`` (the Wayland app id) and
``QGuiApplication.setApplicationName(WM_CLASS)`` (the X11 ``WM_CLASS`` class, which
``StartupWMClass`` names), and set its window icon from ``icon_asset()``.

This module never imports Qt.
"""

from __future__ import annotations

import importlib.metadata
import os
import re
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

from bpttviz.engine.data.paths import asset_path

__all__ = [
    "APP_ID", "WM_CLASS", "desktop_entry_text", "desktop_file_path", "exec_value", "icon_asset",
    "icon_install_path", "install_desktop_entry", "launcher_command", "uninstall_desktop_entry", "xdg_data_home",
]

#: reverse-DNS application id: the .desktop file's name, the icon's name, the Wayland app id
APP_ID = "io.github.bpttviz.bpttviz"
#: the X11 window class (``QGuiApplication.applicationName()``), named by ``StartupWMClass``
WM_CLASS = "bpttviz"

_TEMPLATE = "bpttviz.desktop.in"
_PLACEHOLDER = re.compile(r"@([A-Z]+)@")
# Characters that oblige an Exec argument to be quoted (Desktop Entry Specification, "The Exec key").
_RESERVED = frozenset(" \t\n\"'\\><~|&;$*?#()`")


def icon_asset() -> Path:
    """The shipped SVG app icon (for the window icon and for installing)."""
    return asset_path("icons", f"{APP_ID}.svg")


def xdg_data_home() -> Path:
    """``$XDG_DATA_HOME`` if set to an absolute path (the spec ignores relative ones), else
    ``~/.local/share``."""
    value = os.environ.get("XDG_DATA_HOME", "")
    return Path(value) if value and os.path.isabs(value) else Path.home() / ".local" / "share"


def desktop_file_path() -> Path:
    return xdg_data_home() / "applications" / f"{APP_ID}.desktop"


def icon_install_path() -> Path:
    return xdg_data_home() / "icons" / "hicolor" / "scalable" / "apps" / f"{APP_ID}.svg"


def launcher_command() -> list[str]:
    """The absolute command that starts this installation of bpttviz: the ``bpttviz`` script
    next to ``sys.executable`` (or in this interpreter's scripts directories), else
    ``[sys.executable, "-m", "bpttviz"]``."""
    python = Path(sys.executable).absolute()
    names = ("bpttviz.exe",) if sys.platform == "win32" else ("bpttviz",)
    dirs = [python.parent]
    for scheme in (None, f"{os.name}_user"):
        try:
            scripts = sysconfig.get_path("scripts", scheme) if scheme else sysconfig.get_path("scripts")
        except KeyError:
            continue
        if scripts:
            dirs.append(Path(scripts))
    for d in dirs:
        for name in names:
            candidate = d / name
            if candidate.is_file() and os.access(candidate, os.X_OK):
                return [str(candidate.absolute())]
    return [str(python), "-m", "bpttviz"]


def _check_text(value: str, what: str) -> str:
    if any(ord(c) < 32 or ord(c) == 127 for c in value):
        raise ValueError(f"desktop entry: the {what} {value!r} contains control characters; "
                         "a menu entry cannot launch it")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError(f"desktop entry: the {what} {value!r} is not valid UTF-8") from None
    return value


def _escape_string(value: str) -> str:
    """Escape a value of type string (the spec's first level: ``\\`` becomes ``\\\\``)."""
    return value.replace("\\", "\\\\")


def _quote_arg(arg: str) -> str:
    """Quote one Exec argument: inside double quotes, ``"``, `````, ``$`` and ``\\`` take a
    backslash; a literal ``%`` is written ``%%`` (it would start a field code)."""
    _check_text(arg, "program path")
    if arg and not any(c in _RESERVED for c in arg):
        quoted = arg
    else:
        quoted = '"' + "".join("\\" + c if c in '"`$\\' else c for c in arg) + '"'
    return quoted.replace("%", "%%")


def exec_value(argv: list[str]) -> str:
    """The ``Exec`` value for ``argv``: each argument quoted, then string-escaped (so a literal
    backslash inside a quoted argument ends up as four backslashes, as the spec says)."""
    return _escape_string(" ".join(_quote_arg(a) for a in argv))


def desktop_entry_text(argv: list[str] | None = None) -> str:
    """The ``.desktop`` file's text, from the template, for the command ``argv`` (default
    ``launcher_command()``)."""
    argv = argv or launcher_command()
    template = asset_path(_TEMPLATE).read_text(encoding="utf-8")
    values = {"EXEC": exec_value(argv), "TRYEXEC": _escape_string(_check_text(argv[0], "program path")),
              "ICON": APP_ID, "WMCLASS": WM_CLASS}

    def fill(m: re.Match[str]) -> str:
        if m.group(1) not in values:
            raise ValueError(f"desktop entry: unknown placeholder {m.group(0)} in {_TEMPLATE}")
        return values[m.group(1)]

    return _PLACEHOLDER.sub(fill, template)


def _write(path: Path, data: bytes) -> None:
    """Write via a temporary file and ``os.replace``: a menu never sees a half-written entry."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    try:
        tmp.write_bytes(data)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def _refresh_caches(applications: Path, hicolor: Path) -> None:
    """Tell the desktop about the change, where the tools exist; their absence is fine."""
    tool = shutil.which("update-desktop-database")
    if tool and applications.is_dir():
        _run_quietly([tool, "-q", str(applications)])
    tool = shutil.which("gtk-update-icon-cache")
    if tool and (hicolor / "icon-theme.cache").is_file():  # only refresh a cache that exists
        _run_quietly([tool, "-q", "-t", "-f", str(hicolor)])


def _run_quietly(cmd: list[str]) -> None:
    try:
        subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=30, check=False)
    except (OSError, subprocess.SubprocessError):
        pass


def _require_freedesktop() -> None:
    if sys.platform in ("win32", "darwin"):
        cmd = " ".join(launcher_command())
        where = ("a Start-menu shortcut" if sys.platform == "win32"
                 else "an alias in Applications, or keep it in the Dock while it runs")
        raise ValueError(f"desktop menu entries are a Linux (freedesktop) feature; on this system create "
                         f"{where} to: {cmd}")


def _require_installed(python: str) -> None:
    """A ``python -m bpttviz`` entry only works if bpttviz is installed for that Python (a menu
    does not start in a source checkout)."""
    try:
        importlib.metadata.distribution("bpttviz")
    except importlib.metadata.PackageNotFoundError:
        raise ValueError(f"bpttviz is not installed for {python} (it is running from a source folder), so a "
                         "menu entry could not start it: run 'pip install .' (or 'pip install -e .') "
                         "first, then 'bpttviz --install-desktop-entry'") from None


def install_desktop_entry() -> list[Path]:
    """Write the menu entry and the icon into ``$XDG_DATA_HOME``; returns the paths written.
    Installing again overwrites both (e.g. after moving to another virtual environment)."""
    _require_freedesktop()
    argv = launcher_command()
    if argv[1:] == ["-m", "bpttviz"]:
        _require_installed(argv[0])
    entry, icon = desktop_file_path(), icon_install_path()
    text = desktop_entry_text(argv)
    svg = icon_asset().read_bytes()
    _write(icon, svg)
    _write(entry, text.encode("utf-8"))
    _refresh_caches(entry.parent, icon.parents[2])
    return [entry, icon]


def uninstall_desktop_entry() -> list[Path]:
    """Remove the menu entry and the icon; returns the paths that were removed (none if they
    were not installed)."""
    _require_freedesktop()
    removed = []
    for path in (desktop_file_path(), icon_install_path()):
        try:
            path.unlink()
            removed.append(path)
        except FileNotFoundError:
            pass
    _refresh_caches(desktop_file_path().parent, icon_install_path().parents[2])
    return removed
