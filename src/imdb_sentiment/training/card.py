"""The model card (``README.md``) saved with every model: what was trained, how well, how to load it.

(staging / "README.md").write_text(model_card(config.to_dict(), metrics), encoding="utf-8")

Its YAML front matter (:func:`front_matter`) is what the Hugging Face Hub reads: licence, dataset,
language, task, base model, widget examples and a ``model-index`` with the test scores, which the
Hub shows as the model's results (``imdb-sentiment push`` uploads the card with the model).
"""

from __future__ import annotations

from pathlib import Path

from ..errors import is_local_path
from ..evaluation.report import markdown_table
from ..offline import is_embedded_data

# The card must name a licence for the Hub to show one, and the base model's licence cannot be looked
# up offline (or at all for a local folder). Apache-2.0 is this project's licence and that of both
# default encoders (distilbert-base-uncased, all-MiniLM-L6-v2); a ``license`` in the config wins, and
# whoever fine-tunes another base model should check its licence before pushing.
DEFAULT_LICENSE = "apache-2.0"
IMDB_HUB_ID = "stanfordnlp/imdb"
WIDGET_EXAMPLES = [
    "A wonderful, moving film with a superb cast. I loved every minute of it.",
    "Two hours I will never get back: a dull plot, wooden dialogue and a boring ending.",
    "The photography is beautiful, but the story drags and the ending feels rushed.",
]


def _metric_rows(metrics: dict) -> str:
    rows = [
        [split, m["accuracy"], m["precision"], m["recall"], m["f1"], m.get("roc_auc"), f"{m['n']:,}"]
        for split in ("validation", "test")
        if (m := metrics.get(split))
    ]
    columns = ["split", "accuracy", "precision", "recall", "F1", "ROC-AUC", "reviews"]
    return markdown_table(rows, columns, float_format="{:.4f}", missing="n/a")


def _pair_rows(pairs: dict | None, counterfactuals: dict | None) -> str:
    """Pair consistency on the CAD dev pairs (evaluation/pairs.py), beside the accuracy above."""
    if not pairs:
        return ""
    if pairs.get("not_scored"):  # no dev pair was left unseen (training on the dev pairs themselves)
        return f"\nCounterfactual pairs ({pairs.get('data', 'CAD dev')}): not scored, {pairs['not_scored']}."
    rows = [
        f"\nCounterfactual pairs ({pairs.get('data', 'CAD dev')}, {pairs['both']['n']} pairs the model never "
        "saw): a pair is a review and a copy a person\nedited minimally to take the opposite label; "
        "*both right* is the share of pairs whose verdict followed the edit.\n",
    ]
    table = [
        [name, m["accuracy"], f"{m['low']:.3f} - {m['high']:.3f}", f"{m['n']:,}"]
        for key, name in (
            ("original", "originals"),
            ("edited", "edited copies"),
            ("both", "both right (pairs)"),
        )
        if (m := pairs[key])["accuracy"] is not None
    ]
    rows.append(markdown_table(table, ["", "accuracy", "95% interval", "reviews"], float_format="{:.4f}"))
    if counterfactuals:
        rows.append(
            f"\nTrained with {counterfactuals['pairs_train']:,} counterfactual pairs "
            f"({counterfactuals['source']}; {counterfactuals['pairs_validation']:,} more in validation)."
        )
    else:
        rows.append("\nTrained without counterfactual pairs.")
    return "\n".join(rows)


def _calibration_line(calibration: dict | None) -> str:
    if not calibration:
        return "- Not calibrated: the scores are the fine-tuned model's own."
    return (
        f"- Calibrated on the validation split (Platt scaling, folded into the output layer): "
        f"scale {calibration['scale']:.3f},\n  shift {calibration['shift']:+.3f}; validation "
        f"accuracy {calibration['validation_accuracy_before']:.4f} before it."
    )


