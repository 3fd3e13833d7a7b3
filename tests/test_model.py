"""Freezing: exactly the embeddings and the lowest k layers are frozen, for DistilBERT and BERT."""

from __future__ import annotations

import pytest
from torch import nn

from imdb_sentiment import UserError, freeze_lower_layers, load_model
from imdb_sentiment.model import (
    find_layers,
    frozen_parameter_names,
    set_attention_dropout,
)


@pytest.mark.parametrize(
    ("fixture", "layer_prefix", "embedding_prefix"),
    [
        ("tiny_distilbert", "distilbert.transformer.layer.", "distilbert.embeddings."),
        ("tiny_bert", "bert.encoder.layer.", "bert.embeddings."),
    ],
)
@pytest.mark.parametrize("k", [0, 1, 2])
def test_exactly_the_intended_parameters_are_trainable(request, fixture, layer_prefix, embedding_prefix, k):
    model = load_model(str(request.getfixturevalue(fixture)))
    report = freeze_lower_layers(model, k)

    frozen = set(frozen_parameter_names(model))
    expected = {
        name
        for name, _ in model.named_parameters()
        if name.startswith(embedding_prefix) or any(name.startswith(f"{layer_prefix}{i}.") for i in range(k))
    }
    assert frozen == expected
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    assert report.trainable_parameters == trainable
    assert report.total_parameters == sum(p.numel() for p in model.parameters())
    assert report.frozen_layers == k and report.total_layers == 2
    assert 0 < report.trainable_percent < 100
    assert "parameters trainable" in str(report)


def test_freezing_twice_with_fewer_layers_unfreezes(tiny_distilbert):
    model = load_model(str(tiny_distilbert))
    freeze_lower_layers(model, 2)
    freeze_lower_layers(model, 0)
    assert all(p.requires_grad for n, p in model.named_parameters() if "embeddings" not in n)


@pytest.mark.parametrize("k", [3, -1])
def test_freeze_layers_out_of_range_is_a_clear_error(tiny_distilbert, k):
    model = load_model(str(tiny_distilbert))
    with pytest.raises(UserError, match="out of range.*has 2 transformer layers"):
        freeze_lower_layers(model, k)


def test_unsupported_architecture_is_a_clear_error():
    class NotAnEncoder(nn.Module):
        def __init__(self):
            super().__init__()
            self.linear = nn.Linear(2, 2)

    with pytest.raises(UserError, match="Cannot find the embeddings and transformer layers of NotAnEncoder"):
        find_layers(NotAnEncoder())


def test_model_gets_named_labels(tiny_distilbert):
    model = load_model(str(tiny_distilbert))
    assert model.config.id2label == {0: "NEGATIVE", 1: "POSITIVE"}
    assert model.config.label2id == {"NEGATIVE": 0, "POSITIVE": 1}


def test_missing_local_model_path_is_a_clear_error(tmp_path):
    with pytest.raises(UserError, match="does not exist"):
        load_model(str(tmp_path / "nope"))


@pytest.mark.parametrize("fixture", ["tiny_distilbert", "tiny_bert"])
def test_attention_dropout_is_set_in_every_layer_and_nowhere_else(request, fixture):
    import torch

    model = load_model(str(request.getfixturevalue(fixture)))
    hidden_before = {n: m.p for n, m in model.named_modules() if isinstance(m, nn.Dropout)}
    assert set_attention_dropout(model, 0.0) == 2  # one attention module per layer
    changed = {n for n, m in model.named_modules() if isinstance(m, nn.Dropout) and m.p != hidden_before[n]}
    assert len(changed) == 2 and all("attention" in n for n in changed)
    config = model.config.to_dict()
    assert config.get("attention_dropout", config.get("attention_probs_dropout_prob")) == 0.0
    # with attention dropout off, two forward passes in training mode differ only by hidden dropout
    model.train()
    ids = torch.tensor([[2, 5, 6, 7, 3]])
    assert not torch.equal(model(input_ids=ids).logits, model(input_ids=ids).logits)


@pytest.mark.parametrize("content", [None, "train.csv"])
def test_a_folder_that_is_not_a_model_is_one_clear_error(tmp_path, content):
    from imdb_sentiment import load_tokenizer

    if content:  # a data folder passed as --model
        (tmp_path / content).write_text("text,label\nfine,1\n")
    for load in (load_tokenizer, load_model):  # not "You need to have sentencepiece ..." from deep inside
        with pytest.raises(UserError, match="is not a model: it has no config.json"):
            load(str(tmp_path))
