"""How many layers to freeze, measured: train the same model once per setting and compare.

    python -m imdb_sentiment sweep --model distilbert-base-uncased --data stanfordnlp/imdb \\
        --freeze-layers 0,2,3,4,6 --lora --lora-r 8 --short-data sentences.parquet --output-dir sweep

Every run gets the same data, split, seed and budget (any ``train`` option passes through), one
after another in this process; only the setting changes: ``--freeze-layers`` values, and with
``--lora`` one LoRA row (adapters in every layer). For each: trainable parameters, training time
and samples/s, peak memory, validation accuracy and, with ``--short-data`` (text,label[,source]),
the saved model's accuracy on those texts. Writes ``sweep.json``, ``sweep.csv`` and ``sweep.png``
(accuracy against training time) into ``--output-dir`` and prints the table. A setting that fails
is reported in its row and the others still run.

Peak memory: on CUDA, ``torch.cuda.max_memory_allocated`` reset before each run. On a CPU, the
process's resident-set high-water mark (``VmHWM``), reset before each run through
``/proc/self/clear_refs`` (Linux), minus the resident set at the run's start: what the run added
(activations, gradients, optimizer state, data), whatever earlier runs left allocated.
"""

from __future__ import annotations

import dataclasses
import gc
import math
import shutil
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from ..config import TrainConfig
from ..errors import UserError
from ..memory import PeakMemory
from .sweep_report import format_table, write_results

DEFAULT_FREEZE = "0,2,3,4,6"  # every even split of a 6-layer encoder (DistilBERT, MiniLM), and 3


@dataclass(frozen=True)
class Setting:
    method: str
    freeze_layers: int
    lora_r: int | None = None
    learning_rate: float | None = None  # None: the sweep's (train's) learning rate

    @property
    def name(self) -> str:
        if self.method == "lora":
            return f"lora r={self.lora_r}" + (f" freeze {self.freeze_layers}" if self.freeze_layers else "")
        return f"freeze {self.freeze_layers}"

    @property
    def slug(self) -> str:
        return self.name.replace(" ", "_").replace("=", "")


