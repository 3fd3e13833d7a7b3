"""Export a saved model to ONNX: fp32 with ONNX Runtime's transformer fusions, optionally int8,
each checked against the PyTorch model before anything is written.

    python -m imdb_sentiment export --model-dir saved_model --quantize int8

The export is staged beside the model and renamed into ``saved_model/onnx/`` in one step
(``save.atomic_directory``); the safetensors weights are only read. ``onnx/export.json`` records
the checks and which weights the files came from, which is what ``backends.exported_backends``
reads to decide whether ``auto`` may serve them.
"""

from __future__ import annotations

import json
import logging
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..atomic import atomic_directory
from ..errors import UserError
from .classifier import Classifier, pad_batch
from .engines import MANIFEST, ONNX_DIR, ONNX_FILES, OnnxBackend, weights_fingerprint

logger = logging.getLogger(__name__)

MIN_AGREEMENT = 0.99  # int8 labels must match fp32 on at least this share of the check reviews
MAX_ACCURACY_DROP = 0.005  # and, with labels, lose at most half a point of accuracy
# Short reviews of both kinds, so an export is checked even without --check-data.
PROBE_REVIEWS = [
    "A wonderful, moving film with superb acting.",
    "Two hours of my life I will never get back.",
    "The plot was predictable but the cast made it worth watching.",
    "Dreadful script, wooden dialogue and a boring ending.",
    "One of the best movies I have seen this year; a true masterpiece.",
    "I walked out halfway through. Awful.",
    "Beautiful photography, a gripping story and a brilliant score.",
    "The director wasted a great cast on a terrible, confused story.",
    "Funny, warm and clever from start to finish.",
    "Not even the special effects could save this mess.",
    "It is a quiet film, slow at times, but it stayed with me for days.",
    "I expected much more; the second half drags and nothing makes sense.",
]


@dataclass
class ExportReport:
    directory: str
    files: dict[str, str]
    max_abs_diff: float  # fp32 ONNX logits vs PyTorch on the check reviews
    checks: dict[str, dict] = field(default_factory=dict)
    accepted: dict[str, bool] = field(default_factory=dict)
    seconds: float = 0.0
    fused: dict[str, int] = field(default_factory=dict)  # transformer ops fused by ONNX Runtime


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


def label_checks(reference: np.ndarray, candidate: np.ndarray, labels: np.ndarray | None) -> dict:
    """Label agreement of ``candidate`` with ``reference`` logits, and both accuracies if labelled."""
    ref, cand = reference.argmax(axis=1), candidate.argmax(axis=1)
    report = {"n": int(len(ref)), "agreement": float((ref == cand).mean()) if len(ref) else 1.0}
    if labels is not None and len(labels):
        report["accuracy_fp32"] = float((ref == labels).mean())
        report["accuracy"] = float((cand == labels).mean())
    return report


def passes(report: dict) -> bool:
    drop = report.get("accuracy_fp32", 0.0) - report.get("accuracy", 0.0)
    return report["agreement"] >= MIN_AGREEMENT and drop <= MAX_ACCURACY_DROP


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
    fusion_logger = logging.getLogger("onnxruntime.transformers")
    level = fusion_logger.level
    fusion_logger.setLevel(logging.ERROR)  # it logs every pattern it tried
    try:
        optimized = optimize_model(
            str(path), model_type="bert", num_heads=heads, hidden_size=hidden, opt_level=0
        )
    finally:
        fusion_logger.setLevel(level)
    counts = {name: n for name, n in optimized.get_fused_operator_statistics().items() if n}
    if counts:
        optimized.save_model_to_file(str(path))
    return counts


def quantize_int8(source: Path, target: Path) -> None:
    """Dynamic int8: weights quantized per output channel once, activations per batch at run time.

    Only the matrix products (MatMul and the fused Attention's projections) are quantized; the
    embedding tables stay fp32, since int8 there saves memory but no time. Chosen by measurement
    (docs/experiments.md, "Dynamic int8 settings"): per-tensor weights or int8 embeddings cost label
    agreement with fp32, 7-bit weights (reduce_range) did not help.
    """
    from onnxruntime.quantization import QuantType, quantize_dynamic

    quantize_dynamic(
        str(source),
        str(target),
        weight_type=QuantType.QInt8,  # u8 activations x s8 weights: the fast AVX2 kernel
        per_channel=True,
        reduce_range=False,
        op_types_to_quantize=["MatMul", "Attention"],
        extra_options={"DefaultTensorType": 1},  # FLOAT, for nodes shape inference skips
    )


