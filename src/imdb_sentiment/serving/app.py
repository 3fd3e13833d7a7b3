"""The Gradio app: one review at a time, a file of reviews, and the same two as an API.

``gradioApp.py`` is a thin command line over :func:`build_demo`; tests build the demo in-process.

    demo = build_demo(Classifier.from_pretrained("saved_model"), model_dir="saved_model")
    launch(demo, host="127.0.0.1", port=7860)

API (see README "Serving"): ``/predict`` takes a review and returns what ``gr.Label`` returns
(``{"label": ..., "confidences": [...]}``); ``/predict_batch`` takes an uploaded CSV / TXT file and
returns the table and a CSV to download; ``/explain`` takes a review and returns its words with
weights in [-1, 1] (what ``gr.HighlightedText`` returns: > 0 pushed toward POSITIVE, < 0 toward
NEGATIVE; see README "Explanations"); ``/what_if`` takes a review and an edited copy and returns
both labels, their word diff, both explanations and whether the verdict flipped (:mod:`.what_if`).
Requests for one review are micro-batched (``batch=True``): reviews waiting in the queue share one
forward pass.

A full queue refuses new requests before gradio reads them (:mod:`.refusals`). The download folder
under the temp dir goes when the demo closes or the process exits; folders of crashed apps go at
the next start (:mod:`.downloads`).

To add a tab (and its endpoint), write a ``_<name>_tab(service, settings)`` builder like
:func:`_review_tab` and call it inside the ``gr.Tabs()`` block of :func:`build_demo`.
"""

from __future__ import annotations

import html
import socket
from dataclasses import dataclass
from pathlib import Path

import gradio as gr
import pandas as pd

from ..errors import PortInUseError, UserError
from ..text import check_text, has_text
from .batch import read_reviews, score_texts
from .downloads import DownloadFolder, remove_stale
from .refusals import RefuseWhenFull
from .trust import headline_metrics, negation_pass_rate, trust_note
from .what_if import compare, what_if_tab

EXAMPLES = [
    "An absolute triumph. The performances are luminous, the script is sharp and funny, and the "
    "final act had the whole theatre in tears. I will be recommending this to everyone I know.",
    "Two hours I will never get back. The plot makes no sense, the dialogue is wooden and the "
    "lead actor looks bored in every scene. Avoid.",
    "The cinematography is gorgeous and the soundtrack is memorable, but the story drags badly in "
    "the middle and the ending feels rushed. Worth seeing once, maybe.",
    "Oh great, another ninety minutes of people staring meaningfully out of rain-streaked windows. "
    "Truly the cinematic event of the decade. I especially loved checking my watch every five minutes.",
    " ".join(
        [
            "I went into this film knowing almost nothing about it, which I think is the best way to see it.",
            "The opening twenty minutes are slow, deliberately so, setting up a small coastal town and the "
            "family at its centre with patience and a real eye for detail.",
            "Some viewers will find that pace frustrating; I found it hypnotic.",
            "The middle section shifts gears: a death, a secret, a long-buried rivalry between two brothers "
            "that the script reveals piece by piece without ever resorting to cheap flashbacks.",
            "The two leads are extraordinary, especially in a long dinner-table scene that is almost "
            "unbearably tense, played in near silence.",
            "The score is sparse, mostly a single cello, and used sparingly enough that every entrance lands.",
            "If I have a complaint it is that a subplot about a local election goes nowhere, and a couple of "
            "supporting characters are sketched rather than drawn.",
            "But these are small things.",
            "The last half hour ties the threads together with real grace, and the final shot, which I will "
            "not spoil, is one of the most moving images I have seen in a cinema in years.",
            "It is a film about grief, forgiveness and the stories families tell themselves, and it trusts "
            "its audience to keep up.",
            "I left the theatre quiet, and I have been thinking about it for days.",
            "Highly recommended, and worth seeing on the biggest screen you can find.",
        ]
    ),
]


@dataclass(frozen=True)
class AppSettings:
    """Limits that keep one user or one upload from starving the others."""

    max_file_size: str = "5mb"  # uploads larger than this are refused by gradio and by the batch handler
    max_rows: int = 2000  # reviews per uploaded file
    queue_size: int = 64  # requests waiting; more get "queue is full"
    concurrency: int = 1  # forward passes at once: the model already uses every CPU core
    max_batch_size: int = 16  # single-review requests sharing one forward pass
    preview_chars: int = 200  # review text shown per row in the batch table

    @property
    def max_file_bytes(self) -> int:
        """``max_file_size`` in bytes, read the way gradio reads it (kb, mb, gb: powers of 1024)."""
        size = self.max_file_size.strip().lower()
        for power, unit in enumerate(("kb", "mb", "gb"), 1):
            if size.endswith(unit):
                return int(float(size[: -len(unit)]) * 1024**power)
        return int(size.removesuffix("b"))


