"""Cleaning, sanitising and head/tail truncation keep exactly the intended tokens."""

from __future__ import annotations

import pytest

from imdb_sentiment import Encoder, InvalidTextError, UserError, clean_text
from imdb_sentiment.text import cap_chars, check_text, sanitize_text, split_budget

from helpers import VOCAB, make_tokenizer

WORDS = [w for w in VOCAB if w.isalpha() and w not in ("br",)]


def numbered_review(n: int) -> tuple[str, list[int]]:
    """A review of n distinct-position words and the token ids they map to (one token each)."""
    tokenizer = make_tokenizer()
    words = [WORDS[i % len(WORDS)] for i in range(n)]
    return " ".join(words), [tokenizer.convert_tokens_to_ids(w) for w in words]


def test_clean_text_removes_html_line_breaks_and_extra_space():
    assert clean_text("Great.<br /><br />Really  great.<BR>End<br/>") == "Great. Really great. End"


def test_sanitize_text_handles_surrogates_and_controls():
    cleaned = sanitize_text("bad\ud800surrogate\x00nul\x07bell")
    cleaned.encode("utf-8")  # must not raise
    assert "\x00" not in cleaned and "\x07" not in cleaned


def test_cap_chars_keeps_both_ends():
    text = "a" * 50 + "b" * 50
    capped = cap_chars(text, 20)
    assert capped.startswith("a" * 10) and capped.endswith("b" * 10) and len(capped) == 21


@pytest.mark.parametrize("value", [None, "", "   \n\t", 3, ["a list"]])
def test_check_text_rejects_non_reviews(value):
    with pytest.raises(InvalidTextError):
        check_text(value)


def test_split_budget_matches_sun_et_al_at_512():
    assert split_budget(1000, 510, "head_tail") == (128, 382)
    assert split_budget(1000, 510, "head") == (510, 0)
    assert split_budget(1000, 510, "tail") == (0, 510)
    assert split_budget(100, 510, "head_tail") == (100, 0)


@pytest.mark.parametrize("strategy", ["head", "tail", "head_tail"])
def test_truncation_keeps_the_right_tokens(strategy):
    tokenizer = make_tokenizer()
    text, ids = numbered_review(100)
    encoder = Encoder(tokenizer, max_length=34, strategy=strategy)
    encoded = encoder([text])["input_ids"][0]
    cls, sep = tokenizer.cls_token_id, tokenizer.sep_token_id
    assert encoded[0] == cls and encoded[-1] == sep and len(encoded) == 34
    body = encoded[1:-1]
    expected = {"head": ids[:32], "tail": ids[-32:], "head_tail": ids[:8] + ids[-24:]}[strategy]
    assert body == expected


def test_short_reviews_are_not_truncated():
    tokenizer = make_tokenizer()
    text, ids = numbered_review(10)
    encoded = Encoder(tokenizer, max_length=34)([text])
    assert encoded["input_ids"][0][1:-1] == ids
    assert encoded["attention_mask"][0] == [1] * 12


def test_unknown_strategy_is_a_clear_error():
    with pytest.raises(UserError, match="truncation strategy"):
        Encoder(make_tokenizer(), max_length=34, strategy="middle")
