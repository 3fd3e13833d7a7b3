"""``accelerate launch`` with 2 CPU processes (gloo): training and batch scoring match one process.

Each launch test starts two real processes through ``python -m accelerate.commands.launch``, so
they take tens of seconds. ``--multi_gpu`` with no visible GPU is how accelerate 1.x starts
several CPU processes (torchrun underneath, gloo backend): ``--cpu --num_processes 2`` silently
starts one process unless an MPI hostfile is given (accelerate issue #2741). The tests check the
process count in the output so that trap cannot pass unnoticed.

    .venv/bin/python -m pytest tests/scale/test_distributed.py -x -q
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from imdb_sentiment import Classifier, TrainConfig, UserError
from imdb_sentiment.data import load_splits
from imdb_sentiment.evaluation.metrics import classification_metrics
from imdb_sentiment.scale.distributed import (
    is_distributed,
    leave_process_group,
    shard_bounds,
)
from imdb_sentiment.serving.batch import OUTPUT_FORMATS, check_output_file, read_reviews, score_texts
from imdb_sentiment.training.arguments import training_arguments

from helpers import NEGATIVE_MARKERS, POSITIVE_MARKERS, launch, make_reviews, recipe_arguments


@pytest.mark.parametrize("processes", [1, 2, 3, 4, 7])
def test_shards_cover_every_row_once_in_order(processes):
    for n_rows in [0, 1, 2, 5, 10, 999, 1000]:
        bounds = [shard_bounds(n_rows, rank, processes) for rank in range(processes)]
        rows = [i for start, stop in bounds for i in range(start, stop)]
        assert rows == list(range(n_rows))
        sizes = [stop - start for start, stop in bounds]
        assert max(sizes) - min(sizes) <= 1


def test_world_size_comes_from_the_launcher(monkeypatch):
    monkeypatch.delenv("WORLD_SIZE", raising=False)
    assert not is_distributed()
    monkeypatch.setenv("WORLD_SIZE", "2")
    assert is_distributed()


def test_bad_output_name_fails_before_scoring():
    check_output_file(None, OUTPUT_FORMATS)  # what predict checks on every launched process
    check_output_file("out.parquet", OUTPUT_FORMATS)
    with pytest.raises(UserError, match="must end in"):
        check_output_file("out.xlsx", OUTPUT_FORMATS)


def test_the_process_group_is_closed_before_exit(tmp_path):
    import torch.distributed as dist

    dist.init_process_group("gloo", init_method=f"file://{tmp_path / 'store'}", rank=0, world_size=1)
    assert dist.is_initialized()
    leave_process_group(finished=False)  # after an error another process may be in a collective
    assert dist.is_initialized()
    leave_process_group()
    assert not dist.is_initialized()
    leave_process_group()  # and again, as cli.main does after every command: nothing to close


def test_training_arguments_do_not_scale_the_loss_by_process_count(tmp_path):
    # The classifier loss is a per-batch mean; the Trainer's token-count averaging would multiply
    # it by the number of processes (seen as a logged loss of 1.39 = 2 x ln 2 at the start).
    from imdb_sentiment import resolve_config

    args = training_arguments(resolve_config(TrainConfig(output_dir=str(tmp_path / "m"), device="cpu")))
    assert args.average_tokens_across_devices is False
    assert args.ddp_find_unused_parameters is False


# --- two real processes ---------------------------------------------------------------------------


def test_two_process_training_matches_one_process(tmp_path, tiny_distilbert, reviews_parquet, trained_model):
    """Same data, seed and global batch (2 x 8 vs the fixture's 1 x 16): one saved_model/, written
    once, loadable, with the metrics of the single-process run within tolerance."""
    output = tmp_path / "runs" / "saved_model"
    arguments = ["--model", str(tiny_distilbert), "--data", str(reviews_parquet), "--output_dir", str(output)]
    result = launch(["train", *arguments, *recipe_arguments(batch_size=8)], cwd=tmp_path)

    assert "2 processes (global batch 16)" in result.stdout  # really two processes
    assert result.stdout.count("Training on ") == 1 and result.stdout.count("Saved the model") == 1
    # Written once, atomically: no staging or backup folder, no checkpoints left behind.
    assert sorted(p.name for p in output.parent.iterdir()) == ["saved_model"]
    distributed = json.loads((output / "metrics.json").read_text())
    single = trained_model.metrics
    for split in ("validation",):
        assert distributed[split]["n"] == single[split]["n"] == 100  # every review scored once
        assert sum(map(sum, distributed[split]["confusion_matrix"])) == 100
        assert distributed[split]["accuracy"] >= 0.9  # it learned
        for name in ("accuracy", "f1", "roc_auc"):
            assert distributed[split][name] == pytest.approx(single[split][name], abs=0.05), name
    # A loss scaled by the process count would sit near twice the single-process one.
    assert distributed["train"]["train_loss"] == pytest.approx(single["train"]["train_loss"], abs=0.2)

    # Loadable, and the gathered evaluation equals scoring the validation split in one process.
    classifier = Classifier.from_pretrained(output, device="cpu")
    labels = [p.label for p in classifier.predict([POSITIVE_MARKERS[0], NEGATIVE_MARKERS[0]])]
    assert labels == ["POSITIVE", "NEGATIVE"]
    validation = load_splits(TrainConfig.load(output)).validation
    positive = [p.scores["POSITIVE"] for p in classifier.predict(validation["text"].tolist())]
    rescored = classification_metrics(validation["label"].to_numpy(), positive)
    assert rescored["n"] == distributed["validation"]["n"]
    assert rescored["accuracy"] == distributed["validation"]["accuracy"]
    assert rescored["roc_auc"] == pytest.approx(distributed["validation"]["roc_auc"], abs=1e-6)


def test_two_process_scoring_returns_every_row_once_in_input_order(tmp_path, trained_model_dir):
    reviews = make_reviews(1000, seed=7)
    reviews.loc[3, "text"] = None  # rows without text keep their place, with an error
    reviews.loc[500, "text"] = "   "
    source = tmp_path / "big.parquet"
    reviews.to_parquet(source)
    output = tmp_path / "out.parquet"
    result = launch(
        ["predict", "--model-dir", str(trained_model_dir), "--file", str(source), "--output", str(output)],
        cwd=tmp_path,
    )
    assert "Scored 1,000 reviews on 2 processes." in result.stderr

    scored = pd.read_parquet(output)
    expected = score_texts(Classifier.from_pretrained(trained_model_dir, device="cpu"), read_reviews(source))
    assert len(scored) == 1000
    assert scored["index"].tolist() == list(range(1000))
    assert list(scored.columns) == list(expected.columns)
    assert scored["label"].equals(expected["label"])
    assert scored["error"].equals(expected["error"])
    assert scored["error"].notna().sum() == 2
    # Probabilities agree to float rounding: each process batches its own slice, so padding widths
    # (and the order of float sums) differ from the single-process batches.
    for column in ("score", "NEGATIVE", "POSITIVE"):
        np.testing.assert_allclose(
            scored[column].astype(float), expected[column].astype(float), atol=1e-6, equal_nan=True
        )
