"""Score data sets too big for one machine with Ray Data: stream files in, score in actors, write parquet.

    python -m imdb_sentiment predict --engine ray --model-dir saved_model \\
        --file 'reviews/*.parquet' --output out/ [--address auto] [--num-workers 4] [--gpus-per-worker 1]

    from imdb_sentiment.scale.ray import score_with_ray
    score_with_ray("saved_model", "reviews/", "out/", num_workers=4)

The input is one file, a folder or a glob of parquet / CSV / JSON Lines files (local, or any path
Ray Data reads, such as ``s3://bucket/reviews/``). Every file is read in chunks by Ray read tasks,
scored by ``num_workers`` actors that each load the :class:`~imdb_sentiment.serving.classifier.Classifier`
once (same backends, truncation and length-sorted batches as ``predict``), and written as parquet
files under ``output``: the input columns plus ``source_file``, ``source_row``, ``label``, ``score``,
``score_<LABEL>`` for each class and ``error``. Nothing is gathered in the driver.

Row ids: ``(source_file, source_row)``, the file a row came from and its 0-based position in that
file. They are fixed by the input alone (not by scheduling, worker count or retries), so the output
joins back to the input file by position, and a retried read yields the same ids. Ray's own readers
do not number rows within a file (parquet's ``row_hash`` is a hash, for parquet only) and their JSON
reader fails on a column mixing strings and numbers, which is a bad row this module must keep; so
the files are read by a small :class:`FileBasedDatasource` (Ray's listing, filesystems and retries)
with pandas / pyarrow, as ``batch.read_reviews`` reads them. Input columns named like an output
column (IMDb files have ``label``) are kept as ``input_<name>``.

Bad rows (null, empty, blank or non-string text) get an ``error`` and are written, never dropped.
A dead worker is restarted and its batch retried (``max_restarts`` / ``max_task_retries``).

Parts as Spark, Dask and pandas write them (:func:`plan_inputs`, local files; ``s3://`` inputs are
read as they come): a part with no rows is skipped (one log line); a part without the text column,
or whose text column is all null, keeps its rows, each with an ``error``; only when no part has the
column is it a :class:`UserError`. Parts with different columns or types (an extra column, a
``large_string`` text column) are written with one schema, the union of their columns, so the
output folder reads back as one table.
"""

from __future__ import annotations

import io
import warnings
from pathlib import Path

import pandas as pd

from ..errors import UserError
from .ray_inputs import (  # noqa: F401 - expand_inputs, read_chunks, plan_inputs: this module's API too
    CHUNK_ROWS,
    ID_COLUMNS,
    READERS,
    _arrow_type,
    _is_uri,
    expand_inputs,
    number_rows,
    plan_inputs,
    probe,
    read_chunks,
)


class BatchScorer:
    """Ray Data callable class: loads the Classifier once per actor, scores one pandas batch per call
    into an Arrow table. ``types``: the input columns' types from :func:`plan_inputs` (every output
    file gets them); ``lacking``: files without the text column, whose rows get that as their error."""

    def __init__(self, model_dir, text_column, batch_size, backend, device, threads, types=None, lacking=()):
        from ..serving.classifier import Classifier

        self.classifier = Classifier.from_pretrained(
            model_dir, device=device, backend=backend, threads=threads
        )
        self.text_column, self.batch_size = text_column, batch_size
        self.types, self.lacking = types or {}, set(lacking)

    def __call__(self, batch: pd.DataFrame):
        from ..serving.batch import score_texts

        column = batch[self.text_column] if self.text_column in batch.columns else [None] * len(batch)
        texts = [None if isinstance(v, float) and pd.isna(v) else v for v in column]
        # score_texts gives the errors for bad rows and sorts the good ones by length (Classifier.predict).
        scored = score_texts(self.classifier, texts, batch_size=self.batch_size)
        if self.lacking and "source_file" in batch.columns:
            lacking = batch["source_file"].isin(self.lacking).to_numpy()
            scored.loc[lacking, "error"] = f"the file has no column '{self.text_column}'"
        labels = list(self.classifier.id2label.values())
        scored = scored.drop(columns="index").rename(columns={c: f"score_{c}" for c in labels})
        out = batch.reset_index(drop=True)
        renamed = {c: f"input_{c}" for c in out.columns if c in scored.columns}
        out = out.rename(columns=renamed)
        # Parquet needs one type per column: a number given as text is written as its string form.
        out[self.text_column] = [v if v is None or isinstance(v, str) else str(v) for v in texts]
        scores = {"score": "float64", **{f"score_{c}": "float64" for c in labels}}
        types = {renamed.get(c, c): t for c, t in self.types.items()}
        return _typed_table(pd.concat([out, scored.astype(scores)], axis=1), self.text_column, types)


