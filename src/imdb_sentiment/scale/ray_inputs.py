"""Which rows a Ray scoring job reads (:mod:`imdb_sentiment.scale.ray`): the input files, their
parts' columns and types, and each file's rows in numbered chunks.

Parts as Spark, Dask and pandas write them: a part with no rows is skipped (one log line); a part
without the text column, or whose text column is all null, keeps its rows (the scorer gives them an
error); only when no part has the column is it a :class:`UserError`. Parts with different columns
or types (an extra column, a ``large_string`` text column) get one schema: the union of their
columns, each with one type.
"""

from __future__ import annotations

import glob
import io
import logging
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from ..data import CSV_MISSING, JSON_ENCODING, starts_a_json_array
from ..errors import UserError

READERS = (".parquet", ".pq", ".csv", ".jsonl", ".ndjson", ".json")
ID_COLUMNS = ("source_file", "source_row")
CHUNK_ROWS = 4096  # rows per block read from a file: bounds a read task's memory, not the file's size
PROBE_ROWS = 100  # rows a CSV / JSON Lines file is read for its columns and types before the job

logger = logging.getLogger("imdb_sentiment.scale.ray")


def _is_uri(path: str) -> bool:
    return "://" in path


def expand_inputs(inputs: str) -> list[str]:
    """The files ``inputs`` names (a file, a folder, or a glob), sorted; UserError if none or unknown."""
    if _is_uri(inputs):
        return [inputs]  # listed by Ray's filesystem layer on the cluster
    path = Path(inputs).expanduser()
    if path.is_dir():
        files = sorted(
            str(p.resolve())
            for p in path.rglob("*")
            if p.is_file() and p.suffix.lower() in READERS and not p.name.startswith((".", "_"))
        )
        if not files:
            raise UserError(f"'{inputs}' holds no parquet, CSV or JSON Lines files.")
        return files
    # Absolute paths: Ray workers need not share the driver's working directory.
    files = sorted(str(Path(p).resolve()) for p in glob.glob(str(path), recursive=True) if Path(p).is_file())
    if not files:
        raise UserError(f"No files match '{inputs}'.")
    unknown = [p for p in files if Path(p).suffix.lower() not in READERS]
    if unknown:
        raise UserError(f"Cannot read '{Path(unknown[0]).name}': use .parquet, .csv or .jsonl files.")
    return files


def read_chunks(source, name: str, chunk_rows: int = CHUNK_ROWS):
    """DataFrames of at most ``chunk_rows`` rows from one file (``source``: a path or open binary file)."""
    suffix = Path(name).suffix.lower()
    if suffix in (".parquet", ".pq"):
        import pyarrow.parquet as pq

        for batch in pq.ParquetFile(source).iter_batches(batch_size=chunk_rows):
            yield batch.to_pandas()
    elif suffix == ".csv":
        yield from pd.read_csv(source, chunksize=chunk_rows, **CSV_MISSING)
    else:  # dtype=False: a number in the text column stays a number, to be reported as such
        if not isinstance(source, (str, Path)):
            source = io.TextIOWrapper(source, encoding=JSON_ENCODING)
        yield from pd.read_json(source, lines=True, chunksize=chunk_rows, dtype=False, encoding=JSON_ENCODING)


@dataclass(frozen=True)
class Part:
    """One local input file as its header tells it: rows (None: some, count unknown) and column types."""

    path: str
    rows: int | None
    types: dict  # column -> pyarrow type


def _arrow_type(values):
    """The Arrow type of a column's sampled values; ``string`` when Arrow cannot type them as one."""
    import pyarrow as pa

    try:
        return pa.array(values, from_pandas=True).type
    except pa.ArrowException:  # values of several kinds (strings and numbers in a CSV, say) have no
        return pa.string()  # one Arrow type; which of its errors pyarrow raises depends on the mix


