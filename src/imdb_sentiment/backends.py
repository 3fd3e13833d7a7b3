"""Inference backends behind :class:`~imdb_sentiment.predict.Classifier`, and which one to serve.

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

import argparse
import hashlib
import json
import os
import warnings
from pathlib import Path

import numpy as np

from .errors import UserError

BACKENDS = ("torch", "torch-int8", "onnx", "onnx-int8")
CHOICES = (*BACKENDS, "auto")
ONNX_DIR = "onnx"
ONNX_FILES = {"onnx": "model.onnx", "onnx-int8": "model.int8.onnx"}
MANIFEST = "export.json"
# Measured order on a 2-core AVX2 CPU (README "Speed"): int8 ONNX first, then fp32 ONNX.
AUTO_ORDER = ("onnx-int8", "onnx")


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
                f"write it with `python -m imdb_sentiment export --model-dir {model_dir}{quantize}`."
            )
        manifest = read_manifest(model_dir)
        if manifest is None or not export_is_current(model_dir, manifest):
            raise UserError(
                f"The ONNX export in '{model_dir}' was made from other weights than its "
                "model.safetensors; export again."
            )
    return requested


def add_model_arguments(parser: argparse.ArgumentParser) -> None:
    """--model-dir, --device and --backend: how every front (CLI, app) picks a Classifier."""
    parser.add_argument("--model-dir", default="saved_model", help="Saved model folder or Hub id.")
    parser.add_argument("--device", default=None, help="cpu or cuda (default: cuda if available).")
    parser.add_argument(
        "--backend",
        default="auto",
        choices=("auto", *BACKENDS),
        help="Inference engine; onnx ones need `export` first (default auto: fastest exported, else torch).",
    )
