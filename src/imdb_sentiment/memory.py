"""Keep a long-running server's memory flat: glibc malloc settings for PyTorch under a thread pool.

A forward pass allocates and frees activation buffers of a different size for every batch shape.
Gradio runs handlers on a pool of threads, and glibc gives each thread its own malloc arena (up to
8 per core); once a large block has been freed, glibc also raises its mmap threshold, so later
buffers of that size come from those arenas too. Freed arena memory stays resident and fragments,
so the server's RSS climbs with every new batch shape it meets. Capping the arenas and fixing the
mmap threshold makes large buffers go back to the operating system when a forward pass ends;
``release_free_memory`` hands back what the arenas still hold after a burst.

    from imdb_sentiment.memory import limit_malloc_growth
    limit_malloc_growth()      # once, early in a server process (gradioApp.py does it)

Elsewhere than glibc (macOS, Windows, musl) the malloc settings are no-ops.
``benchmarks/load.py`` measures their effect (README "Reliability and security").

``PeakMemory`` measures the most memory a block of code added, and ``process_peak_rss_mb`` a
process's own peak; they are the one way the sweep and the benchmarks measure peak memory:

    with PeakMemory("cpu") as memory:  # or "cuda": torch's allocator instead of the RSS
        train(config)
    memory.peak_mb, memory.peak_rss_mb
"""

from __future__ import annotations

import ctypes
import logging
import os
import sys
from pathlib import Path

logger = logging.getLogger(__name__)

# mallopt parameters, from glibc's malloc.h
M_MMAP_THRESHOLD = -3
M_ARENA_MAX = -8

DEFAULT_ARENAS = 2
# Buffers from 1 MiB up (a 64-token batch of 16 at hidden size 768 is 3 MiB) are mapped and
# unmapped by the kernel, so they never fragment an arena; smaller ones reuse arena memory.
DEFAULT_MMAP_THRESHOLD = 1 << 20


def _glibc():
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL("libc.so.6")
    except OSError:
        return None
    if not all(hasattr(libc, name) for name in ("mallopt", "malloc_trim", "gnu_get_libc_version")):
        return None  # musl and other C libraries
    return libc


def limit_malloc_growth(
    arenas: int = DEFAULT_ARENAS, mmap_threshold: int = DEFAULT_MMAP_THRESHOLD
) -> dict[str, int]:
    """Cap malloc arenas and fix the mmap threshold for this process; returns what was set.

    Settings the user already chose through glibc's environment variables (``MALLOC_ARENA_MAX``,
    ``MALLOC_MMAP_THRESHOLD_``) are left alone, and ``IMDB_SENTIMENT_RAW_MALLOC=1`` turns it off
    (benchmarks/load.py compares both). Call it before the threads that serve requests start.
    """
    libc = _glibc()
    if libc is None or os.environ.get("IMDB_SENTIMENT_RAW_MALLOC") == "1":
        return {}
    applied = {}
    for variable, parameter, value in (
        ("MALLOC_ARENA_MAX", M_ARENA_MAX, arenas),
        ("MALLOC_MMAP_THRESHOLD_", M_MMAP_THRESHOLD, mmap_threshold),
    ):
        if variable in os.environ:
            continue
        if libc.mallopt(ctypes.c_int(parameter), ctypes.c_int(value)) == 1:
            applied[variable] = value
        else:
            logger.warning("mallopt(%s=%d) was refused; server memory may grow", variable, value)
    return applied


def release_free_memory() -> bool:
    """Return the free memory malloc still holds to the operating system (glibc's malloc_trim)."""
    libc = _glibc()
    return bool(libc.malloc_trim(ctypes.c_size_t(0))) if libc is not None else False


class PeakMemory:
    """The most memory a block of code added, in MiB (``None`` where it cannot be measured).

    ``peak_mb`` never goes below 0: on CUDA it is ``max_memory_allocated`` (reset on entry) minus
    what was allocated on entry; on a CPU, the resident-set high-water mark (``VmHWM``, reset on
    entry through ``/proc/self/clear_refs``, Linux only) minus the resident set on entry.
    ``peak_rss_mb`` (CPU only) is that high-water mark itself: the whole process's peak during
    the block.
    """

    def __init__(self, device: str):
        self.device = device
        self.peak_mb: float | None = None
        self.peak_rss_mb: float | None = None  # the whole process's, on a CPU
        self.method = "cuda max_memory_allocated" if device == "cuda" else "RSS high-water mark (VmHWM)"

    def __enter__(self) -> PeakMemory:
        if self.device == "cuda":
            import torch

            torch.cuda.reset_peak_memory_stats()
            self.start = torch.cuda.memory_allocated()
        else:
            # The baseline is the high-water mark right after its reset (the RSS at that moment), so
            # memory freed in between cannot make the peak look smaller than the start.
            self.resettable = _reset_high_water_mark()
            self.start = _status_kib("VmHWM")
        return self

    def __exit__(self, *exc) -> None:
        if self.device == "cuda":
            import torch

            self.peak_mb = max(0, torch.cuda.max_memory_allocated() - self.start) / 2**20
        elif self.start is not None and self.resettable:
            high_water = _status_kib("VmHWM")
            if high_water is not None:
                self.peak_mb, self.peak_rss_mb = max(0, high_water - self.start) / 1024, high_water / 1024


def process_peak_rss_mb() -> float | None:
    """This process's peak resident memory in MiB: since it started, or since a ``PeakMemory``
    block last reset the mark. ``VmHWM``, not ``ru_maxrss``: Linux keeps ``ru_maxrss`` across
    fork + exec, so a freshly started worker would report its parent's peak. Elsewhere
    ``ru_maxrss`` (bytes on macOS); ``None`` where neither exists (Windows)."""
    high_water = _status_kib("VmHWM")
    if high_water is not None:
        return high_water / 1024
    try:
        import resource
    except ImportError:
        return None
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 2**20 if sys.platform == "darwin" else peak / 1024


def _status_kib(field: str) -> int | None:
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith(f"{field}:"):
                return int(line.split()[1])
    except OSError:
        pass
    return None


def _reset_high_water_mark() -> bool:
    try:
        Path("/proc/self/clear_refs").write_text("5")  # 5: reset VmHWM to the current RSS
    except OSError:
        return False
    return True
