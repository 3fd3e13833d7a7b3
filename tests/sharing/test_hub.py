"""`imdb-sentiment push`: what goes to the Hub, the exact calls handed to huggingface_hub (its HfApi
upload calls replaced: the Hub is never reached), every one-line error, and `train --push-to-hub`.

.venv/bin/python -m pytest tests/sharing/test_hub.py -q
"""

from __future__ import annotations

import shutil
from pathlib import Path

import httpx2
import numpy as np
import pytest
from huggingface_hub import HfApi, ModelCard
from huggingface_hub.errors import HfHubHTTPError

from imdb_sentiment.cli import main
from imdb_sentiment.sharing.hub import PICKLE_PATTERNS, model_files

TOKEN = "hf_TestTokenThatMustNeverBePrinted"
MODEL_FILES = [
    "README.md",
    "config.json",
    "confusion_matrix.png",
    "metrics.json",
    "model.safetensors",
    "runs/Dec06_run/events.out.tfevents.1.host",
    "tokenizer.json",
    "tokenizer_config.json",
    "training_config.json",
    "training_curves.png",
]
# export's folder; exports/model.bin is the OpenVINO IR's weights, read beside model.xml
EXPORTS = ["exports/export.json", "exports/model.bin", "exports/model.onnx", "exports/model.xml"]


@pytest.fixture
def model_dir(trained_model_dir, tmp_path) -> Path:
    """The trained tiny model plus what must not be uploaded: checkpoints, pickles, exports, notes."""
    directory = tmp_path / "saved_model"
    shutil.copytree(trained_model_dir, directory)
    shutil.rmtree(directory / "runs", ignore_errors=True)
    extra = [
        "runs/Dec06_run/events.out.tfevents.1.host",
        "checkpoint-10/model.safetensors",
        "checkpoint-10/optimizer.pt",
        "pytorch_model.bin",
        "scheduler.pkl",
        "model.ckpt",
        "notes.txt",
        *EXPORTS,
        "exports/weights.bin",  # a .bin that is no IR's weights: treated as a pickle
    ]
    for rel in extra:
        (directory / rel).parent.mkdir(parents=True, exist_ok=True)
        (directory / rel).write_bytes(b"x")
    return directory


@pytest.fixture
def hub(monkeypatch):
    """HfApi's Hub calls replaced: records each call (with the files of the folder uploaded)."""
    calls = []
    identity = {"name": "me", "orgs": [{"name": "team"}]}

    def record(name, result=None):
        def method(self, *args, **kwargs):
            assert self.token == TOKEN
            if name == "upload_folder":
                root = Path(kwargs["folder_path"])
                kwargs["files"] = sorted(
                    p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file()
                )
                kwargs["card"] = (root / "README.md").read_text(encoding="utf-8")
            calls.append((name, args, kwargs))
            return result

        return method

    monkeypatch.setenv("HF_TOKEN", TOKEN)
    monkeypatch.setattr(HfApi, "whoami", lambda self, **kw: calls.append(("whoami", (), kw)) or identity)
    for name in ("create_repo", "create_branch", "upload_folder"):
        monkeypatch.setattr(HfApi, name, record(name))
    return calls


def http_error(status: int) -> HfHubHTTPError:
    response = httpx2.Response(
        status, request=httpx2.Request("POST", "https://huggingface.co/api/repos/create")
    )
    return HfHubHTTPError(f"{status} error", response=response)


def test_only_the_model_its_card_and_logs_go_up_never_checkpoints_pickles_or_unasked_exports(model_dir):
    assert model_files(model_dir) == MODEL_FILES
    assert model_files(model_dir, include_exports=True) == sorted(MODEL_FILES + EXPORTS)


