"""``export`` and ``check``: the commands that prepare and vet a saved model for serving.

imdb-sentiment export --model-dir saved_model --quantize int8
imdb-sentiment check --model-dir saved_model --min-pass 0.8
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Sequence

from ..errors import UserError
from .arguments import add_model_arguments, classifier_from_args


def run_export(argv: Sequence[str]) -> int:
    from ..serving.export import export_onnx

    parser = argparse.ArgumentParser(
        prog="imdb-sentiment export",
        description="Write an optimized ONNX copy of a saved model into <model-dir>/onnx/ (atomically; "
        "model.safetensors is only read). Checks it against the PyTorch model before writing.",
    )
    parser.add_argument("--model-dir", default="saved_model", help="Saved model folder.")
    parser.add_argument(
        "--quantize", default=None, choices=("int8",), help="Also write a dynamic int8 model."
    )
    parser.add_argument(
        "--check-data",
        default=None,
        help="Reviews (TXT/CSV/parquet/JSONL, optional label column) to check labels on.",
    )
    parser.add_argument("--max-check", type=int, default=500, help="Check on at most this many reviews.")
    parser.add_argument("--opset", type=int, default=17, help="ONNX opset.")
    args = parser.parse_args(argv)
    texts, labels = None, None
    if args.check_data:
        texts, labels = _check_reviews(args.check_data, args.max_check)
    report = export_onnx(
        args.model_dir, quantize=args.quantize, check_texts=texts, check_labels=labels, opset=args.opset
    )
    print(
        json.dumps(
            {
                "directory": report.directory,
                "files": report.files,
                "checks": report.checks,
                "accepted": report.accepted,
                "seconds": round(report.seconds, 1),
            },
            indent=2,
        )
    )
    return 0


def _check_reviews(path: str, limit: int):
    from ..data import normalize_labels, read_table
    from ..serving.batch import read_reviews

    texts = read_reviews(path)
    labels = None
    if not path.lower().endswith(".txt"):
        table = read_table(path)
        if "label" in table.columns:
            labels = normalize_labels(table["label"])
    keep = [i for i, text in enumerate(texts) if isinstance(text, str) and text.strip()][:limit]
    return [texts[i] for i in keep], (None if labels is None else labels[keep])


def run_check(argv: Sequence[str]) -> int:
    from ..evaluation.check import format_table
    from ..evaluation.check import run_check as check_suite_result

    parser = argparse.ArgumentParser(
        prog="imdb-sentiment check",
        description="Behavioural check: pass rates per capability on short texts, with the failing cases.",
    )
    add_model_arguments(parser)
    parser.add_argument("--json", action="store_true", help="Print the full result (with failures) as JSON.")
    parser.add_argument(
        "--min-pass",
        type=float,
        default=None,
        help="Exit with status 1 if the overall pass rate is below this.",
    )
    parser.add_argument("--show", type=int, default=5, help="Failing cases shown per capability.")
    args = parser.parse_args(argv)
    if args.min_pass is not None and not 0 <= args.min_pass <= 1:
        raise UserError("--min-pass must be between 0 and 1.")
    classifier = classifier_from_args(args)
    result = check_suite_result(classifier)
    print(json.dumps(result, indent=2) if args.json else format_table(result, args.show))
    if args.min_pass is not None and result["overall"] < args.min_pass:
        if not args.json:
            print(f"\nFAILED: overall pass rate {result['overall']:.3f} is below --min-pass {args.min_pass}.")
        return 1
    return 0
