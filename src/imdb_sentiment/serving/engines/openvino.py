"""OpenVINO inference engine: the exported fp32 ONNX graph converted to OpenVINO IR, optionally
quantized to int8 with NNCF, served on the CPU (issue 33, "Fastest on every CPU").

Files live beside the ONNX export, in ``<model_dir>/exports/``:

- ``model.xml`` + ``model.bin``            fp32 IR converted from ``exports/model.onnx``;
- ``model.int8.xml`` + ``model.int8.bin``  NNCF post-training static int8 (calibrated on reviews).

Writing them (``export.py`` does this after the ONNX export)::

    convert_to_openvino(onnx_dir / "model.onnx", ov_dir / "model.xml")
    quantize_openvino_int8(ov_dir / "model.xml", ov_dir / "model.int8.xml", calibration)

Serving them::

    engine = OpenVinoEngine(model_dir / "exports" / OPENVINO_FILES["openvino"])
    logits = engine.logits(input_ids, attention_mask)  # int64 (batch, seq) -> float32 (batch, 2)

The ``openvino`` and ``nncf`` packages are dependencies, but imported only when a function here
runs (importing the package stays fast), and a missing one is a
:class:`~imdb_sentiment.errors.UserError` naming the pip command.

Precision: the engine leaves the inference precision to OpenVINO, which runs fp32 graphs in bf16
on CPUs with AMX or AVX-512 BF16 and in fp32 elsewhere; ``engine.precision`` says which
("bf16" or "f32"). Pass ``inference_precision="f32"`` to force fp32, e.g. when an export check
compares logits with PyTorch to 1e-3 (bf16 is only good to about 1e-2).
"""

from __future__ import annotations

import logging
import threading
from pathlib import Path

import numpy as np

from ...errors import UserError
from .onnx import widest_products

OPENVINO_DIR = "exports"  # engines.EXPORT_DIR
OPENVINO_FILES = {"openvino": "model.xml", "openvino-int8": "model.int8.xml"}
INPUT_NAMES = ("input_ids", "attention_mask")
OUTPUT_NAME = "logits"


def _import_openvino():
    try:
        import openvino
    except ImportError as error:
        raise UserError("backend openvino needs the openvino package: pip install openvino") from error
    return openvino


def _import_nncf():
    try:
        import nncf
        import nncf.telemetry.decorator
        from nncf.telemetry.wrapper import NNCFTelemetryStub
    except ImportError as error:
        raise UserError("backend openvino-int8 needs the nncf package: pip install nncf") from error
    # NNCF sends usage telemetry over the network by default, from a forked process: this project
    # sends nothing anywhere, and a fork from a process with other threads (Ray, gradio) can
    # deadlock and then hang that process's exit. NNCF's own switch is only read at import
    # (NNCF_CI), so its tracked functions get the stub NNCF itself uses in its tests.
    nncf.telemetry.decorator.telemetry = NNCFTelemetryStub()
    nncf.set_log_level(logging.WARNING)  # else a line per node it leaves in float, on its own handler
    return nncf


def convert_to_openvino(onnx_path: Path, target_xml: Path) -> None:
    """Convert the fp32 ONNX export (inputs ``input_ids``/``attention_mask``, int64, dynamic batch
    and sequence; output ``logits``) to OpenVINO IR at ``target_xml`` (+ the ``.bin`` beside it).

    The weights stay fp32 (``compress_to_fp16=False``): fp16 weights would cost accuracy on CPUs
    that compute in fp32 and save no time there; bf16 CPUs convert at compile time anyway.
    """
    ov = _import_openvino()
    onnx_path, target_xml = Path(onnx_path), Path(target_xml)
    if not onnx_path.is_file():
        raise UserError(f"No ONNX model at '{onnx_path}' to convert; run the ONNX export first.")
    # Core.read_model reads ONNX with the same frontend as convert_model, without the converter's
    # usage telemetry (sent over the network from a forked process; see _import_nncf).
    model = ov.Core().read_model(str(onnx_path))
    target_xml.parent.mkdir(parents=True, exist_ok=True)
    ov.save_model(model, str(target_xml), compress_to_fp16=False)


def quantize_openvino_int8(
    source_xml: Path, target_xml: Path, calibration: list[dict[str, np.ndarray]]
) -> None:
    """Post-training static int8 of ``source_xml`` with NNCF, written to ``target_xml``.

    ``calibration``: padded batches from real reviews, each ``{"input_ids": int64 (b, s),
    "attention_mask": int64 (b, s)}``; every batch is used (``subset_size=len(calibration)``).
    The transformer model type keeps the numerically touchy ops (LayerNorm, Softmax, GELU, the
    attention-mask arithmetic) in floating point; the mixed preset quantizes activations
    asymmetrically (GELU outputs are not centred on 0) and weights symmetrically. The feed-forward
    down-projections stay in float too (``onnx.widest_products`` says why).
    """
    ov = _import_openvino()
    nncf = _import_nncf()
    if not calibration:
        raise UserError("int8 quantization needs at least one calibration batch of reviews.")
    source_xml, target_xml = Path(source_xml), Path(target_xml)
    model = ov.Core().read_model(str(source_xml))
    batches = [
        {name: np.ascontiguousarray(batch[name], dtype=np.int64) for name in INPUT_NAMES}
        for batch in calibration
    ]
    kept_in_float = widest_products(_matmul_input_widths(model))
    quantized = nncf.quantize(
        model,
        nncf.Dataset(batches),
        preset=nncf.QuantizationPreset.MIXED,
        model_type=nncf.ModelType.TRANSFORMER,
        subset_size=len(batches),
        ignored_scope=nncf.IgnoredScope(names=kept_in_float) if kept_in_float else None,
    )
    target_xml.parent.mkdir(parents=True, exist_ok=True)
    ov.save_model(quantized, str(target_xml), compress_to_fp16=False)


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
        ov = _import_openvino()
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


def _matmul_input_widths(model) -> dict[str, int]:
    """``{MatMul name: static width of the input it contracts}`` for products with a constant
    weight (the attention's score and value products read two activations and are left out)."""
    widths = {}
    for op in model.get_ops():
        if op.get_type_name() != "MatMul":
            continue
        weight = op.input_value(1).get_node()
        while weight.get_type_name() == "Convert":  # fp16/f32 conversions in front of a Constant
            weight = weight.input_value(0).get_node()
        activation = op.input_value(0).get_partial_shape()
        if weight.get_type_name() != "Constant" or activation.rank.is_dynamic:
            continue
        contracted = activation[activation.rank.get_length() - 1]
        if contracted.is_static:
            widths[op.get_friendly_name()] = contracted.get_length()
    return widths
