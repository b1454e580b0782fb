"""The shape of the package: no import cycles, and one hand-over to the reference path.

Dependencies flow one way (the facade below the CLI, gateway and bench; nothing imports
back up), and every native front end hands the calls the core leaves to PyJWT's sequence
over through ``turbojwt._reference.decode`` alone.
"""

from __future__ import annotations

import ast
from pathlib import Path

import turbojwt
from turbojwt import _native, _reference

PACKAGE = Path(turbojwt.__file__).parent


def _modules() -> dict[str, Path]:
    mods: dict[str, Path] = {}
    for path in sorted(PACKAGE.rglob("*.py")) + sorted(PACKAGE.rglob("*.pyi")):
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        mods.setdefault(name, path)
    return mods


def _imports(name: str, path: Path, mods: dict[str, Path]) -> set[str]:
    """The package's modules that `name` imports, anywhere in it (functions included)."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    out = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            out.update(a.name for a in node.names if a.name in mods)
        elif isinstance(node, ast.ImportFrom):
            base = package
            for _ in range(node.level - 1):
                base = base.rpartition(".")[0]
            target = (f"{base}.{node.module}" if node.module else base) if node.level else node.module or ""
            for alias in node.names:
                sub = f"{target}.{alias.name}"
                out.add(sub if sub in mods else target)
    return {m for m in out if m in mods and m != name}


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def test_no_import_cycles() -> None:
    mods = _modules()
    graph = {name: _imports(name, path, mods) for name, path in mods.items()}
    assert "turbojwt.batch" in graph and "turbojwt.api_jwt" in graph["turbojwt.batch"] | {"turbojwt.api_jwt"}
    assert _cycles(graph) == []


def test_the_cycle_finder_finds_cycles() -> None:
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert _cycles({"a": {"b"}, "b": set()}) == []


def test_one_hand_over_to_the_reference_path() -> None:
    # The reference sequence is reached from one place; only it sets the judged-at time.
    callers = {
        path.name
        for path in PACKAGE.rglob("*.py")
        if "_decode_complete_reference(" in path.read_text(encoding="utf-8") and path.name != "api_jwt.py"
    }
    assert callers == {"_reference.py"}
    setters = {p.name for p in PACKAGE.rglob("*.py") if "_JUDGED_AT.set(" in p.read_text(encoding="utf-8")}
    assert setters == {"_reference.py"}
    # The batch part no longer hands tokens back to Python for a verdict.
    assert not hasattr(_native.BatchPart, "fallbacks") and not hasattr(_native.BatchPart, "resolve")
    assert callable(_reference.decode)
