"""The OpenVINO engine on a tiny random DistilBERT: ONNX export -> IR -> NNCF int8, against PyTorch;
and a tiny trained model end to end: export -> Classifier(backend="openvino" / "openvino-int8")."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
import transformers

from imdb_sentiment import Classifier
from imdb_sentiment.errors import UserError
from imdb_sentiment.serving.engines.openvino import OPENVINO_DIR, OPENVINO_FILES, OpenVinoEngine
from imdb_sentiment.serving.exporters.onnx import export_onnx_graph
from imdb_sentiment.serving.exporters.openvino import convert_to_openvino, quantize_openvino_int8

VOCAB = 100
PAD = 0


def random_batch(rng: np.random.Generator, size: int, min_len: int = 3, max_len: int = 40):
    """Random token ids of varied lengths, right-padded with PAD, and their attention mask."""
    lengths = rng.integers(min_len, max_len + 1, size=size)
    ids = np.full((size, int(lengths.max())), PAD, dtype=np.int64)
    mask = np.zeros_like(ids)
    for row, length in enumerate(lengths):
        ids[row, :length] = rng.integers(1, VOCAB, size=length)
        mask[row, :length] = 1
    return ids, mask


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    """(torch model, fp32 IR path, int8 IR path), built once for the module."""
    torch.manual_seed(0)
    config = transformers.DistilBertConfig(
        vocab_size=VOCAB, dim=32, n_layers=2, n_heads=2, hidden_dim=64, num_labels=2, pad_token_id=PAD
    )
    model = transformers.DistilBertForSequenceClassification(config).eval()
    # Random init leaves the two logits nearly equal; a larger head makes labels a stable thing to
    # compare, so the int8 check measures quantization, not ties.
    with torch.no_grad():
        model.classifier.weight.mul_(50.0)

    directory = tmp_path_factory.mktemp("ov")
    onnx_path = directory / "model.onnx"
    example = random_batch(np.random.default_rng(1), 2)  # two lengths: a real padding mask
    export_onnx_graph(model, example, onnx_path, opset=17)
    fp32 = directory / OPENVINO_DIR / OPENVINO_FILES["openvino"]
    int8 = directory / OPENVINO_DIR / OPENVINO_FILES["openvino-int8"]
    convert_to_openvino(onnx_path, fp32)
    rng = np.random.default_rng(2)
    calibration = []
    for _ in range(16):
        ids, mask = random_batch(rng, 4)
        calibration.append({"input_ids": ids, "attention_mask": mask})
    quantize_openvino_int8(fp32, int8, calibration)
    return model, fp32, int8


def torch_logits(model, ids: np.ndarray, mask: np.ndarray) -> np.ndarray:
    with torch.inference_mode():
        return model(input_ids=torch.from_numpy(ids), attention_mask=torch.from_numpy(mask)).logits.numpy()


def test_files_are_written_where_the_engine_expects_them(exported):
    _, fp32, int8 = exported
    assert fp32.is_file() and fp32.with_suffix(".bin").is_file()
    assert int8.is_file() and int8.with_suffix(".bin").is_file()
    assert fp32.parent.name == OPENVINO_DIR


def test_fp32_engine_matches_torch(exported):
    model, fp32, _ = exported
    ids, mask = random_batch(np.random.default_rng(3), 64)
    expected = torch_logits(model, ids, mask)

    forced = OpenVinoEngine(fp32, inference_precision="f32", threads=1)
    assert forced.precision == "f32"
    got = forced.logits(ids, mask)
    assert got.dtype == np.float32 and got.shape == (64, 2)
    np.testing.assert_allclose(got, expected, atol=1e-4, rtol=1e-4)

    engine = OpenVinoEngine(fp32)  # OpenVINO's own precision: bf16 on AMX / AVX-512 BF16 CPUs
    assert engine.name == "openvino" and engine.path == fp32
    assert engine.precision in ("f32", "bf16", "f16")
    tolerance = 1e-4 if engine.precision == "f32" else 5e-2 * max(1.0, float(np.abs(expected).max()))
    np.testing.assert_allclose(engine.logits(ids, mask), expected, atol=tolerance, rtol=1e-4)
    # Another batch size and sequence length through the same (dynamic-shape) request.
    few_ids, few_mask = random_batch(np.random.default_rng(4), 3, max_len=7)
    np.testing.assert_allclose(
        forced.logits(few_ids, few_mask), torch_logits(model, few_ids, few_mask), atol=1e-4, rtol=1e-4
    )


def test_int8_engine_keeps_torch_labels(exported):
    model, _, int8 = exported
    ids, mask = random_batch(np.random.default_rng(5), 64)
    expected = torch_logits(model, ids, mask).argmax(axis=1)
    engine = OpenVinoEngine(int8, name="openvino-int8")
    got = engine.logits(ids, mask)
    assert got.dtype == np.float32 and got.shape == (64, 2)
    assert (got.argmax(axis=1) == expected).mean() >= 0.9


def test_concurrent_callers_get_their_own_results(exported):
    from concurrent.futures import ThreadPoolExecutor

    model, fp32, _ = exported
    engine = OpenVinoEngine(fp32, inference_precision="f32")
    batches = [random_batch(np.random.default_rng(10 + i), 1 + i % 4) for i in range(16)]
    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(lambda batch: engine.logits(*batch), batches))
    for (ids, mask), got in zip(batches, results):
        np.testing.assert_allclose(got, torch_logits(model, ids, mask), atol=1e-4, rtol=1e-4)


def test_missing_model_is_a_user_error(tmp_path: Path):
    with pytest.raises(UserError, match="OpenVINO model"):
        OpenVinoEngine(tmp_path / OPENVINO_DIR / OPENVINO_FILES["openvino"])


def test_missing_packages_are_user_errors(monkeypatch, tmp_path: Path, exported):
    _, fp32, _ = exported
    monkeypatch.setitem(sys.modules, "nncf", None)  # None in sys.modules: the import fails
    with pytest.raises(UserError, match="pip install nncf"):
        quantize_openvino_int8(fp32, tmp_path / "model.int8.xml", [{}])
    monkeypatch.setitem(sys.modules, "openvino", None)
    with pytest.raises(UserError, match="pip install openvino"):
        OpenVinoEngine(fp32)
    with pytest.raises(UserError, match="pip install openvino"):
        convert_to_openvino(tmp_path / "model.onnx", tmp_path / "model.xml")


def test_openvino_is_imported_lazily():
    """Importing the module must not import openvino or nncf (optional, and slow to import)."""
    import imdb_sentiment.serving.engines.openvino as module

    tree = ast.parse(Path(module.__file__).read_text(encoding="utf-8"))
    top_level = [node for node in tree.body if isinstance(node, (ast.Import, ast.ImportFrom))]
    names = {
        alias.name.split(".")[0] for node in top_level if isinstance(node, ast.Import) for alias in node.names
    }
    names |= {
        node.module.split(".")[0] for node in top_level if isinstance(node, ast.ImportFrom) and node.module
    }
    assert not names & {"openvino", "nncf"}


def test_export_then_classifier_serves_openvino(exported_model_dir):
    """The exported tiny trained model, through Classifier, on both OpenVINO engines."""
    reviews = ["a wonderful superb film", "a dull boring awful film", "great acting", "terrible plot"]
    expected = Classifier.from_pretrained(exported_model_dir, device="cpu", backend="torch").predict_logits(
        reviews
    )
    for backend in ("openvino", "openvino-int8"):
        classifier = Classifier.from_pretrained(exported_model_dir, device="cpu", backend=backend)
        assert classifier.backend_name == backend and classifier._model is None
        assert classifier.backend.path.name == OPENVINO_FILES[backend]
        logits = classifier.predict_logits(reviews)
        assert (logits.argmax(axis=1) == expected.argmax(axis=1)).all(), backend
        if backend == "openvino" and classifier.backend.precision == "f32":
            np.testing.assert_allclose(logits, expected, atol=1e-4)
        assert [p.label for p in classifier.predict(reviews[:2])] == ["POSITIVE", "NEGATIVE"]
