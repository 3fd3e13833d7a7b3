"""Scoring during training: the token-id datasets the Trainer reads, the validation logits (reused
from the last epoch-end evaluation when it scored the kept model), and calibration folded into the
model.

    labels, logits = predict_split(trainer, validation_set, evaluations.for_kept_model(trainer))
    logits, calibration = calibrate(trainer, labels, logits)
"""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd

from ..evaluation.metrics import trainer_metrics
from ..text import Encoder
from .calibrate import fit_calibration, fold_into_output_layer

logger = logging.getLogger(__name__)


def encode_frame(encoder: Encoder, frame: pd.DataFrame):
    """A ``datasets.Dataset`` of token ids, lengths (for length grouping) and labels."""
    import datasets

    encoded = encoder(frame["text"].tolist())
    encoded["length"] = [len(ids) for ids in encoded["input_ids"]]
    encoded["labels"] = frame["label"].tolist()
    return datasets.Dataset.from_dict(encoded)


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


def predict_split(trainer, dataset, remembered=None) -> tuple[np.ndarray, np.ndarray]:
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


def predict_in_order(trainer, dataset) -> np.ndarray:
    """Logits for ``dataset``'s rows in the dataset's own order, scored by ``trainer.model`` as it is
    (every process scores every row). ``Trainer.predict`` cannot give that: with length-grouped
    batches it shuffles the evaluation rows too, which is harmless where the labels come back beside
    the logits but not where each row must line up with a table's (the counterfactual pairs)."""
    import torch

    model = trainer.model.eval()
    device = next(model.parameters()).device
    rows = dataset.remove_columns([c for c in ("length", "labels") if c in dataset.column_names])
    order = np.argsort(dataset["length"], kind="stable")  # similar lengths together: less padding
    size = trainer.args.per_device_eval_batch_size
    logits = np.zeros((len(rows), model.config.num_labels), dtype=np.float32)
    with torch.inference_mode():
        for start in range(0, len(order), size):
            chunk = order[start : start + size]
            batch = trainer.data_collator([rows[int(i)] for i in chunk])
            output = model(**{k: v.to(device) for k, v in batch.items()})
            logits[chunk] = output.logits.float().cpu().numpy()
    return logits


def calibrate(trainer, labels, logits) -> tuple[np.ndarray, dict | None]:
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
