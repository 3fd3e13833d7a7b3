"""The training flow: seed, data, model, freeze, Trainer, evaluate, calibrate, save; :func:`train`
first, then its helpers in the order it calls them.

    python -m imdb_sentiment train --model distilbert-base-uncased --data stanfordnlp/imdb

or from Python / the notebook::

    from imdb_sentiment import TrainConfig, train
    result = train(TrainConfig(max_train_samples=2000))

Runs under ``accelerate launch -m imdb_sentiment train ...`` (data parallel, see the README): the
Trainer shards the batches and gathers the evaluation, and only the main process writes the
model, its metrics, plots and checkpoints.
"""

from __future__ import annotations

import dataclasses
import logging
import math
import shutil
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from ..atomic import atomic_directory, check_output_dir, write_json
from ..config import TrainConfig, resolve_config
from ..data import Splits, load_splits
from ..errors import TrainingDivergedError
from ..evaluation.check import behaviour_metrics
from ..evaluation.metrics import (
    classification_metrics,
    softmax_positive,
    trainer_metrics,
)
from ..model import (
    FreezeReport,
    default_freeze_layers,
    find_layers,
    freeze_lower_layers,
    load_model,
    load_tokenizer,
    set_attention_dropout,
)
from ..precision import Precision, choose_precision, float32_precision_kept, serve_in_fp32, tf32_enabled
from ..scale.distributed import quiet_replicas
from ..text import Encoder
from .calibrate import fit_calibration, fold_into_output_layer
from .callbacks import timed_steps, training_callbacks
from .card import model_card
from .checkpoints import resume_point
from .lora import apply_lora, merge_lora
from .plots import plot_confusion_matrix, plot_training_curves
from .save import save_tokenizer

logger = logging.getLogger(__name__)


@dataclass
class TrainResult:
    output_dir: Path
    metrics: dict
    config: TrainConfig


def train(config: TrainConfig) -> TrainResult:
    """Fine-tune ``config.model`` on ``config.data`` and save it to ``config.output_dir``.

    The process-wide TF32 setting is the same after this returns (or raises) as before it."""
    with float32_precision_kept() as restore_float32_precision:
        return _train(resolve_config(config), restore_float32_precision)