def _typed_table(frame: pd.DataFrame, text_column: str, types: dict | None = None):
    """``frame`` as an Arrow table with one schema for every batch: the text, label and error
    columns are strings (also in a batch where all of them are missing, typed null by inference),
    the input columns have ``types`` (the common type across parts; values of a column typed
    string are written as their string form), so the output folder reads back as one table."""
    import pyarrow as pa

    types = types or {}
    fields = []
    for name in frame.columns:
        kind = pa.string() if name in (text_column, "label", "error") else types.get(name)
        kind = kind or _arrow_type(frame[name])
        if kind == pa.null():
            kind = pa.string()
        if kind == pa.string() and not all(v is None or isinstance(v, str) for v in frame[name]):
            frame[name] = [
                None if v is None or (isinstance(v, float) and pd.isna(v)) else str(v) for v in frame[name]
            ]
        fields.append(pa.field(name, kind))
    return pa.Table.from_pandas(frame, schema=pa.schema(fields), preserve_index=False)


def _datasource(files, chunk_rows, columns=None):
    from ray.data.datasource import FileBasedDatasource

    class NumberedFiles(FileBasedDatasource):
        _FILE_EXTENSIONS = [s.lstrip(".") for s in READERS]

        def _read_stream(self, f, path):
            # CSV and JSON Lines stream from the file; parquet needs random access (its footer comes
            # last), which Ray's input stream lacks, so a parquet file is buffered by its read task.
            if Path(path).suffix.lower() in (".parquet", ".pq"):
                f = io.BytesIO(f.readall())
            yield from number_rows(read_chunks(f, path, chunk_rows), path, columns)

    return NumberedFiles(files, file_extensions=NumberedFiles._FILE_EXTENSIONS)


def check_output(output: str) -> None:
    if _is_uri(output):
        return
    path = Path(output)
    if path.exists() and not path.is_dir():
        raise UserError(
            f"Output '{output}' exists and is not a folder; --engine ray writes a folder of parquet files."
        )
    if path.is_dir() and any(path.iterdir()):
        raise UserError(f"Output folder '{output}' is not empty; choose a new folder so no old rows mix in.")


def score_with_ray(
    model_dir,
    inputs: str,
    output: str,
    *,
    address: str | None = None,
    num_workers: int = 2,
    batch_size: int = 32,
    gpus_per_worker: float = 0,
    cpus_per_worker: float = 1,
    text_column: str = "text",
    backend: str = "auto",
    device: str | None = None,
    rows_per_call: int = 512,
    max_retries: int = 3,
    scorer=BatchScorer,
) -> None:
    """Score every row of ``inputs`` into parquet files under ``output`` (see the module docstring).
    ``batch_size``: reviews per forward pass; ``rows_per_call``: rows handed to an actor at once."""
    for flag, value, least in [
        ("--num-workers", num_workers, 1),
        ("--batch-size", batch_size, 1),
        ("--gpus-per-worker", gpus_per_worker, 0),
        ("rows_per_call", rows_per_call, 1),
        ("max_retries", max_retries, 0),
    ]:  # before Ray starts: Ray would fail on some deep in a worker, or wait forever for a 0-size pool
        if not value >= least:
            raise UserError(f"{flag} must be at least {least}, not {value}.")
    if not cpus_per_worker > 0:
        raise UserError(f"cpus_per_worker must be above 0, not {cpus_per_worker}.")
    try:
        import ray
        import ray.data
    except ImportError as error:
        raise UserError('--engine ray needs Ray: pip install "imdb-sentiment[ray]"') from error
    files = expand_inputs(str(inputs))
    check_output(str(output))
    files, types, lacking = plan_inputs(files, text_column)
    started = not ray.is_initialized()
    if started:  # join a cluster, or start a local one on this machine's cores
        ray.init(address=address, include_dashboard=False, configure_logging=False)
    try:
        model_dir = str(Path(model_dir).resolve()) if Path(model_dir).exists() else str(model_dir)
        device = device or ("cuda" if gpus_per_worker else "cpu")
        threads = max(1, int(cpus_per_worker))
        # Reads and writes ask for no CPU: the actors hold the cores, and a read task that waited for
        # one would leave them idle forever when num_workers * cpus_per_worker fills the cluster.
        light = {"num_cpus": 0}
        columns = None if types is None else list(types)
        dataset = ray.data.read_datasource(_datasource(files, rows_per_call * 8, columns), **light)
        if types is not None:  # the row ids come first in a block, then the input columns
            types = {("input_" + c if c in ID_COLUMNS else c): t for c, t in types.items()}
        with warnings.catch_warnings():
            # Ray Data's own default is unbounded restarts and retries, so a batch that kills
            # its worker every time (out of memory) would loop forever; the bound can only be
            # passed as a remote argument, which Ray 2.60 flags as deprecated with no named
            # replacement yet.
            warnings.filterwarnings("ignore", message="`ray_remote_args` is deprecated")
            scored = dataset.map_batches(
                scorer,
                fn_constructor_args=(
                    model_dir,
                    text_column,
                    batch_size,
                    backend,
                    device,
                    threads,
                    types,
                    lacking,
                ),
                batch_size=rows_per_call,
                batch_format="pandas",
                compute=ray.data.ActorPoolStrategy(size=num_workers),
                num_cpus=cpus_per_worker,
                num_gpus=gpus_per_worker,
                max_restarts=max_retries,
                max_task_retries=max_retries,
            )
        scored.write_parquet(str(output), ray_remote_args=light)
    finally:
        if started:
            ray.shutdown()
