"""Ray Data scoring (ray_scoring.py): same labels and scores as one process, nothing lost, bad rows kept,
a killed worker retried, the CLI path; plus the input checks and the scorer itself without Ray."""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
from pathlib import Path

import pandas as pd
import pytest

from imdb_sentiment.errors import UserError
from imdb_sentiment.scale.ray import BatchScorer, expand_inputs, number_rows, read_chunks, score_with_ray

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


def test_missing_ray_is_a_user_error(monkeypatch, tmp_path):
    monkeypatch.setitem(sys.modules, "ray", None)
    with pytest.raises(UserError, match=r"imdb-sentiment\[ray\]"):
        score_with_ray("model", str(tmp_path), str(tmp_path / "out"))


# --- with a local Ray of 2 CPUs -------------------------------------------------------------------


@pytest.fixture(scope="module")
def ray_cluster():
    pytest.importorskip("ray.data")
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
    got.drop(bad.index).to_parquet(tmp_path / "good.parquet")
    good = check_complete(tmp_path / "good.parquet", expected(classifier, parts))
    assert {"text", "input_label", "score", "score_NEGATIVE"} <= set(good.columns)


def test_cli_engine_ray(ray_cluster, trained_model_dir, classifier, tmp_path):
    from imdb_sentiment.cli import main

    (tmp_path / "in").mkdir()
    parts = write_inputs(tmp_path / "in", 200)
    args = ["predict", "--engine", "ray", "--model-dir", str(trained_model_dir), "--backend", "torch"]
    assert (
        main(
            [
                *args,
                "--file",
                str(tmp_path / "in" / "*.csv"),
                "--output",
                str(tmp_path / "out"),
                "--num-workers",
                "2",
            ]
        )
        == 0
    )
    csv = {k: v for k, v in parts.items() if k.endswith(".csv")}
    check_complete(tmp_path / "out", expected(classifier, csv))
    (tmp_path / "file").write_text("x")
    assert main([*args, "--file", str(tmp_path / "in"), "--output", str(tmp_path / "file")]) == 2
    assert (
        main(
            [
                *args,
                "--file",
                str(tmp_path / "in"),
                "--output",
                str(tmp_path / "o2"),
                "--text-column",
                "review",
            ]
        )
        == 2
    )
