"""The ONNX files ``export`` writes: the fp32 graph of a classifier, rewritten with ONNX Runtime's
transformer fusions, and its dynamic int8 version (smoothed: ``smoothing.py``); served by
``engines/onnx.py``.

    export_onnx_graph(model, (input_ids, attention_mask), Path("exports/model.onnx"), opset=17)
    fuse_transformer_graph(Path("exports/model.onnx"), model.config)
    quantize_int8(Path("exports/model.onnx"), Path("exports/model.int8.onnx"), calibration)

The ``onnx`` package and ONNX Runtime's tools are imported only inside these functions: they are
needed to export, never to serve.
"""

from __future__ import annotations

import contextlib
import logging
import warnings
from pathlib import Path

from .int8 import widest_products
from .smoothing import smooth_up_projections, weighted_matmuls


def _logits_only(model):
    """Wrap a classifier so the exported graph takes (input_ids, attention_mask) and returns logits."""
    import torch

    class LogitsOnly(torch.nn.Module):
        def __init__(self, inner):
            super().__init__()
            self.inner = inner

        def forward(self, input_ids, attention_mask):
            return self.inner(input_ids=input_ids, attention_mask=attention_mask).logits

    # eval() matters: a fresh Module is in training mode, and a traced dropout would make every
    # exported prediction noisy.
    return LogitsOnly(model).eval()


def export_onnx_graph(model, example, path: Path, opset: int) -> None:
    """The classifier's fp32 graph at ``path``: inputs ``input_ids`` and ``attention_mask`` (int64,
    dynamic batch and sequence), output ``logits``; ``example`` is one padded batch as numpy."""
    import torch

    # Eager attention exports as plain MatMul/Softmax, the pattern ONNX Runtime fuses into its
    # Attention kernel; SDPA exports in a form it cannot fuse (measured: README "Speed").
    if hasattr(model, "set_attn_implementation"):
        model.set_attn_implementation("eager")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(
            _logits_only(model),
            (torch.from_numpy(example[0]), torch.from_numpy(example[1])),
            str(path),
            input_names=["input_ids", "attention_mask"],
            output_names=["logits"],
            dynamic_axes={
                "input_ids": {0: "batch", 1: "sequence"},
                "attention_mask": {0: "batch", 1: "sequence"},
                "logits": {0: "batch"},
            },
            opset_version=opset,
            dynamo=False,  # the TorchScript exporter handles transformers' masks; dynamo is slower here
        )


def _attention_shape(config) -> tuple[int, int]:
    """(heads, hidden size) for DistilBERT (n_heads, dim) and BERT/RoBERTa (num_attention_heads, ...)."""
    heads = getattr(config, "n_heads", None) or getattr(config, "num_attention_heads", 0)
    hidden = getattr(config, "dim", None) or getattr(config, "hidden_size", 0)
    return int(heads), int(hidden)


def fuse_transformer_graph(path: Path, config) -> dict[str, int]:
    """Rewrite ``path`` in place with ONNX Runtime's transformer fusions (embedding + LayerNorm,
    multi-head Attention, bias + GELU, residual + LayerNorm), which the generic graph optimizer
    does not do. Returns the fused operator counts; leaves the file as it was if nothing fused."""
    from onnxruntime.transformers.optimizer import optimize_model

    heads, hidden = _attention_shape(config)
    with _quiet_logs():  # it logs every fusion it tried, on loggers of its modules' names
        optimized = optimize_model(
            str(path), model_type="bert", num_heads=heads, hidden_size=hidden, opt_level=0
        )
        counts = {name: n for name, n in optimized.get_fused_operator_statistics().items() if n}
        if counts:
            optimized.save_model_to_file(str(path))
    return counts


def matmul_weight_rows(model) -> dict[str, int]:
    """``{MatMul node name: rows of its constant weight}`` (the width of the input it reads) in the
    ONNX ``model`` (a ModelProto)."""
    return {name: weight.dims[0] for name, (_, weight) in weighted_matmuls(model).items()}


def quantize_int8(source: Path, target: Path, calibration=()) -> tuple[list[str], list[str]]:
    """ONNX Runtime dynamic int8 of ``source`` at ``target``: weights per output channel once,
    activations per batch. Returns the products it kept in float and those it smoothed.

    Only the matrix products (MatMul and the fused Attention's projections) are quantized, except
    the feed-forward down-projections (``int8.widest_products``); the embedding tables stay fp32
    (docs/experiments.md, "Dynamic int8 settings"). With ``calibration`` (padded
    (input_ids, attention_mask) batches of reviews), the up-projections' inputs are smoothed first
    (``smoothing.py``).
    """
    import onnx
    from onnxruntime.quantization import QuantType, quantize_dynamic

    model = onnx.load(str(source))
    keep_in_float = widest_products(matmul_weight_rows(model))
    smoothed = smooth_up_projections(model, list(calibration))
    with _quiet_logs():  # it logs a line per tensor on the root logger
        quantize_dynamic(
            model,
            str(target),
            weight_type=QuantType.QInt8,  # u8 activations x s8 weights: the fast AVX2 kernel
            per_channel=True,
            reduce_range=False,
            op_types_to_quantize=["MatMul", "Attention"],
            nodes_to_exclude=keep_in_float,
            extra_options={"DefaultTensorType": 1},  # FLOAT, for nodes shape inference skips
        )
    return keep_in_float, smoothed


@contextlib.contextmanager
def _quiet_logs():
    """Only errors from ONNX Runtime's graph tools while they run: they log at INFO on the root
    logger and on loggers named after their modules ("fusion_base", "onnx_model", ...)."""
    loggers = [logging.getLogger(name) for name in ("", "onnxruntime.transformers", "onnx_model")]
    levels = [logger.level for logger in loggers]
    for logger in loggers:
        logger.setLevel(logging.ERROR)
    try:
        yield
    finally:
        for logger, level in zip(loggers, levels):
            logger.setLevel(level)
