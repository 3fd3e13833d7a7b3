"""Ray Data scoring (scale/ray.py): same labels and scores as one process, nothing lost, bad rows kept,
a killed worker retried, odd parts (empty, all-null or missing text, mixed schemas) kept, the CLI
path; plus the input checks, the part planning and the scorer itself without Ray."""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from imdb_sentiment.errors import UserError
from imdb_sentiment.scale.ray import (
    BatchScorer,
    expand_inputs,
    number_rows,
    plan_inputs,
    read_chunks,
    score_with_ray,
)

from helpers import make_reviews

BAD = [None, "", "   ", 42]


def write_inputs(folder: Path, n: int = 2000) -> dict[str, pd.DataFrame]:
    """``n`` generated reviews over parquet, CSV and JSON Lines files; returns file -> its rows."""
    reviews = make_reviews(n, seed=3, max_words=12)
    parts = {}
    for i, suffix in enumerate([".parquet", ".csv", ".jsonl", ".parquet", ".csv"]):
        part = reviews.iloc[i::5].reset_index(drop=True)
        path = folder / f"part{i}{suffix}"
        if suffix == ".parquet":
            part.to_parquet(path)
        elif suffix == ".csv":
            part.to_csv(path, index=False)
        else:
            part.to_json(path, orient="records", lines=True)
        parts[str(path)] = part
    return parts


def expected(classifier, parts) -> pd.DataFrame:
    rows = []
    for path, part in parts.items():
        for i, p in enumerate(classifier.predict(part["text"].tolist())):
            rows.append((path, i, p.label, p.score, p.scores["POSITIVE"]))
    return pd.DataFrame(rows, columns=["source_file", "source_row", "label", "score", "score_POSITIVE"])


@pytest.fixture(scope="module")
def classifier(trained_model_dir):
    from imdb_sentiment.serving.classifier import Classifier

    return Classifier.from_pretrained(trained_model_dir, device="cpu", backend="torch")


# --- without Ray -------------------------------------------------------------------------------


def test_inputs_are_checked(tmp_path):
    with pytest.raises(UserError, match="No files match"):
        expand_inputs(str(tmp_path / "*.parquet"))
    (tmp_path / "a.txt").write_text("x\n")
    with pytest.raises(UserError, match="Cannot read 'a.txt'"):
        expand_inputs(str(tmp_path / "*"))
    with pytest.raises(UserError, match="holds no parquet"):
        expand_inputs(str(tmp_path))
    parts = write_inputs(tmp_path, 50)
    assert expand_inputs(str(tmp_path)) == sorted(parts)


