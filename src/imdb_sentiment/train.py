"""The training flow: seed, data, model, freeze, Trainer, evaluate, save.

    python -m imdb_sentiment train --model distilbert-base-uncased --data stanfordnlp/imdb

or from Python / the notebook::

    from imdb_sentiment import TrainConfig, train
    result = train(TrainConfig(max_train_samples=2000))

Runs under ``accelerate launch`` unchanged: the Trainer shards the batches, and only the main
process writes the model, its metrics and plots.
"""

from __future__ import annotations

import logging
import math
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from .config import TrainConfig, resolve_config
from .data import Splits, load_splits
from .errors import TrainingDivergedError, UserError
from .metrics import (
    classification_metrics,
    plot_confusion_matrix,
    plot_training_curves,
    softmax_positive,
    trainer_metrics,
)
from .model import FreezeReport, freeze_lower_layers, load_model, load_tokenizer
from .save import atomic_directory, check_output_dir, model_card, write_json
from .text import Encoder

logger = logging.getLogger(__name__)


@dataclass
class TrainResult:
    output_dir: Path
    metrics: dict
    config: TrainConfig


def _callbacks():
    from transformers import TrainerCallback

    class StopOnNonFiniteLoss(TrainerCallback):
        """A NaN or infinite loss poisons every later step: stop at once, save nothing."""

        def on_log(self, args, state, control, logs=None, **kwargs):
            loss = (logs or {}).get("loss")
            if loss is not None and not math.isfinite(loss):
                raise TrainingDivergedError(
                    f"The training loss became {loss} at step {state.global_step}; nothing was "
                    "saved. Lower --learning_rate or check the data."
                )

    class EstimateTime(TrainerCallback):
        """Print the expected run time once the first steps have been timed."""

        def on_step_end(self, args, state, control, **kwargs):
            if state.global_step == 1:
                self.started = time.perf_counter()
            elif state.global_step == 4 and state.is_world_process_zero:
                per_step = (time.perf_counter() - self.started) / 3
                minutes = per_step * (state.max_steps - 4) / 60
                print(f"Estimated training time: {minutes:.1f} min for {state.max_steps} steps.")

    return [StopOnNonFiniteLoss(), EstimateTime()]


def encode_frame(encoder: Encoder, frame: pd.DataFrame):
    """A ``datasets.Dataset`` of token ids, lengths (for length grouping) and labels."""
    import datasets

    encoded = encoder(frame["text"].tolist())
    encoded["length"] = [len(ids) for ids in encoded["input_ids"]]
    encoded["labels"] = frame["label"].tolist()
    return datasets.Dataset.from_dict(encoded)


def training_arguments(config: TrainConfig):
    import torch
    from transformers import TrainingArguments

    on_gpu = config.device == "cuda"
    bf16 = on_gpu and torch.cuda.is_bf16_supported()
    return TrainingArguments(
        output_dir=str(config.checkpoint_path()),
        num_train_epochs=config.epochs,
        learning_rate=config.learning_rate,
        per_device_train_batch_size=config.batch_size,
        per_device_eval_batch_size=config.batch_size * 2,
        weight_decay=config.weight_decay,
        warmup_steps=config.warmup_ratio,  # a float below 1 is a ratio of the total steps
        lr_scheduler_type="linear",
        eval_strategy="epoch",
        save_strategy="epoch",
        save_total_limit=2,
        load_best_model_at_end=True,
        metric_for_best_model="accuracy",
        greater_is_better=True,
        train_sampling_strategy="group_by_length",
        length_column_name="length",
        bf16=bf16,
        fp16=on_gpu and not bf16,
        tf32=True if on_gpu else None,
        use_cpu=not on_gpu,
        dataloader_num_workers=config.num_workers,
        seed=config.seed,
        data_seed=config.seed,
        logging_steps=config.logging_steps,
        logging_nan_inf_filter=False,
        report_to="none",
    )


