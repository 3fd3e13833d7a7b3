"""The Gradio Space that serves a pushed model: README (front matter), app.py, requirements.txt and
the serving code.

    files = write_space_folder(Path("out/space"), "me/imdb", "me/imdb-demo")
    # out/space: README.md, app.py, requirements.txt, imdb_sentiment/... ; `python app.py` serves it

A Space installs only its requirements.txt, and imdb-sentiment is not on PyPI. Rather than a second,
self-contained app that would drift from this one, the Space ships a copy of the package modules the
app imports (:func:`serving_modules`: ``serving/``, ``cli/arguments.py`` and the basics they use),
so it serves exactly what ``python gradioApp.py`` serves. The package's own ``__init__`` and
``cli/__init__`` import training and every command; in the copy they are one-line stubs.
"""

from __future__ import annotations

import ast
import importlib.metadata
import re
import sys
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1]
# What the Space's app.py imports; everything these import (at any level) is copied with them.
APP_IMPORTS = ("serving.app", "serving.classifier", "serving.explain", "cli.arguments", "memory", "errors")
STUBBED = ("__init__.py", "cli/__init__.py")  # entry points that would pull in training
# Installed by the Space itself (the SDK's version), so not in requirements.txt.
PROVIDED_BY_SPACE = {"gradio"}
TEMPLATES = Path(__file__).resolve().parent / "templates"


def _module_path(dotted: str) -> Path | None:
    base = PACKAGE.joinpath(*dotted.split("."))
    for path in (base.with_suffix(".py"), base / "__init__.py"):
        if path.is_file():
            return path
    return None


def _import_nodes(tree: ast.AST, in_functions: bool) -> list[ast.AST]:
    """The import statements of ``tree``: all of them, or those run when the module is imported."""
    if in_functions:
        return [node for node in ast.walk(tree) if isinstance(node, (ast.Import, ast.ImportFrom))]
    found, todo = [], list(ast.iter_child_nodes(tree))
    while todo:
        node = todo.pop()
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            found.append(node)
        elif not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
            todo += ast.iter_child_nodes(node)
    return found


def _imports(path: Path) -> tuple[set[str], set[str]]:
    """(package modules it imports anywhere, third-party top-level names it needs). The serving
    code's function-level imports count (explanations, ONNX); the basics' do not: there they are
    training's (``datasets``, ``sklearn`` in data.py), which the app never calls."""
    rel = path.relative_to(PACKAGE).with_suffix("").parts
    package = list(rel[:-1])
    tree = ast.parse(path.read_text(encoding="utf-8"))
    serving_code = rel[0] in ("serving", "cli")
    needed = {id(node) for node in _import_nodes(tree, in_functions=serving_code)}
    ours, theirs = set(), set()
    for node in _import_nodes(tree, in_functions=True):
        if isinstance(node, ast.ImportFrom) and node.level:
            stem = package[: len(package) - (node.level - 1)] + (
                node.module.split(".") if node.module else []
            )
            ours.add(".".join(stem))
            ours.update(".".join([*stem, alias.name]) for alias in node.names)
            continue
        names = [node.module] if isinstance(node, ast.ImportFrom) else [a.name for a in node.names]
        for name in (n for n in names if n and n.startswith("imdb_sentiment.")):
            ours.add(name.split(".", 1)[1])
            if isinstance(node, ast.ImportFrom):
                ours.update(f"{name.split('.', 1)[1]}.{alias.name}" for alias in node.names)
        if id(node) in needed:
            theirs |= {name.split(".")[0] for name in names if name}
    theirs -= {"imdb_sentiment", "__future__", *sys.stdlib_module_names}
    return {name for name in ours if name and _module_path(name)}, theirs


