"""Every benchmark script answers ``--help`` from the repository root, and none patches the package.

The benchmarks measure the product's own code, so a script may call into ``imdb_sentiment`` but
never assign to its attributes (or to transformers'): a patched run measures something else, and
breaks when the patched code changes.

.venv/bin/python -m pytest tests/test_benchmarks.py -q
"""

from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SCRIPTS = sorted(path for path in (ROOT / "benchmarks").glob("*.py") if path.name != "common.py")
PATCHED = ("imdb_sentiment", "transformers")


def patched_names(path: Path) -> list[str]:
    """``module.attr = ...`` or ``setattr(module, ...)`` on a name imported from PATCHED."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    imported = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            imported |= {(a.asname or a.name).split(".")[0] for a in node.names if a.name.startswith(PATCHED)}
        elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith(PATCHED):
            imported |= {alias.asname or alias.name for alias in node.names}

    def root(node: ast.AST) -> str | None:
        while isinstance(node, ast.Attribute):
            node = node.value
        return node.id if isinstance(node, ast.Name) else None

    found = []
    for node in ast.walk(tree):
        targets = node.targets if isinstance(node, ast.Assign) else []
        if isinstance(node, (ast.AugAssign, ast.AnnAssign)):
            targets = [node.target]
        found += [ast.unparse(t) for t in targets if isinstance(t, ast.Attribute) and root(t) in imported]
        is_setattr = isinstance(node, ast.Call) and getattr(node.func, "id", None) == "setattr"
        if is_setattr and node.args and root(node.args[0]) in imported:
            found.append(ast.unparse(node))
    return found


def test_the_scripts_are_the_products_benchmarks():
    names = {path.stem for path in SCRIPTS}
    expected = {
        "train_imdb",
        "training",
        "inference",
        "load",
        "explain_faithfulness",
        "gpu_epoch",
        "gpu_serving",
    }
    assert expected <= names


def run_script(script: str, *args: str) -> subprocess.CompletedProcess:
    """``python benchmarks/<script> args...`` from the repository root, as the docs run it."""
    return subprocess.run(
        [sys.executable, script, *args],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT / "src")},
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.mark.parametrize("script", SCRIPTS, ids=lambda path: path.name)
def test_script_answers_help_from_the_repository_root(script):
    result = run_script(str(script.relative_to(ROOT)), "--help")
    assert result.returncode == 0, result.stderr[-2000:]
    assert "usage:" in result.stdout


@pytest.mark.parametrize("script", SCRIPTS, ids=lambda path: path.name)
def test_script_does_not_patch_the_package(script):
    assert patched_names(script) == []


def test_the_patch_finder_sees_assignments_and_setattr(tmp_path):
    script = tmp_path / "patching.py"
    script.write_text(
        "from imdb_sentiment import train\nimport transformers\n"
        "train.training_arguments = None\nsetattr(transformers.Trainer, 'train', None)\nx = 1\n"
    )
    assert patched_names(script) == [
        "train.training_arguments",
        "setattr(transformers.Trainer, 'train', None)",
    ]


def test_missing_data_is_one_clear_line(tmp_path):
    missing = str(tmp_path / "nothing.parquet")
    result = run_script("benchmarks/explain_faithfulness.py", "--data", missing, "--model-dir", str(tmp_path))
    assert result.returncode != 0
    assert f"error: no data at '{missing}'; pass --data" in result.stderr


def test_phrase_labels_counts_the_reviews_holding_each_phrase(tmp_path):
    reviews = tmp_path / "reviews.csv"
    rows = ["text,label"]
    rows += ['"The acting was not bad, but the plot was a mess.",0'] * 3
    rows += ['"Not bad at all, I loved it.",1']
    rows += ['"Notable and bad.",0', '"A fine film.",1', '"Dull.",0', '"Great fun.",1']
    reviews.write_text("\n".join(rows + rows[1:] * 3) + "\n")  # 32 reviews, enough for a split
    result = run_script(
        "benchmarks/phrase_labels.py",
        *("--data", str(reviews), "--phrase", "not bad", "--phrase", "never boring"),
        *("--max-train-samples", "10"),
    )
    assert result.returncode == 0, result.stderr[-2000:]
    whole, sample = result.stdout.split("The training sample")
    # Case-blind, whole words: "Notable and bad" is not "not bad".
    assert "| not bad | 16 | 4 | 0.25 (" in whole
    assert "| never boring | 0 | 0 | - |" in whole
    assert "(10 reviews)" in sample


def test_gpu_serving_smoke_runs_the_classifier_against_the_pipeline(tmp_path):
    """The GPU serving benchmark end to end on a few reviews (on a CPU where there is no GPU)."""
    output = tmp_path / "gpu_serving.json"
    result = run_script("benchmarks/gpu_serving.py", "--smoke", "--output", str(output))
    assert result.returncode == 0, result.stderr[-2000:]
    rows = {row["engine"]: row for row in json.loads(output.read_text())["rows"]}
    assert rows["transformers.pipeline fp32"]["x pipeline"] == 1.0
    assert rows["Classifier torch fp32"]["agreement with fp32"] == 1.0
    assert len(rows) == 3 and all(row["reviews/s"] > 0 for row in rows.values())
