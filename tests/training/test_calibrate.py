"""Platt scaling: the fit recovers a known scale and shift, undoes a threshold drift, refuses what it
cannot fit, and folding it into the output layer gives exactly the calibrated logits."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from imdb_sentiment.training.calibrate import (
    Calibration,
    fit_calibration,
    fold_into_output_layer,
    output_layer,
)


def margins_to_logits(margin: np.ndarray) -> np.ndarray:
    return np.stack([-margin / 2, margin / 2], axis=1)


def test_fit_recovers_a_known_scale_and_shift():
    rng = np.random.default_rng(0)
    margin = rng.normal(0, 3, size=20_000)
    labels = (rng.random(20_000) < 1 / (1 + np.exp(-(0.5 * margin + 1.0)))).astype(int)
    calibration = fit_calibration(labels, margins_to_logits(margin))
    assert calibration.scale == pytest.approx(0.5, abs=0.03)
    assert calibration.shift == pytest.approx(1.0, abs=0.06)


def test_calibration_moves_a_drifted_threshold_back():
    # A model that ranks well but says POSITIVE far too often (its margin is pushed up by 2).
    rng = np.random.default_rng(1)
    labels = rng.integers(0, 2, size=2_000)
    margin = np.where(labels == 1, 1.5, -1.5) + rng.normal(0, 1.5, size=2_000) + 2.0
    logits = margins_to_logits(margin)
    calibration = fit_calibration(labels, logits)
    before = np.mean(logits.argmax(1) == labels)
    calibrated = calibration.apply(logits)
    after = np.mean(calibrated.argmax(1) == labels)
    assert np.mean(logits.argmax(1)) > 0.75  # drifted
    assert abs(np.mean(calibrated.argmax(1)) - 0.5) < 0.05  # balanced again
    assert after > before + 0.1


@pytest.mark.parametrize(
    "labels, margin",
    [
        (np.ones(200, dtype=int), np.linspace(-2, 2, 200)),  # one class only
        (np.tile([0, 1], 10), np.linspace(-2, 2, 20)),  # too few reviews
        (np.repeat([1, 0], 100), np.linspace(-2, 2, 200)),  # the margin ranks the classes backwards
    ],
)
def test_what_cannot_be_fitted_is_left_uncalibrated(labels, margin):
    assert fit_calibration(labels, margins_to_logits(margin)) is None


def test_perfectly_separated_validation_still_gives_a_finite_fit():
    labels = np.repeat([0, 1], 100)
    calibration = fit_calibration(labels, margins_to_logits(np.where(labels == 1, 5.0, -5.0)))
    assert np.isfinite(calibration.scale) and calibration.scale > 0


def test_more_than_two_classes_is_refused():
    with pytest.raises(ValueError, match="two-class"):
        fit_calibration(np.zeros(100, dtype=int), np.zeros((100, 3)))


def tiny_classifier(architecture: str):
    from transformers import (
        BertConfig,
        BertForSequenceClassification,
        DistilBertConfig,
        DistilBertForSequenceClassification,
        RobertaConfig,
        RobertaForSequenceClassification,
    )

    torch.manual_seed(0)
    small = dict(vocab_size=100, max_position_embeddings=64)
    if architecture == "distilbert":
        return DistilBertForSequenceClassification(
            DistilBertConfig(dim=16, hidden_dim=32, n_layers=1, n_heads=2, **small)
        )
    layer = dict(hidden_size=16, intermediate_size=32, num_hidden_layers=1, num_attention_heads=2)
    if architecture == "bert":
        return BertForSequenceClassification(BertConfig(**layer, **small))
    return RobertaForSequenceClassification(RobertaConfig(**layer, **small, pad_token_id=1))


@pytest.mark.parametrize("architecture", ["distilbert", "bert", "roberta"])
def test_folding_gives_the_calibrated_logits(architecture):
    model = tiny_classifier(architecture).eval()
    with torch.no_grad():  # a head that is not all zeros, so the fold has something to scale
        output_layer(model).bias.copy_(torch.tensor([0.3, -0.2]))
    input_ids = torch.randint(3, 100, (4, 12))
    with torch.no_grad():
        before = model(input_ids=input_ids).logits.double().numpy()
    calibration = Calibration(scale=0.7, shift=-0.9)
    fold_into_output_layer(model, calibration)
    with torch.no_grad():
        after = model(input_ids=input_ids).logits.double().numpy()
    np.testing.assert_allclose(after, calibration.apply(before), atol=1e-5)
    # P(POSITIVE) is sigmoid(scale * margin + shift), as fitted
    expected = 1 / (1 + np.exp(-(0.7 * (before[:, 1] - before[:, 0]) - 0.9)))
    np.testing.assert_allclose(torch.softmax(torch.from_numpy(after), -1)[:, 1].numpy(), expected, atol=1e-5)


def test_training_saves_the_calibrated_model_and_says_so(trained_model, trained_model_dir):
    calibration = trained_model.metrics["calibration"]
    assert calibration["fitted_on"] == "validation"
    assert calibration["scale"] > 0
    # the model card states it; the saved-metrics test in test_train.py checks that the saved
    # model's validation scores are the ones reported, i.e. the fold happened before saving
    assert "Calibrated on the validation split" in (trained_model_dir / "README.md").read_text()
