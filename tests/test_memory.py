"""memory: the glibc malloc settings the app applies so its memory stays flat under load.

The effect itself (server RSS over a 1,000-request soak) is measured by benchmarks/load.py; these
tests check that the settings are applied, that a user's own settings win, and that other
platforms are left alone. Each runs in a fresh interpreter, since mallopt changes the process.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

from imdb_sentiment import memory

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
