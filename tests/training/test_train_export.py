"""Training ends by exporting the saved model, inside its atomic save, so that ``auto`` serves an
exported engine from the start; ``--no-export`` skips it.

.venv/bin/python -m pytest tests/training/test_train_export.py -x -q
"""

from __future__ import annotations

import json

from imdb_sentiment import Classifier, train
from imdb_sentiment.serving.engines import EXPORT_DIR, MANIFEST, export_is_current

from conftest import tiny_config


def test_training_with_export_is_served_on_an_exported_engine(
    tmp_path, tiny_distilbert, reviews_parquet, capsys
):
    config = tiny_config(tiny_distilbert, reviews_parquet, tmp_path / "saved_model", epochs=1, export=True)
    result = train(config)
    printed = capsys.readouterr().out
    assert "Exported onnx, onnx-int8, openvino, openvino-int8 in " in printed
    assert "; auto serves " in printed
    manifest = json.loads((result.output_dir / EXPORT_DIR / MANIFEST).read_text())
    assert manifest["check_reviews"]["n"] == 500  # the embedded held-out IMDb reviews
    assert export_is_current(result.output_dir, manifest)  # made from the weights now in place
    assert not list(tmp_path.glob(".saved_model.tmp-*"))
    classifier = Classifier.from_pretrained(result.output_dir, device="cpu")
    assert classifier.backend_name not in ("torch", "torch-bf16"), classifier.engine_reason
    assert "fastest measured on this CPU" in classifier.engine_reason


def test_no_export_flag():
    from transformers import HfArgumentParser

    from imdb_sentiment import TrainConfig

    (config,) = HfArgumentParser(TrainConfig).parse_args_into_dataclasses(["--no-export"])
    assert config.export is False
    assert TrainConfig().export is True
