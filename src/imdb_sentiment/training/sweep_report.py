"""The sweep's results: the table it prints, and sweep.json, sweep.csv and sweep.png (accuracy
against training time, one labelled point per setting). Used by ``sweep.py``:

    write_results(rows, Path("sweep")); print(format_table(rows))
"""

from __future__ import annotations

import csv
import json
from collections.abc import Sequence
from pathlib import Path

from ..evaluation.report import markdown_table

COLUMNS = (
    "setting",
    "learning_rate",
    "trainable_parameters",
    "trainable_percent",
    "train_runtime_s",
    "train_samples_per_second",
    "peak_memory_mb",
    "peak_rss_mb",
    "validation_accuracy",
    "validation_interval",
    "validation_n",
    "short_accuracy",
    "short_interval",
    "short_n",
    "error",
)


# How each column prints in the table (None: as it is).
FORMATS = {
    "learning_rate": "{:g}",
    "trainable_parameters": "{:,}",
    "trainable_percent": "{:.2f}",
    "train_runtime_s": "{:.0f}",
    "train_samples_per_second": "{:.2f}",
    "peak_memory_mb": "{:,.0f}",
    "peak_rss_mb": "{:,.0f}",
    "validation_accuracy": "{:.4f}",
    "validation_interval": "{:.4f}",
    "short_accuracy": "{:.4f}",
    "short_interval": "{:.4f}",
}


def format_table(rows: Sequence[dict]) -> str:
    """A Markdown table of the rows (the columns that any row has)."""
    columns = [c for c in COLUMNS if any(row.get(c) is not None for row in rows)]
    return markdown_table(rows, columns, FORMATS)


def write_results(rows: Sequence[dict], output_dir: Path) -> None:
    (output_dir / "sweep.json").write_text(json.dumps(list(rows), indent=2) + "\n", encoding="utf-8")
    fields = list(dict.fromkeys(key for row in rows for key in row))
    with open(output_dir / "sweep.csv", "w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=fields)
        writer.writeheader()
        writer.writerows(rows)
    plot_sweep(rows, output_dir / "sweep.png")


def plot_sweep(rows: Sequence[dict], path: Path) -> None:
    """Validation accuracy (with its interval) against training time, one labelled point a setting."""
    from .plots import pyplot

    plt = pyplot()
    done = [row for row in rows if not row.get("error")]
    figure, axes = plt.subplots(figsize=(7, 4.5))
    times = [row["train_runtime_s"] for row in done]
    close = 0.15 * ((max(times) - min(times)) if times else 0) or 1e-9  # about a label's width
    previous_time, below = None, False
    for row in sorted(done, key=lambda row: row["train_runtime_s"]):
        # Labels of points close in time would print over each other: alternate above and below.
        near = previous_time is not None and row["train_runtime_s"] - previous_time < close
        below = near and not below
        previous_time = row["train_runtime_s"]
        marker = "s" if row["method"] == "lora" else "o"
        axes.errorbar(
            row["train_runtime_s"],
            row["validation_accuracy"],
            yerr=row["validation_interval"],
            fmt=marker,
            color="tab:blue",
            capsize=3,
        )
        axes.annotate(
            f"{row['setting']} ({row['trainable_percent']:.1f}%)",
            (row["train_runtime_s"], row["validation_accuracy"]),
            textcoords="offset points",
            xytext=(6, -12 if below else 4),
            fontsize=8,
        )
        if row.get("short_accuracy") is not None:
            axes.plot(
                row["train_runtime_s"], row["short_accuracy"], marker, color="tab:orange", fillstyle="none"
            )
    if any(row.get("short_accuracy") is not None for row in done):
        axes.plot([], [], "o", color="tab:blue", label="validation (+-2 s.e.)")
        axes.plot([], [], "o", color="tab:orange", fillstyle="none", label="short texts")
        axes.legend(loc="lower right", fontsize=8)
    axes.set_xlabel("training time (s)")
    axes.set_ylabel("accuracy")
    axes.set_title("Accuracy against training time (label: setting, trainable %)", fontsize=10)
    axes.grid(alpha=0.3)
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)
