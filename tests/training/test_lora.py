"""--method lora: adapters learn the generated task, merge into a plain transformers model that gives
the unmerged model's logits, and load in a plain pipeline without peft."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
import torch

from imdb_sentiment import UserError, train
from imdb_sentiment.model import freeze_lower_layers, load_model
from imdb_sentiment.training.lora import apply_lora, attention_projections, head_modules, merge_lora

from conftest import tiny_config

# LoRA's low-rank updates on a random 2-layer model: 1e-2 (the full recipe's) is unstable, 5e-3
# learns the task in the tiny recipe's 6 epochs.
LORA_LR = 5e-3


@pytest.fixture(scope="module")
def lora_model(tmp_path_factory, tiny_distilbert, reviews_parquet):
    output = tmp_path_factory.mktemp("lora") / "saved_model"
    config = tiny_config(
        tiny_distilbert, reviews_parquet, output, method="lora", freeze_layers=None, learning_rate=LORA_LR
    )
    return train(config)


def test_lora_learns_the_task_and_saves_a_plain_calibrated_model(lora_model):
    metrics = lora_model.metrics
    assert metrics["validation"]["accuracy"] >= 0.9
    assert metrics["model"]["method"] == "lora" and metrics["model"]["lora_r"] == 8
    assert metrics["model"]["frozen_layers"] == 0  # LoRA's default: adapters in every layer
    assert 0 < metrics["model"]["trainable_percent"] < 30
    assert metrics["calibration"] is not None  # folded into the merged classifier
    names = {p.name for p in lora_model.output_dir.iterdir()}
    assert "model.safetensors" in names and not [n for n in names if n.startswith("adapter")]
    saved = json.loads((lora_model.output_dir / "training_config.json").read_text())
    assert saved["method"] == "lora" and saved["freeze_layers"] == 0
    card = (lora_model.output_dir / "README.md").read_text()
    assert "LoRA (peft): rank 8, alpha 16" in card and "parameters trained" in card


def test_saved_model_loads_in_a_plain_pipeline_without_peft(lora_model):
    script = (
        "import sys\n"
        "from transformers import pipeline\n"
        f"classify = pipeline('text-classification', model={str(lora_model.output_dir)!r}, device=-1)\n"
        "labels = [o['label'] for o in classify(['superb wonderful film .', 'awful boring film .'])]\n"
        "assert 'peft' not in sys.modules, 'peft was imported'\n"
        "print(labels)\n"
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "['POSITIVE', 'NEGATIVE']" in result.stdout


@pytest.mark.parametrize("fixture", ["tiny_distilbert", "tiny_bert"])
def test_merged_model_gives_the_unmerged_logits(request, tmp_path, fixture):
    from transformers import AutoModelForSequenceClassification

    model = load_model(str(request.getfixturevalue(fixture)))
    freeze_lower_layers(model, 0)
    peft_model, _ = apply_lora(model, 0, r=4)
    torch.manual_seed(0)
    with torch.no_grad():  # as if trained: non-zero adapters and a changed head copy
        for parameter in peft_model.parameters():
            if parameter.requires_grad:
                parameter.add_(0.1 * torch.randn_like(parameter))
    peft_model.eval()
    ids = torch.randint(5, 40, (4, 12))
    expected = peft_model(input_ids=ids).logits
    merge_lora(peft_model).save_pretrained(tmp_path)
    plain = AutoModelForSequenceClassification.from_pretrained(tmp_path).eval()
    assert type(plain).__module__.startswith("transformers.")
    torch.testing.assert_close(plain(input_ids=ids).logits, expected, atol=1e-5, rtol=1e-4)


def test_frozen_layers_get_no_adapters(tiny_bert):
    model = load_model(str(tiny_bert))
    assert attention_projections(model, 1) == [
        f"bert.encoder.layer.1.attention.{name}"
        for name in ("self.query", "self.key", "self.value", "output.dense")
    ]
    assert head_modules(model) == ["bert.pooler", "classifier"]
    freeze_lower_layers(model, 1)
    peft_model, report = apply_lora(model, 1)
    trainable = [n for n, p in peft_model.named_parameters() if p.requires_grad]
    assert trainable and all("layer.1." in n or "pooler" in n or "classifier" in n for n in trainable)
    assert report.adapted_modules == 4 and "layers 2-2" in str(report)


def test_lora_trains_under_accelerate_launch(tmp_path, tiny_distilbert, reviews_parquet):
    """Two processes (DDP over gloo): peft's model trains with ddp_find_unused_parameters=False
    (every trainable adapter is used) and the main process saves one merged model."""
    from helpers import launch, recipe_arguments

    output = tmp_path / "saved_model"
    arguments = ["--model", str(tiny_distilbert), "--data", str(reviews_parquet), "--output_dir", str(output)]
    recipe = recipe_arguments(batch_size=8, learning_rate=LORA_LR, freeze_layers=None)
    result = launch(["train", *arguments, *recipe, "--method", "lora"], cwd=tmp_path)
    assert "2 processes (global batch 16)" in result.stdout and result.stdout.count("Saved the model") == 1
    metrics = json.loads((output / "metrics.json").read_text())
    assert metrics["model"]["method"] == "lora" and metrics["validation"]["accuracy"] >= 0.9
    assert not [p.name for p in output.iterdir() if p.name.startswith("adapter")]


def test_a_rank_wider_than_the_model_is_refused_before_training(tmp_path, tiny_distilbert, reviews_parquet):
    output = tmp_path / "saved_model"
    config = tiny_config(
        tiny_distilbert, reviews_parquet, output, method="lora", freeze_layers=None, lora_r=100_000
    )
    with pytest.raises(UserError, match=r"--lora-r 100000 is more than this model's hidden size \(32\)"):
        train(config)
    assert list(tmp_path.iterdir()) == []  # no model, no checkpoints