def _describe_recipe(config: TrainConfig, splits: Splits, report: FreezeReport) -> str:
    where = "GPU" if config.device == "cuda" else "CPU (no GPU found: CPU-sized recipe)"
    return (
        f"Training on {where}: {len(splits.train):,} train / {len(splits.validation):,} validation"
        f"{f' / {len(splits.test):,} test' if splits.test is not None else ''} reviews, "
        f"max_length {config.max_length} ({config.truncation}), {config.epochs:g} epoch(s), "
        f"batch {config.batch_size}, lr {config.learning_rate:g}.\n{report}"
    )


def _evaluate(trainer, dataset) -> dict:
    output = trainer.predict(dataset)  # labels come back in the order the logits do
    return classification_metrics(output.label_ids, softmax_positive(output.predictions))


def _last_checkpoint(checkpoints: Path) -> str:
    from transformers.trainer_utils import get_last_checkpoint

    last = get_last_checkpoint(str(checkpoints)) if checkpoints.is_dir() else None
    if last is None:
        raise UserError(f"--resume was given but there is no checkpoint in '{checkpoints}'.")
    return last


def train(config: TrainConfig) -> TrainResult:
    """Fine-tune ``config.model`` on ``config.data`` and save it to ``config.output_dir``."""
    from transformers import DataCollatorWithPadding, EarlyStoppingCallback, Trainer, set_seed

    config = resolve_config(config)
    output_dir = check_output_dir(config.output_dir)
    checkpoints = config.checkpoint_path()
    resume_from = _last_checkpoint(checkpoints) if config.resume else None
    set_seed(config.seed)

    splits = load_splits(config)
    tokenizer = load_tokenizer(config.model)
    model = load_model(config.model)
    freeze_report = freeze_lower_layers(model, config.freeze_layers)
    encoder = Encoder(tokenizer, config.max_length, config.truncation)
    train_set = encode_frame(encoder, splits.train)
    validation_set = encode_frame(encoder, splits.validation)

    args = training_arguments(config)
    if args.process_index == 0:
        print(_describe_recipe(config, splits, freeze_report))
        if not config.resume and checkpoints.is_dir():
            shutil.rmtree(checkpoints)  # a fresh run must not mix with an old run's checkpoints
    callbacks = _callbacks()
    if config.early_stopping_patience:
        callbacks.append(EarlyStoppingCallback(config.early_stopping_patience))
    trainer = Trainer(
        model=model,
        args=args,
        train_dataset=train_set,
        eval_dataset=validation_set,
        data_collator=DataCollatorWithPadding(tokenizer),
        compute_metrics=trainer_metrics,
        callbacks=callbacks,
    )
    train_output = trainer.train(resume_from_checkpoint=resume_from)
    if not math.isfinite(train_output.training_loss):
        raise TrainingDivergedError("The training loss is not finite; nothing was saved.")

    metrics = {
        "validation": _evaluate(trainer, validation_set),
        "test": (
            _evaluate(trainer, encode_frame(encoder, splits.test))
            if splits.test is not None
            else None
        ),
        "train": {
            "train_samples": len(splits.train),
            "train_runtime_s": train_output.metrics["train_runtime"],
            "train_samples_per_second": train_output.metrics["train_samples_per_second"],
            "train_loss": train_output.training_loss,
            "epochs": config.epochs,
        },
        "model": {**vars(freeze_report), "trainable_percent": freeze_report.trainable_percent},
    }
    if trainer.is_world_process_zero():
        with atomic_directory(output_dir) as staging:
            trainer.model.save_pretrained(staging)
            tokenizer.save_pretrained(staging)
            config.save(staging)
            write_json(staging / "metrics.json", metrics)
            plot_training_curves(trainer.state.log_history, staging / "training_curves.png")
            best = metrics["test"] or metrics["validation"]
            split = "test" if metrics["test"] else "validation"
            plot_confusion_matrix(best["confusion_matrix"], staging / "confusion_matrix.png", split)
            (staging / "README.md").write_text(model_card(config.to_dict(), metrics), encoding="utf-8")
        shutil.rmtree(checkpoints, ignore_errors=True)  # only needed to resume a failed run
        print(f"Saved the model to {output_dir}: validation accuracy {metrics['validation']['accuracy']:.4f}")
    trainer.accelerator.wait_for_everyone()
    return TrainResult(output_dir=output_dir, metrics=metrics, config=config)