def _train(config: TrainConfig, restore_float32_precision) -> TrainResult:
    from transformers import DataCollatorWithPadding, EarlyStoppingCallback, Trainer, set_seed

    output_dir = check_output_dir(config.output_dir)
    precision = choose_precision(config.precision, config.device)
    checkpoints = config.checkpoint_path()
    args = training_arguments(config, precision)
    quiet_replicas(args.process_index == 0)
    resume_from = resume_point(args, checkpoints, config.resume)
    set_seed(config.seed)

    # Each node's main process reads the data and model first (downloading a Hub dataset or model
    # into the cache once); the others then read the cache. Every process needs the splits in its
    # own memory anyway, and they are identical: the split and sampling are seeded.
    with args.main_process_first(desc="loading the data and model"):
        splits = load_splits(config)
        tokenizer = load_tokenizer(config.model)
        model = load_model(config.model)
    if config.attention_dropout is not None:
        set_attention_dropout(model, config.attention_dropout)
    if config.freeze_layers is None:  # the default depends on the depth, known now
        depth = len(find_layers(model)[1])
        config = dataclasses.replace(config, freeze_layers=default_freeze_layers(depth, config.method))
    freeze_report = freeze_lower_layers(model, config.freeze_layers)
    if config.method == "lora":
        model, freeze_report = apply_lora(
            model, config.freeze_layers, config.lora_r, config.lora_alpha, config.lora_dropout
        )
    encoder = Encoder(tokenizer, config.max_length, config.truncation)
    train_set = encode_frame(encoder, splits.train)
    validation_set = encode_frame(encoder, splits.validation)

    if args.process_index == 0:
        print(_describe_recipe(config, splits, freeze_report, precision, args.world_size))
    callbacks = training_callbacks(timed_steps(len(train_set), config.batch_size))
    if config.early_stopping_patience:
        callbacks.append(EarlyStoppingCallback(config.early_stopping_patience))
    evaluations = RememberEvaluation()
    trainer = Trainer(
        model=model,
        args=args,
        train_dataset=train_set,
        eval_dataset=validation_set,
        # Multiples of 8 tokens let fp16/bf16 matmuls use the GPU's tensor cores.
        data_collator=DataCollatorWithPadding(
            tokenizer, pad_to_multiple_of=8 if config.device == "cuda" else None
        ),
        compute_metrics=evaluations,
        callbacks=callbacks,
    )
    evaluations.trainer = trainer
    train_output = trainer.train(resume_from_checkpoint=resume_from)
    if not math.isfinite(train_output.training_loss):
        raise TrainingDivergedError("The training loss is not finite; nothing was saved.")

    if config.method == "lora":  # adapters merged: a plain transformers model, calibrated and saved as one
        trainer.model = merge_lora(trainer.model)
    # From here on the model is scored as Classifier serves it (fp32, no autocast, the process's own
    # TF32 setting), so calibration and the metrics describe the saved model. Epoch-end logits
    # computed under autocast are not reused.
    used = {**precision.to_dict(), "tf32": tf32_enabled(), "evaluation": "fp32"}
    restore_float32_precision()
    serve_in_fp32(trainer)
    remembered = evaluations.for_kept_model(trainer) if precision.dtype == "fp32" else None
    labels, logits = _predict(trainer, validation_set, remembered)
    calibration = None
    if config.calibrate:
        logits, calibration = _calibrate(trainer, labels, logits)
    test = _predict(trainer, encode_frame(encoder, splits.test)) if splits.test is not None else None
    metrics = {
        "validation": classification_metrics(labels, softmax_positive(logits)),
        "test": classification_metrics(test[0], softmax_positive(test[1])) if test else None,
        "calibration": calibration,
        "train": {
            "train_samples": len(splits.train),
            "train_runtime_s": train_output.metrics["train_runtime"],
            "train_samples_per_second": train_output.metrics["train_samples_per_second"],
            "train_loss": train_output.training_loss,
            "epochs": config.epochs,
        },
        "model": {
            "method": config.method,
            **vars(freeze_report),
            "trainable_percent": freeze_report.trainable_percent,
        },
        "precision": used,
    }
    metrics["behaviour"] = behaviour_metrics(trainer.model, tokenizer, config)  # short texts (check.py)
    if trainer.is_world_process_zero():
        with atomic_directory(output_dir) as staging:
            trainer.model.save_pretrained(staging)
            save_tokenizer(tokenizer, staging, config.max_length, config.truncation)
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


def training_arguments(config: TrainConfig, precision: Precision | None = None):
    from transformers import TrainingArguments

    on_gpu = config.device == "cuda"
    precision = precision or choose_precision(config.precision, config.device)
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
        bf16=precision.dtype == "bf16",
        fp16=precision.dtype == "fp16",  # with the Trainer's dynamic loss scaling
        tf32=True if precision.tf32 else None,  # None leaves the setting alone (restored after train())
        use_cpu=not on_gpu,
        dataloader_num_workers=config.num_workers,
        seed=config.seed,
        data_seed=config.seed,
        logging_steps=config.logging_steps,
        logging_nan_inf_filter=False,
        report_to="none",
        # Several processes (accelerate launch): the classifier's loss is already a mean over its
        # batch and DDP averages the gradients; the token-count re-scaling meant for LM losses
        # would multiply the loss (and the logged loss) by the number of processes.
        average_tokens_across_devices=False,
        # Frozen parameters have requires_grad=False and are not in DDP's buckets, so no trainable
        # parameter goes unused: skip the extra autograd-graph walk every step.
        ddp_find_unused_parameters=False,
    )


