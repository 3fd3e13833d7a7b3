"""Time one training epoch of the default GPU recipe on one GPU, with a DistilBERT-sized model.

The Hub is unreachable where this runs, so the model is DistilBERT-base's architecture built from
its config (6 layers, 768 wide, 12 heads, 30,522-token vocabulary; random weights) and the data
are generated reviews whose token lengths follow IMDb's (log-normal, median about 230 tokens,
about 14% cut at 512). Speed depends on shapes, not on the weights' values, so the time per epoch
is that of the real model on 25,000 IMDb reviews; the accuracy printed is only a sanity check.

It runs the project's own ``train()`` with the GPU defaults (max_length 512 head+tail, batch 32,
the precision ``precision.choose_precision`` picks for the card, as training recorded it, SDPA
attention, 4 dataloader workers), then a short sweep of batch sizes to show whether 32 fills the
card. Meant for one prepared run well inside 15 min:

    python benchmarks/gpu_epoch.py --output $OUT/gpu_epoch.json      # on a GPU machine, ~3-5 min
    python benchmarks/gpu_epoch.py --smoke                            # CPU check that it runs
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

SPECIAL = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]


def build_model(directory: Path, smoke: bool) -> Path:
    """DistilBERT-base from its config (random weights) and a WordPiece tokenizer of made-up words."""
    import torch
    from transformers import DistilBertConfig, DistilBertForSequenceClassification, DistilBertTokenizer

    torch.manual_seed(0)
    vocab_size = 512 if smoke else 30522
    config = DistilBertConfig(
        vocab_size=vocab_size,
        dim=32 if smoke else 768,
        hidden_dim=64 if smoke else 3072,
        n_layers=2 if smoke else 6,
        n_heads=2 if smoke else 12,
        max_position_embeddings=512,
    )
    DistilBertForSequenceClassification(config).save_pretrained(directory)
    words = SPECIAL + [f"w{i}" for i in range(vocab_size - len(SPECIAL))]
    DistilBertTokenizer(vocab={w: i for i, w in enumerate(words)}, model_max_length=512).save_pretrained(
        directory
    )
    return directory


def make_data(path: Path, n: int, vocab_size: int, seed: int = 0) -> Path:
    """Reviews of one-token words, IMDb-like lengths, sentiment carried by a few marker words."""
    rng = np.random.default_rng(seed)
    lengths = np.clip(rng.lognormal(np.log(230), 0.75, n), 20, 2500).astype(int)
    labels = np.arange(n) % 2
    first = len(SPECIAL)
    rows = []
    for length, label in zip(lengths, labels):
        ids = rng.integers(first + 10, vocab_size, length)
        ids[rng.integers(0, length, 3)] = first + label  # w0 = negative marker, w1 = positive
        rows.append((" ".join(f"w{i - first}" for i in ids), int(label)))
    pd.DataFrame(rows, columns=["text", "label"]).to_parquet(path)
    return path


def run(model: Path, data: Path, output_dir: Path, **overrides) -> dict:
    import torch

    from imdb_sentiment import TrainConfig, train
    from imdb_sentiment.memory import PeakMemory

    started = time.perf_counter()
    with PeakMemory("cuda" if torch.cuda.is_available() else "cpu") as memory:
        result = train(
            TrainConfig(
                model=str(model), data=str(data), output_dir=str(output_dir), logging_steps=50, **overrides
            )
        )
    total = time.perf_counter() - started
    m = result.metrics
    return {
        "batch_size": result.config.batch_size,
        "max_length": result.config.max_length,
        "train_samples": m["train"]["train_samples"],
        "epochs": result.config.epochs,
        "train_s": m["train"]["train_runtime_s"],
        "train_samples_per_s": m["train"]["train_samples_per_second"],
        "total_s": total,
        # What the run added: the allocator's peak on a GPU, the RSS high-water mark on a CPU.
        "peak_gib": None if memory.peak_mb is None else memory.peak_mb / 1024,
        "peak_method": memory.method,
        "val_accuracy": m["validation"]["accuracy"],
        # What training really ran with (recorded by train() while it trained, not read afterwards).
        "precision": m["precision"],
    }


def environment(model: Path) -> dict:
    import torch
    import transformers

    from imdb_sentiment.model import load_model
    from imdb_sentiment.precision import cuda_card

    loaded = load_model(str(model))
    card = cuda_card()
    return {
        "device": card[0] if card else "cpu",
        "capability": f"{card[1][0]}.{card[1][1]}" if card else None,
        "torch": torch.__version__,
        "transformers": transformers.__version__,
        "attention": loaded.config._attn_implementation,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reviews", type=int, default=25000, help="Generated reviews (IMDb train: 25,000).")
    parser.add_argument("--sweep", type=int, nargs="*", default=[32, 64, 128], help="Batch sizes to compare.")
    parser.add_argument("--sweep-reviews", type=int, default=6000, help="Reviews per sweep run.")
    parser.add_argument("--output", default=None, help="Also write the results as JSON here.")
    parser.add_argument("--smoke", action="store_true", help="Tiny sizes on any device: checks the script.")
    args = parser.parse_args()
    from imdb_sentiment.evaluation.report import markdown_table

    if args.smoke:
        args.reviews, args.sweep, args.sweep_reviews = 200, [8, 16], 100

    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        model = build_model(tmp / "distilbert_base_random", args.smoke)
        vocab = 512 if args.smoke else 30522
        data = make_data(tmp / "reviews.parquet", args.reviews, vocab)
        sweep_data = make_data(tmp / "sweep.parquet", args.sweep_reviews, vocab, seed=1)
        smoke = dict(max_length=64, num_workers=0, freeze_layers=1) if args.smoke else {}
        env = environment(model)
        print(json.dumps(env), flush=True)

        # The default recipe, one epoch on everything (90% train, 10% validation).
        epoch = run(
            model, data, tmp / "epoch", epochs=1.0, max_train_samples=10**9, max_eval_samples=10**9, **smoke
        )
        sweep = [
            run(
                model,
                sweep_data,
                tmp / f"bs{bs}",
                epochs=1.0,
                batch_size=bs,
                max_train_samples=10**9,
                **smoke,
            )
            for bs in args.sweep
        ]

    base = sweep[0]["train_samples_per_s"] if sweep else None
    runs = [("1 epoch, default recipe", epoch)]
    runs += [
        (f"sweep (x{r['train_samples_per_s'] / base:.2f} vs batch {sweep[0]['batch_size']})", r)
        for r in sweep
    ]
    columns = ["run", "batch", "train reviews", "train s", "reviews/s", "peak GiB", "val acc"]
    keys = ["batch_size", "train_samples", "train_s", "train_samples_per_s", "peak_gib", "val_accuracy"]
    formats = {"train reviews": "{:,}", "train s": "{:.1f}", "reviews/s": "{:.0f}", "peak GiB": "{:.1f}"}
    formats["val acc"] = "{:.3f}"
    table = [[name, *(r[key] for key in keys)] for name, r in runs]
    print("\n" + markdown_table(table, columns, formats))
    used = epoch["precision"]
    print(
        f"\n{env['device']} (compute capability {env['capability']}), trained in {used['training']}, "
        f"TF32 {'on' if used['tf32'] else 'off'}, attention {env['attention']}, torch {env['torch']}"
    )
    if args.output:
        Path(args.output).parent.mkdir(parents=True, exist_ok=True)
        Path(args.output).write_text(
            json.dumps({"environment": env, "epoch": epoch, "sweep": sweep}, indent=2)
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
