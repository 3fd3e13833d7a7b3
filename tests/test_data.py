"""Every data format loads to the same reviews; labels normalise; splits are stratified and honest."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from imdb_sentiment import TrainConfig, UserError, load_splits
from imdb_sentiment.data import normalize_labels, read_source

from helpers import make_reviews


@pytest.fixture
def reviews() -> pd.DataFrame:
    return make_reviews(60, seed=3)


def write_acl_imdb(root, frame):
    for split, part in (("train", frame.iloc[:40]), ("test", frame.iloc[40:])):
        for i, (text, label) in enumerate(zip(part["text"], part["label"])):
            folder = root / "aclImdb" / split / ("pos" if label else "neg")
            folder.mkdir(parents=True, exist_ok=True)
            (folder / f"{i}_7.txt").write_text(text, encoding="utf-8")


def sorted_rows(frame: pd.DataFrame) -> list[tuple[str, int]]:
    return sorted(zip(frame["text"], frame["label"].astype(int)))


@pytest.mark.parametrize(
    "fmt", ["parquet", "csv", "tsv", "jsonl", "json", "bom-jsonl", "bom-json", "folder", "acl"]
)
def test_each_format_loads_the_same_reviews(tmp_path, reviews, fmt):
    if fmt.startswith("bom-"):  # what Windows editors write: a byte-order mark, then the JSON
        source = tmp_path / f"r.{fmt[4:]}"
        lines = fmt == "bom-jsonl"
        content = reviews.to_json(orient="records", lines=lines, indent=None if lines else 2)
        source.write_bytes(b"\xef\xbb\xbf" + content.encode("utf-8"))
    elif fmt == "json":  # one array of objects, as json.dump of a list of records writes it
        reviews.to_json(source := tmp_path / "r.json", orient="records")
    elif fmt == "parquet":
        reviews.to_parquet(source := tmp_path / "r.parquet")
    elif fmt == "csv":
        reviews.to_csv(source := tmp_path / "r.csv", index=False)
    elif fmt == "tsv":
        reviews.to_csv(source := tmp_path / "r.tsv", index=False, sep="\t")
    elif fmt == "jsonl":
        reviews.to_json(source := tmp_path / "r.jsonl", orient="records", lines=True)
    elif fmt == "folder":
        reviews.iloc[:40].to_parquet(tmp_path / "train.parquet")
        reviews.iloc[40:].to_csv(tmp_path / "test.csv", index=False)
        source = tmp_path
    else:
        write_acl_imdb(tmp_path, reviews)
        source = tmp_path
    tables = read_source(str(source))
    loaded = pd.concat(tables.values())
    assert sorted_rows(loaded) == sorted_rows(reviews)
    if fmt in ("folder", "acl"):
        assert set(tables) == {"train", "test"} and len(tables["test"]) == 20


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        ([0, 1, 1], [0, 1, 1]),
        (["neg", "pos", "POS"], [0, 1, 1]),
        (["negative", "Positive", "negative"], [0, 1, 0]),
        ([True, False, True], [1, 0, 1]),
        ([0.0, 1.0, 1.0], [0, 1, 1]),
    ],
)
def test_labels_normalise(values, expected):
    assert normalize_labels(pd.Series(values)).tolist() == expected


def test_unknown_labels_are_named():
    with pytest.raises(UserError, match="Unknown label values: 'meh'"):
        normalize_labels(pd.Series(["pos", "meh"]))


def test_splits_are_stratified_disjoint_and_seeded(tmp_path):
    make_reviews(400, seed=1).to_parquet(path := tmp_path / "train.parquet")
    config = TrainConfig(
        data=str(path), validation_fraction=0.25, max_train_samples=200, max_eval_samples=None
    )
    splits = load_splits(config)
    assert len(splits.validation) == 100 and len(splits.train) == 200 and splits.test is None
    assert np.bincount(splits.validation["label"]).tolist() == [50, 50]
    assert np.bincount(splits.train["label"]).tolist() == [100, 100]
    assert not set(splits.train["text"]) & set(splits.validation["text"]) - {""}
    again = load_splits(config)
    assert again.validation["text"].tolist() == splits.validation["text"].tolist()


def test_test_split_is_kept_apart(tmp_path):
    write_acl_imdb(tmp_path, make_reviews(60, seed=2))
    splits = load_splits(TrainConfig(data=str(tmp_path), max_eval_samples=None, max_train_samples=None))
    assert len(splits.test) == 20 and len(splits.train) + len(splits.validation) == 40


def test_custom_column_names(tmp_path):
    make_reviews(40).rename(columns={"text": "review", "label": "sentiment"}).to_csv(
        path := tmp_path / "r.csv", index=False
    )
    splits = load_splits(TrainConfig(data=str(path), text_column="review", label_column="sentiment"))
    assert list(splits.train.columns) == ["text", "label"]


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda p: None, "does not exist"),
        (lambda p: pd.DataFrame({"review": ["a"], "label": [1]}).to_csv(p, index=False), "no column 'text'"),
        (
            lambda p: pd.DataFrame({"text": ["good", "fine"] * 5, "label": [1] * 10}).to_csv(p, index=False),
            "at least 2 reviews of each class.*found 0 negative and 10 positive",
        ),
        (
            lambda p: pd.DataFrame({"text": ["good", "bad"], "label": [1, 0]}).to_csv(p, index=False),
            "at least 2 reviews of each class, one for training and one for validation.*1 negative and 1 pos",
        ),
        (
            lambda p: pd.DataFrame({"text": ["good", "bad"] * 5, "label": ["pos", "so-so"] * 5}).to_csv(
                p, index=False
            ),
            "Unknown label values",
        ),
        (lambda p: p.write_bytes(b"text,label\n\xff\xfe bad bytes,1\n"), "not valid UTF-8"),
        (lambda p: p.write_text(""), "Could not read"),
    ],
    ids=[
        "missing",
        "no-text-column",
        "single-class",
        "one-of-each",
        "unknown-labels",
        "bad-encoding",
        "empty-file",
    ],
)
def test_bad_data_is_a_clear_error(tmp_path, make, message):
    path = tmp_path / "data.csv"
    make(path)
    with pytest.raises(UserError, match=message):
        load_splits(TrainConfig(data=str(path)))


def test_rows_without_text_are_dropped(tmp_path):
    frame = make_reviews(40)
    frame.loc[[0, 1], "text"] = None
    frame.to_parquet(path := tmp_path / "r.parquet")
    splits = load_splits(TrainConfig(data=str(path), max_eval_samples=None, max_train_samples=None))
    assert len(splits.train) + len(splits.validation) == 38


def test_a_review_reading_na_or_none_is_text_and_only_an_empty_cell_is_missing(tmp_path):
    frame = make_reviews(40)
    frame.loc[0, "text"], frame.loc[1, "text"], frame.loc[2, "text"] = "NA", "None", ""
    frame.to_csv(path := tmp_path / "r.csv", index=False)
    splits = load_splits(TrainConfig(data=str(path), max_eval_samples=None, max_train_samples=None))
    texts = [*splits.train["text"], *splits.validation["text"]]
    assert len(texts) == 39 and {"NA", "None"} <= set(texts)


def test_a_folder_reads_only_the_split_files_it_documents(tmp_path, reviews):
    reviews.iloc[:40].to_csv(tmp_path / "train.csv", index=False)
    reviews.iloc[40:].to_csv(tmp_path / "test.csv", index=False)
    # Names that merely start with a split's name are other data, not more of the split.
    make_reviews(30, seed=9).to_csv(tmp_path / "train_backup.csv", index=False)
    make_reviews(30, seed=8).to_csv(tmp_path / "testimonials_notes.csv", index=False)
    tables = read_source(str(tmp_path))
    assert (len(tables["train"]), len(tables["test"])) == (40, 20)


def test_a_folder_reads_every_shard_of_a_hub_export(tmp_path, reviews):
    reviews.iloc[:30].to_parquet(tmp_path / "train-00000-of-00002.parquet")
    reviews.iloc[30:40].to_parquet(tmp_path / "train-00001-of-00002.parquet")
    reviews.iloc[40:].to_parquet(tmp_path / "test-00000-of-00001.parquet")
    tables = read_source(str(tmp_path))
    assert sorted_rows(tables["train"]) == sorted_rows(reviews.iloc[:40])
    assert len(tables["test"]) == 20


@pytest.mark.parametrize(
    ("name", "content", "separator"),
    [
        ("r.csv", "text,label\nThe acting was superb, but the plot was awful,0\ngood,1\n", "comma"),
        ("r.tsv", "text\tlabel\nsuperb\tbut awful\t0\n", "tab"),
    ],
)
def test_an_unquoted_separator_in_the_first_rows_is_named_not_misread(tmp_path, name, content, separator):
    # pandas would take the extra leading field as the index and read "but the plot was awful".
    (path := tmp_path / name).write_text(content)
    with pytest.raises(UserError, match=f"more fields than its header.*holds a {separator} in double quotes"):
        read_source(str(path))


def test_a_folder_of_test_files_is_read_for_evaluation_and_refused_for_training(tmp_path, reviews):
    (tmp_path / "notes.csv").write_text("text\nnot a split\n")
    with pytest.raises(UserError, match="has neither train.* / test.* files"):
        read_source(str(tmp_path))
    reviews.to_csv(tmp_path / "test.csv", index=False)
    assert list(read_source(str(tmp_path))) == ["test"]  # what evaluate scores
    with pytest.raises(UserError, match="has no train split to train on; it has test"):
        load_splits(TrainConfig(data=str(tmp_path)))


@pytest.mark.parametrize(("labels", "shown"), [([0, 1, -1], "-1"), ([0.0, 1.0, 0.9], "0.9")])
def test_unknown_labels_are_shown_as_plain_values(tmp_path, labels, shown):
    pd.DataFrame({"text": ["good", "bad", "meh"] * 4, "label": labels * 4}).to_csv(
        path := tmp_path / "data.csv", index=False
    )
    with pytest.raises(UserError, match=f"Unknown label values: {shown}\\. ") as error:
        load_splits(TrainConfig(data=str(path)))
    assert "np." not in str(error.value)


def test_too_little_data_for_a_validation_split_says_what_to_do(tmp_path):
    make_reviews(10).to_csv(path := tmp_path / "data.csv", index=False)  # 10% of 10: one review
    with pytest.raises(UserError, match="too small for a validation split.*--validation-fraction") as error:
        load_splits(TrainConfig(data=str(path), validation_fraction=0.1))
    assert "test_size" not in str(error.value)  # sklearn's words


def test_a_numeric_text_column_is_named_as_such(tmp_path):
    pd.DataFrame({"id": ["a", "b"] * 5, "text": range(10), "label": [0, 1] * 5}).to_csv(
        path := tmp_path / "data.csv", index=False
    )
    with pytest.raises(UserError, match="text column 'text' holds numbers, not text.*--text-column"):
        load_splits(TrainConfig(data=str(path)))
