"""Score files of reviews: read TXT / CSV / parquet / JSON Lines, predict, write JSONL / CSV / parquet.

Used by ``python -m imdb_sentiment predict --file``, the app's batch tab and distributed scoring.
Rows that cannot be scored (missing or blank text) are kept, with an ``error`` and no label,
so the output always has one row per input row, in input order. In a .txt file a review is a
non-blank line: blank lines are skipped, and ``index`` counts reviews, not lines. Tables are read
by pandas, which also skips blank lines.

    texts = read_reviews("reviews.csv")
    table = score_texts(Classifier.from_pretrained("saved_model"), texts)
    write_predictions(table, "predictions.jsonl")
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from ..atomic import staged_file
from ..data import FILE_READERS, is_split_file, json_arrays_message, read_table, reads_as_json_arrays
from ..errors import UserError
from ..text import has_text

OUTPUT_FORMATS = (".jsonl", ".csv", ".parquet")
CHUNK = 256  # reviews per progress-bar tick; also bounds memory for huge files


def read_reviews(
    path: str | Path, text_column: str = "text", column_option: str | None = None
) -> list[object]:
    """The reviews in ``path``: one per line for .txt, else the ``text_column`` of a table.
    ``column_option``: the caller's option that picks another column (predict's --text-column),
    suggested when the column is missing; without one the message asks for a column so named."""
    path = Path(path)
    if path.is_dir():
        raise UserError(f"'{path}' is a folder; name one file of reviews in it.")
    if not path.is_file():
        raise UserError(f"Input file '{path}' does not exist.")
    if path.suffix.lower() == ".txt" or path.suffix == "":
        try:
            lines = path.read_text(encoding="utf-8-sig").splitlines()  # a Windows editor's BOM goes
        except UnicodeDecodeError as error:
            raise UserError(f"'{path}' is not valid UTF-8 text.") from error
        return [line for line in lines if line.strip()]
    if path.suffix.lower() not in FILE_READERS:
        raise UserError(f"Cannot read '{path.name}': use .txt, .csv, .tsv, .parquet, .jsonl or .json.")
    table = read_table(path)
    if text_column not in table.columns:
        raise UserError(_missing_column_message(path, table, text_column, column_option))
    values = [None if isinstance(v, float) and pd.isna(v) else v for v in table[text_column].tolist()]
    present = [v for v in values if v is not None]
    if present and not any(isinstance(v, str) for v in present):  # a column of numbers: the wrong one
        kind = type(present[0]).__name__
        fix = f" Pass {column_option} with the column that holds the reviews." if column_option else ""
        raise UserError(
            f"Column '{text_column}' of '{path.name}' holds no text (its values are {kind}).{fix}"
        )
    return values


def _missing_column_message(path: Path, table: pd.DataFrame, text_column: str, option: str | None) -> str:
    if reads_as_json_arrays(table):  # its "columns" 0, 1, ... are positions in an array
        return json_arrays_message(f"'{path.name}'", (text_column,))
    columns = ", ".join(map(repr, map(str, table.columns)))
    # Only suggest an option the caller has: export --check-data and the app's upload take none.
    fix = (
        f"Pass {option} with the name of the column that holds the reviews."
        if option
        else f"Name the column that holds the reviews '{text_column}'."
    )
    return f"'{path.name}' has no column '{text_column}'; its columns are {columns}. {fix}"


def score_texts(
    classifier, texts: Sequence[object], batch_size: int = 32, progress: bool = False
) -> pd.DataFrame:
    """One row per input: index, label, score, one column per class, and error (or None)."""
    from tqdm.auto import tqdm

    labels = list(classifier.id2label.values())
    rows: list[dict] = [{"index": i, "label": None, "score": None, "error": None} for i in range(len(texts))]
    usable = [i for i, text in enumerate(texts) if has_text(text)]
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
    table = pd.DataFrame(rows, columns=["index", "label", "score", *labels, "error"])
    # Scores stay floats (NaN where a row failed) even when every row failed, as readers of the
    # written files expect.
    return table.astype({"score": "float64", **dict.fromkeys(labels, "float64")})


def check_output_file(
    destination: str | Path | None, suffixes: Sequence[str] = (), inputs: Sequence[str | Path] = ()
) -> None:
    """Fail before any scoring if ``destination`` cannot be written: a wrong suffix (when
    ``suffixes`` are given), a directory, a parent folder that is missing or not writable, or one of
    the command's ``inputs`` (a file it reads, or a split file of a data folder it reads), which
    the write would replace. None or ``-`` (stdout) always pass."""
    if destination is None or str(destination) == "-":
        return
    path = Path(destination)
    if path.is_dir():
        raise UserError(f"Output '{path}' is a directory; name a file in it instead.")
    if suffixes and path.suffix.lower() not in suffixes:
        raise UserError(f"Output '{path.name}' must end in {', '.join(suffixes)}.")
    _check_writable_folder(path.parent.absolute(), path)
    for source in map(Path, inputs):
        if path.exists() and source.exists() and path.samefile(source):
            raise UserError(f"Output '{path}' is the input file; writing it would replace the input.")
        in_folder = source.is_dir() and path.parent.resolve() == source.resolve()
        if in_folder and any(is_split_file(path, split) for split in ("train", "test")):
            raise UserError(f"Output '{path}' would be read as data of '{source}'; name it otherwise.")


def _check_writable_folder(folder: Path, path: Path) -> None:
    # os.access says yes to root anywhere, even under /proc; a missing folder is refused rather
    # than made, so a failed run leaves no folder behind either.
    if not folder.exists():
        raise UserError(f"Cannot write '{path}': the folder '{folder}' does not exist.")
    if not folder.is_dir():
        raise UserError(f"Cannot write '{path}': '{folder}' is not a folder.")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise UserError(f"Cannot write '{path}': no permission to write in '{folder}'.")


def write_predictions(table: pd.DataFrame, destination: str | Path | None) -> None:
    """Write to a .jsonl / .csv / .parquet file, or JSON Lines on stdout when ``destination`` is None."""
    if destination is None or str(destination) == "-":
        sys.stdout.write(table.to_json(orient="records", lines=True, force_ascii=False))
        return
    check_output_file(destination, OUTPUT_FORMATS)  # callers check before scoring; library use too
    path = Path(destination)
    suffix = path.suffix.lower()
    with staged_file(path) as staging:
        if suffix == ".jsonl":
            table.to_json(staging, orient="records", lines=True, force_ascii=False)
        elif suffix == ".csv":
            table.to_csv(staging, index=False)
        else:
            table.to_parquet(staging, index=False)
