"""Inference engines behind :class:`~imdb_sentiment.serving.classifier.Classifier`, and which one to serve.

Every engine turns a padded batch (``input_ids``, ``attention_mask``: int64 arrays) into logits:

- ``torch``          the saved safetensors model, PyTorch eager: fp32 on the CPU; on a GPU fp16 or
                     bf16 autocast as the card supports (precision.py's capability table);
- ``torch-bf16``     bf16 autocast on CPUs with native bf16 (avx512_bf16 or AMX); an error elsewhere;
- ``onnx``           ONNX Runtime on ``exports/model.onnx`` (fp32, transformer fusions);
- ``onnx-int8``      ONNX Runtime on ``exports/model.int8.onnx`` (dynamic int8 weights);
- ``openvino``       OpenVINO on ``exports/model.xml`` at its default precision (bf16 on AMX /
                     AVX-512 BF16 CPUs, fp32 elsewhere);
- ``openvino-int8``  OpenVINO on ``exports/model.int8.xml`` (NNCF static int8, calibrated on reviews).

``torch-int8`` (PyTorch dynamic int8) was dropped: it was built on
``torch.ao.quantization.quantize_dynamic``, which PyTorch deprecated for removal, and int8 is served
faster by ``onnx-int8`` and ``openvino-int8``, which are checked against fp32 at export.

``auto`` (engines/choice.py) serves the fastest engine *measured on this CPU* at export, or, on
another CPU, the first by a rule on its flags; only engines whose export check passed, whose
package is installed and whose file is present; else ``torch``. ``serving/exporters/`` writes the
files and ``exports/export.json`` (checks, ranking, and which weights they came from, so an export
left over from another model is never served).
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from ...errors import UserError
from . import choice
from .choice import INSTALL, PACKAGES, choose_auto, has_native_bf16, package_installed
from .onnx import OnnxBackend, default_threads
from .pytorch import TorchBackend, TorchBf16Backend

__all__ = ["OnnxBackend", "TorchBackend", "TorchBf16Backend", "choice", "default_threads", "engine_at"]

BACKENDS = ("torch", "torch-bf16", "onnx", "onnx-int8", "openvino", "openvino-int8")
CHOICES = (*BACKENDS, "auto")
EXPORT_DIR = "exports"
EXPORT_FILES = {
    "onnx": "model.onnx",
    "onnx-int8": "model.int8.onnx",
    "openvino": "model.xml",
    "openvino-int8": "model.int8.xml",
}
MANIFEST = "export.json"


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
    path = Path(model_dir) / EXPORT_DIR / MANIFEST
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return manifest if isinstance(manifest, dict) else None  # damaged: as if there were none


def export_is_current(model_dir: Path, manifest: dict) -> bool:
    """True when the export was made from the weights now in ``model_dir`` (cheap when unchanged)."""
    source = manifest.get("source")
    if not isinstance(source, dict):
        return False
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


def export_path(model_dir: Path, name: str) -> Path:
    return Path(model_dir) / EXPORT_DIR / EXPORT_FILES[name]


def exported_backends(model_dir: Path, manifest: dict | None = None) -> list[str]:
    """Exported engines in ``model_dir`` that passed their checks, have their file and package."""
    manifest = manifest if manifest is not None else read_manifest(model_dir)
    if manifest is None or not export_is_current(model_dir, manifest):
        return []
    accepted = manifest.get("accepted", {})
    return [
        name
        for name in EXPORT_FILES
        if accepted.get(name) and export_path(model_dir, name).is_file() and package_installed(name)
    ]


def choose_backend(requested: str, model_dir: Path | None, device: str) -> tuple[str, str]:
    """(engine, why) for ``requested`` (which may be ``auto``), or a UserError saying why not."""
    if requested not in CHOICES:
        raise UserError(f"Unknown backend {requested!r}; use one of {', '.join(CHOICES)}.")
    if requested == "auto":
        if device != "cpu":
            return "torch", "torch: on a GPU (fp16/bf16 as the card supports)"
        if model_dir is None:
            return "torch", "no export: torch"
        manifest = read_manifest(model_dir)
        if manifest is None:
            return "torch", "no export: torch"
        if not export_is_current(model_dir, manifest):
            return "torch", "export made from other weights: torch"
        return choose_auto(exported_backends(model_dir, manifest), manifest.get("ranking"))
    if requested == "torch-bf16":
        if device != "cpu":
            raise UserError("backend torch-bf16 is for CPUs; on a GPU --backend torch serves fp16/bf16.")
        if not has_native_bf16():
            raise UserError(
                "backend torch-bf16 needs a CPU with native bf16 (avx512_bf16 or AMX); "
                "this one has neither: use --backend auto."
            )
    if requested in EXPORT_FILES:
        rejected = _rejection(requested, _check_exported(requested, model_dir, device))
        if rejected:
            return requested, f"{requested}: asked for, although {rejected}"
    return requested, f"{requested}: asked for"


def _rejection(name: str, manifest: dict) -> str:
    """Why the export check rejected ``name`` ("" if it passed): served only when asked for by name,
    and then the reason says so (the CLI and the app show it)."""
    if manifest.get("accepted", {}).get(name, False):
        return ""
    check = manifest.get("checks", {}).get(name) or {}
    if "agreement" not in check:
        return "the export check did not accept it"
    worst = min((check, check.get("alone") or check), key=lambda figures: figures["agreement"])
    return (
        "the export check rejected it (its labels agree with fp32 on "
        f"{worst['agreement']:.3f} of {worst.get('n', '?')} reviews)"
    )


def _check_exported(name: str, model_dir: Path | None, device: str) -> dict:
    """The export's manifest, once ``name`` is shown servable from ``model_dir``; else a UserError."""
    if device != "cpu":
        raise UserError(f"backend {name} runs on the CPU only; pass --device cpu.")
    if not package_installed(name):
        raise UserError(f"backend {name} needs the {PACKAGES[name]} package: {INSTALL[PACKAGES[name]]}")
    path = None if model_dir is None else export_path(model_dir, name)
    if path is None or not path.is_file():
        raise UserError(
            f"backend {name} needs {EXPORT_DIR}/{EXPORT_FILES[name]} in the model folder; "
            f"write it with `python -m imdb_sentiment export --model-dir {model_dir}`."
        )
    manifest = read_manifest(model_dir)
    if manifest is None:
        raise UserError(
            f"{EXPORT_DIR}/{MANIFEST} in '{model_dir}' is missing or damaged, so nothing says which "
            f"weights the export came from; export again: python -m imdb_sentiment export --model-dir {model_dir}"
        )
    if not export_is_current(model_dir, manifest):
        raise UserError(
            f"The export in '{model_dir}' was made from other weights than its "
            "model.safetensors; export again."
        )
    return manifest


def resolve_backend(requested: str, model_dir: Path | None, device: str) -> str:
    """The concrete engine for ``requested`` (see :func:`choose_backend`)."""
    return choose_backend(requested, model_dir, device)[0]


def engine_at(name: str, path: Path, threads: int):
    """The exported engine ``name`` on the file ``path``."""
    if name in ("onnx", "onnx-int8"):
        return OnnxBackend(path, name, threads)
    from .openvino import OpenVinoEngine

    return OpenVinoEngine(path, name, threads)


def load_engine(name: str, model_dir: Path | None, threads: int, device: str = "cpu", model=None):
    """The engine object for ``name``: exported ones from ``model_dir``, torch ones around ``model``."""
    if name in EXPORT_FILES:
        return engine_at(name, export_path(model_dir, name), threads)
    if name == "torch-bf16":
        return TorchBf16Backend(model, device)
    return TorchBackend(model, device, half=device != "cpu")
