"""Faithfulness and speed of the word attributions (explain.py), by deletion, on real reviews.

For each review the classifier predicts a label; each method ranks the words the model saw by how
hard they pushed toward that label. Deleting the top-k words of a faithful method should lower the
probability of the predicted label more than deleting k words picked at random (seen words only).
All variants of one review are scored in one batch, and every method runs on every review in
turn, so the shared CPU's load affects them alike; times are also given as a ratio to one
prediction of the same review.

    python benchmarks/explain_faithfulness.py --model-dir benchmarks/results/minilm_imdb \
        --data ../shared/imdb/train.parquet --n 200 --methods grad_x_input ig:8 ig:16
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

from common import add_data_argument, data_path
from imdb_sentiment.evaluation.report import markdown_table
from imdb_sentiment.serving.classifier import Classifier
from imdb_sentiment.serving.explain import explain_text


def parse_method(spec: str) -> tuple[str, int]:
    name, _, steps = spec.partition(":")
    return name, int(steps or 1)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model-dir", default="benchmarks/results/minilm_imdb")
    add_data_argument(parser)
    parser.add_argument("--n", type=int, default=200, help="Reviews to explain (sampled with --seed).")
    parser.add_argument("--k", type=int, nargs="+", default=[5, 10], help="Words deleted.")
    parser.add_argument("--methods", nargs="+", default=["grad_x_input", "ig:8", "ig:16"])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument(
        "--max-minutes", type=float, default=None, help="Stop early (the table says how many)."
    )
    parser.add_argument("--output", default=None, help="Also write the table as JSON here.")
    args = parser.parse_args()
    data_path(args.data)

    import torch

    torch.set_num_threads(args.threads)
    classifier = Classifier.from_pretrained(args.model_dir, device="cpu")
    frame = pd.read_parquet(args.data).sample(n=args.n, random_state=args.seed)
    methods = [parse_method(spec) for spec in args.methods]
    names = [f"{name}:{steps}" if name == "ig" else name for name, steps in methods] + ["random"]
    rng = random.Random(args.seed)
    drops = {(name, k): [] for name in names for k in args.k}
    flips = {(name, k): [] for name in names for k in args.k}
    seconds = {name: [] for name in names}
    gaps = {name: [] for name in names}
    predict_seconds = []
    agree = 0
    started = time.perf_counter()
    done = 0
    for number, text in enumerate(frame["text"], 1):
        if args.max_minutes and time.perf_counter() - started > 60 * args.max_minutes:
            break
        done = number
        start = time.perf_counter()
        original = classifier.predict([text])[0]
        predict_seconds.append(time.perf_counter() - start)
        rankings = {}
        for (method, steps), name in zip(methods, names):
            start = time.perf_counter()
            explanation = explain_text(classifier, text, method=method, steps=steps)
            seconds[name].append(time.perf_counter() - start)
            gaps[name].append(explanation.completeness_gap / max(abs(explanation.delta), 1e-6))
            agree += explanation.label == original.label
            sign = 1.0 if original.label == "POSITIVE" else -1.0
            seen = [i for i, weight in enumerate(explanation.weights) if weight is not None]
            rankings[name] = sorted(seen, key=lambda i: -sign * explanation.weights[i])
        words = explanation.words
        seen = rankings[names[0]]
        variants, keys = [], []
        for k in args.k:
            for name in names:
                chosen = rng.sample(seen, min(k, len(seen))) if name == "random" else rankings[name][:k]
                dropped = set(chosen)
                variants.append(" ".join(w for i, w in enumerate(words) if i not in dropped) or ".")
                keys.append((name, k))
        for key, prediction in zip(keys, classifier.predict(variants)):
            drops[key].append(original.score - prediction.scores[original.label])
            flips[key].append(prediction.label != original.label)
        if number % 10 == 0:
            print(f"{number}/{args.n} reviews, {time.perf_counter() - started:.0f}s", file=sys.stderr)

    predict_mean = float(np.mean(predict_seconds))
    rows = []
    for name in names:
        row = {"method": name}
        for k in args.k:
            row[f"drop@{k}"] = float(np.mean(drops[(name, k)]))
            row[f"flip@{k}"] = float(np.mean(flips[(name, k)]))
        if name != "random":
            row["s/review"] = float(np.mean(seconds[name]))
            row["x predict"] = row["s/review"] / predict_mean
            row["rel. completeness gap"] = float(np.median(gaps[name])) if name.startswith("ig") else None
        rows.append(row)
    print(
        f"model {args.model_dir}, {done} of {args.n} sampled reviews from {args.data} (seed {args.seed}), "
        f"max_length {classifier.max_length}, {args.threads} threads"
    )
    print(
        f"one prediction: {predict_mean:.3f} s/review; explanation labels agree with predict: "
        f"{agree}/{done * len(methods)}; total {time.perf_counter() - started:.0f}s"
    )
    print("drop@k = mean fall in P(predicted label) after deleting k words; flip@k = share of labels flipped")
    print(markdown_table(rows, float_format="{:.3f}", missing="-"))
    if args.output:
        Path(args.output).write_text(json.dumps(rows, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
