"""The training flow, as named steps: load the data and the model, build the trainer, train, score
and calibrate, save. :func:`train` reads top to bottom; each step is a function below it.

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
import math
import shutil
from dataclasses import dataclass
from pathlib import Path

from ..atomic import atomic_directory, check_output_dir, write_json
from ..config import TrainConfig, resolve_config
from ..data import Splits, load_splits
from ..errors import TrainingDivergedError
from ..evaluation.check import behaviour_metrics
from ..evaluation.metrics import classification_metrics
from ..evaluation.pairs import pair_metrics
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
from ..serving.exporters import export_after_training
from ..serving.scores import softmax_positive
from ..text import Encoder
from .arguments import describe_recipe, training_arguments
from .callbacks import timed_steps, training_callbacks
from .card import model_card
from .checkpoints import checkpoint_folder, checkpoint_step
from .counterfactuals import dev_pairs, with_counterfactuals
from .lora import apply_lora, merge_lora
from .plots import plot_confusion_matrix, plot_training_curves
from .save import save_tokenizer
from .scoring import RememberEvaluation, calibrate, encode_frame, predict_in_order, predict_split


@dataclass
class TrainResult:
    output_dir: Path
    metrics: dict
    config: TrainConfig


def train(config: TrainConfig) -> TrainResult:
    """Fine-tune ``config.model`` on ``config.data`` and save it to ``config.output_dir``.

    The process-wide TF32 setting is the same after this returns (or raises) as before it."""
    from transformers import set_seed

    with float32_precision_kept() as restore_float32_precision:
        config = resolve_config(config)
        output_dir = check_output_dir(config.output_dir)
        precision = choose_precision(config.precision, config.device)
        args = training_arguments(config, precision)
        quiet_replicas(args.process_index == 0)
        # A run that fails from here on removes the checkpoints it wrote (an interrupt keeps them).
        with checkpoint_folder(args, config) as resume_from:
            set_seed(config.seed)
            return _train(config, args, precision, output_dir, resume_from, restore_float32_precision)


def fit_window(config: TrainConfig, model, main_process: bool) -> TrainConfig:
    """``config`` with ``max_length`` at most the model's position embeddings, with a note when it
    was cut (a longer window fails with a torch size mismatch at the first batch that long)."""
    window = getattr(model.config, "max_position_embeddings", None)
    if not window or config.max_length <= window:
        return config
    if main_process:
        print(
            f"note: max_length {config.max_length} is more than this model's window: training at {window} tokens."
        )
    return dataclasses.replace(config, max_length=window)


def _train(
    config: TrainConfig, args, precision: Precision, output_dir: Path, resume_from, restore
) -> TrainResult:
    """The steps of :func:`train` once the config, output folder and checkpoint folder are checked."""
    splits, tokenizer, model = load_data_and_model(config, args)
    config = fit_window(config, model, args.process_index == 0)
    config, model, freeze_report = prepare_model(config, model)
    encoder = Encoder(tokenizer, config.max_length, config.truncation)
    if args.process_index == 0:
        print(describe_recipe(config, splits, freeze_report, precision, args.world_size))
    trainer, evaluations = build_trainer(config, args, model, tokenizer, encoder, splits)
    train_metrics = fit(trainer, config, splits, resume_from)

    # From here on the model is scored as Classifier serves it (fp32, no autocast, the process's
    # own TF32 setting), so calibration and the metrics describe the saved model.
    used = {**precision.to_dict(), "tf32": tf32_enabled(), "evaluation": "fp32"}
    restore()
    serve_in_fp32(trainer)
    metrics = score_and_calibrate(trainer, config, encoder, splits, evaluations, precision)
    metrics.update(score_pairs(trainer, encoder, splits))
    metrics.update(train=train_metrics, model=_model_metrics(config, freeze_report), precision=used)
    metrics["behaviour"] = behaviour_metrics(trainer.model, tokenizer, config)  # short texts
    if trainer.is_world_process_zero():
        save(trainer, tokenizer, config, metrics, output_dir)
    trainer.accelerator.wait_for_everyone()
    return TrainResult(output_dir=output_dir, metrics=metrics, config=config)


def load_data_and_model(config: TrainConfig, args) -> tuple[Splits, object, object]:
    """The splits, the tokenizer and the pretrained model with a fresh two-label head."""
    # Each node's main process reads the data and model first (downloading a Hub dataset or model
    # into the cache once); the others then read the cache. Every process needs the splits in its
    # own memory anyway, and they are identical: the split and sampling are seeded.
    with args.main_process_first(desc="loading the data and model"):
        splits = with_counterfactuals(config, load_splits(config))  # pairs added after sampling
        tokenizer = load_tokenizer(config.model)
        model = load_model(config.model)
    return splits, tokenizer, model


def prepare_model(config: TrainConfig, model) -> tuple[TrainConfig, object, FreezeReport]:
    """Dropout, the frozen lower layers and, with ``--method lora``, the adapters. The config comes
    back with the freeze depth resolved (its default depends on the model's depth)."""
    if config.attention_dropout is not None:
        set_attention_dropout(model, config.attention_dropout)
    if config.freeze_layers is None:
        depth = len(find_layers(model)[1])
        config = dataclasses.replace(config, freeze_layers=default_freeze_layers(depth, config.method))
    freeze_report = freeze_lower_layers(model, config.freeze_layers)
    if config.method == "lora":
        model, freeze_report = apply_lora(
            model, config.freeze_layers, config.lora_r, config.lora_alpha, config.lora_dropout
        )
    return config, model, freeze_report


def build_trainer(config: TrainConfig, args, model, tokenizer, encoder: Encoder, splits: Splits):
    """A ``Trainer`` over the encoded splits, with the time estimate, the NaN guard, optional early
    stopping and a ``compute_metrics`` that remembers the last evaluation's logits."""
    from transformers import DataCollatorWithPadding, EarlyStoppingCallback, Trainer

    train_set = encode_frame(encoder, splits.train)
    callbacks = training_callbacks(timed_steps(len(train_set), config.batch_size))
    if config.early_stopping_patience:
        callbacks.append(EarlyStoppingCallback(config.early_stopping_patience))
    evaluations = RememberEvaluation()
    trainer = Trainer(
        model=model,
        args=args,
        train_dataset=train_set,
        eval_dataset=encode_frame(encoder, splits.validation),
        # Multiples of 8 tokens let fp16/bf16 matmuls use the GPU's tensor cores.
        data_collator=DataCollatorWithPadding(
            tokenizer, pad_to_multiple_of=8 if config.device == "cuda" else None
        ),
        compute_metrics=evaluations,
        callbacks=callbacks,
    )
    evaluations.trainer = trainer
    return trainer, evaluations


def fit(trainer, config: TrainConfig, splits: Splits, resume_from) -> dict:
    """Train (from ``resume_from`` when resuming); LoRA adapters are merged afterwards, so what is
    calibrated and saved is one plain transformers model."""
    # Read before training: the Trainer may rotate the checkpoint away as it saves newer ones.
    resumed_from_step = checkpoint_step(resume_from) if resume_from else None
    output = trainer.train(resume_from_checkpoint=resume_from)
    if not math.isfinite(output.training_loss):
        raise TrainingDivergedError("The training loss is not finite; nothing was saved.")
    if config.method == "lora":
        trainer.model = merge_lora(trainer.model)
    return {
        "train_samples": len(splits.train),
        # After --resume, the runtime, samples/s and loss below cover only the steps after this one.
        "resumed_from_step": resumed_from_step,
        "train_runtime_s": output.metrics["train_runtime"],
        "train_samples_per_second": output.metrics["train_samples_per_second"],
        "train_loss": output.training_loss,
        "epochs": config.epochs,
    }


def score_and_calibrate(
    trainer, config: TrainConfig, encoder: Encoder, splits: Splits, evaluations, precision: Precision
) -> dict:
    """Validation metrics (after calibration, fitted on the validation split), the test split's once,
    and what calibration did. Epoch-end logits computed under autocast are not reused."""
    remembered = evaluations.for_kept_model(trainer) if precision.dtype == "fp32" else None
    labels, logits = predict_split(trainer, trainer.eval_dataset, remembered)
    calibration = None
    if config.calibrate:
        logits, calibration = calibrate(trainer, labels, logits)
    test = None
    if splits.test is not None:
        test_labels, test_logits = predict_split(trainer, encode_frame(encoder, splits.test))
        test = classification_metrics(test_labels, softmax_positive(test_logits))
    return {
        "validation": classification_metrics(labels, softmax_positive(logits)),
        "test": test,
        "calibration": calibration,
    }


def score_pairs(trainer, encoder: Encoder, splits: Splits) -> dict:
    """Pair consistency on the bundled CAD dev pairs the model never saw, scored (like validation)
    after calibration, and which counterfactual pairs training added."""
    pairs, skipped = dev_pairs(splits)
    data = {"data": "CAD dev (bundled)", "pairs_skipped_as_seen": skipped}
    if pairs.empty:  # the training data was the dev pairs themselves: nothing unseen to score
        data["not_scored"] = f"all {skipped:,} pairs were in the training or validation data"
        if trainer.is_world_process_zero():
            print(f"No counterfactual pair metrics: {data['not_scored']}.")
        return {"pairs": data, "counterfactuals": splits.counterfactuals}
    logits = predict_in_order(trainer, encode_frame(encoder, pairs))  # predict() would reorder them
    figures = pair_metrics(pairs, softmax_positive(logits))
    return {"pairs": {**figures, **data}, "counterfactuals": splits.counterfactuals}


def save(trainer, tokenizer, config: TrainConfig, metrics: dict, output_dir: Path) -> None:
    """Write the model folder atomically (weights, tokenizer, config, metrics, plots, card), then
    drop the checkpoints, which only a failed run needs."""
    with atomic_directory(output_dir) as staging:
        trainer.model.save_pretrained(staging)
        save_tokenizer(tokenizer, staging, config.max_length, config.truncation)
        config.save(staging)
        write_json(staging / "metrics.json", metrics)
        plot_training_curves(trainer.state.log_history, staging / "training_curves.png")
        split = "test" if metrics["test"] else "validation"
        plot_confusion_matrix(metrics[split]["confusion_matrix"], staging / "confusion_matrix.png", split)
        (staging / "README.md").write_text(model_card(config.to_dict(), metrics), encoding="utf-8")
        if (config.checkpoint_path() / "runs").is_dir():  # --report-to tensorboard's event files
            shutil.copytree(config.checkpoint_path() / "runs", staging / "runs")
        exported = export_after_training(staging) if config.export else None  # before the rename
    shutil.rmtree(config.checkpoint_path(), ignore_errors=True)
    print(f"Saved the model to {output_dir}: validation accuracy {metrics['validation']['accuracy']:.4f}")
    if exported:
        print(exported)  # "Exported onnx, ... in 95 s; auto serves onnx-int8: ..."


def _model_metrics(config: TrainConfig, report: FreezeReport) -> dict:
    return {"method": config.method, **vars(report), "trainable_percent": report.trainable_percent}
