"""``python -m imdb_sentiment predict`` on each input format and ``evaluate``, against the tiny trained model."""

from __future__ import annotations

import errno
import io
import json
from pathlib import Path

import pandas as pd
import pytest

from imdb_sentiment import UserError
from imdb_sentiment.cli import main
from imdb_sentiment.serving.batch import read_reviews, write_predictions

from helpers import make_reviews


@pytest.fixture(scope="module")
def reviews() -> pd.DataFrame:
    return make_reviews(40, seed=5, max_words=12)


def predict(model_dir, *args: str) -> list[str]:
    return ["predict", "--model-dir", str(model_dir), *args]


def accuracy(table: pd.DataFrame, reviews: pd.DataFrame) -> float:
    return float(
        ((table["label"] == "POSITIVE").astype(int).to_numpy() == reviews["label"].to_numpy()).mean()
    )


def test_reviews_as_arguments_give_json_lines(trained_model_dir, capsys):
    assert main(predict(trained_model_dir, "the film was superb .", "an awful waste .")) == 0
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [row["label"] for row in rows] == ["POSITIVE", "NEGATIVE"]
    assert all(row["NEGATIVE"] + row["POSITIVE"] == pytest.approx(1.0) for row in rows)
    assert all(row["error"] is None and row["score"] >= 0.5 for row in rows)


@pytest.mark.parametrize("suffix", [".txt", ".csv", ".parquet", ".jsonl"])
@pytest.mark.parametrize("output", [".jsonl", ".csv"])
def test_each_file_format(trained_model_dir, tmp_path, reviews, suffix, output):
    source = tmp_path / f"reviews{suffix}"
    if suffix == ".txt":
        source.write_text("\n".join(reviews["text"]) + "\n", encoding="utf-8")
    elif suffix == ".csv":
        reviews.to_csv(source, index=False)
    elif suffix == ".parquet":
        reviews.to_parquet(source)
    else:
        reviews.to_json(source, orient="records", lines=True)
    destination = tmp_path / f"out{output}"
    assert main(predict(trained_model_dir, "--file", str(source), "--output", str(destination))) == 0
    table = pd.read_json(destination, lines=True) if output == ".jsonl" else pd.read_csv(destination)
    assert list(table.columns) == ["index", "label", "score", "NEGATIVE", "POSITIVE", "error"]
    assert table["index"].tolist() == list(range(len(reviews)))
    assert accuracy(table, reviews) >= 0.9


def test_blank_rows_are_kept_with_an_error(trained_model_dir, tmp_path, capsys):
    source = tmp_path / "reviews.csv"
    # A review reading "NA" is text (pandas would read it as missing); only the empty cell is missing.
    texts = ["a superb film .", None, "   ", "an awful film .", "NA"]
    pd.DataFrame({"id": range(5), "review": texts}).to_csv(source, index=False)
    args = predict(trained_model_dir, "--file", str(source), "--text-column", "review")
    assert main(args) == 0
    captured = capsys.readouterr()
    rows = [json.loads(line) for line in captured.out.splitlines()]
    assert [row["label"] for row in rows][:4] == ["POSITIVE", None, None, "NEGATIVE"]
    assert rows[4]["label"] in ("POSITIVE", "NEGATIVE") and rows[4]["error"] is None
    assert rows[1]["error"] and rows[2]["error"]
    assert "2 of 5 rows" in captured.err


def test_scores_are_floats_even_when_every_row_failed(trained_model_dir, tmp_path):
    source, scored, failed = tmp_path / "reviews.csv", tmp_path / "ok.parquet", tmp_path / "failed.parquet"
    pd.DataFrame({"text": ["a superb film ."]}).to_csv(source, index=False)
    assert main(predict(trained_model_dir, "--file", str(source), "--output", str(scored))) == 0
    pd.DataFrame({"text": ["   ", "<br />"]}).to_csv(source, index=False)
    assert main(predict(trained_model_dir, "--file", str(source), "--output", str(failed))) == 0
    scores = ["score", "NEGATIVE", "POSITIVE"]
    tables = [pd.read_parquet(path) for path in (scored, failed)]
    assert [str(tables[1][column].dtype) for column in scores] == ["float64"] * 3
    assert [str(tables[0][column].dtype) for column in scores] == ["float64"] * 3
    assert tables[1]["score"].isna().all() and tables[1]["error"].notna().all()


