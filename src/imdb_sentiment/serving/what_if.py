"""The app's "What if" tab: a review and an edited copy side by side, to see whether the verdict
follows the edit (issue 32's counterfactual pairs, as a person tries them).

    word_diff("a great film", "not a great film")
    # [("not", "added"), (" ", None), ("a great film", None)]
    verdict_line("POSITIVE", "NEGATIVE")   # "The verdict flipped: POSITIVE -> NEGATIVE"

:func:`compare` (``Service.what_if`` in :mod:`.app`) labels both texts in one forward pass and
explains each with the Integrated Gradients path of the ``/explain`` endpoint; :func:`what_if_tab`
lays it out and exposes it as ``/what_if``.
"""

from __future__ import annotations

import difflib

import gradio as gr

from ..errors import UserError
from ..text import has_text, prepare_text

EXAMPLE_PAIRS = [
    ["A gripping, beautifully acted film.", "A boring, badly acted film."],
    ["The plot was good and I enjoyed every minute.", "The plot was not good and I did not enjoy a minute."],
]
DIFF_COLORS = {"removed": "#f87171", "added": "#4ade80"}
SIDES = ("Original", "Edited")


def word_diff(original: str, edited: str) -> list[tuple[str, str | None]]:
    """One word diff of the two texts (difflib on whitespace-separated words), as gr.HighlightedText
    spans: unchanged words (category None), words only in the original ("removed"), words only in the
    edit ("added"; after the removed words they replace). Spans are separated by (" ", None)."""
    before, after = original.split(), edited.split()
    spans: list[tuple[str, str | None]] = []
    matcher = difflib.SequenceMatcher(a=before, b=after, autojunk=False)
    for op, a0, a1, b0, b1 in matcher.get_opcodes():
        if op == "equal":
            spans.append((" ".join(before[a0:a1]), None))
            continue
        if a1 > a0:
            spans.append((" ".join(before[a0:a1]), "removed"))
        if b1 > b0:
            spans.append((" ".join(after[b0:b1]), "added"))
    out: list[tuple[str, str | None]] = []
    for span in spans:
        if out:
            out.append((" ", None))
        out.append(span)
    return out


def verdict_line(before: str, after: str) -> str:
    """Whether the verdict followed the edit, in one line."""
    if before == after:
        return f"The verdict stayed {before}"
    return f"The verdict flipped: {before} -> {after}"


def compare(classifier, explain, original: object, edited: object) -> tuple:
    """A pair scored by ``classifier`` in one forward pass: both labels (class -> score), the word
    diff of the texts as the model reads them (cleaned, size-capped), both explanations
    (``explain``: the app's /explain handler) and the verdict line. UserError if either text is
    blank or holds only invisible characters."""
    if not all(isinstance(t, str) and has_text(t) for t in (original, edited)):
        raise UserError("Please enter a review and an edited copy of it.")
    before, after = classifier.predict([original, edited], batch_size=2)
    # The diff is quadratic in the words: it compares the texts as the model reads them, size-capped.
    prepared = [prepare_text(text, classifier.max_length) for text in (original, edited)]
    return (
        dict(before.scores),
        dict(after.scores),
        word_diff(*prepared),
        explain(original),
        explain(edited),
        verdict_line(before.label, after.label),
    )


def what_if_tab(handler, labels: list[str]) -> None:
    """The tab's layout; ``handler(original, edited)`` returns the six outputs in this order: both
    labels (class -> score), the word diff, both explanations, the verdict line."""
    with gr.Row():
        texts = [
            gr.Textbox(label=side, lines=4, elem_id=f"what-if-{side.lower()}", value=pair)
            for side, pair in zip(SIDES, EXAMPLE_PAIRS[0])
        ]
    compare = gr.Button("Compare", variant="primary", elem_id="what-if-compare")
    verdict = gr.Markdown("", elem_id="what-if-verdict")
    diff = gr.HighlightedText(
        label="What changed (red: removed, green: added)",
        color_map=DIFF_COLORS,
        show_legend=True,
        elem_id="what-if-diff",
    )
    with gr.Row():
        scores, words = [], []
        for side in SIDES:
            with gr.Column():
                scores.append(
                    gr.Label(label=side, num_top_classes=len(labels), elem_id=f"what-if-{side.lower()}-label")
                )
                words.append(
                    gr.HighlightedText(
                        label=f"{side}: words toward POSITIVE (red) or NEGATIVE (purple)",
                        elem_id=f"what-if-{side.lower()}-words",
                    )
                )
    gr.Examples(EXAMPLE_PAIRS, inputs=texts, label="Example pairs: a rewrite, a negation")
    compare.click(
        handler,
        inputs=texts,
        outputs=[scores[0], scores[1], diff, words[0], words[1], verdict],
        api_name="what_if",
    )
