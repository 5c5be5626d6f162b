"""The desktop menu entry: written under $XDG_DATA_HOME, valid per desktop-file-validate, removable."""

from __future__ import annotations

import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from bpttviz.cli import run
from bpttviz.commands import desktop_entry as desktop

pytestmark = pytest.mark.skipif(sys.platform in ("win32", "darwin"), reason="freedesktop menu entries are Linux-only")

SVG = "{http://www.w3.org/2000/svg}"


@pytest.fixture
def data_home(tmp_path, monkeypatch) -> Path:
    home = tmp_path / "data home"  # a space, as in many real home directories
    monkeypatch.setenv("XDG_DATA_HOME", str(home))
    return home


@pytest.fixture
def fake_launcher(tmp_path, monkeypatch) -> Path:
    """An installed-looking ``bpttviz`` script (this checkout may not be pip-installed)."""
    script = tmp_path / "venv" / "bin" / "bpttviz"
    script.parent.mkdir(parents=True)
    script.write_text("#!/bin/sh\nexit 0\n")
    script.chmod(0o755)
    monkeypatch.setattr(desktop, "launcher_command", lambda: [str(script)])
    return script


def validate(path: Path) -> None:
    tool = shutil.which("desktop-file-validate")
    if tool is None:
        pytest.skip("desktop-file-validate not installed (Debian/Ubuntu: apt-get install desktop-file-utils)")
    res = subprocess.run([tool, str(path)], capture_output=True, text=True)
    assert res.returncode == 0 and res.stdout.strip() == "" and res.stderr.strip() == "", res.stdout + res.stderr


def parse_entry(path: Path) -> dict[str, dict[str, str]]:
    groups: dict[str, dict[str, str]] = {}
    current = None
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.startswith("["):
            current = groups.setdefault(line.strip("[]"), {})
        elif "=" in line and current is not None:
            key, value = line.split("=", 1)
            assert key not in current, f"duplicate key {key}"
            current[key] = value
    return groups


def unquote_exec(value: str) -> list[str]:
    """The Desktop Entry Specification's reading of an Exec value: undo the string escapes,
    then split into arguments, honouring double quotes and their backslash escapes."""
    escapes = {"s": " ", "n": "\n", "t": "\t", "r": "\r", "\\": "\\"}
    unescaped, i = [], 0
    while i < len(value):
        c = value[i]
        if c == "\\" and i + 1 < len(value):
            unescaped.append(escapes.get(value[i + 1], "\\" + value[i + 1]))
            i += 2
        else:
            unescaped.append(c)
            i += 1
    text = "".join(unescaped)
    args, cur, quoted, i, started = [], [], False, 0, False
    while i < len(text):
        c = text[i]
        if quoted:
            if c == "\\" and i + 1 < len(text) and text[i + 1] in '"`$\\':
                cur.append(text[i + 1])
                i += 1
            elif c == '"':
                quoted = False
            else:
                cur.append(c)
        elif c == '"':
            quoted = started = True
        elif c == " ":
            if started:
                args.append("".join(cur))
                cur, started = [], False
        else:
            cur.append(c)
            started = True
        i += 1
    assert not quoted, "unbalanced quotes"
    if started:
        args.append("".join(cur))
    return [a.replace("%%", "%") for a in args]


