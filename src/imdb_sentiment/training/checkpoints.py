"""Per-epoch checkpoints of a training run: find the newest complete one to resume from, clear an
old run's before a fresh one starts, and clear a failed run's.

The Trainer writes ``checkpoint-<step>/`` folders under ``<output_dir>.checkpoints`` (or
``--checkpoint-dir``) and does not write them atomically, so a run killed while saving leaves a
partial folder; ``--resume`` skips and removes those. Beside them lies the run's config
(``training_config.json``), so that ``--resume`` with other settings is refused instead of
silently mixing two runs.

    with checkpoint_folder(args, config) as resume_from:
        ...  # train from resume_from (None: from scratch)
"""

from __future__ import annotations

import dataclasses
import json
import logging
import re
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from ..atomic import missing_parents, remove_empty
from ..config import CONFIG_FILENAME, TrainConfig
from ..errors import UserError

logger = logging.getLogger(__name__)

# What training writes into the checkpoint folder: the only entries a fresh run may remove. A
# folder holding anything else is someone's, and is refused rather than cleared.
OUR_ENTRIES = re.compile(r"(tmp-)?checkpoint-\d+|runs|" + re.escape(CONFIG_FILENAME))
# Settings that do not change what is trained, so a resumed run may change them.
RESUMABLE_CHANGES = frozenset(
    {"output_dir", "checkpoint_dir", "resume", "calibrate", "export", "push_to_hub", "report_to"}
    | {"num_workers", "logging_steps"}
)
PATH_SETTINGS = ("model", "data", "counterfactuals")


@contextmanager
def checkpoint_folder(args, config: TrainConfig) -> Iterator[str | None]:
    """Yield the checkpoint to resume from (None for a fresh run) after checking the folder. If the
    run then raises an error, what it created there (and the folders made for it) is removed: a
    failed run leaves nothing behind. An interrupt (Ctrl-C) or a kill keeps the checkpoints
    for --resume, and so does a failed --resume run (its checkpoints predate it)."""
    checkpoints = config.checkpoint_path().expanduser().absolute()
    missing = missing_parents(checkpoints)
    users_empty_folder = checkpoints.is_dir() and not any(checkpoints.iterdir())
    resume_from = resume_point(args, checkpoints, config)
    try:
        yield resume_from
    except Exception:
        if args.process_index == 0 and not config.resume:
            _remove_ours(checkpoints, whole_folder=not users_empty_folder)
            remove_empty(missing)
        raise
    if args.process_index == 0:
        remove_empty(missing)  # a --checkpoint-dir under new folders: gone with the checkpoints


def resume_point(args, checkpoints: Path, config: TrainConfig) -> str | None:
    """The checkpoint to resume from (``config.resume``), or None after removing an old run's
    checkpoints; the folder is refused if it holds anything training did not write, or (resuming)
    checkpoints of a run with other settings.

    Under accelerate launch every process calls this; only process 0 touches the folder (resume
    scan, clean-up of partial or old checkpoints) while the others wait at a barrier, so no process
    lists a folder another is deleting. With one process the barrier does nothing."""
    with args.main_process_first(local=False, desc="checkpoint scan"):
        check_checkpoint_dir(checkpoints, Path(config.output_dir).expanduser().absolute())
        if config.resume:
            check_same_run(checkpoints, config)
        resume_from = last_checkpoint(checkpoints) if config.resume else None
        if args.process_index == 0:
            if not config.resume:
                _remove_ours(checkpoints, whole_folder=False)  # never mix with an old run's checkpoints
            checkpoints.mkdir(parents=True, exist_ok=True)
            config.save(checkpoints)  # what a later --resume compares its settings with
    return resume_from


