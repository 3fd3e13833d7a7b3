"""Counterfactual pairs mixed into training: reviews and their minimally edited, label-flipped copies.

IMDb's labels never show a model what a small edit does to a verdict ("a great film" -> "not a
great film"). The counterfactually-augmented reviews of Kaushik, Hovy and Lipton (ICLR 2020), shipped
in ``embedded/cad/`` (README there: source and Apache-2.0 notice), do: 1,707 IMDb train reviews,
each rewritten by a person to take the opposite label. ``--counterfactuals``:

* ``auto`` (default): mix the bundled pairs in when the training data is IMDb (the Hub's
  ``stanfordnlp/imdb`` or ``imdb``, or the embedded sample); off for anyone's own data;
* ``on`` / ``off``: always / never;
* a file path: any parquet/CSV/JSON Lines file of ``text``, ``label`` and ``pair_id`` rows (an
  original and its edit per ``pair_id``; a ``version`` column is optional).

Pairs are added after the sampling (``max_train_samples`` counts the data's own reviews), and each
pair goes to one split: the validation split takes ``validation_fraction`` of them, carved as whole
pairs (seeded), the training split the rest. A pair one of whose texts is already in a split goes
to that split; one that touches the test split is dropped, and the drop is logged.

    splits = with_counterfactuals(config, load_splits(config))
"""

from __future__ import annotations

import dataclasses
import logging
import re
from pathlib import Path

import numpy as np
import pandas as pd

from ..config import TrainConfig
from ..data import Splits, normalize_labels, read_table
from ..errors import UserError
from ..offline import is_embedded_data
from ..text import clean_text

logger = logging.getLogger(__name__)

EMBEDDED_CAD = Path(__file__).resolve().parent.parent / "embedded" / "cad"
IMDB_HUB_IDS = ("stanfordnlp/imdb", "imdb")
_NOT_WORD = re.compile(r"[^0-9a-z]+")


def text_key(text: str) -> str:
    """What two copies of one review share: CAD's texts differ from IMDb's in line breaks, quotes
    and spacing (41% of the originals are not byte-equal to their IMDb review), so texts are
    compared lower-cased, as their letters and digits only."""
    return _NOT_WORD.sub(" ", clean_text(text).lower()).strip()


def is_imdb(data: str | None) -> bool:
    return data is not None and (data in IMDB_HUB_IDS or is_embedded_data(data))


def counterfactual_source(config: TrainConfig) -> Path | None:
    """The pairs file ``config`` asks for, or None."""
    value = config.counterfactuals
    if value == "off" or (value == "auto" and not is_imdb(config.data)):
        return None
    if value in ("on", "auto"):
        return EMBEDDED_CAD / "train.parquet"
    return Path(value).expanduser()


def read_pairs(path: str | Path) -> pd.DataFrame:
    """Columns ``text``, ``label`` (0/1), ``pair_id`` and ``version`` when the file has it; rows
    without a text, and pairs left with one row, are dropped."""
    table = read_table(path)
    missing = [column for column in ("text", "label", "pair_id") if column not in table.columns]
    if missing:
        raise UserError(
            f"The counterfactual pairs in '{path}' have no column {', '.join(map(repr, missing))}; "
            "they need text, label and pair_id (an original and its edit per pair_id)."
        )
    table = table[table["text"].map(lambda t: isinstance(t, str) and bool(t.strip()))]
    table = table[table["pair_id"].notna()]
    pairs = pd.DataFrame(
        {
            "text": table["text"].to_numpy(),
            "label": normalize_labels(table["label"]),
            "pair_id": table["pair_id"].to_numpy(),
        }
    )
    if "version" in table.columns:
        pairs["version"] = table["version"].astype(str).to_numpy()
    whole = pairs.groupby("pair_id")["text"].transform("size") >= 2
    if not whole.all():
        logger.warning(
            "Dropping %d counterfactual rows whose pair_id has no second row.", int((~whole).sum())
        )
    pairs = pairs[whole].reset_index(drop=True)
    if pairs.empty:
        raise UserError(f"'{path}' holds no counterfactual pair (two rows sharing a pair_id).")
    return pairs


def add_pairs(
    splits: Splits, pairs: pd.DataFrame, validation_fraction: float, seed: int
) -> tuple[Splits, dict]:
    """``splits`` with ``pairs`` added, each pair to one split, and what was done."""
    keys = pairs["text"].map(text_key)
    in_split = {}
    for name in ("train", "validation", "test"):
        frame = getattr(splits, name)
        seen = set() if frame is None else set(frame["text"].map(text_key))
        in_split[name] = keys.isin(seen).groupby(pairs["pair_id"]).transform("any")
    dropped = in_split["test"] | (in_split["train"] & in_split["validation"])
    n_dropped = pairs.loc[dropped, "pair_id"].nunique()
    if n_dropped:
        logger.warning(
            "Dropped %d counterfactual pairs: a text of each is also in the test split (or in both "
            "train and validation).",
            n_dropped,
        )
    to_validation = in_split["validation"] & ~dropped
    free = pairs.loc[~dropped & ~in_split["train"] & ~to_validation, "pair_id"].unique()
    carved = np.random.default_rng(seed).permutation(free)[: round(len(free) * validation_fraction)]
    to_validation |= pairs["pair_id"].isin(set(carved))
    to_train = ~dropped & ~to_validation

    def extend(frame: pd.DataFrame, rows: pd.Series) -> pd.DataFrame:
        seen = set(frame["text"].map(text_key))  # a pair's original may be one of the split's reviews
        new = pairs.loc[rows & ~keys.isin(seen), ["text", "label"]]
        return pd.concat([frame, new], ignore_index=True)

    report = {
        "pairs_train": int(pairs.loc[to_train, "pair_id"].nunique()),
        "pairs_validation": int(pairs.loc[to_validation, "pair_id"].nunique()),
        "pairs_dropped": int(n_dropped),
    }
    splits = dataclasses.replace(
        splits,
        train=extend(splits.train, to_train),
        validation=extend(splits.validation, to_validation),
    )
    return splits, report


def with_counterfactuals(config: TrainConfig, splits: Splits) -> Splits:
    """``splits`` with the counterfactual pairs ``config.counterfactuals`` asks for (see above);
    ``splits.counterfactuals`` says what was added."""
    source = counterfactual_source(config)
    if source is None:
        return splits
    pairs = read_pairs(source)
    splits, report = add_pairs(splits, pairs, config.validation_fraction, config.seed)
    name = "the bundled CAD train pairs" if source.parent == EMBEDDED_CAD else str(source)
    return dataclasses.replace(splits, counterfactuals={"source": name, **report})


def dev_pairs(splits: Splits) -> tuple[pd.DataFrame, int]:
    """The bundled CAD dev pairs none of whose texts the model trained or was validated on, and how
    many pairs were left out for that."""
    pairs = read_pairs(EMBEDDED_CAD / "dev.parquet")
    seen = set(splits.train["text"].map(text_key)) | set(splits.validation["text"].map(text_key))
    touched = pairs["text"].map(text_key).isin(seen).groupby(pairs["pair_id"]).transform("any")
    return pairs[~touched].reset_index(drop=True), int(pairs.loc[touched, "pair_id"].nunique())
