"""The OpenVINO files ``export`` writes: the fp32 ONNX graph converted to OpenVINO IR, and its
post-training static int8 version made with NNCF; served by ``engines/openvino.py``.

    convert_to_openvino(Path("exports/model.onnx"), Path("exports/model.xml"))
    quantize_openvino_int8(Path("exports/model.xml"), Path("exports/model.int8.xml"), calibration)

``calibration``: padded batches of real reviews, each ``{"input_ids": int64 (b, s),
"attention_mask": int64 (b, s)}``. ``openvino`` and ``nncf`` are imported only inside these
functions, and a missing one is a :class:`~imdb_sentiment.errors.UserError` naming the pip command.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

from ...errors import UserError
from ..engines.openvino import INPUT_NAMES, import_openvino
from .int8 import widest_products


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
    ov = import_openvino()
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
) -> list[str]:
    """Post-training static int8 of ``source_xml`` with NNCF, written to ``target_xml``; returns
    the products it kept in float. Every calibration batch is used (``subset_size``).

    The transformer model type keeps the numerically touchy ops (LayerNorm, Softmax, GELU, the
    attention-mask arithmetic) in floating point; the mixed preset quantizes activations
    asymmetrically (GELU outputs are not centred on 0) and weights symmetrically. The feed-forward
    down-projections stay in float too (``int8.widest_products`` says why).
    """
    ov = import_openvino()
    nncf = _import_nncf()
    if not calibration:
        raise UserError("int8 quantization needs at least one calibration batch of reviews.")
    source_xml, target_xml = Path(source_xml), Path(target_xml)
    model = ov.Core().read_model(str(source_xml))
    batches = [
        {name: np.ascontiguousarray(batch[name], dtype=np.int64) for name in INPUT_NAMES}
        for batch in calibration
    ]
    keep_in_float = widest_products(_matmul_input_widths(model))
    quantized = nncf.quantize(
        model,
        nncf.Dataset(batches),
        preset=nncf.QuantizationPreset.MIXED,
        model_type=nncf.ModelType.TRANSFORMER,
        subset_size=len(batches),
        ignored_scope=nncf.IgnoredScope(names=keep_in_float) if keep_in_float else None,
    )
    target_xml.parent.mkdir(parents=True, exist_ok=True)
    ov.save_model(quantized, str(target_xml), compress_to_fp16=False)
    return keep_in_float


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
