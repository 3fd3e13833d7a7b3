"""Serve a trained sentiment model in a Gradio app (a thin command line over imdb_sentiment.serving.app).

    python gradioApp.py                                 # saved_model/ on http://127.0.0.1:7860
    python gradioApp.py --model-dir my_model --port 8080
    python gradioApp.py --host 0.0.0.0 --share          # only when you mean to expose it

Without a model at --model-dir, or when --port is taken, it exits at once (status 2) with one line
saying what to do.
"""

from __future__ import annotations

import argparse
import signal
import sys

from imdb_sentiment.cli.arguments import app_parser


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    return app_parser().parse_args(argv)


def _interrupt(signum, frame):
    raise KeyboardInterrupt


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    from imdb_sentiment.errors import UserError
    from imdb_sentiment.memory import limit_malloc_growth

    limit_malloc_growth()  # before the model and the request threads allocate: keeps RSS flat
    try:
        serve(args)
    except UserError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    return 0


def serve(args: argparse.Namespace) -> None:
    from imdb_sentiment.cli.arguments import check_port_free, classifier_from_args
    from imdb_sentiment.serving.downloads import private_gradio_cache

    check_port_free(args.host, args.port)  # a busy port is found before the model loads
    private_gradio_cache()  # before gradio is imported: its files go when the app exits
    classifier = classifier_from_args(args)  # before importing gradio: a missing model is reported at once

    from imdb_sentiment.serving.app import build_demo, launch

    # SIGTERM (kill, systemd, a test's terminate()) closes the server like Ctrl-C does, so the exit
    # runs atexit and the app's download folder under the temp dir is removed.
    signal.signal(signal.SIGTERM, _interrupt)
    launch(build_demo(classifier, model_dir=args.model_dir), host=args.host, port=args.port, share=args.share)


if __name__ == "__main__":
    raise SystemExit(main())
