"""Compare trained models on the same IMDb reviews none of them saw, scored by ``Classifier``.

The models must come from the same data, seed and sample sizes (as the runs of benchmarks/train_imdb.py
that choose the CPU recipe do), so they share one training sample and one validation split; the
reviews scored are sampled from the rest of the file, the first ``--n`` of the same seeded order
that train_imdb.py's ``--heldout`` uses.

    python benchmarks/heldout.py --n 3000 benchmarks/results/run_a benchmarks/results/run_b
"""

from __future__ import annotations

import argparse
import time

import numpy as np


def unseen_reviews(model_dir: str, n: int, data: str | None = None):
    """``n`` reviews from ``data`` (default: the model's own) outside the model's training sample
    and its whole validation split, in a seeded order shared by every benchmark."""
    from imdb_sentiment import TrainConfig, load_splits
    from imdb_sentiment.data import read_source, standardize

    config = TrainConfig.load(model_dir)
    if data is not None:
        config = TrainConfig(**{**config.to_dict(), "data": data})
    seen = set(load_splits(config).train["text"])
    everything = TrainConfig(**{**config.to_dict(), "max_eval_samples": None, "max_train_samples": None})
    seen |= set(load_splits(everything).validation["text"])
    table = standardize(read_source(config.data)["train"], "text", "label", "train")
    return table[~table["text"].isin(seen)].sample(n=n, random_state=0)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("models", nargs="+", help="Saved model folders.")
    parser.add_argument("--n", type=int, default=3000, help="Unseen reviews to score.")
    args = parser.parse_args()

    from imdb_sentiment import Classifier, TrainConfig

    unseen = unseen_reviews(args.models[0], args.n)
    gold = unseen["label"].to_numpy()
    reference = TrainConfig.load(args.models[0])
    print(f"| model | unseen accuracy (n={args.n}) | reviews/s |")
    print("|---|---|---|")
    for model in args.models:
        config = TrainConfig.load(model)
        same = (config.data, config.seed, config.max_train_samples, config.validation_fraction)
        if same != (
            reference.data,
            reference.seed,
            reference.max_train_samples,
            reference.validation_fraction,
        ):
            raise SystemExit(f"{model} was trained on another sample than {args.models[0]}")
        started = time.perf_counter()
        predicted = Classifier.from_pretrained(model).predict_logits(unseen["text"].tolist()).argmax(axis=1)
        seconds = time.perf_counter() - started
        print(f"| {model} | {np.mean(predicted == gold):.4f} | {args.n / seconds:.1f} |", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
