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
from imdb_sentiment.serving.batch import check_output_file

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


# --- serving flags: --device, --top, --max-samples (refused before any model loads) ---------------


def refuse_to_load(monkeypatch) -> None:
    """Make loading a model fail loudly: a refusal must come before it (and before any scoring)."""

    def loaded(args):
        raise AssertionError("the model was loaded before the bad input was refused")

    monkeypatch.setattr("imdb_sentiment.cli.scoring.classifier_from_args", loaded)
    monkeypatch.setattr("imdb_sentiment.cli.model_tools.classifier_from_args", loaded)


def serving_command(command: str, model_dir: Path, data: Path) -> list[str]:
    """The smallest valid call of a command that serves a model."""
    extra = {
        "predict": ["a superb film ."],
        "explain": ["a superb film ."],
        "evaluate": ["--data", str(data)],
    }
    return [command, "--model-dir", str(model_dir), *extra.get(command, [])]


@pytest.fixture
def labelled_csv(tmp_path) -> Path:
    path = tmp_path / "labelled.csv"
    path.write_text("text,label\na superb film .,1\nan awful film .,0\n")
    return path


@pytest.mark.parametrize("command", ["predict", "evaluate", "explain", "check"])
@pytest.mark.parametrize("device", ["gpu", "cuda:x", "tpu"])
def test_an_unknown_device_names_the_valid_ones(tiny_distilbert, labelled_csv, capsys, command, device):
    status = cli_main([*serving_command(command, tiny_distilbert, labelled_csv), "--device", device])
    line = one_error_line(capsys, status, device)
    assert "--device" in line and "cpu, cuda or cuda:<index>" in line


@pytest.mark.parametrize("command", ["predict", "evaluate", "explain", "check"])
def test_cuda_without_a_gpu_says_so(tiny_distilbert, labelled_csv, capsys, monkeypatch, command):
    monkeypatch.setattr("torch.cuda.is_available", lambda: False)
    status = cli_main([*serving_command(command, tiny_distilbert, labelled_csv), "--device", "cuda"])
    assert "no CUDA GPU is available" in one_error_line(capsys, status, command)


def test_a_gpu_index_past_the_last_gpu_is_refused(tiny_distilbert, labelled_csv, capsys, monkeypatch):
    monkeypatch.setattr("torch.cuda.is_available", lambda: True)
    monkeypatch.setattr("torch.cuda.device_count", lambda: 2)
    status = cli_main([*serving_command("predict", tiny_distilbert, labelled_csv), "--device", "cuda:2"])
    assert "cuda:0 to cuda:1" in one_error_line(capsys, status, "cuda:2")


@pytest.mark.parametrize("value", ["0", "-1"])
def test_explain_refuses_a_top_below_one(tiny_distilbert, capsys, monkeypatch, value):
    refuse_to_load(monkeypatch)
    argv = ["explain", "--model-dir", str(tiny_distilbert), "--top", value, "a superb film ."]
    assert "--top" in one_error_line(capsys, cli_main(argv), value)


@pytest.mark.parametrize("value", ["0", "-2"])
def test_evaluate_refuses_a_max_samples_below_one(tiny_distilbert, labelled_csv, capsys, monkeypatch, value):
    refuse_to_load(monkeypatch)
    argv = [*serving_command("evaluate", tiny_distilbert, labelled_csv), "--max-samples", value]
    assert "--max-samples" in one_error_line(capsys, cli_main(argv), value)


# --- --output of predict and evaluate: checked before the model loads, nothing left behind --------


def bad_outputs(tmp: Path, suffix: str) -> dict[str, tuple[Path, str]]:
    """Output paths that cannot be written, with what the error says."""
    folder = tmp / f"folder{suffix}"
    folder.mkdir()
    a_file = tmp / "a_file.txt"
    a_file.write_text("not a folder")
    return {
        "missing folder": (tmp / "nowhere" / f"out{suffix}", "does not exist"),
        "under /proc": (Path("/proc/x") / f"out{suffix}", "does not exist"),
        "an existing folder": (folder, "is a directory"),
        "under a file": (a_file / f"out{suffix}", "not a folder"),
    }


def leftovers(tmp: Path) -> list[str]:
    return sorted(p.name for p in tmp.rglob(".*"))


def test_predict_refuses_a_bad_output_before_scoring(tiny_distilbert, tmp_path, capsys, monkeypatch):
    refuse_to_load(monkeypatch)
    data = tmp_path / "reviews.csv"
    data.write_text("text\na superb film .\n")
    outputs = {**bad_outputs(tmp_path, ".csv"), "unsupported suffix": (tmp_path / "out.txt", "must end in")}
    for name, (output, message) in outputs.items():
        argv = ["predict", "--model-dir", str(tiny_distilbert), "--file", str(data), "--output", str(output)]
        assert message in one_error_line(capsys, cli_main(argv), name), name
    assert leftovers(tmp_path) == [] and not (tmp_path / "out.txt").exists()


def test_evaluate_refuses_a_bad_output_before_scoring(
    tiny_distilbert, labelled_csv, tmp_path, capsys, monkeypatch
):
    refuse_to_load(monkeypatch)
    for name, (output, message) in bad_outputs(tmp_path, ".json").items():
        argv = [*serving_command("evaluate", tiny_distilbert, labelled_csv), "--output", str(output)]
        assert message in one_error_line(capsys, cli_main(argv), name), name
    assert leftovers(tmp_path) == []


def test_an_output_that_would_replace_the_input_is_refused(
    tiny_distilbert, labelled_csv, tmp_path, capsys, monkeypatch
):
    refuse_to_load(monkeypatch)
    folder = tmp_path / "data"
    folder.mkdir()
    (folder / "test.csv").write_bytes(labelled_csv.read_bytes())
    labelled_json = tmp_path / "labelled.json"
    pd.read_csv(labelled_csv).to_json(labelled_json, orient="records")
    originals = {path: path.read_bytes() for path in (labelled_csv, labelled_json)}
    calls = {  # (command, input flag, input, output): what the error says
        ("predict", "--file", labelled_csv, labelled_csv): "replace the input",
        ("evaluate", "--data", labelled_json, labelled_json): "replace the input",
        ("evaluate", "--data", folder, folder / "train.json"): "would be read as data",
        ("evaluate", "--data", labelled_csv, tmp_path / "m.jsonl"): "must end in .json",
    }
    for (command, flag, source, output), message in calls.items():
        argv = [command, "--model-dir", str(tiny_distilbert), flag, str(source), "--output", str(output)]
        assert message in one_error_line(capsys, cli_main(argv), message), argv
    # A metrics file that is not a split's name may go in the data folder.
    check_output_file(folder / "metrics.json", (".json",), inputs=[folder])
    assert {path: path.read_bytes() for path in originals} == originals
    assert sorted(p.name for p in tmp_path.rglob("*")) == [
        "data",
        "labelled.csv",
        "labelled.json",
        "test.csv",
    ]


# --- the hint for a missing text column fits the command --------------------------------------------


def test_export_check_data_without_a_text_column_names_it_and_no_missing_flag(
    tiny_distilbert, tmp_path, capsys
):
    model_copy = Path(shutil.copytree(tiny_distilbert, tmp_path / "model"))
    data = tmp_path / "nocol.csv"
    data.write_text("review,label\na superb film .,1\n")
    status = cli_main(["export", "--model-dir", str(model_copy), "--check-data", str(data)])
    line = one_error_line(capsys, status, "no text column")
    assert "no column 'text'" in line and "'review'" in line and "--text-column" not in line
    assert not (model_copy / "exports").exists()
