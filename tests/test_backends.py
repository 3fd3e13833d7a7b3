"""Inference backends and the ONNX export: same labels as fp32, atomic, stale exports refused.

.venv/bin/python -m pytest tests/test_backends.py -x -q
"""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from helpers import make_reviews, save_tiny_model

pytest.importorskip("onnxruntime")

from imdb_sentiment import Classifier, UserError  # noqa: E402
from imdb_sentiment.backends import (  # noqa: E402
    BACKENDS,
    MANIFEST,
    ONNX_DIR,
    export_onnx,
    exported_backends,
    resolve_backend,
)
from imdb_sentiment.cli import main  # noqa: E402


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture(scope="module")
def exported(tmp_path_factory, trained_model_dir) -> Path:
    """A copy of the trained tiny model with onnx/model.onnx and onnx/model.int8.onnx."""
    directory = tmp_path_factory.mktemp("exported") / "saved_model"
    shutil.copytree(trained_model_dir, directory)
    # Check reviews like the ones the model will serve: the distribution the tiny model learned.
    reviews = make_reviews(64, seed=11, max_words=12)
    export_onnx(
        directory,
        quantize="int8",
        check_texts=reviews["text"].tolist(),
        check_labels=reviews["label"].to_numpy(),
    )
    return directory


@pytest.fixture
def reviews():
    return make_reviews(200, seed=5, max_words=60)["text"].tolist()


def test_every_backend_gives_the_fp32_labels(exported, reviews):
    reference = Classifier.from_pretrained(exported, device="cpu", backend="torch")
    expected = reference.predict_logits(reviews)
    for backend in BACKENDS:
        classifier = Classifier.from_pretrained(exported, device="cpu", backend=backend)
        assert classifier.backend_name == backend
        logits = classifier.predict_logits(reviews, batch_size=7, max_batch_tokens=300)
        same = logits.argmax(axis=1) == expected.argmax(axis=1)
        # int8 moves logits by up to about 1 on this 32-wide model (typical fp32 margin: ~5), so
        # only a near-tie (fp32 margin under 1.5) may flip; every confident review keeps its label.
        confident = np.abs(expected[:, 1] - expected[:, 0]) > 1.5
        assert confident.mean() > 0.5
        assert same[confident].all(), backend
        assert same.mean() >= 0.95, backend
        if backend == "onnx":  # same arithmetic, different kernels
            np.testing.assert_allclose(logits, expected, atol=1e-4)
        labels = [p.label for p in classifier.predict(reviews[:5])]
        assert set(labels) <= {"NEGATIVE", "POSITIVE"}


def test_export_writes_checked_files_and_leaves_the_weights_alone(exported, trained_model_dir):
    assert sha256(exported / "model.safetensors") == sha256(Path(trained_model_dir) / "model.safetensors")
    manifest = json.loads((exported / ONNX_DIR / MANIFEST).read_text())
    assert set(manifest["files"]) == {"onnx", "onnx-int8"}
    assert manifest["accepted"] == {"onnx": True, "onnx-int8": True}
    assert manifest["checks"]["onnx-int8"]["agreement"] >= 0.99
    assert manifest["checks"]["onnx"]["max_abs_diff"] < 1e-4
    assert not list(exported.glob(".onnx.tmp-*"))


def test_auto_picks_the_fastest_checked_export(exported, trained_model_dir):
    assert Classifier.from_pretrained(exported, device="cpu").backend_name == "onnx-int8"
    assert Classifier.from_pretrained(trained_model_dir, device="cpu").backend_name == "torch"
    assert resolve_backend("auto", exported, "cuda") == "torch"


def test_onnx_classifier_loads_pytorch_weights_only_when_needed(exported):
    classifier = Classifier.from_pretrained(exported, device="cpu", backend="onnx")
    assert classifier._model is None
    assert classifier.model.config.num_labels == 2  # e.g. for explanations


def test_missing_or_unknown_backend_is_a_user_error(trained_model_dir):
    with pytest.raises(UserError, match="export --model-dir"):
        Classifier.from_pretrained(trained_model_dir, device="cpu", backend="onnx-int8")
    with pytest.raises(UserError, match="Unknown backend"):
        Classifier.from_pretrained(trained_model_dir, device="cpu", backend="tensorrt")


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


def test_export_from_other_weights_is_never_served(exported, tmp_path):
    directory = tmp_path / "saved_model"
    shutil.copytree(exported, directory)
    save_tiny_model(tmp_path / "other", seed=1)
    shutil.copy(tmp_path / "other" / "model.safetensors", directory / "model.safetensors")
    assert exported_backends(directory) == []
    assert Classifier.from_pretrained(directory, device="cpu").backend_name == "torch"
    with pytest.raises(UserError, match="other weights"):
        Classifier.from_pretrained(directory, device="cpu", backend="onnx")


def test_cli_export_then_predict_with_a_backend(trained_model_dir, tmp_path, capsys):
    directory = tmp_path / "saved_model"
    shutil.copytree(trained_model_dir, directory)
    assert main(["export", "--model-dir", str(directory), "--format", "onnx"]) == 0
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
