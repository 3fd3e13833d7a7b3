"""Inference backends behind :class:`~imdb_sentiment.predict.Classifier`, and the ONNX export.

Every backend turns a padded batch (``input_ids``, ``attention_mask``: int64 arrays) into logits:

- ``torch``       the saved safetensors model, PyTorch fp32 eager (also the only GPU path);
- ``torch-int8``  PyTorch dynamic int8 quantization of the Linear layers, made at load time;
- ``onnx``        ONNX Runtime on ``<model_dir>/onnx/model.onnx`` (fp32, graph optimizations on);
- ``onnx-int8``   ONNX Runtime on ``<model_dir>/onnx/model.int8.onnx`` (dynamic int8 weights).

``auto`` takes the fastest exported backend whose export checks passed (see benchmarks/inference.py
for the measurements behind that order) and falls back to ``torch``. Write the ONNX files with

    python -m imdb_sentiment export --model-dir saved_model --format onnx --quantize int8

The export is staged beside the model and renamed into ``saved_model/onnx/`` in one step; the
safetensors weights are only read. ``onnx/export.json`` records the checks and which weights
the files came from, so an export left over from another model is never served.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import tempfile
import time
import warnings
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from .errors import UserError

logger = logging.getLogger(__name__)

BACKENDS = ("torch", "torch-int8", "onnx", "onnx-int8")
CHOICES = (*BACKENDS, "auto")
ONNX_DIR = "onnx"
ONNX_FILES = {"onnx": "model.onnx", "onnx-int8": "model.int8.onnx"}
MANIFEST = "export.json"
# Measured order on a 2-core AVX2 CPU (README "Speed"): int8 ONNX first, then fp32 ONNX.
AUTO_ORDER = ("onnx-int8", "onnx")
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


class TorchBackend:
    """PyTorch eager; fp32, or whatever dtype the model already has."""

    name = "torch"

    def __init__(self, model, device: str = "cpu"):
        self.model = model
        self.device = device

    def logits(self, input_ids: np.ndarray, attention_mask: np.ndarray) -> np.ndarray:
        import torch

        with torch.inference_mode():
            output = self.model(
                input_ids=torch.from_numpy(input_ids).to(self.device),
                attention_mask=torch.from_numpy(attention_mask).to(self.device),
            )
        return output.logits.float().cpu().numpy()


class TorchInt8Backend(TorchBackend):
    """Dynamic int8 quantization of every Linear layer (weights int8, activations per batch)."""

    name = "torch-int8"

    def __init__(self, model, device: str = "cpu"):
        import torch

        if device != "cpu":
            raise UserError("backend torch-int8 runs on the CPU only; use --backend torch on a GPU.")
        with warnings.catch_warnings():  # torch.ao.quantization is deprecated but still the CPU path
            warnings.simplefilter("ignore")
            quantized = torch.ao.quantization.quantize_dynamic(
                model, {torch.nn.Linear}, dtype=torch.qint8, inplace=False
            )
        super().__init__(quantized.eval(), device)


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


# --- which exported files exist and may be served -------------------------------------------------


def weights_fingerprint(model_dir: Path) -> dict:
    path = Path(model_dir) / "model.safetensors"
    stat = path.stat()
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return {"size": stat.st_size, "mtime_ns": stat.st_mtime_ns, "sha256": digest.hexdigest()}


def read_manifest(model_dir: Path) -> dict | None:
    path = Path(model_dir) / ONNX_DIR / MANIFEST
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def export_is_current(model_dir: Path, manifest: dict) -> bool:
    """True when the export was made from the weights now in ``model_dir`` (cheap when unchanged)."""
    source = manifest.get("source", {})
    weights = Path(model_dir) / "model.safetensors"
    try:
        stat = weights.stat()
    except OSError:
        return False
    if stat.st_size != source.get("size"):
        return False
    if stat.st_mtime_ns == source.get("mtime_ns"):
        return True
    return weights_fingerprint(model_dir)["sha256"] == source.get("sha256")  # copied: same bytes?


def exported_backends(model_dir: Path) -> list[str]:
    """Exported backends in ``model_dir`` that passed their export checks, fastest first."""
    manifest = read_manifest(model_dir)
    if manifest is None or not export_is_current(model_dir, manifest):
        return []
    accepted = manifest.get("accepted", {})
    return [
        name
        for name in AUTO_ORDER
        if accepted.get(name) and (Path(model_dir) / ONNX_DIR / ONNX_FILES[name]).is_file()
    ]


def resolve_backend(requested: str, model_dir: Path | None, device: str) -> str:
    """The concrete backend for ``requested`` (which may be ``auto``), or a UserError saying why not."""
    if requested not in CHOICES:
        raise UserError(f"Unknown backend {requested!r}; use one of {', '.join(CHOICES)}.")
    if requested == "auto":
        if device != "cpu" or model_dir is None:
            return "torch"
        for name in exported_backends(model_dir):
            try:
                import onnxruntime  # noqa: F401
            except ImportError:
                break
            return name
        return "torch"
    if requested in ONNX_FILES:
        if device != "cpu":
            raise UserError(f"backend {requested} runs on the CPU only; pass --device cpu.")
        path = None if model_dir is None else Path(model_dir) / ONNX_DIR / ONNX_FILES[requested]
        if path is None or not path.is_file():
            quantize = " --quantize int8" if requested == "onnx-int8" else ""
            raise UserError(
                f"backend {requested} needs {ONNX_DIR}/{ONNX_FILES[requested]} in the model folder; "
                f"write it with `python -m imdb_sentiment export --model-dir {model_dir} "
                f"--format onnx{quantize}`."
            )
        manifest = read_manifest(model_dir)
        if manifest is None or not export_is_current(model_dir, manifest):
            raise UserError(
                f"The ONNX export in '{model_dir}' was made from other weights than its "
                "model.safetensors; export again."
            )
    return requested


# --- export -----------------------------------------------------------------------------------------


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


def pad_batch(ids: list[list[int]], pad_id: int) -> tuple[np.ndarray, np.ndarray]:
    """(input_ids, attention_mask) for reviews of token ids, right-padded to the longest."""
    width = max(len(row) for row in ids)
    input_ids = np.full((len(ids), width), pad_id, dtype=np.int64)
    mask = np.zeros((len(ids), width), dtype=np.int64)
    for i, row in enumerate(ids):
        input_ids[i, : len(row)] = row
        mask[i, : len(row)] = 1
    return input_ids, mask


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
    (benchmarks/int8_variants.py, README "Speed"): per-tensor weights or int8 embeddings cost label
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

    from .predict import Classifier
    from .save import _swap_into_place

    if quantize not in (None, "int8"):
        raise UserError(f"--quantize {quantize!r} is not supported; use int8 or leave it out.")
    started = time.perf_counter()
    model_dir = Path(model_dir).expanduser().absolute()
    classifier = Classifier.from_pretrained(model_dir, device="cpu", backend="torch")
    texts = list(check_texts or PROBE_REVIEWS)
    ids = classifier.encode(texts)
    target = model_dir / ONNX_DIR
    staging = Path(tempfile.mkdtemp(prefix=f".{ONNX_DIR}.tmp-", dir=model_dir))
    try:
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

        report = ExportReport(directory=str(target), files=files, max_abs_diff=0.0, fused=fused)
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
        os.chmod(staging, 0o755)
        _swap_into_place(staging, target)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return report


def _ort_version() -> str:
    import onnxruntime

    return onnxruntime.__version__


def report_dict(report: ExportReport) -> dict:
    return asdict(report)
