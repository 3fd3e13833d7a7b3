"""Precision is chosen from the card, on any machine: the CUDA queries are mocked for a V100, a
T4, an A100, an H100 and a P100 (and for no GPU at all), and the real ``TrainingArguments`` is
built for each (its TF32 check is the one that crashed pre-Ampere cards). TF32 is restored after
``train()``; the final evaluation runs without autocast. Nothing here depends on whether the
machine running the tests has a GPU."""

from __future__ import annotations

import importlib
import subprocess
import sys
from types import SimpleNamespace

import pytest
import torch
from transformers import TrainingArguments

from imdb_sentiment import TrainConfig, UserError, resolve_config, train
from imdb_sentiment.model import FreezeReport
from imdb_sentiment.precision import choose_precision, float32_precision_kept
from imdb_sentiment.training.arguments import describe_recipe, training_arguments

from conftest import tiny_config

CARDS = {
    "V100": ("Tesla V100-SXM2-16GB", (7, 0)),
    "T4": ("Tesla T4", (7, 5)),
    "A100": ("NVIDIA A100-SXM4-40GB", (8, 0)),
    "H100": ("NVIDIA H100 80GB HBM3", (9, 0)),
    "P100": ("Tesla P100-PCIE-16GB", (6, 0)),
}


@pytest.fixture
def fake_gpu(monkeypatch, tmp_path):
    """Make torch (and transformers, through it) see the named card; returns a config factory."""

    def install(card: str):
        name, capability = CARDS[card]
        properties = SimpleNamespace(
            major=capability[0], minor=capability[1], name=name, total_memory=16 << 30
        )
        monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
        monkeypatch.setattr(torch.cuda, "get_device_capability", lambda device=None: capability)
        monkeypatch.setattr(torch.cuda, "get_device_name", lambda device=None: name)
        monkeypatch.setattr(torch.cuda, "get_device_properties", lambda device=None: properties)
        monkeypatch.setattr(torch.cuda, "current_device", lambda: 0)
        # What torch really answers on a T4 or V100 (emulation counts): the choice must not trust it.
        monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda including_emulation=True: True)
        monkeypatch.setattr(torch.version, "cuda", "12.8")
        # Device set-up would initialise CUDA; everything else in TrainingArguments runs for real.
        monkeypatch.setattr(
            TrainingArguments, "_setup_devices", property(lambda self: torch.device("cuda:0"))
        )
        return lambda **fields: TrainConfig(output_dir=str(tmp_path / "out"), **fields)

    with float32_precision_kept():  # building the arguments for an Ampere card switches TF32 on
        yield install


@pytest.fixture
def no_gpu(monkeypatch):
    """Make torch (and transformers, through it) see no GPU, also on a machine that has one."""
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 0)


@pytest.mark.parametrize(
    "card, dtype, tf32",
    [("V100", "fp16", False), ("T4", "fp16", False), ("A100", "bf16", True), ("H100", "bf16", True)],
)
def test_training_arguments_follow_the_card(fake_gpu, card, dtype, tf32):
    config = resolve_config(fake_gpu(card)())
    assert config.device == "cuda" and config.precision == dtype
    args = training_arguments(config)  # the real TrainingArguments: raised on T4/V100 before
    assert (args.bf16, args.fp16) == (dtype == "bf16", dtype == "fp16")
    assert args.tf32 is (True if tf32 else None)

    splits = SimpleNamespace(train=[0] * 90, validation=[0] * 10, test=None)
    report = FreezeReport(3, 6, 100, 200)
    recipe = describe_recipe(config, splits, report, choose_precision(config.precision, "cuda"))
    name, (major, minor) = CARDS[card]
    assert f"{name} (compute capability {major}.{minor})" in recipe
    assert f"{dtype} mixed precision" in recipe and ("TF32" in recipe) is tf32


def test_cards_without_tensor_cores_train_in_fp32_and_say_why(fake_gpu):
    p100 = fake_gpu("P100")
    precision = choose_precision("auto", "cuda")
    assert (precision.dtype, precision.tf32) == ("fp32", False)
    assert "no tensor cores below compute capability 7.0" in precision.describe()
    args = training_arguments(resolve_config(p100()))
    assert not args.bf16 and not args.fp16 and args.tf32 is None


