"""Sentence crops (crops.py): they keep their review's label and fit the window. (That a tiny model
learns a generated task where negation flips the label is in test_negation.py.)"""

from __future__ import annotations

import pandas as pd

from imdb_sentiment import Encoder, Splits
from imdb_sentiment.crops import add_sentence_crops, crop_splits, split_sentences

from helpers import make_tokenizer

REVIEWS = pd.DataFrame(
    {
        "text": [
            "The film was superb from start to end. The cast was brilliant in every scene!<br /><br />"
            "I loved the music and the camera work. A delightful masterpiece of a film.",
            "The plot was awful and the dialogue was dreadful. I was bored after ten minutes. "
            "The ending was a terrible waste of time. " + "It went on and on and on. " * 30,
            "One sentence only, so no crop.",
        ],
        "label": [1, 0, 1],
    }
)


def test_split_sentences():
    assert split_sentences('Great film! I loved it.<br />The end was "sad." Really?') == [
        "Great film!",
        "I loved it.",
        'The end was "sad."',
        "Really?",
    ]


def test_crops_keep_labels_and_fit_the_window():
    tokenizer = make_tokenizer()
    encoder = Encoder(tokenizer, max_length=16, strategy="head_tail")
    splits = Splits(train=REVIEWS, validation=REVIEWS.copy())
    mixed = crop_splits(splits, 1.0, 0, encoder)
    for frame in (mixed.train, mixed.validation):
        crops = frame[~frame["text"].isin(REVIEWS["text"])]
        assert len(frame) == len(REVIEWS) + len(crops) and len(crops) >= 2
        assert set(REVIEWS["text"]) <= set(frame["text"])  # the whole reviews stay
        for text, label in crops.itertuples(index=False):
            owners = [
                y
                for r, y in REVIEWS.itertuples(index=False)
                if set(split_sentences(text)) <= set(split_sentences(r))
            ]
            assert owners and set(owners) == {label}  # cut from a review, with that review's label
            ids = tokenizer(text, add_special_tokens=False)["input_ids"]
            assert len(ids) <= encoder.budget  # never cut by the window
            assert len(encoder([text])["input_ids"][0]) <= 16
    assert crop_splits(splits, 0.0, 0, encoder) is splits


def test_crop_fraction_and_labels_on_many_reviews():
    labels = [i % 2 for i in range(40)]
    texts = [
        f"Review {i} opens with tag{y} here. The middle of tag{y} goes on. It closes with tag{y} now."
        for i, y in enumerate(labels)
    ]
    frame = pd.DataFrame({"text": texts, "label": labels})
    mixed = add_sentence_crops(frame, 0.5, seed=1)
    crops = mixed[~mixed["text"].isin(frame["text"])]
    assert 20 <= len(crops) <= 60  # 1-3 crops for each of 20 reviews
    for text, label in crops.itertuples(index=False):
        assert f"tag{label}" in text and f"tag{1 - label}" not in text
    assert add_sentence_crops(frame, 0.5, seed=1).equals(mixed)  # seeded