def probe(path: str) -> Part:
    """Read a local file's footer (parquet) or first rows (CSV, JSON Lines); UserError if unreadable."""
    name = Path(path).name
    if starts_a_json_array(Path(path)):
        raise UserError(
            f"'{name}' is one JSON array, which cannot be read in parts: --engine ray streams "
            "JSON Lines (one object per line). Convert it, or score it without --engine ray."
        )
    try:
        if Path(path).suffix.lower() in (".parquet", ".pq"):
            import pyarrow.parquet as pq

            meta = pq.ParquetFile(path)
            schema = meta.schema_arrow
            return Part(path, meta.metadata.num_rows, {f.name: f.type for f in schema})
        if Path(path).stat().st_size == 0:
            return Part(path, 0, {})
        head = next(read_chunks(path, path, chunk_rows=PROBE_ROWS), pd.DataFrame())
    except UnicodeDecodeError as error:
        raise UserError(f"'{name}' is not valid UTF-8 text ({error.reason}).") from error
    except Exception as error:  # pyarrow, pandas and json raise many types for a corrupt file
        raise UserError(
            f"Could not read '{name}': {str(error).splitlines()[0] if str(error) else error!r}"
        ) from error
    return Part(path, None if len(head) else 0, {str(c): _arrow_type(head[c]) for c in head.columns})


def _common_type(types: list):
    """One type for a column across parts: theirs if they agree (large_string read as string),
    float64 for a mix of numbers, else string."""
    import pyarrow as pa

    usual = {pa.large_string(): pa.string(), pa.large_binary(): pa.binary()}
    kinds = {usual.get(t, t) for t in types if t != pa.null()}
    if len(kinds) == 1:
        return kinds.pop()
    if kinds and all(pa.types.is_integer(t) or pa.types.is_floating(t) for t in kinds):
        return pa.float64()
    return pa.string()


def _names(paths: list[str], most: int = 3) -> str:
    shown = ", ".join(repr(Path(p).name) for p in paths[:most])
    return shown + (f" and {len(paths) - most} more" if len(paths) > most else "")


def plan_inputs(files: list[str], text_column: str) -> tuple[list[str], dict, list[str]]:
    """The files to read (empty ones skipped, logged once), the input columns' common types, in
    order of appearance (None for ``s3://`` inputs, read as they come), and the files without the
    text column (their rows get an error). UserError if no file has rows or none has the column."""
    if any(_is_uri(f) for f in files):
        return files, None, []
    parts = [probe(f) for f in files]
    empty = [p.path for p in parts if p.rows == 0]
    parts = [p for p in parts if p.rows != 0]
    if empty:
        logger.info("Skipping %d empty file(s) (no rows): %s", len(empty), _names(empty))
    if not parts:
        raise UserError(f"No reviews to score: every input file is empty ({_names(empty)}).")
    lacking = [p.path for p in parts if text_column not in p.types]
    if len(lacking) == len(parts):
        columns = ", ".join(map(repr, parts[0].types)) or "none"
        raise UserError(
            f"No file has a column '{text_column}' ({_names(lacking)}); the columns of "
            f"'{Path(parts[0].path).name}' are {columns}. Pass --text-column."
        )
    if lacking:
        logger.info(
            "%d file(s) have no column '%s'; their rows are kept with an error: %s",
            len(lacking),
            text_column,
            _names(lacking),
        )
    import pyarrow as pa

    seen: dict[str, list] = {text_column: [pa.string()]}
    for part in parts:
        for column, kind in part.types.items():
            seen.setdefault(column, []).append(kind)
    types = {c: pa.string() if c == text_column else _common_type(k) for c, k in seen.items()}
    return [p.path for p in parts], types, lacking


def number_rows(chunks, name: str, columns: list[str] | None = None):
    """Each chunk with ``source_file`` and ``source_row`` (position in the file) added, and, given
    ``columns``, with exactly those input columns in that order (missing ones empty)."""
    start = 0
    for chunk in chunks:
        if columns is not None:
            for column in columns:
                if column not in chunk.columns:
                    chunk[column] = None
            chunk = chunk[columns]
        chunk = chunk.rename(columns={c: f"input_{c}" for c in chunk.columns if c in ID_COLUMNS})
        chunk.insert(0, "source_row", range(start, start + len(chunk)))
        chunk.insert(0, "source_file", name)
        start += len(chunk)
        yield chunk