def _resumed_note(train: dict) -> str:
    step = train.get("resumed_from_step")
    return f" (resumed from step {step}: the time covers the steps after it)" if step else ""


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
    ]
    table = [[k, v["n"], v["pass_rate"]] for k, v in behaviour["capabilities"].items()]
    rows.append(markdown_table(table, ["capability", "cases", "pass rate"], float_format="{:.3f}"))
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


def is_imdb(data: str) -> bool:
    """True when ``data`` is IMDb: the Hub dataset, the embedded sample of it or an aclImdb/ folder."""
    path = Path(data).expanduser()
    return (
        data.lower() in (IMDB_HUB_ID, "imdb")
        or is_embedded_data(data)
        or path.name == "aclImdb"
        or (path / "aclImdb").is_dir()
    )


def _eval_results(config: dict, metrics: dict) -> list:
    """The test split's accuracy and F1 (validation's when there is no test split) and the
    counterfactual pair figures, as the Hub's ``model-index`` entries."""
    from huggingface_hub import EvalResult

    split = "test" if metrics.get("test") else "validation"
    imdb = is_imdb(config["data"])
    task = {"task_type": "text-classification", "task_name": "Sentiment analysis"}
    dataset = {
        "dataset_type": IMDB_HUB_ID if imdb else "local",
        "dataset_name": "IMDb" if imdb else Path(config["data"]).name,
        "dataset_split": split,
    }
    results = [
        EvalResult(**task, **dataset, metric_type=key, metric_name=name, metric_value=round(value, 4))
        for key, name in (("accuracy", "Accuracy"), ("f1", "F1"))
        if (value := metrics[split].get(key)) is not None
    ]
    pairs = metrics.get("pairs") or {}
    names = {
        "original": "Accuracy (originals)",
        "edited": "Accuracy (edited copies)",
        "both": "Pair consistency",
    }
    for key, name in names.items():
        if (pairs.get(key) or {}).get("accuracy") is not None:
            results.append(
                EvalResult(
                    **task,
                    dataset_type="counterfactual-imdb",
                    dataset_name=f"Counterfactual IMDb pairs: {pairs.get('data', 'CAD dev')}",
                    dataset_split="dev",
                    metric_type="accuracy",
                    metric_name=name,
                    metric_value=round(pairs[key]["accuracy"], 4),
                )
            )
    return results


def front_matter(config: dict, metrics: dict) -> str:
    """The card's YAML metadata, built with huggingface_hub's ``ModelCardData`` so the Hub parses it:
    ``datasets`` only for IMDb and ``base_model`` only for a Hub id (a local path means nothing there)."""
    from huggingface_hub import ModelCardData

    model = config["model"]
    data = ModelCardData(
        model_name=Path(config.get("output_dir") or "imdb-sentiment").name,
        license=config.get("license") or DEFAULT_LICENSE,
        language="en",
        library_name="transformers",
        pipeline_tag="text-classification",
        tags=["sentiment-analysis", "imdb", "imdb-sentiment"],
        datasets=[IMDB_HUB_ID] if is_imdb(config["data"]) else None,
        base_model=None if is_local_path(model) else model,
        metrics=["accuracy", "f1"],
        eval_results=_eval_results(config, metrics),
        widget=[{"text": text} for text in WIDGET_EXAMPLES],
    )
    return data.to_yaml()


def model_card(config: dict, metrics: dict) -> str:
    """A Hugging Face style model card: what was trained, how well, and how to load it."""
    freeze = metrics["model"]
    train = metrics["train"]
    return f"""---
{front_matter(config, metrics)}
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
  on {config["device"]} in {train["train_runtime_s"]:.0f} s{_resumed_note(train)}.
{_precision_line(metrics.get("precision"))}
- The validation split was carved from train (stratified) and chose the best epoch; the test
  split, when present, was used once, for the report below.
{_calibration_line(metrics.get("calibration"))}

## Metrics
{_metric_rows(metrics)}
{_pair_rows(metrics.get("pairs"), metrics.get("counterfactuals"))}
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
