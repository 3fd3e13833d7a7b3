"""How many labels ONNX Runtime's dynamic int8 moves with and without ``export``'s smoothing.

For each trained model (its ``exports/model.onnx``, the fused fp32 graph), it writes two int8 files
with the product's own ``quantize_int8``: without calibration (no smoothing) and with the first
128 check reviews as calibration (what ``export`` does). Both score ``--n`` unseen IMDb train
reviews (outside the model's training sample, its validation split and the CAD pairs) in
length-sorted batches of 16 and one review at a time; it prints the labels each moved against the
fp32 file's, and the accuracy of each.

    python benchmarks/int8_smoothing.py --n 2000 benchmarks/results/cf_on_s42 benchmarks/results/cf_on_s43

Results: docs/benchmarks.md, "int8 smoothing for ONNX Runtime". Scoring 2,000 reviews five ways
takes about 12 minutes per MiniLM at 512 tokens on 2 cores.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import numpy as np

from common import add_data_argument, cad_texts, unseen_reviews


def labels_in_batches(engine, ids: list[list[int]], pad: int) -> np.ndarray:
    """Labels from length-sorted batches of exactly 16, shortest first, in input order: the batches
    the documented figures used (export's ``engine_logits`` groups longest first, so reviews of
    equal length can land in other batches, and dynamic int8 scales each batch as a whole)."""
    from imdb_sentiment.serving.classifier import pad_batch

    order = sorted(range(len(ids)), key=lambda i: len(ids[i]))
    logits = np.zeros((len(ids), 2), np.float32)
    for start in range(0, len(order), 16):
        chunk = order[start : start + 16]
        logits[chunk] = engine.logits(*pad_batch([ids[i] for i in chunk], pad))
    return logits.argmax(1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model_dirs", nargs="+", help="Trained models with an export (exports/model.onnx).")
    parser.add_argument("--n", type=int, default=2000, help="Unseen reviews per model.")
    add_data_argument(parser, default=None)
    args = parser.parse_args()

    from imdb_sentiment.serving.classifier import Classifier, pad_batch
    from imdb_sentiment.serving.engines.onnx import OnnxBackend
    from imdb_sentiment.serving.exporters.check import CALIBRATION_REVIEWS, embedded_check_reviews
    from imdb_sentiment.serving.exporters.export import engine_logits
    from imdb_sentiment.serving.exporters.onnx import quantize_int8

    for model_dir in map(Path, args.model_dirs):
        classifier = Classifier.from_pretrained(str(model_dir), backend="onnx")
        pad = classifier.pad_token_id
        check_ids = classifier.encode(embedded_check_reviews(CALIBRATION_REVIEWS)[0])
        calibration = [pad_batch(check_ids[i : i + 8], pad) for i in range(0, len(check_ids), 8)]
        table = unseen_reviews(str(model_dir), args.n, args.data, exclude=cad_texts())
        ids, labels = classifier.encode(table["text"].tolist()), table["label"].to_numpy()

        source = model_dir / "exports" / "model.onnx"
        reference = labels_in_batches(OnnxBackend(source), ids, pad)
        print(
            f"{model_dir.name}: fp32 accuracy {np.mean(reference == labels):.4f} on {len(ids)} unseen reviews"
        )
        with tempfile.TemporaryDirectory(prefix="int8-smoothing-") as workdir:
            for name, reviews in (("int8", ()), ("smoothed int8", calibration)):
                path = Path(workdir) / f"{name.replace(' ', '_')}.onnx"
                quantize_int8(source, path, reviews)
                engine = OnnxBackend(path, name=name)
                in_batches, by_one = (
                    labels_in_batches(engine, ids, pad),
                    engine_logits(engine, ids, pad, batch_size=1).argmax(1),
                )
                print(
                    f"  {name}: moved {int((in_batches != reference).sum())} in batches, "
                    f"{int((by_one != reference).sum())} alone; accuracy {np.mean(in_batches == labels):.4f}",
                    flush=True,
                )


if __name__ == "__main__":
    main()
