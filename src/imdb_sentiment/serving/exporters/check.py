"""What ``export`` checks and measures before it writes anything: each candidate engine's labels
against fp32 PyTorch on real reviews, and the speed of every accepted engine on this CPU.

The check reviews are the embedded IMDb sample's test split (500 held-out reviews with labels)
unless others are given (``export --check-data``). A candidate is accepted when

- its labels agree with fp32 PyTorch on at least ``MIN_AGREEMENT`` (0.99) of the reviews, and
- its accuracy is at most ``MAX_ACCURACY_DROP`` (0.01) below fp32's (when the reviews have labels);

both figures are recorded with their 95% Wilson interval, so a reader sees how much the sample
size allows (500 reviews: about +-0.8 points at 99%; 12 sentences could not tell 99% from 92%).

int8 candidates are checked twice, and must pass both: in the length-sorted batches ``predict``
scores, and one review at a time (``"alone"`` in their figures), as the app mostly serves.
ONNX Runtime's dynamic int8 quantizes each product's input with one scale for the whole padded
batch, so a review's label can depend on its neighbours: on a weakly trained MiniLM, 7 of 300
labels differed between the two ways (docs/benchmarks.md, "int8 and the batch a review is in").

The speed ranking: the engines each score the same length-sorted batches of check reviews
(``TIMING_REVIEWS`` reviews, batch ``TIMING_BATCH``), best of ``TIMING_ROUNDS`` rounds, rounds
alternating between engines so that load from other processes hits them alike.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from ...errors import UserError

MIN_AGREEMENT = 0.99  # labels must match fp32 on at least this share of the check reviews
MAX_ACCURACY_DROP = 0.01  # and lose at most one point of accuracy
MAX_CHECK_REVIEWS = 500
# Fewer check reviews than this and the summary warns: 200 of 200 agreeing is still 0.981-1.00.
FEW_CHECK_REVIEWS = 200
CALIBRATION_REVIEWS = 128  # int8 calibration (NNCF, smoothing): this many check reviews, batches of 8
TIMING_REVIEWS, TIMING_BATCH, TIMING_ROUNDS = 64, 16, 2


def embedded_check_reviews(limit: int = MAX_CHECK_REVIEWS) -> tuple[list[str], np.ndarray]:
    """The embedded IMDb sample's test split: (texts, 0/1 labels), both classes interleaved."""
    import pandas as pd

    from ...offline import EMBEDDED_DATA

    table = pd.read_parquet(EMBEDDED_DATA / "test.parquet")
    table = table.iloc[:limit]
    return table["text"].tolist(), table["label"].to_numpy().astype(np.int64)


def interval(successes: int, n: int) -> list[float]:
    """95% Wilson interval for successes / n."""
    from scipy.stats import binomtest

    if n == 0:
        return [0.0, 1.0]
    ci = binomtest(int(successes), int(n)).proportion_ci(confidence_level=0.95, method="wilson")
    return [round(float(ci.low), 4), round(float(ci.high), 4)]


def label_checks(reference: np.ndarray, candidate: np.ndarray, labels: np.ndarray | None) -> dict:
    """Agreement of ``candidate`` labels with ``reference`` (fp32) labels, and the accuracy drop
    if the reviews are labelled; each with a 95% interval."""
    ref, cand = reference.argmax(axis=1), candidate.argmax(axis=1)
    n = int(len(ref))
    same = int((ref == cand).sum())
    report = {
        "n": n,
        "agreement": same / n if n else 1.0,
        "agreement_ci95": interval(same, n),
    }
    if labels is not None and len(labels) == n and n:
        right_fp32, right = int((ref == labels).sum()), int((cand == labels).sum())
        report["accuracy_fp32"] = right_fp32 / n
        report["accuracy"] = right / n
        report["accuracy_drop"] = (right_fp32 - right) / n
        report["accuracy_drop_ci95"] = _drop_interval(ref == labels, cand == labels)
    return report


def _drop_interval(fp32_right: np.ndarray, right: np.ndarray) -> list[float]:
    """95% interval of the paired accuracy drop: only the reviews where the two disagree move it
    (Wilson interval on the share of those that fp32 got right, scaled back)."""
    lost = int((fp32_right & ~right).sum())
    gained = int((~fp32_right & right).sum())
    n, changed = len(right), lost + gained
    if changed == 0:
        return [0.0, 0.0]
    low, high = interval(lost, changed)
    # drop = (lost - gained) / n = changed * (2p - 1) / n, with p = lost / changed
    return [round(changed * (2 * low - 1) / n, 4), round(changed * (2 * high - 1) / n, 4)]


def passes(report: dict) -> bool:
    """Both thresholds met, in batches and (int8: ``report["alone"]``) one review at a time."""
    met = report["agreement"] >= MIN_AGREEMENT and report.get("accuracy_drop", 0.0) <= MAX_ACCURACY_DROP
    return met and ("alone" not in report or passes(report["alone"]))


def thresholds() -> dict:
    return {"min_agreement": MIN_AGREEMENT, "max_accuracy_drop": MAX_ACCURACY_DROP, "interval": "95% Wilson"}


def timing_batches(ids: list[list[int]], pad_id: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """Length-sorted padded batches of the first ``TIMING_REVIEWS`` check reviews."""
    from ..classifier import pad_batch

    chosen = sorted(ids[:TIMING_REVIEWS], key=len, reverse=True)
    return [pad_batch(chosen[i : i + TIMING_BATCH], pad_id) for i in range(0, len(chosen), TIMING_BATCH)]


def rank_engines(engines: dict, batches: list, rounds: int = TIMING_ROUNDS) -> list[dict]:
    """[{"engine", "reviews_per_s"}] fastest first: best of ``rounds``, rounds alternating."""
    reviews = sum(len(batch[0]) for batch in batches)
    best = {name: float("inf") for name in engines}
    for engine in engines.values():  # warm-up: first calls allocate and compile
        engine.logits(*batches[-1])
    for _ in range(rounds):
        for name, engine in engines.items():
            started = time.perf_counter()
            for batch in batches:
                engine.logits(*batch)
            best[name] = min(best[name], time.perf_counter() - started)
    rows = [{"engine": name, "reviews_per_s": round(reviews / best[name], 2)} for name in engines]
    return sorted(rows, key=lambda row: -row["reviews_per_s"])


def check_reviews_from(path: str | Path, limit: int) -> tuple[list[str], np.ndarray | None]:
    """Reviews (and labels, if the file has a label column) from ``--check-data``."""
    from ...data import normalize_labels, read_table
    from ..batch import read_reviews

    path = str(path)
    texts = read_reviews(path)
    labels = None
    if not path.lower().endswith(".txt"):
        table = read_table(path)
        if "label" in table.columns:
            labels = normalize_labels(table["label"])
    keep = [i for i, text in enumerate(texts) if isinstance(text, str) and text.strip()][:limit]
    if not keep:
        raise UserError(f"--check-data '{Path(path).name}' holds no review to check the export on.")
    return [texts[i] for i in keep], (None if labels is None else labels[keep])
