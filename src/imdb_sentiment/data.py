"""Load reviews from the Hub or local files, normalise labels, and split them honestly.

Sources, all giving the same result for the same reviews:
- a Hub dataset id (``stanfordnlp/imdb``) through ``datasets.load_dataset``;
- a parquet, CSV/TSV, JSON Lines or JSON (an array of objects) file (train only);
- a folder holding ``train.*`` and optionally ``test.*`` files in those formats;
- the original ``aclImdb/`` layout (``train/pos/*.txt``, ``train/neg/*.txt``, ``test/...``).

The validation split is carved from train (stratified, seeded) and is what model selection
looks at; the test split, when the source has one, is only used for the final report.

    splits = load_splits(TrainConfig(data="../shared/imdb/train.parquet"))
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from .config import TrainConfig
from .errors import HubUnreachableError, UserError, is_local_path, looks_like_network_failure
from .offline import offline_unless_reachable

logger = logging.getLogger(__name__)

# Only an empty cell is a missing value: pandas would also read a review that says "NA", "None"
# or "null" as missing.
CSV_MISSING = {"keep_default_na": False, "na_values": [""]}
# A byte-order mark (Windows editors write one) is skipped, as pandas' CSV reader does; pandas'
# JSON reader would fail on it ("Expected object or value").
JSON_ENCODING = "utf-8-sig"
FILE_READERS = {
    ".parquet": pd.read_parquet,
    ".pq": pd.read_parquet,
    ".csv": lambda path: pd.read_csv(path, **CSV_MISSING),
    ".tsv": lambda path: pd.read_csv(path, sep="\t", **CSV_MISSING),
    ".jsonl": lambda path: pd.read_json(path, lines=True, encoding=JSON_ENCODING),
    ".ndjson": lambda path: pd.read_json(path, lines=True, encoding=JSON_ENCODING),
    ".json": lambda path: _read_json(path),
}
LABEL_NAMES = ("NEGATIVE", "POSITIVE")
_LABEL_ALIASES = {
    "0": 0,
    "neg": 0,
    "negative": 0,
    "false": 0,
    "1": 1,
    "pos": 1,
    "positive": 1,
    "true": 1,
}


JSON_SUFFIXES = (".jsonl", ".ndjson", ".json")


def json_arrays_message(name: str, fields: tuple[str, ...]) -> str:
    """What to say about a JSON file of arrays or bare values (``["a review", ...]``): its "columns"
    are 0, 1, ... or it does not parse, and naming those would not tell what is wrong."""
    example = ", ".join(f'"{field}": ...' for field in fields)
    return (
        f"{name} holds JSON arrays or values, not objects with a {' and a '.join(map(repr, fields))} "
        f"field: write one object per review, e.g. {{{example}}}, one per line (JSON Lines) or all "
        "in one array (.json)."
    )


def reads_as_json_arrays(table: pd.DataFrame) -> bool:
    """True for a table read from JSON arrays: only those give columns named by numbers (CSV
    headers, parquet and Hub column names are text)."""
    return len(table.columns) > 0 and pd.api.types.is_integer_dtype(table.columns.dtype)


def starts_a_json_array(path: Path) -> bool:
    """True for a JSON file whose first character is ``[``: a ``.json`` file is then read as one
    array; in JSON Lines it is an array spread over lines, which no line parses alone."""
    if path.suffix.lower() not in JSON_SUFFIXES:
        return False
    try:
        with path.open("rb") as handle:
            return handle.read(4096).lstrip(b"\xef\xbb\xbf \t\r\n").startswith(b"[")
    except OSError:
        return False


def _read_json(path: Path) -> pd.DataFrame:
    """A ``.json`` file: one array of objects (what ``json.dump`` of a list of records and pandas'
    ``orient="records"`` write), else JSON Lines."""
    if starts_a_json_array(path):
        # dtype/convert_dates off: a review that looks like a number or a date stays as written
        return pd.read_json(path, orient="records", dtype=False, convert_dates=False, encoding=JSON_ENCODING)
    return pd.read_json(path, lines=True, encoding=JSON_ENCODING)


@dataclass
class Splits:
    """Reviews as DataFrames with columns ``text`` (str) and ``label`` (0 = neg, 1 = pos)."""

    train: pd.DataFrame
    validation: pd.DataFrame
    test: pd.DataFrame | None = None
    counterfactuals: dict | None = None  # the pairs training/counterfactuals.py added, if any


def read_table(path: str | Path) -> pd.DataFrame:
    """Read one parquet / CSV / TSV / JSON Lines file with a clear error for anything else."""
    path = Path(path)
    reader = FILE_READERS.get(path.suffix.lower())
    if reader is None:
        raise UserError(f"Don't know how to read '{path.name}': use .parquet, .csv, .tsv, .jsonl or .json.")
    try:
        table = reader(path)
    except UnicodeDecodeError as error:
        raise UserError(f"'{path}' is not valid UTF-8 text ({error.reason}).") from error
    except (ValueError, OSError, pd.errors.ParserError) as error:
        if starts_a_json_array(path) and path.suffix.lower() != ".json":  # read as lines: each fails
            raise UserError(json_arrays_message(f"'{path}'", ("text",))) from error
        raise UserError(f"Could not read '{path}': {str(error).splitlines()[0]}") from error
    if len(table.columns) == 0:  # an empty JSON Lines file reads as a table with no columns
        raise UserError(f"'{path}' is empty: it has no columns and no rows.")
    if path.suffix.lower() in (".csv", ".tsv") and not isinstance(table.index, pd.RangeIndex):
        # pandas reads a first row with more fields than the header as index + shifted columns,
        # silently: "superb, but awful" would be scored as " but awful".
        separator = "comma" if path.suffix.lower() == ".csv" else "tab"
        raise UserError(
            f"'{path.name}' has rows with more fields than its header has columns: put a review "
            f"that holds a {separator} in double quotes."
        )
    return table


def _read_acl_imdb(root: Path, split: str) -> pd.DataFrame | None:
    rows = []
    for label, name in ((0, "neg"), (1, "pos")):
        folder = root / split / name
        if folder.is_dir():
            files = sorted(folder.glob("*.txt"))
            rows += [(f.read_text(encoding="utf-8", errors="replace"), label) for f in files]
    return pd.DataFrame(rows, columns=["text", "label"]) if rows else None


def _read_folder(root: Path) -> dict[str, pd.DataFrame]:
    if (root / "aclImdb").is_dir():
        root = root / "aclImdb"
    if (root / "train" / "pos").is_dir() or (root / "train" / "neg").is_dir():
        tables = {split: _read_acl_imdb(root, split) for split in ("train", "test")}
        return {split: table for split, table in tables.items() if table is not None}
    tables = {}
    for split in ("train", "test"):
        files = sorted(p for p in root.iterdir() if p.is_file() and is_split_file(p, split))
        if files:
            tables[split] = pd.concat([read_table(p) for p in files], ignore_index=True)
    if not tables:
        raise UserError(
            f"Folder '{root}' has neither train.* / test.* files (.parquet, .csv, .tsv, .jsonl, "
            ".json) nor the aclImdb layout (train/pos/*.txt, train/neg/*.txt)."
        )
    return tables


def is_split_file(path: Path, split: str) -> bool:
    """``train.csv``, or a shard of a Hub export (``train-00000-of-00002.parquet``); not any name
    that merely starts so (``train_backup.csv``, ``testimonials.csv``), which would mix other data
    into the split."""
    stem = re.fullmatch(rf"{split}(-\d+-of-\d+)?", path.stem)
    return stem is not None and path.suffix.lower() in FILE_READERS


def _read_hub(name: str) -> dict[str, pd.DataFrame]:
    import datasets

    offline_unless_reachable()
    try:
        loaded = datasets.load_dataset(name)
    except Exception as error:  # the Hub raises many types; sort them into two messages
        if looks_like_network_failure(error):
            raise HubUnreachableError("dataset", name, error) from error
        raise UserError(f"Could not load dataset '{name}': {str(error).splitlines()[0]}") from error
    return {split: loaded[split].to_pandas() for split in ("train", "test") if split in loaded}


def read_source(source: str) -> dict[str, pd.DataFrame]:
    """Raw tables by split name ('train', and 'test' when the source has one)."""
    path = Path(source).expanduser()
    if path.is_dir():
        return _read_folder(path)
    if path.is_file():
        return {"train": read_table(path)}
    if is_local_path(source, FILE_READERS):
        raise UserError(f"Data path '{source}' does not exist.")
    return _read_hub(source)


def normalize_labels(values: pd.Series) -> np.ndarray:
    """Map 0/1, booleans or neg/pos/negative/positive (any case) to 0/1."""
    mapping = {}
    unknown = []
    for value in pd.unique(values):
        key = str(value).strip().lower()
        if key.endswith(".0"):  # 0.0 / 1.0 from a float column
            key = key[:-2]
        if key in _LABEL_ALIASES:
            mapping[value] = _LABEL_ALIASES[key]
        else:
            unknown.append(value)
    if unknown:
        # Plain values: repr of a numpy scalar reads np.int64(-1)
        shown = ", ".join(repr(v.item() if isinstance(v, np.generic) else v) for v in unknown[:5])
        raise UserError(f"Unknown label values: {shown}. Use 0/1, neg/pos or negative/positive.")
    return values.map(mapping).to_numpy(dtype=np.int64)


def standardize(table: pd.DataFrame, text_column: str, label_column: str, split: str) -> pd.DataFrame:
    """Columns ``text`` and ``label`` (0/1); rows with a missing or blank text are dropped."""
    missing = [c for c in (text_column, label_column) if c not in table.columns]
    if missing and reads_as_json_arrays(table):
        raise UserError(json_arrays_message(f"The {split} data", (text_column, label_column)))
    if missing:
        raise UserError(
            f"The {split} data has no column {', '.join(map(repr, missing))}; its columns are "
            f"{', '.join(map(repr, map(str, table.columns)))}. Pass --text-column / --label-column."
        )
    if table[label_column].isna().any():
        raise UserError(f"The {split} data has {int(table[label_column].isna().sum())} rows without a label.")
    text = table[text_column]
    if pd.api.types.is_numeric_dtype(text):  # bool too: a numbered or label column passed as text
        raise UserError(
            f"The {split} data's text column {text_column!r} holds numbers, not text; its columns are "
            f"{', '.join(map(repr, map(str, table.columns)))}. Pass --text-column with the reviews' column."
        )
    usable = text.map(lambda t: isinstance(t, str) and bool(t.strip()))
    if not usable.all():
        logger.warning(
            "Dropping %d %s rows without text (missing, empty or not a string).", (~usable).sum(), split
        )
    table = table[usable]
    if table.empty:
        raise UserError(f"The {split} data has no rows with text.")
    labels = normalize_labels(table[label_column])
    return pd.DataFrame({"text": table[text_column].to_numpy(), "label": labels})


def stratified_sample(table: pd.DataFrame, n: int | None, seed: int) -> pd.DataFrame:
    if n is None or n >= len(table):
        return table.reset_index(drop=True)
    from sklearn.model_selection import train_test_split

    kept, _ = train_test_split(table, train_size=n, stratify=table["label"], random_state=seed)
    return kept.reset_index(drop=True)


def load_splits(config: TrainConfig) -> Splits:
    """Train / validation / optional test splits for ``config``, sampled as it asks."""
    from sklearn.model_selection import train_test_split

    if config.data is None:  # not resolved yet: the Hub default, or the embedded sample offline
        from .config import resolve_config

        config = resolve_config(config)
    tables = read_source(config.data)
    if "train" not in tables:  # a folder of test files, or a Hub dataset without a train split
        raise UserError(f"'{config.data}' has no train split to train on; it has {', '.join(tables)}.")
    train = standardize(tables["train"], config.text_column, config.label_column, "train")
    counts = np.bincount(train["label"], minlength=2)
    if counts.min() < 2:
        raise UserError(
            f"The training data must hold at least 2 reviews of each class, one for training and one "
            f"for validation (found {counts[0]} negative and {counts[1]} positive reviews)."
        )
    try:
        train, validation = train_test_split(
            train,
            test_size=config.validation_fraction,
            stratify=train["label"],
            random_state=config.seed,
        )
    except ValueError as error:  # sklearn's words ("test_size = 1 should be ...") do not say what to do
        raise UserError(
            f"The training data ({len(train)} reviews) is too small for a validation split of "
            f"{config.validation_fraction:g}: both splits need each class at least once. Add data or "
            "change --validation-fraction."
        ) from error
    test = None
    if "test" in tables:
        test = standardize(tables["test"], config.text_column, config.label_column, "test")
        test = stratified_sample(test, config.max_eval_samples, config.seed)
    return Splits(
        train=stratified_sample(train, config.max_train_samples, config.seed),
        validation=stratified_sample(validation, config.max_eval_samples, config.seed),
        test=test,
    )
