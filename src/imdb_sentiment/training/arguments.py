"""The ``TrainingArguments`` the recipe trains with, and the recipe line printed before training.

args = training_arguments(config, precision)
print(describe_recipe(config, splits, freeze_report, precision, args.world_size))
"""

from __future__ import annotations

from ..config import TrainConfig
from ..data import Splits
from ..model import FreezeReport
from ..precision import Precision, choose_precision


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
        # TensorBoard writes to <output_dir>/runs/<date_host> (transformers 5 has no logging_dir;
        # TENSORBOARD_LOGGING_DIR would override it): the checkpoint folder, which train.py's save
        # step copies into the model folder as runs/.
        report_to=config.report_to,
        # Several processes (accelerate launch): the classifier's loss is already a mean over its
        # batch and DDP averages the gradients; the token-count re-scaling meant for LM losses
        # would multiply the loss (and the logged loss) by the number of processes.
        average_tokens_across_devices=False,
        # Frozen parameters have requires_grad=False and are not in DDP's buckets, so no trainable
        # parameter goes unused: skip the extra autograd-graph walk every step.
        ddp_find_unused_parameters=False,
    )


def describe_recipe(
    config: TrainConfig, splits: Splits, report: FreezeReport, precision: Precision, processes: int = 1
) -> str:
    where = precision.describe()
    if config.device != "cuda":
        where += ", no GPU found: CPU-sized recipe"
    if processes > 1:  # data parallel: each process takes batch_size reviews a step
        where += f", {processes} processes (global batch {config.batch_size * processes})"
    return (
        f"Training on {where}: {len(splits.train):,} train / {len(splits.validation):,} validation"
        f"{f' / {len(splits.test):,} test' if splits.test is not None else ''} reviews"
        f"{_counterfactual_note(getattr(splits, 'counterfactuals', None))}, "
        f"max_length {config.max_length} ({config.truncation}), {config.epochs:g} epoch(s), "
        f"batch {config.batch_size}, lr {config.learning_rate:g}.\n{report}"
    )


def _counterfactual_note(report: dict | None) -> str:
    if not report:
        return " (no counterfactual pairs)"
    dropped = f", {report['pairs_dropped']:,} dropped (in test)" if report["pairs_dropped"] else ""
    return (
        f" (counterfactual pairs added: {report['pairs_train']:,} to train, "
        f"{report['pairs_validation']:,} to validation{dropped})"
    )