def export_onnx(
    model_dir: str | Path,
    quantize: str | None = None,
    check_texts: list[str] | None = None,
    check_labels: np.ndarray | None = None,
    opset: int = 17,
) -> ExportReport:
    """Write ``<model_dir>/onnx/`` (model.onnx, model.int8.onnx with ``quantize="int8"``,
    export.json) atomically, after checking the files against the PyTorch model."""
    import torch

    if quantize not in (None, "int8"):
        raise UserError(f"--quantize {quantize!r} is not supported; use int8 or leave it out.")
    started = time.perf_counter()
    model_dir = Path(model_dir).expanduser().absolute()
    classifier = Classifier.from_pretrained(model_dir, device="cpu", backend="torch")
    texts = list(check_texts or PROBE_REVIEWS)
    ids = classifier.encode(texts)
    with atomic_directory(model_dir / ONNX_DIR, markers=(MANIFEST, *ONNX_FILES.values())) as staging:
        example = pad_batch(ids[:2], classifier.pad_token_id)  # two lengths: a real padding mask
        reference = classifier.predict_logits(texts)
        # Eager attention exports as plain MatMul/Softmax, the pattern ONNX Runtime fuses into its
        # Attention kernel; SDPA exports in a form it cannot fuse (measured: README "Speed").
        exported_model = classifier.model
        if hasattr(exported_model, "set_attn_implementation"):
            exported_model.set_attn_implementation("eager")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            torch.onnx.export(
                _logits_only(exported_model),
                (torch.from_numpy(example[0]), torch.from_numpy(example[1])),
                str(staging / ONNX_FILES["onnx"]),
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
        fused = fuse_transformer_graph(staging / ONNX_FILES["onnx"], classifier.model.config)
        files = {"onnx": ONNX_FILES["onnx"]}
        if quantize == "int8":
            quantize_int8(staging / ONNX_FILES["onnx"], staging / ONNX_FILES["onnx-int8"])
            files["onnx-int8"] = ONNX_FILES["onnx-int8"]

        report = ExportReport(directory=str(model_dir / ONNX_DIR), files=files, max_abs_diff=0.0, fused=fused)
        for name, filename in files.items():
            candidate = Classifier(
                classifier.model,
                classifier.tokenizer,
                classifier.max_length,
                classifier.encoder.strategy,
                backend=OnnxBackend(staging / filename, name),
            ).predict_logits(texts)
            report.checks[name] = label_checks(reference, candidate, check_labels)
            report.checks[name]["max_abs_diff"] = float(np.abs(candidate - reference).max())
            report.accepted[name] = passes(report.checks[name])
        report.max_abs_diff = report.checks["onnx"]["max_abs_diff"]
        scale = max(1.0, float(np.abs(reference).max()))
        if report.max_abs_diff > 1e-3 * scale:
            raise UserError(
                f"The ONNX export does not reproduce the PyTorch model (largest logit difference "
                f"{report.max_abs_diff:.2g}); nothing was written."
            )
        for name, ok in report.accepted.items():
            if not ok:
                logger.warning(
                    "%s disagrees with fp32 (%s); auto will not pick it.", name, report.checks[name]
                )
        report.seconds = time.perf_counter() - started
        manifest = {
            "format": "onnx",
            "opset": opset,
            "files": files,
            "source": weights_fingerprint(model_dir),
            "checks": report.checks,
            "accepted": report.accepted,
            "fused_operators": fused,
            "check_reviews": "given" if check_texts else "built-in probes",
            "versions": {"torch": torch.__version__, "onnxruntime": _ort_version()},
        }
        (staging / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
    return report


def _ort_version() -> str:
    import onnxruntime

    return onnxruntime.__version__
