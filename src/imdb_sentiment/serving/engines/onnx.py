"""The ONNX Runtime engine: ``onnx`` (fp32) and ``onnx-int8`` files written by ``export``, and the
two rewrites ``export`` applies to the ONNX graph (transformer fusions, dynamic int8).

OnnxBackend(Path("saved_model/exports/model.int8.onnx"), name="onnx-int8").logits(ids, mask)
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

import numpy as np

from ...errors import UserError


def default_threads() -> int:
    """Threads for one inference: the cores this process may run on (not the host's count)."""
    for variable in ("IMDB_SENTIMENT_THREADS", "OMP_NUM_THREADS"):
        value = os.environ.get(variable, "")
        if value.isdigit() and int(value) > 0:
            return int(value)
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # macOS, Windows
        return max(1, os.cpu_count() or 1)


class OnnxBackend:
    """ONNX Runtime on the CPU with all graph optimizations and one thread per usable core."""

    def __init__(self, path: Path, name: str = "onnx", threads: int | None = None):
        try:
            import onnxruntime as ort
        except ImportError as error:
            raise UserError("backend onnx needs onnxruntime: pip install onnxruntime") from error
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads or default_threads()
        options.inter_op_num_threads = 1
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        options.log_severity_level = 3
        self.name = name
        self.path = Path(path)
        self.session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])

    def logits(self, input_ids: np.ndarray, attention_mask: np.ndarray) -> np.ndarray:
        feed = {"input_ids": input_ids.astype(np.int64), "attention_mask": attention_mask.astype(np.int64)}
        return self.session.run(["logits"], feed)[0].astype(np.float32)


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
    # It logs every pattern it tried, on several loggers ("onnxruntime.transformers", "onnx_model").
    quiet = [
        logging.getLogger(name) for name in ("onnxruntime.transformers", "onnx_model", "fusion_embedlayer")
    ]
    levels = [logger.level for logger in quiet]
    for logger in quiet:
        logger.setLevel(logging.ERROR)
    try:
        optimized = optimize_model(
            str(path), model_type="bert", num_heads=heads, hidden_size=hidden, opt_level=0
        )
    finally:
        for logger, level in zip(quiet, levels):
            logger.setLevel(level)
    counts = {name: n for name, n in optimized.get_fused_operator_statistics().items() if n}
    if counts:
        optimized.save_model_to_file(str(path))
    return counts


def quantize_int8(source: Path, target: Path) -> None:
    """ONNX Runtime dynamic int8: weights per output channel once, activations per batch.

    Only the matrix products (MatMul and the fused Attention's projections) are quantized; the
    embedding tables stay fp32 (docs/experiments.md, "Dynamic int8 settings").
    """
    from onnxruntime.quantization import QuantType, quantize_dynamic

    root = logging.getLogger()
    level = root.level
    root.setLevel(max(level, logging.WARNING))  # it logs a line per tensor on the root logger
    try:
        quantize_dynamic(
            str(source),
            str(target),
            weight_type=QuantType.QInt8,  # u8 activations x s8 weights: the fast AVX2 kernel
            per_channel=True,
            reduce_range=False,
            op_types_to_quantize=["MatMul", "Attention"],
            extra_options={"DefaultTensorType": 1},  # FLOAT, for nodes shape inference skips
        )
    finally:
        root.setLevel(level)
