"""Pair consistency (evaluation/pairs.py) on hand-computed cases, and ``evaluate`` on a file of pairs."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from imdb_sentiment.cli import main
from imdb_sentiment.evaluation.pairs import pair_metrics, proportion

from helpers import NEGATIVE_MARKERS, POSITIVE_MARKERS


def test_three_figures_on_a_hand_computed_case():
    # Four pairs. Originals: 4 of 4 right. Edits: pair 1 and 3 right, 2 and 4 wrong -> 2 of 4.
    # Both right: pairs 1 and 3 -> 2 of 4.
    frame = pd.DataFrame(
        {
            "pair_id": [1, 1, 2, 2, 3, 3, 4, 4],
            "version": ["original", "revised"] * 4,
            "label": [1, 0, 0, 1, 1, 0, 0, 1],
        }
    )
    positive = [0.9, 0.2, 0.1, 0.3, 0.8, 0.4, 0.2, 0.49]
    metrics = pair_metrics(frame, positive)
    assert metrics["original"]["accuracy"] == 1.0 and metrics["original"]["n"] == 4
    assert metrics["edited"]["accuracy"] == 0.5 and metrics["edited"]["n"] == 4
    assert metrics["both"]["accuracy"] == 0.5 and metrics["both"]["n"] == 4


def test_both_right_needs_both_sides_and_the_version_column_decides_which_is_the_original():
    # The edit comes first in the file; pair 2's original is wrong, its edit right: not both.
    frame = pd.DataFrame(
        {
            "pair_id": ["a", "a", "b", "b", "c"],  # c has one row: no pair to be right on
            "version": ["revised", "original", "revised", "original", "original"],
            "label": [0, 1, 1, 0, 1],
        }
    )
    metrics = pair_metrics(frame, [0.1, 0.9, 0.7, 0.6, 0.8])
    assert metrics["original"]["accuracy"] == pytest.approx(2 / 3) and metrics["original"]["n"] == 3
    assert metrics["edited"]["accuracy"] == 1.0 and metrics["edited"]["n"] == 2
    assert metrics["both"]["accuracy"] == 0.5 and metrics["both"]["n"] == 2


def test_without_a_version_column_the_first_row_of_each_pair_is_the_original():
    frame = pd.DataFrame({"pair_id": [7, 8, 7, 8], "label": [1, 0, 0, 1]})
    metrics = pair_metrics(frame, [0.9, 0.9, 0.9, 0.9])  # always positive
    assert metrics["original"]["accuracy"] == 0.5  # rows 0 (right) and 1 (wrong)
    assert metrics["edited"]["accuracy"] == 0.5  # rows 2 (wrong) and 3 (right)
    assert metrics["both"]["accuracy"] == 0.0


def test_interval_is_wilsons():
    # Wilson 95% for 8 of 10: 0.4902 to 0.9433 (z = 1.96), the textbook value.
    m = proportion(8, 10)
    assert m["accuracy"] == 0.8 and m["low"] == pytest.approx(0.4902, abs=1e-4)
    assert m["high"] == pytest.approx(0.9433, abs=1e-4)
    assert proportion(0, 0)["accuracy"] is None


def test_evaluate_prints_the_pair_figures_for_a_file_with_pair_id(trained_model_dir, tmp_path, capsys):
    rows = []
    for i in range(12):
        good, bad = POSITIVE_MARKERS[i % 5], NEGATIVE_MARKERS[i % 5]
        rows.append((f"the film was {good} and the cast {good} .", 1, i, "original"))
        rows.append((f"the film was {bad} and the cast {bad} .", 0, i, "revised"))
    data = tmp_path / "pairs.csv"
    pd.DataFrame(rows, columns=["text", "label", "pair_id", "version"]).to_csv(data, index=False)
    assert main(["evaluate", "--model-dir", str(trained_model_dir), "--data", str(data)]) == 0
    captured = capsys.readouterr()
    pairs = json.loads(captured.out)["pairs"]
    assert pairs["original"]["n"] == 12 and pairs["edited"]["n"] == 12 and pairs["both"]["n"] == 12
    assert pairs["both"]["accuracy"] >= 0.7  # learnt the markers (chance: 0.25; 0.83 to 1.0 across CPU kinds)
    assert pairs["both"]["low"] <= pairs["both"]["accuracy"] <= pairs["both"]["high"]
    assert "Counterfactual pairs: originals" in captured.err and "pairs right on both sides" in captured.err
