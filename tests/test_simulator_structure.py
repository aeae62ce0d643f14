"""The simulator's structure: no import cycle among its modules (TYPE_CHECKING imports
count too), and no module reads another object's private attributes."""

from __future__ import annotations

import ast
from pathlib import Path

import avatar_core.simulator

PACKAGE = "avatar_core.simulator"
FOLDER = Path(avatar_core.simulator.__file__).parent


def _trees() -> dict[str, ast.Module]:
    return {
        f"{PACKAGE}.{path.stem}" if path.stem != "__init__" else PACKAGE: ast.parse(
            path.read_text(encoding="utf-8"), filename=str(path)
        )
        for path in sorted(FOLDER.glob("*.py"))
    }


def import_graph(trees: dict[str, ast.Module]) -> dict[str, set[str]]:
    """module -> the package's modules it imports, wherever the import stands."""
    graph: dict[str, set[str]] = {name: set() for name in trees}
    for name, tree in trees.items():
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                targets = [node.module] + [f"{node.module}.{a.name}" for a in node.names]
            else:
                continue
            graph[name] |= {t for t in targets if t in trees and t != name}
    return graph


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import cycle as a path of module names, or None."""
    done: set[str] = set()

    def visit(node: str, path: list[str]) -> list[str] | None:
        if node in path:
            return [*path[path.index(node) :], node]
        if node in done:
            return None
        for target in sorted(graph[node]):
            cycle = visit(target, [*path, node])
            if cycle:
                return cycle
        done.add(node)
        return None

    for start in sorted(graph):
        cycle = visit(start, [])
        if cycle:
            return cycle
    return None


def test_the_cycle_finder_sees_a_cycle():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None


def test_the_import_graph_counts_type_checking_imports():
    tree = ast.parse(
        "from typing import TYPE_CHECKING\n"
        "if TYPE_CHECKING:\n"
        f"    from {PACKAGE}.service import Simulator\n"
    )
    graph = import_graph({f"{PACKAGE}.routes": tree, f"{PACKAGE}.service": ast.parse("")})
    assert graph[f"{PACKAGE}.routes"] == {f"{PACKAGE}.service"}


def test_the_simulator_has_no_import_cycle():
    graph = import_graph(_trees())
    assert f"{PACKAGE}.routes" in graph[f"{PACKAGE}.service"]  # the graph is really read
    assert find_cycle(graph) is None


def test_no_module_reads_another_objects_private_attributes():
    reads = []
    for name, tree in _trees().items():
        for node in ast.walk(tree):
            if not isinstance(node, ast.Attribute) or not node.attr.startswith("_"):
                continue
            if node.attr.startswith("__") or (
                isinstance(node.value, ast.Name) and node.value.id in ("self", "cls")
            ):
                continue
            reads.append(f"{name}:{node.lineno} .{node.attr}")
    assert reads == []
