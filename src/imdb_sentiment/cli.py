"""Command line: ``python -m imdb_sentiment <command>`` (also installed as ``imdb-sentiment``).

    imdb-sentiment train --model distilbert-base-uncased --data stanfordnlp/imdb
    imdb-sentiment predict --model-dir saved_model "A wonderful film." "A dull film."
    imdb-sentiment predict --model-dir saved_model --file reviews.csv --output out.jsonl
    imdb-sentiment evaluate --model-dir saved_model --data stanfordnlp/imdb --split test

A user mistake prints one line starting with ``error:`` and exits with status 2.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import Sequence

from .errors import UserError

COMMANDS = ("train", "predict", "evaluate")


def run_train(argv: Sequence[str]) -> int:
    from transformers import HfArgumentParser

    from .config import TrainConfig
    from .train import train

    parser = HfArgumentParser(TrainConfig, prog="imdb-sentiment train")
    (config,) = parser.parse_args_into_dataclasses(args=list(argv))
    train(config)
    return 0


def _model_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--model-dir", default="saved_model", help="Saved model folder or Hub id.")
    parser.add_argument("--batch-size", type=int, default=32, help="Reviews per forward pass.")
    parser.add_argument("--device", default=None, help="cpu or cuda (default: cuda if available).")


def run_predict(argv: Sequence[str]) -> int:
    from .batch import read_reviews, score_texts, write_predictions
    from .predict import Classifier

    parser = argparse.ArgumentParser(prog="imdb-sentiment predict", description="Score reviews.")
    parser.add_argument("texts", nargs="*", help="Reviews to score (or use --file, or stdin).")
    parser.add_argument("--file", help="TXT (one review a line), CSV, parquet or JSON Lines file.")
    parser.add_argument("--text-column", default="text", help="Text column of a table file.")
    parser.add_argument("--output", help="Write .jsonl, .csv or .parquet here (default: JSON Lines on stdout).")
    _model_arguments(parser)
    args = parser.parse_args(argv)
    if args.texts and args.file:
        raise UserError("Pass reviews as arguments or with --file, not both.")
    if args.file:
        texts = read_reviews(args.file, args.text_column)
    elif args.texts:
        texts = args.texts
    else:
        texts = [line for line in sys.stdin.read().splitlines() if line.strip()]
    if not texts:
        raise UserError("No reviews to score: pass them as arguments, with --file, or on stdin.")
    classifier = Classifier.from_pretrained(args.model_dir, device=args.device)
    table = score_texts(classifier, texts, batch_size=args.batch_size, progress=True)
    write_predictions(table, args.output)
    failed = int(table["error"].notna().sum())
    if failed:
        print(f"warning: {failed} of {len(table)} rows had no usable text (see 'error').", file=sys.stderr)
    return 0


def run_evaluate(argv: Sequence[str]) -> int:
    from .data import read_source, standardize
    from .metrics import classification_metrics
    from .predict import Classifier

    parser = argparse.ArgumentParser(prog="imdb-sentiment evaluate", description="Score labelled reviews.")
    parser.add_argument("--data", required=True, help="Hub dataset id, file or folder (as for train).")
    parser.add_argument("--split", default="test", help="Which split to score: train or test.")
    parser.add_argument("--text-column", default="text")
    parser.add_argument("--label-column", default="label")
    parser.add_argument("--max-samples", type=int, default=None, help="Score at most this many.")
    parser.add_argument("--output", default=None, help="Also save the metrics as JSON here.")
    _model_arguments(parser)
    args = parser.parse_args(argv)
    tables = read_source(args.data)
    if args.split not in tables:
        raise UserError(f"'{args.data}' has no {args.split} split; it has {', '.join(tables)}.")
    frame = standardize(tables[args.split], args.text_column, args.label_column, args.split)
    if args.max_samples:
        frame = frame.sample(n=min(args.max_samples, len(frame)), random_state=0)
    classifier = Classifier.from_pretrained(args.model_dir, device=args.device)
    predictions = classifier.predict(frame["text"].tolist(), batch_size=args.batch_size)
    positive = [p.scores.get("POSITIVE", 0.0) for p in predictions]
    metrics = classification_metrics(frame["label"].to_numpy(), positive)
    text = json.dumps({"data": args.data, "split": args.split, **metrics}, indent=2)
    print(text)
    if args.output:
        with open(args.output, "w", encoding="utf-8") as handle:
            handle.write(text + "\n")
    return 0


RUNNERS = {"train": run_train, "predict": run_predict, "evaluate": run_evaluate}


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] in ("-h", "--help") or argv[0] not in RUNNERS:
        print(__doc__.strip(), file=sys.stderr if argv and argv[0] not in ("-h", "--help") else sys.stdout)
        if argv and argv[0] not in ("-h", "--help"):
            print(f"\nerror: unknown command {argv[0]!r}; use one of {', '.join(RUNNERS)}", file=sys.stderr)
            return 2
        return 0 if argv else 2
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    try:
        return RUNNERS[argv[0]](argv[1:])
    except UserError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
