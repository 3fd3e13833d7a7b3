"""The ONNX Runtime engine: ``onnx`` (fp32) and ``onnx-int8`` files written by ``export``, and the
two rewrites ``export`` applies to the ONNX graph (transformer fusions, dynamic int8).

OnnxBackend(Path("saved_model/exports/model.int8.onnx"), name="onnx-int8").logits(ids, mask)
"""

from __future__ import annotations

import contextlib
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
    with _quiet_logs():  # it logs every fusion it tried, on loggers of its modules' names
        optimized = optimize_model(
            str(path), model_type="bert", num_heads=heads, hidden_size=hidden, opt_level=0
        )
        counts = {name: n for name, n in optimized.get_fused_operator_statistics().items() if n}
        if counts:
            optimized.save_model_to_file(str(path))
    return counts


def widest_products(widths: dict[str, int]) -> list[str]:
    """Of ``{product name: width of its input}``, the products reading the widest input: in a
    transformer, each feed-forward block's down-projection, which reads the GELU's wide activations.

    int8 keeps these in float. Their activations have the outliers that per-tensor activation
    scales handle worst: on two trained MiniLM models, leaving them in float halved the labels int8
    moved (1.7% to 0.8% with ONNX Runtime, 1.6% to 0.6% with NNCF, 2,000 unseen reviews) for 10-19%
    of int8's speed (docs/benchmarks.md, "int8 that agrees with fp32"). Nothing is kept when all
    products read the same width (not a transformer's feed-forward).
    """
    if len(set(widths.values())) < 2:
        return []
    widest = max(widths.values())
    return [name for name, width in widths.items() if width == widest]


def quantize_int8(source: Path, target: Path, keep_in_float: list[str] | tuple[str, ...] = ()) -> None:
    """ONNX Runtime dynamic int8: weights per output channel once, activations per batch.

    Only the matrix products (MatMul and the fused Attention's projections) are quantized, except
    the nodes named in ``keep_in_float`` (``export`` passes the feed-forward down-projections,
    ``widest_products``); the embedding tables stay fp32 (docs/experiments.md, "Dynamic int8
    settings").
    """
    from onnxruntime.quantization import QuantType, quantize_dynamic

    with _quiet_logs():  # it logs a line per tensor on the root logger
        quantize_dynamic(
            str(source),
            str(target),
            weight_type=QuantType.QInt8,  # u8 activations x s8 weights: the fast AVX2 kernel
            per_channel=True,
            reduce_range=False,
            op_types_to_quantize=["MatMul", "Attention"],
            nodes_to_exclude=list(keep_in_float),
            extra_options={"DefaultTensorType": 1},  # FLOAT, for nodes shape inference skips
        )


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
