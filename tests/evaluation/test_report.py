"""report: the one Markdown-table writer the sweep and the benchmarks print with."""

from __future__ import annotations

import math

import pytest

from imdb_sentiment.evaluation.report import markdown_table


def test_dict_rows_print_their_keys_in_order_with_a_rule_under_the_header():
    rows = [{"engine": "torch", "reviews/s": 41.237}, {"engine": "onnx", "reviews/s": 95.0}]
    assert markdown_table(rows) == ("| engine | reviews/s |\n|---|---|\n| torch | 41.237 |\n| onnx | 95.0 |")


def test_columns_pick_and_order_the_keys_and_absent_keys_are_missing_cells():
    rows = [{"a": 1, "b": 2, "c": 3}, {"a": 4}]
    assert markdown_table(rows, ["c", "a"]) == "| c | a |\n|---|---|\n| 3 | 1 |\n|  | 4 |"
    # Without columns, every key any row has, in the order the rows first have it.
    assert markdown_table([{"a": 1}, {"b": 2, "a": 3}]).splitlines()[0] == "| a | b |"


def test_sequence_rows_follow_the_columns():
    table = markdown_table([("not bad", 16, 4), ("never boring", 0, 0)], ["phrase", "reviews", "positive"])
    assert table.splitlines() == [
        "| phrase | reviews | positive |",
        "|---|---|---|",
        "| not bad | 16 | 4 |",
        "| never boring | 0 | 0 |",
    ]


def test_formats_by_column_then_float_format_then_str():
    rows = [{"n": 12000, "share": 0.254, "rate": 3.14159, "name": "x", "ok": True}]
    table = markdown_table(rows, formats={"n": "{:,}", "share": lambda v: f"{v:.0%}"}, float_format="{:.2f}")
    assert table.splitlines()[-1] == "| 12,000 | 25% | 3.14 | x | True |"


def test_none_and_nan_print_as_the_missing_marker():
    rows = [{"a": None, "b": math.nan, "c": 0.0}]
    assert markdown_table(rows).splitlines()[-1] == "|  |  | 0.0 |"
    assert markdown_table(rows, missing="-", float_format="{:.3f}").splitlines()[-1] == "| - | - | 0.000 |"


def test_a_pipe_or_line_break_in_a_cell_keeps_the_row_one_row():
    table = markdown_table([{"error": "a | b\nTraceback"}])
    assert table.splitlines()[-1] == "| a \\| b Traceback |"


def test_no_rows_is_the_header_alone():
    assert markdown_table([], ["a", "b"]) == "| a | b |\n|---|---|"


def test_mistakes_are_errors_not_shifted_tables():
    with pytest.raises(ValueError, match="2 cells for 3 columns"):
        markdown_table([(1, 2)], ["a", "b", "c"])
    with pytest.raises(ValueError, match="needs columns"):
        markdown_table([(1, 2)])


def test_the_sweep_table_prints_as_before():
    from imdb_sentiment.training.sweep_report import format_table

    rows = [
        {
            "setting": "freeze 3",
            "learning_rate": 2e-4,
            "trainable_parameters": 5_434_882,
            "peak_rss_mb": None,
        },
        {"setting": "lora r=8", "learning_rate": 1e-3, "trainable_parameters": 74_498, "error": "OOM"},
    ]
    assert format_table(rows).splitlines() == [
        "| setting | learning_rate | trainable_parameters | error |",
        "|---|---|---|---|",
        "| freeze 3 | 0.0002 | 5,434,882 |  |",
        "| lora r=8 | 0.001 | 74,498 | OOM |",
    ]
