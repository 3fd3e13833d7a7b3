"""SmoothQuant before ONNX Runtime's dynamic int8 (exporters/smoothing.py): which products it
picks, that the smoothed fp32 graph computes what the original does, and that on an input with an
outlier channel (what a trained encoder's LayerNorm gives) the int8 file lands closer to fp32."""

from __future__ import annotations

import numpy as np
import pytest

from imdb_sentiment.serving.exporters.onnx import quantize_int8
from imdb_sentiment.serving.exporters.smoothing import (
    feed_forward_up_projections,
    smooth_up_projections,
    smoothing_scales,
)

WIDTH, WIDE, VOCAB = 32, 128, 100


def test_the_up_projections_are_the_products_widening_to_the_widest_input():
    shapes = {"query": (32, 32), "up": (32, 128), "down": (128, 32), "head": (32, 2)}
    assert feed_forward_up_projections(shapes) == ["up"]
    assert feed_forward_up_projections({"a": (8, 8), "b": (8, 8)}) == []  # no feed-forward block
    assert feed_forward_up_projections({}) == []


def test_scales_split_the_range_between_input_and_weight():
    weight = np.array([[0.5, -1.0], [2.0, 0.1], [0.0, 0.0]], np.float32)  # (in, out)
    scales = smoothing_scales(np.array([16.0, 1.0, 0.0]), weight, alpha=0.5)
    np.testing.assert_allclose(scales[:2], [np.sqrt(16.0 / 1.0), np.sqrt(1.0 / 2.0)], rtol=1e-6)
    assert scales[2] == pytest.approx(1.0)  # a dead channel: clipped, never 0 or infinite


def feed_forward_model(path, outlier: float):
    """input_ids -> embedding (channel 3 ``outlier`` times the others) -> up-projection -> ReLU ->
    down-projection + residual -> mean over tokens -> logits; ``attention_mask`` is an input only."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(0)
    table = rng.normal(size=(VOCAB, WIDTH)).astype(np.float32)
    table[:, 3] *= outlier
    weights = {
        "table": table,
        "up": rng.normal(scale=0.2, size=(WIDTH, WIDE)).astype(np.float32),
        "down": rng.normal(scale=0.1, size=(WIDE, WIDTH)).astype(np.float32),
        "head": rng.normal(size=(WIDTH, 2)).astype(np.float32),
    }
    nodes = [
        helper.make_node("Gather", ["table", "input_ids"], ["hidden"], name="embed"),
        helper.make_node("MatMul", ["hidden", "up"], ["wide"], name="ffn/up"),
        helper.make_node("Relu", ["wide"], ["active"], name="act"),
        helper.make_node("MatMul", ["active", "down"], ["narrow"], name="ffn/down"),
        helper.make_node("Add", ["narrow", "hidden"], ["residual"], name="residual"),
        helper.make_node("ReduceMean", ["residual"], ["pooled"], name="pool", axes=[1], keepdims=0),
        helper.make_node("MatMul", ["pooled", "head"], ["logits"], name="head"),
    ]
    graph = helper.make_graph(
        nodes,
        "feed_forward",
        [
            helper.make_tensor_value_info("input_ids", TensorProto.INT64, ["batch", "sequence"]),
            helper.make_tensor_value_info("attention_mask", TensorProto.INT64, ["batch", "sequence"]),
        ],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["batch", 2])],
        [numpy_helper.from_array(value, name) for name, value in weights.items()],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    onnx.save(model, str(path))
    return path


def batches(seed: int, count: int = 4):
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(count):
        ids = rng.integers(0, VOCAB, size=(8, 24), dtype=np.int64)
        mask = np.ones_like(ids)
        mask[:4, 16:] = 0  # padded tails: left out of the channel maxima
        out.append((ids, mask))
    return out


def logits(path, data) -> np.ndarray:
    import onnxruntime as ort

    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    return np.concatenate(
        [session.run(["logits"], {"input_ids": i, "attention_mask": m})[0] for i, m in data]
    )


def test_smoothing_keeps_fp32_and_brings_int8_closer_to_it(tmp_path):
    import onnx

    source = feed_forward_model(tmp_path / "model.onnx", outlier=30.0)
    calibration, held_out = batches(seed=1), batches(seed=2)
    reference = logits(source, held_out)

    model = onnx.load(str(source))
    assert smooth_up_projections(model, calibration) == ["ffn/up"]
    onnx.save(model, str(tmp_path / "smoothed.onnx"))
    assert [n.op_type for n in model.graph.node][:3] == ["Gather", "Mul", "MatMul"]  # Mul right before
    np.testing.assert_allclose(logits(tmp_path / "smoothed.onnx", held_out), reference, rtol=1e-4, atol=1e-4)

    kept, smoothed = quantize_int8(source, tmp_path / "plain.int8.onnx")
    assert kept == ["ffn/down"] and smoothed == []
    kept, smoothed = quantize_int8(source, tmp_path / "smooth.int8.onnx", calibration)
    assert kept == ["ffn/down"] and smoothed == ["ffn/up"]
    plain_error = np.abs(logits(tmp_path / "plain.int8.onnx", held_out) - reference).mean()
    smooth_error = np.abs(logits(tmp_path / "smooth.int8.onnx", held_out) - reference).mean()
    assert smooth_error < 0.5 * plain_error, (smooth_error, plain_error)
