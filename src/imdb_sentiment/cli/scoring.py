"""``predict``, ``evaluate`` and ``explain``: the commands that score reviews with a saved model.

imdb-sentiment predict --model-dir saved_model "A wonderful film." "A dull film."
imdb-sentiment predict --model-dir saved_model --file reviews.csv --output out.jsonl
imdb-sentiment predict --engine ray --model-dir saved_model --file 'reviews/*.parquet' --output out/
imdb-sentiment evaluate --model-dir saved_model --data stanfordnlp/imdb --split test
imdb-sentiment explain --model-dir saved_model "A wonderful film with a dull ending."
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path

from ..errors import UserError
from .arguments import add_scoring_arguments, classifier_from_args, positive_int


def run_predict(argv: Sequence[str]) -> int:
    from ..scale import distributed
    from ..serving.batch import (
        OUTPUT_FORMATS,
        check_output_file,
        read_reviews,
        score_texts,
        write_predictions,
    )

    parser = argparse.ArgumentParser(prog="imdb-sentiment predict", description="Score reviews.")
    parser.add_argument("texts", nargs="*", help="Reviews to score (or use --file, or stdin).")
    parser.add_argument(
        "--file", help="TXT (one review a line), CSV, parquet, JSON Lines or JSON (an array of objects) file."
    )
    parser.add_argument("--text-column", default="text", help="Text column of a table file.")
    parser.add_argument(
        "--output", help="Write .jsonl, .csv or .parquet here (default: JSON Lines on stdout)."
    )
    add_scoring_arguments(parser)
    parser.add_argument(
        "--engine", choices=("local", "ray"), default="local", help="ray: Ray Data, see ray_scoring.py."
    )
    parser.add_argument(
        "--address", default=None, help="Ray cluster to join (auto, host:6379); default: local."
    )
    parser.add_argument("--num-workers", type=int, default=2, help="Ray actors, each with its own model.")
    parser.add_argument("--gpus-per-worker", type=float, default=0, help="GPUs per Ray actor.")
    args = parser.parse_args(argv)
    if args.texts and args.file:
        raise UserError("Pass reviews as arguments or with --file, not both.")
    if args.engine == "ray" and not distributed.is_distributed():  # under accelerate launch: today's path
        return _predict_with_ray(args)
    # Before reading and scoring (on every launched process): a bad --output must not cost that work.
    check_output_file(args.output, OUTPUT_FORMATS, inputs=[args.file] if args.file else [])
    if args.file:
        texts = read_reviews(args.file, args.text_column, column_option="--text-column")
    elif args.texts:
        texts = args.texts
    elif distributed.is_distributed():  # stdin reaches one launched process at most
        raise UserError("Under accelerate launch, pass the reviews with --file.")
    else:
        # Bytes, not text: a strict UTF-8 locale would raise on one bad byte; replace it instead.
        stdin = sys.stdin.buffer.read().decode("utf-8", "replace")
        texts = [line for line in stdin.splitlines() if line.strip()]
    if not texts:
        raise UserError("No reviews to score: pass them as arguments, with --file, or on stdin.")
    if distributed.is_distributed():
        # Each process scores a slice; the main process gets every row, in order, and writes once.
        table = distributed.score_distributed(
            args.model_dir, texts, args.batch_size, args.device, backend=args.backend
        )
        if table is None:
            return 0
    else:
        classifier = classifier_from_args(args)
        print(f"Engine {classifier.engine_reason}", file=sys.stderr)  # which engine serves, and why
        table = score_texts(classifier, texts, batch_size=args.batch_size, progress=True)
    write_predictions(table, args.output)
    failed = int(table["error"].notna().sum())
    if failed:
        print(f"warning: {failed} of {len(table)} rows had no usable text (see 'error').", file=sys.stderr)
    return 0


def _predict_with_ray(args) -> int:
    from ..scale.ray import score_with_ray

    if not args.file or not args.output:
        raise UserError("--engine ray needs --file (a file, folder or glob) and --output (a folder).")
    score_with_ray(
        args.model_dir,
        args.file,
        args.output,
        address=args.address,
        num_workers=args.num_workers,
        batch_size=args.batch_size,
        gpus_per_worker=args.gpus_per_worker,
        text_column=args.text_column,
        backend=args.backend,
        device=args.device,
    )
    print(f"Wrote the predictions as parquet files under {args.output}", file=sys.stderr)
    return 0


def run_evaluate(argv: Sequence[str]) -> int:
    from ..atomic import staged_file
    from ..data import read_source, standardize
    from ..evaluation.metrics import classification_metrics, metrics_by_source
    from ..evaluation.pairs import format_pair_metrics, pair_metrics
    from ..serving.batch import check_output_file

    parser = argparse.ArgumentParser(prog="imdb-sentiment evaluate", description="Score labelled reviews.")
    parser.add_argument("--data", required=True, help="Hub dataset id, file or folder (as for train).")
    parser.add_argument(
        "--split",
        default=None,
        help="Which split to score: train or test (default: test, or a single file's rows).",
    )
    parser.add_argument("--text-column", default="text")
    parser.add_argument("--label-column", default="label")
    parser.add_argument("--max-samples", type=positive_int, default=None, help="Score at most this many.")
    parser.add_argument("--output", default=None, help="Also save the metrics here (a .json file).")
    add_scoring_arguments(parser)
    args = parser.parse_args(argv)
    # Before reading and scoring: a bad path must not cost that work.
    check_output_file(args.output, (".json",), inputs=[args.data])
    tables = read_source(args.data)
    if args.split is None:  # a single file reads as "train" only: score it rather than refuse
        args.split = "test" if "test" in tables or len(tables) != 1 else next(iter(tables))
    if args.split not in tables:
        raise UserError(f"'{args.data}' has no {args.split} split; it has {', '.join(tables)}.")
    table = tables[args.split]
    # A lone file reads as a "train" split; its errors must not speak of training data.
    frame = standardize(
        table, args.text_column, args.label_column, args.split if len(tables) > 1 else "evaluation"
    )
    # standardize keeps text and label of the rows with a text; their other columns follow.
    kept = table[args.text_column].map(lambda t: isinstance(t, str) and bool(t.strip()))
    if "source" in table.columns:  # an empty cell is a source of its own, not a crash when sorting
        frame["source"] = table.loc[kept, "source"].fillna("(none)").astype(str).to_numpy()
    if "pair_id" in table.columns:  # counterfactual pairs: scored as pairs too (evaluation/pairs.py)
        for column in ("pair_id", "version"):
            if column in table.columns:
                frame[column] = table.loc[kept, column].to_numpy()
    if args.max_samples:
        frame = frame.sample(n=min(args.max_samples, len(frame)), random_state=0)
    classifier = classifier_from_args(args)
    predictions = classifier.predict(frame["text"].tolist(), batch_size=args.batch_size)
    positive = [p.scores.get("POSITIVE", 0.0) for p in predictions]
    metrics = classification_metrics(frame["label"].to_numpy(), positive)
    if "source" in frame.columns:
        metrics["by_source"] = metrics_by_source(frame, positive)
    if "pair_id" in frame.columns:
        metrics["pairs"] = pair_metrics(frame, positive)
    text = json.dumps({"data": args.data, "split": args.split, **metrics}, indent=2)
    print(text)
    if "pairs" in metrics:
        print(f"Counterfactual pairs: {format_pair_metrics(metrics['pairs'])}", file=sys.stderr)
    if args.output:
        with staged_file(Path(args.output)) as staging:
            staging.write_text(text + "\n", encoding="utf-8")
    return 0


def run_explain(argv: Sequence[str]) -> int:
    from ..serving.explain import DEFAULT_STEPS, METHODS, explain_text, format_explanation

    parser = argparse.ArgumentParser(
        prog="imdb-sentiment explain", description="Show which words pushed each review toward each label."
    )
    parser.add_argument("texts", nargs="+", help="Reviews to explain.")
    parser.add_argument("--top", type=positive_int, default=10, help="Words to show each way.")
    parser.add_argument("--method", choices=METHODS, default="ig", help="ig (default) or grad_x_input.")
    parser.add_argument("--steps", type=int, default=DEFAULT_STEPS, help="Integrated Gradients steps.")
    parser.add_argument("--json", action="store_true", help="Print every (word, weight) as JSON Lines.")
    add_scoring_arguments(parser)
    args = parser.parse_args(argv)
    classifier = classifier_from_args(args)
    for text in args.texts:
        explanation = explain_text(classifier, text, method=args.method, steps=args.steps)
        if args.json:
            row = {"label": explanation.label, "score": explanation.score, "words": explanation.pairs}
            print(json.dumps(row, ensure_ascii=False))
        else:
            print(format_explanation(explanation, args.top))
    return 0
