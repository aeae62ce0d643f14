"""The layout keeps its promises: no import cycle between modules nor between packages,
the core never imports gradio, short functions and classes, a thin studio, a small package
root, and a thin entry. Read from the source, not imported; each checker is shown to fail
on a small made-up package first."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
CORE = ROOT / "avatar_core"
MAX_FUNCTION_LINES = 80
MAX_CLASS_LINES = 300
MAX_ROOT_MODULES = 10
MAX_APP_LINES = 250
MAX_STUDIO_LINES = 400
CHECKED = ("avatar_core", "ui", "app.py")  # what the size and package checks read


def _module_name(path: Path, root: Path = ROOT) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _sources(*folders: Path) -> list[Path]:
    found: list[Path] = []
    for folder in folders:
        found += sorted(folder.rglob("*.py")) if folder.is_dir() else [folder]
    return [path for path in found if path.exists()]


def _imports(path: Path, root: Path = ROOT) -> set[str]:
    """Every module `path` imports, at any depth (TYPE_CHECKING blocks and functions too)."""
    name = _module_name(path, root)
    package = name.rsplit(".", 1)[0] if path.name != "__init__.py" else None
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = (package or name).split(".")
                anchor = anchor[: len(anchor) - (node.level - 1)]
                base = ".".join(anchor + ([base] if base else []))
            names.add(base)
            names.update(f"{base}.{alias.name}" for alias in node.names)
    return names


def _module_graph(root: Path, *folders: str) -> dict[str, set[str]]:
    """Which module imports which, among the modules under `folders` of `root`; a package
    importing what its __init__ re-exports is no edge."""
    modules = {_module_name(p, root): p for p in _sources(*(root / f for f in folders))}
    graph = {
        name: {m for m in _imports(path, root) if m in modules} for name, path in modules.items()
    }
    return {
        name: {m for m in edges if not name.startswith(m + ".")} for name, edges in graph.items()
    }


def _package_of(module: str, root: Path) -> str:
    """A module's package: a top folder's subpackage (`avatar_core.jobs`), a top package
    without subpackages (`ui`), or the module itself (`avatar_core.config`, `app`)."""
    parts = module.split(".")
    for depth in (2, 1):
        if len(parts) >= depth and (root.joinpath(*parts[:depth])).is_dir():
            has_subpackages = any(root.joinpath(*parts[:depth]).glob("*/__init__.py"))
            if depth == 2 or not has_subpackages:
                return ".".join(parts[:depth])
    return module


def _package_graph(root: Path, *folders: str) -> dict[str, set[str]]:
    """Which package imports which: an edge for every import that crosses packages."""
    graph: dict[str, set[str]] = {}
    for module, imported in _module_graph(root, *folders).items():
        here = graph.setdefault(_package_of(module, root), set())
        here.update(_package_of(m, root) for m in imported)
    for package, edges in graph.items():
        edges.discard(package)
    return graph


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


def _write(root: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)
    return root


def test_the_core_has_no_import_cycle():
    graph = _module_graph(ROOT, "avatar_core", "ui", "app.py")
    assert _cycle(graph) is None, " -> ".join(_cycle(graph) or [])


def test_no_cycle_between_packages():
    """`avatar_core.inputs`, `.storage`, `.provider`, `.jobs`, ..., the core's root modules
    and `ui` import one another one way only: each has one place in the layering."""
    graph = _package_graph(ROOT, *CHECKED)
    assert {"avatar_core.inputs", "avatar_core.storage", "avatar_core.jobs", "ui"} <= set(graph)
    assert _cycle(graph) is None, " -> ".join(_cycle(graph) or [])


def test_the_cycle_finder_finds_a_cycle():
    assert _cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]


def test_a_cycle_between_packages_is_found_where_modules_have_none(tmp_path):
    root = _write(
        tmp_path,
        {
            "core/__init__.py": "",
            "core/config.py": "",
            "core/low/__init__.py": "",
            "core/low/files.py": "from core.high.models import Request\n",
            "core/low/other.py": "",
            "core/high/__init__.py": "",
            "core/high/models.py": "from core import config\n",
            "core/high/client.py": "from core.low import other\n",
        },
    )
    assert _cycle(_module_graph(root, "core")) is None
    assert _cycle(_package_graph(root, "core")) == ["core.high", "core.low", "core.high"]
    (root / "core/low/files.py").write_text("")  # the import moved to where it belongs
    assert _cycle(_package_graph(root, "core")) is None


def test_the_core_never_imports_gradio():
    for path in _sources(CORE):
        assert not any(m.split(".")[0] == "gradio" for m in _imports(path)), path


FUNCTIONS = (ast.FunctionDef, ast.AsyncFunctionDef)


def _longer_than(limit: int, kinds: tuple[type, ...], *paths: Path) -> list[str]:
    """Every function or class (`kinds`) of `paths` over `limit` lines, as `file:line name (n)`."""
    long = []
    for path in paths:
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, kinds):
                lines = node.end_lineno - node.lineno + 1
                if lines > limit:
                    long.append(f"{path.name}:{node.lineno} {node.name} ({lines})")
    return long


def _body(lines: int) -> str:
    return "".join(f"        x{n} = {n}\n" for n in range(lines))


def test_the_size_checks_find_a_long_function_and_a_long_class(tmp_path):
    made = _write(
        tmp_path,
        {
            "fits.py": f"class Fits:\n    def f(self):\n{_body(MAX_FUNCTION_LINES - 1)}",
            "long.py": f"class Long:\n    def f(self):\n{_body(MAX_CLASS_LINES)}",
        },
    )
    fits, long = made / "fits.py", made / "long.py"
    assert _longer_than(MAX_FUNCTION_LINES, FUNCTIONS, fits) == []
    assert _longer_than(MAX_CLASS_LINES, (ast.ClassDef,), fits) == []
    assert _longer_than(MAX_FUNCTION_LINES, FUNCTIONS, long) == [
        f"long.py:2 f ({MAX_CLASS_LINES + 1})"
    ]
    assert _longer_than(MAX_CLASS_LINES, (ast.ClassDef,), long) == [
        f"long.py:1 Long ({MAX_CLASS_LINES + 2})"
    ]


@pytest.mark.parametrize("folder", CHECKED)
def test_no_function_is_longer_than_eighty_lines(folder):
    assert _longer_than(MAX_FUNCTION_LINES, FUNCTIONS, *_sources(ROOT / folder)) == []


@pytest.mark.parametrize("folder", CHECKED)
def test_no_class_is_longer_than_three_hundred_lines(folder):
    assert _longer_than(MAX_CLASS_LINES, (ast.ClassDef,), *_sources(ROOT / folder)) == []


def _line_count(path: Path) -> int:
    return len(path.read_text().splitlines())


def test_the_studio_is_a_thin_facade():
    """`Studio` holds no flow of its own: the flow, recovery, diagnostics and speech live
    in modules of their own beside it (`avatar_core/jobs/`)."""
    lines = _line_count(CORE / "jobs" / "studio.py")
    assert lines <= MAX_STUDIO_LINES, f"avatar_core/jobs/studio.py has {lines} lines"


def test_the_line_count_sees_a_file_over_the_studios_limit(tmp_path):
    made = _write(tmp_path, {"fat.py": "x = 1\n" * (MAX_STUDIO_LINES + 1), "thin.py": "x = 1\n"})
    assert _line_count(made / "fat.py") > MAX_STUDIO_LINES >= _line_count(made / "thin.py")


def test_the_package_root_holds_few_modules():
    root_modules = sorted(p.name for p in CORE.glob("*.py"))
    assert len(root_modules) <= MAX_ROOT_MODULES, root_modules


def test_app_py_is_a_thin_entry():
    lines = _line_count(ROOT / "app.py")
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
