"""Experiment: does a review's int8 label depend on the other reviews in its batch?

ONNX Runtime's dynamic int8 quantizes each matrix product's input with one scale for the whole
padded batch, so a review can score differently alone than beside others; NNCF's static int8 uses
fixed scales. For each exported engine this scores the same held-out reviews in length-sorted
batches of 16 (as ``predict`` does) and one at a time, and reports the labels that differ between
the two, each mode's agreement with fp32 (``onnx``), the largest change of P(positive), and the
speed of each mode.

    python benchmarks/int8_batching.py --model-dir benchmarks/results/minilm_1k --n 300
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from inference import held_out_reviews, lscpu


def positive(logits: np.ndarray) -> np.ndarray:
    z = logits - logits.max(axis=1, keepdims=True)
    p = np.exp(z)
    return p[:, 1] / p.sum(axis=1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model-dir", required=True)
    parser.add_argument("--n", type=int, default=300)
    args = parser.parse_args()
    from imdb_sentiment import Classifier

    cpu = lscpu()
    print(f"# CPU: {cpu['model']}; flags: {' '.join(cpu['flags'])}; {cpu['cores']} threads", flush=True)
    texts = held_out_reviews(args.n, skip=500 - args.n)[0]
    reference = Classifier.from_pretrained(args.model_dir, device="cpu", backend="onnx")
    fp32 = reference.predict_logits(texts, batch_size=16).argmax(axis=1)
    print("| engine | labels batch != alone | agreement with fp32, batched / alone | max change of P(pos) | s batched / alone |")
    print("|---|---|---|---|---|")
    for backend in ("onnx", "onnx-int8", "openvino", "openvino-int8"):
        classifier = Classifier.from_pretrained(args.model_dir, device="cpu", backend=backend)
        classifier.predict_logits(texts[:16], batch_size=16)  # warm-up
        started = time.perf_counter()
        batched = classifier.predict_logits(texts, batch_size=16)
        batched_s = time.perf_counter() - started
        started = time.perf_counter()
        alone = classifier.predict_logits(texts, batch_size=1)
        alone_s = time.perf_counter() - started
        moved = int((batched.argmax(1) != alone.argmax(1)).sum())
        change = float(np.abs(positive(batched) - positive(alone)).max())
        agree_b = float((batched.argmax(1) == fp32).mean())
        agree_a = float((alone.argmax(1) == fp32).mean())
        print(
            f"| {backend} | {moved} of {len(texts)} | {agree_b:.3f} / {agree_a:.3f} | {change:.4f} "
            f"| {batched_s:.1f} / {alone_s:.1f} |",
            flush=True,
        )


if __name__ == "__main__":
    main()
