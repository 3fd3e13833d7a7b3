"""Inference engines: same labels as fp32, and which one ``auto`` serves (measured ranking, the rule
by CPU flags on mocked CPUs, missing packages, stale exports).

.venv/bin/python -m pytest tests/serving/test_engines.py -x -q
"""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

import numpy as np
import pytest

from imdb_sentiment import Classifier, UserError
from imdb_sentiment.serving.engines import (
    BACKENDS,
    EXPORT_DIR,
    MANIFEST,
    choice,
    exported_backends,
    resolve_backend,
)

from helpers import make_reviews, save_tiny_model

AMX = {
    "model": "Intel Xeon Platinum 8480+",
    "flags": ["avx2", "avx512f", "avx512_vnni", "avx512_bf16", "amx_tile"],
}
VNNI = {"model": "Intel Xeon Gold 6248", "flags": ["avx2", "avx512f", "avx512_vnni"]}
AVX2 = {"model": "AMD EPYC", "flags": ["avx2"]}
EVERY_EXPORT = ["onnx", "onnx-int8", "openvino", "openvino-int8"]


@pytest.fixture(scope="module")
def exported(exported_model_dir) -> Path:
    return exported_model_dir


@pytest.fixture
def reviews():
    return make_reviews(200, seed=5, max_words=60)["text"].tolist()


def on_cpu(monkeypatch, info: dict) -> None:
    monkeypatch.setattr(choice, "cpu_info", lambda: info)


def test_every_engine_gives_the_fp32_labels(exported, reviews, monkeypatch):
    reference = Classifier.from_pretrained(exported, device="cpu", backend="torch")
    expected = reference.predict_logits(reviews)
    on_cpu(monkeypatch, AMX)  # torch-bf16 runs (emulated, slowly) on any CPU; only AMX is allowed
    # Whether the tiny model's int8 passes its 64-review check depends on the CPU's int8 kernel.
    accepted = json.loads((exported / EXPORT_DIR / MANIFEST).read_text())["accepted"]
    for backend in BACKENDS:
        classifier = Classifier.from_pretrained(exported, device="cpu", backend=backend)
        assert classifier.backend_name == backend
        if accepted.get(backend, True):
            assert classifier.engine_reason == f"{backend}: asked for"
        else:
            assert classifier.engine_reason.startswith(
                f"{backend}: asked for, although the export check rejected it"
            )
        logits = classifier.predict_logits(reviews, batch_size=7, max_batch_tokens=300)
        same = logits.argmax(axis=1) == expected.argmax(axis=1)
        # int8 and bf16 move logits by up to about 1 on this 32-wide model (typical fp32 margin: ~5),
        # so only a near-tie (fp32 margin under 1.5) may flip; every confident review keeps its label.
        confident = np.abs(expected[:, 1] - expected[:, 0]) > 1.5
        assert confident.mean() > 0.5
        assert same[confident].all(), backend
        # NNCF's static int8 (activation scales fixed from 64 short reviews) moves more near-ties.
        assert same.mean() >= (0.9 if backend == "openvino-int8" else 0.95), backend
        # Same arithmetic, different kernels; OpenVINO computes in bf16 on CPUs with AMX or AVX-512
        # BF16 (its default there), which only the label checks above cover.
        full_precision = getattr(classifier.backend, "precision", "f32") == "f32"
        if backend in ("onnx", "openvino") and full_precision:
            np.testing.assert_allclose(logits, expected, atol=1e-4)
        labels = [p.label for p in classifier.predict(reviews[:5])]
        assert set(labels) <= {"NEGATIVE", "POSITIVE"}


@pytest.mark.parametrize(
    ("info", "usable", "expected", "rule"),
    [
        (AMX, EVERY_EXPORT, "openvino-int8", "AMX or AVX-512 BF16"),
        (AMX, ["onnx", "onnx-int8", "openvino"], "openvino", "AMX or AVX-512 BF16"),
        (AMX, ["onnx", "onnx-int8"], "torch-bf16", "AMX or AVX-512 BF16"),
        (VNNI, EVERY_EXPORT, "openvino-int8", "AVX-512 VNNI"),
        (VNNI, ["onnx", "onnx-int8", "openvino"], "onnx-int8", "AVX-512 VNNI"),
        (AVX2, EVERY_EXPORT, "onnx-int8", "AVX2-only"),
        (AVX2, ["openvino", "openvino-int8"], "openvino", "AVX2-only"),
    ],
)
def test_rule_by_cpu_flags(info, usable, expected, rule):
    engine, why = choice.choose_auto(usable, None, info)
    assert engine == expected
    assert why.startswith(f"{expected}: rule for") and rule in why and info["model"] in why


