"""CPU inference benchmark: transformers.pipeline (the usual baseline) against every Classifier backend.

In one run, on the same saved models and the same reviews, each engine runs in a fresh process
(so its peak memory is its own), one after the other:

- speed, on a random DistilBERT-sized model (dim 768, 6 layers, vocab 30522, MiniLM's uncased
  tokenizer; max 512 tokens for all): reviews/s scoring ``--n`` real IMDb reviews, p50/p99 latency of
  one short (~30 tokens) and one long (~300 tokens) review, peak RSS, and useful GFLOP/s (real tokens
  only, no padding) against this CPU's fp32 peak (cores x clock x FMA lanes);
- accuracy, on the trained MiniLM (benchmarks/results/minilm_imdb): accuracy on ``--accuracy-n``
  reviews it never saw, and label agreement with the PyTorch fp32 Classifier.

    python benchmarks/inference.py --data ../shared/imdb/train.parquet --n 48 --accuracy-n 200

The CPU may be shared: rely on the ratios, all measured in the same run. Prints two tables.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from common import add_data_argument, build_random_distilbert, data_path, unseen_reviews

ENGINES = ("pipeline", "torch", "torch-int8", "onnx", "onnx-int8")


def cpu_peak_gflops() -> dict:
    """fp32 peak = cores x clock x (2 FMA units x lanes x 2 flops); lanes 8 with AVX2, 16 with AVX-512."""
    text = Path("/proc/cpuinfo").read_text() if Path("/proc/cpuinfo").exists() else ""
    flags = next((line.split(":")[1].split() for line in text.splitlines() if line.startswith("flags")), [])
    mhz = next((float(line.split(":")[1]) for line in text.splitlines() if line.startswith("cpu MHz")), 0.0)
    model = next(
        (line.split(":")[1].strip() for line in text.splitlines() if line.startswith("model name")), ""
    )
    lanes = 16 if "avx512f" in flags else 8 if "avx2" in flags else 4
    fma = 2 if "fma" in flags else 1
    cores = len(os.sched_getaffinity(0))
    flops_per_cycle = fma * lanes * (2 if fma == 2 else 1)
    return {
        "cpu": model or platform.processor(),
        "cores": cores,
        "ghz": mhz / 1000,
        "isa": "avx512" if lanes == 16 else "avx2+fma" if lanes == 8 and fma == 2 else "other",
        "peak_gflops": cores * mhz / 1000 * flops_per_cycle,
    }


def useful_flops(lengths: list[int], config) -> float:
    """Forward FLOPs of the encoder on real tokens only (2 per multiply-add)."""
    d = getattr(config, "dim", None) or config.hidden_size
    ffn = getattr(config, "hidden_dim", None) or config.intermediate_size
    layers = getattr(config, "n_layers", None) or config.num_hidden_layers
    total = 0.0
    for n in lengths:
        dense = 2 * n * (4 * d * d + 2 * d * ffn)  # Q, K, V, output and the two FFN matrices
        attention = 2 * 2 * n * n * d  # QK^T and AV
        total += layers * (dense + attention)
    return total


def peak_rss_mb() -> float:
    """This process's peak resident memory. VmHWM, not ru_maxrss: Linux keeps ru_maxrss across
    fork + exec, so a worker would report the parent's peak."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


# --- worker: one engine, one fresh process ------------------------------------------------------


