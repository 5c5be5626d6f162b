"""The rooms and their contracts, read from the source:

- the engine never imports Qt, pyqtgraph or the app;
- presenters (pure Python/NumPy) never import Qt, pyqtgraph or a view;
- views (widgets that draw frames) never import the engine or the window layer (controller,
  main window, feature protocol);
- no two modules import each other, directly or through others (no import cycles);
- no module reaches into another module's private names (``x._name``), and window features
  plug in through ``bpttviz.window.feature``: no ``getattr(window, ...)`` look-ups, no attributes
  set on the window from outside.

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


# ------------------------------------------------------------------------------- private names
#: private names read across modules on purpose, each with its reason. Keys: (file, name).
PRIVATE_ALLOWED = {
    # pyqtgraph's LabelItem answers sizeHint from this dict and has no setter for it
    ("bpttviz/views/theme.py", "_sizeHint"): "pyqtgraph LabelItem size hint",
    # the recurrent models' per-step protocol, shared with the gradient tools that re-run single
    # steps (the decay curves, attribution, the gradient check); not part of the public model API
    **{(f"engine/gradients/{m}.py", n): "recurrent step protocol"
       for m, names in {"diagnostics": ("_batch", "_forward", "_state0", "_step_backward", "_options", "_cell_delta"),
                        "gradcheck": ("_batch", "_forward", "_state0", "_options"),
                        "attribution": ("_batch", "_forward", "_state0", "_step_backward", "_options", "_cell_delta",
                                        "_derivative", "_multipliers", "_tape", "_fw", "_separate_dah",
                                        "_backward_context", "_backstep")}.items()
       for n in names},
    ("engine/trace.py", "_tape"): "records' shared tape (one trace, one tape)",
    ("engine/training/scenario.py", "_iter"): "a task's data stream, replayed by the scenario's checks",
}


def _sources() -> list[Path]:
    out = [p for p in sorted((ROOT / "engine").rglob("*.py"))]
    out += [p for p in sorted((ROOT / "bpttviz").rglob("*.py"))
            if p.relative_to(ROOT).parts[1] not in ("engine", "assets")]  # the checkout's symlinks
    return out


def _is_self(node: ast.AST) -> bool:
    return (isinstance(node, ast.Name) and node.id in ("self", "cls")
            or isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "super")


def _own_private_names(tree: ast.AST) -> set[str]:
    """The private names a module defines: its functions and classes, what it assigns to
    ``self``/``cls`` and at module level, keywords, and ``__dict__`` keys it writes."""
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, ast.Attribute) and isinstance(node.ctx, ast.Store) and _is_self(node.value):
            names.add(node.attr)
        elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            names.add(node.id)
        elif isinstance(node, ast.keyword) and node.arg:  # rec.__dict__.update(_tape=...)
            names.add(node.arg)
        elif isinstance(node, ast.Subscript) and isinstance(node.slice, ast.Constant) \
                and isinstance(node.slice.value, str):  # d["_tape"] = ...
            names.add(node.slice.value)
    return {n for n in names if n.startswith("_")}


def _private_reads(path: Path) -> list[tuple[int, str, str]]:
    """(line, expression, name) of every ``x._name`` (or ``getattr(x, "_name")``) in the file whose
    ``x`` is not ``self``, ``cls`` or ``super()`` and whose ``_name`` the file does not define
    itself. Dunders are not private; ``_bpttviz_*`` names are the app's own tags on Qt and
    pyqtgraph objects."""
    tree = ast.parse(path.read_text(), str(path))
    own = _own_private_names(tree)
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute):
            obj, name = node.value, node.attr
        elif (isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
              and node.func.id in ("getattr", "hasattr", "setattr", "delattr") and len(node.args) >= 2
              and isinstance(node.args[1], ast.Constant) and isinstance(node.args[1].value, str)):
            obj, name = node.args[0], node.args[1].value
        else:
            continue
        if not name.startswith("_") or name.endswith("__") or name.startswith("_bpttviz_"):
            continue
        if _is_self(obj) or name in own:
            continue
        found.append((node.lineno, ast.unparse(node), name))
    return found


def test_no_module_reads_another_modules_private_names():
    """``x._name`` is a module's own business: another module (a feature calling the window's
    ``_action``, the app sizing the window's docks through ``_size_docks``, a file restore writing
    the controller's ``_spectrum``) uses the public method instead."""
    bad, used = [], set()
    for p in _sources():
        rel = p.relative_to(ROOT).as_posix()
        for line, expr, name in _private_reads(p):
            if (rel, name) in PRIVATE_ALLOWED:
                used.add((rel, name))
            else:
                bad.append(f"{rel}:{line}: {expr}")
    assert bad == []
    assert set(PRIVATE_ALLOWED) - used == set(), "allowed exceptions no longer needed: remove them"


WINDOW_NAMES = ("window", "self.window", "w", "win")


def test_features_plug_in_through_the_protocol():
    """No ``getattr``/``hasattr``/``setattr`` on the window (features are found with
    ``window.feature(name)`` / ``window.part(name)``, and the window asks its features through the
    hooks of ``bpttviz.window.feature``), and no module sets an attribute on the window."""
    bad = []
    for p in _sources():
        rel = p.relative_to(ROOT).as_posix()
        if not rel.startswith("bpttviz/"):
            continue
        for node in ast.walk(ast.parse(p.read_text(), str(p))):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.args \
                    and node.func.id in ("getattr", "hasattr", "setattr"):
                target = ast.unparse(node.args[0])
                if target in WINDOW_NAMES or (rel == "bpttviz/window/main_window.py" and target == "self"):
                    bad.append(f"{rel}:{node.lineno}: {ast.unparse(node)}")
            targets = (node.targets if isinstance(node, ast.Assign)
                       else [node.target] if isinstance(node, (ast.AugAssign, ast.AnnAssign)) else [])
            for t in targets:
                for sub in (t.elts if isinstance(t, ast.Tuple) else [t]):
                    if isinstance(sub, ast.Attribute) and ast.unparse(sub.value) in WINDOW_NAMES:
                        bad.append(f"{rel}:{node.lineno}: {ast.unparse(sub)} = ...")
    assert bad == []


def test_the_private_name_check_sees_what_it_should(tmp_path):
    """The checks above on a small module: cross-module private reads are caught; self, cls,
    super(), dunders and the module's own private names are not."""
    f = tmp_path / "m.py"
    f.write_text("class A:\n    def _own(self):\n        return self._x, cls._y, super()._z, type(self).__name__\n"
                 "def f(w, a):\n    w._action('x')\n    a._x = getattr(w, '_shown', None)\n"
                 "    return a._own(), w.public, w._bpttviz_tag\n")
    assert sorted((line, name) for line, _e, name in _private_reads(f)) == [(5, "_action"), (6, "_shown"), (6, "_x")]
