"""The notebook runs top to bottom on a tiny config, so it cannot rot."""

from __future__ import annotations

import json
from pathlib import Path

import nbformat
from nbclient import NotebookClient

from conftest import TINY_RECIPE

NOTEBOOK = Path(__file__).resolve().parent.parent / "createModel.ipynb"


def test_notebook_is_committed_without_outputs():
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    code = [cell for cell in notebook.cells if cell.cell_type == "code"]
    assert code and all(not cell.outputs and cell.execution_count is None for cell in code)


def test_notebook_runs_on_a_tiny_config(tmp_path, tiny_distilbert, reviews_parquet, monkeypatch):
    output = tmp_path / "saved_model"
    monkeypatch.setenv("MODEL", str(tiny_distilbert))
    monkeypatch.setenv("DATA", str(reviews_parquet))
    monkeypatch.setenv("OUTPUT_DIR", str(output))
    monkeypatch.setenv("TRAIN_OVERRIDES", json.dumps(TINY_RECIPE))
    monkeypatch.setenv("MPLBACKEND", "Agg")
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    NotebookClient(
        notebook, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}
    ).execute()

    assert (output / "model.safetensors").is_file()
    printed = "".join(
        out.get("text", "") for cell in notebook.cells if cell.cell_type == "code" for out in cell.outputs
    )
    assert "POSITIVE" in printed or "NEGATIVE" in printed
    images = [o for c in notebook.cells for o in c.get("outputs", []) if "image/png" in o.get("data", {})]
    assert len(images) == 2  # training curves and confusion matrix shown inline