def test_push_hands_huggingface_hub_the_exact_folders_files_and_arguments(model_dir, hub, capsys):
    code = main(
        ["push", "--model-dir", str(model_dir), "--repo-id", "me/imdb", "--space", "team/imdb-demo"]
        + ["--private", "--revision", "v1", "--commit-message", "First model"]
    )
    assert code == 0
    names = [call[0] for call in hub]
    assert names == [
        "whoami",
        "create_repo",
        "create_branch",
        "upload_folder",
        "create_repo",
        "upload_folder",
    ]
    assert hub[1][1:] == (("me/imdb",), {"repo_type": "model", "private": True, "exist_ok": True})
    assert hub[2][1:] == (("me/imdb",), {"branch": "v1", "repo_type": "model", "exist_ok": True})
    model = hub[3][2]
    assert model.pop("files") == MODEL_FILES
    card = ModelCard(model.pop("card"))
    assert card.data.model_name == "imdb" and "me/imdb" in card.text and "path/to/this" not in card.text
    folder = model.pop("folder_path")
    assert Path(folder).name == "model" and not Path(folder).exists()  # staged in a temp folder, removed
    assert model == {
        "repo_id": "me/imdb",
        "repo_type": "model",
        "revision": "v1",
        "commit_message": "First model",
        "ignore_patterns": PICKLE_PATTERNS,
    }
    space_repo = {"repo_type": "space", "space_sdk": "gradio", "private": True, "exist_ok": True}
    assert hub[4][1:] == (("team/imdb-demo",), space_repo)
    space = hub[5][2]
    assert {"README.md", "app.py", "requirements.txt", "imdb_sentiment/serving/app.py"} <= set(space["files"])
    assert (space["repo_id"], space["repo_type"], space.get("revision")) == (
        "team/imdb-demo",
        "space",
        None,
    )
    out = capsys.readouterr()
    assert "https://huggingface.co/me/imdb" in out.out and "spaces/team/imdb-demo" in out.out
    assert TOKEN not in out.out + out.err


def test_dry_run_writes_what_would_be_uploaded_and_calls_nothing(model_dir, tmp_path, monkeypatch):
    for name in ("whoami", "create_repo", "create_branch", "upload_folder"):
        monkeypatch.setattr(HfApi, name, lambda *a, **k: pytest.fail("a dry run called the Hub"))
    out = tmp_path / "out"
    args = ["push", "--model-dir", str(model_dir), "--repo-id", "me/imdb", "--space", "me/imdb-demo"]
    assert main([*args, "--dry-run", str(out)]) == 0
    assert sorted(p.name for p in out.iterdir()) == ["model", "space"]
    written = sorted(
        p.relative_to(out / "model").as_posix() for p in (out / "model").rglob("*") if p.is_file()
    )
    assert written == MODEL_FILES
    card = ModelCard.load(out / "model" / "README.md")
    assert card.data.eval_results[0].metric_type == "accuracy"
    assert (out / "space" / "app.py").is_file()
    assert main([*args, "--dry-run", str(out), "--include-exports"]) == 0  # a dry run's folder is replaced
    exports = out / "model" / "exports"
    assert sorted(p.name for p in exports.iterdir()) == sorted(Path(rel).name for rel in EXPORTS)


@pytest.mark.parametrize("inside", [".", "preview"])
def test_a_dry_run_inside_the_model_folder_is_refused(model_dir, capsys, inside):
    before = sorted(p.relative_to(model_dir) for p in model_dir.rglob("*"))
    argv = [*push_args(model_dir), "--dry-run", str(model_dir / inside)]
    assert "is inside the model folder; name a folder outside it" in one_line_error(capsys, argv)
    assert sorted(p.relative_to(model_dir) for p in model_dir.rglob("*")) == before


def test_pushed_exports_serve_on_every_engine_as_the_local_model_does(exported_model_dir, tmp_path):
    """What a push with --include-exports uploads is what a download serves: the OpenVINO IRs keep
    their weights (.bin), and the manifest still matches the uploaded safetensors."""
    from imdb_sentiment import Classifier

    out = tmp_path / "out"
    args = ["push", "--model-dir", str(exported_model_dir), "--repo-id", "me/imdb"]
    assert main([*args, "--dry-run", str(out), "--include-exports"]) == 0
    texts = ["a wonderful film", "dull and far too long", "the acting was great"]
    for backend in ("onnx", "onnx-int8", "openvino", "openvino-int8"):
        local = Classifier.from_pretrained(exported_model_dir, device="cpu", backend=backend)
        pushed = Classifier.from_pretrained(out / "model", device="cpu", backend=backend)
        np.testing.assert_allclose(pushed.predict_logits(texts), local.predict_logits(texts), atol=1e-5)


