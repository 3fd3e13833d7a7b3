"""The Space `push --space` publishes: its front matter, its requirements, and its app started from
its folder as a user (or the Space) starts it, answering /predict through gradio_client, with a
local model and with a Hub id from the offline cache.

.venv/bin/python -m pytest tests/sharing/test_space.py -q
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
import yaml
from gradio_client import Client

from imdb_sentiment.sharing.space import write_space_folder

TRAINING_ONLY = {"datasets", "scikit-learn", "peft", "accelerate", "matplotlib", "onnx", "gradio"}


@pytest.fixture(scope="module")
def space(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("space") / "space"
    write_space_folder(folder, "me/imdb", "me/imdb-demo")
    return folder


def test_the_space_readme_says_gradio_app_py_and_the_installed_gradio(space):
    import gradio

    text = (space / "README.md").read_text(encoding="utf-8")
    meta = yaml.safe_load(text.split("---")[1])
    assert (meta["sdk"], meta["app_file"], meta["sdk_version"]) == ("gradio", "app.py", gradio.__version__)
    assert meta["models"] == ["me/imdb"] and meta["title"] == "imdb demo"
    assert "MODEL_ID = 'me/imdb'" in (space / "app.py").read_text(encoding="utf-8")


def test_the_space_ships_the_serving_code_and_requires_only_what_serving_needs(space):
    names = {
        line.split("<")[0].split(">")[0].split("=")[0]
        for line in (space / "requirements.txt").read_text().split()
    }
    assert {"torch", "transformers", "pandas", "huggingface_hub", "captum"} <= names
    assert not names & TRAINING_ONLY
    package = space / "imdb_sentiment"
    assert (package / "serving" / "app.py").read_bytes() == (
        Path(__file__).resolve().parents[2] / "src" / "imdb_sentiment" / "serving" / "app.py"
    ).read_bytes()
    assert not (package / "training").exists() and not (package / "cli" / "training.py").exists()
    assert "import" not in (package / "__init__.py").read_text()  # a stub: training is not shipped


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def serve_and_predict(folder: Path, tmp: Path, *args: str, env: dict | None = None) -> None:
    """Start `python app.py` in ``folder``, ask /predict, stop it; the folder is as it was."""
    before = sorted(folder.rglob("*"))
    port = free_port()
    tmp.mkdir(exist_ok=True)
    env = {
        **os.environ,
        "HF_HUB_OFFLINE": "1",
        "GRADIO_ANALYTICS_ENABLED": "False",
        "PYTHONDONTWRITEBYTECODE": "1",
        "PYTHONPATH": "",  # the copy beside app.py, not the checkout
        "TMPDIR": str(tmp),
        "GRADIO_TEMP_DIR": str(tmp / "gradio"),
        **(env or {}),
    }
    log_path = tmp / "server.log"
    with open(log_path, "w") as log:
        server = subprocess.Popen(
            [sys.executable, "app.py", *args, "--port", str(port)],
            cwd=folder,
            env=env,
            stdout=log,
            stderr=log,
        )
        url = f"http://127.0.0.1:{port}/"
        try:
            deadline = time.monotonic() + 240
            while time.monotonic() < deadline and server.poll() is None:
                try:
                    if httpx.get(url, timeout=5).status_code == 200:
                        break
                except httpx.HTTPError:
                    time.sleep(1)
            assert server.poll() is None, log_path.read_text()
            client = Client(url, verbose=False, httpx_kwargs={"timeout": 120})
            result = client.predict(
                "a wonderful superb film , a delightful masterpiece .", api_name="/predict"
            )
            assert result["label"] == "POSITIVE"
            result = client.predict("an awful boring film , a dreadful waste .", api_name="/predict")
            assert result["label"] == "NEGATIVE"
        finally:
            server.terminate()
            try:
                server.wait(timeout=30)
            except subprocess.TimeoutExpired:
                server.kill()
    assert sorted(folder.rglob("*")) == before


def test_the_space_app_serves_a_local_model_from_its_folder(space, trained_model_dir, tmp_path):
    serve_and_predict(space, tmp_path / "run", "--model-dir", str(trained_model_dir))


def test_the_space_app_serves_its_hub_model_from_the_offline_cache(space, trained_model_dir, tmp_path):
    """No --model-dir: the repo id it was pushed for, read from the Hub cache (HF_HUB_OFFLINE=1)."""
    revision = "0" * 40
    repo = tmp_path / "cache" / "models--me--imdb"
    shutil.copytree(trained_model_dir, repo / "snapshots" / revision, ignore=shutil.ignore_patterns("runs"))
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text(revision)
    serve_and_predict(space, tmp_path / "run", env={"HF_HUB_CACHE": str(tmp_path / "cache")})
