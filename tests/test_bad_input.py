"""Bad input everywhere it enters: Classifier, the predict CLI, training data, the app's API.

Each bad input gets a clear error (UserError, CLI status 2, an app error message) or a sane label,
never a traceback or a hang (timeouts here are hang guards, never asserted speed: issue 35).
The newer commands (check, sweep, export, predict --engine ray) are in tests/cli/test_bad_input_commands.py. Property-based tests feed
arbitrary Unicode (lone surrogates and control characters included) to Classifier.predict and
to the app. Large inputs are built in tmp and removed.

    .venv/bin/python -m pytest tests/test_bad_input.py -q
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import httpx
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from imdb_sentiment import Classifier, TrainConfig, UserError
from imdb_sentiment.cli import main as cli_main
from imdb_sentiment.data import load_splits
from imdb_sentiment.text import InvalidTextError, has_text

BOUND_S = 120  # hang guard for HTTP calls; no test asserts how long anything takes
LABELS = {"POSITIVE", "NEGATIVE"}
# Any code point, lone surrogates (category Cs) and controls included.
ANY_TEXT = st.text(st.characters(exclude_categories=()), max_size=300)

WEIRD_BUT_VALID = {
    "lone surrogate": "a good \ud800 film \udfff",
    "NUL bytes": "wonderful\x00\x00 film",
    "control characters": "\x01\x02\x1b[31m superb \x7f\x9f",
    "10,000 emoji": "\U0001f600" * 10_000,
    "zero-width and bidi": "\u200b\u202e\ufeff awful",
    "1 MB": "wonderful " * 100_000,
    "20 MB": "x" * 20_000_000,
}
REFUSED = {
    "None": (None, "is None"),
    "empty": ("", "empty or whitespace"),
    "whitespace": (" \n\t\u3000", "empty or whitespace"),
    # Tokenised to nothing: the model would label an empty review.
    "only line breaks": ("<br /><br />", "no text once line breaks"),
    "only control characters": ("\x00\x01\x02", "no text once"),
    "only invisible characters": ("\u200b\u200d\ufeff", "no text once"),
    "int": (5, "must be a string, not int"),
    "list where a string belongs": (["a", "b"], "must be a string, not list"),
    "bytes": (b"wonderful", "must be a string, not bytes"),
}


@pytest.fixture(scope="module")
def classifier(trained_model_dir) -> Classifier:
    return Classifier.from_pretrained(trained_model_dir, device="cpu")


def _timed(call):
    return call()  # kept as the marker of calls that once had a time bound


def _sane(prediction) -> None:
    assert prediction.label in LABELS
    assert 0.5 <= prediction.score <= 1.0
    assert abs(sum(prediction.scores.values()) - 1.0) < 1e-4


# --- Classifier -------------------------------------------------------------------------------


@pytest.mark.parametrize("name", WEIRD_BUT_VALID)
def test_classifier_gives_a_sane_label_to_weird_text(classifier, name):
    texts = ["a wonderful superb film", WEIRD_BUT_VALID[name]]
    predictions = _timed(lambda: classifier.predict(texts))
    assert len(predictions) == 2 and predictions[0].label == "POSITIVE"
    _sane(predictions[1])


@pytest.mark.parametrize("name", REFUSED)
def test_classifier_refuses_non_text_with_a_clear_error(classifier, name):
    value, message = REFUSED[name]
    with pytest.raises(InvalidTextError, match=f"position 1 {message}|position 1 .*{message}"):
        _timed(lambda: classifier.predict(["a fine film", value]))


def test_classifier_refuses_a_bare_string():
    with pytest.raises(InvalidTextError, match="list of reviews"):
        Classifier.encode(None, "one review")  # checked before the model is touched


@pytest.mark.parametrize(
    "texts",
    [pd.DataFrame({"text": ["a superb film"]}), {"a superb film": 1}, {"a superb film", "a dull one"}],
    ids=["DataFrame", "dict", "set"],
)
def test_classifier_refuses_containers_that_would_score_the_wrong_texts(texts):
    # A DataFrame or dict iterates over its column names or keys; a set in no order the caller knows.
    with pytest.raises(InvalidTextError, match=f"not a {type(texts).__name__} .*tolist"):
        Classifier.encode(None, texts)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=ANY_TEXT)
def test_classifier_takes_arbitrary_unicode(classifier, text):
    try:
        (prediction,) = _timed(lambda: classifier.predict([text]))
    except InvalidTextError as error:
        assert not has_text(text) and ("empty or whitespace" in str(error) or "no text once" in str(error))
    else:
        _sane(prediction)


# --- predict CLI ------------------------------------------------------------------------------


def _bad_files(tmp: Path) -> dict[str, tuple[Path, str]]:
    files = {
        "wrong columns": ("reviews.csv", b"review,stars\ngreat,5\n", "no column 'text'"),
        "wrong encoding": ("reviews.csv", "text\ncaf\xe9 cr\xe8me\n".encode("latin-1"), "not valid UTF-8"),
        "UTF-16": ("reviews.csv", "text\nfine\n".encode("utf-16"), "not valid UTF-8"),
        "empty CSV": ("reviews.csv", b"", "No columns to parse"),
        "empty JSON Lines": ("reviews.jsonl", b"", "is empty"),
        "empty parquet": ("reviews.parquet", b"", "Could not read"),
        "corrupt parquet": ("reviews.parquet", b"PAR1 not really", "Could not read"),
        "truncated JSON Lines": ("reviews.jsonl", b'{"text": "fine', "Could not read"),
        "unknown format": ("reviews.xlsx", b"PK", "Cannot read"),
        "headers only": ("reviews.csv", b"text\n", "No reviews to score"),
    }
    out = {}
    for name, (filename, content, message) in files.items():
        path = tmp / name.replace(" ", "_") / filename
        path.parent.mkdir()
        path.write_bytes(content)
        out[name] = (path, message)
    return out


def test_predict_cli_bad_files_fail_in_one_line(tmp_path, capsys, trained_model_dir):
    for name, (path, message) in _bad_files(tmp_path).items():
        status = cli_main(["predict", "--model-dir", str(trained_model_dir), "--file", str(path)])
        err = capsys.readouterr().err
        assert status == 2, name
        assert message in err and "Traceback" not in err, (name, err)


def test_predict_cli_keeps_a_row_per_input_with_nulls_and_non_strings(tmp_path, capsys, trained_model_dir):
    source = tmp_path / "mixed.jsonl"
    rows = [{"text": "a wonderful film"}, {"text": None}, {"text": 5}, {"text": ["a"]}, {"text": "  "}]
    source.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    nulls = tmp_path / "nulls.parquet"
    pd.DataFrame({"text": ["an awful film", None, "superb"]}).to_parquet(nulls)
    for path, n_ok in ((source, 1), (nulls, 2)):
        assert cli_main(["predict", "--model-dir", str(trained_model_dir), "--file", str(path)]) == 0
        out, err = capsys.readouterr()
        table = [json.loads(line) for line in out.splitlines()]
        assert [row["index"] for row in table] == list(range(len(table)))
        assert sum(row["error"] is None for row in table) == n_ok
        assert all((row["label"] in LABELS) == (row["error"] is None) for row in table)
        assert "had no usable text" in err


def test_predict_cli_survives_invalid_utf8_nul_and_controls_on_stdin(trained_model_dir):
    # A strict UTF-8 stdin (as under most desktop locales) must not turn a bad byte into a traceback.
    env = {**os.environ, "PYTHONIOENCODING": "utf-8:strict", "HF_HUB_OFFLINE": "1"}
    result = subprocess.run(
        [sys.executable, "-m", "imdb_sentiment", "predict", "--model-dir", str(trained_model_dir)],
        input=b"good \xff\xfe film\nwonderful\x00 superb\n\x1b[31m awful \x7f\n",
        capture_output=True,
        env=env,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr.decode(errors="replace")[-2000:]
    rows = [json.loads(line) for line in result.stdout.decode().splitlines()]
    assert len(rows) == 3 and all(row["label"] in LABELS for row in rows)


# --- training data ----------------------------------------------------------------------------


def test_training_data_bad_files_fail_cleanly(tmp_path):
    expected = {
        "wrong columns": "no column 'text', 'label'",
        "headers only": "no rows with text",
        "unknown format": "Don't know how to read",
    }
    for name, (path, message) in _bad_files(tmp_path).items():
        if name == "headers only":
            path.write_text("text,label\n")
        with pytest.raises(UserError, match=expected.get(name, message)):
            load_splits(TrainConfig(data=str(path)))


def test_training_data_with_nulls_and_non_strings_drops_those_rows(tmp_path):
    from helpers import make_reviews

    table = make_reviews(40, seed=1)
    table.loc[[0, 5, 9], "text"] = None
    table["text"] = table["text"].astype(object)
    table.loc[[3], "text"] = "   "
    path = tmp_path / "nulls.parquet"
    table.to_parquet(path)
    splits = load_splits(TrainConfig(data=str(path), validation_fraction=0.25, seed=0))
    kept = pd.concat([splits.train, splits.validation])
    assert len(kept) == 36 and kept["text"].map(lambda t: isinstance(t, str) and t.strip() != "").all()
    bad_labels = tmp_path / "labels.csv"
    bad_labels.write_text("text,label\ngood,1\nbad,maybe\n")
    with pytest.raises(UserError, match="Unknown label values: 'maybe'"):
        load_splits(TrainConfig(data=str(bad_labels)))


# --- the app's API (/predict and /predict_batch) ----------------------------------------------


@pytest.fixture(scope="module")
def app_url(classifier):
    from imdb_sentiment.serving.app import build_demo, launch

    demo = build_demo(classifier)
    launch(demo, host="127.0.0.1", port=None, prevent_thread_lock=True)
    yield demo.local_url.rstrip("/")
    demo.close()


def call_api(url: str, api: str, data: list) -> tuple[str, object]:
    """One call through gradio's REST API with any JSON (lone surrogates escaped as JSON allows):
    ('complete', output), ('error', message) or ('refused', message) for an HTTP error."""
    body = json.dumps({"data": data})  # ensure_ascii: "\ud800" travels as a JSON escape
    posted = httpx.post(
        f"{url}/gradio_api/call/{api}",
        content=body,
        headers={"content-type": "application/json"},
        timeout=BOUND_S,
    )
    if posted.status_code != 200:
        return "refused", posted.json().get("detail")
    stream = httpx.get(f"{url}/gradio_api/call/{api}/{posted.json()['event_id']}", timeout=BOUND_S)
    event, data_line = stream.text.strip().splitlines()[-2:]
    payload = json.loads(data_line.removeprefix("data: "))
    return event.removeprefix("event: "), payload


def _assert_label(output) -> None:
    (value,) = output
    assert value["label"] in LABELS
    assert {c["label"] for c in value["confidences"]} == LABELS


@pytest.mark.parametrize(
    "value", [None, "", "   \n", "\u3000"], ids=["None", "empty", "whitespace", "ideographic space"]
)
def test_app_predict_refuses_blank_reviews(app_url, value):
    outcome, message = call_api(app_url, "predict", [value])
    assert outcome == "refused" and "Please enter a review" in message


@pytest.mark.parametrize("name", [n for n in WEIRD_BUT_VALID if n != "20 MB"])
def test_app_predict_gives_a_label_to_weird_text(app_url, name):
    outcome, output = call_api(app_url, "predict", [WEIRD_BUT_VALID[name]])
    assert outcome == "complete"
    _assert_label(output)


def test_app_predict_takes_a_20_mb_string(app_url):
    outcome, output = call_api(app_url, "predict", ["wonderful " * 2_000_000])
    assert outcome == "complete"
    _assert_label(output)


@pytest.mark.parametrize("value", [5, 1.5, True, ["a", "b"], {"text": "superb"}], ids=repr)
def test_app_predict_non_string_json_is_refused_or_labelled(app_url, value):
    # The textbox turns JSON scalars and lists into their text, which then gets a label.
    outcome, output = call_api(app_url, "predict", [value])
    if outcome == "complete":
        _assert_label(output)
    else:
        assert outcome in ("refused", "error")
    assert call_api(app_url, "predict", ["a wonderful film"])[0] == "complete"  # still serving


@pytest.mark.parametrize("data", [[], ["a", "b"], [None, None, None]], ids=["no value", "two", "three"])
def test_app_predict_wrong_arity_is_refused_or_answered(app_url, data):
    outcome, _ = call_api(app_url, "predict", data)
    assert outcome in ("refused", "error", "complete")
    assert call_api(app_url, "predict", ["a wonderful film"])[0] == "complete"


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=ANY_TEXT)
def test_app_predict_takes_arbitrary_unicode(app_url, text):
    outcome, output = call_api(app_url, "predict", [text])
    if outcome == "complete":
        _assert_label(output)
    else:
        assert outcome == "refused" and "Please enter a review" in output and not has_text(text)


def _upload(url: str, path: Path) -> tuple[int, object]:
    with path.open("rb") as handle:
        response = httpx.post(f"{url}/gradio_api/upload", files={"files": (path.name, handle)}, timeout=120)
    return response.status_code, (response.json() if response.status_code == 200 else response.text)


def _batch(url: str, server_path: str, name: str):
    return call_api(
        url, "predict_batch", [{"path": server_path, "orig_name": name, "meta": {"_type": "gradio.FileData"}}]
    )


def test_app_batch_bad_files_get_a_clear_error(app_url, tmp_path):
    for name, (path, _) in _bad_files(tmp_path).items():
        status, uploaded = _upload(app_url, path)
        assert status == 200, uploaded
        outcome, output = _batch(app_url, uploaded[0], path.name)
        assert outcome == "error", name
        if path.suffix in (".csv", ".txt"):
            assert output["error"], name  # a message for the user, not gradio's generic one
            assert "/tmp" not in output["error"] and str(tmp_path) not in output["error"]


def test_app_batch_scores_nulls_and_weird_rows(app_url, tmp_path):
    path = tmp_path / "mixed.csv"
    pd.DataFrame({"text": ["a wonderful film", None, "\x00\x01", "\U0001f600" * 10_000]}).to_csv(
        path, index=False
    )
    status, uploaded = _upload(app_url, path)
    assert status == 200
    outcome, output = _batch(app_url, uploaded[0], path.name)
    assert outcome == "complete"
    rows = output[0]["data"]
    assert len(rows) == 4 and rows[0][2] == "POSITIVE"


def test_app_refuses_a_100_mb_upload(app_url, tmp_path):
    big = tmp_path / "big.csv"
    with big.open("wb") as handle:  # sparse: no 100 MB in memory
        handle.truncate(100 * 1024 * 1024)
    try:
        status, body = _upload(app_url, big)
        assert status == 413 and "maximum allowed size" in body
    finally:
        big.unlink()
    assert call_api(app_url, "predict", ["a wonderful film"])[0] == "complete"


# --- the app's /explain and /what_if ----------------------------------------------------------


@pytest.mark.parametrize(
    "value", [None, "", "   \n", "\u3000"], ids=["None", "empty", "whitespace", "ideographic"]
)
def test_app_explain_and_what_if_refuse_blank_text_readably(app_url, value):
    outcome, output = call_api(app_url, "explain", [value])
    assert outcome == "error" and "Please enter a review" in output["error"]
    outcome, output = call_api(app_url, "what_if", ["a wonderful film", value])
    assert outcome == "error" and "a review and an edited copy" in output["error"]


@pytest.mark.parametrize(
    "name", ["lone surrogate", "NUL bytes", "control characters", "10,000 emoji", "1 MB"]
)
def test_app_explain_and_what_if_answer_weird_text(app_url, name):
    outcome, output = call_api(app_url, "explain", [WEIRD_BUT_VALID[name]])
    assert outcome == "complete" and output[0], name
    outcome, output = call_api(app_url, "what_if", ["a wonderful film", WEIRD_BUT_VALID[name]])
    assert outcome == "complete" and output[5].startswith("The verdict"), name


@pytest.mark.parametrize("data", [[5], [["a", "b"]], [{"text": "x"}], [], ["a", "b", "c"]], ids=repr)
def test_app_explain_and_what_if_take_wrong_json_without_harm(app_url, data):
    for api in ("explain", "what_if"):
        outcome, _ = call_api(app_url, api, data)
        assert outcome in ("refused", "error", "complete")
    assert call_api(app_url, "explain", ["a wonderful film"])[0] == "complete"  # still serving


def test_app_batch_more_bad_files_get_a_readable_error(app_url, tmp_path):
    files = {
        "binary.csv": bytes(range(256)) * 8,
        "nul.txt": b"a fine film\x00\xff\xfe\n",
        "utf16.txt": "a fine film\n".encode("utf-16"),
        "headers.csv": b"text,label\n",
        "noheader.csv": b"",
    }
    for name, content in files.items():
        path = tmp_path / name
        path.write_bytes(content)
        status, uploaded = _upload(app_url, path)
        assert status == 200, uploaded
        outcome, output = _batch(app_url, uploaded[0], name)
        assert outcome == "error" and output["error"], name
        assert "/tmp" not in output["error"] and "Traceback" not in output["error"], name
