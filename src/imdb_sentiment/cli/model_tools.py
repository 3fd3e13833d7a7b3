"""``export`` and ``check``: the commands that prepare and vet a saved model for serving.

imdb-sentiment export --model-dir saved_model [--engines onnx-int8,openvino] [--check-data reviews.csv]
imdb-sentiment check --model-dir saved_model --min-pass 0.8
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence

from ..errors import UserError
from .arguments import add_model_arguments, classifier_from_args

# The TorchScript ONNX exporter's range (torch.onnx's supported opsets; 14 is the first with the
# attention ops transformers' models export to).
MIN_OPSET, MAX_OPSET = 14, 20


def run_export(argv: Sequence[str]) -> int:
    from ..serving.exporters import available_engines, export_model, summary
    from ..serving.exporters.check import check_reviews_from

    parser = argparse.ArgumentParser(
        prog="imdb-sentiment export",
        description="Write every engine this machine can run (ONNX, ONNX int8, OpenVINO, OpenVINO "
        "int8) into <model-dir>/exports/ (atomically; model.safetensors is only read), each checked "
        "against fp32 PyTorch on real reviews and timed on this CPU for `--backend auto`.",
    )
    parser.add_argument("--model-dir", default="saved_model", help="Saved model folder.")
    parser.add_argument(
        "--engines",
        default=None,
        help="Comma-separated engines to write (default: every one whose package is installed: "
        f"{','.join(available_engines())}). The exports/ folder is written anew, so engines "
        "exported before and not named here are removed, and the ranking covers only these.",
    )
    parser.add_argument(
        "--check-data",
        default=None,
        help="Reviews (TXT/CSV/parquet/JSONL, optional label column) to check labels on "
        "(default: the 500 held-out IMDb reviews shipped with the package).",
    )
    parser.add_argument("--max-check", type=int, default=500, help="Check on at most this many reviews.")
    parser.add_argument("--opset", type=int, default=17, help="ONNX opset.")
    args = parser.parse_args(argv)
    if args.max_check < 1:
        raise UserError(f"--max-check {args.max_check}: check on at least 1 review.")
    if not MIN_OPSET <= args.opset <= MAX_OPSET:
        raise UserError(f"--opset {args.opset}: the exporter writes opsets {MIN_OPSET} to {MAX_OPSET}.")
    texts, labels = None, None
    if args.check_data:
        texts, labels = check_reviews_from(args.check_data, args.max_check)
    engines = None if args.engines is None else [e.strip() for e in args.engines.split(",") if e.strip()]
    report = export_model(
        args.model_dir,
        engines,
        check_texts=texts,
        check_labels=labels,
        opset=args.opset,
        max_check=args.max_check,
    )
    print(
        json.dumps(
            {
                "directory": report.directory,
                "files": report.files,
                "checks": report.checks,
                "accepted": report.accepted,
                "ranking": report.ranking["engines"],
                "seconds": round(report.seconds, 1),
            },
            indent=2,
        )
    )
    print(summary(report))
    return 0


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
        # On stderr, so a CI log says why even when stdout is the JSON a script reads.
        print(
            f"FAILED: overall pass rate {result['overall']:.3f} is below --min-pass {args.min_pass}.",
            file=sys.stderr,
        )
        return 1
    return 0
