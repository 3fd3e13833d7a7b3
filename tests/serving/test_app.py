"""The Gradio app: its handlers, the app served in-process and called with gradio_client, and
``gradioApp.py`` started as a subprocess the way users start it."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import gradio as gr
import httpx
import pandas as pd
import pytest
from gradio_client import Client, handle_file

from imdb_sentiment import Classifier, UserError
from imdb_sentiment.serving.app import EXAMPLES, AppSettings, Service, build_demo, launch
from imdb_sentiment.serving.downloads import PREFIX
from imdb_sentiment.serving.what_if import EXAMPLE_PAIRS, verdict_line, word_diff
from imdb_sentiment.text import char_budget, prepare_text

ROOT = Path(__file__).resolve().parents[2]
SETTINGS = AppSettings(max_file_size="64kb", max_rows=50, max_batch_size=8)
POSITIVE, NEGATIVE = "the film was superb and the cast brilliant .", "the plot was awful , a boring waste ."


class RecordingClassifier:
    """Delegates to a real Classifier and records each call's batch size; ``delay`` slows calls
    down so that concurrent requests pile up in the queue and are micro-batched."""

    def __init__(self, classifier):
        self.inner, self.batches, self.delay = classifier, [], 0.0

    def __getattr__(self, name):
        return getattr(self.inner, name)

    def predict(self, texts, batch_size=32):
        self.batches.append(len(texts))
        time.sleep(self.delay)
        return self.inner.predict(texts, batch_size=batch_size)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def classifier(trained_model_dir):
    return RecordingClassifier(Classifier.from_pretrained(trained_model_dir, device="cpu"))


@pytest.fixture(scope="module")
def served(classifier, trained_model_dir):
    demo = build_demo(classifier, model_dir=trained_model_dir, settings=SETTINGS)
    launch(demo, port=free_port(), settings=SETTINGS, prevent_thread_lock=True)
    yield demo, Client(demo.local_url, verbose=False, httpx_kwargs={"timeout": 120})
    demo.close()


def confidences(result: dict) -> dict[str, float]:
    return {item["label"]: item["confidence"] for item in result["confidences"]}


def check_label(result: dict, expected: str) -> None:
    scores = confidences(result)
    assert result["label"] == expected and set(scores) == {"NEGATIVE", "POSITIVE"}
    assert sum(scores.values()) == pytest.approx(1.0, abs=1e-6)


# ---- handlers and page content, without a server ------------------------------------------------


def test_examples_cover_the_promised_kinds(classifier):
    assert len(EXAMPLES) == 5 and len(EXAMPLES[-1]) > 1000
    labels = [p.label for p in classifier.inner.predict(EXAMPLES)]
    assert len(labels) == 5  # the tiny test model cannot read English; the real one is checked by hand


def test_validator_refuses_blank_reviews(classifier):
    service = Service(classifier, SETTINGS)
    for blank in ["", "  \n", None]:
        with pytest.raises(gr.Error, match="Please enter a review"):
            service.validate_reviews([blank])
    assert len(service.validate_reviews([POSITIVE])[0]) == 1


def test_a_mixed_batch_still_serves_the_valid_reviews(classifier):
    values = Service(classifier, SETTINGS).predict_reviews([POSITIVE, "", NEGATIVE])[0]
    assert max(values[0], key=values[0].get) == "POSITIVE" and values[1] is None
    assert max(values[2], key=values[2].get) == "NEGATIVE"


def test_file_limits_and_bad_files(classifier, tmp_path):
    service = Service(classifier, SETTINGS)
    cases = {
        "rows.txt": ("a superb film .\n" * 51, "limit is 50"),
        "big.csv": ("text\n" + "superb " * 20_000, "larger than 64kb"),
        "columns.csv": ("review,<b>x</b>\nsuperb,1\n", "no column 'text'"),
        "blank.txt": ("\n  \n", "has no reviews"),
        "binary.txt": (None, "not valid UTF-8"),
        "table.xlsx": ("text\nsuperb\n", "not a .csv or .txt"),
    }
    for name, (content, message) in cases.items():
        path = tmp_path / name
        path.write_bytes(b"\xff\xfe\x00bad" if content is None else content.encode())
        with pytest.raises(gr.Error, match=message) as caught:
            service.predict_file(str(path))
        assert "<b>" not in caught.value.message  # uploaded names and columns are shown as text
    with pytest.raises(gr.Error, match="Upload"):
        service.predict_file(None)


def test_a_file_without_a_text_column_names_it_and_no_cli_flag(tiny_distilbert, tmp_path):
    service = Service(Classifier.from_pretrained(tiny_distilbert, device="cpu"), SETTINGS)
    path = tmp_path / "nocol.csv"
    path.write_text("review,stars\nsuperb,5\n")
    with pytest.raises(gr.Error, match="no column 'text'") as caught:
        service.predict_file(str(path))
    assert "'review', 'stars'" in caught.value.message and "--" not in caught.value.message


@pytest.mark.parametrize(
    "original, edited, diff",
    [
        ("a great film", "a great film", [("a great film", None)]),
        (
            "a great film",
            "not a great film",
            [("not", "added"), (" ", None), ("a great film", None)],
        ),
        (
            "A gripping, beautifully acted film.",
            "A boring, badly acted film.",
            [
                ("A", None),
                (" ", None),
                ("gripping, beautifully", "removed"),
                (" ", None),
                ("boring, badly", "added"),
                (" ", None),
                ("acted film.", None),
            ],
        ),
        ("the plot was good", "the plot", [("the plot", None), (" ", None), ("was good", "removed")]),
        ("", "superb", [("superb", "added")]),
    ],
    ids=["same", "negation", "rewrite", "cut", "from nothing"],
)
def test_word_diff_marks_removed_and_added_words(original, edited, diff):
    assert word_diff(original, edited) == diff


def test_verdict_line_says_whether_the_verdict_followed_the_edit():
    assert verdict_line("POSITIVE", "NEGATIVE") == "The verdict flipped: POSITIVE -> NEGATIVE"
    assert verdict_line("NEGATIVE", "POSITIVE") == "The verdict flipped: NEGATIVE -> POSITIVE"
    assert verdict_line("POSITIVE", "POSITIVE") == "The verdict stayed POSITIVE"


def test_what_if_refuses_a_blank_side(classifier):
    service = Service(classifier, SETTINGS)
    for pair in [
        ("", POSITIVE),
        (POSITIVE, "  "),
        (None, POSITIVE),
        (POSITIVE, 5),
        (POSITIVE, "\u200b<br />"),
    ]:
        with pytest.raises(gr.Error, match="a review and an edited copy"):
            service.what_if(*pair)
    assert len(EXAMPLE_PAIRS) == 2 and all(len(pair) == 2 for pair in EXAMPLE_PAIRS)


def test_what_if_diffs_the_texts_as_the_model_reads_them(classifier):
    service = Service(classifier, SETTINGS)
    long_pair = ("superb " * 100_000, "awful " * 100_000)  # the diff would be quadratic in 200,000 words
    diff = service.what_if(*long_pair)[2]
    diffed = sum(len(span.split()) for span, _ in diff)
    assert diffed == sum(len(prepare_text(text, classifier.max_length).split()) for text in long_pair)
    assert diffed < 2 * char_budget(classifier.max_length)
    assert service.what_if("the film<br />was superb .", "the film<br />was awful .")[2] == [
        ("the film was", None),
        (" ", None),
        ("superb", "removed"),
        (" ", None),
        ("awful", "added"),
        (" ", None),
        (".", None),
    ]


# ---- the app served in-process, called with gradio_client ---------------------------------------


def test_predict_endpoint(served):
    demo, client = served
    assert demo.server_name == "127.0.0.1" and demo.share is False
    check_label(client.predict(POSITIVE, api_name="/predict"), "POSITIVE")
    check_label(client.predict(NEGATIVE, api_name="/predict"), "NEGATIVE")


def test_errors_do_not_hurt_the_server(served):
    _, client = served
    for bad in ["", "   \n\t"]:
        with pytest.raises(Exception):  # noqa: B017 - an HTTP 400 carrying the validator's message
            client.predict(bad, api_name="/predict")
        check_label(client.predict(POSITIVE, api_name="/predict"), "POSITIVE")
    hostile = "superb " * 150_000 + "\x00\x1b"  # ~1 MB, with control characters (JSON cannot carry
    assert len(hostile.encode()) > 1_000_000  # lone surrogates; test_predict checks those)
    check_label(client.predict(hostile, api_name="/predict"), "POSITIVE")
    check_label(client.predict(NEGATIVE, api_name="/predict"), "NEGATIVE")


def test_concurrent_requests_share_a_forward_pass(served, classifier):
    _, client = served
    classifier.batches.clear()
    classifier.delay = 0.5
    try:
        jobs = [client.submit(POSITIVE if i % 2 else NEGATIVE, api_name="/predict") for i in range(8)]
        results = [job.result(timeout=120) for job in jobs]
    finally:
        classifier.delay = 0.0
    assert [r["label"] for r in results] == ["NEGATIVE", "POSITIVE"] * 4
    assert sum(classifier.batches) == 8 and max(classifier.batches) > 1
    assert max(classifier.batches) <= SETTINGS.max_batch_size


def test_what_if_endpoint_gives_both_labels_the_diff_the_attributions_and_the_verdict(served):
    demo, client = served
    edited = POSITIVE.replace("superb", "awful").replace("brilliant", "boring")
    before, after, diff, words_before, words_after, verdict = client.predict(
        POSITIVE, edited, api_name="/what_if"
    )
    check_label(before, "POSITIVE")
    check_label(after, "NEGATIVE")
    assert verdict == "The verdict flipped: POSITIVE -> NEGATIVE"
    changed = {(item["token"], item["class_or_confidence"]) for item in diff if item["class_or_confidence"]}
    assert changed == {
        ("superb", "removed"),
        ("awful", "added"),
        ("brilliant", "removed"),
        ("boring", "added"),
    }
    # The attributions are those of /explain, one pair per word of each text.
    assert words_before == client.predict(POSITIVE, api_name="/explain")
    assert [item["token"] for item in words_after if item["token"].strip()] == edited.split()
    _, _, _, _, _, stayed = client.predict(POSITIVE, POSITIVE + " superb", api_name="/what_if")
    assert stayed == "The verdict stayed POSITIVE"
    with pytest.raises(Exception, match="a review and an edited copy"):
        client.predict(POSITIVE, "", api_name="/what_if")


def test_queue_and_batch_settings(served):
    demo, _ = served
    assert demo._queue.max_size == SETTINGS.queue_size
    predict = next(fn for fn in demo.fns.values() if fn.api_name == "predict")
    assert predict.batch and predict.max_batch_size == SETTINGS.max_batch_size
    assert predict.validator is not None
    assert demo.max_file_size == 64 * 1024


@pytest.mark.parametrize("kind", ["csv", "txt"])
def test_predict_batch_endpoint(served, tmp_path, kind):
    _, client = served
    path = tmp_path / f"reviews.{kind}"
    if kind == "csv":
        pd.DataFrame({"id": [1, 2, 3], "text": [POSITIVE, "", NEGATIVE]}).to_csv(path, index=False)
    else:
        path.write_text(f"{POSITIVE}\n\n{NEGATIVE}\n", encoding="utf-8")
    table, download = client.predict(handle_file(str(path)), api_name="/predict_batch")
    shown = pd.DataFrame(table["data"], columns=table["headers"])
    saved = pd.read_csv(download)
    expected = ["POSITIVE", None, "NEGATIVE"] if kind == "csv" else ["POSITIVE", "NEGATIVE"]
    for frame in (shown, saved):
        assert [None if pd.isna(v) else v for v in frame["label"]] == expected
        assert list(frame.columns) == ["index", "text", "label", "score", "NEGATIVE", "POSITIVE", "error"]
    assert saved["text"].iloc[0] == POSITIVE


def test_bad_uploads_are_errors_not_crashes(served, tmp_path):
    _, client = served
    too_big = tmp_path / "big.txt"
    too_big.write_text("superb film .\n" * 10_000)  # 140 kB > the 64 kB limit
    no_column = tmp_path / "columns.csv"
    no_column.write_text("review\nsuperb\n")
    for path in (too_big, no_column):
        with pytest.raises(Exception):  # noqa: B017
            client.predict(handle_file(str(path)), api_name="/predict_batch")
    check_label(client.predict(POSITIVE, api_name="/predict"), "POSITIVE")


def test_no_endpoint_reads_server_paths(served, tmp_path):
    demo, _ = served
    secret = tmp_path / "secret.txt"
    secret.write_text("TOPSECRET superb\n")
    payload = {"data": [{"path": str(secret), "meta": {"_type": "gradio.FileData"}}]}
    url = demo.local_url.rstrip("/") + "/gradio_api/call/predict_batch"
    start = httpx.post(url, json=payload, timeout=60)
    body = start.text
    if start.status_code == 200:
        body += httpx.get(f"{url}/{start.json()['event_id']}", timeout=60).text
    assert "TOPSECRET" not in body and "POSITIVE" not in body


# ---- gradioApp.py as users start it --------------------------------------------------------------


def run_app(*args: str, **kwargs) -> subprocess.Popen:
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "GRADIO_ANALYTICS_ENABLED": "False"}
    return subprocess.Popen([sys.executable, str(ROOT / "gradioApp.py"), *args], env=env, text=True, **kwargs)


def run_app_to_the_end(*args: str, cwd: Path) -> tuple[subprocess.Popen, str, str]:
    """gradioApp.py run until it exits (killed after 180 s): the process, its stdout and stderr."""
    result = run_app(*args, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    timer = threading.Timer(180, result.kill)
    timer.start()
    out, err = result.communicate()
    timer.cancel()
    return result, out, err


def test_gradio_app_script_serves_a_trained_model(trained_model_dir, tmp_path):
    port = free_port()
    log = open(tmp_path / "server.log", "w")  # noqa: SIM115 - closed below
    server = run_app("--model-dir", str(trained_model_dir), "--port", str(port), stdout=log, stderr=log)
    url = f"http://127.0.0.1:{port}/"
    try:
        deadline = time.monotonic() + 240
        while time.monotonic() < deadline and server.poll() is None:
            try:
                if httpx.get(url, timeout=5).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(1)
        assert server.poll() is None, (tmp_path / "server.log").read_text()
        client = Client(url, verbose=False, httpx_kwargs={"timeout": 120})
        check_label(client.predict(POSITIVE, api_name="/predict"), "POSITIVE")
        check_label(client.predict(NEGATIVE, api_name="/predict"), "NEGATIVE")
        with pytest.raises(Exception):  # noqa: B017
            client.predict("", api_name="/predict")
        check_label(client.predict(POSITIVE, api_name="/predict"), "POSITIVE")
        reviews = tmp_path / "reviews.txt"
        reviews.write_text(f"{POSITIVE}\n")
        client.predict(handle_file(str(reviews)), api_name="/predict_batch")  # makes its download folder
        folders = list(Path(tempfile.gettempdir()).glob(f"{PREFIX}{server.pid}_*"))
        gradio_cache = [folder for folder in folders if "_gradio_" in folder.name]
        assert len(folders) == 2 and all(folder.is_dir() for folder in folders)
        assert any(gradio_cache[0].rglob("reviews.txt"))  # the upload went to the app's own folder
        assert server.poll() is None
    finally:
        server.terminate()
        try:
            server.wait(timeout=120)
        except subprocess.TimeoutExpired:
            server.kill()
        log.close()
    assert server.returncode == 0, (tmp_path / "server.log").read_text()[-2000:]
    assert not any(folder.exists() for folder in folders)  # SIGTERM closes the app like Ctrl-C


@pytest.mark.parametrize("model_dir", ["saved_model", "{tmp}/missing"])
def test_gradio_app_without_a_model_exits_with_one_clear_message(model_dir, tmp_path):
    args = ["--model-dir", model_dir.format(tmp=tmp_path)]
    result, out, err = run_app_to_the_end(*args, cwd=tmp_path)
    assert result.returncode == 2
    assert err.startswith("error: No model at") and "make train" in err and "Traceback" not in err
    assert len(err.strip().splitlines()) == 1 and not out


def test_gradio_app_defaults_are_safe():
    sys.path.insert(0, str(ROOT))
    from gradioApp import parse_args

    args = parse_args([])
    assert (args.host, args.port, args.share, args.model_dir) == ("127.0.0.1", 7860, False, "saved_model")


@pytest.fixture
def busy_port():
    """A port another process is listening on."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        yield sock.getsockname()[1]