EMPTY_REVIEW = "Please enter a review to classify."


def user_error(message: str) -> gr.Error:
    """A gr.Error shown to the user as text: messages quote file names and columns from uploads,
    and gradio renders error messages as HTML."""
    return gr.Error(html.escape(message, quote=False), print_exception=False)


class Service:
    """The app's handlers, kept free of layout so tests and new tabs can call them directly."""

    def __init__(self, classifier, settings: AppSettings):
        self.classifier = classifier
        self.settings = settings
        self.labels = list(classifier.id2label.values())
        self.downloads = DownloadFolder()  # made on the first upload, removed by close()

    def close(self) -> None:
        self.downloads.remove()

    def validate_reviews(self, texts: list[object]) -> list[list[dict]]:
        """Validator of the batched /predict, run on each request before it is queued: a blank review
        is refused there and never joins a batch, where an error would fail every user's review in it.
        (It raises instead of returning gr.validate(): gradio 6.31 ignores gr.validate from a batched
        validator. The browser shows the message; gradio_client gets an HTTP 400 error.)"""
        for text in texts:
            try:
                check_text(text)
            except UserError as error:
                raise user_error(EMPTY_REVIEW) from error
        return [[gr.validate(True, "") for _ in texts]]

    def predict_reviews(self, texts: list[object]) -> list[list[dict]]:
        """Batched handler: one gr.Label value (class -> confidence) per review."""
        usable = [i for i, text in enumerate(texts) if has_text(text)]
        if not usable:  # the validator normally stops these; a mixed batch still serves the rest
            raise user_error(EMPTY_REVIEW)
        try:
            predictions = self.classifier.predict([texts[i] for i in usable], batch_size=len(usable))
        except UserError as error:
            raise user_error(str(error)) from error
        values: list[dict | None] = [None] * len(texts)
        for i, prediction in zip(usable, predictions):
            values[i] = dict(prediction.scores)
        return [values]

    def explain_review(self, text: object) -> list[tuple[str, float | None]]:
        """Word weights for gr.HighlightedText: Integrated Gradients with a fixed number of steps on
        the review as prediction truncates it, so a long review costs the same as a 512-token one."""
        from .explain import explain_text

        try:
            return explain_text(self.classifier, check_text(text)).highlights()
        except UserError as error:
            raise user_error(EMPTY_REVIEW if not has_text(text) else str(error)) from error

    def what_if(self, original: object, edited: object) -> tuple:
        """/what_if: both labels, the word diff, both explanations, the verdict (:func:`compare`)."""
        try:
            return compare(self.classifier, self.explain_review, original, edited)
        except UserError as error:
            raise user_error(str(error)) from error

    def predict_file(self, upload: str | None) -> tuple[pd.DataFrame, str]:
        """Score an uploaded CSV (``text`` column) or TXT (one review a line) file."""
        if not upload:
            raise user_error("Upload a .csv file with a 'text' column or a .txt file with one review a line.")
        path = Path(upload)
        if path.suffix.lower() not in (".csv", ".txt"):
            raise user_error(f"'{path.name}' is not a .csv or .txt file.")
        if path.stat().st_size > self.settings.max_file_bytes:
            raise user_error(f"'{path.name}' is larger than {self.settings.max_file_size}.")
        try:
            texts = read_reviews(path)
        except UserError as error:  # name the upload, never the server's temp path
            raise user_error(str(error).replace(str(path), path.name)) from error
        if not texts:
            raise user_error(f"'{path.name}' has no reviews.")
        if len(texts) > self.settings.max_rows:
            raise user_error(
                f"'{path.name}' has {len(texts):,} reviews; the limit is {self.settings.max_rows:,}."
            )
        table = score_texts(self.classifier, texts)
        table.insert(1, "text", [t if isinstance(t, str) else "" for t in texts])
        output = self.downloads.new_file(f"predictions_{path.stem[:40]}.csv")
        table.to_csv(output, index=False)
        shown = table.assign(text=table["text"].str.slice(0, self.settings.preview_chars))
        return shown, str(output)


