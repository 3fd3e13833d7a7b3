"""The plots saved with a model: training curves and the confusion matrix (matplotlib, files only).

plot_training_curves(trainer.state.log_history, "training_curves.png")
plot_confusion_matrix(metrics["test"]["confusion_matrix"], "confusion_matrix.png", "test")
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from ..data import LABEL_NAMES


def pyplot():
    import matplotlib

    matplotlib.use("Agg")  # files only; never needs a display
    import matplotlib.pyplot as plt

    return plt


def plot_confusion_matrix(matrix: Sequence[Sequence[int]], path: str | Path, title: str = "") -> None:
    plt = pyplot()
    matrix = np.asarray(matrix)
    fig, ax = plt.subplots(figsize=(4.2, 3.8))
    ax.imshow(matrix, cmap="Blues")
    for (row, col), count in np.ndenumerate(matrix):
        color = "white" if count > matrix.max() / 2 else "black"
        ax.text(col, row, f"{count:,}", ha="center", va="center", color=color)
    ax.set_xticks([0, 1], LABEL_NAMES)
    ax.set_yticks([0, 1], LABEL_NAMES)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title(title or "Confusion matrix")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def plot_training_curves(log_history: list[dict], path: str | Path) -> None:
    """Training loss per logged step and validation loss / accuracy per evaluation."""
    plt = pyplot()
    train = [(e["step"], e["loss"]) for e in log_history if "loss" in e and "step" in e]
    evals = [e for e in log_history if "eval_accuracy" in e]
    fig, (loss_ax, acc_ax) = plt.subplots(1, 2, figsize=(9, 3.6))
    if train:
        loss_ax.plot(*zip(*train), label="train loss")
    if evals:
        steps = [e["step"] for e in evals]
        loss_ax.plot(steps, [e["eval_loss"] for e in evals], "o-", label="validation loss")
        acc_ax.plot(steps, [e["eval_accuracy"] for e in evals], "o-", color="tab:green")
    loss_ax.set_xlabel("step")
    loss_ax.set_title("Loss")
    loss_ax.legend()
    acc_ax.set_xlabel("step")
    acc_ax.set_title("Validation accuracy")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
