"""End-to-end training on a learnable generated task: it learns, freezes, saves, gives the same
model for the same seed, and fails cleanly."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest
from safetensors.numpy import load_file

from imdb_sentiment import Classifier, TrainConfig, UserError, resolve_config, train
from imdb_sentiment.errors import HubUnreachableError
from imdb_sentiment.model import load_model

from conftest import tiny_config
from helpers import make_reviews


def test_training_learns_the_task(trained_model):
    validation = trained_model.metrics["validation"]
    assert validation["accuracy"] >= 0.9
    assert validation["roc_auc"] >= 0.9
    assert validation["n"] == 100  # 10% of 1,000 reviews, every one scored once
    assert sum(map(sum, validation["confusion_matrix"])) == 100


def rescored_validation(output_dir) -> dict:
    """The validation metrics of the saved model, scored again from scratch by Classifier."""
    from imdb_sentiment import load_splits
    from imdb_sentiment.evaluation.metrics import classification_metrics

    validation = load_splits(TrainConfig.load(output_dir)).validation
    logits = Classifier.from_pretrained(output_dir, device="cpu").predict_logits(validation["text"].tolist())
    positive = np.exp(logits[:, 1]) / np.exp(logits).sum(axis=1)
    return classification_metrics(validation["label"].to_numpy(), positive)


@pytest.mark.parametrize("epochs", [1, 3])
def test_saved_validation_metrics_are_those_of_the_saved_model(
    tmp_path, tiny_distilbert, reviews_parquet, monkeypatch, epochs
):
    from transformers import Trainer

    scored = []  # the size of every dataset Trainer.predict scores
    original_predict = Trainer.predict
    monkeypatch.setattr(
        Trainer,
        "predict",
        lambda self, data, *a, **k: scored.append(len(data)) or original_predict(self, data, *a, **k),
    )
    # 3 epochs at a learning rate that overshoots: the kept (best) epoch is often not the last one
    overrides = {"epochs": epochs, "learning_rate": 3e-2 if epochs == 3 else 1e-2}
    if epochs == 1:  # the CPU recipe's setting: attention dropout off
        overrides["attention_dropout"] = 0.0
    else:  # both paths: calibrated (1 epoch) and not (3 epochs)
        overrides["calibrate"] = False
    result = train(tiny_config(tiny_distilbert, reviews_parquet, tmp_path / "out", **overrides))
    assert (result.metrics["calibration"] is None) == (epochs == 3)
    saved, again = result.metrics["validation"], rescored_validation(result.output_dir)
    assert saved["n"] == again["n"] == 100
    assert saved["accuracy"] == again["accuracy"]
    assert saved["confusion_matrix"] == again["confusion_matrix"]
    assert saved["roc_auc"] == pytest.approx(again["roc_auc"], abs=1e-6)
    if epochs == 1:  # the epoch-end evaluation scored the kept model: not scored a second time
        assert saved["n"] not in scored  # (the bundled CAD dev pairs are scored once, after it)
        assert saved["accuracy"] >= 0.75  # one epoch with attention dropout off: well above chance
        assert json.loads((result.output_dir / "config.json").read_text())["attention_dropout"] == 0.0


def test_frozen_weights_are_bit_identical_and_top_layers_changed(trained_model_dir, tiny_distilbert):
    before = load_file(str(tiny_distilbert / "model.safetensors"))
    after = load_file(str(trained_model_dir / "model.safetensors"))
    frozen = [
        k for k in before if k.startswith(("distilbert.embeddings.", "distilbert.transformer.layer.0."))
    ]
    trained = [k for k in before if k.startswith("distilbert.transformer.layer.1.")]
    assert frozen and trained
    for key in frozen:
        assert np.array_equal(before[key], after[key]), key
    assert all(not np.array_equal(before[k], after[k]) for k in trained if k.endswith("weight"))
    assert not np.array_equal(before["classifier.weight"], after["classifier.weight"])


def test_saved_directory_is_complete_and_pickle_free(trained_model, trained_model_dir):
    names = {p.name for p in trained_model_dir.iterdir()}
    expected = {
        "model.safetensors",
        "config.json",
        "tokenizer.json",
        "tokenizer_config.json",
        "training_config.json",
        "metrics.json",
        "training_curves.png",
        "confusion_matrix.png",
        "README.md",
    }
    assert expected <= names
    assert not [n for n in names if n.endswith((".bin", ".pt", ".pth", ".pkl", ".ckpt"))]
    metrics = json.loads((trained_model_dir / "metrics.json").read_text())
    assert set(metrics["validation"]) >= {
        "accuracy",
        "precision",
        "recall",
        "f1",
        "roc_auc",
        "confusion_matrix",
    }
    assert metrics["model"]["frozen_layers"] == 1 and 0 < metrics["model"]["trainable_percent"] < 100
    card = (trained_model_dir / "README.md").read_text()
    assert "lowest 1 of 2" in card and f"{metrics['validation']['accuracy']:.4f}" in card
    saved = TrainConfig.load(trained_model_dir)
    assert saved.max_length == 64 and saved.truncation == "head_tail"
    assert saved.device == trained_model.config.device != "auto"  # the device it resolved to and used
    # training checkpoints are removed after a successful save
    assert not trained_model_dir.with_name("saved_model.checkpoints").exists()


def test_round_trip_through_transformers_pipeline(trained_model_dir):
    from transformers import pipeline

    reviews = make_reviews(60, seed=99, max_words=12)
    assert reviews["text"].str.contains("<br />").any()  # the saved tokenizer strips these itself
    classify = pipeline("text-classification", model=str(trained_model_dir), device=-1)
    outputs = classify(reviews["text"].tolist(), truncation=True)
    labels = [o["label"] for o in outputs]
    assert set(labels) <= {"POSITIVE", "NEGATIVE"}
    expected = ["POSITIVE" if y else "NEGATIVE" for y in reviews["label"]]
    assert np.mean([a == b for a, b in zip(labels, expected)]) >= 0.9
    ours = [p.label for p in Classifier.from_pretrained(trained_model_dir).predict(reviews["text"].tolist())]
    assert ours == labels  # short reviews: no truncation, so both paths agree exactly


def test_plain_tokenizer_truncates_to_the_training_window_keeping_the_end(trained_model_dir):
    from transformers import AutoTokenizer

    trained = TrainConfig.load(trained_model_dir)
    assert trained.truncation == "head_tail"  # 1/4 of the window from the start, 3/4 from the end
    tokenizer = AutoTokenizer.from_pretrained(str(trained_model_dir))
    review = "wonderful " + "the film plot superb story awful " * 40 + "dreadful"
    cut = tokenizer(review, truncation=True)["input_ids"]
    assert len(cut) == trained.max_length
    # the tokenizer keeps the end, as head_tail mostly does: the last word survives, the first does not
    assert cut[-2] == tokenizer.convert_tokens_to_ids("dreadful")
    assert tokenizer.convert_tokens_to_ids("wonderful") not in cut
    kept_by_training = Classifier.from_pretrained(trained_model_dir).encode([review])[0]
    assert cut[-40:] == kept_by_training[-40:]


def test_bert_style_encoders_train_and_freeze(tmp_path, tiny_bert, reviews_parquet):
    result = train(tiny_config(tiny_bert, reviews_parquet, tmp_path / "bert_model", epochs=2))
    before = load_file(str(tiny_bert / "model.safetensors"))
    after = load_file(str(result.output_dir / "model.safetensors"))
    assert all(np.array_equal(before[k], after[k]) for k in before if k.startswith("bert.embeddings."))
    assert result.metrics["model"]["total_layers"] == 2


@pytest.mark.slow
def test_same_seed_twice_gives_identical_weights_and_metrics_on_cpu(
    tmp_path, tiny_distilbert, reviews_parquet
):
    runs = [
        train(
            tiny_config(
                tiny_distilbert,
                reviews_parquet,
                tmp_path / f"run{i}",
                epochs=2,
                max_train_samples=320,
                device="cpu",
            )
        )
        for i in range(2)
    ]
    assert runs[0].metrics["validation"] == runs[1].metrics["validation"]
    assert runs[0].metrics["train"]["train_loss"] == runs[1].metrics["train"]["train_loss"]
    weights = [(run.output_dir / "model.safetensors").read_bytes() for run in runs]
    assert weights[0] == weights[1]


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"freeze_layers": 5}, "out of range"),
        ({"data": "/nonexistent/train.parquet"}, "does not exist"),
        ({"text_column": "review"}, "no column 'review'"),
        ({"truncation": "middle"}, "truncation must be one of"),
        ({"validation_fraction": 1.5}, "validation_fraction"),
        ({"attention_dropout": 1.0}, "attention_dropout must be at least 0 and below 1"),
        ({"model": "/nonexistent/model"}, "does not exist"),
        # Refused with the other flags, not by the Trainer once the model is loaded (or never).
        ({"seed": -5}, "seed must be between 0 and"),
        ({"num_workers": -1}, "num_workers must be 0 or more"),
        ({"logging_steps": 0}, "logging_steps must be at least 1"),
        ({"warmup_ratio": 5}, "warmup_ratio must be at least 0 and below 1"),
        ({"weight_decay": -1}, "weight_decay must be 0 or more"),
        ({"data": "bad.csv", "output_dir": "newparent/sub/model"}, "does not exist"),
    ],
)
def test_bad_input_fails_cleanly_and_writes_nothing(
    tmp_path, tiny_distilbert, reviews_parquet, overrides, message
):
    output = tmp_path / "saved_model"
    config = tiny_config(tiny_distilbert, reviews_parquet, output)
    paths = {k: str(tmp_path / v) for k, v in overrides.items() if k in ("data", "output_dir")}
    config = TrainConfig(**{**config.to_dict(), **overrides, **paths})
    with pytest.raises(UserError, match=message):
        train(config)
    assert not output.exists()
    assert [p.name for p in tmp_path.iterdir()] == []  # no checkpoint folder, no parents of output_dir


def test_refuses_to_replace_a_folder_that_is_not_a_model(tmp_path, tiny_distilbert, reviews_parquet):
    output = tmp_path / "precious"
    output.mkdir()
    (output / "notes.txt").write_text("keep me")
    with pytest.raises(
        UserError,
        match="--output-dir .* holds no model or other output of this project.*Choose another --output-dir",
    ):
        train(tiny_config(tiny_distilbert, reviews_parquet, output))
    assert (output / "notes.txt").read_text() == "keep me"


@pytest.mark.parametrize("where", ["folder", "output_dir"])
def test_refuses_a_checkpoint_dir_that_holds_other_files_and_keeps_them(
    tmp_path, tiny_distilbert, reviews_parquet, where
):
    folder = tmp_path / "important"
    folder.mkdir()
    (folder / "thesis.txt").write_text("years of work")
    output = folder if where == "output_dir" else tmp_path / "out"
    if where == "output_dir":  # a model folder whose checkpoints would go into itself
        (folder / "config.json").write_text("{}")
    message = "not training checkpoints" if where == "folder" else "must not be the same folder"
    with pytest.raises(UserError, match=message):
        train(tiny_config(tiny_distilbert, reviews_parquet, output, checkpoint_dir=str(folder)))
    assert (folder / "thesis.txt").read_text() == "years of work"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["important"]


def test_saved_files_are_readable_by_others_as_the_umask_allows(trained_model_dir):
    import os

    umask = os.umask(0o022)
    os.umask(umask)
    for path in [trained_model_dir, *trained_model_dir.rglob("*")]:
        expected = (0o777 if path.is_dir() else 0o666) & ~umask  # transformers writes weights 0600
        assert path.stat().st_mode & 0o777 == expected, path.name


def test_hub_unreachable_says_how_to_go_offline():
    with pytest.raises(HubUnreachableError, match="--model /path/to/model_dir"):
        load_model("distilbert-base-uncased")


def test_attention_dropout_setting_reaches_the_trained_model(
    tmp_path, tiny_distilbert, reviews_parquet, monkeypatch
):
    import torch
    from transformers import Trainer

    seen = {}
    original_train = Trainer.train

    def record(self, *args, **kwargs):
        seen.update({n: m.p for n, m in self.model.named_modules() if isinstance(m, torch.nn.Dropout)})
        return original_train(self, *args, **kwargs)

    monkeypatch.setattr(Trainer, "train", record)
    overrides = dict(epochs=1, max_train_samples=64, attention_dropout=0.0)
    result = train(tiny_config(tiny_distilbert, reviews_parquet, tmp_path / "out", **overrides))
    assert {p for n, p in seen.items() if "attention" in n} == {0.0}
    assert all(p > 0 for n, p in seen.items() if "attention" not in n)  # the model's own, left on
    saved = json.loads((result.output_dir / "config.json").read_text())
    assert saved["attention_dropout"] == 0.0 and saved["dropout"] > 0


def test_cpu_recipe_fills_auto_fields(tmp_path):
    named = dict(model=str(tmp_path / "model"), data=str(tmp_path / "train.parquet"))  # no offline default
    config = resolve_config(TrainConfig(device="cpu", **named))
    assert config.max_length == 512 and config.epochs == 1 and config.max_train_samples == 2000
    assert config.attention_dropout == 0.0  # keeps PyTorch's fused CPU attention kernel usable
    assert resolve_config(TrainConfig(device="cpu", max_length=128, **named)).max_length == 128


def test_cli_reports_user_errors_in_one_line(tmp_path, tiny_distilbert, reviews_parquet):
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "imdb_sentiment",
            "train",
            "--model",
            str(tiny_distilbert),
            "--data",
            str(reviews_parquet),
            "--output-dir",
            str(tmp_path / "out"),
            "--freeze-layers",
            "9",
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 2
    assert "error: freeze_layers=9 is out of range" in result.stderr
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "out").exists()


def test_time_estimate_is_fair_although_the_sampler_puts_the_longest_batches_first(capsys):
    import re
    from types import SimpleNamespace

    import torch
    from transformers.trainer_pt_utils import get_length_grouped_indices

    from imdb_sentiment.training.callbacks import timed_steps, training_callbacks

    rng = np.random.default_rng(0)
    lengths = np.minimum(rng.lognormal(5.5, 0.6, 4000).astype(int) + 10, 512).tolist()  # IMDb-like
    batch = 8
    order = get_length_grouped_indices(lengths, batch, generator=torch.Generator().manual_seed(0))
    longest = [max(lengths[i] for i in order[k : k + batch]) for k in range(0, len(order), batch)]
    step_seconds = [1e-3 * n + 2e-6 * n * n for n in longest]  # linear layers + attention
    now = [0.0]
    _, estimate = training_callbacks(timed_steps(len(lengths), batch), clock=lambda: now[0])
    state = SimpleNamespace(global_step=0, max_steps=len(step_seconds), is_world_process_zero=True)
    for seconds in step_seconds:
        estimate.on_step_begin(None, state, None)
        now[0] += seconds
        state.global_step += 1
        estimate.on_step_end(None, state, None)
    printed = capsys.readouterr().out
    assert printed.count("Estimated training time") == 1
    minutes = float(re.search(r"Estimated training time: ([\d.]+) min for 500 steps", printed).group(1))
    actual = sum(step_seconds) / 60
    assert minutes == pytest.approx(actual, rel=0.1)
    assert np.mean(step_seconds[:4]) * len(step_seconds) / 60 > 1.5 * actual  # what the first steps suggest


def test_a_max_length_beyond_the_model_window_trains_at_the_window(tmp_path, tiny_distilbert, capsys):
    # A quarter of the reviews are longer than the tiny model's 128 positions: a 1000-token window
    # would fail at the first such batch with a torch size mismatch.
    reviews = make_reviews(1000, seed=4, max_words=12)
    long = reviews.index % 4 == 0
    reviews.loc[long, "text"] = (reviews.loc[long, "text"] + " ") * 12  # its markers in head and tail
    reviews.to_parquet(data := tmp_path / "long.parquet")
    result = train(tiny_config(tiny_distilbert, data, tmp_path / "out", max_length=1000))
    assert (
        "max_length 1000 is more than this model's window: training at 128 tokens" in capsys.readouterr().out
    )
    assert TrainConfig.load(result.output_dir).max_length == 128
    assert result.metrics["validation"]["accuracy"] >= 0.8
