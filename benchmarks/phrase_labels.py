"""What a training set's labels say about a phrase: the reviews holding it and their positive share.

A classifier learns a phrase from the labels of the reviews it occurs in. If most reviews saying
"not bad" are negative ("the acting was not bad, but..."), a model trained on them reads "not bad"
as negative, however a person reads the sentence alone. This prints, for each phrase (case-blind,
whole words), how many reviews hold it, how many are positive, and the positive share with its 95%
Wilson interval (which stays honest for the few reviews, or the all-one-side counts, that phrases
have); first in the whole file, then in the training sample the CLI draws
with ``--max-train-samples`` (the same split and seed as ``python -m imdb_sentiment train``).

    python benchmarks/phrase_labels.py --data ../shared/imdb/train.parquet --max-train-samples 4000
    python benchmarks/phrase_labels.py --data my_reviews.csv --phrase "not bad" --phrase "never boring"
"""

from __future__ import annotations

import argparse
import re

from common import add_data_argument, data_path

# Negated negatives, which people mean as praise, and negated positives, which they mean as blame.
DEFAULT_PHRASES = (
    "not bad",
    "not bad at all",
    "wasn't bad",
    "not too bad",
    "not terrible",
    "not the worst",
    "never boring",
    "never bored",
    "dull moment",
    "not disappointed",
    "not good",
    "not great",
    "not funny",
    "not worth",
)


def phrase_table(texts, labels, phrases) -> list[tuple[str, int, int]]:
    """(phrase, reviews holding it, positive ones among them) for each phrase."""
    lowered = [text.lower() for text in texts]
    rows = []
    for phrase in phrases:
        pattern = re.compile(r"\b" + re.escape(phrase.lower()) + r"\b")
        hits = [int(label) for text, label in zip(lowered, labels, strict=True) if pattern.search(text)]
        rows.append((phrase, len(hits), sum(hits)))
    return rows


def share(positive: int, n: int) -> str:
    """The positive share with its 95% Wilson interval, or "-" for no reviews."""
    from scipy.stats import binomtest  # scikit-learn's own dependency

    if n == 0:
        return "-"
    interval = binomtest(positive, n).proportion_ci(confidence_level=0.95, method="wilson")
    return f"{positive / n:.2f} ({interval.low:.2f}-{interval.high:.2f})"


def print_table(title: str, rows) -> None:
    from imdb_sentiment.evaluation.report import markdown_table

    columns = ["phrase", "reviews", "positive", "positive share (95% interval)"]
    table = [(phrase, n, positive, share(positive, n)) for phrase, n, positive in rows]
    print(f"\n{title}\n" + markdown_table(table, columns, {"reviews": "{:,}", "positive": "{:,}"}))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_data_argument(parser)
    parser.add_argument(
        "--phrase", action="append", help="A phrase to count (repeatable; default: negations)."
    )
    parser.add_argument(
        "--max-train-samples",
        type=int,
        default=None,
        help="Also count in the CLI's training sample of this size.",
    )
    args = parser.parse_args()

    from imdb_sentiment import TrainConfig, load_splits
    from imdb_sentiment.data import read_source, standardize
    from imdb_sentiment.errors import UserError

    phrases = args.phrase or DEFAULT_PHRASES
    try:  # a user's file without the columns, or too small to split: one line, as the CLI says it
        table = standardize(read_source(data_path(args.data))["train"], "text", "label", "train")
        train = None
        if args.max_train_samples:
            train = load_splits(TrainConfig(data=args.data, max_train_samples=args.max_train_samples)).train
    except UserError as error:
        raise SystemExit(f"error: {error}") from None
    print_table(
        f"All {len(table):,} reviews of {args.data}", phrase_table(table["text"], table["label"], phrases)
    )
    if train is not None:
        title = (
            f"The training sample of --max-train-samples {args.max_train_samples} ({len(train):,} reviews)"
        )
        print_table(title, phrase_table(train["text"], train["label"], phrases))


if __name__ == "__main__":
    main()
