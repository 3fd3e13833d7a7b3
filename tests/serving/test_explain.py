"""Word attributions (explain.py): markers found with the right signs, completeness, truncation, CLI.

The session's tiny trained DistilBERT learned a task whose sentiment is carried only by known
marker words, so a faithful explanation must put its largest weights on those markers.
"""

from __future__ import annotations

import math

import pytest

from imdb_sentiment.errors import UserError
from imdb_sentiment.serving.classifier import Classifier
from imdb_sentiment.serving.explain import explain_text, format_explanation
from imdb_sentiment.text import InvalidTextError, char_budget, prepare_text

from helpers import FILLER, NEGATIVE_MARKERS, POSITIVE_MARKERS, make_reviews

MARKERS = set(POSITIVE_MARKERS) | set(NEGATIVE_MARKERS)


@pytest.fixture(scope="module")
def classifier(trained_model_dir):
    return Classifier.from_pretrained(trained_model_dir, device="cpu")


@pytest.fixture(scope="module")
def reviews():
    return make_reviews(30, seed=123, max_words=12)


@pytest.mark.parametrize("method, min_top", [("ig", 0.7), ("grad_x_input", 0.9)])
def test_markers_get_the_largest_weights_with_the_right_signs(classifier, reviews, method, min_top):
    top_is_marker = right_sign = 0
    marker_weights, filler_weights = [], []
    for text, label in zip(reviews["text"], reviews["label"]):
        explanation = explain_text(classifier, text, method=method, steps=16)
        sign = 1.0 if label == 1 else -1.0
        toward = "POSITIVE" if label == 1 else "NEGATIVE"
        top_is_marker += explanation.top(1, toward)[0][0] in MARKERS
        right_sign += sign * sum(x for w, x in explanation.pairs if w in MARKERS) > 0
        marker_weights += [sign * x for w, x in explanation.pairs if w in MARKERS]
        filler_weights += [abs(x) for w, x in explanation.pairs if w not in MARKERS]
    n = len(reviews)
    # Measured on this fixture: IG 24/30 top words are markers, 29/30 right signs, markers 7x
    # fillers; gradient x input 30/30, 30/30, 15x. IG's path from an all-[PAD] review through a
    # saturated 2-layer model lends some weight to '.'; on the real model IG is the faithful one.
    assert top_is_marker >= min_top * n
    assert right_sign >= 0.9 * n
    assert sum(marker_weights) / len(marker_weights) > 4 * sum(filler_weights) / len(filler_weights)


def test_classifier_explain_returns_word_weight_pairs(classifier):
    pairs = classifier.explain("the movie was wonderful and the music superb .")
    assert [word for word, _ in pairs] == [
        "the",
        "movie",
        "was",
        "wonderful",
        "and",
        "the",
        "music",
        "superb",
        ".",
    ]
    top = max(pairs, key=lambda pair: pair[1])
    assert top[0] in POSITIVE_MARKERS
    negative = classifier.explain("the plot was dreadful , a waste of time .")
    assert min(negative, key=lambda pair: pair[1])[0] in NEGATIVE_MARKERS


def test_ig_completeness_and_agreement_with_predict(classifier, reviews):
    # Completeness (the weights add up to f(x) - f(baseline)) holds in the limit of many steps;
    # how fast the quadrature gets there depends on how sharp the trained model is along the
    # path, and the tiny model's sharpness varies with the CPU it trained on (the same seed on
    # another CPU gave gaps of 0-4% at 128 steps and 0-32% at 32). Hence many steps, a bound
    # on the mean relative gap and a looser one on each review.
    relative_gaps = []
    for text in reviews["text"][:5]:
        explanation = explain_text(classifier, text, method="ig", steps=128)
        relative_gaps.append(explanation.completeness_gap / (abs(explanation.delta) + 1e-3))
        prediction = classifier.predict([text])[0]
        assert explanation.label == prediction.label
        assert explanation.score == pytest.approx(prediction.score, abs=1e-4)
    assert sum(relative_gaps) / len(relative_gaps) <= 0.05 and max(relative_gaps) <= 0.15, relative_gaps


def test_gradient_x_input_is_one_pass_at_the_review(classifier):
    # Its signs are checked over 30 reviews above; one review's sign is not a stable property of
    # a local linearisation (it flips with the CPU the tiny model trained on).
    text = "the film was awful and the cast boring ."
    explanation = explain_text(classifier, text, method="grad_x_input")
    assert explanation.steps == 1 and explanation.completeness_gap == 0.0
    assert [word for word, _ in explanation.pairs] == text.split()
    scores = classifier.predict([text])[0].scores
    assert explanation.delta == pytest.approx(math.log(scores["POSITIVE"] / scores["NEGATIVE"]), abs=1e-3)