def test_no_usable_export_is_torch_on_every_cpu():
    for info in (AMX, VNNI, AVX2):
        assert choice.choose_auto([], None, info)[0] == "torch"


def test_measured_ranking_wins_on_the_same_cpu_only():
    ranking = {
        "cpu": AVX2,
        "engines": [
            {"engine": "openvino", "reviews_per_s": 9.0},
            {"engine": "onnx-int8", "reviews_per_s": 8.0},
        ],
    }
    engine, why = choice.choose_auto(EVERY_EXPORT, ranking, AVX2)
    assert (engine, why) == ("openvino", "openvino: fastest measured on this CPU (AMD EPYC, avx2) at export")
    # The same ranking read on another CPU (other model name, or the same name with other flags).
    assert choice.choose_auto(EVERY_EXPORT, ranking, VNNI)[0] == "openvino-int8"
    other_flags = {"model": "AMD EPYC", "flags": ["avx2", "avx512f", "avx512_vnni"]}
    assert "rule" in choice.choose_auto(EVERY_EXPORT, ranking, other_flags)[1]
    # The same generic name and flags on another core (family 23 against 25), as cloud machines
    # show them; and a ranking recorded before the family was, read on a CPU that reports one.
    zen3, zen2 = {**AVX2, "family": "25", "model_number": "1"}, {**AVX2, "family": "23", "model_number": "49"}
    assert choice.choose_auto(EVERY_EXPORT, {**ranking, "cpu": zen3}, zen3)[1].startswith(
        "openvino: fastest measured on this CPU (AMD EPYC, family 25 model 1, avx2)"
    )
    assert choice.choose_auto(EVERY_EXPORT, {**ranking, "cpu": zen3}, zen2)[0] == "onnx-int8"  # the rule
    assert choice.choose_auto(EVERY_EXPORT, ranking, zen2)[0] == "onnx-int8"
    # A measured engine that is no longer usable (rejected, package or file missing) is skipped.
    assert choice.choose_auto(["onnx-int8"], ranking, AVX2)[0] == "onnx-int8"


def test_auto_serves_the_fastest_measured_engine_here(exported, trained_model_dir):
    manifest = json.loads((exported / EXPORT_DIR / MANIFEST).read_text())
    assert manifest["ranking"]["cpu"] == choice.cpu_info()
    usable = set(exported_backends(exported)) | {"torch"}
    fastest = next(row["engine"] for row in manifest["ranking"]["engines"] if row["engine"] in usable)
    classifier = Classifier.from_pretrained(exported, device="cpu")
    assert classifier.backend_name == fastest
    assert "fastest measured on this CPU" in classifier.engine_reason
    plain = Classifier.from_pretrained(trained_model_dir, device="cpu")
    assert (plain.backend_name, plain.engine_reason) == ("torch", "no export: torch")
    assert resolve_backend("auto", exported, "cuda") == "torch"


def test_ranking_from_another_cpu_is_not_trusted(exported, tmp_path, monkeypatch):
    on_cpu(monkeypatch, VNNI)  # the export was measured on this machine's CPU, not on this one
    classifier = Classifier.from_pretrained(exported, device="cpu")
    assert "rule for AVX-512 VNNI CPUs" in classifier.engine_reason
    assert classifier.backend_name == choice.RULES["vnni"][0] or classifier.backend_name in exported_backends(
        exported
    )


def test_missing_package_is_skipped_by_auto_but_an_error_when_named(exported, monkeypatch):
    monkeypatch.setitem(sys.modules, "onnxruntime", None)  # None in sys.modules: not importable
    on_cpu(monkeypatch, AVX2)
    classifier = Classifier.from_pretrained(exported, device="cpu")
    assert not classifier.backend_name.startswith("onnx")
    with pytest.raises(UserError, match="pip install onnxruntime"):
        Classifier.from_pretrained(exported, device="cpu", backend="onnx-int8")
    monkeypatch.setitem(sys.modules, "openvino", None)
    assert Classifier.from_pretrained(exported, device="cpu").backend_name.startswith("torch")
    with pytest.raises(UserError, match="pip install openvino"):
        Classifier.from_pretrained(exported, device="cpu", backend="openvino")


def test_torch_bf16_needs_native_bf16(trained_model_dir, monkeypatch):
    on_cpu(monkeypatch, AVX2)
    with pytest.raises(UserError, match="native bf16"):
        Classifier.from_pretrained(trained_model_dir, device="cpu", backend="torch-bf16")


def test_onnx_classifier_loads_pytorch_weights_only_when_needed(exported):
    classifier = Classifier.from_pretrained(exported, device="cpu", backend="onnx")
    assert classifier._model is None
    assert classifier.model.config.num_labels == 2  # e.g. for explanations