def encode_frame(encoder: Encoder, frame: pd.DataFrame):
    """A ``datasets.Dataset`` of token ids, lengths (for length grouping) and labels."""
    import datasets

    encoded = encoder(frame["text"].tolist())
    encoded["length"] = [len(ids) for ids in encoded["input_ids"]]
    encoded["labels"] = frame["label"].tolist()
    return datasets.Dataset.from_dict(encoded)


def _describe_recipe(
    config: TrainConfig, splits: Splits, report: FreezeReport, precision: Precision, processes: int = 1
) -> str:
    where = precision.describe()
    if config.device != "cuda":
        where += ", no GPU found: CPU-sized recipe"
    if processes > 1:  # data parallel: each process takes batch_size reviews a step
        where += f", {processes} processes (global batch {config.batch_size * processes})"
    return (
        f"Training on {where}: {len(splits.train):,} train / {len(splits.validation):,} validation"
        f"{f' / {len(splits.test):,} test' if splits.test is not None else ''} reviews, "
        f"max_length {config.max_length} ({config.truncation}), {config.epochs:g} epoch(s), "
        f"batch {config.batch_size}, lr {config.learning_rate:g}.\n{report}"
    )


class RememberEvaluation:
    """``compute_metrics`` that keeps the last evaluation's labels and logits, so the final report
    on the validation split can reuse the epoch-end evaluation of the model it keeps instead of
    scoring the same reviews with the same weights again (a minute on a CPU)."""

    def __init__(self):
        self.step: int | None = None
        self.labels = self.logits = None
        self.trainer = None

    def __call__(self, eval_prediction) -> dict:
        logits = eval_prediction.predictions
        self.logits = logits[0] if isinstance(logits, tuple) else logits
        self.labels = eval_prediction.label_ids
        self.step = self.trainer.state.global_step if self.trainer is not None else None
        return trainer_metrics(eval_prediction)

    def for_kept_model(self, trainer):
        """(labels, logits) of the model the Trainer kept, if its last evaluation scored it."""
        state = trainer.state
        kept = state.best_global_step if state.best_global_step is not None else state.global_step
        if self.step is None or self.step != state.global_step or kept != state.global_step:
            return None
        return self.labels, self.logits


def _predict(trainer, dataset, remembered=None) -> tuple[np.ndarray, np.ndarray]:
    """(labels, logits) for every review of ``dataset``, reusing ``remembered`` when given."""
    # Under several processes, predict() pads the last batches with repeated rows so every process
    # gets the same number, then gathers and drops the repeats (accelerate's gather_for_metrics):
    # every process gets every row once. Checked, since the metrics rest on it.
    labels, logits = remembered or (None, None)
    if remembered is None:
        output = trainer.predict(dataset)  # labels come back in the order the logits do
        labels, logits = output.label_ids, output.predictions
    expected = np.bincount(np.asarray(dataset["labels"]), minlength=2)
    if len(labels) != len(dataset) or not np.array_equal(np.bincount(labels, minlength=2), expected):
        raise RuntimeError(
            f"Evaluation returned {len(labels)} predictions for {len(dataset)} reviews; "
            "the metrics would be wrong."
        )
    return labels, logits


def _calibrate(trainer, labels, logits) -> tuple[np.ndarray, dict | None]:
    """Fold Platt scaling, fitted on the validation logits, into the model (every process alike);
    returns the logits the calibrated model gives for those reviews, and what was done."""
    calibration = fit_calibration(labels, logits)
    if calibration is None:
        return logits, None
    fold_into_output_layer(trainer.model, calibration)
    logger.info(
        "Calibrated on the validation split: scale %.3f, shift %+.3f.", calibration.scale, calibration.shift
    )
    predicted = np.argmax(logits, axis=1)
    return calibration.apply(logits), {
        **calibration.to_dict(),
        "fitted_on": "validation",
        "validation_accuracy_before": float(np.mean(predicted == labels)),
        "validation_positive_rate_before": float(np.mean(predicted)),
    }