def worker(spec: dict) -> dict:
    model_dir, engine, texts = spec["model_dir"], spec["engine"], spec["texts"]
    import torch

    from imdb_sentiment.serving.engines import default_threads

    torch.set_num_threads(default_threads())
    start = time.perf_counter()
    if engine == "pipeline":
        from transformers import pipeline

        classify = pipeline("text-classification", model=model_dir, device="cpu")
        label_ids = {v: int(k) for k, v in classify.model.config.id2label.items()}

        def score(batch: list[str], batch_size: int) -> np.ndarray:
            out = classify(batch, batch_size=batch_size, truncation=True, max_length=spec["max_length"])
            return np.array([label_ids[o["label"]] for o in out])
    else:
        from imdb_sentiment import Classifier

        classifier = Classifier.from_pretrained(model_dir, device="cpu", backend=engine)
        assert classifier.backend_name == engine

        def score(batch: list[str], batch_size: int) -> np.ndarray:
            return classifier.predict_logits(batch, batch_size=batch_size).argmax(axis=1)

    load_s = time.perf_counter() - start
    score(texts[:2], 2)  # warm-up: first-call allocations and kernel selection
    start = time.perf_counter()
    labels = score(texts, spec["batch_size"])
    batch_s = time.perf_counter() - start
    result = {"engine": engine, "load_s": load_s, "batch_s": batch_s, "labels": labels.tolist()}
    for name, text in spec.get("latency_texts", {}).items():
        times = []
        for _ in range(spec["latency_runs"]):
            start = time.perf_counter()
            score([text], 1)
            times.append(time.perf_counter() - start)
        result[f"{name}_p50_ms"] = 1000 * float(np.percentile(times, 50))
        result[f"{name}_p99_ms"] = 1000 * float(np.percentile(times, 99))
    result["peak_rss_mb"] = peak_rss_mb()
    return result


