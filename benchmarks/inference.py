"""CPU inference benchmark: transformers.pipeline, every engine of the project, and the peers a user
would run instead, in one process, on the same held-out reviews.

For each model (a trained one, ``--trained``; and a random DistilBERT-sized one unless
``--no-distilbert``) it first runs the project's own ``export`` (every engine, checked, timed), then
scores the same reviews with:

- ``transformers.pipeline`` (fp32, batch ``--batch-size``; the baseline);
- ``Classifier`` with each engine: torch, torch-bf16 (only on CPUs with native bf16), onnx,
  onnx-int8, openvino, openvino-int8, and ``auto`` (what a user gets by default; the table says
  which engine it chose and why);
- peers, as a user would run them: OpenVINO with its defaults (``core.compile_model`` on a plain
  ``torch.onnx.export`` file, no config) and ONNX Runtime int8 with ``quantize_dynamic``'s defaults.

Each row gets reviews/s (best of ``--rounds``, rounds alternating between engines so that load from
other processes hits them alike; tokenization included for all), the ratio to the pipeline, and
label agreement with fp32 PyTorch. Engines score the reviews length-sorted in batches.

    python benchmarks/inference.py --trained benchmarks/results/minilm_1k --n 300 --distilbert-n 48

(run from the repository root: ``--workdir`` and ``--trained`` are relative to it).

The CPU may be shared: rely on the ratios, all measured in the same run. Prints ``lscpu``'s model
name and flags, then one markdown table per model; writes ``<workdir>/results.json``.
"""

from __future__ import annotations

import argparse
import copy
import json
import shutil
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np

from common import build_random_distilbert, measure

PROJECT_ENGINES = ("torch", "torch-bf16", "onnx", "onnx-int8", "openvino", "openvino-int8", "auto")


def lscpu() -> dict:
    """lscpu's model name with the family and model number, and the flags that decide the engines
    (engines/choice.py's FLAGS)."""
    from imdb_sentiment.serving.engines.choice import cpu_info, cpu_name

    try:
        text = subprocess.run(["lscpu"], capture_output=True, text=True, check=False).stdout
    except OSError:
        text = ""
    model = next((line.split(":", 1)[1].strip() for line in text.splitlines() if "Model name" in line), "")
    info = cpu_info()
    return {**info, "model": cpu_name({**info, "model": model or info["model"]}), "cores": _cores()}


def _cores() -> int:
    from imdb_sentiment.serving.engines import default_threads

    return default_threads()


def held_out_reviews(n: int, skip: int) -> tuple[list[str], np.ndarray]:
    """The embedded sample's test split after the first ``skip`` (export calibrates int8 on those)."""
    from imdb_sentiment.serving.exporters.check import embedded_check_reviews

    texts, labels = embedded_check_reviews(500)
    return texts[skip : skip + n], labels[skip : skip + n]


def plain_onnx(model_dir: Path, target: Path) -> Path:
    """A plain ``torch.onnx.export`` of the classifier (no fusions): what a user would hand OpenVINO."""
    import torch
    from transformers import AutoModelForSequenceClassification

    model = AutoModelForSequenceClassification.from_pretrained(model_dir).eval()
    ids = torch.ones((2, 16), dtype=torch.long)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(
            model,
            (ids, torch.ones_like(ids)),
            str(target),
            input_names=["input_ids", "attention_mask"],
            output_names=["logits"],
            dynamic_axes={name: {0: "b", 1: "s"} for name in ("input_ids", "attention_mask")},
            opset_version=17,
            dynamo=False,
        )
    return target


class OpenVinoDefaults:
    """Peer: OpenVINO as its quick start runs an ONNX file: compile_model(path, "CPU"), no config."""

    name = "OpenVINO defaults (peer)"

    def __init__(self, onnx_path: Path):
        import openvino as ov

        self.compiled = ov.Core().compile_model(str(onnx_path), "CPU")

    def logits(self, input_ids, attention_mask):
        result = self.compiled({"input_ids": input_ids, "attention_mask": attention_mask})
        return np.asarray(result[self.compiled.output(0)], dtype=np.float32)


class OrtDynamicInt8:
    """Peer: ONNX Runtime's quantize_dynamic with its defaults, on a default InferenceSession."""

    name = "ONNX Runtime quantize_dynamic defaults (peer)"

    def __init__(self, onnx_path: Path):
        import onnxruntime as ort
        from onnxruntime.quantization import quantize_dynamic

        target = onnx_path.with_name("peer.int8.onnx")
        quantize_dynamic(str(onnx_path), str(target))
        self.session = ort.InferenceSession(str(target), providers=["CPUExecutionProvider"])

    def logits(self, input_ids, attention_mask):
        feed = {"input_ids": input_ids, "attention_mask": attention_mask}
        return self.session.run(["logits"], feed)[0]


