"""Rebuild the IMDb sample that ships with the package (the offline default's training data):

    python tools/make_embedded_sample.py --source ../shared/imdb/train.parquet

Draws, stratified by label and seeded, 2,500 reviews for ``train.parquet`` and 500 other reviews
for ``test.parquet`` from the 25,000 IMDb training reviews (one copy of each repeated review) (text kept raw, ``<br />`` and all, as
in the original files), so the embedded default reports a test accuracy on reviews it never saw.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import pandas as pd
from sklearn.model_selection import train_test_split

OUTPUT = Path(__file__).resolve().parent.parent / "src" / "imdb_sentiment" / "embedded" / "imdb_sample"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--source", default="../shared/imdb/train.parquet", help="IMDb train reviews (parquet)."
    )
    parser.add_argument("--train", type=int, default=2500, help="Reviews in train.parquet.")
    parser.add_argument("--test", type=int, default=500, help="Other reviews in test.parquet.")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    if not Path(args.source).is_file():
        parser.error(f"--source {args.source} does not exist")
    # IMDb's train split repeats some reviews word for word; one copy each, so that no test review
    # is also a training review.
    reviews = pd.read_parquet(args.source, columns=["text", "label"]).drop_duplicates("text")
    sample, _ = train_test_split(
        reviews, train_size=args.train + args.test, stratify=reviews["label"], random_state=args.seed
    )
    train, test = train_test_split(
        sample, train_size=args.train, stratify=sample["label"], random_state=args.seed
    )
    OUTPUT.mkdir(parents=True, exist_ok=True)
    for name, table in (("train", train), ("test", test)):
        path = OUTPUT / f"{name}.parquet"
        table.reset_index(drop=True).to_parquet(path, index=False, compression="zstd")
        print(f"wrote {path}: {len(table):,} reviews, {table['label'].mean():.0%} positive")


if __name__ == "__main__":
    main()
