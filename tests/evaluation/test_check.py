"""The behavioural check (check.py, check_suite.py): the suite, the CLI, and its place in training."""

from __future__ import annotations

import json

from imdb_sentiment.cli import main
from imdb_sentiment.evaluation.check_suite import CAPABILITIES, build_suite


def test_suite_is_well_formed():
    cases = build_suite()
    assert 300 <= len(cases) <= 500
    assert {c.capability for c in cases} == set(CAPABILITIES)
    labels = {}
    for case in cases:
        if case.capability == "invariance":
            assert case.label is None and case.variant and case.variant != case.text
        else:
            assert case.label in (0, 1) and case.variant is None
            assert labels.setdefault(case.text, case.label) == case.label  # no text with two labels
    for capability in CAPABILITIES:  # both labels in every labelled capability, so no constant passes
        found = {c.label for c in cases if c.capability == capability}
        assert found == {None} or found == {0, 1}, capability


def test_check_cli_table_json_and_min_pass(trained_model_dir, capsys):
    assert main(["check", "--model-dir", str(trained_model_dir)]) == 0
    table = capsys.readouterr().out
    assert all(f"| {name} |" in table for name in CAPABILITIES) and "**overall**" in table

    assert main(["check", "--model-dir", str(trained_model_dir), "--json", "--min-pass", "0"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert set(result["capabilities"]) == set(CAPABILITIES)
    assert result["n"] == len(build_suite())
    for r in result["capabilities"].values():
        assert r["n"] > 0 and 0 <= r["pass_rate"] <= 1 and len(r["failures"]) == r["n"] - r["passed"]
    assert result["overall"] < 1  # the tiny model knows none of these English words

    assert main(["check", "--model-dir", str(trained_model_dir), "--min-pass", "1"]) == 1
    assert "below --min-pass 1.0" in capsys.readouterr().err
    # With --json stdout stays the JSON a script reads, and stderr says why the status is 1.
    assert main(["check", "--model-dir", str(trained_model_dir), "--json", "--min-pass", "1"]) == 1
    out, err = capsys.readouterr()
    assert json.loads(out)["overall"] < 1 and err.splitlines()[-1].startswith("FAILED: overall pass rate")
    assert main(["check", "--model-dir", str(trained_model_dir), "--min-pass", "2"]) == 2


def test_training_stores_the_check(trained_model_dir):
    metrics = json.loads((trained_model_dir / "metrics.json").read_text())
    behaviour = metrics["behaviour"]
    assert set(behaviour["capabilities"]) == set(CAPABILITIES) and 0 <= behaviour["overall"] <= 1
    card = (trained_model_dir / "README.md").read_text()
    assert "Behavioural check" in card and "| negation |" in card