def contenders(model_dir: Path, workdir: Path) -> dict:
    """name -> callable(texts, batch) -> labels, every engine on ``model_dir`` (already exported)."""
    from transformers import pipeline

    from imdb_sentiment import Classifier, UserError

    runners, base = {}, None
    for engine in PROJECT_ENGINES:
        try:
            classifier = Classifier.from_pretrained(model_dir, device="cpu", backend=engine)
        except UserError as error:  # torch-bf16 without native bf16
            print(f"  skipped {engine}: {error}", flush=True)
            continue
        base = base or classifier
        label = f"Classifier {engine}" + (f" (served {classifier.engine_reason})" if engine == "auto" else "")
        runners[label] = _scorer(classifier)
    onnx_path = plain_onnx(model_dir, workdir / "plain.onnx")
    for peer in (OpenVinoDefaults(onnx_path), OrtDynamicInt8(onnx_path)):
        wrapped = copy.copy(base)
        wrapped.backend = peer
        runners[peer.name] = _scorer(wrapped)
    # The baseline, truncating to the same window as the Classifier (the model's training window).
    classify = pipeline("text-classification", model=str(model_dir), device="cpu")
    label_ids = {v: int(k) for k, v in classify.model.config.id2label.items()}

    def run_pipeline(texts, batch_size):
        out = classify(texts, batch_size=batch_size, truncation=True, max_length=base.max_length)
        return np.array([label_ids[o["label"]] for o in out])

    return {"transformers.pipeline": run_pipeline, **runners}


def _scorer(classifier):
    return lambda texts, b: classifier.predict_logits(texts, batch_size=b).argmax(axis=1)


def table(results: dict, n: int, gold: np.ndarray | None) -> list[dict]:
    base = results["transformers.pipeline"][0]
    reference = results["Classifier torch"][1]
    rows = []
    for name, (seconds, labels) in results.items():
        row = {"engine": name, "reviews/s": n / seconds, "x pipeline": base / seconds}
        row["agreement with fp32"] = float((labels == reference).mean())
        if gold is not None:
            row["accuracy"] = float((labels == gold).mean())
        rows.append(row)
    return rows


def markdown(rows: list[dict]) -> str:
    def cell(value) -> str:
        return (
            f"{value:.3f}"
            if isinstance(value, float) and value < 1.5
            else (f"{value:.2f}" if isinstance(value, float) else str(value))
        )

    lines = ["| " + " | ".join(rows[0]) + " |", "|" + "---|" * len(rows[0])]
    lines += ["| " + " | ".join(cell(v) for v in row.values()) + " |" for row in rows]
    return "\n".join(lines)


def bench_model(name, model_dir, workdir, texts, gold, args, check_n) -> dict:
    """Export ``model_dir`` (or reuse its current export, e.g. the one ``train`` wrote), then race."""
    from imdb_sentiment import TrainConfig
    from imdb_sentiment.serving.engines import export_is_current, read_manifest
    from imdb_sentiment.serving.exporters import export_model, summary

    target = workdir / name
    shutil.copytree(model_dir, target, ignore=shutil.ignore_patterns("onnx", "*.png", "runs"))
    manifest = read_manifest(target)
    if manifest is not None and export_is_current(target, manifest):
        line = f"its export ({', '.join(manifest['files'])}, {manifest['seconds']:.0f} s, reused)"
        checks, ranking = manifest["checks"], manifest["ranking"]
    else:
        report = export_model(target, max_check=check_n)
        line, checks, ranking = summary(report), report.checks, report.ranking
    print(f"  {name}: {line}", flush=True)
    runners = contenders(target, workdir)
    rows = table(measure(runners, texts, args.batch_size, args.rounds), len(texts), gold)
    window = TrainConfig.load(target).max_length  # what the Classifier and the pipeline truncate to
    return {"export": line, "checks": checks, "ranking": ranking, "rows": rows, "tokens": window}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trained", default="benchmarks/results/minilm_1k", help="A trained model folder.")
    parser.add_argument("--n", type=int, default=300, help="Held-out reviews scored on the trained model.")
    parser.add_argument("--distilbert-n", type=int, default=64, help="Reviews on the DistilBERT-sized model.")
    parser.add_argument(
        "--no-distilbert", action="store_true", help="Skip the random DistilBERT-sized model."
    )
    parser.add_argument(
        "--max-length",
        type=int,
        default=256,
        help="Training window of the random DistilBERT-sized model; a trained model is scored at its own.",
    )
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--workdir", default="benchmarks/results/inference")
    args = parser.parse_args()

    workdir = Path(args.workdir)
    shutil.rmtree(workdir, ignore_errors=True)
    workdir.mkdir(parents=True)
    cpu = lscpu()
    print(f"# CPU: {cpu['model']}; flags: {' '.join(cpu['flags'])}; {cpu['cores']} threads", flush=True)
    results = {"cpu": cpu, "models": {}}
    texts, gold = held_out_reviews(args.n, skip=500 - args.n if args.n <= 372 else 0)
    results["models"]["trained"] = bench_model("trained", Path(args.trained), workdir, texts, gold, args, 500)
    if not args.no_distilbert:
        big = build_random_distilbert(workdir / "distilbert-random", max_length=args.max_length)
        sample = held_out_reviews(args.distilbert_n, skip=500 - args.distilbert_n)[0]
        results["models"]["distilbert-random"] = bench_model(
            "distilbert", big, workdir, sample, None, args, 100
        )
    for name, result in results["models"].items():
        n = args.n if name == "trained" else args.distilbert_n
        print(f"\n## {name}: {n} held-out IMDb reviews, {result['tokens']} tokens, batch {args.batch_size}")
        print(f"CPU: {cpu['model']} ({' '.join(cpu['flags'])}); {result['export']}")
        print(markdown(result["rows"]))
    (workdir / "results.json").write_text(json.dumps(results, indent=2, default=str))
    for path in workdir.iterdir():
        if path.is_dir():
            shutil.rmtree(path)
        elif path.suffix == ".onnx":  # the peers' files
            path.unlink()
    return 0


if __name__ == "__main__":
    sys.exit(main())
