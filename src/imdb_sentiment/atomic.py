"""Write a model directory (or one output file) atomically: built beside the target, renamed into
place at the end.

The directory is built beside the target under a hidden name and renamed into place at the end,
so a failed or interrupted run never leaves a half-written or mixed ``saved_model/``: readers see
the previous model or the new one, nothing in between.

    with atomic_directory("saved_model") as staging:
        model.save_pretrained(staging)
    with staged_file(Path("predictions.csv")) as staging:  # a file: predictions, metrics
        table.to_csv(staging)
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

from .errors import UserError

# Files whose presence marks a directory as a model this project (or transformers) wrote, and so
# safe to replace. Anything else non-empty is refused: a typo must not delete someone's folder.
MODEL_MARKERS = ("config.json", "training_config.json", "model.safetensors")


def check_output_dir(
    path: str | Path, markers: tuple[str, ...] = MODEL_MARKERS, flag: str | None = "--output-dir"
) -> Path:
    """Fail early, before any training, if ``path`` cannot be (re)placed by a model directory
    (or by another folder this project writes, recognised by one of ``markers``). ``flag``: the
    option that named ``path``, for the message (None: the folder is not the user's choice)."""
    path = Path(path).expanduser().absolute()
    named = f"{flag} '{path}'" if flag else f"'{path}'"
    if path.exists() and not path.is_dir():
        raise UserError(f"{named} exists and is not a folder.")
    if path.is_dir() and any(path.iterdir()) and not any((path / m).exists() for m in markers):
        fix = f"Choose another {flag}." if flag else "Move what it holds elsewhere."
        raise UserError(
            f"{named} is a non-empty folder that holds no model or other output of this project; "
            f"refusing to replace it. {fix}"
        )
    # Missing parents are only created when the model is saved: a run that fails before leaves none.
    existing = next(p for p in path.parents if p.exists())
    if not existing.is_dir():
        raise UserError(f"{named} cannot be created: '{existing}' is a file, not a folder.")
    if not os.access(existing, os.W_OK):
        raise UserError(f"Cannot write to '{existing}'.")
    return path


@contextmanager
def atomic_directory(
    target: str | Path, markers: tuple[str, ...] = MODEL_MARKERS, flag: str | None = "--output-dir"
) -> Iterator[Path]:
    """Yield an empty staging folder; on success it replaces ``target`` in one rename. An existing
    non-empty ``target`` is only replaced if it holds one of ``markers`` (``check_output_dir``)."""
    target = check_output_dir(target, markers, flag)
    created = missing_parents(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.tmp-", dir=target.parent))
    try:
        yield staging
        _make_shareable(staging)
        _swap_into_place(staging, target)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        remove_empty(created)
        raise


def _make_shareable(staging: Path) -> None:
    """Give the folder and what is in it the modes the umask gives new files (0755 / 0644 under the
    usual 022): mkdtemp makes the folder 0700 and transformers writes its weights through a
    temporary file (0600), but a model directory is for sharing."""
    umask = _umask()
    os.chmod(staging, 0o777 & ~umask)
    for path in staging.rglob("*"):
        if not path.is_symlink():
            os.chmod(path, (0o777 if path.is_dir() else 0o666) & ~umask)


def _umask() -> int:
    try:  # Linux shows it without changing it (os.umask has to set one to read it)
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    umask = os.umask(0o022)
    os.umask(umask)
    return umask


def missing_parents(path: Path) -> list[Path]:
    """The folders above ``path`` that do not exist yet, deepest first: what making it would create."""
    return [parent for parent in Path(path).parents if not parent.exists()]


def remove_empty(folders: list[Path]) -> None:
    """Remove ``folders`` (deepest first, as :func:`missing_parents` lists them) while they are
    empty; one something else wrote into stays, and so do those above it."""
    for folder in folders:
        try:
            folder.rmdir()
        except OSError:
            return


def _swap_into_place(staging: Path, target: Path) -> None:
    backup = None
    if target.exists():
        backup = target.parent / f".{target.name}.old-{uuid.uuid4().hex[:8]}"
        os.rename(target, backup)
    try:
        os.rename(staging, target)
    except BaseException:
        if backup is not None:
            os.rename(backup, target)
        raise
    if backup is not None:
        shutil.rmtree(backup, ignore_errors=True)


def write_json(path: Path, payload: dict) -> None:
    path.write_text(json.dumps(payload, indent=2) + "\n", encoding="utf-8")


@contextmanager
def staged_file(path: Path) -> Iterator[Path]:
    """Yield a hidden path beside ``path`` to write to; it replaces ``path`` in one rename when the
    block succeeds and is removed when it fails, so neither a half-written output nor the staging
    file is left behind. A failed write (disk full, no permission) is a one-line UserError."""
    staging = path.with_name(f".{path.name}.tmp")
    try:
        yield staging
        staging.replace(path)
    except BaseException as error:
        with suppress(OSError):
            staging.unlink(missing_ok=True)
        if isinstance(error, OSError):
            raise UserError(f"Could not write '{path}': {error.strerror or error}.") from error
        raise
