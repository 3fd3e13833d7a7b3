"""The OpenVINO engine: serves the IR files that ``export`` writes (exporters/openvino.py) on the
CPU, ``model.xml`` (fp32 weights) as ``openvino`` and ``model.int8.xml`` (NNCF int8) as
``openvino-int8``, both in ``<model_dir>/exports/``::

    engine = OpenVinoEngine(model_dir / "exports" / OPENVINO_FILES["openvino"])
    logits = engine.logits(input_ids, attention_mask)  # int64 (batch, seq) -> float32 (batch, 2)

The ``openvino`` package is a dependency, but imported only when an engine is made (importing the
package stays fast), and a missing one is a :class:`~imdb_sentiment.errors.UserError` naming the
pip command.

Precision: the engine leaves the inference precision to OpenVINO, which runs fp32 graphs in bf16
on CPUs with AMX or AVX-512 BF16 and in fp32 elsewhere; ``engine.precision`` says which
("bf16" or "f32"). Pass ``inference_precision="f32"`` to force fp32, e.g. when an export check
compares logits with PyTorch to 1e-3 (bf16 is only good to about 1e-2).
"""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np

from ...errors import UserError

OPENVINO_DIR = "exports"  # engines.EXPORT_DIR
OPENVINO_FILES = {"openvino": "model.xml", "openvino-int8": "model.int8.xml"}
INPUT_NAMES = ("input_ids", "attention_mask")
OUTPUT_NAME = "logits"


def import_openvino():
    try:
        import openvino
    except ImportError as error:
        raise UserError("backend openvino needs the openvino package: pip install openvino") from error
    return openvino


class OpenVinoEngine:
    """OpenVINO on the CPU, tuned for one request at a time (performance hint LATENCY).

    ``threads``: ``inference_num_threads`` (default: OpenVINO's choice, the physical cores).
    ``inference_precision``: None leaves OpenVINO's default (bf16 where the CPU has AMX or AVX-512
    BF16, f32 elsewhere); "f32" forces full precision.
    """

    def __init__(
        self,
        path: Path,
        name: str = "openvino",
        threads: int | None = None,
        inference_precision: str | None = None,
    ):
        ov = import_openvino()
        import openvino.properties as props
        import openvino.properties.hint as hints

        self.name = name
        self.path = Path(path)
        if not self.path.is_file():
            raise UserError(
                f"backend {name} needs the OpenVINO model '{self.path}'; "
                "write it with `python -m imdb_sentiment export`."
            )
        config = {hints.performance_mode: hints.PerformanceMode.LATENCY}
        if threads:
            config[props.inference_num_threads] = int(threads)
        if inference_precision:
            types = {"f32": ov.Type.f32, "bf16": ov.Type.bf16, "f16": ov.Type.f16}
            if inference_precision not in types:
                raise UserError(
                    f"Unknown OpenVINO inference precision {inference_precision!r}; use one of "
                    f"{', '.join(types)}."
                )
            config[hints.inference_precision] = types[inference_precision]
        core = ov.Core()
        self.compiled = core.compile_model(core.read_model(str(self.path)), "CPU", config)
        self.precision: str = self.compiled.get_property(hints.inference_precision).get_type_name()
        self._output = self.compiled.output(OUTPUT_NAME)
        # One infer request, created once, behind a lock. An InferRequest must not be used by two
        # threads at once, and gradio calls from several. Under the LATENCY hint the compiled model
        # has a single CPU stream that already uses every core for one batch, so a request per call
        # (or per thread) would not run batches in parallel, only queue them inside OpenVINO while
        # allocating a fresh request each time; the lock serialises callers at the same speed.
        self._request = self.compiled.create_infer_request()
        self._lock = threading.Lock()

    def logits(self, input_ids: np.ndarray, attention_mask: np.ndarray) -> np.ndarray:
        feed = {
            "input_ids": np.ascontiguousarray(input_ids, dtype=np.int64),
            "attention_mask": np.ascontiguousarray(attention_mask, dtype=np.int64),
        }
        with self._lock:
            result = self._request.infer(feed)
            # Copied while the lock is held: the request owns the output tensor and the next call
            # overwrites it.
            return np.array(result[self._output], dtype=np.float32, copy=True)
