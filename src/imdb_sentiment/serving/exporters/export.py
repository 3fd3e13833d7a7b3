"""Export a saved model to every engine this machine can run, checked against fp32 PyTorch.

    python -m imdb_sentiment export --model-dir saved_model [--engines onnx,openvino] [--check-data f]

Writes ``saved_model/exports/`` in one rename (``atomic.atomic_directory``; the safetensors weights
are only read): ``model.onnx`` (ONNX Runtime's transformer fusions), ``model.int8.onnx`` (dynamic
int8, its up-projections smoothed on check reviews), ``model.xml`` (OpenVINO IR, fp32 weights),
``model.int8.xml`` (NNCF static int8, calibrated on check reviews), and ``export.json``. The
steps, in order:

1. the graph is exported to ONNX and converted to OpenVINO *before* ONNX Runtime's fusions rewrite
   ``model.onnx`` (the fused ops are ONNX Runtime's own, which OpenVINO cannot read);
2. the fp32 files must reproduce PyTorch's logits (to 1e-3; OpenVINO compared at
   ``inference_precision="f32"``), else nothing is written;
3. every candidate, as it will be served, is checked on real reviews (exporters/check.py: label
   agreement >= 0.99 and accuracy drop <= 0.01, each with its 95% interval);
4. every accepted engine (and torch, and torch-bf16 on bf16 CPUs) is timed on this CPU; the
   ranking and the CPU go into ``export.json``, which ``auto`` reads (engines/choice.py).

``export.json`` also records the check reviews, the thresholds, each candidate's figures, the
weights it was made from, the operators ONNX Runtime fused, the matrix products each int8 file
kept in float (and those ``onnx-int8`` smoothed), and the library versions.
"""

from __future__ import annotations

import contextlib
import json
import logging
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ...atomic import atomic_directory
from ...errors import UserError
from ..classifier import Classifier, batches_by_length, pad_batch
from ..engines import EXPORT_DIR, EXPORT_FILES, MANIFEST, engine_at, load_engine, weights_fingerprint
from ..engines.choice import choose_auto, cpu_info, has_native_bf16, package_installed
from ..engines.onnx import default_threads
from .check import (
    CALIBRATION_REVIEWS,
    FEW_CHECK_REVIEWS,
    MAX_CHECK_REVIEWS,
    TIMING_BATCH,
    TIMING_REVIEWS,
    TIMING_ROUNDS,
    embedded_check_reviews,
    label_checks,
    passes,
    rank_engines,
    thresholds,
    timing_batches,
)
from .onnx import export_onnx_graph, fuse_transformer_graph, quantize_int8

logger = logging.getLogger(__name__)


@dataclass
class ExportReport:
    directory: str
    files: dict[str, str]
    max_abs_diff: dict[str, float] = field(default_factory=dict)  # fp32 files vs PyTorch logits
    checks: dict[str, dict] = field(default_factory=dict)
    accepted: dict[str, bool] = field(default_factory=dict)
    ranking: dict = field(default_factory=dict)
    auto: tuple[str, str] = ("torch", "")  # what auto serves on this CPU, and why
    seconds: float = 0.0
    fused: dict[str, int] = field(default_factory=dict)  # transformer ops fused by ONNX Runtime


def available_engines() -> tuple[str, ...]:
    """The exported engines whose packages are installed here (what ``export`` writes by default)."""
    wanted = [name for name in EXPORT_FILES if package_installed(name)]
    if "openvino-int8" in wanted and not _has("nncf"):
        wanted.remove("openvino-int8")
    if not package_installed("onnx"):  # the ONNX graph is the source of every other file
        return ()
    return tuple(wanted)


def _has(package: str) -> bool:
    import importlib.util

    return importlib.util.find_spec(package) is not None


def engine_logits(engine, ids: list[list[int]], pad_id: int, batch_size: int = 32) -> np.ndarray:
    """Logits of ``engine`` for tokenized reviews, in their order (length-sorted batches)."""
    lengths = [len(row) for row in ids]
    result = None
    for batch in batches_by_length(lengths, batch_size, 16384):
        logits = engine.logits(*pad_batch([ids[i] for i in batch], pad_id))
        result = np.zeros((len(ids), logits.shape[1]), np.float32) if result is None else result
        result[batch] = logits
    return result


