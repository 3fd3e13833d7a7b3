"""Arguments every command that serves a model shares, and the one way to load a Classifier from them.

add_model_arguments(parser)          # --model-dir, --device, --backend
classifier = classifier_from_args(parser.parse_args())
"""

from __future__ import annotations

import argparse
import errno
import re
import socket

from ..errors import PortInUseError, UserError
from ..serving.engines import BACKENDS

DEVICES = "cpu, cuda or cuda:<index>"
_DEVICE = re.compile(r"cpu|cuda(:\d+)?")


def add_model_arguments(parser: argparse.ArgumentParser) -> None:
    """--model-dir, --device and --backend: how every front (CLI, app) picks a Classifier."""
    parser.add_argument("--model-dir", default="saved_model", help="Saved model folder or Hub id.")
    parser.add_argument(
        "--device", type=device_name, default=None, help=f"{DEVICES} (default: cuda if available)."
    )
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


def device_name(text: str) -> str:
    """An argparse type: a device the model can be put on. Checked here because torch only
    refuses a bad name (``gpu``) with a RuntimeError deep inside loading."""
    name = text.strip().lower()
    if not _DEVICE.fullmatch(name):
        raise argparse.ArgumentTypeError(f"{text!r} is not a device; use {DEVICES}")
    return name


def check_device_available(device: str | None) -> None:
    """A UserError unless this machine has ``device``: torch answers a missing GPU with an
    AssertionError ("Torch not compiled with CUDA enabled") or a RuntimeError at the first tensor.
    Not part of ``device_name``: Ray workers may have GPUs the machine that parses the flags lacks."""
    if device is None or device == "cpu":
        return
    import torch

    if not torch.cuda.is_available():
        raise UserError(f"--device {device}: no CUDA GPU is available on this machine; pass --device cpu.")
    index = int(device.partition(":")[2] or 0)
    count = torch.cuda.device_count()
    if index >= count:
        raise UserError(
            f"--device {device}: this machine has {count} CUDA GPU(s), cuda:0 to cuda:{count - 1}."
        )


def port_number(text: str) -> int:
    """An argparse type: a TCP port, 0 (any free port) to 65535."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if not 0 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"{value} is not a port (0 to 65535)")
    return value


def check_port_free(host: str, port: int) -> None:
    """A UserError if ``host:port`` cannot be listened on, found before the model loads (gradio
    would only say so in an OSError traceback). Binds the way the server will (SO_REUSEADDR, so a
    port in TIME_WAIT counts as free) and lets go at once; ``launch`` still catches the rare race."""
    try:
        family, kind, proto, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0]
        with socket.socket(family, kind, proto) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            probe.bind(address)
    except OSError as error:
        raise UserError(_port_message(host, port, error)) from error


def _port_message(host: str, port: int, error: OSError) -> str:
    if error.errno == errno.EADDRINUSE:
        return str(PortInUseError(host, port))
    reason = error.strerror or str(error)
    return f"Cannot listen on {host}:{port} ({reason}); pass another --host or --port."


def add_scoring_arguments(parser: argparse.ArgumentParser) -> None:
    """The model arguments and --batch-size: what every command that scores reviews takes."""
    add_model_arguments(parser)
    parser.add_argument("--batch-size", type=positive_int, default=32, help="Reviews per forward pass.")


def classifier_from_args(args: argparse.Namespace):
    """The Classifier that --model-dir, --device and --backend name (CLI and app alike)."""
    from ..serving.classifier import Classifier

    check_device_available(args.device)
    return Classifier.from_pretrained(args.model_dir, device=args.device, backend=args.backend)


def app_parser() -> argparse.ArgumentParser:
    """The parser of ``python gradioApp.py``."""
    parser = argparse.ArgumentParser(description="Serve an IMDb sentiment model with Gradio.")
    add_model_arguments(parser)
    parser.add_argument("--host", default="127.0.0.1", help="Interface to bind (default: localhost only).")
    parser.add_argument(
        "--port", type=port_number, default=7860, help="Port (default: 7860; 0: any free one)."
    )
    parser.add_argument("--share", action="store_true", help="Also open a public gradio.live link.")
    return parser
