"""Negation pairs: minimal pairs made from the training reviews, showing the model what "not" does.

IMDb reviewers rarely negate their verdict ("not bad", "never boring"), so a model trained on their
reviews reads "not bad" by its "bad". This adds automatically generated counterfactuals (Wang and
Culotta, AAAI 2021; Kaushik et al., ICLR 2020 wrote theirs by hand): for a ``fraction`` of the
training reviews, one sentence that states the review's verdict with a single polar word right after
is/was/are/were ("The acting was superb.") is added twice: as it is, with the review's label, and
negated ("The acting wasn't superb."), with the other label. The polar words come from the training
reviews themselves (log-count ratios, Wang and Manning 2012), so the pairs use the user's data and
one rule of English, no outside word list. Sentences with a negation, a contrast or a question, or
with more than one polar word, are skipped: negating one word of them need not flip the verdict.

Pairs alone teach "a negator flips the polar word", which real sentences break ("didn't work, a
terrible battery"). ``negated_sentences=True`` also adds the reviews' own sentences that contain a
negation, with the review's label (:func:`natural_negations`): those whose negation is followed by
the one polar word, of the other side ("wasn't bad at all" in a positive review), and those whose
polar words all agree with the label and none is negated.

    from imdb_sentiment.negation import add_negation_examples
    mixed = add_negation_examples(train_frame, fraction=0.5, seed=42, negated_sentences=True)
"""

from __future__ import annotations

import math
import random
import re
from collections import Counter

import pandas as pd

from .crops import mix_in, split_sentences

_WORD = re.compile(r"[a-z]+(?:'[a-z]+)?")
# A word that negates what follows; the app's trust note looks for the same words.
NEGATOR = re.compile(
    r"\b(?:not|no|never|nothing|nobody|none|neither|nor|without|hardly|barely|\w+n['’]t)\b", re.IGNORECASE
)
_CONTRAST = re.compile(
    r"\b(?:but|although|though|however|yet|except|despite|if|unless|whether|until)\b|\?", re.IGNORECASE
)
# A copula, up to two articles or intensifiers, then the (lower-case) word it predicates.
_PREDICATE = re.compile(
    r"\b(is|was|are|were)\s+((?:(?:a|an|so|very|really|quite|truly|just|pretty|simply|absolutely|"
    r"extremely|incredibly|totally|utterly|such|too)\s+){0,2})([a-z]+)\b"
)
# A negator and the three words after it: the words it most likely negates.
_NEGATED_SPAN = re.compile(NEGATOR.pattern + r"((?:\s+[a-z']+){1,3})", re.IGNORECASE)
_CONTRACTED = {"is": "isn't", "was": "wasn't", "are": "aren't", "were": "weren't"}
MIN_COUNT = 15  # reviews a word must occur in before its ratio means anything
MIN_RATIO = 0.7  # |log ratio| of a polar word: about twice as common on one side
MIN_WORDS, MAX_WORDS = 4, 25  # the length of what people type


def polar_words(texts, labels, min_count: int = MIN_COUNT, min_ratio: float = MIN_RATIO) -> dict[str, float]:
    """Word -> log ratio of the share of positive to negative reviews it occurs in (add-one
    smoothed), for the words in at least ``min_count`` reviews with ``|ratio| >= min_ratio``."""
    counts = {0: Counter(), 1: Counter()}
    for text, label in zip(texts, labels, strict=True):
        counts[int(label)].update(set(_WORD.findall(text.lower())))
    n_positive = sum(1 for label in labels if int(label) == 1)
    n_negative = len(labels) - n_positive
    ratios = {}
    for word in counts[0].keys() | counts[1].keys():
        positive, negative = counts[1][word], counts[0][word]
        if positive + negative < min_count:
            continue
        ratio = math.log((positive + 1) / (n_positive + 1)) - math.log((negative + 1) / (n_negative + 1))
        if abs(ratio) >= min_ratio:
            ratios[word] = ratio
    return ratios


def negate(sentence: str, match: re.Match, style: str) -> str:
    """``sentence`` with the copula of ``match`` negated: "not", a contraction or "never"."""
    copula = match.group(1)
    negated = {"not": f"{copula} not", "n't": _CONTRACTED[copula], "never": f"{copula} never"}[style]
    return sentence[: match.start(1)] + negated + sentence[match.end(1) :]


