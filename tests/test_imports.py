"""The package's import graph has no cycle, counting imports inside functions too.

A deferred import hides a cycle from Python's loader but not from a reader: the two modules still
need each other. This walks every module's ``import`` statements with ``ast`` (top-level and
function-level alike) and fails on any cycle, naming it.

.venv/bin/python -m pytest tests/test_imports.py -q
"""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "src" / "imdb_sentiment"


def imported_modules(path: Path) -> set[str]:
    """Package modules that ``path`` imports anywhere in its body, by module name."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom):
            if node.level == 1 and node.module:  # from .x import y
                names.add(node.module.split(".")[0])
            elif node.level == 1:  # from . import x, y
                names.update(alias.name for alias in node.names)
            elif node.module and node.module.startswith("imdb_sentiment."):
                names.add(node.module.split(".")[1])
        elif isinstance(node, ast.Import):
            names.update(a.name.split(".")[1] for a in node.names if a.name.startswith("imdb_sentiment."))
    return names


def import_graph() -> dict[str, set[str]]:
    modules = {path.stem: path for path in PACKAGE.glob("*.py") if path.stem not in ("__init__", "__main__")}
    return {name: imported_modules(path) & set(modules) - {name} for name, path in modules.items()}


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One cycle as [a, b, ..., a], or None."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for child in sorted(graph[node]):
            if state.get(child) == 1:
                return path[path.index(child) :] + [child]
            if child not in state and (cycle := visit(child)):
                return cycle
        path.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (cycle := visit(node)):
            return cycle
    return None


def test_the_walker_sees_function_level_imports_and_finds_cycles():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None
    assert "train" in imported_modules(PACKAGE / "cli.py")  # `from .train import train` inside run_train


def test_no_module_imports_itself_back_through_others():
    graph = import_graph()
    assert len(graph) > 15
    cycle = find_cycle(graph)
    assert cycle is None, "import cycle: " + " -> ".join(cycle)