def test_missing_or_unknown_backend_is_a_user_error(trained_model_dir):
    with pytest.raises(UserError, match="export --model-dir"):
        Classifier.from_pretrained(trained_model_dir, device="cpu", backend="onnx-int8")
    with pytest.raises(UserError, match="Unknown backend"):
        Classifier.from_pretrained(trained_model_dir, device="cpu", backend="torch-int8")


def test_export_from_other_weights_is_never_served(exported, tmp_path):
    directory = tmp_path / "saved_model"
    shutil.copytree(exported, directory)
    save_tiny_model(tmp_path / "other", seed=1)
    shutil.copy(tmp_path / "other" / "model.safetensors", directory / "model.safetensors")
    assert exported_backends(directory) == []
    classifier = Classifier.from_pretrained(directory, device="cpu")
    assert (classifier.backend_name, classifier.engine_reason) == (
        "torch",
        "export made from other weights: torch",
    )
    with pytest.raises(UserError, match="other weights"):
        Classifier.from_pretrained(directory, device="cpu", backend="openvino")


@pytest.mark.parametrize(
    ("card", "expected"),
    [(("A100", (8, 0)), "bf16"), (("Tesla T4", (7, 5)), "fp16"), (("P100", (6, 0)), "fp32")],
)
def test_torch_on_a_gpu_serves_the_precision_the_card_supports(monkeypatch, card, expected):
    from imdb_sentiment.serving.engines import TorchBackend

    monkeypatch.setattr("imdb_sentiment.precision.cuda_card", lambda: card)
    assert TorchBackend(None, "cuda", half=True).precision == expected
    assert TorchBackend(None, "cpu", half=True).precision == "fp32"


def copy_of(exported: Path, tmp_path: Path) -> Path:
    directory = tmp_path / "saved_model"
    shutil.copytree(exported, directory)
    return directory


def edit_manifest(directory: Path, edit) -> None:
    path = directory / EXPORT_DIR / MANIFEST
    manifest = json.loads(path.read_text())
    edit(manifest)
    path.write_text(json.dumps(manifest))


def test_an_engine_the_check_rejected_is_served_only_by_name_and_says_so(exported, tmp_path):
    directory = copy_of(exported, tmp_path)
    edit_manifest(directory, lambda m: m["accepted"].update({"onnx-int8": False}))
    assert "onnx-int8" not in exported_backends(directory)
    named = Classifier.from_pretrained(directory, device="cpu", backend="onnx-int8")
    assert named.backend_name == "onnx-int8"
    assert named.engine_reason.startswith("onnx-int8: asked for, although the export check rejected it")
    assert "agree with fp32 on" in named.engine_reason


@pytest.mark.parametrize(
    ("backend", "damage"),
    [
        ("onnx-int8", lambda d: (d / "model.int8.onnx").write_bytes(b"not a protobuf")),
        ("openvino", lambda d: (d / "model.bin").unlink()),
        ("openvino-int8", lambda d: (d / "model.int8.xml").write_text("<net")),
    ],
)
def test_a_damaged_export_file_is_one_error_by_name_and_torch_under_auto(exported, tmp_path, backend, damage):
    directory = copy_of(exported, tmp_path)
    damage(directory / EXPORT_DIR)
    with pytest.raises(UserError, match="could not be loaded .*damaged or incomplete. Export again"):
        Classifier.from_pretrained(directory, device="cpu", backend=backend)
    # auto trusts the manifest's ranking on this CPU: make the damaged engine its first choice

    def first_choice(manifest):
        manifest["accepted"][backend] = True
        manifest["ranking"]["engines"] = [{"engine": backend, "reviews_per_s": 1e9}]

    edit_manifest(directory, first_choice)
    served = Classifier.from_pretrained(directory, device="cpu")
    assert served.backend_name == "torch"
    assert served.engine_reason.startswith(f"torch: {backend} {EXPORT_DIR}/") and "could not be loaded" in (
        served.engine_reason
    )
    assert served.predict(["a superb film"])[0].label in {"POSITIVE", "NEGATIVE"}


def test_a_missing_or_damaged_manifest_says_so(exported, tmp_path):
    directory = copy_of(exported, tmp_path)
    for content in ("[1, 2]", "{", None):
        path = directory / EXPORT_DIR / MANIFEST
        path.unlink(missing_ok=True)
        if content is not None:
            path.write_text(content)
        assert Classifier.from_pretrained(directory, device="cpu").backend_name == "torch"
        with pytest.raises(UserError, match="export.json .* is missing or damaged"):
            Classifier.from_pretrained(directory, device="cpu", backend="onnx")
