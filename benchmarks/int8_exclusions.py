"""Experiment: does keeping some matrix products in floating point make the int8 exports agree with
fp32 on a trained model, and what does it cost in speed?

Variants of ONNX Runtime dynamic int8 and NNCF static int8, each with some MatMuls left out of
quantization (by node name), scored against the fp32 ONNX export on unseen IMDb train reviews (never
the export's own 500 check reviews, which would tune the check to itself); calibration for NNCF on
128 other unseen reviews, as ``export`` does with its check reviews.

python benchmarks/int8_exclusions.py --model-dir benchmarks/results/cf_on_s42 --n 1000
"""

from __future__ import annotations

import argparse
import re
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import add_data_argument, cad_texts, unseen_reviews  # noqa: E402
from imdb_sentiment import Classifier  # noqa: E402
from imdb_sentiment.evaluation.report import markdown_table  # noqa: E402
from imdb_sentiment.serving.classifier import pad_batch  # noqa: E402
from imdb_sentiment.serving.engines.onnx import OnnxBackend, default_threads  # noqa: E402
from imdb_sentiment.serving.engines.openvino import OpenVinoEngine, _import_nncf  # noqa: E402
from imdb_sentiment.serving.export import engine_logits  # noqa: E402
from imdb_sentiment.serving.export_check import interval  # noqa: E402

PATTERNS = {
    "none": None,
    "ffn-out": r"layer\.\d+/output/dense/MatMul",  # the products after GELU (widest activations)
    "last-layer": r"layer\.5/",
    "ffn-out+last": r"(layer\.\d+/output/dense/MatMul|layer\.5/)",
}


def onnx_variant(source: Path, target: Path, pattern: str | None) -> None:
    import onnx
    from onnxruntime.quantization import QuantType, quantize_dynamic

    names = [n.name for n in onnx.load(str(source), load_external_data=False).graph.node]
    exclude = [name for name in names if pattern and re.search(pattern, name)]
    quantize_dynamic(
        str(source),
        str(target),
        weight_type=QuantType.QInt8,
        per_channel=True,
        op_types_to_quantize=["MatMul", "Attention"],
        nodes_to_exclude=exclude,
        extra_options={"DefaultTensorType": 1},
    )


def openvino_variant(source_xml: Path, target_xml: Path, pattern: str | None, calibration) -> None:
    import openvino as ov

    nncf = _import_nncf()
    model = ov.Core().read_model(str(source_xml))
    ignored = nncf.IgnoredScope(patterns=[".*" + pattern + ".*"], validate=False) if pattern else None
    quantized = nncf.quantize(
        model,
        nncf.Dataset(calibration),
        preset=nncf.QuantizationPreset.MIXED,
        model_type=nncf.ModelType.TRANSFORMER,
        subset_size=len(calibration),
        **({"ignored_scope": ignored} if ignored else {}),
    )
    ov.save_model(quantized, str(target_xml), compress_to_fp16=False)


def timed(engine, ids, pad) -> tuple[float, np.ndarray]:
    best, logits = float("inf"), None
    for _ in range(2):
        start = time.perf_counter()
        logits = engine_logits(engine, ids, pad, batch_size=16)
        best = min(best, time.perf_counter() - start)
    return best, logits


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model-dir", required=True)
    parser.add_argument("--n", type=int, default=1000)
    parser.add_argument("--timing-n", type=int, default=128)
    add_data_argument(parser)
    args = parser.parse_args()

    exports = Path(args.model_dir) / "exports"
    classifier = Classifier.from_pretrained(args.model_dir, device="cpu", backend="torch")
    table = unseen_reviews(args.model_dir, args.n + 128, args.data, exclude=cad_texts())
    ids = classifier.encode(table["text"].tolist())
    pad, threads = classifier.pad_token_id, default_threads()
    scored, calibration_ids = ids[: args.n], ids[args.n :]
    calibration = [
        dict(zip(("input_ids", "attention_mask"), pad_batch(calibration_ids[i : i + 8], pad)))
        for i in range(0, len(calibration_ids), 8)
    ]
    timing = scored[: args.timing_n]
    fp32 = OnnxBackend(exports / "model.onnx", "onnx", threads)
    reference = engine_logits(fp32, scored, pad).argmax(axis=1)
    rows = []
    with tempfile.TemporaryDirectory() as scratch:
        for kind in ("onnx-int8", "openvino-int8"):
            for variant, pattern in PATTERNS.items():
                if kind == "onnx-int8":
                    path = Path(scratch) / f"{variant}.onnx"
                    onnx_variant(exports / "model.onnx", path, pattern)
                    engine = OnnxBackend(path, kind, threads)
                    baseline = fp32
                else:
                    path = Path(scratch) / f"{variant}.xml"
                    openvino_variant(exports / "model.xml", path, pattern, calibration)
                    engine = OpenVinoEngine(path, kind, threads)
                    baseline = OpenVinoEngine(exports / "model.xml", "openvino", threads)
                labels = engine_logits(engine, scored, pad).argmax(axis=1)
                same = int((labels == reference).sum())
                base_s, _ = timed(baseline, timing, pad)
                seconds, _ = timed(engine, timing, pad)
                rows.append(
                    {
                        "engine": kind,
                        "left in float": variant,
                        "agreement": round(same / len(scored), 4),
                        "95% interval": interval(same, len(scored)),
                        f"x {baseline.name} (same run)": round(base_s / seconds, 2),
                    }
                )
                print(rows[-1], flush=True)
    print(markdown_table(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