def test_install_validate_and_uninstall(data_home, fake_launcher):
    written = desktop.install_desktop_entry()
    entry = data_home / "applications" / "io.github.bpttviz.bpttviz.desktop"
    icon = data_home / "icons" / "hicolor" / "scalable" / "apps" / "io.github.bpttviz.bpttviz.svg"
    assert written == [entry, icon] and entry.is_file() and icon.is_file()
    validate(entry)

    main = parse_entry(entry)["Desktop Entry"]
    assert main["Type"] == "Application" and main["Name"] == "bpttviz" and main["GenericName"] and main["Comment"]
    assert main["Categories"] == "Education;ComputerScience;ArtificialIntelligence;Qt;"
    assert main["Keywords"].endswith(";") and "BPTT" in main["Keywords"]
    assert main["Icon"] == desktop.APP_ID == entry.name.removesuffix(".desktop") == icon.stem
    assert main["StartupWMClass"] == desktop.WM_CLASS == "bpttviz"
    assert main["Terminal"] == "false"
    assert unquote_exec(main["Exec"]) == [str(fake_launcher)] and Path(main["TryExec"]).is_absolute()
    assert main["TryExec"] == str(fake_launcher)
    assert unquote_exec(parse_entry(entry)["Desktop Action lecture"]["Exec"]) == [str(fake_launcher), "--lecture"]

    root = ET.parse(icon).getroot()
    assert root.tag == f"{SVG}svg" and root.get("viewBox") == "0 0 128 128"
    assert root.find(f"{SVG}title").text == "bpttviz"
    assert icon.read_bytes() == desktop.icon_asset().read_bytes()

    assert desktop.install_desktop_entry() == written  # installing again just overwrites
    removed = desktop.uninstall_desktop_entry()
    assert removed == [entry, icon] and not entry.exists() and not icon.exists()
    assert desktop.uninstall_desktop_entry() == []  # nothing left: nothing to remove


def test_the_command_line_routes_to_it(data_home, fake_launcher, capsys):
    assert run(["--install-desktop-entry"]) == 0
    out = capsys.readouterr().out
    assert "wrote" in out and "io.github.bpttviz.bpttviz.desktop" in out
    assert run(["--uninstall-desktop-entry"]) == 0
    assert "removed" in capsys.readouterr().out
    assert not (data_home / "applications" / "io.github.bpttviz.bpttviz.desktop").exists()


@pytest.mark.parametrize("argv", [
    ["/opt/my apps/bin/bpttviz"],
    ["/home/o'brien/it \"is\" $HOME `x` 100%/back\\slash/python", "-m", "bpttviz"],
    ["/srv/a;b&c|d<e>f~g*h?i#j(k)/bin/bpttviz"],
])
def test_exec_is_quoted_per_the_spec(argv, data_home, monkeypatch):
    monkeypatch.setattr(desktop, "launcher_command", lambda: list(argv))
    monkeypatch.setattr(desktop, "_require_installed", lambda python: None)
    entry, _ = desktop.install_desktop_entry()
    validate(entry)
    main = parse_entry(entry)["Desktop Entry"]
    assert unquote_exec(main["Exec"]) == argv
    assert main["TryExec"].replace("\\\\", "\\") == argv[0]


def test_paths_a_menu_cannot_launch_are_refused(data_home, monkeypatch):
    monkeypatch.setattr(desktop, "launcher_command", lambda: ["/opt/new\nline/bpttviz"])
    with pytest.raises(ValueError, match="control characters"):
        desktop.install_desktop_entry()
    assert not (data_home / "applications").exists()


def test_launcher_is_absolute_and_uses_this_python():
    argv = desktop.launcher_command()
    assert Path(argv[0]).is_absolute()
    if len(argv) > 1:
        assert argv == [str(Path(sys.executable).absolute()), "-m", "bpttviz"]
    else:
        assert Path(argv[0]).name == "bpttviz" and Path(argv[0]).is_file()


def test_relative_xdg_data_home_is_ignored(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_DATA_HOME", "relative/share")
    monkeypatch.setenv("HOME", str(tmp_path))
    assert desktop.desktop_file_path() == tmp_path / ".local/share/applications/io.github.bpttviz.bpttviz.desktop"


def test_importing_desktop_does_not_import_qt():
    code = ("import sys, bpttviz.commands.desktop_entry; "
            "sys.exit(any(m.startswith(('PySide6', 'shiboken6')) for m in sys.modules))")
    root = Path(__file__).resolve().parents[1]
    assert subprocess.run([sys.executable, "-c", code], cwd=root).returncode == 0


def test_shipped_icon_is_valid_svg_and_legible_shape():
    root = ET.parse(desktop.icon_asset()).getroot()
    assert root.tag == f"{SVG}svg"
    assert root.get("width") == root.get("height") == "128"
    # Clean enough for any renderer: no scripts, no external references, no raster images.
    text = desktop.icon_asset().read_text(encoding="utf-8")
    for forbidden in ("<script", "<image", "xlink:href", "http://www.w3.org/1999/xlink", "<foreignObject"):
        assert forbidden not in text
