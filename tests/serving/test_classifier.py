"""Classifier: the one inference path, tested against the tiny model trained once per session."""

from __future__ import annotations

import json

import numpy as np
import pytest

from imdb_sentiment import Classifier, InvalidTextError, Prediction, TrainConfig, UserError
from imdb_sentiment.serving.classifier import batches_by_length

from helpers import NEGATIVE_MARKERS, POSITIVE_MARKERS, make_reviews


@pytest.fixture(scope="module")
def classifier(trained_model_dir) -> Classifier:
    return Classifier.from_pretrained(trained_model_dir, device="cpu")


def test_predictions_are_well_formed_and_learned(classifier):
    reviews = make_reviews(60, seed=7, max_words=12)  # the distribution the tiny model learned
    predictions = classifier.predict(reviews["text"].tolist(), batch_size=8)
    assert len(predictions) == 60 and all(isinstance(p, Prediction) for p in predictions)
    for p in predictions:
        assert set(p.scores) == {"NEGATIVE", "POSITIVE"}
        assert p.label in p.scores and p.score == p.scores[p.label] == max(p.scores.values())
        assert sum(p.scores.values()) == pytest.approx(1.0, abs=1e-6)
    labels = np.array([p.label == "POSITIVE" for p in predictions], dtype=int)
    assert (labels == reviews["label"].to_numpy()).mean() >= 0.9


def test_order_and_batching_do_not_change_results(classifier):
    texts = make_reviews(25, seed=3, max_words=40)["text"].tolist()
    one = classifier.predict_logits(texts, batch_size=1)
    many = classifier.predict_logits(texts, batch_size=7)
    np.testing.assert_allclose(one, many, atol=1e-5)
    reversed_logits = classifier.predict_logits(texts[::-1], batch_size=7)
    np.testing.assert_allclose(reversed_logits[::-1], many, atol=1e-5)


def test_uses_the_training_config(classifier, trained_model_dir):
    trained = TrainConfig.load(trained_model_dir)
    assert classifier.max_length == trained.max_length
    assert classifier.encoder.strategy == trained.truncation
    # the same cleaning as training: HTML line breaks do not change the prediction
    np.testing.assert_allclose(
        classifier.predict_logits(["the plot was <br /><br /> superb ."]),
        classifier.predict_logits(["the plot was superb ."]),
        atol=1e-6,
    )
    # and reviews longer than the window are cut to it
    assert max(map(len, classifier.encode(["the film " * 500]))) == trained.max_length


def test_a_window_can_be_chosen_within_the_models_positions(trained_model_dir):
    trained = TrainConfig.load(trained_model_dir)
    wider = Classifier.from_pretrained(trained_model_dir, device="cpu", max_length=2 * trained.max_length)
    assert wider.max_length == 2 * trained.max_length
    assert wider.encoder.strategy == trained.truncation  # the strategy stays the trained one
    assert max(map(len, wider.encode(["the film " * 500]))) == 2 * trained.max_length
    for bad in (4, 10**6):
        with pytest.raises(UserError, match="max_length must be between 8 and"):
            Classifier.from_pretrained(trained_model_dir, device="cpu", max_length=bad)


@pytest.mark.parametrize(
    ("value", "message"), [(None, "None"), ("", "empty"), ("  \n\t ", "empty"), (42, "string")]
)
def test_bad_reviews_are_value_errors_naming_the_problem(classifier, value, message):
    with pytest.raises(ValueError, match=message) as caught:
        classifier.predict(["a fine film", value])
    assert isinstance(caught.value, InvalidTextError) and "position 1" in str(caught.value)


def test_a_single_string_is_refused(classifier):
    with pytest.raises(ValueError, match="list"):
        classifier.predict("a superb film")
    with pytest.raises(ValueError, match="not int"):
        classifier.predict(5)


def test_any_iterable_of_reviews_is_taken_like_a_list(classifier):
    import pandas as pd

    texts = ["a superb film", "an awful film"]
    expected = [p.label for p in classifier.predict(texts)]
    for given in (pd.Series(texts), np.array(texts), (t for t in texts), tuple(texts)):
        assert [p.label for p in classifier.predict(given)] == expected


