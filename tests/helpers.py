"""Tiny models, a local tokenizer and a learnable generated review task, for tests and benchmarks.

Nothing here touches the network: the vocabulary is made up, the models are random, the data
is generated. ``make_reviews`` builds a task a 2-layer model learns in seconds: each review's
sentiment is carried by a few marker words hidden among neutral filler.
"""

from __future__ import annotations

import os
import random
import socket
import subprocess
import sys
from pathlib import Path

import pandas as pd

POSITIVE_MARKERS = ["wonderful", "superb", "delightful", "brilliant", "masterpiece"]
NEGATIVE_MARKERS = ["awful", "boring", "dreadful", "terrible", "waste"]
FILLER = [
    "the",
    "movie",
    "film",
    "plot",
    "actor",
    "scene",
    "story",
    "director",
    "music",
    "camera",
    "was",
    "is",
    "and",
    "with",
    "a",
    "of",
    "in",
    "it",
    "this",
    "that",
    "character",
    "ending",
    "script",
    "cast",
    "picture",
    "screen",
    "time",
    "minutes",
    "hour",
    "score",
    "dialogue",
]
SPECIAL = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
VOCAB = SPECIAL + sorted(
    set(FILLER + POSITIVE_MARKERS + NEGATIVE_MARKERS + [".", ",", "!", "<", ">", "/", "br"])
)


def make_tokenizer(vocab: list[str] = VOCAB):
    from transformers import DistilBertTokenizer

    return DistilBertTokenizer(vocab={token: i for i, token in enumerate(vocab)}, model_max_length=128)


def make_reviews(n: int, seed: int = 0, min_words: int = 8, max_words: int = 40) -> pd.DataFrame:
    """Balanced generated reviews: filler words plus 1-2 markers of the review's sentiment."""
    rng = random.Random(seed)
    rows = []
    for i in range(n):
        label = i % 2
        markers = POSITIVE_MARKERS if label else NEGATIVE_MARKERS
        words = [rng.choice(FILLER) for _ in range(rng.randint(min_words, max_words))]
        for _ in range(rng.randint(1, 2)):
            words.insert(rng.randrange(len(words) + 1), rng.choice(markers))
        if rng.random() < 0.3:
            words.insert(rng.randrange(len(words) + 1), "<br />")
        rows.append((" ".join(words) + " .", label))
    rng.shuffle(rows)
    return pd.DataFrame(rows, columns=["text", "label"])


# Appended, so the ids of VOCAB (and the other tiny models) stay; "wasn't" is wasn ' t.
NEGATION_VOCAB = VOCAB + ["not", "never", "wasn", "isn", "'", "t"]
# The interaction (marker x negator) is learnt after the marker itself: hence the many epochs a
# test gives it, at a rate low enough for them, and both layers trained: with the lower one frozen
# (at 3e-3), 2 of 3 model seeds never learnt it; with both trained at 1e-3, 5 of 5 reached 1.0.
NEGATION_RECIPE = dict(
    learning_rate=1e-3, freeze_layers=0, attention_dropout=0.0, calibrate=False, logging_steps=100
)


def make_verdict_reviews(n: int, seed: int = 0) -> pd.DataFrame:
    """Generated reviews of 2-4 sentences with no negation: one states the verdict with a marker
    after a copula ("the plot was superb ."), the others are filler (markers elsewhere only)."""
    rng = random.Random(seed)
    nouns = ["plot", "movie", "film", "actor", "story", "music", "ending", "script", "cast"]
    rows = []
    for i in range(n):
        label = i % 2
        marker = rng.choice(POSITIVE_MARKERS if label else NEGATIVE_MARKERS)
        sentences = [
            " ".join(rng.choice(FILLER) for _ in range(rng.randint(5, 9))) + " ."
            for _ in range(rng.randint(1, 3))
        ]
        verdict = f"the {rng.choice(nouns)} {rng.choice(['was', 'is'])} {marker} ."
        sentences.insert(rng.randrange(len(sentences) + 1), verdict)
        rows.append((" ".join(sentences), label))
    rng.shuffle(rows)
    return pd.DataFrame(rows, columns=["text", "label"])


def save_tiny_model(
    directory: Path,
    architecture: str = "distilbert",
    layers: int = 2,
    seed: int = 0,
    vocab: list[str] = VOCAB,
) -> Path:
    """A random DistilBERT or BERT encoder with a 2-label head and a local tokenizer."""
    import torch
    from transformers import (
        BertConfig,
        BertForSequenceClassification,
        DistilBertConfig,
        DistilBertForSequenceClassification,
    )

    torch.manual_seed(seed)
    if architecture == "distilbert":
        config = DistilBertConfig(
            vocab_size=len(vocab),
            dim=32,
            hidden_dim=64,
            n_layers=layers,
            n_heads=2,
            max_position_embeddings=128,
        )
        model = DistilBertForSequenceClassification(config)
    elif architecture == "bert":
        config = BertConfig(
            vocab_size=len(vocab),
            hidden_size=32,
            intermediate_size=64,
            num_hidden_layers=layers,
            num_attention_heads=2,
            max_position_embeddings=128,
        )
        model = BertForSequenceClassification(config)
    else:
        raise ValueError(architecture)
    directory.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(directory)
    make_tokenizer(vocab).save_pretrained(directory)
    return directory


# Debian's chromium, driven by Playwright: no browser is downloaded (`make browser` installs it).
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def open_chromium():
    """A context manager giving a Playwright browser on Debian's chromium; fails loudly without it
    (a skipped browser test would hide a broken page)."""
    import contextlib
    import shutil

    import pytest

    if not CHROMIUM.is_file():
        pytest.fail(
            f"chromium is not installed at {CHROMIUM} (found: {shutil.which('chromium')}). Install it "
            "with `make browser` (apt-get install chromium); the tests never download a browser."
        )

    @contextlib.contextmanager
    def browser():
        from playwright.sync_api import sync_playwright

        with sync_playwright() as playwright:
            launched = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
            try:
                yield launched
            finally:
                launched.close()

    return browser()


# --- launching several processes (accelerate launch) -------------------------------------------


def _free_port() -> int:
    # Several test runs may share this machine: never rely on accelerate's default port 29500.
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def launch(args: list[str], cwd: Path, processes: int = 2) -> subprocess.CompletedProcess:
    env = {
        **os.environ,
        "CUDA_VISIBLE_DEVICES": "",  # CPU processes joined with gloo, even on a machine with GPUs
        "HF_HOME": str(cwd / "hf_home"),  # no user-wide accelerate default_config.yaml applies
        "OMP_NUM_THREADS": "1",
        "HF_HUB_OFFLINE": "1",
        "TOKENIZERS_PARALLELISM": "false",
    }
    command = [
        sys.executable,
        "-m",
        "accelerate.commands.launch",
        "--multi_gpu",
        "--num_processes",
        str(processes),
        "--num_machines",
        "1",
        "--mixed_precision",
        "no",
        "--dynamo_backend",
        "no",
        "--main_process_port",
        str(_free_port()),
        "-m",
        "imdb_sentiment",
        *args,
    ]
    result = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, timeout=400)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-5000:]
    return result


def recipe_arguments(**overrides) -> list[str]:
    from conftest import TINY_RECIPE  # conftest imports this module: import when called

    values = {**TINY_RECIPE, **overrides}
    return [item for key, value in values.items() if value is not None for item in (f"--{key}", str(value))]