def verdict_sentence(text: str, label: int, polar: dict[str, float]) -> tuple[str, re.Match] | None:
    """The first sentence of ``text`` whose one polar word follows a copula and agrees with
    ``label``, with the match of that copula; None when no sentence qualifies."""
    sign = 1 if int(label) == 1 else -1
    for sentence in split_sentences(text):
        if not MIN_WORDS <= len(sentence.split()) <= MAX_WORDS:
            continue
        if NEGATOR.search(sentence) or _CONTRAST.search(sentence):
            continue
        strong = [word for word in _WORD.findall(sentence.lower()) if word in polar]
        if len(strong) != 1:
            continue
        for match in _PREDICATE.finditer(sentence):
            word = match.group(3)
            # Adverbs ("seriously discussing") modify a verb, not the subject.
            if word == strong[0] and not word.endswith("ly") and polar[word] * sign > 0:
                return sentence, match
    return None


def natural_negations(frame: pd.DataFrame, polar: dict[str, float]) -> tuple[list[str], list[int]]:
    """The sentences of ``frame``'s reviews that contain a negation and whose review label they
    most likely share: the negation is followed by the sentence's one polar word, of the other side
    (a flip: "not bad" in a positive review), or every polar word agrees with the label and none of
    them follows the negation (no flip). Contrasts and questions are skipped."""
    texts, labels = [], []
    for text, label in zip(frame["text"], frame["label"], strict=True):
        sign = 1 if int(label) == 1 else -1
        for sentence in split_sentences(text):
            if not MIN_WORDS <= len(sentence.split()) <= MAX_WORDS or _CONTRAST.search(sentence):
                continue
            negation = _NEGATED_SPAN.search(sentence)
            if negation is None:
                continue
            strong = [word for word in _WORD.findall(sentence.lower()) if word in polar]
            if not strong:
                continue
            in_scope = set(_WORD.findall(negation.group(1).lower()))
            flip = len(strong) == 1 and strong[0] in in_scope and polar[strong[0]] * sign < 0
            kept = not in_scope & set(strong) and all(polar[word] * sign > 0 for word in strong)
            if flip or kept:
                texts.append(sentence)
                labels.append(int(label))
    return texts, labels


def _balanced(texts: list[str], labels: list[int], rng: random.Random) -> tuple[list[str], list[int]]:
    """As many of each label, the larger side sampled down: negative reviews negate more often,
    and the added sentences should not teach that a negation means negative."""
    sides = [[i for i, label in enumerate(labels) if label == side] for side in (0, 1)]
    keep = sorted(i for side in sides for i in rng.sample(side, min(map(len, sides))))
    return [texts[i] for i in keep], [labels[i] for i in keep]


def add_negation_examples(
    frame: pd.DataFrame, fraction: float, seed: int, negated_sentences: bool = False
) -> pd.DataFrame:
    """``frame`` (columns ``text``, ``label``, labels 0/1) with a negation pair added for each of
    a ``fraction`` of its reviews that has a verdict sentence, and with ``negated_sentences`` its
    :func:`natural_negations`, shuffled in. Polar words are learnt from ``frame`` itself, so pass
    the training split only."""
    if not 0 <= fraction <= 1:
        raise ValueError(f"fraction must be between 0 and 1, not {fraction}")
    if (fraction == 0 and not negated_sentences) or frame.empty:
        return frame
    polar = polar_words(frame["text"].tolist(), frame["label"].tolist())
    rng = random.Random(seed)
    chosen = rng.sample(range(len(frame)), round(fraction * len(frame)))
    texts, labels = _balanced(*natural_negations(frame, polar), rng) if negated_sentences else ([], [])
    for row in sorted(chosen):
        label = int(frame["label"].iloc[row])
        found = verdict_sentence(frame["text"].iloc[row], label, polar)
        if found is None:
            continue
        sentence, match = found
        texts += [sentence, negate(sentence, match, rng.choice(["not", "n't", "never"]))]
        labels += [label, 1 - label]
    return mix_in(frame, texts, labels, seed)
