"""Arguments every command that serves a model shares, and the one way to load a Classifier from them.

add_model_arguments(parser)          # --model-dir, --device, --backend
classifier = classifier_from_args(parser.parse_args())
"""

from __future__ import annotations

import argparse

from ..serving.engines import BACKENDS


def add_model_arguments(parser: argparse.ArgumentParser) -> None:
    """--model-dir, --device and --backend: how every front (CLI, app) picks a Classifier."""
    parser.add_argument("--model-dir", default="saved_model", help="Saved model folder or Hub id.")
    parser.add_argument("--device", default=None, help="cpu or cuda (default: cuda if available).")
    parser.add_argument(
        "--backend",
        default="auto",
        choices=("auto", *BACKENDS),
        help="Inference engine; onnx/openvino ones need `export` first (default auto: the fastest "
        "export measured on this CPU, else a rule by CPU flags, else torch).",
    )


def positive_int(text: str) -> int:
    """An argparse type: a whole number of at least 1 (argparse prints the usage and one error line)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{value} is below 1")
    return value


def add_scoring_arguments(parser: argparse.ArgumentParser) -> None:
    """The model arguments and --batch-size: what every command that scores reviews takes."""
    add_model_arguments(parser)
    parser.add_argument("--batch-size", type=positive_int, default=32, help="Reviews per forward pass.")


def classifier_from_args(args: argparse.Namespace):
    """The Classifier that --model-dir, --device and --backend name (CLI and app alike)."""
    from ..serving.classifier import Classifier

    return Classifier.from_pretrained(args.model_dir, device=args.device, backend=args.backend)


def app_parser() -> argparse.ArgumentParser:
    """The parser of ``python gradioApp.py``."""
    parser = argparse.ArgumentParser(description="Serve an IMDb sentiment model with Gradio.")
    add_model_arguments(parser)
    parser.add_argument("--host", default="127.0.0.1", help="Interface to bind (default: localhost only).")
    parser.add_argument("--port", type=int, default=7860, help="Port (default: 7860).")
    parser.add_argument("--share", action="store_true", help="Also open a public gradio.live link.")
    return parser