def one_line_error(capsys, argv) -> str:
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and len(err.strip().splitlines()) == 1 and TOKEN not in err
    return err


def push_args(model_dir, repo="me/imdb"):
    return ["push", "--model-dir", str(model_dir), "--repo-id", repo]


def test_a_missing_token_is_one_line(model_dir, hub, monkeypatch, capsys):
    monkeypatch.delenv("HF_TOKEN")
    monkeypatch.setattr("huggingface_hub.get_token", lambda: None)
    assert "No Hugging Face token" in one_line_error(capsys, push_args(model_dir))
    assert hub == []


@pytest.mark.parametrize(
    "failure, message",
    [
        (httpx2.ConnectError("[Errno -2] Name or service not known"), "Could not reach the Hugging Face Hub"),
        (http_error(401), "refused the token (401)"),
    ],
)
def test_an_unreachable_hub_or_a_refused_token_is_one_line(
    model_dir, hub, monkeypatch, capsys, failure, message
):
    monkeypatch.setattr(HfApi, "whoami", lambda self, **kw: (_ for _ in ()).throw(failure))
    assert message in one_line_error(capsys, push_args(model_dir))
    assert hub == []


def test_offline_mode_is_an_unreachable_hub(model_dir, monkeypatch, capsys):
    """huggingface_hub's own whoami, not replaced: HF_HUB_OFFLINE=1 stops it before any request."""
    monkeypatch.setenv("HF_TOKEN", TOKEN)
    monkeypatch.setattr("huggingface_hub.constants.HF_HUB_OFFLINE", True)
    err = one_line_error(capsys, push_args(model_dir))
    assert "Could not reach the Hugging Face Hub (OfflineModeIsEnabled)" in err


def test_a_repo_of_someone_else_is_one_line(model_dir, hub, capsys):
    assert "belongs to 'someone'" in one_line_error(capsys, push_args(model_dir, "someone/imdb"))
    err = one_line_error(capsys, [*push_args(model_dir), "--space", "other/demo"])
    assert "other/demo belongs to 'other'" in err
    assert [call[0] for call in hub] == ["whoami", "whoami"]  # nothing created or uploaded


@pytest.mark.parametrize("status", [403, 404])
def test_a_forbidden_repo_is_one_line(model_dir, hub, monkeypatch, capsys, status):
    monkeypatch.setattr(HfApi, "create_repo", lambda self, *a, **k: (_ for _ in ()).throw(http_error(status)))
    assert f"Cannot write to me/imdb ({status})" in one_line_error(capsys, push_args(model_dir))


def test_a_folder_that_is_not_a_saved_model_is_one_line(tmp_path, hub, capsys):
    assert "No model at" in one_line_error(capsys, push_args(tmp_path / "missing"))
    (tmp_path / "pickled").mkdir()
    (tmp_path / "pickled" / "pytorch_model.bin").write_bytes(b"x")
    assert "only has pickle weights" in one_line_error(capsys, push_args(tmp_path / "pickled"))
    assert "owner/name" in one_line_error(capsys, push_args(tmp_path, "no-owner"))
    assert hub == []


def test_train_push_to_hub_checks_first_trains_then_pushes_from_process_zero_only(
    model_dir, hub, monkeypatch, capsys
):
    trained = []
    monkeypatch.setattr("imdb_sentiment.cli.training.run_train", lambda argv: trained.append(len(hub)) or 0)
    argv = ["train", "--output-dir", str(model_dir), "--push-to-hub", "me/imdb"]
    assert main(argv) == 0
    assert trained == [1]  # whoami (token and owner) before training
    # the owner is checked again before the push: hours may have passed
    assert [call[0] for call in hub] == ["whoami", "whoami", "create_repo", "upload_folder"]
    assert hub[3][2]["files"] == MODEL_FILES

    hub.clear()
    monkeypatch.setenv("RANK", "1")
    assert main(argv) == 0
    assert hub == []  # only process 0 talks to the Hub

    monkeypatch.setenv("RANK", "0")
    monkeypatch.delenv("HF_TOKEN")
    monkeypatch.setattr("huggingface_hub.get_token", lambda: None)
    trained.clear()
    assert "No Hugging Face token" in one_line_error(capsys, argv)
    assert trained == []  # refused before training