def _review_tab(service: Service, settings: AppSettings, negation_rate: float | None = None) -> None:
    with gr.Row():
        with gr.Column(scale=3):
            review = gr.Textbox(
                label="Review", lines=6, placeholder="Paste a movie review here...", elem_id="review"
            )
            with gr.Row():
                classify = gr.Button("Classify", variant="primary", elem_id="classify")
                gr.ClearButton(review)
        with gr.Column(scale=2):
            label = gr.Label(label="Sentiment", num_top_classes=len(service.labels), elem_id="sentiment")
            note = gr.Markdown("", elem_id="trust-note")
    words = gr.HighlightedText(
        label="Why: words that pushed toward POSITIVE (red) or NEGATIVE (purple)",
        show_legend=True,
        elem_id="explanation",
    )
    gr.Examples(EXAMPLES, inputs=review, label="Examples: positive, negative, mixed, sarcastic, long")
    predicted = gr.on(
        [classify.click, review.submit],
        service.predict_reviews,
        inputs=review,
        outputs=label,
        api_name="predict",
        batch=True,
        max_batch_size=settings.max_batch_size,
        validator=service.validate_reviews,
    )
    # After the label (so it is never delayed), on its own queue; also callable alone as /explain.
    predicted.success(service.explain_review, inputs=review, outputs=words, api_name="explain")

    def note_for(text, scores):
        return trust_note(text, scores, negation_rate)

    predicted.success(note_for, inputs=[review, label], outputs=note, api_visibility="private")


def _batch_tab(service: Service, settings: AppSettings) -> None:
    gr.Markdown(
        f"Upload a **.csv** with a `text` column or a **.txt** with one review a line "
        f"(at most {settings.max_rows:,} reviews and {settings.max_file_size})."
    )
    upload = gr.File(label="Reviews file", file_types=[".csv", ".txt"], type="filepath")
    run = gr.Button("Classify file", variant="primary")
    table = gr.Dataframe(label="Predictions", interactive=False, wrap=True)
    download = gr.DownloadButton("Download predictions (CSV)")
    run.click(service.predict_file, inputs=upload, outputs=[table, download], api_name="predict_batch")


def build_demo(
    classifier, model_dir: str | Path | None = None, settings: AppSettings | None = None
) -> gr.Blocks:
    """The app around ``classifier``; ``model_dir`` is where metrics.json lives (if anywhere)."""
    settings = settings or AppSettings()
    remove_stale()  # download folders of apps that crashed
    service = Service(classifier, settings)
    with gr.Blocks(title="IMDb sentiment", delete_cache=(3600, 3600)) as demo:
        gr.Markdown(
            "# IMDb review sentiment\n"
            f"A fine-tuned transformer classifier ({classifier.max_length} tokens, "
            f"`{classifier.encoder.strategy}` truncation, "
            f"engine {getattr(classifier, 'engine_reason', 'torch')}). " + headline_metrics(model_dir)
        )
        with gr.Tabs():
            with gr.Tab("Review"):
                _review_tab(service, settings, negation_pass_rate(model_dir))
            with gr.Tab("Batch"):
                _batch_tab(service, settings)
            with gr.Tab("What if"):
                what_if_tab(service.what_if, service.labels)
    demo.queue(max_size=settings.queue_size, default_concurrency_limit=settings.concurrency)
    demo.service = service  # for tests and extensions
    close = demo.close
    demo.close = lambda *args, **kwargs: (close(*args, **kwargs), service.close())[0]  # + its downloads
    return demo


def free_port(host: str) -> int:
    """A port that ``host`` can listen on now, as ``--port 0`` (any free one) asks."""
    family, kind, proto, _, address = socket.getaddrinfo(host, 0, type=socket.SOCK_STREAM)[0]
    with socket.socket(family, kind, proto) as probe:
        probe.bind(address)
        return probe.getsockname()[1]


def launch(
    demo: gr.Blocks,
    host: str = "127.0.0.1",
    port: int | None = 7860,
    share: bool = False,
    settings: AppSettings | None = None,
    prevent_thread_lock: bool = False,
):
    """Serve ``demo``; binds localhost unless told otherwise and never shares by default. A full
    queue refuses new requests before gradio reads them (:class:`RefuseWhenFull`). A ``port``
    already in use is a UserError; port 0 serves on a free one, None on gradio's first free one
    from 7860."""
    from starlette.middleware import Middleware

    settings = settings or AppSettings()
    if port == 0:  # gradio would bind a free port, then poll http://host:0 to see it start, and fail
        port = free_port(host)
    try:
        return demo.launch(
            server_name=host,
            server_port=port,
            share=share,
            max_file_size=settings.max_file_size,
            prevent_thread_lock=prevent_thread_lock,
            allowed_paths=[],
            show_error=False,
            quiet=prevent_thread_lock,
            app_kwargs={"middleware": [Middleware(RefuseWhenFull, blocks=demo)]},
        )
    except OSError as error:
        # gradio 6.31 says a port it cannot bind is busy with a bare OSError ("Cannot find empty
        # port in range"); gradioApp.py checks the port first, this catches one taken since. With
        # port None gradio tried a range of ports, and its own message says which.
        if "empty port" not in str(error) or port is None:
            raise
        raise PortInUseError(host, port) from error
