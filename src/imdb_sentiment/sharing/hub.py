"""Push a saved model folder to a Hugging Face Hub model repo, and its app to a Gradio Space.

    push("saved_model", "me/imdb", space_id="me/imdb-demo")            # uploads both
    push("saved_model", "me/imdb", space_id="me/imdb-demo", dry_run="out")  # out/model/, out/space/

What goes up is chosen here, file by file (:func:`model_files`): the safetensors weights, the
tokenizer, ``config.json``, ``metrics.json``, ``training_config.json``, the plots, the card and
TensorBoard's event files; never checkpoints, pickle files or (unless asked) ONNX / OpenVINO exports.
The chosen files are copied into a folder and that folder is what ``upload_folder`` receives, so a
dry run writes exactly what a push uploads. The token (``HF_TOKEN`` or the stored login) goes to
``HfApi`` and nowhere else: it is never printed or written.
"""

from __future__ import annotations

import fnmatch
import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from ..atomic import atomic_directory
from ..config import HUB_REPO_ID
from ..errors import UserError, looks_like_network_failure
from ..serving.classifier import check_model_dir
from .space import write_space_folder

# Top-level files of a saved model that go to the Hub (tokenizer files vary by model family).
MODEL_PATTERNS = (
    "*.safetensors",
    "config.json",
    "generation_config.json",
    "tokenizer.json",
    "tokenizer_config.json",
    "special_tokens_map.json",
    "added_tokens.json",
    "vocab.txt",
    "vocab.json",
    "merges.txt",
    "*.model",  # sentencepiece vocabularies (protobuf, not pickle)
    "metrics.json",
    "training_config.json",
    "*.png",
    "README.md",
)
RUNS_PATTERN = "runs/*/events.out.tfevents.*"  # --report-to tensorboard (the Hub shows them)
EXPORT_DIRS = ("exports", "onnx", "openvino")  # serving/exporters' folder (exports/), and older ones
# Never uploaded, whatever was asked: formats that can run code when loaded (an exported OpenVINO
# IR's .bin is raw weights, not one of them: _openvino_weights).
PICKLE_PATTERNS = ["*.bin", "*.pt", "*.pth", "*.pkl", "*.pickle", "*.ckpt", "*.joblib"]
CARD_PLACEHOLDER = "path/to/this/folder"  # training/card.py's "Use" snippet; the repo id on the Hub
DRY_RUN_MARKERS = ("model", "space")  # a previous dry run's folder may be replaced, nothing else


@dataclass
class PushResult:
    repo_id: str
    model_files: list[str]
    space_id: str | None = None
    space_files: list[str] = field(default_factory=list)
    dry_run: Path | None = None  # where the folders were written instead of uploaded
    notes: list[str] = field(default_factory=list)


def model_files(model_dir: str | Path, include_exports: bool = False) -> list[str]:
    """The files of ``model_dir`` that a push uploads, as sorted POSIX paths relative to it."""
    root = Path(model_dir)
    chosen = []
    for path in sorted(p for p in root.rglob("*") if p.is_file() and not p.is_symlink()):
        rel = path.relative_to(root).as_posix()
        export = include_exports and rel.split("/")[0] in EXPORT_DIRS
        if any(fnmatch.fnmatch(path.name, p) for p in PICKLE_PATTERNS) and not (
            export and _openvino_weights(path)
        ):
            continue
        top_level = "/" not in rel and any(fnmatch.fnmatch(rel, p) for p in MODEL_PATTERNS)
        if top_level or export or fnmatch.fnmatch(rel, RUNS_PATTERN):
            chosen.append(rel)
    return chosen


def _openvino_weights(path: Path) -> bool:
    """An OpenVINO IR's weights: ``model.bin`` beside its ``model.xml``. Raw tensors that OpenVINO
    reads at the offsets the XML gives, not a pickle; without them the IR cannot load."""
    return path.suffix == ".bin" and path.with_suffix(".xml").is_file()


