"""Running under ``accelerate launch``: which process does what, and ordered distributed scoring.

Training needs nothing from here beyond :func:`quiet_replicas`: the Trainer already shards the
batches over the processes and gathers the evaluation predictions, and ``train.py`` lets only the
main process write. Batch scoring is plain PyTorch inference, so this module splits the rows:

    accelerate launch --num_processes 4 -m imdb_sentiment predict \\
        --model-dir saved_model --file big.parquet --output out.parquet

Every process reads the input file (it must be visible to all of them), scores one contiguous
slice of its rows on its own device, and hands its rows to the main process, which writes the one
output file in input order: nothing lost, nothing scored twice. Run as a single process (plain
``python -m imdb_sentiment predict``), none of this is used.
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Sequence

import pandas as pd

from ..errors import UserError


def world_size() -> int:
    """How many processes ``accelerate launch`` (torchrun underneath) started; 1 when not launched."""
    try:
        return int(os.environ.get("WORLD_SIZE", "1"))
    except ValueError:
        return 1


def is_distributed() -> bool:
    return world_size() > 1


def shard_bounds(n_rows: int, rank: int, n_processes: int) -> tuple[int, int]:
    """The ``[start, stop)`` rows process ``rank`` scores: contiguous slices whose sizes differ by at
    most one, so concatenating them in rank order gives back every row once, in order."""
    if not 0 <= rank < n_processes:
        raise ValueError(f"rank {rank} is not in [0, {n_processes})")
    base, extra = divmod(n_rows, n_processes)
    start = rank * base + min(rank, extra)
    return start, start + base + (1 if rank < extra else 0)


def quiet_replicas(is_main: bool) -> None:
    """Only the main process logs this package's INFO messages; the others would repeat them."""
    if not is_main:
        logging.getLogger(__package__).setLevel(logging.WARNING)


def leave_process_group(finished: bool = True) -> None:
    """Close the process group before the process exits. A launched process that exits with it
    open, or closes it while another process is still at work, can abort in C++ teardown
    ("terminate called without an active exception", SIGABRT) after its own work is done, which
    fails the whole launch. So after a command that finished, every process waits for the others
    and they close the group together (accelerate's ``wait_for_everyone`` then ``end_training``).
    After an error nothing is closed: another process may be inside a collective, where a barrier
    or a close would hang, and the launcher stops the others when this one exits."""
    torch = sys.modules.get("torch")  # nothing to close if torch was never imported
    if not finished or torch is None or not torch.distributed.is_available():
        return
    if torch.distributed.is_initialized():
        from accelerate import PartialState

        PartialState().wait_for_everyone()
        torch.distributed.destroy_process_group()


def _device(state, requested: str | None) -> str:
    """Each process scores on the device accelerate gave it: "cuda", or an explicit "cuda:0", would
    put every process on the same GPU. Only "cpu" is taken as asked."""
    if requested is None or requested.startswith("cuda"):
        if requested not in (None, "cuda", str(state.device)) and state.is_main_process:
            print(f"note: --device {requested} ignored: each process uses its own GPU.", file=sys.stderr)
        return str(state.device)
    return requested


def score_distributed(
    model_dir: str,
    texts: Sequence[object],
    batch_size: int = 32,
    device: str | None = None,
    backend: str = "auto",
) -> pd.DataFrame | None:
    """Score ``texts`` with every launched process; the main process gets the whole table in input
    order (the same table ``batch.score_texts`` gives in one process), the others get ``None``."""
    import torch
    from accelerate import PartialState
    from accelerate.utils import gather_object

    from ..serving.batch import score_texts
    from ..serving.classifier import Classifier

    # Without cpu=True, accelerate only joins the launched processes into a group on accelerators;
    # on a machine without a GPU each process would then think it is alone and score everything.
    state = PartialState(cpu=device == "cpu" or not torch.cuda.is_available())
    if state.num_processes != world_size():
        raise RuntimeError(f"accelerate joined {state.num_processes} of {world_size()} launched processes.")
    quiet_replicas(state.is_main_process)
    start, stop = shard_bounds(len(texts), state.process_index, state.num_processes)
    # The main process loads first: a Hub model is then downloaded once and read from the cache.
    with state.main_process_first():
        classifier = Classifier.from_pretrained(model_dir, device=_device(state, device), backend=backend)
    part = None
    if stop > start:  # with fewer rows than processes some have none
        part = score_texts(
            classifier, texts[start:stop], batch_size=batch_size, progress=state.is_main_process
        )
        part["index"] += start
    # One object per process, in rank order, on every process (all_gather_object underneath).
    parts = gather_object([part])
    if not state.is_main_process:
        return None
    table = pd.concat([p for p in parts if p is not None], ignore_index=True)
    print(f"Scored {len(table):,} reviews on {state.num_processes} processes.", file=sys.stderr)
    if table["index"].tolist() != list(range(len(texts))):  # cannot happen unless ranks read different files
        raise UserError(
            f"Distributed scoring returned {len(table)} rows for {len(texts)} inputs out of order; "
            "every process must read the same input file."
        )
    return table
