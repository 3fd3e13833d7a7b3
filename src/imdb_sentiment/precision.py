"""Numeric precision for training, chosen from the GPU, and the global TF32 switch kept in bounds.

``choose_precision("auto", "cuda")`` reads the card's compute capability and picks:

=================  =====================================  =======================  =====
capability         cards                                  training precision       TF32
=================  =====================================  =======================  =====
8.0 and newer      A100, A10, L4, RTX 30xx/40xx, H100/200  bf16 autocast            on
7.x                V100 (7.0), T4 and RTX 20xx (7.5)       fp16 autocast + loss     off
                                                          scaling
below 7.0          P100, K80, ...                          fp32 (no tensor cores)   off
no GPU             CPU                                    fp32                     off
=================  =====================================  =======================  =====

Why by capability and not ``torch.cuda.is_bf16_supported()``: that call counts emulation as support
and says True on a T4 or V100, which would train in slow emulated bf16; and transformers refuses
``tf32=True`` below 8.0 (TF32 tensor cores came with Ampere). ``--precision bf16|fp16|fp32``
overrides the choice, with a clear error for one the card cannot do.

Whatever was used for training, the final metrics and the calibration are computed the way the
saved model is served (``Classifier``: fp32, no autocast, TF32 as the process had it), with
:func:`serve_in_fp32`; :func:`float32_precision_kept` puts the process-wide TF32 setting back when
training returns, so predictions after ``train()`` in a notebook run as they do in the CLI.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass

from .errors import UserError

PRECISIONS = ("auto", "bf16", "fp16", "fp32")
# The process-wide float32 matmul/conv precision (PyTorch 2.9+): transformers' tf32=True sets the
# first to "tf32"; the others inherit it unless set. All three are restored together.
_FP32_PRECISION_SETTINGS = (("backends",), ("backends", "cuda", "matmul"), ("backends", "cudnn"))


@dataclass(frozen=True)
class Precision:
    """What training runs in on this device."""

    dtype: str  # "bf16", "fp16" or "fp32"
    tf32: bool
    device_name: str  # the card's name, or "CPU"
    capability: tuple[int, int] | None  # CUDA compute capability, None on a CPU
    reason: str = ""  # one line, when fp32 was chosen on a GPU

    def describe(self) -> str:
        where = self.device_name
        if self.capability is not None:
            where += f" (compute capability {self.capability[0]}.{self.capability[1]})"
        numerics = {"bf16": "bf16 mixed precision", "fp16": "fp16 mixed precision", "fp32": "fp32"}
        text = f"{where}: {numerics[self.dtype]}{' + TF32 matmuls' if self.tf32 else ''}"
        return f"{text} ({self.reason})" if self.reason else text

    def to_dict(self) -> dict:
        capability = None if self.capability is None else f"{self.capability[0]}.{self.capability[1]}"
        return {
            "training": self.dtype,
            "tf32": self.tf32,
            "device": self.device_name,
            "capability": capability,
        }


def cuda_card() -> tuple[str, tuple[int, int]] | None:
    """(name, compute capability) of the current CUDA device, or None without one."""
    import torch

    if not torch.cuda.is_available():
        return None
    major, minor = torch.cuda.get_device_capability()
    return torch.cuda.get_device_name(), (int(major), int(minor))


def choose_precision(requested: str, device: str) -> Precision:
    """The precision training uses on ``device`` ("cpu" or "cuda"), per the table above."""
    if requested not in PRECISIONS:
        raise UserError(f"--precision must be one of {', '.join(PRECISIONS)}, not {requested!r}.")
    card = cuda_card() if device == "cuda" else None
    if card is None:
        if requested in ("bf16", "fp16"):
            raise UserError(
                f"--precision {requested} needs a CUDA GPU; on the CPU training runs in fp32 "
                "(use --precision auto or fp32)."
            )
        return Precision("fp32", False, "CPU", None)
    name, capability = card
    version = f"{capability[0]}.{capability[1]}"
    if requested == "bf16" and capability < (8, 0):
        raise UserError(
            f"--precision bf16 needs a GPU of compute capability 8.0 or newer (A100, L4, RTX 30xx, "
            f"H100); {name} is {version}. Use --precision fp16 (or auto)."
        )
    if requested == "fp16" and capability < (5, 3):
        raise UserError(f"--precision fp16 needs compute capability 5.3 or newer; {name} is {version}.")
    if requested == "auto":
        requested = "bf16" if capability >= (8, 0) else "fp16" if capability >= (7, 0) else "fp32"
        reason = "no tensor cores below compute capability 7.0" if requested == "fp32" else ""
    else:
        reason = ""
    return Precision(requested, capability >= (8, 0) and requested != "fp32", name, capability, reason)


def _settings():
    import torch

    for path in _FP32_PRECISION_SETTINGS:
        owner = torch
        for name in path:
            owner = getattr(owner, name, None)
        if owner is not None and hasattr(owner, "fp32_precision"):
            yield owner


@contextlib.contextmanager
def float32_precision_kept():
    """Put the process-wide float32 (TF32) settings back on exit, however the block ends; yields a
    function that puts them back early (before evaluating in the served numerics)."""
    saved = [(owner, owner.fp32_precision) for owner in _settings()]

    def restore() -> None:
        for owner, value in saved:
            owner.fp32_precision = value

    try:
        yield restore
    finally:
        restore()


def tf32_enabled() -> bool:
    """Whether float32 matmuls on CUDA currently run as TF32 (the setting, read without the legacy
    ``allow_tf32`` flags, which raise once the new API has been used)."""
    import torch

    matmul = getattr(torch.backends.cuda.matmul, "fp32_precision", "none")
    value = matmul if matmul not in ("none", None) else getattr(torch.backends, "fp32_precision", "none")
    return value == "tf32"


def serve_in_fp32(trainer) -> None:
    """Make ``trainer`` evaluate as ``Classifier`` serves: fp32 with no autocast. accelerate wraps
    the model's forward in autocast when mixed precision is on, and would wrap it again for every
    evaluation; both are undone here (the weights themselves stay fp32 throughout training)."""
    from accelerate.utils import extract_model_from_parallel

    accelerator = trainer.accelerator
    if not getattr(accelerator, "native_amp", False):
        return
    accelerator.native_amp = False  # prepare_model() adds no autocast from now on
    extract_model_from_parallel(trainer.model, keep_fp32_wrapper=False)