def test_batch_sizes_and_threads_below_one_are_refused(classifier, trained_model_dir):
    for bad in (0, -1):
        with pytest.raises(UserError, match="at least 1"):
            classifier.predict(["a superb film"], batch_size=bad)
        with pytest.raises(UserError, match="threads must be at least 1"):
            Classifier.from_pretrained(trained_model_dir, device="cpu", threads=bad)


def test_hostile_text_is_sanitised_and_capped(classifier):
    texts = ["superb \ud800 film", "awful\x00 film \x1b[31m", "wonderful " * 500_000]  # ~5 MB
    predictions = classifier.predict(texts)
    assert [p.label for p in predictions] == ["POSITIVE", "NEGATIVE", "POSITIVE"]
    assert all(len(row) <= classifier.max_length for row in classifier.encode(texts))


def test_markers_drive_the_label(classifier):
    positive = [f"the film was {word} ." for word in POSITIVE_MARKERS]
    negative = [f"the film was {word} ." for word in NEGATIVE_MARKERS]
    labels = [p.label for p in classifier.predict(positive + negative)]
    assert labels == ["POSITIVE"] * len(positive) + ["NEGATIVE"] * len(negative)


def test_agrees_with_transformers_pipeline(classifier, trained_model_dir):
    from transformers import pipeline

    texts = make_reviews(40, seed=11, max_words=12)["text"].str.replace("<br />", " ").tolist()
    reference = pipeline("text-classification", model=str(trained_model_dir), device="cpu")
    expected = [r["label"] for r in reference(texts, truncation=True)]
    assert [p.label for p in classifier.predict(texts)] == expected


@pytest.mark.parametrize("name", ["saved_model_that_does_not_exist", "./nowhere", "a/b/c"])
def test_missing_model_says_how_to_train_one(name, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(UserError, match="make train") as caught:
        Classifier.from_pretrained(name)
    assert "notebook" in str(caught.value)


def test_pickle_only_and_damaged_folders_are_refused(tmp_path, trained_model_dir):
    pickled = tmp_path / "pickled"
    pickled.mkdir()
    (pickled / "config.json").write_text(json.dumps({"model_type": "distilbert"}))
    (pickled / "pytorch_model.bin").write_bytes(b"not loaded")
    with pytest.raises(UserError, match="safetensors"):
        Classifier.from_pretrained(pickled)
    damaged = tmp_path / "damaged"
    damaged.mkdir()
    for source in trained_model_dir.iterdir():
        if source.is_file():
            (damaged / source.name).write_bytes(source.read_bytes())
    weights = damaged / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[: weights.stat().st_size // 2])
    with pytest.raises(UserError, match="damaged"):
        Classifier.from_pretrained(damaged)


def test_batches_by_length_groups_longest_first_within_limits():
    lengths = [5, 50, 3, 40, 40, 7, 1, 64]
    batches = list(batches_by_length(lengths, batch_size=3, max_batch_tokens=100))
    assert sorted(i for batch in batches for i in batch) == list(range(len(lengths)))
    assert all(len(b) <= 3 and (len(b) == 1 or lengths[b[0]] * len(b) <= 100) for b in batches)
    assert [lengths[i] for batch in batches for i in batch] == sorted(lengths, reverse=True)


def test_a_hub_id_is_served_from_its_snapshot_like_a_local_folder(tmp_path, trained_model_dir, monkeypatch):
    """`owner/name` from the Hub cache (offline): its training config (window, truncation) is used."""
    import shutil

    revision = "0" * 40
    repo = tmp_path / "cache" / "models--me--imdb"
    shutil.copytree(trained_model_dir, repo / "snapshots" / revision)
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text(revision)
    from huggingface_hub import constants  # read from the environment once, at import

    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    local = Classifier.from_pretrained(trained_model_dir, device="cpu", backend="torch")
    hub = Classifier.from_pretrained("me/imdb", device="cpu", backend="torch")
    assert hub.max_length == local.max_length == TrainConfig.load(trained_model_dir).max_length
    texts = ["a superb film .", "an awful film ."]
    np.testing.assert_allclose(hub.predict_logits(texts), local.predict_logits(texts), atol=1e-5)
    with pytest.raises(UserError, match="me/missing"):
        Classifier.from_pretrained("me/missing", device="cpu")