def serving_modules() -> tuple[list[Path], set[str]]:
    """The package files the app needs (with the ``__init__`` of each package on the way) and the
    third-party modules they import."""
    todo = list(APP_IMPORTS)
    seen: set[Path] = set()
    third_party: set[str] = set()
    while todo:
        path = _module_path(todo.pop())
        if path is None or path in seen:
            continue
        seen.add(path)
        parents = path.relative_to(PACKAGE).parents
        todo += [".".join(parent.parts) for parent in parents if parent.parts]  # the packages on the way
        if path.relative_to(PACKAGE).as_posix() in STUBBED:
            continue
        ours, theirs = _imports(path)
        todo += sorted(ours)
        third_party |= theirs
    seen.add(PACKAGE / "__init__.py")
    return sorted(seen), third_party


def requirements(third_party: set[str]) -> list[str]:
    """requirements.txt lines: the project's own requirement (same version range) for each
    distribution the copied modules import; optional ones the project does not declare are left out."""
    declared = {}
    try:
        for line in importlib.metadata.requires("imdb-sentiment") or []:
            if "extra ==" not in line:
                declared[_normal(re.match(r"[A-Za-z0-9._-]+", line).group())] = line.split(";")[0].strip()
    except importlib.metadata.PackageNotFoundError:  # a checkout that was never installed
        pass
    distributions = importlib.metadata.packages_distributions()
    lines = {"huggingface_hub": declared.get("huggingface-hub", "huggingface_hub")}  # app.py's download
    for module in sorted(third_party):
        for dist in distributions.get(module, []):
            if _normal(dist) in declared and _normal(dist) not in PROVIDED_BY_SPACE:
                lines[_normal(dist)] = declared[_normal(dist)]
    return sorted(set(lines.values()), key=str.lower)


def _normal(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def readme(model_id: str, space_id: str) -> str:
    """The Space's README: its front matter tells the Hub to run app.py with this Gradio version."""
    title = space_id.split("/")[1].replace("-", " ").replace("_", " ")
    return (
        "---\n"
        f"title: {title}\n"
        "emoji: 🎬\n"
        "colorFrom: indigo\n"
        "colorTo: green\n"
        "sdk: gradio\n"
        f"sdk_version: {importlib.metadata.version('gradio')}\n"
        f'python_version: "{sys.version_info.major}.{sys.version_info.minor}"\n'
        "app_file: app.py\n"
        "pinned: false\n"
        "license: apache-2.0\n"
        f"models:\n- {model_id}\n"
        "---\n\n"
        f"# {title}\n\n"
        f"IMDb review sentiment with [{model_id}](https://huggingface.co/{model_id}), served by the\n"
        "imdb-sentiment project's Gradio app: scores for both classes, word highlights, a batch tab\n"
        "for CSV / TXT files and the model's measured metrics.\n\n"
        "Run it anywhere: `pip install -r requirements.txt gradio` then `python app.py` (this model),\n"
        "or `python app.py --model-dir path/to/saved_model`.\n"
    )


def write_space_folder(
    destination: Path, model_id: str, space_id: str, revision: str | None = None
) -> list[str]:
    """Write the Space into ``destination``; returns its files as sorted POSIX paths."""
    modules, third_party = serving_modules()
    for path in modules:
        rel = path.relative_to(PACKAGE)
        target = destination / "imdb_sentiment" / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        if rel.as_posix() in STUBBED:
            target.write_text(
                '"""The imdb-sentiment serving code, copied for the Space app."""\n', encoding="utf-8"
            )
        else:
            target.write_bytes(path.read_bytes())
    app = (TEMPLATES / "app.py.txt").read_text(encoding="utf-8")
    app = app.replace("{{MODEL_ID}}", repr(model_id)).replace("{{MODEL_REVISION}}", repr(revision))
    (destination / "app.py").write_text(app, encoding="utf-8")
    (destination / "requirements.txt").write_text(
        "\n".join(requirements(third_party)) + "\n", encoding="utf-8"
    )
    (destination / "README.md").write_text(readme(model_id, space_id), encoding="utf-8")
    return sorted(p.relative_to(destination).as_posix() for p in destination.rglob("*") if p.is_file())
