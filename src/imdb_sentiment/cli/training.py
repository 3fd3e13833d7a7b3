"""``train`` and ``sweep``: the commands that fine-tune models.

imdb-sentiment train --model distilbert-base-uncased --data stanfordnlp/imdb
imdb-sentiment sweep --freeze-layers 0,2,3,4,6 --lora --max-train-samples 2000 --output-dir sweep
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path


def train_parser(prog: str = "imdb-sentiment train") -> argparse.ArgumentParser:
    """The parser for ``train``, built from :class:`TrainConfig`'s fields. Flags are written with
    dashes (``--output-dir``) like every other command's; the field names with underscores keep
    working as flags but are not shown."""
    from transformers import HfArgumentParser

    from ..config import TrainConfig

    parser = HfArgumentParser(TrainConfig, prog=prog)
    for action in parser._actions:
        dashed = [option for option in action.option_strings if "_" not in option]
        if dashed:
            # Parsing looks flags up in parser._option_string_actions, which keeps both forms;
            # option_strings is only what --help and error messages print.
            action.option_strings = dashed
    return parser


def parse_train_config(argv: Sequence[str], prog: str = "imdb-sentiment train"):
    """The :class:`TrainConfig` that ``argv`` describes. An unknown flag (``--model-dir``, which the
    other commands take) is argparse's usage error, status 2, not HfArgumentParser's traceback."""
    parser = train_parser(prog)
    config, unknown = parser.parse_args_into_dataclasses(args=list(argv), return_remaining_strings=True)
    if unknown:
        parser.error(f"unrecognized arguments: {' '.join(unknown)}")
    return config


def run_train(argv: Sequence[str]) -> int:
    from ..training.train import train

    train(parse_train_config(argv))
    return 0


def run_sweep(argv: Sequence[str]) -> int:
    from ..training.sweep import DEFAULT_FREEZE, check_sweep_inputs, parse_freeze_layers, settings_for
    from ..training.sweep import run_sweep as sweep

    parser = argparse.ArgumentParser(
        prog="imdb-sentiment sweep",
        allow_abbrev=False,
        description="Train the same model once per freezing setting (and LoRA) and compare them. Any "
        "`imdb-sentiment train` option (--model, --data, --max-train-samples, --max-length, --epochs, "
        "--batch-size, --learning-rate, --seed, ...) passes through to every run.",
    )
    parser.add_argument(
        "--freeze-layers",
        default=DEFAULT_FREEZE,
        help=f"Comma-separated settings to compare (default {DEFAULT_FREEZE}).",
    )
    parser.add_argument("--lora", action="store_true", help="Add a LoRA row (adapters in every layer).")
    parser.add_argument("--lora-r", default="8", help="LoRA rank(s), comma-separated (with --lora).")
    parser.add_argument(
        "--lora-learning-rate",
        type=float,
        default=None,
        help="Learning rate of the LoRA rows (default: --learning-rate, as the other rows). LoRA's "
        "low-rank updates usually want a larger one than full fine-tuning.",
    )
    parser.add_argument(
        "--short-data", default=None, help="Labelled texts (text,label) to score each model on."
    )
    parser.add_argument("--output-dir", default="sweep", help="Where sweep.json/.csv/.png go.")
    parser.add_argument(
        "--keep-models",
        action="store_true",
        help="Keep each run's model in <output-dir>/models/ (default: temporary, removed).",
    )
    args, rest = parser.parse_known_args(list(argv))
    base = parse_train_config(rest, prog="imdb-sentiment sweep")
    ranks = parse_freeze_layers(args.lora_r) if args.lora else []
    check_sweep_inputs(base, args.short_data)  # one clear error before any run or output folder
    settings = settings_for(parse_freeze_layers(args.freeze_layers), ranks, args.lora_learning_rate)
    rows = sweep(base, settings, args.output_dir, args.short_data, args.keep_models)
    print(f"Wrote {Path(args.output_dir) / 'sweep.json'}, sweep.csv and sweep.png.")
    return 0 if any(not row.get("error") for row in rows) else 1