def run_worker(spec: dict, workdir: Path) -> dict:
    spec_path = workdir / f"spec-{spec['engine']}.json"
    spec_path.write_text(json.dumps(spec))
    out = subprocess.run(
        [sys.executable, __file__, "--worker", str(spec_path)], capture_output=True, text=True, check=False
    )
    if out.returncode:
        raise SystemExit(f"{spec['engine']} failed:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def markdown(rows: list[dict]) -> str:
    def cell(value) -> str:
        return f"{value:.2f}" if isinstance(value, float) else str(value)

    lines = ["| " + " | ".join(rows[0]) + " |", "|" + "---|" * len(rows[0])]
    lines += ["| " + " | ".join(cell(v) for v in row.values()) + " |" for row in rows]
    return "\n".join(lines)


# --- main -----------------------------------------------------------------------------------------


def cut_to_tokens(tokenizer, text: str, tokens: int) -> str:
    ids = tokenizer(text, add_special_tokens=False)["input_ids"][: tokens - 2]
    return tokenizer.decode(ids)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_data_argument(parser)
    parser.add_argument(
        "--trained", default="benchmarks/results/minilm_imdb", help="Trained model for accuracy."
    )
    parser.add_argument("--n", type=int, default=48, help="Reviews scored for speed (DistilBERT-sized).")
    parser.add_argument("--accuracy-n", type=int, default=200, help="Unseen reviews scored for accuracy.")
    parser.add_argument("--batch-size", type=int, default=16, help="Batch size for every engine.")
    parser.add_argument("--latency-runs", type=int, default=15)
    parser.add_argument("--workdir", default="benchmarks/results/inference")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        print(json.dumps(worker(json.loads(Path(args.worker).read_text()))))
        return 0

    from transformers import AutoConfig, AutoTokenizer

    from imdb_sentiment.data import read_source
    from imdb_sentiment.serving.export import export_onnx

    workdir = Path(args.workdir)
    shutil.rmtree(workdir, ignore_errors=True)
    workdir.mkdir(parents=True)
    cpu = cpu_peak_gflops()
    print(
        f"# {cpu['cpu']}: {cpu['cores']} cores @ {cpu['ghz']:.2f} GHz, {cpu['isa']}, "
        f"fp32 peak {cpu['peak_gflops']:.0f} GFLOP/s; load average {os.getloadavg()[0]:.1f}",
        flush=True,
    )

    # Speed: DistilBERT-sized random model, real reviews.
    big = build_random_distilbert(workdir / "distilbert", max_length=512)
    reviews = read_source(data_path(args.data))["train"].sample(n=args.n + 2, random_state=1)["text"].tolist()
    texts, (short_src, long_src) = reviews[: args.n], reviews[args.n :]
    export_onnx(big, quantize="int8", check_texts=texts)
    tokenizer = AutoTokenizer.from_pretrained(big)
    long_src = " ".join(reviews)  # enough words for ~300 tokens whatever the sample
    latency = {
        "short": cut_to_tokens(tokenizer, short_src + " " + long_src, 30),
        "long": cut_to_tokens(tokenizer, long_src, 300),
    }
    from imdb_sentiment import Classifier

    lengths = [len(ids) for ids in Classifier.from_pretrained(big, backend="torch").encode(texts)]
    flops = useful_flops(lengths, AutoConfig.from_pretrained(big))
    speed = {}
    for engine in ENGINES:
        spec = {
            "model_dir": str(big),
            "engine": engine,
            "texts": texts,
            "batch_size": args.batch_size,
            "max_length": 512,
            "latency_texts": latency,
            "latency_runs": args.latency_runs,
        }
        speed[engine] = run_worker(spec, workdir)
        r = speed[engine]
        print(
            f"  speed {engine}: {args.n / r['batch_s']:.2f} reviews/s, long p50 {r['long_p50_ms']:.0f} ms",
            flush=True,
        )

    # Accuracy: trained MiniLM, reviews it never saw.
    small = workdir / "minilm"
    shutil.copytree(args.trained, small, ignore=shutil.ignore_patterns("onnx", "*.png"))
    unseen = unseen_reviews(str(small), args.accuracy_n, data=args.data)
    gold = unseen["label"].to_numpy()
    export_onnx(small, quantize="int8", check_texts=unseen["text"].tolist()[:100], check_labels=gold[:100])
    accuracy = {}
    for engine in ENGINES:
        spec = {
            "model_dir": str(small),
            "engine": engine,
            "texts": unseen["text"].tolist(),
            "batch_size": args.batch_size,
            "max_length": 512,
        }
        accuracy[engine] = run_worker(spec, workdir)

    base = speed["pipeline"]
    ref_speed = np.array(speed["torch"]["labels"])
    ref_acc = np.array(accuracy["torch"]["labels"])
    rows = []
    for engine in ENGINES:
        s, a = speed[engine], accuracy[engine]
        rows.append(
            {
                "engine": "transformers.pipeline" if engine == "pipeline" else f"Classifier {engine}",
                "reviews/s": args.n / s["batch_s"],
                "x pipeline": base["batch_s"] / s["batch_s"],
                "short p50/p99 ms": f"{s['short_p50_ms']:.0f} / {s['short_p99_ms']:.0f}",
                "long p50/p99 ms": f"{s['long_p50_ms']:.0f} / {s['long_p99_ms']:.0f}",
                "long p50 vs pipeline": s["long_p50_ms"] / base["long_p50_ms"],
                "peak RSS MB": s["peak_rss_mb"],
                "useful GFLOP/s": flops / s["batch_s"] / 1e9,
                "% of fp32 peak": 100 * flops / s["batch_s"] / 1e9 / cpu["peak_gflops"],
                "agree (DistilBERT)": float((np.array(s["labels"]) == ref_speed).mean()),
                "MiniLM accuracy": float((np.array(a["labels"]) == gold).mean()),
                "agree (MiniLM)": float((np.array(a["labels"]) == ref_acc).mean()),
                "MiniLM reviews/s": args.accuracy_n / a["batch_s"],
            }
        )
    print(
        f"\nSpeed: random DistilBERT-sized model (66M params), {args.n} IMDb reviews, "
        f"{sum(lengths)} real tokens (mean {np.mean(lengths):.0f}), batch size {args.batch_size}, "
        f"{cpu['cores']} threads; accuracy: trained MiniLM, {args.accuracy_n} unseen reviews."
    )
    print(markdown(rows))
    (workdir / "results.json").write_text(json.dumps({"cpu": cpu, "rows": rows}, indent=2))
    shutil.rmtree(big)
    for spec in workdir.glob("spec-*.json"):
        spec.unlink()
    shutil.rmtree(small)
    return 0


if __name__ == "__main__":
    sys.exit(main())
