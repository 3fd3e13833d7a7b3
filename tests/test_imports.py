"""The package's import graph: no cycle, and imports between sub-packages run one way.

A deferred import hides a cycle from Python's loader but not from a reader: the two modules still
need each other. This walks every module's ``import`` statements with ``ast`` (top-level and
function-level alike), fails on any cycle, naming it, and checks the layering the tree shows:

    shared basics (config, data, text, model, errors, ...)  <-  serving  <-  evaluation  <-  training
                                                               serving  <-  scale, sharing

``cli`` and the package's ``__init__`` sit on top and may import anything; nothing imports them.

.venv/bin/python -m pytest tests/test_imports.py -q
"""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "src" / "imdb_sentiment"
# What each sub-package may import besides itself and the shared basics at the top of the package.
MAY_IMPORT = {
    "serving": set(),
    "evaluation": {"serving"},
    "scale": {"serving"},
    "sharing": {"serving"},
    "training": {"serving", "evaluation", "scale"},
}
ENTRY_POINTS = {"cli", "__init__", "__main__"}


def module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE).with_suffix("").parts)
    if parts[-1] == "__init__" and len(parts) > 1:
        parts.pop()
    return ".".join(parts)


def imported_modules(path: Path) -> set[str]:
    """Package modules (dotted, below ``imdb_sentiment``) that ``path`` imports anywhere in its body."""
    me = module_name(path).split(".")
    package = me if path.name == "__init__.py" else me[:-1]
    names = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[: len(package) - (node.level - 1)]
            elif node.module and node.module.startswith("imdb_sentiment."):
                base, node_module = [], node.module.split(".", 1)[1]
                names.add(node_module)
                names.update(f"{node_module}.{alias.name}" for alias in node.names)
                continue
            else:
                continue
            stem = base + (node.module.split(".") if node.module else [])
            if stem:
                names.add(".".join(stem))
            names.update(".".join([*stem, alias.name]) for alias in node.names)
        elif isinstance(node, ast.Import):
            names.update(a.name.split(".", 1)[1] for a in node.names if a.name.startswith("imdb_sentiment."))
    return names


def import_graph() -> dict[str, set[str]]:
    modules = {module_name(path): path for path in PACKAGE.rglob("*.py") if path.stem != "__main__"}
    modules.pop("__init__", None)
    return {name: imported_modules(path) & set(modules) - {name} for name, path in modules.items()}


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One cycle as [a, b, ..., a], or None."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for child in sorted(graph.get(node, ())):
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


def layer(module: str) -> str:
    top = module.split(".")[0]
    if top in MAY_IMPORT or top in ENTRY_POINTS:
        return top
    return "basics"


def backward_imports(graph: dict[str, set[str]]) -> list[str]:
    """Every import that runs against the layering, as 'importer -> imported'."""
    wrong = []
    for module, imports in graph.items():
        source = layer(module)
        if source in ENTRY_POINTS:
            continue
        allowed = {"basics", source} | MAY_IMPORT.get(source, set())
        wrong += [f"{module} -> {target}" for target in sorted(imports) if layer(target) not in allowed]
    return wrong


def test_the_walker_sees_function_level_and_relative_imports_and_finds_cycles():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None
    # `from ..training.train import train` inside run_train, two levels up from cli/training.py
    assert "training.train" in imported_modules(PACKAGE / "cli" / "training.py")
    assert "serving.engines" in imported_modules(PACKAGE / "serving" / "classifier.py")


def test_the_layer_rule_catches_an_import_that_runs_back_up():
    graph = {"serving.app": {"training.train"}, "training.train": {"serving.classifier", "config"}}
    assert backward_imports(graph) == ["serving.app -> training.train"]


def test_no_module_imports_itself_back_through_others():
    graph = import_graph()
    assert len(graph) > 30
    cycle = find_cycle(graph)
    assert cycle is None, "import cycle: " + " -> ".join(cycle)


def test_imports_between_sub_packages_run_one_way():
    assert backward_imports(import_graph()) == []
