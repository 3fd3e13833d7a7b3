"""GPU training-speed check: the project's GPU recipe (bf16 autocast, frozen lower layers, dynamic
padding, length grouping) on a DistilBERT-sized model, as samples/s and a fraction of the card's peak.

Needs a CUDA GPU and no network (random DistilBERT-base-sized weights, random token lengths drawn
like IMDb's: 50-512 tokens). Not run in the session that wrote it (no GPU was lent).

    python benchmarks/gpu_recipe.py --steps 50 --batch-size 32 --freeze-layers 3

Useful FLOPs count real tokens only: forward 2 x params-in-layers per token (+ attention), and
backward 2x forward for the trainable (upper) layers; the frozen lower layers need no backward at
all. Peak = the card's dense bf16 tensor-core rate (table below).
"""

from __future__ import annotations

import argparse
import sys
import time

import numpy as np

# Dense bf16 tensor-core TFLOP/s (no sparsity), from the vendors' data sheets.
PEAK_BF16_TFLOPS = {
    "H200": 989.0,
    "H100 SXM": 989.0,
    "H100 PCIe": 756.0,
    "H100": 989.0,
    "A100": 312.0,
    "L40S": 362.0,
    "L4": 121.0,
    "A10": 125.0,
    "RTX 4090": 165.0,
}


def card_peak(name: str) -> float | None:
    for key, value in PEAK_BF16_TFLOPS.items():
        if key.lower() in name.lower():
            return value
    return None


def layer_flops(n: int, d: int, ffn: int) -> float:
    return 2 * n * (4 * d * d + 2 * d * ffn) + 4 * n * n * d


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=50)
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--freeze-layers", type=int, default=3)
    parser.add_argument("--max-length", type=int, default=512)
    args = parser.parse_args()

    import torch
    from transformers import DistilBertConfig, DistilBertForSequenceClassification

    if not torch.cuda.is_available():
        print("No CUDA GPU: this benchmark needs one.", file=sys.stderr)
        return 2
    from imdb_sentiment.model import freeze_lower_layers

    torch.manual_seed(0)
    torch.backends.cuda.matmul.allow_tf32 = True
    config = DistilBertConfig(vocab_size=30522, dim=768, n_layers=6, n_heads=12, hidden_dim=3072)
    model = DistilBertForSequenceClassification(config).cuda().train()
    freeze_lower_layers(model, args.freeze_layers)
    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=5e-5, fused=True)

    rng = np.random.default_rng(0)
    # IMDb-like lengths (log-normal around ~300 tokens, capped), length-grouped like Trainer does.
    total = args.batch_size * (args.steps + args.warmup)
    lengths = np.clip(rng.lognormal(5.6, 0.55, total).astype(int), 32, args.max_length)
    order = np.concatenate(
        [
            np.sort(chunk)[::-1]
            for chunk in np.array_split(rng.permutation(lengths), max(1, total // (50 * args.batch_size)))
        ]
    )
    batches = [order[i : i + args.batch_size] for i in range(0, total, args.batch_size)]
    rng.shuffle(batches)

    d, ffn, layers = config.dim, config.hidden_dim, config.n_layers
    trainable = layers - args.freeze_layers
    useful = 0.0
    samples = 0
    for step, batch in enumerate(batches):
        if step == args.warmup:
            torch.cuda.synchronize()
            start = time.perf_counter()
        width = int(batch.max())
        ids = torch.randint(1000, 30000, (len(batch), width), device="cuda")
        mask = (
            torch.arange(width, device="cuda")[None, :] < torch.tensor(batch, device="cuda")[:, None]
        ).long()
        labels = torch.randint(0, 2, (len(batch),), device="cuda")
        with torch.autocast("cuda", dtype=torch.bfloat16):
            loss = model(input_ids=ids, attention_mask=mask, labels=labels).loss
        loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        if step >= args.warmup:
            samples += len(batch)
            forward = sum(layer_flops(int(n), d, ffn) for n in batch)
            # forward all layers; backward 2x for trainable ones; frozen ones get no backward at all
            useful += forward * layers + 2 * forward * trainable
    torch.cuda.synchronize()
    seconds = time.perf_counter() - start
    name = torch.cuda.get_device_name()
    peak = card_peak(name)
    achieved = useful / seconds / 1e12
    print(
        f"{name}: {samples / seconds:.1f} samples/s, {achieved:.1f} useful TFLOP/s"
        + (f" = {100 * achieved / peak:.1f}% of {peak:.0f} TFLOP/s bf16 peak" if peak else " (peak unknown)")
    )
    print(
        f"  batch {args.batch_size}, mean length {lengths.mean():.0f}, {args.freeze_layers}/{layers} layers frozen, "
        f"peak memory {torch.cuda.max_memory_allocated() / 2**30:.1f} GiB"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
