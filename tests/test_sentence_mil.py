"""Sentence-level multiple-instance learning (sentence_mil.py): each review's sentences reach the
loss as one bag, the loss is the reviews' own plus the bags', and a tiny model trained with it
reads single sentences."""

from __future__ import annotations

import pytest
import torch

from imdb_sentiment.sentence_mil import (
    CHUNK,
    SENTENCES,
    SentenceBagCollator,
    SentenceMILTrainer,
    add_sentence_bags,
    bag_logits,
    review_sentences,
)

from helpers import make_tokenizer, make_verdict_reviews


def test_review_sentences_drop_short_ones_and_spread_over_long_reviews():
    assert review_sentences("Wow. The film was a delight to watch. Bad! The end was far too long.") == [
        "The film was a delight to watch.",
        "The end was far too long.",
    ]
    text = " ".join(f"Sentence number {i} is here." for i in range(20))
    kept = review_sentences(text, max_sentences=5)
    assert (
        len(kept) == 5
        and kept[0].startswith("Sentence number 0 ")
        and kept[-1].startswith("Sentence number 19 ")
    )


def _batch(tokenizer, frame):
    import datasets

    encoded = tokenizer(frame["text"].tolist(), truncation=True, max_length=32)
    encoded["length"] = [len(ids) for ids in encoded["input_ids"]]
    encoded["labels"] = frame["label"].tolist()
    dataset = add_sentence_bags(datasets.Dataset.from_dict(dict(encoded)), frame, tokenizer)
    return dataset, SentenceBagCollator(tokenizer)([dataset[i] for i in range(len(dataset))])


def test_the_collator_keeps_each_sentence_with_its_review():
    tokenizer = make_tokenizer()
    frame = make_verdict_reviews(12, seed=3)
    dataset, batch = _batch(tokenizer, frame)
    assert "length" not in batch and SENTENCES not in batch
    assert batch["input_ids"].shape[0] == len(frame)
    chunks, owners = batch["sentence_chunks"], batch["bag_index"].tolist()
    rows = [
        ids[mask.bool()].tolist()
        for chunk in chunks
        for ids, mask in zip(chunk["input_ids"], chunk["attention_mask"])
    ]
    assert all(len(chunk["input_ids"]) <= CHUNK for chunk in chunks)
    assert sorted(map(len, rows)) == list(map(len, rows))  # sorted by length: little padding
    for review in range(len(frame)):  # every sentence of every review, once, owned by its review
        expected = dataset[review][SENTENCES]
        assert sorted(row for row, owner in zip(rows, owners) if owner == review) == sorted(expected)
        assert len(expected) == len(review_sentences(frame["text"].iloc[review]))


def test_a_bag_is_the_mean_of_its_sentence_logits_and_empty_bags_are_zero():
    logits = torch.tensor([[1.0, 3.0], [3.0, 1.0], [0.0, 4.0]])
    bags = bag_logits(logits, torch.tensor([0, 0, 2]), bags=3)
    assert torch.equal(bags, torch.tensor([[2.0, 2.0], [0.0, 0.0], [0.0, 4.0]]))


def test_the_training_loss_is_the_reviews_plus_the_weighted_bags(tiny_distilbert, tmp_path):
    from transformers import AutoModelForSequenceClassification, AutoTokenizer, TrainingArguments

    tokenizer = AutoTokenizer.from_pretrained(tiny_distilbert)
    model = AutoModelForSequenceClassification.from_pretrained(tiny_distilbert)
    _, batch = _batch(tokenizer, make_verdict_reviews(6, seed=4))
    args = TrainingArguments(
        output_dir=str(tmp_path), use_cpu=True, report_to="none", remove_unused_columns=False
    )
    trainer = SentenceMILTrainer(model=model, args=args, mil_weight=0.5)
    model.eval()  # no dropout, so the parts can be computed again exactly
    with torch.no_grad():
        got = trainer.compute_loss(model, dict(batch))
        reviews = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).logits
        sentences = torch.cat([model(**chunk).logits for chunk in batch["sentence_chunks"]])
    cross_entropy = torch.nn.functional.cross_entropy
    expected = cross_entropy(reviews, batch["labels"])
    assert got.item() == pytest.approx(expected.item(), rel=1e-5)  # evaluation: the reviews alone
    model.train()
    for module in model.modules():  # training mode without dropout's randomness
        if isinstance(module, torch.nn.Dropout):
            module.p = 0.0
    with torch.no_grad():
        got = trainer.compute_loss(model, dict(batch))
    bags = bag_logits(sentences, batch["bag_index"], len(batch["labels"]))
    expected = expected + 0.5 * cross_entropy(bags, batch["labels"])
    assert got.item() == pytest.approx(expected.item(), rel=1e-5)


def test_a_tiny_model_trained_with_sentence_bags_reads_single_sentences(tmp_path):
    from imdb_sentiment import Classifier, train
    from imdb_sentiment.crops import split_sentences

    from conftest import tiny_config
    from helpers import NEGATION_RECIPE, NEGATION_VOCAB, NEGATIVE_MARKERS, POSITIVE_MARKERS, save_tiny_model

    model = save_tiny_model(tmp_path / "tiny", vocab=NEGATION_VOCAB)
    make_verdict_reviews(400, seed=0).to_parquet(tmp_path / "train.parquet")
    overrides = dict(NEGATION_RECIPE, max_length=48, epochs=10, sentence_mil=1.0)
    result = train(tiny_config(model, tmp_path / "train.parquet", tmp_path / "saved_model", **overrides))
    assert result.metrics["validation"]["accuracy"] >= 0.9

    heldout = make_verdict_reviews(200, seed=1)
    markers = set(POSITIVE_MARKERS + NEGATIVE_MARKERS)
    verdicts = [next(s for s in split_sentences(t) if markers & set(s.split())) for t in heldout["text"]]
    predicted = [
        int(p.label == "POSITIVE")
        for p in Classifier.from_pretrained(tmp_path / "saved_model").predict(verdicts)
    ]
    accuracy = sum(p == y for p, y in zip(predicted, heldout["label"])) / len(verdicts)
    assert accuracy >= 0.9, accuracy