def test_rows_are_numbered_within_each_file_across_chunks(tmp_path):
    parts = write_inputs(tmp_path, 100)
    for path, part in parts.items():
        chunks = list(number_rows(read_chunks(path, path, chunk_rows=7), path))
        table = pd.concat(chunks, ignore_index=True)
        assert len(chunks) == -(-len(part) // 7)
        assert table["source_row"].tolist() == list(range(len(part)))
        assert (table["source_file"] == path).all() and table["text"].tolist() == part["text"].tolist()


def test_a_csv_review_reading_na_is_text_and_an_empty_cell_is_missing(tmp_path):
    (path := tmp_path / "r.csv").write_text('text\nNA\nNone\n""\ngood\n', encoding="utf-8")
    table = pd.concat(read_chunks(str(path), str(path), chunk_rows=2), ignore_index=True)
    assert table["text"].tolist()[:2] == ["NA", "None"] and pd.isna(table["text"][2])


def test_json_lines_after_a_byte_order_mark_read_from_a_path_and_from_a_stream(tmp_path):
    (path := tmp_path / "r.jsonl").write_bytes(b'\xef\xbb\xbf{"text": "good"}\n{"text": "bad"}\n')
    with path.open("rb") as stream:  # local files are read from paths; s3:// ones arrive as streams
        for source in (str(path), stream):
            table = pd.concat(read_chunks(source, str(path), chunk_rows=1), ignore_index=True)
            assert table.columns.tolist() == ["text"] and table["text"].tolist() == ["good", "bad"]


def test_scorer_matches_classifier_and_keeps_bad_rows(trained_model_dir, classifier):
    texts = make_reviews(30, seed=4, max_words=12)["text"].tolist()
    batch = pd.DataFrame({"text": texts + BAD, "label": range(len(texts) + len(BAD))}, dtype=object)
    table = BatchScorer(str(trained_model_dir), "text", 4, "torch", "cpu", 1)(batch)
    assert all(str(table.schema.field(c).type) == "string" for c in ("text", "label", "error"))
    out = table.to_pandas()
    assert "input_label" in out.columns and out["input_label"].tolist() == batch["label"].tolist()
    predictions = classifier.predict(texts)
    assert out["label"][:30].tolist() == [p.label for p in predictions]
    assert out["score_POSITIVE"][:30].to_numpy() == pytest.approx(
        [p.scores["POSITIVE"] for p in predictions], abs=1e-5
    )
    assert out["error"][:30].isna().all() and out["error"][30:].notna().all()
    assert out["label"][30:].isna().all() and out["text"].tolist()[-1] == "42"


def write_odd_parts(folder: Path) -> dict[str, Path]:
    """Parts as other writers leave them: no rows (a proper string text column), an all-null text
    column typed null (with an extra column), a large_string text column with an extra column, and
    no text column at all."""
    folder.mkdir(exist_ok=True)
    tables = {
        "empty": pa.table({"text": pa.array([], pa.string()), "label": pa.array([], pa.int64())}),
        "nulls": pa.table({"text": pa.nulls(3), "label": [0, 1, 0], "stars": [1.5, 2.0, 4.5]}),
        "large": pa.table(
            {"text": pa.array(["a superb film .", "an awful film ."], pa.large_string()), "stars": [5, 1]}
        ),
        "no_text": pa.table({"review": ["a superb film ."], "label": [1]}),
    }
    paths = {}
    for name, table in tables.items():
        paths[name] = folder / f"odd_{name}.parquet"
        pq.write_table(table, paths[name])
    return paths


def test_plan_skips_empty_parts_keeps_the_rest_and_unifies_their_schemas(tmp_path, caplog):
    odd = write_odd_parts(tmp_path)
    normal = tmp_path / "normal.parquet"
    make_reviews(5, seed=1).to_parquet(normal)
    (tmp_path / "zero.csv").write_bytes(b"")  # Spark writes empty CSV parts as zero bytes
    (tmp_path / "header.csv").write_text("text,label\n")
    caplog.set_level("INFO", logger="imdb_sentiment.scale.ray")
    files, types, lacking = plan_inputs(expand_inputs(str(tmp_path)), "text")
    assert sorted(Path(f).name for f in files) == [
        "normal.parquet",
        "odd_large.parquet",
        "odd_no_text.parquet",
        "odd_nulls.parquet",
    ]
    skipped = [r.getMessage() for r in caplog.records if "empty" in r.getMessage()]
    assert len(skipped) == 1 and "3 empty file(s)" in skipped[0] and "odd_empty.parquet" in skipped[0]
    assert [Path(f).name for f in lacking] == ["odd_no_text.parquet"]
    assert types["text"] == pa.string() and types["label"] == pa.int64() and types["review"] == pa.string()
    assert types["stars"] == pa.float64()  # double in one part, int64 in another
    with pytest.raises(UserError, match=r"No file has a column 'review' \('normal.parquet', 'odd_large"):
        plan_inputs([str(normal), str(odd["large"])], "review")
    with pytest.raises(UserError, match="every input file is empty"):
        plan_inputs([str(odd["empty"]), str(tmp_path / "zero.csv")], "text")


@pytest.mark.parametrize(
    "name, content, message",
    [
        ("binary.parquet", b"\x00\xffPAR1 not really", "Could not read 'binary.parquet'"),
        ("empty.parquet", b"", "Could not read 'empty.parquet'"),
        ("latin1.csv", "text\ncaf\xe9\n".encode("latin-1"), "'latin1.csv' is not valid UTF-8"),
        ("truncated.jsonl", b'{"text": "fine', "Could not read 'truncated.jsonl'"),
        ("array.json", b'[{"text": "fine"}]', "'array.json' is one JSON array.*streams JSON Lines"),
    ],
)
def test_plan_refuses_unreadable_parts_naming_them(tmp_path, name, content, message):
    (tmp_path / name).write_bytes(content)
    with pytest.raises(UserError, match=message) as caught:
        plan_inputs([str(tmp_path / name)], "text")
    assert "\n" not in str(caught.value) and str(tmp_path) not in str(caught.value)


def test_scorer_gives_rows_of_a_part_without_text_an_error_and_every_batch_one_schema(
    trained_model_dir, tmp_path
):
    batch = pd.DataFrame(
        {
            "source_file": ["a.parquet", "b.parquet"],
            "source_row": [0, 0],
            "text": ["a superb film .", None],
            "stars": [None, None],
        }
    )
    types = {"source_file": pa.string(), "source_row": pa.int64(), "text": pa.string(), "stars": pa.int64()}
    scorer = BatchScorer(str(trained_model_dir), "text", 4, "torch", "cpu", 1, types, ["b.parquet"])
    table = scorer(batch)
    assert table.schema.field("stars").type == pa.int64()
    out = table.to_pandas()
    assert out["label"].tolist()[0] == "POSITIVE" and pd.isna(out["error"][0])
    assert out["error"][1] == "the file has no column 'text'"


def test_missing_ray_is_a_user_error(monkeypatch, tmp_path):
    monkeypatch.setitem(sys.modules, "ray", None)
    with pytest.raises(UserError, match=r"imdb-sentiment\[ray\]"):
        score_with_ray("model", str(tmp_path), str(tmp_path / "out"))


# --- with a local Ray of 2 CPUs -------------------------------------------------------------------


@pytest.fixture(scope="module")
def ray_cluster():
    import ray

    root = Path(__file__).resolve().parents[2]
    saved = {k: os.environ.get(k) for k in ("PYTHONPATH", "RAY_AUTH_MODE")}
    # Workers import this checkout's code (and this module, for the killing scorer); no token in ~/.ray.
    os.environ["PYTHONPATH"] = os.pathsep.join(
        [str(root / "src"), str(root / "tests"), saved["PYTHONPATH"] or ""]
    )
    os.environ["RAY_AUTH_MODE"] = "disabled"
    temp = tempfile.mkdtemp(prefix="ray", dir="/tmp")  # short: Ray's socket paths must fit 107 bytes
    try:
        ray.init(
            num_cpus=2,
            include_dashboard=False,
            _temp_dir=temp,
            object_store_memory=256 * 2**20,
            configure_logging=False,
            log_to_driver=False,
        )
    except Exception as error:  # fail, not skip: a skipped Ray test would hide a broken engine
        shutil.rmtree(temp, ignore_errors=True)
        pytest.fail(f"Ray could not start here: {str(error).splitlines()[0]}")
    ray.data.DataContext.get_current().enable_progress_bars = False
    ray.cloudpickle.register_pickle_by_value(sys.modules[__name__])
    yield ray
    ray.shutdown()
    shutil.rmtree(temp, ignore_errors=True)
    for key, value in saved.items():
        os.environ.pop(key) if value is None else os.environ.__setitem__(key, value)


def check_complete(output: Path, want: pd.DataFrame) -> pd.DataFrame:
    got = pd.read_parquet(output)
    assert not got.duplicated(["source_file", "source_row"]).any()
    merged = want.merge(got, on=["source_file", "source_row"], suffixes=("", "_ray"), validate="1:1")
    assert len(merged) == len(want) == len(got)
    assert (merged["label"] == merged["label_ray"]).all()
    # Equal up to float32 rounding: the actors run other batch compositions and thread counts
    # than the one process, and oneDNN's reductions (AVX-512 ones especially) follow them.
    assert merged["score_POSITIVE_ray"].to_numpy() == pytest.approx(
        merged["score_POSITIVE"].to_numpy(), abs=1e-5
    )
    assert merged["error"].isna().all()
    return got


class DiesOnce(BatchScorer):
    """Kills its own process on its first batch of part2, once (a marker file remembers)."""

    marker: str = ""

    def __call__(self, batch):
        if batch["source_file"].iloc[0].endswith("part2.jsonl") and not os.path.exists(self.marker):
            Path(self.marker).touch()
            os._exit(1)
        return super().__call__(batch)


def test_two_workers_one_killed_give_single_process_results_and_keep_bad_rows(
    ray_cluster, trained_model_dir, classifier, tmp_path
):
    # One run covers the three promises (each Ray Data run costs tens of seconds of worker start-up
    # on 2 cores): every row once and as one process scores it, bad rows kept, a killed worker retried.
    (tmp_path / "in").mkdir()
    parts = write_inputs(tmp_path / "in", 600)
    # In the same folder as good files: every output file must have the same column types, so that
    # the folder reads back as one table although only this file has errors (and missing labels).
    pd.DataFrame({"text": ["a superb film .", *BAD], "label": range(5)}, dtype=object).to_json(
        tmp_path / "in" / "bad.jsonl", orient="records", lines=True
    )
    # Parts of other schemas in the same job: a large_string text column with an extra column, and
    # a part with no text column (its row is kept with an error).
    odd = write_odd_parts(tmp_path / "odd")
    for name in ("large", "no_text"):
        shutil.copy(odd[name], tmp_path / "in" / odd[name].name)
    marker = tmp_path / "died"
    score_with_ray(
        trained_model_dir,
        str(tmp_path / "in"),
        str(tmp_path / "out"),
        num_workers=2,
        batch_size=16,
        rows_per_call=32,  # several calls per file, so rows from many blocks must come back in place
        scorer=type("DiesOnceHere", (DiesOnce,), {"marker": str(marker)}),
    )
    assert marker.exists()
    got = pd.read_parquet(tmp_path / "out")
    bad = got[got["source_file"].str.endswith("bad.jsonl")].sort_values("source_row")
    assert bad["source_row"].tolist() == [0, 1, 2, 3, 4]
    assert pd.isna(bad["error"].iloc[0]) and bad["error"].iloc[1:].notna().all()
    assert "not a string (int)" in bad["error"].iloc[4]
    large = got[got["source_file"].str.endswith("odd_large.parquet")].sort_values("source_row")
    assert large["label"].tolist() == [p.label for p in classifier.predict(large["text"].tolist())]
    assert large["stars"].tolist() == [5.0, 1.0] and large["error"].isna().all()
    no_text = got[got["source_file"].str.endswith("odd_no_text.parquet")]
    assert no_text["error"].tolist() == ["the file has no column 'text'"] and no_text["label"].isna().all()
    assert no_text["review"].tolist() == ["a superb film ."]
    got = got.drop(large.index).drop(no_text.index)
    bad = got[got["source_file"].str.endswith("bad.jsonl")]
    got.drop(bad.index).to_parquet(tmp_path / "good.parquet")
    good = check_complete(tmp_path / "good.parquet", expected(classifier, parts))
    assert {"text", "input_label", "score", "score_NEGATIVE"} <= set(good.columns)


def test_cli_engine_ray_keeps_every_row_of_a_normal_an_empty_and_an_all_null_part(
    ray_cluster, trained_model_dir, classifier, tmp_path, caplog
):
    from imdb_sentiment.cli import main

    (tmp_path / "in").mkdir()
    normal = make_reviews(150, seed=5, max_words=12)
    normal.to_parquet(tmp_path / "in" / "part0.parquet")
    odd = write_odd_parts(tmp_path / "odd")
    for name in ("empty", "nulls"):
        shutil.copy(odd[name], tmp_path / "in" / odd[name].name)
    caplog.set_level("INFO", logger="imdb_sentiment.scale.ray")
    args = ["predict", "--engine", "ray", "--model-dir", str(trained_model_dir), "--backend", "torch"]
    out = tmp_path / "out"
    assert main([*args, "--file", str(tmp_path / "in"), "--output", str(out), "--num-workers", "2"]) == 0
    assert any("Skipping 1 empty file(s)" in r.getMessage() for r in caplog.records)
    got = pd.read_parquet(out)  # one table: every output file has the same schema
    assert len(got) == 150 + 3 and not got.duplicated(["source_file", "source_row"]).any()
    nulls = got[got["source_file"].str.endswith("odd_nulls.parquet")].sort_values("source_row")
    assert nulls["source_row"].tolist() == [0, 1, 2] and nulls["error"].notna().all()
    assert nulls["label"].isna().all() and nulls["stars"].tolist() == [1.5, 2.0, 4.5]
    want = {str((tmp_path / "in" / "part0.parquet").resolve()): normal}
    got.drop(nulls.index).to_parquet(tmp_path / "normal_out.parquet")
    check_complete(tmp_path / "normal_out.parquet", expected(classifier, want))
    # Mistakes are one-line errors before Ray starts.
    (tmp_path / "file").write_text("x")
    assert main([*args, "--file", str(tmp_path / "in"), "--output", str(tmp_path / "file")]) == 2
    o2 = ["--output", str(tmp_path / "o2")]
    assert main([*args, "--file", str(tmp_path / "in"), *o2, "--text-column", "review"]) == 2
    assert not (tmp_path / "o2").exists()
