"""Experiment: int8 files that might pass the export check where ``export``'s own ``onnx-int8`` misses
by a few labels (on an AVX2-only CPU, ``auto`` then serves fp32).

Candidates, each made from the model's exported fused ``exports/model.onnx``:

- ONNX Runtime dynamic int8 (``quantize_dynamic``, per-channel s8 weights) on fewer products than
  ``export`` quantizes (``attn+oproj+up``: the fused Attention, the attention output projection and
  the feed-forward up-projection; the down-projections stay in float):
  ``attn+up``, ``up+oproj``, ``up only``;
- ``--nbits``: ONNX Runtime's ``MatMulNBits`` with 8-bit weights in blocks (32 or 128 columns per
  scale) and ``accuracy_level=4`` (int8 compute), on every MatMul (the fused Attention stays fp32),
  and the same on top of a QAttention-only dynamic int8 file. Needs the ``onnx_ir`` package.

Each is scored on the export check's reviews (the embedded IMDb sample's test split) in
length-sorted batches of 16 and one review at a time: label agreement with the fp32 ONNX file and
accuracy. Then all are timed with the export's own ranking (``exporters.check.rank_engines``).

    python benchmarks/int8_fallbacks.py --model-dir benchmarks/results/cf_on_s42 --workdir /tmp/int8fb
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from imdb_sentiment.serving.classifier import Classifier, pad_batch
from imdb_sentiment.serving.engines.onnx import OnnxBackend
from imdb_sentiment.serving.exporters.check import embedded_check_reviews, rank_engines, timing_batches
from imdb_sentiment.serving.exporters.onnx import _quiet_logs, matmul_weight_rows


def dynamic_variants(source: Path, workdir: Path) -> dict[str, Path]:
    from onnxruntime.quantization import QuantType, quantize_dynamic

    rows = matmul_weight_rows(source)
    down = [n for n, r in rows.items() if r == max(rows.values())]
    oproj = [n for n in rows if "attention/output" in n]
    specs = {
        "attn+up": (["MatMul", "Attention"], down + oproj),
        "up only": (["MatMul"], down + oproj),
        "attn+oproj+up (export)": (["MatMul", "Attention"], down),
        "up+oproj": (["MatMul"], down),
    }
    paths = {}
    for name, (ops, exclude) in specs.items():
        path = workdir / (name.split(" ")[0].replace("+", "_") + ".onnx")
        with _quiet_logs():
            quantize_dynamic(
                str(source),
                str(path),
                weight_type=QuantType.QInt8,
                per_channel=True,
                op_types_to_quantize=ops,
                nodes_to_exclude=exclude,
                extra_options={"DefaultTensorType": 1},
            )
        paths[name] = path
    return paths


def nbits_variants(source: Path, workdir: Path) -> dict[str, Path]:
    import onnx
    from onnxruntime.quantization import QuantType, quantize_dynamic
    from onnxruntime.quantization.matmul_nbits_quantizer import (
        DefaultWeightOnlyQuantConfig,
        MatMulNBitsQuantizer,
    )

    def nbits(model_path: Path, path: Path, block: int) -> Path:
        config = DefaultWeightOnlyQuantConfig(block_size=block, is_symmetric=True, accuracy_level=4, bits=8)
        quantizer = MatMulNBitsQuantizer(onnx.load(str(model_path)), algo_config=config)
        quantizer.process()
        quantizer.model.save_model_to_file(str(path), use_external_data_format=False)
        return path

    paths = {f"nbits8 block {b}": nbits(source, workdir / f"nbits8_b{b}.onnx", b) for b in (32, 128)}
    attention_only = workdir / "attention_only.onnx"
    quantize_dynamic(
        str(source),
        str(attention_only),
        weight_type=QuantType.QInt8,
        per_channel=True,
        op_types_to_quantize=["Attention"],
        extra_options={"DefaultTensorType": 1},
    )
    paths["QAttention + nbits8 block 32"] = nbits(attention_only, workdir / "attn_nbits8_b32.onnx", 32)
    return paths


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model-dir", required=True, help="A saved model with exports/model.onnx.")
    parser.add_argument("--workdir", required=True, help="Where the candidate files are written.")
    parser.add_argument("--n", type=int, default=500, help="Check reviews to score.")
    parser.add_argument("--nbits", action="store_true", help="Also the MatMulNBits candidates.")
    args = parser.parse_args()
    model_dir, workdir = Path(args.model_dir), Path(args.workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    source = model_dir / "exports" / "model.onnx"
    variants = dynamic_variants(source, workdir)
    if args.nbits:
        variants |= nbits_variants(source, workdir)

    classifier = Classifier.from_pretrained(str(model_dir), backend="onnx")
    texts, labels = embedded_check_reviews(args.n)
    ids, pad = classifier.encode(texts), classifier.pad_token_id
    order = sorted(range(len(ids)), key=lambda i: len(ids[i]))

    def batched(engine) -> np.ndarray:
        logits = np.zeros((len(ids), 2), np.float32)
        for start in range(0, len(order), 16):
            chunk = order[start : start + 16]
            logits[chunk] = engine.logits(*pad_batch([ids[i] for i in chunk], pad))
        return logits.argmax(1)

    def alone(engine) -> np.ndarray:
        return np.concatenate([engine.logits(*pad_batch([one], pad)) for one in ids]).argmax(1)

    engines = {"onnx": OnnxBackend(source)} | {k: OnnxBackend(v, name=k) for k, v in variants.items()}
    reference = batched(engines["onnx"])
    print(f"fp32 accuracy {np.mean(reference == labels):.3f} on {len(ids)} check reviews")
    print("| candidate | agreement, batches | agreement, alone | accuracy |\n|---|---|---|---|")
    for name in variants:
        in_batches, by_one = batched(engines[name]), alone(engines[name])
        print(
            f"| {name} | {np.mean(in_batches == reference):.3f} | {np.mean(by_one == reference):.3f} "
            f"| {np.mean(in_batches == labels):.3f} |",
            flush=True,
        )
    rows = rank_engines(engines, timing_batches(ids, pad), rounds=3)
    fp32 = next(row["reviews_per_s"] for row in rows if row["engine"] == "onnx")
    for row in rows:
        print(f"{row['engine']}: {row['reviews_per_s']} reviews/s, {row['reviews_per_s'] / fp32:.2f}x onnx")


if __name__ == "__main__":
    main()
