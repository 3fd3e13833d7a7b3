"""Experiment: does ONNX Runtime's dynamic int8 lose labels on CPUs without VNNI, and does 7-bit
weights (``reduce_range``) fix it at no cost?

On x86 without VNNI (AVX2-only CPUs such as the AVX2 EPYC), ONNX Runtime's u8 x s8 kernel multiplies
with ``vpmaddubsw``, which adds each two neighbouring products (k = 2j, 2j+1) into a *saturating*
int16: 255 * 127 * 2 = 64,770 does not fit in 32,767. CPUs with VNNI (``vpdpbusd``) add four products
into int32 and do not saturate. ONNX Runtime's docs recommend ``reduce_range`` (weights in -64..64)
on non-VNNI CPUs for this reason; the project exports with full-range weights.

This CPU may have VNNI, so the AVX2 kernel is emulated: a PyTorch copy of the model whose quantized
``nn.Linear`` layers compute exactly ONNX Runtime's dynamic int8 (u8 activations per tensor, s8
weights per output channel, int32 sums), optionally with the int16 saturation of each pair. The
emulation without saturation is checked against the real ``onnx-int8`` on this CPU.

python benchmarks/int8_saturation.py --model-dir benchmarks/results/cf_on_s42 --n 1000
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import add_data_argument, cad_texts, unseen_reviews  # noqa: E402
from imdb_sentiment import Classifier  # noqa: E402
from imdb_sentiment.evaluation.report import markdown_table  # noqa: E402
from imdb_sentiment.serving.engines.onnx import OnnxBackend, default_threads  # noqa: E402
from imdb_sentiment.serving.exporters.check import interval  # noqa: E402
from imdb_sentiment.serving.exporters.export import engine_logits  # noqa: E402
from imdb_sentiment.serving.exporters.int8 import widest_products  # noqa: E402
from imdb_sentiment.serving.exporters.onnx import matmul_weight_rows  # noqa: E402

INT16 = (-32768, 32767)


class EmulatedInt8Linear(torch.nn.Module):
    """ONNX Runtime's DynamicQuantizeLinear + MatMulInteger for one Linear, in float64 (exact)."""

    def __init__(self, linear: torch.nn.Linear, weight_max: int, saturate: bool, counter: dict):
        super().__init__()
        weight = linear.weight.detach().double().T  # (K, N)
        scale = weight.abs().amax(dim=0).clamp_min(1e-12) / weight_max
        self.q = torch.round(weight / scale).clamp(-weight_max, weight_max)  # round half to even
        self.scale, self.bias = scale, linear.bias.detach().double()
        self.column_sums = self.q.sum(dim=0)
        self.saturate, self.counter = saturate, counter
        # Only same-sign neighbour pairs with |w1| + |w2| >= 129 can leave int16 (255 * 128 fits).
        even, odd = self.q[0::2], self.q[1::2]
        risky = (torch.sign(even) == torch.sign(odd)) & ((even.abs() + odd.abs()) >= 129)
        self.pair_rows, self.pair_cols = torch.nonzero(risky, as_tuple=True)
        self.w_even, self.w_odd = even[risky], odd[risky]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        shape = x.shape
        x = x.detach().double().reshape(-1, shape[-1])
        low, high = min(float(x.min()), 0.0), max(float(x.max()), 0.0)
        a_scale = (high - low) / 255 or 1.0
        zero = float(np.clip(np.round(-low / a_scale), 0, 255))
        a = torch.clamp(torch.round(x / a_scale) + zero, 0, 255)
        sums = a @ self.q
        if self.saturate and len(self.pair_rows):
            for start in range(0, len(self.pair_rows), 4096):
                rows = self.pair_rows[start : start + 4096]
                cols = self.pair_cols[start : start + 4096]
                pair = (
                    a[:, 2 * rows] * self.w_even[start : start + 4096]
                    + a[:, 2 * rows + 1] * self.w_odd[start : start + 4096]
                )
                clipped = pair.clamp(*INT16)
                self.counter["saturated"] += int((clipped != pair).sum())
                sums.index_add_(1, cols, clipped - pair)
        self.counter["products"] += a.shape[0] * self.q.shape[1] * (self.q.shape[0] // 2)
        out = a_scale * self.scale * (sums - zero * self.column_sums) + self.bias
        return out.float().reshape(*shape[:-1], -1)


def emulated_model(model_dir: str, weight_max: int, saturate: bool, counter: dict):
    """The classifier's torch model with ONNX int8's Linears emulated (all but the feed-forward
    down-projections, which the export keeps in float)."""
    classifier = Classifier.from_pretrained(model_dir, device="cpu", backend="torch")
    linears = {n: m for n, m in classifier.model.named_modules() if isinstance(m, torch.nn.Linear)}
    widths = {n: m.in_features for n, m in linears.items()}
    kept = set(widest_products(widths))
    for name, linear in linears.items():
        if name in kept:
            continue
        parent_name, _, child = name.rpartition(".")
        parent = classifier.model.get_submodule(parent_name) if parent_name else classifier.model
        setattr(parent, child, EmulatedInt8Linear(linear, weight_max, saturate, counter))
    return classifier


def positive_probability(engine, ids, pad) -> np.ndarray:
    with torch.inference_mode():
        logits = engine_logits(engine, ids, pad, batch_size=16).astype(np.float64)
    return 1 / (1 + np.exp(logits[:, 0] - logits[:, 1]))


def best_seconds(engine, ids, pad, rounds: int = 2) -> float:
    best = float("inf")
    for _ in range(rounds):
        start = time.perf_counter()
        engine_logits(engine, ids, pad, batch_size=16)
        best = min(best, time.perf_counter() - start)
    return best


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model-dir", required=True)
    parser.add_argument("--n", type=int, default=1000)
    parser.add_argument("--timing-n", type=int, default=128)
    add_data_argument(parser)
    args = parser.parse_args()

    from onnxruntime.quantization import QuantType, quantize_dynamic

    exports = Path(args.model_dir) / "exports"
    base = Classifier.from_pretrained(args.model_dir, device="cpu", backend="torch")
    table = unseen_reviews(args.model_dir, args.n, args.data, exclude=cad_texts())
    ids, pad, threads = base.encode(table["text"].tolist()), base.pad_token_id, default_threads()
    fp32 = OnnxBackend(exports / "model.onnx", "onnx", threads)
    reference = positive_probability(fp32, ids, pad)
    torch_fp32 = positive_probability(base.backend, ids, pad)
    print(
        "torch fp32 vs onnx fp32: labels",
        ((torch_fp32 > 0.5) == (reference > 0.5)).mean(),
        "largest P(positive) difference",
        np.abs(torch_fp32 - reference).max(),
        flush=True,
    )
    rows, seen = [], {}

    def add(what: str, probability: np.ndarray, extra: dict | None = None) -> None:
        seen[what] = probability
        same = int(((probability > 0.5) == (reference > 0.5)).sum())
        rows.append(
            {
                "int8": what,
                "agreement with fp32": round(same / len(ids), 4),
                "95% interval": interval(same, len(ids)),
                "mean abs P(positive) change": float(f"{np.abs(probability - reference).mean():.4f}"),
                **(extra or {}),
            }
        )
        print(rows[-1], flush=True)

    keep = widest_products(matmul_weight_rows(exports / "model.onnx"))
    timing = ids[: args.timing_n]
    fp32_seconds = best_seconds(fp32, timing, pad)
    with tempfile.TemporaryDirectory() as scratch:
        for reduce_range in (False, True):
            path = Path(scratch) / f"int8_{reduce_range}.onnx"
            quantize_dynamic(
                str(exports / "model.onnx"),
                str(path),
                weight_type=QuantType.QInt8,
                per_channel=True,
                reduce_range=reduce_range,
                op_types_to_quantize=["MatMul", "Attention"],
                nodes_to_exclude=keep,
                extra_options={"DefaultTensorType": 1},
            )
            engine = OnnxBackend(path, "onnx-int8", threads)
            speed = fp32_seconds / best_seconds(engine, timing, pad)
            add(
                f"ONNX Runtime on this CPU, weights {'7' if reduce_range else '8'}-bit",
                positive_probability(engine, ids, pad),
                {"x onnx fp32 (same run)": round(speed, 2)},
            )
    for weight_max, saturate in ((127, False), (127, True), (64, True)):
        counter = {"saturated": 0, "products": 0}
        emulated = emulated_model(args.model_dir, weight_max, saturate, counter)
        what = f"emulated, weights {'8' if weight_max == 127 else '7'}-bit, {'AVX2 int16 pairs' if saturate else 'int32 (VNNI)'}"
        add(
            what,
            positive_probability(emulated.backend, ids, pad),
            {"saturated pair sums": f"{counter['saturated']} of {counter['products']:.3g}"},
        )
    real, emulated = (
        seen["ONNX Runtime on this CPU, weights 8-bit"],
        seen["emulated, weights 8-bit, int32 (VNNI)"],
    )
    print(
        "emulation check, 8-bit int32 vs ONNX Runtime here: labels",
        ((real > 0.5) == (emulated > 0.5)).mean(),
        "mean abs P(positive) difference",
        f"{np.abs(real - emulated).mean():.4f}",
    )
    print(markdown_table(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
