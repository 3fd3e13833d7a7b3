"""Bad input at the commands added since the first bad-input work: ``check``, ``sweep``, ``export``
and ``predict --engine ray`` (issue 36). Each bad file or absurd flag value gets status 2 and one
``error:`` line (argparse's own refusals add their usage line first), no traceback, and nothing
half-written. No wall-clock bounds: a hang is caught by the suite's own limits.

    .venv/bin/python -m pytest tests/cli/test_bad_input_commands.py -q
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pandas as pd
import pytest

from imdb_sentiment.cli import main

BAD_FILES = {
    "empty CSV": ("reviews.csv", b""),
    "binary CSV": ("reviews.csv", bytes(range(256)) * 4),
    "wrong encoding": ("reviews.csv", "text\ncaf\xe9 cr\xe8me\n".encode("latin-1")),
    "UTF-16": ("reviews.csv", "text\nfine\n".encode("utf-16")),
    "wrong schema": ("reviews.csv", b"review,stars\ngreat,5\n"),
    "truncated parquet": ("reviews.parquet", None),  # a real parquet file cut in half (below)
    "empty parquet": ("reviews.parquet", b""),
    "corrupt parquet": ("reviews.parquet", b"PAR1 not really a parquet file"),
    "truncated JSON Lines": ("reviews.jsonl", b'{"text": "fine'),
    "unknown format": ("reviews.xlsx", b"PK\x03\x04"),
}
# For the Ray engine an empty CSV is an empty part (skipped), so alone it means "no reviews".
RAY_FILES = {**BAD_FILES, "headers only": ("reviews.csv", b"text\n")}


def cli_main(argv: list[str]) -> int:
    """The command's status, argparse's refusals (SystemExit) included."""
    try:
        return main(argv)
    except SystemExit as exit_:
        return exit_.code


def write(tmp: Path, name: str, filename: str, content: bytes | None) -> Path:
    """``content`` in ``tmp/<name>/<filename>``; None: a parquet file of reviews, cut in half."""
    path = tmp / name.replace(" ", "_") / filename
    path.parent.mkdir(parents=True)
    if content is None:
        pd.DataFrame({"text": ["a superb film ."] * 50, "label": [1] * 50}).to_parquet(path)
        content = path.read_bytes()[: path.stat().st_size // 2]
    path.write_bytes(content)
    return path


def one_error_line(capsys, status: int, name: str) -> str:
    out, err = capsys.readouterr()
    lines = [line for line in err.strip().splitlines() if line.strip()]
    assert status == 2, (name, err[-2000:])
    assert lines and "error:" in lines[-1] and "Traceback" not in err, (name, err[-2000:])
    assert len([line for line in lines if "error:" in line]) == 1, (name, err)
    return lines[-1]


@pytest.fixture
def model_copy(trained_model_dir, tmp_path) -> Path:
    """A copy of the trained model, so a failed export can be checked for leftovers in it."""
    return Path(shutil.copytree(trained_model_dir, tmp_path / "model"))


# --- check -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("value", ["7", "-0.1", "nan", "1.5", "abc"])
def test_check_refuses_an_absurd_min_pass(trained_model_dir, capsys, value):
    status = cli_main(["check", "--model-dir", str(trained_model_dir), "--min-pass", value])
    one_error_line(capsys, status, value)


def bad_model_dirs(tmp: Path, model: Path) -> dict[str, Path]:
    dirs = {"missing": tmp / "nowhere", "empty folder": tmp / "empty"}
    dirs["empty folder"].mkdir()
    dirs["a file"] = tmp / "model.txt"
    dirs["a file"].write_text("not a model")
    for name, change in {
        "truncated config": ("config.json", lambda b: b[: len(b) // 2]),
        "binary weights": ("model.safetensors", lambda b: bytes(range(256)) * 8),
        "empty weights": ("model.safetensors", lambda b: b""),
    }.items():
        copy = Path(shutil.copytree(model, tmp / name.replace(" ", "_")))
        path = copy / change[0]
        path.write_bytes(change[1](path.read_bytes()))
        dirs[name] = copy
    return dirs


def test_check_refuses_bad_model_folders(trained_model_dir, tmp_path, capsys):
    for name, path in bad_model_dirs(tmp_path, trained_model_dir).items():
        one_error_line(capsys, cli_main(["check", "--model-dir", str(path)]), name)


# --- export ----------------------------------------------------------------------------------------


def test_export_refuses_bad_check_data_and_writes_nothing(model_copy, tmp_path, capsys):
    for name, (filename, content) in BAD_FILES.items():
        path = write(tmp_path / "data", name, filename, content)
        status = cli_main(["export", "--model-dir", str(model_copy), "--check-data", str(path)])
        one_error_line(capsys, status, name)
        assert not (model_copy / "exports").exists(), name
    assert sorted(p.name for p in model_copy.iterdir() if p.name.startswith(".")) == []


def test_export_refuses_check_data_without_reviews(model_copy, tmp_path, capsys):
    path = write(tmp_path, "headers only", "reviews.csv", b"text,label\n")
    status = cli_main(["export", "--model-dir", str(model_copy), "--check-data", str(path)])
    one_error_line(capsys, status, "headers only")
    assert not (model_copy / "exports").exists()


def test_export_refuses_bad_model_folders(trained_model_dir, tmp_path, capsys):
    for name, path in bad_model_dirs(tmp_path, trained_model_dir).items():
        one_error_line(capsys, cli_main(["export", "--model-dir", str(path)]), name)
        assert not (path / "exports").exists(), name


@pytest.mark.parametrize("flags", [["--max-check", "0"], ["--max-check", "-5"], ["--opset", "0"]])
def test_export_refuses_absurd_flag_values(model_copy, tmp_path, capsys, flags):
    data = tmp_path / "check.csv"
    data.write_text("text,label\na superb film .,1\nan awful film .,0\n")
    status = cli_main(["export", "--model-dir", str(model_copy), "--check-data", str(data), *flags])
    one_error_line(capsys, status, " ".join(flags))
    assert not (model_copy / "exports").exists()


# --- sweep -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("value", ["a,b", "", "1,,x", "1.5"])
def test_sweep_refuses_bad_freeze_layers_before_training(tmp_path, capsys, value):
    out = tmp_path / "sweep"
    status = cli_main(["sweep", "--freeze-layers", value, "--output-dir", str(out)])
    one_error_line(capsys, status, value)
    assert not out.exists()


@pytest.mark.parametrize("name", ["wrong schema", "corrupt parquet", "empty CSV"])
def test_sweep_refuses_bad_data_with_one_line_and_writes_nothing(tiny_distilbert, tmp_path, capsys, name):
    filename, content = BAD_FILES[name]
    data = write(tmp_path / "data", name, filename, content)
    out = tmp_path / "sweep"
    argv = ["sweep", "--freeze-layers", "1", "--model", str(tiny_distilbert), "--data", str(data)]
    status = cli_main([*argv, "--output-dir", str(out)])
    one_error_line(capsys, status, name)
    assert not out.exists()


# --- predict --engine ray (refused before Ray starts) ----------------------------------------------


@pytest.mark.parametrize("name", RAY_FILES)
def test_ray_engine_refuses_bad_files_before_starting_ray(trained_model_dir, tmp_path, capsys, name):
    filename, content = RAY_FILES[name]
    path = write(tmp_path, name, filename, content)
    out = tmp_path / "out"
    argv = ["predict", "--engine", "ray", "--model-dir", str(trained_model_dir), "--file", str(path)]
    line = one_error_line(capsys, cli_main([*argv, "--output", str(out)]), name)
    assert not out.exists() and str(tmp_path) not in line


@pytest.mark.parametrize(
    "flags",
    [
        ["--num-workers", "0"],
        ["--num-workers", "-2"],
        ["--batch-size", "0"],
        ["--batch-size", "-1"],
        ["--gpus-per-worker", "-1"],
        ["--num-workers", "many"],
    ],
    ids=" ".join,
)
def test_ray_engine_refuses_absurd_flag_values(trained_model_dir, tmp_path, capsys, flags):
    data = tmp_path / "reviews.csv"
    data.write_text("text\na superb film .\n")
    out = tmp_path / "out"
    argv = ["predict", "--engine", "ray", "--model-dir", str(trained_model_dir), "--file", str(data)]
    one_error_line(capsys, cli_main([*argv, "--output", str(out), *flags]), " ".join(flags))
    assert not out.exists()


@pytest.mark.parametrize("value", ["0", "-1"])
def test_local_predict_refuses_a_batch_size_below_one(trained_model_dir, capsys, value):
    argv = ["predict", "--model-dir", str(trained_model_dir), "--batch-size", value, "a superb film ."]
    one_error_line(capsys, cli_main(argv), value)
