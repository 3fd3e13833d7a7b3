"""Negation pairs (negation.py): polar words come from the data, each pair is a verdict sentence
of a review and that sentence negated with the other label, and a tiny model trained on reviews
with no negation at all learns from the pairs that "not" flips the verdict."""

from __future__ import annotations

import pandas as pd
import pytest

from imdb_sentiment.crops import split_sentences
from imdb_sentiment.negation import add_negation_examples, natural_negations, polar_words

from helpers import make_verdict_reviews

NEGATORS = ("was not", "is not", "wasn't", "isn't", "was never", "is never")


def test_polar_words_are_learnt_from_the_labels():
    reviews = make_verdict_reviews(200, seed=0)
    ratios = polar_words(reviews["text"].tolist(), reviews["label"].tolist())
    assert ratios["superb"] > 0.7 and ratios["dreadful"] < -0.7
    assert "the" not in ratios and "plot" not in ratios  # on both sides alike


def test_pairs_are_a_verdict_sentence_and_its_negation_with_the_other_label():
    reviews = make_verdict_reviews(300, seed=1)
    mixed = add_negation_examples(reviews, 1.0, seed=0)
    added = mixed[~mixed["text"].isin(reviews["text"])]
    assert set(reviews["text"]) <= set(mixed["text"])  # the whole reviews stay
    negated = added[added["text"].str.contains("not|never|n't")]
    plain = added.drop(negated.index)
    assert len(plain) == len(negated) == 300  # every review has one verdict sentence here
    sentence_label = {}
    for text, label in reviews.itertuples(index=False):
        for sentence in split_sentences(text):
            sentence_label[sentence] = label
    for text, label in plain.itertuples(index=False):
        assert sentence_label[text] == label  # cut from a review, with its label
    for text, label in negated.itertuples(index=False):
        originals = [
            sentence_label[text.replace(negator, negator.split()[0] if " " in negator else negator[:-3])]
            for negator in NEGATORS
            if negator in text
        ]
        assert originals == [1 - label]  # one negation of one sentence, with the other label
    assert mixed["label"].dtype == reviews["label"].dtype
    assert add_negation_examples(reviews, 1.0, seed=0).equals(mixed)  # seeded


def test_sentences_that_negation_need_not_flip_give_no_pair():
    reviews = pd.DataFrame(
        {
            "text": [
                "The plot was superb but the cast was weak. The film is not dreadful.",
                "Was the film superb? The ending was superb and the music was dreadful.",
            ]
            * 20
            + ["The film was superb. Filler text here."] * 60
            + ["The film was dreadful. Filler text here."] * 60,
            "label": [1, 0] * 20 + [1] * 60 + [0] * 60,
        }
    )
    added = add_negation_examples(reviews, 1.0, seed=0).iloc[:, 0].tolist()
    added = [text for text in added if text not in set(reviews["text"])]
    # Contrast, a negation, a question and two polar words are skipped; plain verdicts are not.
    assert set(added) >= {"The film was superb.", "The film was dreadful."}
    assert all(text.startswith("The film w") for text in added)


POLAR = {"superb": 1.0, "moving": 1.0, "dreadful": -1.0, "boring": -1.0}


@pytest.mark.parametrize(
    ("sentence", "label", "kept"),
    [
        ("The film was not dreadful at all.", 1, True),  # a negated word of the other side: a flip
        ("It was never boring for a second.", 1, True),
        ("The film wasn't superb in any way.", 0, True),
        ("It didn't work and the ending was dreadful.", 0, True),  # negation elsewhere, label agrees
        ("Nothing prepared me for such a superb and moving film.", 1, True),
        ("The film was not superb at all.", 1, False),  # negated, yet the label agrees with the word
        ("The film was not dreadful, it was boring.", 1, False),  # two polar words, one not negated
        ("It didn't work and the ending was dreadful.", 1, False),  # the label disagrees
        ("The film was superb and moving.", 1, False),  # no negation
        ("Was the film not dreadful?", 1, False),  # a question
        ("The film was not dreadful but it dragged.", 1, False),  # a contrast
        ("Not dreadful.", 1, False),  # shorter than people type
    ],
)
def test_natural_negations_keep_the_sentences_whose_review_label_they_share(sentence, label, kept):
    frame = pd.DataFrame({"text": [f"Filler words come first here. {sentence}"], "label": [label]})
    assert natural_negations(frame, POLAR) == (([sentence], [label]) if kept else ([], []))


def test_negated_sentences_are_added_with_as_many_of_each_label():
    # 14 of each sentence: under polar_words' 15 reviews, so only "superb" and "boring" are polar.
    sentences = {1: "The film was not boring at all.", 0: "It didn't work and the end was boring."}
    texts = [f"The film was superb. {sentences[1]}"] * 14 + ["The film was superb."] * 46
    texts += [f"The film was boring. {sentences[0]}"] * 10 + ["The film was boring."] * 50
    reviews = pd.DataFrame({"text": texts, "label": [1] * 60 + [0] * 60})
    mixed = add_negation_examples(reviews, 0.0, seed=0, negated_sentences=True)
    added = mixed[~mixed["text"].isin(reviews["text"])]
    assert added["label"].value_counts().to_dict() == {0: 10, 1: 10}
    assert {text: label for text, label in added.itertuples(index=False)} == {
        text: label for label, text in sentences.items()
    }


def test_no_pairs_at_zero_and_a_clear_error_out_of_range():
    reviews = make_verdict_reviews(10)
    assert add_negation_examples(reviews, 0.0, seed=0) is reviews
    with pytest.raises(ValueError, match="between 0 and 1"):
        add_negation_examples(reviews, 1.5, seed=0)


def test_a_tiny_model_learns_negation_from_the_pairs_alone(tmp_path):
    from imdb_sentiment import Classifier, train

    from conftest import tiny_config
    from helpers import NEGATION_RECIPE, NEGATION_VOCAB, NEGATIVE_MARKERS, POSITIVE_MARKERS, save_tiny_model

    model = save_tiny_model(tmp_path / "tiny", vocab=NEGATION_VOCAB)
    reviews = make_verdict_reviews(600, seed=0)
    assert not reviews["text"].str.contains("not|never|n't").any()  # negation comes from the pairs
    reviews.to_parquet(tmp_path / "train.parquet")
    overrides = dict(NEGATION_RECIPE, max_length=48, epochs=30, negation_pairs=1.0)
    train(tiny_config(model, tmp_path / "train.parquet", tmp_path / "saved_model", **overrides))

    heldout = make_verdict_reviews(200, seed=1)
    markers = set(POSITIVE_MARKERS + NEGATIVE_MARKERS)
    verdicts = [next(s for s in split_sentences(t) if markers & set(s.split())) for t in heldout["text"]]
    negated = [v.replace(" was ", " wasn't ").replace(" is ", " is never ") for v in verdicts]
    classifier = Classifier.from_pretrained(tmp_path / "saved_model")
    for texts, expected in ((verdicts, heldout["label"]), (negated, 1 - heldout["label"])):
        predicted = [int(p.label == "POSITIVE") for p in classifier.predict(texts)]
        accuracy = sum(p == y for p, y in zip(predicted, expected)) / len(texts)
        assert accuracy >= 0.9, (texts[0], accuracy)
