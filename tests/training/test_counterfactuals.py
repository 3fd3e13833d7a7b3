"""Counterfactual pairs in training (training/counterfactuals.py): when they are used, how they are
split, what overlapping the test split does, and one tiny training with a file of pairs."""

from __future__ import annotations

import json
import logging

import pandas as pd
import pytest

from imdb_sentiment import TrainConfig
from imdb_sentiment.config import validate_config
from imdb_sentiment.data import Splits, load_splits
from imdb_sentiment.errors import UserError
from imdb_sentiment.offline import EMBEDDED_DATA
from imdb_sentiment.training.counterfactuals import (
    EMBEDDED_CAD,
    add_pairs,
    counterfactual_source,
    read_pairs,
    text_key,
    with_counterfactuals,
)

from conftest import tiny_config
from helpers import NEGATIVE_MARKERS, POSITIVE_MARKERS, make_reviews


def make_pairs(n: int, start: int = 0) -> pd.DataFrame:
    """``n`` generated pairs: a review with a marker word and the same review with the opposite one."""
    rows = []
    for i in range(start, start + n):
        good, bad = POSITIVE_MARKERS[i % 5], NEGATIVE_MARKERS[(i // 5) % 5]
        filler = f"the plot of film {i} was"  # the number makes each pair's texts unique
        rows.append((f"{filler} {good} .", 1, i, "original"))
        rows.append((f"{filler} {bad} .", 0, i, "revised"))
    return pd.DataFrame(rows, columns=["text", "label", "pair_id", "version"])


def splits_of(train: pd.DataFrame, validation: pd.DataFrame, test: pd.DataFrame | None = None) -> Splits:
    return Splits(train=train[["text", "label"]], validation=validation[["text", "label"]], test=test)


def where_each_pair_went(splits: Splits, pairs: pd.DataFrame) -> pd.Series:
    places = {}
    for name in ("train", "validation"):
        for key in getattr(splits, name)["text"].map(text_key):
            places.setdefault(key, set()).add(name)
    keys = pairs["text"].map(text_key)
    return (
        keys.map(lambda k: frozenset(places.get(k, set())))
        .groupby(pairs["pair_id"])
        .agg(lambda s: frozenset().union(*s))
    )


def test_pairs_go_to_one_split_whole_and_a_pair_overlapping_test_is_dropped_and_logged(caplog):
    reviews = make_reviews(60, seed=1)
    pairs = make_pairs(40)
    # Pair 0's original is already a validation review, pair 1's edit a training review (with
    # another line break and case), pair 2's edit a test review.
    validation = pd.concat([reviews[:10], pairs.iloc[[0]]], ignore_index=True)
    train = pd.concat(
        [reviews[10:50], pairs.iloc[[3]].assign(text=lambda f: f["text"].str.upper() + " <br />")]
    )
    test = pd.concat([reviews[50:], pairs.iloc[[5]]], ignore_index=True)[["text", "label"]]
    with caplog.at_level(logging.WARNING):
        mixed, report = add_pairs(splits_of(train, validation, test), pairs, validation_fraction=0.25, seed=0)
    assert "Dropped 1 counterfactual pairs" in caplog.text
    places = where_each_pair_went(mixed, pairs)
    assert places[2] == frozenset()  # dropped: its edit is a test review
    assert places[0] == {"validation"} and places[1] == {"train"}
    assert all(len(p) == 1 for pair, p in places.items() if pair != 2)  # never in both
    assert report == {
        "pairs_train": (places == {"train"}).sum(),
        "pairs_validation": (places == {"validation"}).sum(),
        "pairs_dropped": 1,
    }
    assert 8 <= report["pairs_validation"] <= 11  # a quarter of the 37 free pairs, plus pair 0
    # The texts already in a split are not added twice; everything else is, with its label.
    assert len(mixed.train) == len(train) + 2 * report["pairs_train"] - 1
    assert len(mixed.validation) == len(validation) + 2 * report["pairs_validation"] - 1
    assert mixed.test is test


def test_auto_is_on_for_imdb_and_off_for_other_data(tmp_path):
    own = tmp_path / "reviews.parquet"
    cad_train = EMBEDDED_CAD / "train.parquet"
    assert counterfactual_source(TrainConfig(data=str(EMBEDDED_DATA))) == cad_train
    assert counterfactual_source(TrainConfig(data="stanfordnlp/imdb")) == cad_train
    assert counterfactual_source(TrainConfig(data="imdb")) == cad_train
    assert counterfactual_source(TrainConfig(data=str(own))) is None
    assert counterfactual_source(TrainConfig(data="someone/tweets")) is None
    assert counterfactual_source(TrainConfig(data=str(own), counterfactuals="on")) == cad_train
    assert counterfactual_source(TrainConfig(data="stanfordnlp/imdb", counterfactuals="off")) is None
    assert counterfactual_source(TrainConfig(data=str(own), counterfactuals=str(own))) == own


def test_bundled_pairs_are_whole_and_labelled():
    for name, n in (("train", 3414), ("dev", 490)):
        pairs = read_pairs(EMBEDDED_CAD / f"{name}.parquet")
        assert len(pairs) == n and (pairs.groupby("pair_id").size() == 2).all()
        assert (pairs.groupby("pair_id")["label"].nunique() == 2).all()  # each edit flips the label


def test_max_train_samples_counts_the_datas_own_reviews_only(tmp_path):
    data, pairs_file = tmp_path / "reviews.parquet", tmp_path / "pairs.csv"
    make_reviews(400, seed=2).to_parquet(data)
    make_pairs(50).to_csv(pairs_file, index=False)
    config = TrainConfig(
        data=str(data), max_train_samples=100, max_eval_samples=None, counterfactuals=str(pairs_file)
    )
    plain = load_splits(config)
    mixed = with_counterfactuals(config, plain)
    assert len(plain.train) == 100
    report = mixed.counterfactuals
    assert report["pairs_train"] + report["pairs_validation"] == 50 and report["pairs_validation"] == 5
    assert len(mixed.train) == 100 + 2 * report["pairs_train"]  # the 100 reviews, and the pairs
    assert mixed.train["text"].iloc[:100].tolist() == plain.train["text"].tolist()


@pytest.mark.parametrize(
    "content, message",
    [
        (
            None,
            "counterfactuals must be auto, on, off or a file of text,label,pair_id rows ('{path}' does not exist)",
        ),
        ("text,label\nthe film was superb .,1\n", "have no column 'pair_id'"),
        ("text,label,pair_id\nthe film was superb .,1,1\n", "holds no counterfactual pair"),
        ("text,label,pair_id\na,1,1\nb,maybe,1\n", "Unknown label values"),
    ],
)
def test_bad_values_and_files_are_one_line_user_errors(tmp_path, content, message):
    path = tmp_path / "pairs.csv"
    if content is not None:
        path.write_text(content)
    config = TrainConfig(data=str(tmp_path / "reviews.csv"), counterfactuals=str(path))
    with pytest.raises(UserError) as raised:
        validate_config(config)
        read_pairs(counterfactual_source(config))
    assert message.format(path=path) in str(raised.value) and "\n" not in str(raised.value)


@pytest.mark.slow
def test_training_with_a_file_of_pairs(tmp_path, tiny_distilbert, reviews_parquet, capsys):
    """One tiny training: the recipe line counts the pairs, metrics.json and the card hold the CAD
    dev pair figures, and a plain transformers pipeline loads the model."""
    from transformers import pipeline

    from imdb_sentiment import train

    pairs_file = tmp_path / "pairs.parquet"
    make_pairs(60).to_parquet(pairs_file)
    output = tmp_path / "saved_model"
    config = tiny_config(
        tiny_distilbert,
        reviews_parquet,
        output,
        counterfactuals=str(pairs_file),
        epochs=2,
        max_train_samples=300,
    )
    result = train(config)
    printed = capsys.readouterr().out
    assert "(counterfactual pairs added: 54 to train, 6 to validation)" in printed
    metrics = json.loads((output / "metrics.json").read_text())
    assert metrics["counterfactuals"]["pairs_train"] == 54
    assert metrics["train"]["train_samples"] == 300 + 2 * 54  # the 300 sampled reviews, and the pairs
    pairs = metrics["pairs"]
    assert pairs["both"]["n"] + pairs["pairs_skipped_as_seen"] == 245 and pairs["original"]["n"] >= 400 // 2
    for key in ("original", "edited", "both"):
        assert 0 <= pairs[key]["low"] <= pairs[key]["accuracy"] <= pairs[key]["high"] <= 1
    card = (output / "README.md").read_text()
    assert "Counterfactual pairs (CAD dev (bundled)" in card and "both right (pairs)" in card
    assert "Trained with 54 counterfactual pairs" in card
    classify = pipeline("text-classification", model=str(output), device=-1)
    assert classify("the plot of film 99 was superb .")[0]["label"] in ("POSITIVE", "NEGATIVE")
    assert result.metrics["pairs"] == metrics["pairs"]
    # The figures are those of the saved model, row by row (Trainer.predict would shuffle the rows).
    from imdb_sentiment import Classifier
    from imdb_sentiment.evaluation.pairs import pair_metrics
    from imdb_sentiment.training.counterfactuals import dev_pairs

    dev, _ = dev_pairs(with_counterfactuals(result.config, load_splits(result.config)))
    served = Classifier.from_pretrained(output).predict(dev["text"].tolist())
    again = pair_metrics(dev, [p.scores["POSITIVE"] for p in served])
    for key in ("original", "edited", "both"):
        assert again[key]["accuracy"] == pytest.approx(pairs[key]["accuracy"], abs=0.005)


def test_pair_rows_are_scored_in_their_own_order(tmp_path, tiny_distilbert):
    """Trainer.predict groups evaluation rows by length, in a shuffled order; the pair figures need
    each row's own logits (predict_in_order)."""
    import numpy as np
    import torch
    from transformers import DataCollatorWithPadding, Trainer

    from imdb_sentiment.config import resolve_config
    from imdb_sentiment.model import load_model, load_tokenizer
    from imdb_sentiment.text import Encoder
    from imdb_sentiment.training.arguments import training_arguments
    from imdb_sentiment.training.scoring import encode_frame, predict_in_order

    make_reviews(10).to_parquet(tmp_path / "reviews.parquet")
    config = resolve_config(
        tiny_config(tiny_distilbert, tmp_path / "reviews.parquet", tmp_path / "out", device="cpu")
    )
    tokenizer, model = load_tokenizer(str(tiny_distilbert)), load_model(str(tiny_distilbert))
    args = training_arguments(config)
    reviews = make_reviews(100, seed=4, min_words=2, max_words=40)
    dataset = encode_frame(Encoder(tokenizer, 64, "head_tail"), reviews)
    collator = DataCollatorWithPadding(tokenizer)
    trainer = Trainer(model=model, args=args, eval_dataset=dataset, data_collator=collator)
    logits = predict_in_order(trainer, dataset)
    with torch.inference_mode():
        one_by_one = [
            model(**DataCollatorWithPadding(tokenizer)([{"input_ids": ids}])).logits[0].numpy()
            for ids in dataset["input_ids"]
        ]
    np.testing.assert_allclose(logits, np.stack(one_by_one), atol=1e-5)
    shuffled = trainer.predict(dataset).predictions
    assert not np.allclose(shuffled, logits, atol=1e-5)  # why predict() is not used for pairs


def test_training_on_every_dev_pair_skips_the_pair_metrics_and_says_so(
    tmp_path, tiny_distilbert, reviews_parquet, capsys
):
    from imdb_sentiment import train
    from imdb_sentiment.training.counterfactuals import EMBEDDED_CAD

    output = tmp_path / "saved_model"
    overrides = dict(counterfactuals=str(EMBEDDED_CAD / "dev.parquet"), epochs=1, max_train_samples=64)
    result = train(tiny_config(tiny_distilbert, reviews_parquet, output, **overrides))
    assert "No counterfactual pair metrics: all 245 pairs were in the training or validation data" in (
        capsys.readouterr().out
    )
    pairs = json.loads((output / "metrics.json").read_text())["pairs"]
    assert pairs["not_scored"] and pairs["pairs_skipped_as_seen"] == 245 and "both" not in pairs
    assert result.metrics["pairs"] == pairs
    assert "not scored, all 245 pairs were in the training" in (output / "README.md").read_text()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["saved_model"]  # checkpoints removed
