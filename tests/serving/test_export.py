"""The ONNX export (export.py): checked files, written atomically, the weights only read; the CLI.

.venv/bin/python -m pytest tests/serving/test_export.py -x -q
"""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import pytest

pytest.importorskip("onnxruntime")

from imdb_sentiment.cli import main  # noqa: E402
from imdb_sentiment.serving.engines import MANIFEST, ONNX_DIR  # noqa: E402
from imdb_sentiment.serving.export import export_onnx  # noqa: E402


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture(scope="module")
def exported(exported_model_dir) -> Path:
    return exported_model_dir


def test_export_writes_checked_files_and_leaves_the_weights_alone(exported, trained_model_dir):
    assert sha256(exported / "model.safetensors") == sha256(Path(trained_model_dir) / "model.safetensors")
    manifest = json.loads((exported / ONNX_DIR / MANIFEST).read_text())
    assert set(manifest["files"]) == {"onnx", "onnx-int8"}
    assert manifest["accepted"] == {"onnx": True, "onnx-int8": True}
    assert manifest["checks"]["onnx-int8"]["agreement"] >= 0.99
    assert manifest["checks"]["onnx"]["max_abs_diff"] < 1e-4
    assert not list(exported.glob(".onnx.tmp-*"))


def test_failed_export_keeps_the_previous_one(exported, tmp_path, monkeypatch):
    directory = tmp_path / "saved_model"
    shutil.copytree(exported, directory)
    before = {p.name: sha256(p) for p in (directory / ONNX_DIR).iterdir()}
    weights = sha256(directory / "model.safetensors")

    def broken(*args, **kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr("onnxruntime.quantization.quantize_dynamic", broken)
    with pytest.raises(RuntimeError, match="disk full"):
        export_onnx(directory, quantize="int8")
    assert {p.name: sha256(p) for p in (directory / ONNX_DIR).iterdir()} == before
    assert sha256(directory / "model.safetensors") == weights
    assert not list(directory.glob(".onnx.tmp-*"))


def test_cli_export_then_predict_with_a_backend(trained_model_dir, tmp_path, capsys):
    directory = tmp_path / "saved_model"
    shutil.copytree(trained_model_dir, directory)
    assert main(["export", "--model-dir", str(directory)]) == 0
    assert (directory / ONNX_DIR / "model.onnx").is_file()
    capsys.readouterr()
    text = "wonderful superb film"
    assert main(["predict", "--model-dir", str(directory), "--backend", "onnx", text]) == 0
    onnx_row = json.loads(capsys.readouterr().out.splitlines()[0])
    assert main(["predict", "--model-dir", str(directory), "--backend", "torch", text]) == 0
    torch_row = json.loads(capsys.readouterr().out.splitlines()[0])
    assert onnx_row["label"] == torch_row["label"]
    assert abs(onnx_row["score"] - torch_row["score"]) < 1e-4
    assert main(["predict", "--model-dir", str(directory), "--backend", "onnx-int8", text]) == 2
    assert "--quantize int8" in capsys.readouterr().err
