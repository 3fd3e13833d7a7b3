"""The model card's front matter is what the Hub reads: it parses with huggingface_hub's ModelCard and
holds the licence, the dataset (IMDb only), the base model (Hub ids only), widget examples and a
model-index with the test scores and the pair figures.

.venv/bin/python -m pytest tests/training/test_card.py -q
"""

from __future__ import annotations

import copy

import pytest
from huggingface_hub import ModelCard

from imdb_sentiment.training.card import DEFAULT_LICENSE, model_card

PAIRS = {
    "original": {"accuracy": 0.91, "low": 0.88, "high": 0.93, "n": 488},
    "edited": {"accuracy": 0.87, "low": 0.84, "high": 0.9, "n": 488},
    "both": {"accuracy": 0.8, "low": 0.76, "high": 0.83, "n": 488},
    "data": "CAD dev (bundled)",
}


@pytest.fixture
def trained(trained_model):
    """The tiny model's config and metrics, with a test split scored (its data has none)."""
    metrics = copy.deepcopy(trained_model.metrics)
    metrics["test"] = {**metrics["validation"], "accuracy": 0.875, "f1": 0.86}
    return trained_model.config.to_dict(), metrics


def results(card: ModelCard) -> dict:
    return {(r.dataset_split, r.metric_name): r for r in card.data.eval_results}


def test_the_card_parses_and_its_model_index_holds_the_test_accuracy_and_f1(trained):
    config, metrics = trained
    card = ModelCard(model_card(config, metrics))
    card.validate  # noqa: B018 - the attribute exists: a ModelCard, not a plain RepoCard
    found = results(card)
    assert found[("test", "Accuracy")].metric_value == 0.875
    assert found[("test", "Accuracy")].metric_type == "accuracy"
    assert found[("test", "F1")].metric_value == 0.86
    data = card.data
    assert (data.license, data.language, data.pipeline_tag) == (DEFAULT_LICENSE, "en", "text-classification")
    assert [w["text"] for w in data.widget] and all(isinstance(w["text"], str) for w in data.widget)
    assert data.base_model is None  # trained from a local folder: nothing the Hub could link
    assert data.datasets is None  # local generated data, not IMDb
    assert "## Metrics" in card.text


def test_the_pair_figures_go_into_the_model_index_when_present(trained):
    config, metrics = trained
    metrics["pairs"] = PAIRS
    found = results(ModelCard(model_card(config, metrics)))
    assert found[("dev", "Pair consistency")].metric_value == 0.8
    assert found[("dev", "Accuracy (originals)")].metric_value == 0.91
    assert found[("dev", "Accuracy (edited copies)")].metric_value == 0.87


def test_imdb_data_and_a_hub_base_model_are_named_validation_stands_in_without_a_test_split(trained):
    config, metrics = trained
    config = {**config, "model": "distilbert-base-uncased", "data": "stanfordnlp/imdb", "license": "mit"}
    metrics["test"] = None
    data = ModelCard(model_card(config, metrics)).data
    assert (data.base_model, data.datasets, data.license) == (
        "distilbert-base-uncased",
        ["stanfordnlp/imdb"],
        "mit",
    )
    imdb = [r for r in data.eval_results if r.dataset_type == "stanfordnlp/imdb"]
    assert {(r.dataset_split, r.metric_type) for r in imdb} == {
        ("validation", "accuracy"),
        ("validation", "f1"),
    }
