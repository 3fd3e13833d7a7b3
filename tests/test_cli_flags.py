"""One flag style: every command takes and shows dashed flags (``--output-dir``), ``train`` still
accepts the underscore forms, and every flag a message or docstring in the package names is one a
command really has.

.venv/bin/python -m pytest tests/test_cli_flags.py -q
"""

from __future__ import annotations

import ast
import io
import re
from contextlib import redirect_stdout
from pathlib import Path

import pytest

from imdb_sentiment.cli import RUNNERS, main, train_parser
from imdb_sentiment.cli.arguments import app_parser

ROOT = Path(__file__).resolve().parents[1]
FLAG = re.compile(r"(?<![\w-])--[a-z][a-z0-9_-]*[a-z0-9]")
# Flags of other programs the package's text mentions: accelerate launch's own options.
OTHER_PROGRAMS = {"--num_processes", "--multi_gpu", "--cpu", "--config_file", "--help"}


def help_text(command: str, capsys) -> str:
    with pytest.raises(SystemExit):
        main([command, "--help"])
    return capsys.readouterr().out


@pytest.fixture(scope="module")
def known_flags() -> set[str]:
    """Every flag some command or the app takes (dashed, as --help shows it)."""
    flags = {option for action in train_parser()._actions for option in action.option_strings}
    for command in set(RUNNERS) - {"train"}:
        out = io.StringIO()
        with redirect_stdout(out), pytest.raises(SystemExit):
            main([command, "--help"])
        flags |= set(FLAG.findall(out.getvalue()))
    return flags | {option for action in app_parser()._actions for option in action.option_strings}


@pytest.mark.parametrize("command", sorted(RUNNERS))
def test_help_shows_dashed_flags_only(command, capsys):
    shown = FLAG.findall(help_text(command, capsys))
    assert shown and [flag for flag in shown if "_" in flag] == []


def test_train_help_names_the_dashed_forms(capsys):
    text = help_text("train", capsys)
    for flag in ("--output-dir", "--no-calibrate", "--max-train-samples", "--learning-rate"):
        assert flag in text


@pytest.mark.parametrize(
    "argv",
    [
        ["--output-dir", "out", "--max-train-samples", "5", "--no-calibrate", "--learning-rate", "1e-3"],
        ["--output_dir", "out", "--max_train_samples", "5", "--no_calibrate", "--learning_rate", "1e-3"],
    ],
)
def test_train_takes_both_spellings(argv):
    (config,) = train_parser().parse_args_into_dataclasses(args=argv)
    assert (config.output_dir, config.max_train_samples, config.calibrate, config.learning_rate) == (
        "out",
        5,
        False,
        1e-3,
    )


@pytest.mark.parametrize(
    ("command", "argv"),
    [
        ("train", ["--model-dir", "saved_model"]),  # the other commands' flag
        ("train", ["--output-dir", "out", "--lr", "1e-3"]),
        ("sweep", ["--freeze-layers", "0,3", "--model-dir", "saved_model"]),
    ],
)
def test_an_unknown_training_flag_is_a_usage_error(command, argv, capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(SystemExit) as exit_info:
        main([command, *argv])
    err = capsys.readouterr().err
    assert exit_info.value.code == 2
    assert f"imdb-sentiment {command}: error: unrecognized arguments: {argv[-2]} {argv[-1]}" in err
    assert "Traceback" not in err and list(tmp_path.iterdir()) == []


def test_sweep_usage_shows_the_dashed_train_flags(capsys):
    with pytest.raises(SystemExit):
        main(["sweep", "--epochs", "abc"])
    err = capsys.readouterr().err
    assert "--output-dir" in err and "--output_dir" not in err and "invalid float value: 'abc'" in err


def package_strings():
    for path in sorted((ROOT / "src" / "imdb_sentiment").glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Constant) and isinstance(node.value, str):
                yield path.name, node.value


def test_every_flag_the_package_names_exists(known_flags):
    unknown = sorted(
        {
            f"{name}: {flag}"
            for name, text in package_strings()
            for flag in FLAG.findall(text)
            if flag not in known_flags and flag not in OTHER_PROGRAMS
        }
    )
    assert unknown == []


def test_train_help_states_the_offline_default_and_when_pairs_are_added(capsys):
    text = " ".join(help_text("train", capsys).split())  # argparse wraps the lines
    assert "Default: 512; 256 on a CPU for the offline default" in text  # --max-length
    assert "on a CPU 2000, or the whole IMDb sample for the offline default" in text
    assert "before the counterfactual pairs are added" in text  # --max-train-samples
    assert "before counterfactual pairs are added to validation" in text  # --max-eval-samples
