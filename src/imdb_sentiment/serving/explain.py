"""Word-level explanations: which words pushed a review toward POSITIVE or toward NEGATIVE.

Attributions are computed on the input word embeddings for the log-odds
``logit(POSITIVE) - logit(NEGATIVE)``, so a positive weight pushes toward POSITIVE and a negative
one toward NEGATIVE. Two methods:

- ``ig`` (default): Integrated Gradients (Sundararajan et al. 2017; Captum's ``IntegratedGradients``)
  from a baseline where every text token is [PAD] (the special tokens stay), with Gauss-Legendre
  steps run in bounded batches. Its weights add up to ``f(review) - f(baseline)`` (completeness),
  which every :class:`Explanation` checks and reports as ``completeness_gap``.
- ``grad_x_input``: gradient x input on the embeddings (Captum's ``InputXGradient``); one backward
  pass, cheaper and noisier.

``benchmarks/explain_faithfulness.py`` measured both (README "Explanations"). The review is
prepared and truncated exactly as for prediction (``Classifier.encoder``); word pieces are summed
back into the whitespace-separated words of the prepared text, and words in the truncated middle
of a long review get weight ``None`` (the model never saw them).

    clf = Classifier.from_pretrained("saved_model")
    explanation = explain_text(clf, "A wonderful, moving film.")
    explanation.top(5, "POSITIVE")  # [("wonderful,", 1.9), ...]
"""

from __future__ import annotations

import bisect
import re
from dataclasses import dataclass

from ..errors import UserError
from ..text import check_text, prepare_text, split_budget, words_cut
from .scores import softmax

METHODS = ("ig", "grad_x_input")
DEFAULT_STEPS = 16
# Interpolation steps per forward/backward pass are capped so that steps x tokens stays below this:
# memory and latency stay bounded for a 512-token review, short reviews run all steps at once.
MAX_BATCH_TOKENS = 4096
_WORD = re.compile(r"\S+")


@dataclass
class Explanation:
    """Attributions for one review. ``weights[i]`` is None for a word the model did not see."""

    words: list[str]
    weights: list[float | None]
    label: str
    score: float  # probability of ``label``
    method: str
    steps: int
    completeness_gap: float = 0.0  # |sum(weights) - (f(x) - f(baseline))|, IG only
    delta: float = 0.0  # f(x) - f(baseline) in log-odds (f(x) for grad_x_input)
    cut: int = 0  # words of a very long review removed before tokenizing (not in ``words``)

    @property
    def pairs(self) -> list[tuple[str, float | None]]:
        return list(zip(self.words, self.weights))

    @property
    def unseen(self) -> int:
        return sum(weight is None for weight in self.weights) + self.cut

    def top(self, k: int, toward: str = "POSITIVE") -> list[tuple[str, float]]:
        """The ``k`` words that pushed hardest toward ``toward`` (POSITIVE or NEGATIVE)."""
        sign = 1.0 if toward == "POSITIVE" else -1.0
        seen = [(w, x) for w, x in self.pairs if x is not None and sign * x > 0]
        return sorted(seen, key=lambda pair: -sign * pair[1])[:k]

    def highlights(self) -> list[tuple[str, float | None]]:
        """(text, value) spans covering the prepared review, values scaled to [-1, 1] for
        ``gr.HighlightedText``; the truncated middle becomes one span marked as not seen."""
        scale = max((abs(x) for x in self.weights if x is not None), default=0.0) or 1.0
        spans: list[tuple[str, float | None]] = []
        index, cut = 0, self.cut  # the size cap's words sit inside the truncated middle
        while index < len(self.words):
            if self.weights[index] is None:
                end = index
                while end < len(self.weights) and self.weights[end] is None:
                    end += 1
                unseen, cut = end - index + cut, 0
                spans.append((f" [... {_words(unseen)} not seen by the model (truncated) ...] ", None))
                index = end
                continue
            spans.append((self.words[index], round(self.weights[index] / scale, 4)))
            if index + 1 < len(self.words) and self.weights[index + 1] is not None:
                spans.append((" ", None))
            index += 1
        return spans


def positive_index(id2label: dict[int, str]) -> int:
    for index, label in id2label.items():
        if label.upper() in ("POSITIVE", "POS"):
            return index
    return max(id2label)  # LABEL_0/LABEL_1 style heads: the higher id is positive


def word_spans(prepared: str) -> list[tuple[int, int]]:
    return [match.span() for match in _WORD.finditer(prepared)]


