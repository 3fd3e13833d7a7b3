"""The export (serving/exporters/): every engine written atomically, checked on real reviews
against fp32, timed on this CPU; the weights only read; the CLI.

.venv/bin/python -m pytest tests/serving/exporters/test_export.py -x -q
"""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import pytest

from imdb_sentiment.cli import main
from imdb_sentiment.serving.engines import EXPORT_DIR, MANIFEST, choice
from imdb_sentiment.serving.exporters import check as export_check
from imdb_sentiment.serving.exporters import export_model, summary


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture(scope="module")
def exported(exported_model_dir) -> Path:
    return exported_model_dir


def test_export_writes_checked_files_and_leaves_the_weights_alone(exported, trained_model_dir):
    assert sha256(exported / "model.safetensors") == sha256(Path(trained_model_dir) / "model.safetensors")
    manifest = json.loads((exported / EXPORT_DIR / MANIFEST).read_text())
    assert set(manifest["files"]) == {"onnx", "onnx-int8", "openvino", "openvino-int8"}
    for name, filename in manifest["files"].items():
        assert (exported / EXPORT_DIR / filename).is_file(), name
    assert manifest["accepted"]["onnx"] and manifest["accepted"]["openvino"]
    assert manifest["max_abs_diff"]["onnx"] < 1e-4 and manifest["max_abs_diff"]["openvino"] < 1e-4
    assert manifest["thresholds"] == {
        "min_agreement": 0.99,
        "max_accuracy_drop": 0.01,
        "interval": "95% Wilson",
    }
    for figures in manifest["checks"].values():
        assert figures["n"] == 64
        low, high = figures["agreement_ci95"]
        assert low <= figures["agreement"] <= high
    ranked = [row["engine"] for row in manifest["ranking"]["engines"]]
    accepted = [name for name, ok in manifest["accepted"].items() if ok]
    native_bf16 = ["torch-bf16"] if choice.has_native_bf16() else []
    assert set(ranked) == {"torch", *accepted, *native_bf16}
    assert manifest["ranking"]["cpu"] == choice.cpu_info()
    assert not list(exported.glob(".exports.tmp-*"))


def test_check_on_the_embedded_held_out_reviews(trained_model_dir, tmp_path):
    """Without check data, the export is checked on the 500 held-out IMDb reviews shipped with the
    package, and export.json records each candidate's figures with their intervals."""
    directory = tmp_path / "saved_model"
    shutil.copytree(trained_model_dir, directory)
    report = export_model(directory, engines=("onnx", "onnx-int8"))
    manifest = json.loads((directory / EXPORT_DIR / MANIFEST).read_text())
    assert manifest["check_reviews"] == {
        "source": "embedded IMDb sample, test split",
        "n": 500,
        "labelled": True,
    }
    figures = manifest["checks"]["onnx-int8"]
    assert figures["n"] == 500
    assert figures["agreement_ci95"][1] - figures["agreement_ci95"][0] < 0.1
    assert {"accuracy_fp32", "accuracy", "accuracy_drop", "accuracy_drop_ci95"} <= set(figures)
    assert manifest["checks"]["onnx"]["agreement"] == 1.0
    # int8 is checked in batches and one review at a time (its scales may depend on the batch)
    alone = figures["alone"]
    assert alone["n"] == 500 and "alone" not in manifest["checks"]["onnx"]
    expected = all(f["agreement"] >= 0.99 and f["accuracy_drop"] <= 0.01 for f in (figures, alone))
    assert manifest["accepted"]["onnx-int8"] == expected
    assert summary(report).startswith("Exported onnx, onnx-int8 in ") and "note:" not in summary(report)
    assert not (directory / EXPORT_DIR / "model.xml").exists()


def test_thresholds_and_intervals():
    import numpy as np

    reference = np.array([[0.0, 1.0]] * 100)
    candidate = reference.copy()
    candidate[0] = [1.0, 0.0]  # one flip in 100: 0.99, just accepted
    labels = np.ones(100, dtype=int)
    report = export_check.label_checks(reference, candidate, labels)
    assert report["agreement"] == 0.99 and report["accuracy_drop"] == 0.01
    assert export_check.passes(report)
    low, high = report["agreement_ci95"]
    assert 0.94 < low < 0.95 and high > 0.99
    candidate[1] = [1.0, 0.0]
    two_flips = export_check.label_checks(reference, candidate, labels)
    assert not export_check.passes(two_flips)
    # an int8 candidate passes only if it also passes scored one review at a time
    assert not export_check.passes({**report, "alone": two_flips})
    assert export_check.passes({**report, "alone": report})


