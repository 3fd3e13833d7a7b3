"""Mean pooling (pooling.py): the added layer's [CLS] output is the masked token mean, and a model
trained with it learns and loads as a plain transformers pipeline."""

from __future__ import annotations

import pytest
import torch

from imdb_sentiment.model import load_model
from imdb_sentiment.pooling import MEAN_WEIGHT, add_mean_pooling_layer

from helpers import make_reviews, make_tokenizer, save_tiny_model


@pytest.mark.parametrize("architecture", ["bert", "distilbert"])
def test_the_added_layer_outputs_the_mean_of_the_real_tokens(tmp_path, architecture):
    directory = save_tiny_model(tmp_path / architecture, architecture, layers=2)
    before, after = load_model(str(directory)).eval(), load_model(str(directory)).eval()
    add_mean_pooling_layer(after)
    assert after.config.to_dict().get("n_layers", after.config.num_hidden_layers) == 3
    # Different lengths, so the batch is padded: the mean must skip the padding.
    batch = make_tokenizer()(
        ["a superb film .", "the plot was dull and the acting was awful and slow ."],
        padding=True,
        return_tensors="pt",
    )
    assert (batch["attention_mask"] == 0).any()
    with torch.no_grad():
        below = before.base_model(**batch).last_hidden_state
        top = after.base_model(**batch).last_hidden_state[:, 0]
    mask = batch["attention_mask"].unsqueeze(-1).float()
    mean = (below * mask).sum(1) / mask.sum(1)
    want = torch.nn.functional.layer_norm(below[:, 0] + MEAN_WEIGHT * mean, mean.shape[-1:], eps=1e-12)
    assert torch.allclose(top, want, atol=1e-4)


def test_a_mean_pooled_model_learns_and_loads_as_a_plain_pipeline(tmp_path, reviews_parquet):
    from transformers import pipeline

    from imdb_sentiment import Classifier, train

    from conftest import tiny_config

    model = save_tiny_model(tmp_path / "bert", "bert")
    result = train(tiny_config(model, reviews_parquet, tmp_path / "saved", pooling="mean", epochs=3))
    assert result.config.pooling == "mean" and result.metrics["model"]["total_layers"] == 3
    assert result.metrics["validation"]["accuracy"] >= 0.9

    heldout = make_reviews(100, seed=9, max_words=12)
    texts = heldout["text"].tolist()
    plain = pipeline("text-classification", model=str(result.output_dir), device="cpu")(texts)
    ours = Classifier.from_pretrained(result.output_dir).predict(texts)
    assert [p["label"] for p in plain] == [p.label for p in ours]
    accuracy = sum((p.label == "POSITIVE") == bool(y) for p, y in zip(ours, heldout["label"])) / len(texts)
    assert accuracy >= 0.9
