"""Agreement benchmark: does ``Classifier.predict`` label reviews as plain ``transformers.pipeline`` does?

Scores the same IMDb reviews with both on the same saved model and prints how often the labels
agree: over all reviews (pipeline with ``truncation=True``, the issue's baseline: the saved
tokenizer cuts to the training window from the left, keeping a review's end), against a pipeline
whose tokenizer cuts from the right (transformers' default, keeping the start), and on the reviews
short enough that neither truncates (where the two must match; the rest differ only by how a long
review is cut: head+tail in Classifier, one side in a tokenizer).

    python benchmarks/agreement.py --model-dir benchmarks/results/minilm_imdb \
        --data ../shared/imdb/train.parquet --n 500
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import pandas as pd


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model-dir", default="benchmarks/results/minilm_imdb")
    parser.add_argument("--data", default="../shared/imdb/train.parquet")
    parser.add_argument("--n", type=int, default=500, help="Reviews to score (a seeded sample).")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument(
        "--max-length", type=int, default=None, help="Classifier window (default: the training one)."
    )
    args = parser.parse_args()

    from transformers import pipeline

    from imdb_sentiment import Classifier

    texts = (
        pd.read_parquet(args.data, columns=["text"])["text"].sample(n=args.n, random_state=args.seed).tolist()
    )
    classifier = Classifier.from_pretrained(args.model_dir, device="cpu", max_length=args.max_length)
    start = time.perf_counter()
    ours = classifier.predict(texts, batch_size=args.batch_size)
    ours_s = time.perf_counter() - start
    reference = pipeline("text-classification", model=args.model_dir, device="cpu")
    start = time.perf_counter()
    full = reference(texts, truncation=True, batch_size=args.batch_size)
    full_s = time.perf_counter() - start
    saved_side = reference.tokenizer.truncation_side
    reference.tokenizer.truncation_side = "right"
    window = reference(texts, truncation=True, max_length=classifier.max_length, batch_size=args.batch_size)
    reference.tokenizer.truncation_side = saved_side

    labels = np.array([p.label for p in ours])
    full_labels = np.array([r["label"] for r in full])
    window_labels = np.array([r["label"] for r in window])
    lengths = np.array([len(reference.tokenizer(t)["input_ids"]) for t in texts])
    fits = (lengths <= classifier.max_length) & np.array(["<br" not in t.lower() for t in texts])
    positive = np.array([p.scores["POSITIVE"] for p in ours])
    full_positive = np.array([r["score"] if r["label"] == "POSITIVE" else 1 - r["score"] for r in full])

    print(
        f"model {args.model_dir}: Classifier max_length {classifier.max_length} ({classifier.encoder.strategy}),"
    )
    print(
        f"pipeline truncation=True cuts at {reference.tokenizer.model_max_length} tokens "
        f"from the {saved_side}"
    )
    print(f"{'comparison':72} {'n':>5} {'agreement':>10}")
    rows = [
        ("Classifier vs pipeline(truncation=True), all reviews", slice(None), full_labels),
        (
            f"Classifier vs pipeline cutting from the right at {classifier.max_length}, all reviews",
            slice(None),
            window_labels,
        ),
        ("Classifier vs pipeline(truncation=True), no truncation or <br />", fits, full_labels),
    ]
    for name, subset, reference_labels in rows:
        n = len(labels[subset])
        print(f"{name:72} {n:5d} {np.mean(labels[subset] == reference_labels[subset]):10.4f}")
    gap = np.abs(positive[fits] - full_positive[fits]).max() if fits.any() else float("nan")
    print(f"max |P(POSITIVE) difference| where neither truncates: {gap:.2e}")
    print(f"time: Classifier {ours_s:.1f} s, pipeline {full_s:.1f} s (ratio {full_s / ours_s:.2f})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
