"""Pair consistency: how a model does on reviews and their minimally edited, label-flipped copies.

A counterfactual pair is a review and a copy edited by a person so that it takes the opposite
label with as few changes as possible ("a great film" -> "not a great film"). Three figures, each
with a 95% Wilson interval:

* ``original``: accuracy on the original reviews;
* ``edited``: accuracy on the edited copies (does the verdict follow the edit?);
* ``both``: the share of pairs right on both sides.

    pair_metrics(frame, positive_probs)  # frame: pair_id, label, and version (optional)

Without a ``version`` column the first row of each ``pair_id`` is taken as the original.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

NAMES = {"original": "originals", "edited": "edits", "both": "pairs right on both sides"}
EXPLANATION = (
    "a pair is a review and a copy minimally edited by a person to take the opposite label; "
    "'both' is the share of pairs where the verdict followed the edit and the original was right too."
)


def proportion(successes: int, n: int) -> dict:
    """The share, its 95% Wilson interval and n (interval None when n is 0)."""
    if n == 0:
        return {"accuracy": None, "low": None, "high": None, "n": 0}
    from scipy.stats import binomtest

    interval = binomtest(int(successes), int(n)).proportion_ci(confidence_level=0.95, method="wilson")
    return {
        "accuracy": successes / n,
        "low": float(interval.low),
        "high": float(interval.high),
        "n": int(n),
    }


def is_original(frame: pd.DataFrame) -> np.ndarray:
    """Which rows are originals: ``version == "original"`` when there is a ``version`` column,
    else the first row of each ``pair_id``."""
    if "version" in frame.columns:
        return (frame["version"].astype(str).str.strip().str.lower() == "original").to_numpy()
    return (~frame["pair_id"].duplicated()).to_numpy()


def pair_metrics(frame: pd.DataFrame, positive_probs: Sequence[float]) -> dict:
    """Accuracy on originals, on edits, and the share of pairs right on both sides (pairs with at
    least one original and one edit), each as :func:`proportion`; ``frame`` has ``pair_id`` and
    ``label`` (0/1) and, optionally, ``version``."""
    positive_probs = np.asarray(positive_probs, dtype=np.float64)
    if len(positive_probs) != len(frame):
        raise ValueError(f"{len(positive_probs)} scores for {len(frame)} rows")
    correct = (positive_probs >= 0.5).astype(np.int64) == frame["label"].to_numpy(dtype=np.int64)
    original = is_original(frame)
    rows = pd.DataFrame({"pair": frame["pair_id"].to_numpy(), "original": original, "correct": correct})
    sides = rows.groupby("pair").agg(
        originals=("original", "sum"), rows=("original", "size"), all_correct=("correct", "all")
    )
    complete = sides[(sides["originals"] > 0) & (sides["rows"] > sides["originals"])]
    return {
        "original": proportion(int(correct[original].sum()), int(original.sum())),
        "edited": proportion(int(correct[~original].sum()), int((~original).sum())),
        "both": proportion(int(complete["all_correct"].sum()), len(complete)),
    }


def format_pair_metrics(metrics: dict) -> str:
    """One line: ``originals 0.912 [0.87, 0.94] · edits ... · pairs right on both sides ...``."""
    parts = []
    for key, name in NAMES.items():
        m = metrics[key]
        if m["accuracy"] is None:
            parts.append(f"{name} n/a")
        else:
            parts.append(f"{name} {m['accuracy']:.3f} [{m['low']:.3f}, {m['high']:.3f}] (n={m['n']})")
    return "; ".join(parts)
