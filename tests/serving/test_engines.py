"""Inference backends (backends.py): same labels as fp32, auto picks a checked export, stale ones refused.

.venv/bin/python -m pytest tests/serving/test_engines.py -x -q
"""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from helpers import make_reviews, save_tiny_model

pytest.importorskip("onnxruntime")

from imdb_sentiment import Classifier, UserError  # noqa: E402
from imdb_sentiment.serving.engines import BACKENDS, exported_backends, resolve_backend  # noqa: E402


@pytest.fixture(scope="module")
def exported(exported_model_dir) -> Path:
    return exported_model_dir


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


def test_export_from_other_weights_is_never_served(exported, tmp_path):
    directory = tmp_path / "saved_model"
    shutil.copytree(exported, directory)
    save_tiny_model(tmp_path / "other", seed=1)
    shutil.copy(tmp_path / "other" / "model.safetensors", directory / "model.safetensors")
    assert exported_backends(directory) == []
    assert Classifier.from_pretrained(directory, device="cpu").backend_name == "torch"
    with pytest.raises(UserError, match="other weights"):
        Classifier.from_pretrained(directory, device="cpu", backend="onnx")
