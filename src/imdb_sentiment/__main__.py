"""``python -m imdb_sentiment <command>``: see :mod:`imdb_sentiment.cli`."""

from .cli import main

if __name__ == "__main__":
    raise SystemExit(main())