def test_gradio_app_on_a_busy_port_says_so_before_loading_the_model(busy_port, tmp_path):
    # The model folder is missing: the port must be refused first, before any loading.
    args = ["--model-dir", str(tmp_path / "missing"), "--port", str(busy_port)]
    result, out, err = run_app_to_the_end(*args, cwd=tmp_path)
    assert result.returncode == 2, err[-2000:]
    assert err.startswith(f"error: Port {busy_port} is already in use") and "--port" in err
    assert len(err.strip().splitlines()) == 1 and not out


def test_launch_on_a_port_taken_since_the_check_is_a_user_error(tiny_distilbert, busy_port):
    demo = build_demo(Classifier.from_pretrained(tiny_distilbert, device="cpu"), settings=SETTINGS)
    try:
        with pytest.raises(UserError, match=f"Port {busy_port} is already in use.*--port"):
            launch(demo, host="127.0.0.1", port=busy_port, prevent_thread_lock=True)
    finally:
        demo.close()


def test_gradio_app_refuses_an_unknown_device(capsys):
    sys.path.insert(0, str(ROOT))
    from gradioApp import parse_args

    with pytest.raises(SystemExit) as exited:
        parse_args(["--device", "gpu"])
    assert exited.value.code == 2 and "cpu, cuda or cuda:<index>" in capsys.readouterr().err


def test_gradio_app_refuses_a_gpu_this_machine_lacks_in_one_line(tiny_distilbert, tmp_path):
    # cuda:99: no CUDA at all, or fewer GPUs than that; either way one line, not torch's traceback.
    args = ["--model-dir", str(tiny_distilbert), "--device", "cuda:99", "--port", "0"]
    result, out, err = run_app_to_the_end(*args, cwd=tmp_path)
    assert result.returncode == 2, err[-2000:]
    assert err.startswith("error: --device cuda:99: ") and len(err.strip().splitlines()) == 1 and not out
