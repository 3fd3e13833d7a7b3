"""requirements.txt lists exactly the runtime dependencies of pyproject.toml, in the same words.

.venv/bin/python -m pytest tests/test_packaging.py -q
"""

from __future__ import annotations

from pathlib import Path

import pytest

tomllib = pytest.importorskip("tomllib")  # Python 3.11+

ROOT = Path(__file__).resolve().parents[1]


def test_requirements_txt_matches_pyproject_dependencies():
    declared = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]["dependencies"]
    lines = (ROOT / "requirements.txt").read_text(encoding="utf-8").splitlines()
    listed = [line.strip() for line in lines if line.strip() and not line.lstrip().startswith("#")]
    assert sorted(listed) == sorted(declared)
    assert len(set(listed)) == len(listed)
