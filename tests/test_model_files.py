"""Model files: safetensors only, no pickle, no remote code, and damaged weights are a clear error.

A "malicious" pickle here is one whose unpickling creates a marker file: if any code path ever
unpickles it, the marker appears and the test fails. Remote code is a module that does the same
on import.

    .venv/bin/python -m pytest tests/test_model_files.py -q
"""

from __future__ import annotations

import json
import pickle
import re
import shutil
import struct
import subprocess
import sys
from pathlib import Path

import pytest

from imdb_sentiment import Classifier, UserError

ROOT = Path(__file__).resolve().parents[1]


class _Payload:
    """Unpickling this runs ``open(marker, "w")``: the classic pickle code-execution trick."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return (open, (str(self.marker), "w"))


@pytest.fixture
def model_copy(tmp_path, trained_model_dir) -> Path:
    target = tmp_path / "model"
    shutil.copytree(trained_model_dir, target)
    return target


def _write_malicious_pickle(path: Path, marker: Path) -> None:
    path.write_bytes(pickle.dumps({"weight": _Payload(marker)}))


def test_pickle_only_folder_is_refused_without_unpickling(model_copy, tmp_path):
    marker = tmp_path / "pwned"
    (model_copy / "model.safetensors").unlink()
    _write_malicious_pickle(model_copy / "pytorch_model.bin", marker)
    with pytest.raises(UserError, match=r"only has pickle weights \(pytorch_model.bin\).*safetensors only"):
        Classifier.from_pretrained(model_copy, device="cpu")
    assert not marker.exists()


def test_a_pickle_beside_safetensors_is_never_read(model_copy, tmp_path):
    marker = tmp_path / "pwned"
    _write_malicious_pickle(model_copy / "pytorch_model.bin", marker)
    _write_malicious_pickle(model_copy / "training_args.bin", marker)
    prediction = Classifier.from_pretrained(model_copy, device="cpu").predict(["a wonderful superb film"])[0]
    assert prediction.label == "POSITIVE"
    assert not marker.exists()


def test_remote_code_is_never_run(model_copy, tmp_path):
    marker = tmp_path / "pwned"
    (model_copy / "evil_model.py").write_text(f"open({str(marker)!r}, 'w').close()\n")
    config = json.loads((model_copy / "config.json").read_text())
    config["auto_map"] = {
        "AutoConfig": "evil_model.EvilConfig",
        "AutoModelForSequenceClassification": "evil_model.EvilModel",
    }
    (model_copy / "config.json").write_text(json.dumps(config))
    try:
        classifier = Classifier.from_pretrained(model_copy, device="cpu")
    except UserError as error:  # refusing is fine too; running the code is not
        assert "Traceback" not in str(error)
    else:
        assert classifier.predict(["a wonderful superb film"])[0].label == "POSITIVE"
    assert not marker.exists()


def test_no_source_file_enables_remote_code_or_unsafe_loading():
    sources = [*sorted((ROOT / "src").rglob("*.py")), ROOT / "gradioApp.py"]
    unsafe = re.compile(
        r"trust_remote_code\s*=\s*True|use_safetensors\s*=\s*False|weights_only\s*=\s*False|pickle\.load"
    )
    offenders = [
        f"{path.relative_to(ROOT)}:{n}: {line.strip()}"
        for path in sources
        if path.is_file()
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if unsafe.search(line)
    ]
    assert offenders == []


def _header_length(path: Path) -> int:
    return struct.unpack("<Q", path.read_bytes()[:8])[0]


DAMAGE = {
    "truncated to half": lambda data: data[: len(data) // 2],
    "truncated inside the header": lambda data: data[:20],
    "empty": lambda data: b"",
    "random bytes": lambda data: bytes(range(256)) * 8,
    "header length points past the end": lambda data: struct.pack("<Q", 2**40) + data[8:],
    "header JSON garbled": lambda data: (
        data[:8] + b"{" * struct.unpack("<Q", data[:8])[0] + data[8 + struct.unpack("<Q", data[:8])[0] :]
    ),
    "one byte flipped in the header": lambda data: data[:9] + bytes([data[9] ^ 0xFF]) + data[10:],
}


@pytest.mark.parametrize("damage", DAMAGE)
def test_damaged_safetensors_is_a_clear_error(model_copy, damage):
    weights = model_copy / "model.safetensors"
    weights.write_bytes(DAMAGE[damage](weights.read_bytes()))
    with pytest.raises(UserError, match="could not be read|incomplete|damaged"):
        Classifier.from_pretrained(model_copy, device="cpu")


@pytest.mark.parametrize("tamper", ["drop the classifier head", "wrong shape"])
def test_tampered_tensors_are_a_clear_error_not_a_random_model(model_copy, tamper):
    import torch
    from safetensors.torch import load_file, save_file

    weights = model_copy / "model.safetensors"
    tensors = load_file(str(weights))
    if tamper == "drop the classifier head":
        tensors = {k: v for k, v in tensors.items() if not k.startswith("classifier.")}
    else:
        tensors["classifier.weight"] = torch.zeros(3, tensors["classifier.weight"].shape[1])
    save_file(tensors, str(weights), metadata={"format": "pt"})
    # transformers would fill the gaps with random weights and only warn; that would serve coin flips
    with pytest.raises(UserError, match="incomplete|could not be read"):
        Classifier.from_pretrained(model_copy, device="cpu")


def test_cli_and_app_report_a_truncated_model_in_one_line(model_copy):
    weights = model_copy / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[:1000])
    commands = [
        [sys.executable, "-m", "imdb_sentiment", "predict", "--model-dir", str(model_copy), "a fine film"],
        [sys.executable, str(ROOT / "gradioApp.py"), "--model-dir", str(model_copy), "--port", "0"],
    ]
    for command in commands:
        result = subprocess.run(command, capture_output=True, text=True, timeout=180, cwd=ROOT)
        assert result.returncode == 2, result.stderr[-2000:]
        assert "error: The weights in" in result.stderr and "damaged or truncated" in result.stderr
        assert "Traceback" not in result.stderr


def test_missing_config_or_weights_is_a_clear_error(model_copy, tmp_path):
    (model_copy / "config.json").unlink()
    with pytest.raises(UserError, match="no config.json"):
        Classifier.from_pretrained(model_copy, device="cpu")
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(UserError, match="no model.safetensors"):
        Classifier.from_pretrained(empty, device="cpu")


def test_a_model_without_its_tokenizer_is_a_clear_error_not_one_label_for_everything(model_copy):
    """transformers builds an empty tokenizer when none is saved: every word would be [UNK]."""
    assert (model_copy / "tokenizer.json").is_file()
    for name in ("tokenizer.json", "tokenizer_config.json", "vocab.txt"):
        (model_copy / name).unlink(missing_ok=True)
    with pytest.raises(UserError, match="no tokenizer files"):
        Classifier.from_pretrained(model_copy, device="cpu")
