"""Which dynamic int8 quantization keeps a trained model's labels: ONNX Runtime settings compared.

Exports the model to fused fp32 ONNX (as ``imdb_sentiment export`` does), quantizes it several
ways, and scores the same IMDb reviews with each, against the PyTorch fp32 labels: label
agreement, accuracy, largest logit difference and time. The chosen setting lives in
``imdb_sentiment.backends.quantize_int8``.

    python benchmarks/int8_variants.py --model-dir benchmarks/results/minilm_imdb --n 400
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd


def ffn_output_matmuls(path: Path) -> list[str]:
    """Names of the feed-forward down-projections: MatMuls whose weight is (intermediate, hidden)."""
    import onnx

    graph = onnx.load(str(path)).graph
    shapes = {init.name: tuple(init.dims) for init in graph.initializer}
    names = []
    for node in graph.node:
        if node.op_type == "MatMul":
            dims = next((shapes[name] for name in node.input if name in shapes), ())
            # wider in than out, and not the 2-label classifier
            if len(dims) == 2 and dims[0] > dims[1] > 2:
                names.append(node.name)
    return names


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model-dir", default="benchmarks/results/minilm_imdb")
    parser.add_argument("--data", default="../shared/imdb/train.parquet")
    parser.add_argument("--n", type=int, default=400, help="Reviews to score (a seeded sample).")
    args = parser.parse_args()

    from onnxruntime.quantization import QuantType, quantize_dynamic

    from imdb_sentiment import Classifier
    from imdb_sentiment.backends import OnnxBackend, export_onnx, quantize_int8

    work = Path(tempfile.mkdtemp(prefix="int8_variants_")) / "model"
    shutil.copytree(args.model_dir, work, ignore=shutil.ignore_patterns("onnx", "*.png"))
    table = pd.read_parquet(args.data).sample(n=args.n, random_state=5)
    texts, gold = table["text"].tolist(), table["label"].to_numpy()
    export_onnx(work)
    fp32 = work / "onnx" / "model.onnx"
    torch_classifier = Classifier.from_pretrained(work, backend="torch")
    reference = torch_classifier.predict_logits(texts, batch_size=16)
    products = ["MatMul", "Attention"]
    # s8 weights and FLOAT for nodes shape inference skips, as quantize_int8 does, unless a variant says otherwise
    common = dict(weight_type=QuantType.QInt8, extra_options={"DefaultTensorType": 1})
    variants = {
        "per-tensor, MatMul+Attention": dict(per_channel=False, op_types_to_quantize=products),
        "per-channel, all default ops (int8 embeddings too)": dict(per_channel=True, reduce_range=True),
        "per-channel, 7-bit, MatMul+Attention": dict(
            per_channel=True, reduce_range=True, op_types_to_quantize=products
        ),
        "per-channel, MatMul+Attention (the export's)": None,  # quantize_int8 itself
        # AVX2's u8 x s8 multiply-add (vpmaddubsw) can saturate its 16-bit pair sums; u8 x u8 cannot.
        "per-channel, MatMul+Attention, u8 weights": dict(
            per_channel=True, op_types_to_quantize=products, weight_type=QuantType.QUInt8
        ),
        "per-channel, MatMul+Attention, feed-forward output products fp32": dict(
            per_channel=True, op_types_to_quantize=products, nodes_to_exclude=ffn_output_matmuls(fp32)
        ),
    }
    print(f"fp32 accuracy {np.mean(reference.argmax(1) == gold):.4f} on {args.n} reviews\n")
    print("| int8 variant | label agreement with fp32 | accuracy | max logit diff | seconds |")
    print("|---|---|---|---|---|")
    for i, (name, options) in enumerate(variants.items()):
        path = work / "onnx" / f"variant{i}.onnx"
        if options is None:
            quantize_int8(fp32, path)
        else:
            quantize_dynamic(str(fp32), str(path), **(common | options))
        classifier = Classifier(
            torch_classifier.model,
            torch_classifier.tokenizer,
            torch_classifier.max_length,
            torch_classifier.encoder.strategy,
            backend=OnnxBackend(path, name),
        )
        started = time.perf_counter()
        logits = classifier.predict_logits(texts, batch_size=16)
        seconds = time.perf_counter() - started
        print(
            f"| {name} | {np.mean(logits.argmax(1) == reference.argmax(1)):.4f} | "
            f"{np.mean(logits.argmax(1) == gold):.4f} | {np.abs(logits - reference).max():.3f} | {seconds:.1f} |",
            flush=True,
        )
    shutil.rmtree(work.parent)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
