"""The sweep command: one row per setting, a failing setting reported while the others run, no model
left alive between runs; and the depth-relative freeze_layers default."""

from __future__ import annotations

import csv
import gc
import json

import pytest

from imdb_sentiment import TrainConfig, UserError, train
from imdb_sentiment.cli.training import run_sweep
from imdb_sentiment.model import default_freeze_layers
from imdb_sentiment.training.sweep import parse_freeze_layers

from conftest import tiny_config
from helpers import make_reviews, save_tiny_model


def _live_models() -> int:
    from transformers import PreTrainedModel

    gc.collect()
    return sum(1 for obj in gc.get_objects() if isinstance(obj, PreTrainedModel))


def test_sweep_writes_one_row_per_setting_and_reports_a_failure(tmp_path, tiny_distilbert, reviews_parquet):
    short = tmp_path / "short.csv"
    make_reviews(40, seed=7, max_words=10).to_csv(short, index=False)
    out = tmp_path / "sweep"
    before = _live_models()
    argv = ["--model", str(tiny_distilbert), "--data", str(reviews_parquet), "--output-dir", str(out)]
    argv += ["--freeze-layers", "0,1,2,3", "--lora", "--short-data", str(short)]
    argv += ["--max-length", "64", "--epochs", "1", "--batch-size", "16", "--max-train-samples", "200"]
    assert run_sweep(argv) == 0
    assert _live_models() == before  # every run's model was freed

    rows = json.loads((out / "sweep.json").read_text())
    assert [row["setting"] for row in rows] == ["freeze 0", "freeze 1", "freeze 2", "freeze 3", "lora r=8"]
    assert "freeze_layers=3 is out of range" in rows[3]["error"]
    done = [row for row in rows if not row.get("error")]
    assert len(done) == 4
    percents = [row["trainable_percent"] for row in done[:3]]
    assert percents[0] > percents[1] > percents[2] > 0
    for row in done:
        assert row["train_runtime_s"] > 0 and row["train_samples_per_second"] > 0
        assert 0 <= row["validation_accuracy"] <= 1 and row["validation_n"] == 100
        assert row["short_n"] == 40 and 0 <= row["short_accuracy"] <= 1
        assert row["peak_memory_mb"] is None or row["peak_memory_mb"] >= 0
    with open(out / "sweep.csv", newline="") as handle:
        assert len(list(csv.DictReader(handle))) == 5
    assert (out / "sweep.png").stat().st_size > 1000
    assert not (out / "models").exists()  # without --keep-models every run's model is removed


def test_bad_freeze_list_is_a_clear_error():
    with pytest.raises(UserError, match="comma-separated whole numbers"):
        parse_freeze_layers("two,three")


def test_default_freeze_layers_is_half_the_depth():
    assert [default_freeze_layers(n) for n in (2, 6, 12, 24)] == [1, 3, 6, 12]
    assert default_freeze_layers(12, "lora") == 0


def test_the_resolved_default_is_trained_and_saved(tmp_path, reviews_parquet):
    layers = 2  # other depths: test_default_freeze_layers_is_half_the_depth
    model = save_tiny_model(tmp_path / "model", "bert", layers=layers)
    config = tiny_config(model, reviews_parquet, tmp_path / "out", freeze_layers=None, epochs=1)
    config = TrainConfig(**{**config.to_dict(), "max_train_samples": 64, "calibrate": False})
    result = train(config)
    assert result.metrics["model"]["frozen_layers"] == layers // 2
    assert result.metrics["model"]["total_layers"] == layers
    assert TrainConfig.load(result.output_dir).freeze_layers == layers // 2  # the resolved number
