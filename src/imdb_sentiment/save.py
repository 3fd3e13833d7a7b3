"""Write a model directory atomically, with its tokenizer, metrics, plots, config and model card.

The directory is built beside the target under a hidden name and renamed into place at the end,
so a failed or interrupted run never leaves a half-written or mixed ``saved_model/``: readers see
the previous model or the new one, nothing in between.

    with atomic_directory("saved_model") as staging:
        model.save_pretrained(staging)
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from .errors import UserError

# Files whose presence marks a directory as a model this project (or transformers) wrote, and so
# safe to replace. Anything else non-empty is refused: a typo must not delete someone's folder.
MODEL_MARKERS = ("config.json", "training_config.json", "model.safetensors")


def check_output_dir(path: str | Path, markers: tuple[str, ...] = MODEL_MARKERS) -> Path:
    """Fail early, before any training, if ``path`` cannot be (re)placed by a model directory
    (or by another folder this project writes, recognised by one of ``markers``)."""
    path = Path(path).expanduser().absolute()
    if path.exists() and not path.is_dir():
        raise UserError(f"output_dir '{path}' exists and is not a directory.")
    if path.is_dir() and any(path.iterdir()) and not any((path / m).exists() for m in markers):
        raise UserError(
            f"output_dir '{path}' is a non-empty folder that does not hold a model; "
            "refusing to replace it. Choose another --output-dir."
        )
    parent = path.parent
    parent.mkdir(parents=True, exist_ok=True)
    if not os.access(parent, os.W_OK):
        raise UserError(f"Cannot write to '{parent}'.")
    return path


@contextmanager
def atomic_directory(target: str | Path, markers: tuple[str, ...] = MODEL_MARKERS) -> Iterator[Path]:
    """Yield an empty staging folder; on success it replaces ``target`` in one rename. An existing
    non-empty ``target`` is only replaced if it holds one of ``markers``."""
    target = check_output_dir(target, markers)
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.tmp-", dir=target.parent))
    try:
        yield staging
        os.chmod(staging, 0o755)  # mkdtemp makes it 0700; a model directory is for sharing
        _swap_into_place(staging, target)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise


def _swap_into_place(staging: Path, target: Path) -> None:
    backup = None
    if target.exists():
        backup = target.parent / f".{target.name}.old-{uuid.uuid4().hex[:8]}"
        os.rename(target, backup)
    try:
        os.rename(staging, target)
    except BaseException:
        if backup is not None:
            os.rename(backup, target)
        raise
    if backup is not None:
        shutil.rmtree(backup, ignore_errors=True)


def write_json(path: Path, payload: dict) -> None:
    path.write_text(json.dumps(payload, indent=2) + "\n", encoding="utf-8")


def _metric_rows(metrics: dict) -> str:
    rows = [
        "| split | accuracy | precision | recall | F1 | ROC-AUC | reviews |",
        "|---|---|---|---|---|---|---|",
    ]
    for split in ("validation", "test"):
        m = metrics.get(split)
        if not m:
            continue
        auc = f"{m['roc_auc']:.4f}" if m.get("roc_auc") is not None else "n/a"
        rows.append(
            f"| {split} | {m['accuracy']:.4f} | {m['precision']:.4f} | {m['recall']:.4f} "
            f"| {m['f1']:.4f} | {auc} | {m['n']:,} |"
        )
    return "\n".join(rows)


def _calibration_line(calibration: dict | None) -> str:
    if not calibration:
        return "- Not calibrated: the scores are the fine-tuned model's own."
    return (
        f"- Calibrated on the validation split (Platt scaling, folded into the output layer): "
        f"scale {calibration['scale']:.3f},\n  shift {calibration['shift']:+.3f}; validation "
        f"accuracy {calibration['validation_accuracy_before']:.4f} before it."
    )


def _precision_line(precision: dict | None) -> str:
    if not precision:
        return "- Precision: fp32."
    tf32 = " with TF32 matmuls" if precision.get("tf32") else ""
    where = precision.get("device") or "CPU"
    return (
        f"- Precision: trained in {precision['training']}{tf32} on {where}; calibrated and evaluated in "
        f"{precision.get('evaluation', 'fp32')}, the numerics the model is served with."
    )


def _behaviour_rows(behaviour: dict | None) -> str:
    """The behavioural check's pass rates (check.py), if training ran it."""
    if not behaviour:
        return ""
    rows = [
        f"\nBehavioural check (`python -m imdb_sentiment check`), {behaviour['n']} short texts: "
        f"overall pass rate {behaviour['overall']:.3f}.\n",
        "| capability | cases | pass rate |",
        "|---|---|---|",
    ]
    rows += [f"| {k} | {v['n']} | {v['pass_rate']:.3f} |" for k, v in behaviour["capabilities"].items()]
    return "\n".join(rows)


