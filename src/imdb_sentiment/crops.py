"""Sentence crops: short spans cut from training reviews, carrying the review's label.

People type one or two sentences; IMDb reviews average about 230 words. Training on a mix of
whole reviews and short spans cut from them shows the model inputs of the length people type,
from the user's own data only (no outside sentences, no hand-written rules). For a ``fraction``
of the reviews, 1-3 crops of one or two consecutive sentences are added, taken first from the
last and the first sentence (where a review usually states its verdict), then from the middle.
The whole reviews stay, cut head+tail as before, so long inputs are seen as often as without
crops. Training applies it to both the train and the validation split, so calibration is fitted
on both lengths (``--short-crops``).

    from imdb_sentiment.crops import add_sentence_crops
    mixed = add_sentence_crops(frame, fraction=0.5, seed=42, max_tokens=510, count_tokens=len_fn)
"""

from __future__ import annotations

import random
import re
from collections.abc import Callable

import pandas as pd

from .text import clean_text

# A sentence ends at . ! ? (possibly followed by closing quotes or brackets) before whitespace;
# IMDb's <br /> line breaks end one too.
_LINE_BREAK = re.compile(r"<\s*br\s*/?\s*>", re.IGNORECASE)
_SENTENCE_END = re.compile(r"(?:(?<=[.!?])|(?<=[.!?][\"')\]]))\s+")
MIN_WORDS = 4  # shorter spans ("Wow." "Anyway.") rarely carry the review's verdict
MAX_WORDS = 48  # about what people type at most into a box; far below any window


def split_sentences(text: str) -> list[str]:
    """The sentences of a review, cleaned, in order (blank ones dropped)."""
    sentences = []
    for paragraph in _LINE_BREAK.split(text):
        sentences += [clean_text(s) for s in _SENTENCE_END.split(paragraph)]
    return [s for s in sentences if s]


def _spans(sentences: list[str], rng: random.Random, max_words: int) -> list[str]:
    """Candidate crops in order of preference: the last, the first, then the middle sentences;
    each one sentence, or two consecutive ones when both fit."""
    order = [len(sentences) - 1, 0] + rng.sample(range(1, len(sentences) - 1), max(0, len(sentences) - 2))
    spans, seen = [], set()
    for index in dict.fromkeys(order):  # one sentence only once, order kept
        take = 2 if rng.random() < 0.3 else 1
        start = max(0, index - (take - 1)) if index == len(sentences) - 1 else index
        span = " ".join(sentences[start : start + take])
        if len(span.split()) > max_words:
            span = sentences[index]
        words = len(span.split())
        if MIN_WORDS <= words <= max_words and span not in seen:
            spans.append(span)
            seen.add(span)
    return spans


def add_sentence_crops(
    frame: pd.DataFrame,
    fraction: float,
    seed: int,
    max_tokens: int | None = None,
    count_tokens: Callable[[str], int] | None = None,
    max_words: int = MAX_WORDS,
) -> pd.DataFrame:
    """``frame`` (columns ``text``, ``label``) followed by 1-3 crops of a ``fraction`` of its rows,
    each with its review's label. With ``count_tokens``, a crop longer than ``max_tokens`` tokens
    is dropped, so no crop is ever truncated by the window. Reviews of one sentence give none."""
    if not 0 <= fraction <= 1:
        raise ValueError(f"fraction must be between 0 and 1, not {fraction}")
    if fraction == 0 or frame.empty:
        return frame
    rng = random.Random(seed)
    chosen = rng.sample(range(len(frame)), round(fraction * len(frame)))
    texts, labels = [], []
    for row in sorted(chosen):
        text, label = frame["text"].iloc[row], frame["label"].iloc[row]
        sentences = split_sentences(text)
        if len(sentences) < 2:  # the review is already short: a crop would repeat it
            continue
        spans = _spans(sentences, rng, max_words)[: rng.randint(1, 3)]
        if count_tokens is not None and max_tokens is not None:
            spans = [s for s in spans if count_tokens(s) <= max_tokens]
        texts += spans
        labels += [label] * len(spans)
    return mix_in(frame, texts, labels, seed)


def mix_in(frame: pd.DataFrame, texts: list[str], labels: list[int], seed: int) -> pd.DataFrame:
    """``frame``'s reviews with the short ``texts`` added, shuffled in (the Trainer samples randomly
    anyway; this keeps any order-dependent consumer, such as a capped evaluation, from seeing only
    reviews). Labels keep ``frame``'s dtype."""
    added = pd.DataFrame({"text": texts, "label": pd.array(labels, dtype=frame["label"].dtype)})
    mixed = pd.concat([frame[["text", "label"]], added], ignore_index=True)
    return mixed.sample(frac=1.0, random_state=seed).reset_index(drop=True)


def crop_splits(splits, fraction: float, seed: int, encoder):
    """Train and validation splits with crops added (test untouched), sized to ``encoder``'s window."""
    if not fraction:
        return splits
    import dataclasses

    def count(text: str) -> int:
        return len(encoder.tokenizer(text, add_special_tokens=False, verbose=False)["input_ids"])

    options = dict(fraction=fraction, max_tokens=encoder.budget, count_tokens=count)
    return dataclasses.replace(
        splits,
        train=add_sentence_crops(splits.train, seed=seed, **options),
        validation=add_sentence_crops(splits.validation, seed=seed + 1, **options),
    )