def check_checkpoint_dir(checkpoints: Path, output_dir: Path) -> None:
    """A UserError unless ``checkpoints`` is missing, empty or holds only what training writes, and
    lies apart from the model folder (which replaces itself whole, and would take them along)."""
    if checkpoints.exists() and not checkpoints.is_dir():
        raise UserError(f"--checkpoint-dir '{checkpoints}' exists and is not a folder.")
    if checkpoints == output_dir or output_dir in checkpoints.parents or checkpoints in output_dir.parents:
        raise UserError(
            f"--checkpoint-dir '{checkpoints}' and --output-dir '{output_dir}' must not be the same "
            "folder or inside each other."
        )
    entries = checkpoints.iterdir() if checkpoints.is_dir() else ()
    foreign = sorted(p.name for p in entries if not OUR_ENTRIES.fullmatch(p.name))
    if foreign:
        raise UserError(
            f"--checkpoint-dir '{checkpoints}' holds files that are not training checkpoints "
            f"({', '.join(foreign[:3])}{', ...' if len(foreign) > 3 else ''}); refusing to use it, "
            "since a fresh run clears it. Choose an empty or new --checkpoint-dir."
        )


def check_same_run(checkpoints: Path, config: TrainConfig) -> None:
    """A UserError if the checkpoints were written with settings that change what is trained."""
    try:
        saved = TrainConfig.load(checkpoints)
    except (ValueError, TypeError):  # unreadable: as if absent (runs before the config was saved)
        saved = None
    if saved is None:
        return
    now, before = _comparable(config), _comparable(saved)
    differing = [name for name in now if now[name] != before.get(name)]
    if differing:
        shown = ", ".join(f"{name} {before.get(name)!r} -> {now[name]!r}" for name in differing)
        raise UserError(
            f"--resume: the checkpoints in '{checkpoints}' were trained with other settings ({shown}); "
            "resume with the same ones, or start a fresh run without --resume."
        )


def _comparable(config: TrainConfig) -> dict:
    values = {k: v for k, v in dataclasses.asdict(config).items() if k not in RESUMABLE_CHANGES}
    for name in PATH_SETTINGS:  # a relative and an absolute spelling of one file are the same data
        if values.get(name) and Path(values[name]).expanduser().exists():
            values[name] = str(Path(values[name]).expanduser().resolve())
    return values


def _remove_ours(checkpoints: Path, whole_folder: bool) -> None:
    """Remove what training wrote into ``checkpoints`` (checked by ``check_checkpoint_dir`` to hold
    nothing else), and the folder itself when it is ``whole_folder`` and left empty."""
    if not checkpoints.is_dir():
        return
    for entry in checkpoints.iterdir():
        if not OUR_ENTRIES.fullmatch(entry.name):
            continue  # not ours: never removed
        if entry.is_dir() and not entry.is_symlink():
            shutil.rmtree(entry, ignore_errors=True)
        else:
            entry.unlink(missing_ok=True)
    if whole_folder and not any(checkpoints.iterdir()):
        checkpoints.rmdir()


def is_complete(checkpoint: Path) -> bool:
    """The Trainer writes trainer_state.json last, so a checkpoint without a readable one was cut
    off mid-write (the Trainer does not write checkpoints atomically)."""
    try:
        json.loads((checkpoint / "trainer_state.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return True


def checkpoint_step(checkpoint: str | Path) -> int:
    """The training step a complete checkpoint was saved at."""
    state = json.loads((Path(checkpoint) / "trainer_state.json").read_text(encoding="utf-8"))
    return int(state["global_step"])


def last_checkpoint(checkpoints: Path) -> str:
    """The newest complete checkpoint; half-written ones (a run killed while saving) are removed."""
    found = sorted(
        (p for p in checkpoints.glob("checkpoint-*") if p.is_dir() and p.name.split("-")[-1].isdigit()),
        key=lambda p: int(p.name.split("-")[-1]),
    )
    complete = [p for p in found if is_complete(p)]
    for partial in (p for p in found if p not in complete):
        logger.warning("Removing the incomplete checkpoint %s (the run stopped while saving it).", partial)
        shutil.rmtree(partial, ignore_errors=True)
    if not complete:
        raise UserError(f"--resume was given but there is no complete checkpoint in '{checkpoints}'.")
    return str(complete[-1])
