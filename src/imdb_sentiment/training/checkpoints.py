"""Per-epoch checkpoints of a training run: find the newest complete one to resume from, and
clear an old run's before a fresh one starts.

The Trainer writes ``checkpoint-<step>/`` folders under ``<output_dir>.checkpoints`` (or
``--checkpoint-dir``) and does not write them atomically, so a run killed while saving leaves a
partial folder; ``--resume`` skips and removes those.

    resume_from = resume_point(training_args, config.checkpoint_path(), config.resume)
"""

from __future__ import annotations

import json
import logging
import shutil
from pathlib import Path

from ..errors import UserError

logger = logging.getLogger(__name__)


def resume_point(args, checkpoints: Path, resume: bool) -> str | None:
    """The checkpoint to resume from (``resume``), or None after removing an old run's checkpoints.

    Under accelerate launch every process calls this; only process 0 touches the folder (resume
    scan, clean-up of partial or old checkpoints) while the others wait at a barrier, so no process
    lists a folder another is deleting. With one process the barrier does nothing."""
    with args.main_process_first(local=False, desc="checkpoint scan"):
        resume_from = last_checkpoint(checkpoints) if resume else None
        if args.process_index == 0 and not resume and checkpoints.is_dir():
            shutil.rmtree(checkpoints)  # a fresh run must not mix with an old run's checkpoints
    return resume_from


def is_complete(checkpoint: Path) -> bool:
    """The Trainer writes trainer_state.json last, so a checkpoint without a readable one was cut
    off mid-write (the Trainer does not write checkpoints atomically)."""
    try:
        json.loads((checkpoint / "trainer_state.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return True


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
