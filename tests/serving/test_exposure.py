"""Exposure: the app binds 127.0.0.1 unless --host says otherwise, never shares by default, reads
no server path a client names, limits uploads, and logs no review text.

    .venv/bin/python -m pytest tests/serving/test_exposure.py -q
"""

from __future__ import annotations

import importlib.util
import inspect
import logging
from pathlib import Path

import httpx
import psutil
import pytest

from imdb_sentiment import Classifier
from imdb_sentiment.serving.app import AppSettings, build_demo, launch

ROOT = Path(__file__).resolve().parents[2]
SECRET = "zq-secret-review-7f3a"  # a review nobody else would write; must never reach a log


def _gradio_app():
    spec = importlib.util.spec_from_file_location("gradioApp", ROOT / "gradioApp.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def served(trained_model_dir):
    """The app launched the way gradioApp.py launches it, with hostile environment defaults set."""
    mp = pytest.MonkeyPatch()
    mp.setenv("GRADIO_SERVER_NAME", "0.0.0.0")  # must not widen the binding
    mp.setenv("GRADIO_SHARE", "True")  # must not open a public link
    demo = build_demo(
        Classifier.from_pretrained(trained_model_dir, device="cpu"), model_dir=trained_model_dir
    )
    launch(demo, port=0, prevent_thread_lock=True)  # --port 0: any free port
    yield demo
    demo.close()
    mp.undo()


def test_command_line_defaults_are_localhost_and_no_share():
    args = _gradio_app().parse_args([])
    assert args.host == "127.0.0.1" and args.share is False
    assert _gradio_app().parse_args(["--host", "0.0.0.0"]).host == "0.0.0.0"  # only when asked
    defaults = inspect.signature(launch).parameters
    assert defaults["host"].default == "127.0.0.1" and defaults["share"].default is False


def test_gradio_app_passes_host_and_share_through(monkeypatch, trained_model_dir):
    module = _gradio_app()
    calls = []
    monkeypatch.setattr("imdb_sentiment.serving.app.launch", lambda demo, **kwargs: calls.append(kwargs))
    # --port 0: main checks the port is free before loading, and 7860 may be taken on this machine.
    assert module.main(["--model-dir", str(trained_model_dir), "--port", "0"]) == 0
    assert calls[-1]["host"] == "127.0.0.1" and calls[-1]["share"] is False


def test_server_listens_on_loopback_only_and_does_not_share(served):
    assert served.server_name == "127.0.0.1"
    assert not served.share and served.share_url is None
    port = served.server_port
    assert port != 0 and httpx.get(served.local_url, timeout=30).status_code == 200
    listening = [
        c.laddr.ip
        for c in psutil.Process().net_connections(kind="inet")
        if c.status == "LISTEN" and c.laddr.port == port
    ]
    assert listening and set(listening) == {"127.0.0.1"}


@pytest.mark.parametrize(
    "path",
    ["/etc/passwd", "/etc/hostname", "{model}/config.json", "{model}/../../../../etc/passwd", "{src}/app.py"],
)
def test_file_route_serves_no_server_path(served, trained_model_dir, path):
    path = path.format(model=trained_model_dir, src=ROOT / "src" / "imdb_sentiment")
    response = httpx.get(f"{served.local_url}gradio_api/file={path}", timeout=30)
    assert response.status_code in (403, 404)
    assert "root:" not in response.text and "model_type" not in response.text


def test_batch_endpoint_refuses_a_server_path_named_by_the_client(served, tmp_path):
    from test_bad_input import call_api

    secret = tmp_path / "secret.csv"
    secret.write_text(f"text\n{SECRET}\n")
    for path in (str(secret), "/etc/passwd"):
        payload = {"path": path, "orig_name": "x.csv", "meta": {"_type": "gradio.FileData"}}
        outcome, output = call_api(served.local_url.rstrip("/"), "predict_batch", [payload])
        assert outcome == "error"
        assert SECRET not in str(output) and "root:" not in str(output)


def test_uploads_have_a_size_limit(served, tmp_path):
    assert served.max_file_size == 5 * 1024 * 1024 == AppSettings().max_file_bytes
    for size, status in ((1024, 200), (6 * 1024 * 1024, 413)):
        path = tmp_path / f"{size}.csv"
        path.write_bytes(b"text\n" + b"a" * size)
        with path.open("rb") as handle:
            response = httpx.post(
                f"{served.local_url}gradio_api/upload", files={"files": (path.name, handle)}, timeout=60
            )
        assert response.status_code == status
        path.unlink()


def test_no_review_text_in_logs_or_console(served, tmp_path, capfd, caplog):
    from test_bad_input import call_api

    caplog.set_level(logging.DEBUG)
    url = served.local_url.rstrip("/")
    assert call_api(url, "predict", [f"a wonderful film {SECRET}"])[0] == "complete"
    assert call_api(url, "predict", [f"{SECRET}\x00\ud800"])[0] == "complete"
    upload = tmp_path / "reviews.csv"
    upload.write_text(f"review\n{SECRET}\n")  # wrong column: an error path
    with upload.open("rb") as handle:
        uploaded = httpx.post(
            f"{url}/gradio_api/upload", files={"files": (upload.name, handle)}, timeout=60
        ).json()
    payload = {"path": uploaded[0], "orig_name": upload.name, "meta": {"_type": "gradio.FileData"}}
    assert call_api(url, "predict_batch", [payload])[0] == "error"
    out, err = capfd.readouterr()
    assert SECRET not in out + err
    assert SECRET not in caplog.text
