"""Errors a user can cause and fix, as opposed to bugs.

Every front (CLI, notebook, app) catches :class:`UserError` and shows its one-line message
instead of a traceback; anything else is a bug and keeps its traceback.
"""

from __future__ import annotations

OFFLINE_HINT = (
    "Leave out --model and --data to train the offline default (the MiniLM encoder and the IMDb "
    "sample that ship with the project), or pass local paths: --model /path/to/model_dir "
    "(a folder with config.json, model.safetensors and the tokenizer) and "
    "--data /path/to/train.parquet (or a CSV / JSON Lines file, or an aclImdb/ folder), "
    "and set HF_HUB_OFFLINE=1."
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