def write_model_folder(
    model_dir: str | Path, destination: Path, repo_id: str, include_exports: bool = False
) -> tuple[list[str], list[str]]:
    """Copy what a push uploads into ``destination``, the card made to name ``repo_id``; returns
    (the files, notes for the user)."""
    files = model_files(model_dir, include_exports)
    for rel in files:
        target = destination / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(Path(model_dir) / rel, target)
    notes = []
    card = destination / "README.md"
    if card.is_file():
        notes += _card_for_hub(card, repo_id)
    else:
        notes.append("the model folder has no README.md: the Hub will show no model card")
    return files, notes


def _card_for_hub(card: Path, repo_id: str) -> list[str]:
    """Point the card's usage snippet and its model-index at ``repo_id``; notes if the Hub would
    show no results (a card written before the front matter carried them)."""
    from huggingface_hub import ModelCard

    text = card.read_text(encoding="utf-8").replace(CARD_PLACEHOLDER, repo_id)
    try:
        parsed = ModelCard(text)
    except ValueError as error:
        raise UserError(f"The model card {card.name} has invalid front matter: {error}") from error
    if parsed.data.eval_results:
        parsed.data.model_name = repo_id.split("/")[1]
        text = str(parsed)
    card.write_text(text, encoding="utf-8")
    if not parsed.data.eval_results:
        return ["the model card has no model-index (train again to get one): the Hub will show no results"]
    return []


def check_repo_id(repo_id: str, what: str) -> str:
    if not HUB_REPO_ID.match(repo_id or ""):
        raise UserError(f"{what} must be a Hub repo id with its owner, owner/name, not {repo_id!r}.")
    return repo_id


def hub_token() -> str:
    """HF_TOKEN or the stored login (huggingface_hub's own lookup), or a one-line error."""
    from huggingface_hub import get_token

    token = get_token()
    if not token:
        raise UserError(
            "No Hugging Face token: set HF_TOKEN or run `hf auth login` (a token with write access)."
        )
    return token


def _unreachable(error: BaseException) -> bool:
    kinds = {cls.__name__ for cls in type(error).__mro__}
    network = {"ConnectionError", "TimeoutError", "TransportError", "OfflineModeIsEnabled"}
    return bool(kinds & network) or looks_like_network_failure(error)


@contextmanager
def hub_errors(repo_id: str) -> Iterator[None]:
    """Turn the Hub's failures into one-line :class:`UserError` messages (never with the token)."""
    from huggingface_hub.errors import HfHubHTTPError, LocalTokenNotFoundError

    try:
        yield
    except UserError:
        raise
    except LocalTokenNotFoundError as error:
        raise UserError("No Hugging Face token: set HF_TOKEN or run `hf auth login`.") from error
    except HfHubHTTPError as error:
        status = getattr(getattr(error, "response", None), "status_code", None)
        if status == 401:
            raise UserError(
                "The Hugging Face Hub refused the token (401): set a valid HF_TOKEN or run "
                "`hf auth login --force`."
            ) from error
        if status in (403, 404):
            raise UserError(
                f"Cannot write to {repo_id} ({status}): it belongs to someone else, or the token has no "
                "write access to it. Push to a repo under your own name or organisation."
            ) from error
        server = (error.server_message or str(error)).strip().splitlines()
        raise UserError(
            f"The Hugging Face Hub refused the push to {repo_id} ({status}: {server[0] if server else ''})."
        ) from error
    except Exception as error:
        if _unreachable(error):
            offline = " HF_HUB_OFFLINE is set." if os.environ.get("HF_HUB_OFFLINE") else ""
            raise UserError(
                f"Could not reach the Hugging Face Hub ({type(error).__name__}); {repo_id} was not "
                f"pushed.{offline}"
            ) from error
        raise


