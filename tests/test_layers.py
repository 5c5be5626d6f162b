"""The rooms and their contracts, read from the source's import statements:

- the engine never imports Qt, pyqtgraph or the app;
- presenters (pure Python/NumPy) never import Qt, pyqtgraph or a view;
- views (widgets that draw frames) never import the engine or the controller's window layer;
- no two modules import each other, directly or through others (no import cycles).

Imports inside functions count too: a lazy import is still a dependency.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
QT = ("PySide6", "pyqtgraph", "shiboken6")


def _module_name(path: Path) -> str:
    rel = path.relative_to(ROOT).with_suffix("")
    parts = list(rel.parts)
    if parts[0] == "engine":  # the source tree's engine/ is bpttviz.engine once installed
        parts = ["bpttviz", *parts]
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def _modules() -> dict[str, Path]:
    out = {}
    for folder in ("bpttviz", "engine"):
        for p in (ROOT / folder).rglob("*.py"):
            out[_module_name(p)] = p
    return out


MODULES = _modules()


def _imports(name: str) -> set[str]:
    """Absolute names of everything the module imports (relative imports resolved)."""
    path = MODULES[name]
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - node.level + 1]
                mod = ".".join(base + ([node.module] if node.module else []))
            else:
                mod = node.module or ""
            found.add(mod)
            for a in node.names:  # `from pkg import module` imports the module
                if f"{mod}.{a.name}" in MODULES:
                    found.add(f"{mod}.{a.name}")
    return {_canonical(m) for m in found}


def _canonical(mod: str) -> str:
    return "bpttviz." + mod if mod == "engine" or mod.startswith("engine.") else mod


def _in(mod: str, *prefixes: str) -> bool:
    return any(mod == p or mod.startswith(p + ".") for p in prefixes)


def _violations(room: str, forbidden: tuple[str, ...]) -> list[str]:
    return [f"{name} imports {imp}" for name in sorted(MODULES) if _in(name, room)
            for imp in sorted(_imports(name)) if _in(imp, *forbidden)]


def test_the_engine_never_imports_qt_or_the_app():
    app = tuple(m for m in MODULES if _in(m, "bpttviz") and not _in(m, "bpttviz.engine") and m != "bpttviz")
    assert _violations("bpttviz.engine", QT + app) == []


def test_presenters_never_import_qt_or_views():
    assert _violations("bpttviz.presenters", QT + ("bpttviz.views",)) == []


def test_views_never_import_the_engine_or_the_controller():
    assert _violations("bpttviz.views", ("bpttviz.engine", "bpttviz.window.controller", "bpttviz.window")) == []


def test_no_import_cycles():
    graph = {m: {i for i in _imports(m) if i in MODULES and i != m and not m.startswith(i + ".")}
             for m in MODULES}
    # a package's __init__ importing its own submodules is how packages work, not a cycle
    cycles, state = [], {}

    def visit(m: str, stack: list[str]) -> None:
        state[m] = 1
        stack.append(m)
        for n in sorted(graph[m]):
            if state.get(n) == 1:
                cycle = stack[stack.index(n):] + [n]
                if not all(a.startswith(b + ".") or b.startswith(a + ".") for a, b in zip(cycle, cycle[1:])):
                    cycles.append(" -> ".join(cycle))
            elif n not in state:
                visit(n, stack)
        stack.pop()
        state[m] = 2

    for m in sorted(graph):
        if m not in state:
            visit(m, [])
    assert cycles == []


def test_the_engine_imports_itself_relatively():
    """Inside engine/, imports of the engine are relative: the folder reads as the pure-NumPy room it
    is, whatever name the wheel installs it under."""
    found = []
    for p in sorted((ROOT / "engine").rglob("*.py")):
        for node in ast.walk(ast.parse(p.read_text(), str(p))):
            names = ([a.name for a in node.names] if isinstance(node, ast.Import)
                     else [node.module or ""] if isinstance(node, ast.ImportFrom) and not node.level else [])
            found += [f"{p.relative_to(ROOT)}: {n}" for n in names if n == "bpttviz" or n.startswith("bpttviz.")]
    assert found == []