def explain_text(
    classifier,
    text: str,
    method: str = "ig",
    steps: int = DEFAULT_STEPS,
    max_batch_tokens: int = MAX_BATCH_TOKENS,
) -> Explanation:
    """Explain ``classifier``'s prediction for one review (see the module docstring)."""
    import torch
    from captum.attr import InputXGradient, IntegratedGradients

    if method not in METHODS:
        raise UserError(f"Unknown explanation method {method!r}; use one of {', '.join(METHODS)}.")
    if not 1 <= steps <= 512:
        raise UserError(f"steps must be between 1 and 512, not {steps}.")
    encoder = classifier.encoder
    prepared = prepare_text(check_text(text), encoder.max_length)
    cut = words_cut(text, encoder.max_length)
    encoded = encoder.tokenizer(
        prepared, add_special_tokens=False, return_offsets_mapping=True, verbose=False
    )
    ids, offsets = encoded["input_ids"], encoded["offset_mapping"]
    # Same split as Encoder.truncate, kept as indices so each kept token maps back to its word.
    head, tail = split_budget(len(ids), encoder.budget, encoder.strategy)
    kept = list(range(head)) + list(range(len(ids) - tail, len(ids)))
    input_ids = encoder.prefix + [ids[i] for i in kept] + encoder.suffix
    n_prefix = len(encoder.prefix)

    model = classifier.model
    device = classifier.device
    embedding = model.get_input_embeddings()
    positive = positive_index(classifier.id2label)
    negative = [i for i in classifier.id2label if i != positive][0]
    with torch.no_grad():
        x = embedding(torch.tensor([input_ids], device=device)).detach()  # [1, L, D]
        pad = embedding(torch.tensor([classifier.pad_token_id], device=device))[0]
        baseline = x.clone()
        baseline[0, n_prefix : n_prefix + len(kept)] = pad  # special tokens stay as they are
    last = {}

    def log_odds(embeds):
        ones = torch.ones(embeds.shape[:2], dtype=torch.long, device=device)  # no padding: one review
        logits = model(inputs_embeds=embeds, attention_mask=ones).logits.float()
        last["logits"] = logits.detach()
        return logits[:, positive] - logits[:, negative]

    with torch.enable_grad():
        if method == "grad_x_input":
            attributions = InputXGradient(log_odds).attribute(x.clone().requires_grad_(True))
            logits = last["logits"][0]  # its one forward pass was at the review itself
            delta, gap, used_steps = float(logits[positive] - logits[negative]), 0.0, 1
        else:
            with torch.no_grad():
                log_odds(x)
            logits = last["logits"][0]
            # Gauss-Legendre steps, at most max_batch_tokens tokens per forward/backward pass; the
            # convergence delta is sum(attributions) - (f(x) - f(baseline)): the completeness gap.
            attributions, convergence = IntegratedGradients(log_odds).attribute(
                x,
                baselines=baseline,
                n_steps=steps,
                method="gausslegendre",
                internal_batch_size=max(2, max_batch_tokens // len(input_ids)),
                return_convergence_delta=True,
            )
            gap, used_steps = abs(float(convergence[0])), steps
            delta = float(attributions.sum()) - float(convergence[0])  # f(x) - f(baseline)
    token_attr = attributions[0].detach().sum(-1).cpu()
    probabilities = softmax(logits.cpu().numpy())
    best = int(probabilities.argmax())

    spans = word_spans(prepared)
    starts = [start for start, _ in spans]
    # Unseen (None): the words in the truncated middle. A word the tokenizer turns into no token
    # at all (a soft hyphen, a lone accent) was seen as nothing: weight 0.
    middle = (offsets[head][0], offsets[len(ids) - tail - 1][1]) if head + tail < len(ids) else (0, 0)
    weights: list[float | None] = [None if middle[0] <= start < middle[1] else 0.0 for start in starts]
    for position, index in enumerate(kept):
        word = max(bisect.bisect_right(starts, offsets[index][0]) - 1, 0)
        weights[word] = (weights[word] or 0.0) + float(token_attr[n_prefix + position])
    return Explanation(
        words=[prepared[start:end] for start, end in spans],
        weights=weights,
        label=classifier.id2label[best],
        score=float(probabilities[best]),
        method=method,
        steps=used_steps,
        completeness_gap=gap,
        delta=delta,
        cut=cut,
    )


def format_explanation(explanation: Explanation, k: int = 10) -> str:
    """Plain-text summary: the label and the top ``k`` words each way (used by the CLI)."""
    lines = [f"{explanation.label} {explanation.score:.3f}  ({_describe(explanation)})"]
    for toward in ("POSITIVE", "NEGATIVE"):
        top = explanation.top(k, toward)
        shown = ", ".join(f"{word} {weight:+.3f}" for word, weight in top) or "(none)"
        lines.append(f"  toward {toward}: {shown}")
    if explanation.unseen:
        lines.append(f"  not seen: {_words(explanation.unseen)} in the middle (truncated, as for prediction)")
    return "\n".join(lines)


def _describe(explanation: Explanation) -> str:
    if explanation.method == "ig":
        return f"integrated gradients, {explanation.steps} steps, completeness gap {explanation.completeness_gap:.3f}"
    return "gradient x input"


def _words(n: int) -> str:
    return f"{n} word" if n == 1 else f"{n} words"
