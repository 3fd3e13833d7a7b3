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


def test_the_engines_packages_are_dependencies():
    declared = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]["dependencies"]
    names = {line.split(">")[0].split("=")[0].split("<")[0].strip() for line in declared}
    assert {"onnxruntime", "openvino", "nncf"} <= names


def test_importing_the_package_does_not_import_the_engines():
    """onnxruntime, openvino and nncf load only when an engine or the export needs them."""
    import os
    import subprocess
    import sys

    code = (
        "import imdb_sentiment, sys\n"
        "import imdb_sentiment.serving.exporters, imdb_sentiment.serving.classifier, imdb_sentiment.cli\n"
        "import imdb_sentiment.training.train\n"
        "loaded = {'openvino', 'nncf', 'onnxruntime'} & set(sys.modules)\n"
        "assert not loaded, loaded\n"
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, env=env
    )
    assert result.returncode == 0, result.stderr[-2000:]
