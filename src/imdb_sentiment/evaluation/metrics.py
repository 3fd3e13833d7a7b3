"""Classification metrics, computed locally with scikit-learn.

Never ``evaluate.load``: it downloads metric code from the Hub at run time.

    report = classification_metrics(labels, positive_probabilities)
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ..serving.scores import softmax_positive


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


def trainer_metrics(eval_prediction) -> dict:
    """``compute_metrics`` for the Trainer: scalars only (the Trainer logs them)."""
    logits, labels = eval_prediction.predictions, eval_prediction.label_ids
    if isinstance(logits, tuple):
        logits = logits[0]
    report = classification_metrics(labels, softmax_positive(logits))
    return {k: v for k, v in report.items() if isinstance(v, float)}
