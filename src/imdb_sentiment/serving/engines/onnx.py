"""The ONNX Runtime engine: serves the ``onnx`` (fp32, fused) and ``onnx-int8`` files that
``export`` writes (exporters/onnx.py).

OnnxBackend(Path("saved_model/exports/model.int8.onnx"), name="onnx-int8").logits(ids, mask)
"""

from __future__ import annotations

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