def test_batching_does_not_change_the_result(classifier, reviews):
    text = reviews["text"].iloc[0]
    whole = explain_text(classifier, text, steps=12, max_batch_tokens=100_000)
    split = explain_text(classifier, text, steps=12, max_batch_tokens=1)  # two points per pass
    assert [round(x, 4) for x in whole.weights] == [round(x, 4) for x in split.weights]


def test_words_follow_the_prepared_text(classifier):
    text = "the movie<br />was   wonderful\n\nand it was superb !"
    explanation = explain_text(classifier, text)
    assert " ".join(explanation.words) == prepare_text(text, classifier.max_length)
    assert "".join(span for span, _ in explanation.highlights()) == " ".join(explanation.words)
    assert all(value is None or -1 <= value <= 1 for _, value in explanation.highlights())


def test_long_review_truncated_as_prediction_with_middle_not_seen(classifier):
    words = ["wonderful"] + [FILLER[i % len(FILLER)] for i in range(300)] + ["awful", "."]
    text = " ".join(words)
    explanation = explain_text(classifier, text)
    assert len(explanation.words) == len(words)
    assert 0 < explanation.unseen < len(words)
    assert explanation.weights[0] is not None and explanation.weights[-2] is not None  # head and tail
    assert explanation.weights[len(words) // 2] is None
    assert explanation.score == pytest.approx(classifier.predict([text])[0].score, abs=1e-4)
    assert any("not seen" in span for span, _ in explanation.highlights())
    assert all(weight is not None for _, weight in explanation.top(100, "POSITIVE"))


@pytest.mark.parametrize("silent", ["\u00ad", "\u200f", "\u0301"], ids=["soft hyphen", "RLM", "lone accent"])
def test_a_word_with_no_token_weighs_nothing_and_is_not_called_truncated(classifier, silent):
    explanation = explain_text(classifier, f"the film was superb {silent} and brilliant .", steps=4)
    assert silent in explanation.words and explanation.unseen == 0
    assert explanation.weights[explanation.words.index(silent)] == 0.0
    assert not any("not seen" in span for span, _ in explanation.highlights())
    assert "not seen" not in format_explanation(explanation)


def test_a_review_beyond_the_size_cap_counts_every_word_it_hides(classifier):
    cap = char_budget(classifier.max_length)  # characters prepare_text keeps
    filler = [FILLER[i % len(FILLER)] for i in range(cap // 2)]  # words of 2+ characters: over 3x the cap
    words = ["wonderful", *filler, "awful", "."]
    explanation = explain_text(classifier, " ".join(words), steps=4)
    seen = sum(weight is not None for weight in explanation.weights)
    assert (
        explanation.cut > 0 and abs(seen + explanation.unseen - len(words)) <= 1
    )  # one word split by the cap
    hidden = [span for span, _ in explanation.highlights() if "not seen" in span]
    assert hidden == [f" [... {explanation.unseen} words not seen by the model (truncated) ...] "]
    assert f"not seen: {explanation.unseen} words" in format_explanation(explanation)


def test_bert_models_are_supported(tiny_bert):
    classifier = Classifier.from_pretrained(tiny_bert, device="cpu")
    explanation = explain_text(classifier, "the plot was superb but the ending dreadful .", steps=32)
    assert len(explanation.words) == 9 and all(weight is not None for weight in explanation.weights)
    assert explanation.completeness_gap <= 0.05 * abs(explanation.delta) + 1e-3


def test_bad_input_is_a_user_error(classifier):
    with pytest.raises(InvalidTextError):
        explain_text(classifier, "   ")
    with pytest.raises(UserError, match="method"):
        explain_text(classifier, "a film", method="lime")


def test_cli_prints_top_words_both_ways(trained_model_dir, capsys):
    from imdb_sentiment.cli import main

    code = main(
        ["explain", "--model-dir", str(trained_model_dir), "--top", "3", "the film was superb but boring ."]
    )
    out = capsys.readouterr().out
    assert code == 0
    positive, negative = [line for line in out.splitlines() if "toward" in line]
    assert "superb" in positive and "boring" in negative


def test_app_explain_endpoint_through_gradio_client(classifier):
    import socket

    from gradio_client import Client

    from imdb_sentiment.serving.app import build_demo, launch

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    demo = build_demo(classifier)
    launch(demo, port=port, prevent_thread_lock=True)
    try:
        client = Client(demo.local_url, verbose=False)
        result = client.predict("the movie was superb but the plot boring .", api_name="/explain")
        spans = {item["token"]: item["class_or_confidence"] for item in result}
        assert "".join(item["token"] for item in result) == "the movie was superb but the plot boring ."
        assert spans["superb"] > 0 and spans["boring"] < 0
        assert all(value is None or -1 <= value <= 1 for value in spans.values())
        long_review = "wonderful " + " ".join(FILLER * 10) + " awful ."
        tokens = [item["token"] for item in client.predict(long_review, api_name="/explain")]
        assert any("not seen by the model" in token for token in tokens)
        with pytest.raises(Exception, match="enter a review"):
            client.predict("   ", api_name="/explain")
    finally:
        demo.close()
