"""Errors a user can cause and fix, as opposed to bugs, and the rule that tells a local path from a
Hub id (which decides whether a missing name is "no such folder" or "the Hub cannot be reached").

Every front (CLI, notebook, app) catches :class:`UserError` and shows its one-line message
instead of a traceback; anything else is a bug and keeps its traceback.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

OFFLINE_HINT = (
    "Leave out --model and --data to train the offline default (the MiniLM encoder and the IMDb "
    "sample that ship with the project), or pass local paths: --model /path/to/model_dir "
    "(train; --model-dir for predict, evaluate, explain and the app: a folder with config.json, "
    "model.safetensors and the tokenizer) and "
    "--data /path/to/train.parquet (or a CSV / JSON Lines file, or an aclImdb/ folder), "
    "and set HF_HUB_OFFLINE=1."
)


def is_local_path(name: str, file_suffixes: Iterable[str] = (), bare_names: bool = False) -> bool:
    """True when ``name`` means a place on disk rather than a Hub id (``owner/name`` or ``name``):
    it exists, starts with ``.``, ``/`` or ``~``, or has more than one ``/``. ``file_suffixes``:
    names ending so are files (``reviews.csv``); ``bare_names``: a name without ``/`` is a folder
    (for saved classifiers, which the Hub only has as ``owner/name``)."""
    path = Path(name).expanduser()
    return (
        path.exists()
        or name.startswith((".", "/", "~"))
        or name.count("/") > 1
        or (bare_names and "/" not in name)
        or path.suffix.lower() in set(file_suffixes)
    )


class UserError(Exception):
    """Bad input or configuration: the message says what is wrong and how to fix it."""


class HubUnreachableError(UserError):
    """The Hugging Face Hub could not be reached for a hub id."""

    def __init__(self, what: str, name: str, cause: BaseException | None = None):
        reason = f" ({type(cause).__name__})" if cause is not None else ""
        super().__init__(
            f"Could not download {what} '{name}' from the Hugging Face Hub{reason}. {OFFLINE_HINT}"
        )


class PortInUseError(UserError):
    """The app's port is taken: said by gradioApp.py's check before loading and by ``launch``."""

    def __init__(self, host: str, port: int):
        super().__init__(
            f"Port {port} is already in use on {host}; pass another --port (or --port 0 for any free one)."
        )


class TrainingDivergedError(UserError):
    """The loss became NaN or infinite; nothing was saved."""


def looks_like_network_failure(error: BaseException) -> bool:
    """True when an exception raised while loading from the Hub means "no connection"."""
    text = f"{type(error).__name__}: {error}".lower()
    markers = (
        "connection",
        "offline",
        "resolve",
        "timed out",
        "timeout",
        "couldn't reach",
        "could not reach",
        "network",
        "name or service not known",
        "max retries",
        "temporary failure",
        "we couldn't connect",
        "localentrynotfound",
        "outgoing traffic has been disabled",
    )
    return any(marker in text for marker in markers)
