"""Sentence-level multiple-instance learning: teach the classifier to read single sentences from
review labels alone (``--sentence-mil``).

A review's label says nothing about any one of its sentences, so sentence crops labelled by
their review are noisy (docs/short_texts.md). Multiple-instance learning (Angelidis and Lapata,
TACL 2018) uses the label where it holds: besides the whole review's usual loss, the model scores
each of the review's sentences on its own, and the mean of those sentence logits, the review's
"bag", is trained to give the review's label. Once the bag is right the loss stops pushing, so a
neutral or contrary sentence is not forced to the review's side; the sentences are scored by
the same model and head that are saved, so nothing extra is kept.

    from imdb_sentiment.sentence_mil import add_sentence_bags, SentenceBagCollator, SentenceMILTrainer
"""

from __future__ import annotations

import pandas as pd
import torch
from transformers import DataCollatorWithPadding, Trainer

from .crops import MIN_WORDS, split_sentences

SENTENCES = "sentence_bag"  # the dataset column: the token ids of each of the review's sentences
MAX_SENTENCES = 6  # per review (IMDb reviews have about 10): the extra compute per step stays under half
SENTENCE_TOKENS = 48  # a sentence's window; people's sentences are shorter
CHUNK = 32  # sentences padded together: sorted by length first, so little is spent on padding


def review_sentences(text: str, max_sentences: int = MAX_SENTENCES) -> list[str]:
    """The sentences of ``text`` long enough to carry an opinion, evenly spread over the review
    when there are more than ``max_sentences`` (so the opening and the verdict are both kept)."""
    sentences = [s for s in split_sentences(text) if len(s.split()) >= MIN_WORDS]
    if len(sentences) <= max_sentences:
        return sentences
    step = (len(sentences) - 1) / (max_sentences - 1)
    return [sentences[round(i * step)] for i in range(max_sentences)]


def add_sentence_bags(dataset, frame: pd.DataFrame, tokenizer, max_tokens: int = SENTENCE_TOKENS):
    """``dataset`` (the encoded ``frame``, row for row) with each review's sentences as token ids."""
    bags = []
    for text in frame["text"].tolist():
        sentences = review_sentences(text)
        encoded = (
            tokenizer(sentences, truncation=True, max_length=max_tokens)["input_ids"] if sentences else []
        )
        bags.append(encoded)
    return dataset.add_column(SENTENCES, bags)


class SentenceBagCollator:
    """Pads the reviews as usual, and the batch's sentences, sorted by length, in chunks of
    ``CHUNK`` (``sentence_chunks``); ``bag_index`` says which review each sentence, in chunk order,
    belongs to."""

    def __init__(self, tokenizer, pad_to_multiple_of: int | None = None):
        self.pad = DataCollatorWithPadding(tokenizer, pad_to_multiple_of=pad_to_multiple_of)

    def __call__(self, features: list[dict]) -> dict:
        reviews, sentences, owners = [], [], []
        for row, feature in enumerate(features):
            feature = dict(feature)
            bag = feature.pop(SENTENCES, None) or []
            feature.pop("length", None)
            reviews.append(feature)
            sentences += [{"input_ids": ids} for ids in bag]
            owners += [row] * len(bag)
        batch = self.pad(reviews)
        if sentences:
            order = sorted(range(len(sentences)), key=lambda i: len(sentences[i]["input_ids"]))
            batch["sentence_chunks"] = [
                dict(self.pad([sentences[i] for i in order[start : start + CHUNK]]))
                for start in range(0, len(order), CHUNK)
            ]
            batch["bag_index"] = torch.tensor([owners[i] for i in order])
        return batch


def bag_logits(sentence_logits: torch.Tensor, bag_index: torch.Tensor, bags: int) -> torch.Tensor:
    """The mean of each bag's sentence logits (a bag without sentences gets zeros; its loss is
    left out by :func:`mil_loss`)."""
    sums = sentence_logits.new_zeros(bags, sentence_logits.shape[1]).index_add(0, bag_index, sentence_logits)
    counts = torch.bincount(bag_index, minlength=bags).clamp(min=1).unsqueeze(1)
    return sums / counts


def mil_loss(sentence_logits, bag_index, labels) -> torch.Tensor:
    """Cross-entropy of each review's bag of sentences against the review's label."""
    bags = bag_logits(sentence_logits, bag_index, len(labels))
    has_sentences = torch.bincount(bag_index, minlength=len(labels)) > 0
    return torch.nn.functional.cross_entropy(bags[has_sentences], labels[has_sentences])


class SentenceMILTrainer(Trainer):
    """A Trainer whose training loss adds ``mil_weight`` times the sentence-bag loss to the
    reviews' own; evaluation batches carry no sentences and are scored as usual."""

    def __init__(self, *args, mil_weight: float = 1.0, **kwargs):
        super().__init__(*args, **kwargs)
        self.mil_weight = mil_weight

    def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
        chunks = inputs.pop("sentence_chunks", None)
        bag_index = inputs.pop("bag_index", None)
        loss, outputs = super().compute_loss(model, inputs, True, num_items_in_batch)
        if chunks and model.training:
            sentence_logits = torch.cat([model(**chunk).logits for chunk in chunks])
            loss = loss + self.mil_weight * mil_loss(sentence_logits, bag_index, inputs["labels"])
        return (loss, outputs) if return_outputs else loss
