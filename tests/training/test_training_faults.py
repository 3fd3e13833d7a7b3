"""Faults during training: SIGKILL then --resume, a crash while saving, a diverging loss.

Every test trains the tiny 2-layer DistilBERT on the generated task (seconds each) and checks that
no fault loses the previous model or leaves a half-written one, and that the model still learned.

    .venv/bin/python -m pytest tests/training/test_training_faults.py -q
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from imdb_sentiment import Classifier, UserError, train
from imdb_sentiment.atomic import atomic_directory, check_output_dir
from imdb_sentiment.errors import TrainingDivergedError
from imdb_sentiment.training.checkpoints import last_checkpoint

from conftest import TINY_RECIPE, tiny_config

EPOCHS = 3
QUALITY = ("accuracy", "precision", "recall", "f1", "roc_auc", "confusion_matrix", "n")


def _cli_args(model_dir: Path, data: Path, output: Path, **overrides) -> list[str]:
    # On the CPU on any machine: a resumed run matches an uninterrupted one bit for bit there.
    recipe = {**TINY_RECIPE, "epochs": EPOCHS, "device": "cpu", **overrides}
    args = ["--model", str(model_dir), "--data", str(data), "--output_dir", str(output)]
    for key, value in recipe.items():
        if value is not None:
            args += [f"--{key}", str(value)]
    return args


def _train_cli(args: list[str], **kwargs) -> subprocess.Popen:
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}
    return subprocess.Popen(
        [sys.executable, "-m", "imdb_sentiment", "train", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=env,
        **kwargs,
    )


def _quality(metrics: dict) -> dict:
    return {key: metrics["validation"][key] for key in QUALITY}


def _fingerprint(directory: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(directory.iterdir())}


@pytest.fixture(scope="module")
def data(reviews_parquet) -> Path:
    # The session's 1,000 generated reviews: 57 steps an epoch, long enough to kill a run inside one.
    return reviews_parquet


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory, tiny_distilbert, data) -> dict:
    """Metrics of a 3-epoch run that nothing interrupts."""
    output = tmp_path_factory.mktemp("clean") / "saved_model"
    process = _train_cli(_cli_args(tiny_distilbert, data, output))
    log, _ = process.communicate(timeout=600)
    assert process.returncode == 0, log
    return json.loads((output / "metrics.json").read_text())


@pytest.mark.slow
def test_sigkill_mid_training_then_resume_gives_the_same_metrics(
    tmp_path, tiny_distilbert, data, uninterrupted
):
    output = tmp_path / "saved_model"
    checkpoints = tmp_path / "saved_model.checkpoints"
    args = _cli_args(tiny_distilbert, data, output)
    process = _train_cli(args)
    deadline = time.monotonic() + 300
    # trainer_state.json is written last: the first checkpoint is complete once it exists.
    while not list(checkpoints.glob("checkpoint-*/trainer_state.json")):
        assert process.poll() is None, process.communicate()[0]
        assert time.monotonic() < deadline, "no checkpoint appeared"
        time.sleep(0.02)
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=30)
    assert process.returncode == -signal.SIGKILL
    assert not output.exists(), "the run finished before it could be killed"
    assert len(list(checkpoints.glob("checkpoint-*/trainer_state.json"))) < EPOCHS

    resumed = _train_cli([*args, "--resume"])
    log, _ = resumed.communicate(timeout=600)
    assert resumed.returncode == 0, log
    metrics = json.loads((output / "metrics.json").read_text())
    assert _quality(metrics) == _quality(uninterrupted)
    assert metrics["validation"]["accuracy"] >= 0.8  # it learned (3 short epochs; chance is 0.5)
    # The timings cover the resumed part only, and say so.
    assert metrics["train"]["resumed_from_step"] > 0
    assert f"resumed from step {metrics['train']['resumed_from_step']}" in (output / "README.md").read_text()
    assert uninterrupted["train"]["resumed_from_step"] is None
    assert not checkpoints.exists()  # removed after the final save
    assert (
        Classifier.from_pretrained(output, device="cpu").predict(["a wonderful superb film"])[0].label
        == "POSITIVE"
    )


def test_resume_skips_a_checkpoint_cut_off_mid_write(tmp_path):
    checkpoints = tmp_path / "ckpt"
    for step, complete in ((56, True), (112, True), (168, False)):
        folder = checkpoints / f"checkpoint-{step}"
        folder.mkdir(parents=True)
        (folder / "model.safetensors").write_bytes(b"\0" * 8)
        if complete:
            (folder / "trainer_state.json").write_text(json.dumps({"global_step": step}))
    (checkpoints / "checkpoint-112" / "trainer_state.json").write_text('{"global_st')  # torn write
    assert last_checkpoint(checkpoints) == str(checkpoints / "checkpoint-56")
    assert sorted(p.name for p in checkpoints.iterdir()) == ["checkpoint-56"]
    shutil.rmtree(checkpoints / "checkpoint-56")
    with pytest.raises(UserError, match="no complete checkpoint"):
        last_checkpoint(checkpoints)


@pytest.mark.slow
def test_crash_during_final_save_keeps_the_previous_model(
    tmp_path, monkeypatch, trained_model_dir, tiny_distilbert, data
):
    output = tmp_path / "saved_model"
    shutil.copytree(trained_model_dir, output)
    before = _fingerprint(output)

    def disk_full(*args, **kwargs):
        raise OSError(28, "No space left on device")

    # called inside the atomic save, after the weights are written
    monkeypatch.setattr(sys.modules["imdb_sentiment.training.train"], "plot_confusion_matrix", disk_full)
    with pytest.raises(OSError, match="No space left"):
        train(tiny_config(tiny_distilbert, data, output, epochs=1))
    assert _fingerprint(output) == before
    assert sorted(p.name for p in tmp_path.iterdir() if p.name != "saved_model.checkpoints") == [
        "saved_model"
    ]
    prediction = Classifier.from_pretrained(output, device="cpu").predict(["a wonderful superb film"])[0]
    assert prediction.label == "POSITIVE"


def test_crash_while_swapping_directories_restores_the_previous_one(tmp_path, monkeypatch):
    target = tmp_path / "saved_model"
    target.mkdir()
    (target / "config.json").write_text("{}")
    (target / "model.safetensors").write_bytes(b"old")
    real_rename = os.rename
    calls = []

    def fail_second_rename(src, dst):
        calls.append((src, dst))
        if len(calls) == 2:  # the first moves the old model aside, the second moves the new one in
            raise OSError("simulated crash")
        real_rename(src, dst)

    monkeypatch.setattr(os, "rename", fail_second_rename)
    with pytest.raises(OSError, match="simulated crash"), atomic_directory(target) as staging:
        (staging / "model.safetensors").write_bytes(b"new")
    assert (target / "model.safetensors").read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["saved_model"]  # no staging or backup left


@pytest.mark.slow
def test_non_finite_loss_stops_with_a_clear_message_and_saves_nothing(tmp_path, tiny_distilbert, data):
    output = tmp_path / "saved_model"
    with pytest.raises(TrainingDivergedError, match="loss became (nan|inf).*nothing was saved") as error:
        train(tiny_config(tiny_distilbert, data, output, learning_rate=1e30, logging_steps=2))
    # It stops at the first logged loss that is not finite, not after the 6 epochs' 342 steps.
    assert int(re.search(r"at step (\d+)", str(error.value)).group(1)) <= 4
    assert not output.exists()
    assert not list(tmp_path.glob(".saved_model*"))


def _fail_after_training(monkeypatch, error: BaseException) -> None:
    def fail(*args, **kwargs):
        raise error

    monkeypatch.setattr(sys.modules["imdb_sentiment.training.train"], "score_pairs", fail)


def test_a_run_failing_after_training_leaves_nothing_behind(tmp_path, monkeypatch, tiny_distilbert, data):
    _fail_after_training(monkeypatch, RuntimeError("scoring broke"))
    output = tmp_path / "new" / "sub" / "saved_model"
    with pytest.raises(RuntimeError, match="scoring broke"):
        train(tiny_config(tiny_distilbert, data, output, epochs=1, max_train_samples=64))
    assert list(tmp_path.iterdir()) == []  # no checkpoints, nor the folders made for them


def test_interrupted_checkpoints_survive_and_resume_only_with_the_same_settings(
    tmp_path, monkeypatch, tiny_distilbert, data
):
    output = tmp_path / "saved_model"
    checkpoints = tmp_path / "saved_model.checkpoints"
    config = tiny_config(tiny_distilbert, data, output, epochs=1, max_train_samples=64)
    with monkeypatch.context() as patched:
        _fail_after_training(patched, KeyboardInterrupt())
        with pytest.raises(KeyboardInterrupt):
            train(config)
    kept = sorted(p.name for p in checkpoints.iterdir())
    assert kept[0].startswith("checkpoint-") and "training_config.json" in kept
    changed = dataclasses.replace(config, resume=True, max_length=32, learning_rate=1e-3)
    with pytest.raises(
        UserError, match=r"other settings \(max_length 64 -> 32, learning_rate 0.01 -> 0.001\)"
    ):
        train(changed)
    assert sorted(p.name for p in checkpoints.iterdir()) == kept and not output.exists()
    # Settings that do not change the training may differ.
    result = train(dataclasses.replace(config, resume=True, logging_steps=5, calibrate=False))
    assert result.metrics["train"]["train_samples"] == 64 and not checkpoints.exists()


def test_output_parents_are_made_only_when_the_model_is_saved(tmp_path):
    target = tmp_path / "new" / "sub" / "saved_model"
    check_output_dir(target)
    assert list(tmp_path.iterdir()) == []
    with pytest.raises(OSError, match="disk full"), atomic_directory(target) as staging:
        (staging / "config.json").write_text("{}")
        raise OSError("disk full")
    assert list(tmp_path.iterdir()) == []
    with atomic_directory(target) as staging:
        (staging / "config.json").write_text("{}")
    assert (target / "config.json").is_file()


@pytest.mark.parametrize(
    ("flag", "advice"),
    [
        ("--output-dir", "Choose another --output-dir."),
        ("--dry-run", "Choose another --dry-run."),
        (None, "Move"),
    ],
)
def test_a_foreign_folder_is_refused_naming_the_option_that_chose_it(tmp_path, flag, advice):
    (target := tmp_path / "precious").mkdir()
    (target / "notes.txt").write_text("keep me")
    with pytest.raises(UserError) as caught, atomic_directory(target, flag=flag):
        pytest.fail("a foreign folder was opened for replacing")
    message = str(caught.value)
    assert message.startswith(f"{flag} '" if flag else "'") and advice in message
    assert "holds no model or other output of this project" in message and "output_dir" not in message
    assert (target / "notes.txt").read_text() == "keep me" and [p.name for p in tmp_path.iterdir()] == [
        "precious"
    ]