def test_failed_export_keeps_the_previous_one(exported, tmp_path, monkeypatch):
    directory = tmp_path / "saved_model"
    shutil.copytree(exported, directory)
    before = {p.name: sha256(p) for p in (directory / EXPORT_DIR).iterdir()}
    weights = sha256(directory / "model.safetensors")

    def broken(*args, **kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr("onnxruntime.quantization.quantize_dynamic", broken)
    with pytest.raises(RuntimeError, match="disk full"):
        export_model(directory, engines=("onnx", "onnx-int8"), check_texts=["a fine film", "a dull film"])
    assert {p.name: sha256(p) for p in (directory / EXPORT_DIR).iterdir()} == before
    assert sha256(directory / "model.safetensors") == weights
    assert not list(directory.glob(".exports.tmp-*"))


def test_cli_export_then_predict_with_a_backend(trained_model_dir, tmp_path, capsys):
    directory = tmp_path / "saved_model"
    shutil.copytree(trained_model_dir, directory)
    assert main(["export", "--model-dir", str(directory), "--engines", "onnx", "--max-check", "50"]) == 0
    assert (directory / EXPORT_DIR / "model.onnx").is_file()
    out = capsys.readouterr().out
    assert "Exported onnx in " in out
    # 50 reviews cannot tell 99% agreement from 93%: the summary says so and how to do better
    assert "note: checked on only 50 reviews, so agreement is known only to within 0.9" in out
    assert "pass --check-data with a few hundred reviews" in out
    text = "wonderful superb film"
    assert main(["predict", "--model-dir", str(directory), "--backend", "onnx", text]) == 0
    captured = capsys.readouterr()
    onnx_row = json.loads(captured.out.splitlines()[0])
    assert "Engine onnx: asked for" in captured.err
    assert main(["predict", "--model-dir", str(directory), "--backend", "torch", text]) == 0
    torch_row = json.loads(capsys.readouterr().out.splitlines()[0])
    assert onnx_row["label"] == torch_row["label"]
    assert abs(onnx_row["score"] - torch_row["score"]) < 1e-4
    assert main(["predict", "--model-dir", str(directory), "--backend", "onnx-int8", text]) == 2
    assert "export --model-dir" in capsys.readouterr().err
    assert main(["export", "--model-dir", str(directory), "--engines", "tensorrt"]) == 2


def test_int8_keeps_the_feed_forward_down_projections_in_float(exported):
    """Both int8 files quantize every weight matrix product except each layer's feed-forward
    down-projection (the one reading the GELU's wide activations), the outlier-prone one."""
    import onnx
    import openvino as ov

    from imdb_sentiment.serving.exporters.int8 import widest_products

    assert widest_products({"a": 8, "b": 8}) == []  # one width: no feed-forward to keep
    assert widest_products({"q": 32, "up": 32, "down": 128}) == ["down"]
    layers = json.loads((exported / "config.json").read_text())["n_layers"]
    int8 = onnx.load(str(exported / EXPORT_DIR / "model.int8.onnx"))
    float_products = [n.name for n in int8.graph.node if n.op_type == "MatMul"]
    assert len(float_products) == layers and all("ffn/lin2" in name for name in float_products)
    assert sum(n.op_type == "MatMulInteger" for n in int8.graph.node) >= 2 * layers  # up-projection, output

    model = ov.Core().read_model(str(exported / EXPORT_DIR / "model.int8.xml"))
    quantized, kept = set(), set()
    for op in model.get_ops():
        if op.get_type_name() == "MatMul" and op.input_value(1).get_node().get_type_name() != "Parameter":
            parents = {op.input_value(i).get_node().get_type_name() for i in range(2)}
            (quantized if "FakeQuantize" in parents else kept).add(op.get_friendly_name())
    down = {name for name in kept if "ffn/lin2" in name}
    assert len(down) == layers
    assert not {name for name in quantized if "ffn/lin2" in name}
    assert any("ffn/lin1" in name for name in quantized)

    recorded = json.loads((exported / EXPORT_DIR / MANIFEST).read_text())["int8_kept_in_float"]
    assert sorted(recorded["onnx-int8"]) == sorted(float_products)
    assert set(recorded["openvino-int8"]) == down


def test_int8_smooths_each_up_projection_and_records_it(exported):
    """onnx-int8's up-projections read their input through a smoothing Mul (exporters/smoothing.py),
    one per layer, and export.json names them; the fp32 file has none."""
    import onnx

    layers = json.loads((exported / "config.json").read_text())["n_layers"]
    smoothed = json.loads((exported / EXPORT_DIR / MANIFEST).read_text())["int8_smoothed"]["onnx-int8"]
    assert len(smoothed) == layers and all("ffn/lin1" in name for name in smoothed)
    int8 = onnx.load(str(exported / EXPORT_DIR / "model.int8.onnx"))
    muls = {n.name for n in int8.graph.node if n.op_type == "Mul" and n.name.endswith("/smooth")}
    assert muls == {f"{name}/smooth" for name in smoothed}
    fp32 = onnx.load(str(exported / EXPORT_DIR / "model.onnx"))
    assert not any(n.name.endswith("/smooth") for n in fp32.graph.node)