def test_a_text_file_with_a_byte_order_mark_reads_without_it(tmp_path):
    (source := tmp_path / "reviews.txt").write_bytes("\ufeffa superb film\r\nan awful one\r\n".encode())
    assert read_reviews(source) == ["a superb film", "an awful one"]


def test_stdin_and_progress_bar(trained_model_dir, monkeypatch, capsys):
    lines = ["the film was superb .", "", "the film was dreadful ."] * 150  # 300 reviews: past one chunk
    monkeypatch.setattr("sys.stdin", io.TextIOWrapper(io.BytesIO("\n".join(lines).encode())))
    assert main(predict(trained_model_dir)) == 0
    captured = capsys.readouterr()
    labels = [json.loads(line)["label"] for line in captured.out.splitlines()]
    assert labels == ["POSITIVE", "NEGATIVE"] * 150
    assert "300/300" in captured.err  # the progress bar, on stderr so stdout stays clean JSON Lines


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--file", "missing.csv"], "does not exist"),
        (["--file", "{csv}", "--text-column", "body"], "no column 'body'"),
        (["--file", "{csv}", "--output", "out.xlsx"], "must end in"),
        (["--file", "{csv}", "a review"], "not both"),
        (["--file", "{folder}"], "is a folder; name one file of reviews in it"),
        (
            ["--file", "{csv}", "--text-column", "label"],
            "Column 'label' of 'reviews.csv' holds no text (its values are int). Pass --text-column",
        ),
    ],
)
def test_user_mistakes_are_one_line_errors(trained_model_dir, tmp_path, capsys, reviews, args, message):
    source = tmp_path / "reviews.csv"
    reviews.to_csv(source, index=False)
    args = [a.replace("{csv}", str(source)).replace("{folder}", str(tmp_path)) for a in args]
    assert main(predict(trained_model_dir, *args)) == 2
    err = capsys.readouterr().err  # may also hold transformers' "Loading weights" bar
    assert err.strip().splitlines()[-1].startswith("error: ") and message in err and "Traceback" not in err


