"""Score files of reviews: read TXT / CSV / parquet / JSON Lines, predict, write JSONL / CSV / parquet.

Used by ``python -m imdb_sentiment predict --file``, the app's batch tab and distributed scoring.
Rows that cannot be scored (missing or blank text) are kept, with an ``error`` and no label,
so the output always has one row per input row, in input order.

    texts = read_reviews("reviews.csv")
    table = score_texts(Classifier.from_pretrained("saved_model"), texts)
    write_predictions(table, "predictions.jsonl")
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from ..data import FILE_READERS, read_table
from ..errors import UserError

OUTPUT_FORMATS = (".jsonl", ".csv", ".parquet")
CHUNK = 256  # reviews per progress-bar tick; also bounds memory for huge files


def read_reviews(path: str | Path, text_column: str = "text") -> list[object]:
    """The reviews in ``path``: one per line for .txt, else the ``text_column`` of a table."""
    path = Path(path)
    if not path.is_file():
        raise UserError(f"Input file '{path}' does not exist.")
    if path.suffix.lower() == ".txt" or path.suffix == "":
        try:
            lines = path.read_text(encoding="utf-8").splitlines()
        except UnicodeDecodeError as error:
            raise UserError(f"'{path}' is not valid UTF-8 text.") from error
        return [line for line in lines if line.strip()]
    if path.suffix.lower() not in FILE_READERS:
        raise UserError(f"Cannot read '{path.name}': use .txt, .csv, .parquet or .jsonl.")
    table = read_table(path)
    if text_column not in table.columns:
        raise UserError(
            f"'{path.name}' has no column '{text_column}'; its columns are "
            f"{', '.join(map(repr, map(str, table.columns)))}. Pass --text-column."
        )
    return [None if isinstance(v, float) and pd.isna(v) else v for v in table[text_column].tolist()]


def _usable(text: object) -> bool:
    return isinstance(text, str) and bool(text.strip())


def score_texts(
    classifier, texts: Sequence[object], batch_size: int = 32, progress: bool = False
) -> pd.DataFrame:
    """One row per input: index, label, score, one column per class, and error (or None)."""
    from tqdm.auto import tqdm

    labels = list(classifier.id2label.values())
    rows: list[dict] = [{"index": i, "label": None, "score": None, "error": None} for i in range(len(texts))]
    usable = [i for i, text in enumerate(texts) if _usable(text)]
    for i in set(range(len(texts))) - set(usable):
        rows[i]["error"] = (
            "empty or missing review"
            if texts[i] is None or isinstance(texts[i], str)
            else (f"not a string ({type(texts[i]).__name__})")
        )
    bar = tqdm(
        total=len(usable), unit="review", disable=not progress or len(usable) <= CHUNK, file=sys.stderr
    )
    for start in range(0, len(usable), CHUNK):
        chunk = usable[start : start + CHUNK]
        for i, prediction in zip(chunk, classifier.predict([texts[i] for i in chunk], batch_size=batch_size)):
            rows[i].update(label=prediction.label, score=prediction.score, **prediction.scores)
        bar.update(len(chunk))
    bar.close()
    return pd.DataFrame(rows, columns=["index", "label", "score", *labels, "error"])


def write_predictions(table: pd.DataFrame, destination: str | Path | None) -> None:
    """Write to a .jsonl / .csv / .parquet file, or JSON Lines on stdout when ``destination`` is None."""
    if destination is None or str(destination) == "-":
        sys.stdout.write(table.to_json(orient="records", lines=True, force_ascii=False))
        return
    path = Path(destination)
    suffix = path.suffix.lower()
    if suffix not in OUTPUT_FORMATS:
        raise UserError(f"Output '{path.name}' must end in {', '.join(OUTPUT_FORMATS)}.")
    path.parent.mkdir(parents=True, exist_ok=True)
    staging = path.with_name(f".{path.name}.tmp")  # never leave a half-written output behind
    if suffix == ".jsonl":
        table.to_json(staging, orient="records", lines=True, force_ascii=False)
    elif suffix == ".csv":
        table.to_csv(staging, index=False)
    else:
        table.to_parquet(staging, index=False)
    staging.replace(path)
