"""What Platt scaling on the validation split does to reviews a model never saw.

For each saved model (trained by benchmarks/train_imdb.py, calibrated or not), scores its validation
reviews and ``--n`` unseen ones (as heldout.py picks them) with ``Classifier``, fits the calibration
on the validation logits exactly as training does, and prints the unseen-review accuracy, share
predicted POSITIVE and log loss before and after, plus the best accuracy any threshold could reach
on those unseen reviews (an upper bound no fitted threshold can beat).

    python benchmarks/calibration.py --n 3000 benchmarks/results/minilm_seed1 benchmarks/results/minilm_hd0

Logits are kept in ``benchmarks/results/logits/<model>.npz`` and reused (scoring takes ~5 min per
model on 2 cores); ``--rescore`` computes them again.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

CACHE = Path(__file__).parent / "results" / "logits"


def logits_for(model_dir: str, n: int, rescore: bool) -> dict:
    from heldout import unseen_reviews  # benchmarks/ is this script's folder
    from imdb_sentiment import Classifier, TrainConfig, load_splits

    cached = CACHE / f"{Path(model_dir).name}-{n}.npz"
    if cached.is_file() and not rescore:
        return dict(np.load(cached))
    validation = load_splits(TrainConfig.load(model_dir)).validation
    unseen = unseen_reviews(model_dir, n)
    classifier = Classifier.from_pretrained(model_dir)
    arrays = dict(
        val_logits=classifier.predict_logits(validation["text"].tolist()),
        val_labels=validation["label"].to_numpy(),
        unseen_logits=classifier.predict_logits(unseen["text"].tolist()),
        unseen_labels=unseen["label"].to_numpy(),
    )
    CACHE.mkdir(parents=True, exist_ok=True)
    np.savez(cached, **arrays)
    return arrays


def accuracy(logits: np.ndarray, labels: np.ndarray) -> float:
    return float(np.mean(logits.argmax(1) == labels))


def share(logits: np.ndarray) -> float:
    return float(np.mean(logits.argmax(1)))


def log_loss(logits: np.ndarray, labels: np.ndarray) -> float:
    margin = logits[:, 1] - logits[:, 0]
    return float(np.mean(np.logaddexp(0, margin) - labels * margin))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("models", nargs="+", help="Saved model folders.")
    parser.add_argument("--n", type=int, default=3000, help="Unseen reviews to score.")
    parser.add_argument("--rescore", action="store_true", help="Ignore cached logits.")
    args = parser.parse_args()

    from imdb_sentiment.calibrate import Calibration, fit_calibration

    print(
        "| model | scale | shift | unseen acc before -> after | best threshold | "
        "POSITIVE share before -> after | log loss before -> after |"
    )
    print("|---|---|---|---|---|---|---|")
    for model in args.models:
        z = logits_for(model, args.n, args.rescore)
        # a model that cannot be calibrated stays as it is: the identity calibration
        calibration = fit_calibration(z["val_labels"], z["val_logits"]) or Calibration(scale=1.0, shift=0.0)
        before, labels = z["unseen_logits"], z["unseen_labels"]
        after = calibration.apply(before)
        margin = before[:, 1] - before[:, 0]
        best = max(np.mean((margin > t) == labels) for t in np.sort(margin)[::3])
        print(
            f"| {Path(model).name} | {calibration.scale:.2f} | {calibration.shift:+.2f} | "
            f"{accuracy(before, labels):.4f} -> "
            f"{accuracy(after, labels):.4f} | {best:.4f} | {share(before):.3f} -> {share(after):.3f} | "
            f"{log_loss(before, labels):.3f} -> {log_loss(after, labels):.3f} |",
            flush=True,
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
