"""SmoothQuant (Xiao et al., 2023) for ONNX Runtime's dynamic int8: before quantizing, each
feed-forward up-projection's input is divided by a per-channel scale and its weight rows multiplied
by it, which leaves the fp32 product unchanged and the int8 one much closer to it.

    smoothed = smooth_up_projections(onnx.load("exports/model.onnx"), calibration)  # in memory

Why: dynamic int8 gives each product's input one scale for the whole batch. A trained BERT-style
encoder's LayerNorm output (what the up-projection reads) has one or two channels 10-15 times
larger than the median channel, so that one scale leaves the others few int8 levels. The scale
``s_j = max|x_j| ** alpha / max|W_j| ** (1 - alpha)`` (``alpha`` 0.5, the paper's default) moves
half of that range into the weights, which are quantized per output channel.

The LayerNorm output also feeds the residual sum (BERT is post-LayerNorm), so the division cannot
be folded into the LayerNorm: it is a ``Mul`` node before the product, a pass over a 384- or
768-wide activation that costs far less than the 4x wider product after it. The channel maxima are
measured on calibration batches, padding excluded.
"""

from __future__ import annotations

import numpy as np

ALPHA = 0.5  # SmoothQuant's default migration strength, not tuned here
SCALE_RANGE = (1e-2, 1e2)  # a dead channel (max 0) must not give an infinite or zero scale


def feed_forward_up_projections(weight_shapes: dict[str, tuple[int, int]]) -> list[str]:
    """Of ``{MatMul name: (rows, columns) of its weight}``, the products that widen to the widest
    input any product reads: each feed-forward block's up-projection (384 -> 1536 in MiniLM)."""
    if not weight_shapes:
        return []
    widest = max(rows for rows, _ in weight_shapes.values())
    return [name for name, (rows, cols) in weight_shapes.items() if cols == widest and rows < widest]


def smoothing_scales(input_max: np.ndarray, weight: np.ndarray, alpha: float = ALPHA) -> np.ndarray:
    """Per input channel: ``max|x_j| ** alpha / max|W_j| ** (1 - alpha)``; ``weight`` is (in, out)."""
    weight_max = np.abs(weight).max(axis=1)
    scales = np.maximum(input_max, 1e-5) ** alpha / np.maximum(weight_max, 1e-5) ** (1 - alpha)
    return np.clip(scales, *SCALE_RANGE).astype(np.float32)


def weighted_matmuls(model) -> dict[str, tuple]:
    """``{MatMul node name: (node, its constant 2-D weight tensor)}`` of the ONNX ``model``."""
    weights = {tensor.name: tensor for tensor in model.graph.initializer if len(tensor.dims) == 2}
    return {
        node.name: (node, weights[node.input[1]])
        for node in model.graph.node
        if node.op_type == "MatMul" and len(node.input) > 1 and node.input[1] in weights
    }


def smooth_up_projections(model, calibration: list[tuple[np.ndarray, np.ndarray]]) -> list[str]:
    """Rewrite the ONNX ``model`` (a ModelProto with inputs ``input_ids`` and ``attention_mask``) in
    place: a ``Mul`` by ``1 / s`` before each up-projection and its weight rows times ``s``.
    ``calibration``: padded (input_ids, attention_mask) batches. Returns the products smoothed."""
    from onnx import numpy_helper

    products = weighted_matmuls(model)
    shapes = {name: tuple(weight.dims) for name, (_, weight) in products.items()}
    targets = [products[name] for name in feed_forward_up_projections(shapes)]
    if not targets or not calibration:
        return []
    maxima = _input_maxima(model, [node.input[0] for node, _ in targets], calibration)
    rewired = {}
    for node, tensor in targets:
        weight = numpy_helper.to_array(tensor)
        scales = smoothing_scales(maxima[node.input[0]], weight)
        tensor.CopyFrom(numpy_helper.from_array(weight * scales[:, None], tensor.name))
        model.graph.initializer.append(numpy_helper.from_array(1.0 / scales, f"{node.name}/smoothing"))
        rewired[node.name] = node.input[0]
        node.input[0] = f"{node.name}/smoothed_input"
    _insert_before(model, rewired)
    return list(rewired)


def _input_maxima(model, names: list[str], calibration) -> dict[str, np.ndarray]:
    """Per-channel max |value| of the tensors ``names`` over the real (unpadded) tokens."""
    import onnx
    import onnxruntime as ort

    probe = onnx.ModelProto()
    probe.CopyFrom(model)
    probe.graph.output.extend(
        onnx.helper.make_tensor_value_info(name, onnx.TensorProto.FLOAT, None) for name in names
    )
    options = ort.SessionOptions()
    options.log_severity_level = 3
    session = ort.InferenceSession(probe.SerializeToString(), options, providers=["CPUExecutionProvider"])
    maxima = {name: np.zeros(0, np.float32) for name in names}
    for input_ids, attention_mask in calibration:
        values = session.run(names, {"input_ids": input_ids, "attention_mask": attention_mask})
        real = attention_mask.astype(bool)
        for name, value in zip(names, values):
            batch_max = np.abs(value[real]).max(axis=0)
            maxima[name] = batch_max if not maxima[name].size else np.maximum(maxima[name], batch_max)
    return maxima


def _insert_before(model, rewired: dict[str, str]) -> None:
    """Put ``Mul(input, 1 / s)`` right before each product in ``rewired`` (product -> its old
    input), keeping the node list in topological order as ONNX requires."""
    from onnx import helper

    nodes = list(model.graph.node)
    del model.graph.node[:]
    for node in nodes:
        if node.name in rewired:
            model.graph.node.append(
                helper.make_node(
                    "Mul",
                    [rewired[node.name], f"{node.name}/smoothing"],
                    [f"{node.name}/smoothed_input"],
                    name=f"{node.name}/smooth",
                )
            )
        model.graph.node.append(node)