def check_owner(api, *repo_ids: str) -> str:
    """The token's user name, once every repo is under it or one of its organisations."""
    with hub_errors(repo_ids[0]):
        identity = api.whoami()
    owners = {identity.get("name")} | {org.get("name") for org in identity.get("orgs") or []}
    for repo_id in repo_ids:
        owner = repo_id.split("/")[0]
        if owner not in owners:
            raise UserError(
                f"{repo_id} belongs to '{owner}', and the token is {identity.get('name')}'s "
                f"(organisations: {', '.join(sorted(o for o in owners - {identity.get('name')} if o)) or 'none'}); "
                "push to a repo under your own name or organisation."
            )
    return identity.get("name")


def preflight(repo_id: str, space_id: str | None = None) -> None:
    """Before a long training: the token exists and the repos are the user's (train --push-to-hub)."""
    from huggingface_hub import HfApi

    check_repo_id(repo_id, "The repo id")
    check_owner(HfApi(token=hub_token()), repo_id, *([space_id] if space_id else []))


def push(
    model_dir: str | Path,
    repo_id: str,
    *,
    private: bool = False,
    revision: str | None = None,
    commit_message: str | None = None,
    space_id: str | None = None,
    include_exports: bool = False,
    dry_run: str | Path | None = None,
) -> PushResult:
    """Push ``model_dir`` to the model repo ``repo_id`` (and its app to the Space ``space_id``), or
    with ``dry_run`` write what would be uploaded to ``dry_run/model`` and ``dry_run/space``."""
    check_repo_id(repo_id, "--repo-id")
    if space_id:
        check_repo_id(space_id, "--space")
    check_model_dir(Path(model_dir))
    if dry_run is not None:
        target = Path(dry_run).resolve()
        if Path(model_dir).resolve() in (target, *target.parents):
            raise UserError(f"--dry-run '{dry_run}' is inside the model folder; name a folder outside it.")
        with atomic_directory(dry_run, markers=DRY_RUN_MARKERS, flag="--dry-run") as staging:
            result = _stage(model_dir, staging, repo_id, revision, space_id, include_exports)
        result.dry_run = Path(dry_run)
        return result
    from huggingface_hub import HfApi

    api = HfApi(token=hub_token())
    check_owner(api, repo_id, *([space_id] if space_id else []))
    with tempfile.TemporaryDirectory(prefix="imdb-sentiment-push-") as tmp:
        result = _stage(model_dir, Path(tmp), repo_id, revision, space_id, include_exports)
        message = commit_message or "Upload a sentiment classifier trained with imdb-sentiment"
        with hub_errors(repo_id):
            api.create_repo(repo_id, repo_type="model", private=private, exist_ok=True)
            if revision and revision != "main":
                api.create_branch(repo_id, branch=revision, repo_type="model", exist_ok=True)
            api.upload_folder(
                repo_id=repo_id,
                folder_path=str(Path(tmp) / "model"),
                repo_type="model",
                revision=revision,
                commit_message=message,
                ignore_patterns=PICKLE_PATTERNS,
            )
        if space_id:
            with hub_errors(space_id):
                api.create_repo(
                    space_id, repo_type="space", space_sdk="gradio", private=private, exist_ok=True
                )
                api.upload_folder(
                    repo_id=space_id,
                    folder_path=str(Path(tmp) / "space"),
                    repo_type="space",
                    commit_message=commit_message or f"Serve {repo_id} with the imdb-sentiment app",
                    ignore_patterns=PICKLE_PATTERNS,
                )
    return result


def _stage(model_dir, folder: Path, repo_id, revision, space_id, include_exports) -> PushResult:
    files, notes = write_model_folder(model_dir, folder / "model", repo_id, include_exports)
    result = PushResult(repo_id=repo_id, model_files=files, notes=notes)
    if space_id:
        result.space_id = space_id
        result.space_files = write_space_folder(folder / "space", repo_id, space_id, revision)
    return result
