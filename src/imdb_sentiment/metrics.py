"""Classification metrics (scikit-learn, computed locally) and the plots saved with a model.

Never ``evaluate.load``: it downloads metric code from the Hub at run time.

    report = classification_metrics(labels, positive_probabilities)
    plot_confusion_matrix(report["confusion_matrix"], "confusion_matrix.png")
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from .data import LABEL_NAMES


def classification_metrics(labels: Sequence[int], positive_probs: Sequence[float]) -> dict:
    """Accuracy, precision, recall, F1 (positive class), ROC-AUC and the confusion matrix."""
    from sklearn.metrics import (
        accuracy_score,
        confusion_matrix,
        precision_recall_fscore_support,
        roc_auc_score,
    )

    labels = np.asarray(labels, dtype=np.int64)
    positive_probs = np.asarray(positive_probs, dtype=np.float64)
    predictions = (positive_probs >= 0.5).astype(np.int64)
    precision, recall, f1, _ = precision_recall_fscore_support(
        labels, predictions, average="binary", zero_division=0
    )
    both_classes = len(np.unique(labels)) == 2
    return {
        "accuracy": float(accuracy_score(labels, predictions)),
        "precision": float(precision),
        "recall": float(recall),
        "f1": float(f1),
        "roc_auc": float(roc_auc_score(labels, positive_probs)) if both_classes else None,
        "confusion_matrix": confusion_matrix(labels, predictions, labels=[0, 1]).tolist(),
        "n": int(len(labels)),
    }


def metrics_by_source(frame, positive_probs: Sequence[float]) -> dict:
    """Accuracy, its interval (2 standard errors, 2*sqrt(p(1-p)/n)) and n for each value of
    ``frame["source"]`` (``frame`` also has ``label``), e.g. IMDb / Amazon / Yelp sentences."""
    positive_probs = np.asarray(positive_probs, dtype=np.float64)
    rows = {}
    for source in sorted(frame["source"].unique()):
        mask = (frame["source"] == source).to_numpy()
        correct = (positive_probs[mask] >= 0.5).astype(np.int64) == frame["label"].to_numpy()[mask]
        accuracy, n = float(correct.mean()), int(mask.sum())
        rows[str(source)] = {
            "accuracy": accuracy,
            "interval": 2 * float(np.sqrt(accuracy * (1 - accuracy) / n)),
            "n": n,
        }
    return rows


def softmax(logits: np.ndarray) -> np.ndarray:
    """Probabilities from logits along the last axis (shifted first, so large logits cannot overflow)."""
    logits = np.asarray(logits)
    exp = np.exp(logits - logits.max(axis=-1, keepdims=True))
    return exp / exp.sum(axis=-1, keepdims=True)


def softmax_positive(logits: np.ndarray) -> np.ndarray:
    return softmax(np.asarray(logits, dtype=np.float64))[:, 1]


def trainer_metrics(eval_prediction) -> dict:
    """``compute_metrics`` for the Trainer: scalars only (the Trainer logs them)."""
    logits, labels = eval_prediction.predictions, eval_prediction.label_ids
    if isinstance(logits, tuple):
        logits = logits[0]
    report = classification_metrics(labels, softmax_positive(logits))
    return {k: v for k, v in report.items() if isinstance(v, float)}


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")  # files only; never needs a display
    import matplotlib.pyplot as plt

    return plt


def plot_confusion_matrix(matrix: Sequence[Sequence[int]], path: str | Path, title: str = "") -> None:
    plt = _pyplot()
    matrix = np.asarray(matrix)
    fig, ax = plt.subplots(figsize=(4.2, 3.8))
    ax.imshow(matrix, cmap="Blues")
    for (row, col), count in np.ndenumerate(matrix):
        color = "white" if count > matrix.max() / 2 else "black"
        ax.text(col, row, f"{count:,}", ha="center", va="center", color=color)
    ax.set_xticks([0, 1], LABEL_NAMES)
    ax.set_yticks([0, 1], LABEL_NAMES)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title(title or "Confusion matrix")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def plot_training_curves(log_history: list[dict], path: str | Path) -> None:
    """Training loss per logged step and validation loss / accuracy per evaluation."""
    plt = _pyplot()
    train = [(e["step"], e["loss"]) for e in log_history if "loss" in e and "step" in e]
    evals = [e for e in log_history if "eval_accuracy" in e]
    fig, (loss_ax, acc_ax) = plt.subplots(1, 2, figsize=(9, 3.6))
    if train:
        loss_ax.plot(*zip(*train), label="train loss")
    if evals:
        steps = [e["step"] for e in evals]
        loss_ax.plot(steps, [e["eval_loss"] for e in evals], "o-", label="validation loss")
        acc_ax.plot(steps, [e["eval_accuracy"] for e in evals], "o-", color="tab:green")
    loss_ax.set_xlabel("step")
    loss_ax.set_title("Loss")
    loss_ax.legend()
    acc_ax.set_xlabel("step")
    acc_ax.set_title("Validation accuracy")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
