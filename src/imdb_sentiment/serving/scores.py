"""Probabilities from the logits every engine returns: shared by the classifier, the explanations
and the metrics.

    softmax(np.array([[0.0, 2.0]]))  # array([[0.119, 0.881]])
"""

from __future__ import annotations

import numpy as np


def softmax(logits: np.ndarray) -> np.ndarray:
    """Probabilities from logits along the last axis (shifted first, so large logits cannot overflow)."""
    logits = np.asarray(logits)
    exp = np.exp(logits - logits.max(axis=-1, keepdims=True))
    return exp / exp.sum(axis=-1, keepdims=True)


def softmax_positive(logits: np.ndarray) -> np.ndarray:
    return softmax(np.asarray(logits, dtype=np.float64))[:, 1]
