"""--report-to: the Trainer's logs go where people look. TensorBoard's event files end up in the
saved model's runs/, readable by TensorBoard's own reader; a backend that is not installed is a
one-line error before any data loads.

.venv/bin/python -m pytest tests/training/test_report_to.py -q
"""

from __future__ import annotations

import importlib.util

import pytest

from imdb_sentiment import TrainConfig, UserError, train
from imdb_sentiment.cli import main
from imdb_sentiment.config import validate_config

from conftest import tiny_config


@pytest.mark.slow
def test_tensorboard_event_files_land_in_the_model_folder_with_loss_and_validation_accuracy(
    tiny_distilbert, reviews_parquet, tmp_path
):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    config = tiny_config(
        tiny_distilbert,
        reviews_parquet,
        tmp_path / "model",
        report_to="tensorboard",
        epochs=2,
        max_train_samples=300,
    )
    result = train(config)
    runs = [path.parent for path in (result.output_dir / "runs").rglob("events.out.tfevents.*")]
    assert len(runs) == 1
    events = EventAccumulator(str(runs[0]))
    events.Reload()
    scalars = events.Tags()["scalars"]
    assert "train/loss" in scalars and "eval/accuracy" in scalars
    assert len(events.Scalars("eval/accuracy")) == 2  # one per epoch
    assert not config.checkpoint_path().exists()  # copied out of the checkpoints, which are gone


def test_report_to_passes_through_to_the_training_arguments(tmp_path):
    from imdb_sentiment.training.arguments import training_arguments

    config = TrainConfig(
        output_dir=str(tmp_path / "m"),
        device="cpu",
        epochs=1,
        learning_rate=1e-3,
        batch_size=2,
        num_workers=0,
    )
    assert training_arguments(config).report_to == []
    config.report_to = "tensorboard"
    assert training_arguments(config).report_to == ["tensorboard"]


def test_a_backend_that_is_not_installed_is_one_line_before_any_data_loads(monkeypatch, capsys, tmp_path):
    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name == "wandb" else real(name, *a)
    )
    with pytest.raises(UserError, match="report_to wandb needs its package: pip install wandb"):
        validate_config(TrainConfig(report_to="wandb"))
    with pytest.raises(UserError, match="report_to must be one of none, tensorboard"):
        validate_config(TrainConfig(report_to="comet"))
    with pytest.raises(UserError, match="push_to_hub must be a Hub repo id"):
        validate_config(TrainConfig(push_to_hub="no-owner"))
    data = tmp_path / "reviews.csv"  # never read: the error comes first
    model = tmp_path / "model"
    argv = [
        "train",
        "--report-to",
        "wandb",
        "--data",
        str(data),
        "--model",
        str(model),
        "--output-dir",
        str(tmp_path / "o"),
    ]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert (
        err.startswith("error: Invalid training config: report_to wandb")
        and len(err.strip().splitlines()) == 1
    )