def parse_freeze_layers(text: str) -> list[int]:
    try:
        values = [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise UserError(f"--freeze-layers takes comma-separated whole numbers, not {text!r}.") from None
    if not values:
        raise UserError("--freeze-layers needs at least one value.")
    return values


def settings_for(
    freeze_layers: Sequence[int], lora_r: Sequence[int] = (), lora_learning_rate: float | None = None
) -> list[Setting]:
    lora = [Setting("lora", 0, r, lora_learning_rate) for r in lora_r]
    return [Setting("freeze", k) for k in freeze_layers] + lora


def interval(accuracy: float | None, n: int | None) -> float | None:
    """Half-width of the approximate 95% interval of an accuracy measured on ``n`` examples."""
    if accuracy is None or not n:
        return None
    return 2 * math.sqrt(accuracy * (1 - accuracy) / n)


def short_text_accuracy(model_dir: Path, short: object) -> tuple[float, int]:
    """Accuracy of the saved model in ``model_dir`` on the labelled texts of ``short``."""
    import numpy as np

    from ..serving.classifier import Classifier

    classifier = Classifier.from_pretrained(model_dir, backend="torch")
    logits = classifier.predict_logits(short["text"].tolist())
    del classifier
    return float(np.mean(logits.argmax(axis=1) == short["label"].to_numpy())), len(short)


def read_short_data(path: str):
    from ..data import read_table, standardize

    return standardize(read_table(path), "text", "label", "short-data")


def check_sweep_inputs(base: TrainConfig, short_data: str | None) -> None:
    """Read the training data and the short texts once, so that a bad file is one UserError before
    any setting trains or any result file is written (each run reads the data again)."""
    from ..config import resolve_config
    from ..data import load_splits

    load_splits(resolve_config(base))
    if short_data:
        read_short_data(short_data)


def run_one(base: TrainConfig, setting: Setting, model_dir: Path, short=None) -> dict:
    """Train ``setting`` into ``model_dir``; one result row."""
    import torch

    from .train import train

    overrides = {"method": setting.method, "freeze_layers": setting.freeze_layers}
    if setting.lora_r is not None:
        overrides["lora_r"] = setting.lora_r
    if setting.learning_rate is not None:
        overrides["learning_rate"] = setting.learning_rate
    config = dataclasses.replace(base, output_dir=str(model_dir), **overrides)
    device = "cuda" if config.device in ("auto", "cuda") and torch.cuda.is_available() else "cpu"
    memory = PeakMemory(device)
    with memory:
        result = train(config)
    metrics = result.metrics
    model, trained, validation = metrics["model"], metrics["train"], metrics["validation"]
    row = {
        "setting": setting.name,
        "method": setting.method,
        "freeze_layers": setting.freeze_layers,
        "lora_r": setting.lora_r,
        "learning_rate": result.config.learning_rate,
        "trainable_parameters": model["trainable_parameters"],
        "total_parameters": model["total_parameters"],
        "trainable_percent": model["trainable_percent"],
        "train_samples": trained["train_samples"],
        "train_runtime_s": trained["train_runtime_s"],
        "train_samples_per_second": trained["train_samples_per_second"],
        "peak_memory_mb": memory.peak_mb,
        "peak_rss_mb": memory.peak_rss_mb,
        "memory_method": memory.method,
        "validation_accuracy": validation["accuracy"],
        "validation_interval": interval(validation["accuracy"], validation["n"]),
        "validation_n": validation["n"],
    }
    if short is not None:
        accuracy, n = short_text_accuracy(model_dir, short)
        row.update(short_accuracy=accuracy, short_interval=interval(accuracy, n), short_n=n)
    return row


def _warm_up(lora: bool) -> None:
    """Import now what every run needs, so the first run's peak memory is not charged with it, and
    hand large buffers back to the kernel when freed (memory.py), so the resident set tracks the
    memory a run holds rather than what malloc kept from earlier runs."""
    import datasets  # noqa: F401
    import sklearn.linear_model  # noqa: F401
    import transformers.trainer  # noqa: F401

    from ..memory import limit_malloc_growth
    from . import train  # noqa: F401
    from .plots import pyplot

    pyplot()
    if lora:
        import peft  # noqa: F401
    limit_malloc_growth()


def _free_memory() -> None:
    """Drop what a finished run left (its model, optimizer and Trainer are cyclic garbage)."""
    import torch

    from ..memory import release_free_memory

    gc.collect()
    if torch.cuda.is_available():
        torch.cuda.empty_cache()
    release_free_memory()


def run_sweep(
    base: TrainConfig,
    settings: Sequence[Setting],
    output_dir: str | Path,
    short_data: str | None = None,
    keep_models: bool = False,
    progress: Callable[[str], None] = print,
) -> list[dict]:
    """Train every setting in turn, write sweep.json/.csv/.png into ``output_dir``; the rows."""
    output_dir = Path(output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
    _warm_up(any(setting.method == "lora" for setting in settings))
    short = read_short_data(short_data) if short_data else None
    rows = []
    for index, setting in enumerate(settings, 1):
        progress(f"[{index}/{len(settings)}] {setting.name}: training ...")
        scratch = None if keep_models else Path(tempfile.mkdtemp(prefix="sweep-"))
        model_dir = output_dir / "models" / setting.slug if keep_models else scratch / "model"
        started = time.perf_counter()
        try:
            row = run_one(base, setting, model_dir, short)
        except Exception as error:  # noqa: BLE001 - one bad setting must not stop the others
            message = str(error).strip().splitlines()[0] if str(error).strip() else ""
            row = {
                "setting": setting.name,
                "method": setting.method,
                "freeze_layers": setting.freeze_layers,
                "lora_r": setting.lora_r,
                "error": f"{type(error).__name__}: {message}",
            }
        finally:
            if scratch is not None:
                shutil.rmtree(scratch, ignore_errors=True)
            _free_memory()
        row["wall_s"] = time.perf_counter() - started
        rows.append(row)
        progress(f"[{index}/{len(settings)}] {setting.name}: {_summary(row)}")
        write_results(rows, output_dir)  # after each run, so a long sweep cut short keeps its rows
    progress(format_table(rows))
    return rows


def _summary(row: dict) -> str:
    if row.get("error"):
        return f"FAILED: {row['error']}"
    text = (
        f"{row['trainable_percent']:.1f}% trainable, {row['train_runtime_s']:.0f} s, validation "
        f"{row['validation_accuracy']:.4f} +- {row['validation_interval']:.4f}"
    )
    if row.get("short_accuracy") is not None:
        text += f", short texts {row['short_accuracy']:.4f}"
    return text