def export_model(
    model_dir: str | Path,
    engines: tuple[str, ...] | list[str] | None = None,
    check_texts: list[str] | None = None,
    check_labels: np.ndarray | None = None,
    opset: int = 17,
    max_check: int = MAX_CHECK_REVIEWS,
) -> ExportReport:
    """Write ``<model_dir>/exports/`` atomically (module docstring); ``engines``: the exported
    engines to write (default: every one whose package is installed); without ``check_texts``
    the check uses the first ``max_check`` held-out reviews of the embedded IMDb sample."""
    import torch

    engines = tuple(available_engines() if engines is None else engines)
    unknown = [name for name in engines if name not in EXPORT_FILES]
    if unknown or not engines:
        raise UserError(
            f"--engines takes some of {', '.join(EXPORT_FILES)}; got {', '.join(unknown) or 'none'}."
        )
    started = time.perf_counter()
    model_dir = Path(model_dir).expanduser().absolute()
    classifier = Classifier.from_pretrained(model_dir, device="cpu", backend="torch")
    if check_texts:
        texts, labels, source = list(check_texts), check_labels, "given"
    else:
        texts, labels = embedded_check_reviews(max_check)
        source = "embedded IMDb sample, test split"
    ids = classifier.encode(texts)
    pad, threads = classifier.pad_token_id, default_threads()
    torch_engine = classifier.backend
    reference = engine_logits(torch_engine, ids, pad)
    scale = max(1.0, float(np.abs(reference).max()))
    markers = (MANIFEST, *EXPORT_FILES.values())
    with atomic_directory(model_dir / EXPORT_DIR, markers=markers, flag=None) as staging:
        onnx_path = staging / EXPORT_FILES["onnx"]
        export_onnx_graph(classifier.model, pad_batch(ids[:2], pad), onnx_path, opset)
        if {"openvino", "openvino-int8"} & set(engines):
            from .openvino import convert_to_openvino

            convert_to_openvino(onnx_path, staging / EXPORT_FILES["openvino"])  # before the fusions
        fused = {}
        if {"onnx", "onnx-int8"} & set(engines):
            fused = fuse_transformer_graph(onnx_path, classifier.model.config)
        kept_in_float, smoothed = {}, {}  # int8 file -> the matrix products it left in float / smoothed
        calibration = [
            pad_batch(ids[i : i + 8], pad) for i in range(0, min(len(ids), CALIBRATION_REVIEWS), 8)
        ]
        if "onnx-int8" in engines:
            kept_in_float["onnx-int8"], smoothed["onnx-int8"] = quantize_int8(
                onnx_path, staging / EXPORT_FILES["onnx-int8"], calibration
            )
        if "openvino-int8" in engines:
            from .openvino import quantize_openvino_int8

            kept_in_float["openvino-int8"] = quantize_openvino_int8(
                staging / EXPORT_FILES["openvino"],
                staging / EXPORT_FILES["openvino-int8"],
                [dict(zip(("input_ids", "attention_mask"), batch)) for batch in calibration],
            )
        report = ExportReport(str(model_dir / EXPORT_DIR), {n: EXPORT_FILES[n] for n in engines}, fused=fused)
        served = {}
        for name in engines:
            engine = served[name] = engine_at(name, staging / EXPORT_FILES[name], threads)
            logits = engine_logits(engine, ids, pad)
            if name in ("onnx", "openvino"):
                exact = logits
                if getattr(engine, "precision", "f32") != "f32":  # bf16 CPUs: compare at f32
                    from ..engines.openvino import OpenVinoEngine

                    exact = engine_logits(OpenVinoEngine(engine.path, name, threads, "f32"), ids, pad)
                report.max_abs_diff[name] = float(np.abs(exact - reference).max())
                if report.max_abs_diff[name] > 1e-3 * scale:
                    raise UserError(
                        f"The {name} export does not reproduce the PyTorch model (largest logit "
                        f"difference {report.max_abs_diff[name]:.2g}); nothing was written."
                    )
            report.checks[name] = label_checks(reference, logits, labels)
            if name.endswith("-int8"):  # its scales may depend on the batch: check the lone request too
                alone = engine_logits(engine, ids, pad, batch_size=1)
                report.checks[name]["alone"] = label_checks(reference, alone, labels)
            report.accepted[name] = passes(report.checks[name])
            if not report.accepted[name]:
                logger.warning(
                    "%s disagrees with fp32 (%s); auto will not pick it.", name, report.checks[name]
                )
        timed = {"torch": torch_engine, **{n: e for n, e in served.items() if report.accepted[n]}}
        if has_native_bf16():
            timed["torch-bf16"] = load_engine("torch-bf16", None, threads, model=classifier.model)
        report.ranking = {
            "cpu": cpu_info(),
            "engines": rank_engines(timed, timing_batches(ids, pad)),
            "reviews": min(len(ids), TIMING_REVIEWS),
            "batch_size": TIMING_BATCH,
            "rounds": TIMING_ROUNDS,
        }
        usable = [n for n in engines if report.accepted[n]]
        report.auto = choose_auto(usable, report.ranking)
        if not {"onnx", "onnx-int8"} & set(engines):
            onnx_path.unlink()  # only the source of the OpenVINO files
        report.seconds = time.perf_counter() - started
        manifest = {
            "files": report.files,
            "source": weights_fingerprint(model_dir),
            "check_reviews": {"source": source, "n": len(texts), "labelled": labels is not None},
            "thresholds": thresholds(),
            "checks": report.checks,
            "accepted": report.accepted,
            "max_abs_diff": report.max_abs_diff,
            "ranking": report.ranking,
            "fused_operators": fused,
            "int8_kept_in_float": kept_in_float,
            "int8_smoothed": smoothed,
            "opset": opset,
            "seconds": round(report.seconds, 1),
            "versions": _versions(torch.__version__),
        }
        (staging / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
    return report


def summary(report: ExportReport) -> str:
    """One line: "Exported onnx, onnx-int8 in 12 s; auto serves onnx-int8 (why)"."""
    written = ", ".join(name for name in report.files)
    rejected = [name for name, ok in report.accepted.items() if not ok]
    text = f"Exported {written} in {report.seconds:.0f} s; auto serves {report.auto[1] or report.auto[0]}"
    text += f"; rejected by the check: {', '.join(rejected)}" if rejected else ""
    return text + _few_reviews_note(report)


def _few_reviews_note(report: ExportReport) -> str:
    """A warning when the check had too few reviews to tell 99% agreement from much less: below
    ``FEW_CHECK_REVIEWS``, a candidate that agreed on every review may still move 2% of labels."""
    n = min((figures["n"] for figures in report.checks.values()), default=0)
    if not n or n >= FEW_CHECK_REVIEWS:
        return ""
    low = min(figures["agreement_ci95"][0] for figures in report.checks.values())
    return (
        f"; note: checked on only {n} review{'s' if n > 1 else ''}, so agreement is known only to within "
        f"{low:.2f}-1.00; pass --check-data with a few hundred reviews"
    )


def export_after_training(model_dir: Path) -> str:
    """Export a freshly saved model (``train``'s staging folder) and return the summary line. A
    failed export leaves the model to be served by torch rather than losing the training run."""
    try:
        return summary(export_model(model_dir))
    except Exception as error:  # noqa: BLE001 - the trained model matters more than its export
        logger.warning("export failed", exc_info=True)
        return f"Export failed ({type(error).__name__}: {error}); the model serves with torch. Retry with `export`."


def _versions(torch_version: str) -> dict:
    from importlib.metadata import PackageNotFoundError, version

    versions = {"torch": torch_version}
    for package in ("onnxruntime", "openvino", "nncf"):
        with contextlib.suppress(PackageNotFoundError):
            versions[package] = version(package)
    return versions