def test_missing_model_says_how_to_train(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert main(["predict", "a review"]) == 2  # default --model-dir saved_model does not exist
    assert "make train" in capsys.readouterr().err


def test_evaluate_prints_and_saves_the_training_metrics(trained_model_dir, tmp_path, capsys):
    data = tmp_path / "labelled.csv"
    make_reviews(80, seed=9, max_words=12).to_csv(data, index=False)
    saved = tmp_path / "metrics.json"
    args = ["evaluate", "--model-dir", str(trained_model_dir), "--data", str(data), "--split", "train"]
    assert main([*args, "--output", str(saved)]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed == json.loads(saved.read_text())
    training = json.loads((trained_model_dir / "metrics.json").read_text())["validation"]
    assert set(training) <= set(printed)  # the same metrics as training reports
    assert printed["n"] == 80 and printed["accuracy"] >= 0.9


def test_evaluate_reports_each_source_and_an_empty_source_cell_as_its_own(
    trained_model_dir, tmp_path, capsys
):
    table = make_reviews(30, seed=9, max_words=12)
    table["source"] = ["imdb"] * 12 + ["yelp"] * 12 + [None] * 6  # a CSV's empty cells read as NaN
    data = tmp_path / "labelled.csv"
    table.to_csv(data, index=False)
    assert main(["evaluate", "--model-dir", str(trained_model_dir), "--data", str(data)]) == 0
    by_source = json.loads(capsys.readouterr().out)["by_source"]
    assert {name: row["n"] for name, row in by_source.items()} == {"(none)": 6, "imdb": 12, "yelp": 12}
    assert all(row["accuracy"] >= 0.8 for row in by_source.values())


def test_evaluate_missing_split_is_a_user_error(trained_model_dir, tmp_path, capsys):
    data = tmp_path / "labelled.csv"
    make_reviews(10, seed=9).to_csv(data, index=False)
    args = ["evaluate", "--model-dir", str(trained_model_dir), "--data", str(data), "--split", "test"]
    assert main(args) == 2
    assert "no test split" in capsys.readouterr().err


def test_a_missing_text_column_suggests_the_text_column_flag(tiny_distilbert, tmp_path, capsys):
    source = tmp_path / "reviews.csv"
    source.write_text("review,stars\na superb film .,5\n")
    assert main(predict(tiny_distilbert, "--file", str(source))) == 2
    line = capsys.readouterr().err.strip().splitlines()[-1]
    assert "no column 'text'" in line and "'review', 'stars'" in line and "Pass --text-column" in line


def test_evaluate_speaks_of_the_data_it_was_given_not_of_training_data(tiny_distilbert, tmp_path, capsys):
    source = tmp_path / "reviews.csv"
    source.write_text("review,label\na superb film .,1\n")
    assert main(["evaluate", "--model-dir", str(tiny_distilbert), "--data", str(source)]) == 2
    line = capsys.readouterr().err.strip().splitlines()[-1]
    assert "The evaluation data has no column 'text'" in line and "train" not in line, line


NOT_OBJECTS = {
    "strings in an array": ("reviews.json", '["a superb film .", "an awful film ."]\n'),
    "arrays on lines": ("reviews.jsonl", '["a superb film .", 1]\n["an awful film .", 0]\n'),
    "pretty-printed array as JSON Lines": (
        "reviews.jsonl",
        '[\n  {"text": "a superb film .", "label": 1}\n]\n',
    ),
}


@pytest.mark.parametrize(("name", "content"), NOT_OBJECTS.values(), ids=NOT_OBJECTS.keys())
@pytest.mark.parametrize("command", ["predict", "evaluate"])
def test_json_without_review_objects_is_named_as_such(
    tiny_distilbert, tmp_path, capsys, command, name, content
):
    source = tmp_path / name
    source.write_text(content)
    flag = "--file" if command == "predict" else "--data"
    assert main([command, "--model-dir", str(tiny_distilbert), flag, str(source)]) == 2
    line = capsys.readouterr().err.strip().splitlines()[-1]
    assert line.startswith("error: ") and "holds JSON arrays or values, not objects with a 'text'" in line, (
        line
    )
    assert "its columns are" not in line and "--text-column" not in line


@pytest.mark.parametrize("indent", [None, 2], ids=["one line", "pretty-printed"])
def test_a_json_array_of_reviews_is_scored_and_evaluated(
    trained_model_dir, reviews, tmp_path, capsys, indent
):
    source = tmp_path / "reviews.json"
    source.write_text(json.dumps(reviews[["text", "label"]].to_dict("records"), indent=indent))
    assert main(predict(trained_model_dir, "--file", str(source))) == 0
    table = pd.DataFrame([json.loads(line) for line in capsys.readouterr().out.splitlines()])
    assert len(table) == len(reviews) and table["error"].isna().all()
    assert accuracy(table, reviews) >= 0.9

    assert main(["evaluate", "--model-dir", str(trained_model_dir), "--data", str(source)]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed["n"] == len(reviews) and printed["accuracy"] >= 0.9


@pytest.mark.parametrize("suffix", [".jsonl", ".csv", ".parquet"])
def test_a_failed_write_leaves_neither_output_nor_staging_file(tmp_path, monkeypatch, suffix):
    def disk_full(self, path, *args, **kwargs):
        Path(path).write_text("half a table")
        raise OSError(errno.ENOSPC, "No space left on device")

    for writer in ("to_json", "to_csv", "to_parquet"):
        monkeypatch.setattr(pd.DataFrame, writer, disk_full)
    table = pd.DataFrame({"index": [0], "label": ["POSITIVE"], "error": [None]})
    with pytest.raises(UserError, match="No space left"):
        write_predictions(table, tmp_path / f"out{suffix}")
    assert list(tmp_path.iterdir()) == []


def test_evaluate_writes_no_metrics_file_when_the_write_fails(tiny_distilbert, tmp_path, capsys, monkeypatch):
    data = tmp_path / "labelled.csv"
    make_reviews(8, seed=9, max_words=12).to_csv(data, index=False)

    def disk_full(self, text, *args, **kwargs):
        Path.write_bytes(self, text[:5].encode())
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(Path, "write_text", disk_full)
    saved = tmp_path / "metrics.json"
    args = ["evaluate", "--model-dir", str(tiny_distilbert), "--data", str(data), "--output", str(saved)]
    assert main(args) == 2
    assert "No space left" in capsys.readouterr().err.strip().splitlines()[-1]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["labelled.csv"]