def test_no_gpu_means_fp32_on_the_cpu(tmp_path, no_gpu):
    config = resolve_config(TrainConfig(output_dir=str(tmp_path / "out")))
    assert (config.device, config.precision) == ("cpu", "fp32")
    assert choose_precision("auto", "cpu").describe() == "CPU: fp32"


def test_explicit_precision_wins_and_impossible_choices_are_clear_errors(fake_gpu):
    t4 = fake_gpu("T4")
    assert resolve_config(t4(precision="fp32")).precision == "fp32"
    with pytest.raises(UserError, match=r"bf16 needs a GPU of compute capability 8\.0.*Tesla T4 is 7\.5"):
        resolve_config(t4(precision="bf16"))
    with pytest.raises(UserError, match="must be one of auto, bf16, fp16, fp32"):
        resolve_config(t4(precision="fp8"))
    h100 = fake_gpu("H100")
    assert resolve_config(h100(precision="fp16")).precision == "fp16"
    assert not choose_precision("fp32", "cuda").tf32  # fp32 asked for means plain fp32


def test_mixed_precision_on_a_cpu_is_refused(tmp_path, no_gpu):
    with pytest.raises(UserError, match="--precision bf16 needs a CUDA GPU"):
        resolve_config(TrainConfig(output_dir=str(tmp_path / "out"), precision="bf16"))


def test_train_cli_refuses_fp16_on_the_cpu(tmp_path, capsys, no_gpu):
    from imdb_sentiment.cli import main

    assert main(["train", "--precision", "fp16", "--output_dir", str(tmp_path / "out")]) == 2
    assert "--precision fp16 needs a CUDA GPU" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def test_float32_precision_is_restored_after_the_block_even_on_error():
    before = torch.backends.fp32_precision
    with pytest.raises(RuntimeError), float32_precision_kept():
        torch.backends.fp32_precision = "tf32"
        raise RuntimeError
    assert torch.backends.fp32_precision == before


@pytest.mark.slow
def test_train_restores_tf32_and_records_what_training_used(
    tmp_path, tiny_distilbert, reviews_parquet, monkeypatch
):
    train_module = importlib.import_module("imdb_sentiment.training.train")  # the package exports train()

    def arguments_that_enable_tf32(config, precision=None):
        args = original(config, precision)
        torch.backends.fp32_precision = "tf32"  # what TrainingArguments(tf32=True) does on an A100
        return args

    original = train_module.training_arguments
    monkeypatch.setattr(train_module, "training_arguments", arguments_that_enable_tf32)
    before = torch.backends.fp32_precision
    config = tiny_config(
        tiny_distilbert, reviews_parquet, tmp_path / "model", epochs=1, max_train_samples=200, device="cpu"
    )
    result = train(config)
    assert torch.backends.fp32_precision == before
    assert result.metrics["precision"] == {
        "training": "fp32",
        "tf32": True,
        "device": "CPU",
        "capability": None,
        "evaluation": "fp32",
    }
    assert "calibrated and evaluated in fp32" in (result.output_dir / "README.md").read_text()

    with pytest.raises(UserError):  # a run that fails after the arguments are built restores it too
        train(tiny_config(tiny_distilbert, tmp_path / "missing.parquet", tmp_path / "other"))
    assert torch.backends.fp32_precision == before


SERVE_IN_FP32 = """
import torch
from types import SimpleNamespace
from accelerate import Accelerator
from imdb_sentiment.precision import serve_in_fp32
torch.manual_seed(0)
model = torch.nn.Sequential(torch.nn.Linear(64, 64), torch.nn.Tanh(), torch.nn.Linear(64, 2))
x = torch.randn(16, 64)
exact = model(x)
accelerator = Accelerator(cpu=True, mixed_precision="bf16")  # bf16 autocast on the CPU
prepared = accelerator.prepare_model(model)
assert not torch.equal(prepared(x), exact)
serve_in_fp32(SimpleNamespace(accelerator=accelerator, model=prepared))
assert torch.equal(prepared(x), exact)
assert torch.equal(accelerator.prepare_model(prepared)(x), exact)  # and evaluation does not re-wrap it
print("ok")
"""


def test_the_final_evaluation_runs_without_autocast():
    # In its own process: accelerate keeps one shared state per process, which the Trainers of the
    # other tests must not inherit with bf16 set.
    done = subprocess.run([sys.executable, "-c", SERVE_IN_FP32], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0 and done.stdout.strip() == "ok", done.stderr[-2000:]
