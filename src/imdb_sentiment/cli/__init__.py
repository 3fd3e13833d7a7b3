"""Command line: ``python -m imdb_sentiment <command>`` (also installed as ``imdb-sentiment``).

    imdb-sentiment train --model distilbert-base-uncased --data stanfordnlp/imdb
    imdb-sentiment predict --model-dir saved_model "A wonderful film." "A dull film."
    imdb-sentiment predict --model-dir saved_model --file reviews.csv --output out.jsonl
    imdb-sentiment evaluate --model-dir saved_model --data stanfordnlp/imdb --split test
    imdb-sentiment explain --model-dir saved_model "A wonderful film with a dull ending."
    imdb-sentiment export --model-dir saved_model [--engines onnx-int8,openvino]
    imdb-sentiment check --model-dir saved_model --min-pass 0.8
    imdb-sentiment predict --model-dir saved_model --backend onnx-int8 "A wonderful film."
    imdb-sentiment predict --engine ray --model-dir saved_model --file 'reviews/*.parquet' --output out/
    imdb-sentiment sweep --freeze-layers 0,2,3,4,6 --lora --max-train-samples 2000 --output-dir sweep
    imdb-sentiment push --model-dir saved_model --repo-id me/imdb --space me/imdb-demo [--dry-run out]
    imdb-sentiment train --push-to-hub me/imdb --report-to tensorboard

A user mistake prints one line starting with ``error:`` and exits with status 2.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Sequence

from ..errors import UserError
from .model_tools import run_check, run_export
from .scoring import run_evaluate, run_explain, run_predict
from .sharing import run_push, run_train  # train, then push with --push-to-hub
from .training import run_sweep, train_parser

__all__ = ["RUNNERS", "main", "train_parser"]

RUNNERS = {
    "train": run_train,
    "predict": run_predict,
    "evaluate": run_evaluate,
    "explain": run_explain,
    "export": run_export,
    "check": run_check,
    "sweep": run_sweep,
    "push": run_push,
}


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] in ("-h", "--help") or argv[0] not in RUNNERS:
        print(__doc__.strip(), file=sys.stderr if argv and argv[0] not in ("-h", "--help") else sys.stdout)
        if argv and argv[0] not in ("-h", "--help"):
            print(f"\nerror: unknown command {argv[0]!r}; use one of {', '.join(RUNNERS)}", file=sys.stderr)
            return 2
        return 0 if argv else 2
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    finished = False
    try:
        code = RUNNERS[argv[0]](argv[1:])
        finished = True
        return code
    except UserError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    finally:
        from ..scale.distributed import leave_process_group

        leave_process_group(finished)
