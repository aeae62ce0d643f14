"""The layout keeps its promises: no import cycle, the core never imports gradio, short
functions, a small package root, and a thin entry. Read from the source, not imported."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
CORE = ROOT / "avatar_core"
MAX_FUNCTION_LINES = 100
MAX_ROOT_MODULES = 10
MAX_APP_LINES = 250


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _sources(*folders: Path) -> list[Path]:
    found: list[Path] = []
    for folder in folders:
        found += sorted(folder.rglob("*.py")) if folder.is_dir() else [folder]
    return [path for path in found if path.exists()]


def _imports(path: Path) -> set[str]:
    """Every module `path` imports, at any depth (TYPE_CHECKING blocks and functions too)."""
    package = _module_name(path).rsplit(".", 1)[0] if path.name != "__init__.py" else None
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = (package or _module_name(path)).split(".")
                anchor = anchor[: len(anchor) - (node.level - 1)]
                base = ".".join(anchor + ([base] if base else []))
            names.add(base)
            names.update(f"{base}.{alias.name}" for alias in node.names)
    return names


def _core_graph() -> dict[str, set[str]]:
    modules = {_module_name(p): p for p in _sources(CORE)}
    return {name: {m for m in _imports(path) if m in modules} for name, path in modules.items()}


def _cycle(graph: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}
    trail: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        trail.append(node)
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                return [*trail[trail.index(nxt) :], nxt]
            if nxt not in state and (found := visit(nxt)):
                return found
        trail.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (found := visit(node)):
            return found
    return None


def test_the_core_has_no_import_cycle():
    graph = _core_graph()
    # a package imports what its __init__ re-exports; that is not a cycle of modules
    for name in graph:
        graph[name] = {m for m in graph[name] if not name.startswith(m + ".")}
    assert _cycle(graph) is None, " -> ".join(_cycle(graph) or [])


def test_the_cycle_finder_finds_a_cycle():
    assert _cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]


def test_the_core_never_imports_gradio():
    for path in _sources(CORE):
        assert not any(m.split(".")[0] == "gradio" for m in _imports(path)), path


@pytest.mark.parametrize("folder", ["avatar_core", "ui", "app.py"])
def test_no_function_is_longer_than_a_hundred_lines(folder):
    long = []
    for path in _sources(ROOT / folder):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                lines = node.end_lineno - node.lineno + 1
                if lines > MAX_FUNCTION_LINES:
                    long.append(f"{path.relative_to(ROOT)}:{node.lineno} {node.name} ({lines})")
    assert long == []


def test_the_package_root_holds_few_modules():
    root_modules = sorted(p.name for p in CORE.glob("*.py"))
    assert len(root_modules) <= MAX_ROOT_MODULES, root_modules


def test_app_py_is_a_thin_entry():
    lines = len((ROOT / "app.py").read_text().splitlines())
    assert lines <= MAX_APP_LINES, f"app.py has {lines} lines"


def _builtin_timeouts_caught(path: Path) -> list[int]:
    """Lines of `path` catching the builtin TimeoutError (`except`, `suppress`)."""
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ExceptHandler) and node.type is not None:
            caught = node.type.elts if isinstance(node.type, ast.Tuple) else [node.type]
        elif isinstance(node, ast.Call) and getattr(node.func, "attr", "") == "suppress":
            caught = node.args
        else:
            continue
        if any(isinstance(each, ast.Name) and each.id == "TimeoutError" for each in caught):
            found.append(node.lineno)
    return found


def test_asyncio_timeouts_are_caught_as_asyncio_timeout_error():
    """Python 3.10 (pyproject's floor): asyncio.wait_for raises asyncio.TimeoutError, which
    is the builtin TimeoutError only from 3.11 on."""
    wrong = {}
    for path in _sources(CORE, ROOT / "ui", ROOT / "app.py"):
        named = str(path.relative_to(ROOT))
        if "wait_for" not in path.read_text():
            continue
        if lines := _builtin_timeouts_caught(path):
            wrong[named] = lines
    assert not wrong
