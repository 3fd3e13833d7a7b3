"""Inference backends behind :class:`~imdb_sentiment.serving.classifier.Classifier`, and which one to serve.

Every backend turns a padded batch (``input_ids``, ``attention_mask``: int64 arrays) into logits:

- ``torch``       the saved safetensors model, PyTorch fp32 eager (also the only GPU path);
- ``torch-int8``  PyTorch dynamic int8 quantization of the Linear layers, made at load time;
- ``onnx``        ONNX Runtime on ``<model_dir>/onnx/model.onnx`` (fp32, graph optimizations on);
- ``onnx-int8``   ONNX Runtime on ``<model_dir>/onnx/model.int8.onnx`` (dynamic int8 weights).

``auto`` takes the fastest exported backend whose export checks passed (see benchmarks/inference.py
for the measurements behind that order) and falls back to ``torch``. The ONNX files are written
by ``export.py`` (``python -m imdb_sentiment export --model-dir saved_model --quantize int8``);
``onnx/export.json`` records their checks and which weights they came from, so an export left over
from another model is never served.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from ...errors import UserError
from .onnx import OnnxBackend, default_threads
from .pytorch import TorchBackend, TorchInt8Backend

__all__ = ["OnnxBackend", "TorchBackend", "TorchInt8Backend", "default_threads"]

BACKENDS = ("torch", "torch-int8", "onnx", "onnx-int8")
CHOICES = (*BACKENDS, "auto")
ONNX_DIR = "onnx"
ONNX_FILES = {"onnx": "model.onnx", "onnx-int8": "model.int8.onnx"}
MANIFEST = "export.json"
# Measured order on a 2-core AVX2 CPU (README "Speed"): int8 ONNX first, then fp32 ONNX.
AUTO_ORDER = ("onnx-int8", "onnx")


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
                f"write it with `python -m imdb_sentiment export --model-dir {model_dir}{quantize}`."
            )
        manifest = read_manifest(model_dir)
        if manifest is None or not export_is_current(model_dir, manifest):
            raise UserError(
                f"The ONNX export in '{model_dir}' was made from other weights than its "
                "model.safetensors; export again."
            )
    return requested
