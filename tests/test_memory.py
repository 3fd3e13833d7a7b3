"""memory: the glibc malloc settings the app applies so its memory stays flat under load, and the
one peak-memory measure (PeakMemory) the sweep and the benchmarks share.

The effect itself (server RSS over a 1,000-request soak) is measured by benchmarks/load.py; these
tests check that the settings are applied, that a user's own settings win, and that other
platforms are left alone. Each runs in a fresh interpreter, since mallopt changes the process.
PeakMemory's CUDA path runs on a mocked allocator, so it is checked with or without a GPU.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

from imdb_sentiment import memory
from imdb_sentiment.memory import PeakMemory, process_peak_rss_mb

PROBE = (
    "import json; from imdb_sentiment.memory import limit_malloc_growth, release_free_memory; "
    "applied = limit_malloc_growth(); "
    "blocks = [bytearray(3 << 20) for _ in range(20)]; del blocks; "
    "print(json.dumps({'applied': applied, 'trimmed': release_free_memory()}))"
)
GLIBC = memory._glibc() is not None


def run_probe(**env: str) -> dict:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("MALLOC_")}
    out = subprocess.run(
        [sys.executable, "-c", PROBE], env={**clean, **env}, capture_output=True, text=True, check=True
    )
    return json.loads(out.stdout)


def test_arenas_and_mmap_threshold_are_set_on_glibc():
    result = run_probe()
    expected = {
        "MALLOC_ARENA_MAX": memory.DEFAULT_ARENAS,
        "MALLOC_MMAP_THRESHOLD_": memory.DEFAULT_MMAP_THRESHOLD,
    }
    assert result["applied"] == (expected if GLIBC else {})
    assert result["trimmed"] in ((True, False) if GLIBC else (False,))


def test_a_users_own_malloc_settings_win():
    result = run_probe(MALLOC_ARENA_MAX="4")
    assert result["applied"] == ({"MALLOC_MMAP_THRESHOLD_": memory.DEFAULT_MMAP_THRESHOLD} if GLIBC else {})


def test_other_platforms_are_left_alone(monkeypatch):
    monkeypatch.setattr(memory.sys, "platform", "darwin")
    assert memory.limit_malloc_growth() == {}
    assert memory.release_free_memory() is False


def test_raw_malloc_switch_turns_it_off():
    assert run_probe(IMDB_SENTIMENT_RAW_MALLOC="1")["applied"] == {}


def touched(mib: int) -> bytearray:
    """``mib`` MiB that are really resident (every page written)."""
    block = bytearray(mib << 20)
    block[:: 1 << 12] = b"x" * len(range(0, len(block), 1 << 12))
    return block


def test_peak_memory_on_a_cpu_is_what_the_block_added():
    with PeakMemory("cpu") as peak:
        block = touched(64)
        del block
    if peak.peak_mb is None:  # only where the kernel lets no process reset its high-water mark
        assert not os.access("/proc/self/clear_refs", os.W_OK)
        return
    assert peak.peak_mb >= 48
    assert peak.peak_rss_mb >= peak.peak_mb
    assert peak.method == "RSS high-water mark (VmHWM)"


def test_peak_memory_never_goes_below_its_baseline():
    block = touched(64)
    with PeakMemory("cpu") as peak:
        del block  # the block frees more than it allocates
    assert peak.peak_mb is None or peak.peak_mb >= 0


def test_peak_memory_on_cuda_is_the_allocator_peak_above_the_start(monkeypatch):
    import torch

    allocated = {"now": 300 << 20, "peak": 0}
    monkeypatch.setattr(
        torch.cuda, "reset_peak_memory_stats", lambda: allocated.update(peak=allocated["now"])
    )
    monkeypatch.setattr(torch.cuda, "memory_allocated", lambda: allocated["now"])
    monkeypatch.setattr(torch.cuda, "max_memory_allocated", lambda: allocated["peak"])
    with PeakMemory("cuda") as peak:
        allocated["peak"] = 812 << 20
    assert (peak.peak_mb, peak.peak_rss_mb, peak.method) == (512, None, "cuda max_memory_allocated")
    with PeakMemory("cuda") as peak:
        allocated["peak"] = 100 << 20  # a peak below the start cannot be: clamped, not negative
    assert peak.peak_mb == 0


def test_the_process_peak_is_at_least_what_it_holds_now():
    block = touched(32)
    peak = process_peak_rss_mb()
    del block
    assert peak is None or peak >= 32