def _method_line(freeze: dict) -> str:
    """What trained: the layers above the frozen ones, or LoRA adapters on them."""
    frozen = (
        f"the embeddings and the lowest {freeze['frozen_layers']} of {freeze['total_layers']}\n  "
        "transformer layers"
    )
    trained = (
        f"{freeze['trainable_parameters']:,} of {freeze['total_parameters']:,}\n  parameters trained "
        f"({freeze['trainable_percent']:.2f}%)"
    )
    if freeze.get("method") != "lora":
        return f"- Frozen: {frozen}; {trained}."
    return (
        f"- LoRA (peft): rank {freeze['lora_r']}, alpha {freeze['lora_alpha']:g}, dropout "
        f"{freeze['lora_dropout']:g} adapters on the attention projections above {frozen}, and the\n  "
        f"classifier head trained fully; {trained}, adapters included. The adapters are merged\n  "
        "into the saved weights: a plain transformers model."
    )


def model_card(config: dict, metrics: dict) -> str:
    """A Hugging Face style model card: what was trained, how well, and how to load it."""
    freeze = metrics["model"]
    train = metrics["train"]
    return f"""---
library_name: transformers
pipeline_tag: text-classification
tags: [sentiment-analysis, imdb, imdb-sentiment]
base_model: {config["model"]}
---

# Sentiment classifier fine-tuned from `{config["model"]}`

Binary sentiment (NEGATIVE / POSITIVE), fine-tuned with the imdb-sentiment project on
`{config["data"]}`.

## Training
{_method_line(freeze)}
- Inputs: at most {config["max_length"]} tokens, long reviews cut with the `{config["truncation"]}`
  strategy; HTML line breaks removed.
- {train["train_samples"]:,} training reviews, {config["epochs"]:g} epoch(s), learning rate
  {config["learning_rate"]:g}, batch size {config["batch_size"]}, seed {config["seed"]},
  on {config["device"]} in {train["train_runtime_s"]:.0f} s.
{_precision_line(metrics.get("precision"))}
- The validation split was carved from train (stratified) and chose the best epoch; the test
  split, when present, was used once, for the report below.
{_calibration_line(metrics.get("calibration"))}

## Metrics
{_metric_rows(metrics)}
{_behaviour_rows(metrics.get("behaviour"))}

## Use
```python
from transformers import pipeline
classify = pipeline("text-classification", model="path/to/this/folder")
classify("A wonderful, moving film.", truncation=True)

# or, with the same truncation the model was trained with:
from imdb_sentiment import Classifier
Classifier.from_pretrained("path/to/this/folder").predict(["A wonderful, moving film."])
```
"""


# The side a plain tokenizer cuts from, for each training truncation strategy: "left" keeps the
# end of a review. head_tail keeps 3/4 of its window from the end, so "left" is the closest a
# tokenizer can get to it (a tokenizer truncates from one side only).
TRUNCATION_SIDE = {"head": "right", "tail": "left", "head_tail": "left"}


def save_tokenizer(
    tokenizer, directory, max_length: int | None = None, truncation: str | None = None
) -> None:
    """Save ``tokenizer`` so that a plain ``transformers.pipeline`` sees reviews as training did.

    The HTML line breaks removed before training (``text.clean_text``) are also removed by a
    normalizer baked into ``tokenizer.json``; the generic fast-tokenizer class loads that file as
    written (the model-specific classes rebuild their normalizer and would drop it). With
    ``max_length`` and ``truncation``, ``truncation=True`` in a pipeline cuts a long review to the
    training window, from the side that keeps most of what training kept (``TRUNCATION_SIDE``).
    """
    backend = getattr(tokenizer, "backend_tokenizer", None)
    tokenizer.save_pretrained(directory)
    updates = {}
    if max_length is not None:
        updates["model_max_length"] = max_length
    if truncation is not None:
        updates["truncation_side"] = TRUNCATION_SIDE[truncation]
    if backend is not None:  # a fast tokenizer: bake the line-break normalizer into tokenizer.json
        _bake_line_breaks(backend, Path(directory) / "tokenizer.json")
        updates["tokenizer_class"] = "PreTrainedTokenizerFast"
    config_path = Path(directory) / "tokenizer_config.json"
    config = json.loads(config_path.read_text(encoding="utf-8"))
    config_path.write_text(json.dumps({**config, **updates}, indent=2) + "\n", encoding="utf-8")


def _bake_line_breaks(backend, path) -> None:
    from tokenizers import Regex, normalizers

    line_breaks = normalizers.Replace(Regex(r"<\s*[bB][rR]\s*/?\s*>"), " ")
    steps = [line_breaks] + ([backend.normalizer] if backend.normalizer is not None else [])
    patched = backend.__class__.from_str(backend.to_str())
    patched.normalizer = normalizers.Sequence(steps)
    patched.save(str(path))
