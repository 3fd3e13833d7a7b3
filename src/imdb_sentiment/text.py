"""Text handling shared by training and inference, so both see a review the same way.

- :func:`clean_text` removes the HTML line breaks IMDb reviews carry (``<br />``).
- :func:`sanitize_text` makes arbitrary input safe to tokenise (lone surrogates, NUL and control
  characters) and :func:`cap_chars` bounds its size so a huge input cannot stall the process.
- :class:`Encoder` tokenises with a truncation strategy: ``head``, ``tail`` or ``head_tail``
  (first quarter of the window from the start of the review, the rest from its end; Sun et al.
  2019 found 128 + 382 tokens at 512 the best way to fit long reviews).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence

from .errors import UserError

# "(?:/\s*)?" rather than "/?\s*": the same tags, without quadratic backtracking on "<br" + spaces.
_LINE_BREAK = re.compile(r"<\s*br\s*(?:/\s*)?>", re.IGNORECASE)
_SPACES = re.compile(r"\s+")
# C0 controls except tab/newline/carriage return, DEL, and C1 controls.
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")
# What cleaning leaves nothing readable of: line-break tags (control characters count as the
# spaces sanitize_text makes of them), whitespace, control characters and the common invisible
# format characters (soft hyphen, zero-width and direction marks, word joiners, byte-order mark).
_SKIPPED = r"\s\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f"
_UNREADABLE = re.compile(
    rf"(?:<[{_SKIPPED}]*br[{_SKIPPED}]*(?:/[{_SKIPPED}]*)?>|[{_SKIPPED}\u00ad\u200b-\u200f\u202a-\u202e\u2060-\u2064\ufeff])*",
    re.IGNORECASE,
)
# Characters kept from each end of a review before tokenising. A WordPiece token averages about
# 4-5 characters, so 24 characters per token keeps every token a real review could contribute.
CHARS_PER_TOKEN_BUDGET = 24


class InvalidTextError(UserError, ValueError):
    """A review that cannot be classified (None, not a string, empty, nothing readable)."""


def clean_text(text: str) -> str:
    return _SPACES.sub(" ", _LINE_BREAK.sub(" ", text)).strip()


def sanitize_text(text: str) -> str:
    """Replace lone surrogates and drop control characters; the result encodes as UTF-8."""
    text = text.encode("utf-8", "replace").decode("utf-8")
    return _CONTROL.sub(" ", text)


def cap_chars(text: str, max_chars: int) -> str:
    """Keep at most ``max_chars`` characters: half from the start, half from the end."""
    if len(text) <= max_chars:
        return text
    half = max_chars // 2
    return text[:half] + " " + text[-half:]


def check_text(text: object, index: int | None = None) -> str:
    """Return ``text`` if it is a non-blank string, else raise :class:`InvalidTextError`."""
    where = "" if index is None else f" at position {index}"
    if text is None:
        raise InvalidTextError(f"Review{where} is None; pass a string.")
    if not isinstance(text, str):
        raise InvalidTextError(f"Review{where} must be a string, not {type(text).__name__}.")
    if not text.strip():
        raise InvalidTextError(f"Review{where} is empty or whitespace only.")
    if not has_text(text):
        raise InvalidTextError(
            f"Review{where} has no text once line breaks (<br />), control and invisible characters "
            "are removed."
        )
    return text


def has_text(text: object) -> bool:
    """Whether ``text`` is a string with anything readable left once cleaned: not only ``<br />``,
    control characters or invisible format characters (zero-width spaces, joiners, byte-order
    marks), which tokenise to nothing and would leave the model to label an empty review.

    It skips what cleaning removes up to the first readable character instead of cleaning the
    whole text, which for a 20 MB review took a second, twice per request."""
    if not isinstance(text, str):
        return False
    position = 0
    while position < len(text):
        position = _UNREADABLE.match(text, position).end()
        if position < len(text) and unicodedata.category(text[position]) != "Cf":
            return True
        position += 1  # a format character outside the common ones _UNREADABLE lists
    return False


def prepare_text(text: str, max_length: int) -> str:
    """Sanitise, clean and size-cap one review exactly as training did."""
    return clean_text(cap_chars(sanitize_text(text), char_budget(max_length)))


def char_budget(max_length: int) -> int:
    """The characters :func:`prepare_text` keeps of a review for a window of ``max_length`` tokens."""
    return 2 * max_length * CHARS_PER_TOKEN_BUDGET


def words_cut(text: str, max_length: int) -> int:
    """How many words :func:`prepare_text`'s size cap removes from the middle of ``text`` (a review
    far longer than the model's window), counted as the cleaned text's whitespace-separated words."""
    budget = char_budget(max_length)
    if len(text) <= budget:  # sanitising never lengthens a text: most reviews stop here
        return 0
    sanitized = sanitize_text(text)
    if len(sanitized) <= budget:
        return 0
    half = budget // 2
    return len(clean_text(sanitized[half:-half]).split())


def split_budget(n_tokens: int, budget: int, strategy: str) -> tuple[int, int]:
    """How many tokens to keep from the start and from the end of a sequence of ``n_tokens``."""
    if n_tokens <= budget:
        return n_tokens, 0
    if strategy == "head":
        return budget, 0
    if strategy == "tail":
        return 0, budget
    if strategy == "head_tail":
        head = (budget + 2) // 4  # 128 of 510 at max_length 512, as in Sun et al.
        return head, budget - head
    raise UserError(f"Unknown truncation strategy {strategy!r}; use head, tail or head_tail.")


class Encoder:
    """Tokenise reviews with special tokens and a truncation strategy.

    Works for any tokenizer whose single-sequence template is ``prefix + tokens + suffix``
    ([CLS] ... [SEP] for BERT, <s> ... </s> for RoBERTa), found by probing the tokenizer.
    """

    def __init__(self, tokenizer, max_length: int, strategy: str = "head_tail"):
        self.tokenizer = tokenizer
        self.max_length = max_length
        self.strategy = strategy
        split_budget(2, 1, strategy)  # validates the strategy name early
        with_special = tokenizer("a")["input_ids"]
        plain = tokenizer("a", add_special_tokens=False)["input_ids"]
        start = _find(with_special, plain)
        self.prefix = list(with_special[:start])
        self.suffix = list(with_special[start + len(plain) :])
        self.budget = max_length - len(self.prefix) - len(self.suffix)
        if self.budget < 2:
            raise UserError(f"max_length {max_length} leaves no room for text tokens.")

    def truncate(self, token_ids: Sequence[int]) -> list[int]:
        head, tail = split_budget(len(token_ids), self.budget, self.strategy)
        kept = list(token_ids[:head]) + (list(token_ids[-tail:]) if tail else [])
        return self.prefix + kept + self.suffix

    def __call__(self, texts: Sequence[str]) -> dict[str, list[list[int]]]:
        prepared = [prepare_text(text, self.max_length) for text in texts]
        ids = self.tokenizer(prepared, add_special_tokens=False, verbose=False)["input_ids"]
        input_ids = [self.truncate(row) for row in ids]
        return {"input_ids": input_ids, "attention_mask": [[1] * len(row) for row in input_ids]}


def _find(haystack: Sequence[int], needle: Sequence[int]) -> int:
    for start in range(len(haystack) - len(needle) + 1):
        if list(haystack[start : start + len(needle)]) == list(needle):
            return start
    raise UserError("Cannot work out this tokenizer's special-token template.")
