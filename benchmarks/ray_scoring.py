"""Reviews per second and peak memory: Ray Data scoring with 1 and 2 workers against one process.

    flock /tmp/heavy.lock python benchmarks/ray_scoring.py --model-dir benchmarks/results/minilm_ray \\
        --data ../shared/imdb/train.parquet --n 5000 --output benchmarks/results/ray_scoring.json

The same ``--n`` reviews (the first n of ``--data``) are scored by ``batch.score_texts`` with one
``Classifier`` in this process, then by ``ray_scoring.score_with_ray`` with 1 worker of 2 threads,
1 worker of 1 thread and 2 workers of 1 thread on a local Ray of ``--cpus`` CPUs. Wall time covers
the whole job (for Ray: model loading in the actors, reading, scoring, writing; not Ray's start-up,
timed apart). Peak RSS: the driver's from psutil, each actor's recorded from inside the actor.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))


def peak_rss_watcher():
    """A thread sampling this process's RSS every 50 ms; returns a function giving the peak in MiB."""
    import psutil

    process, peak, done = psutil.Process(), [0], threading.Event()

    def watch():
        while not done.is_set():
            peak[0] = max(peak[0], process.memory_info().rss)
            time.sleep(0.05)

    threading.Thread(target=watch, daemon=True).start()

    def stop() -> float:
        done.set()
        return peak[0] / 2**20

    return stop


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model-dir", required=True, help="A trained model folder.")
    parser.add_argument(
        "--data", default="../shared/imdb/train.parquet", help="Parquet file with a text column."
    )
    parser.add_argument("--n", type=int, default=5000, help="Reviews to score.")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--cpus", type=int, default=2, help="CPUs of the local Ray.")
    parser.add_argument("--output", default="benchmarks/results/ray_scoring.json")
    args = parser.parse_args()
    if not Path(args.data).is_file():
        sys.exit(f"error: no data at '{args.data}'; pass --data with a parquet file of reviews.")
    if not Path(args.model_dir).is_dir():
        sys.exit(f"error: no model at '{args.model_dir}'; train one (see docs/ray.md) or pass --model-dir.")

    import pandas as pd
    import psutil
    import ray

    from imdb_sentiment.scale.ray import BatchScorer, score_with_ray
    from imdb_sentiment.serving.batch import score_texts
    from imdb_sentiment.serving.classifier import Classifier

    class MeasuredScorer(BatchScorer):
        """Adds the actor's pid and peak RSS so far to every row it writes."""

        def __call__(self, batch):
            out = super().__call__(batch)
            rss = psutil.Process().memory_info().rss
            self.peak = max(getattr(self, "peak", 0), rss)
            out["actor_pid"], out["actor_peak_rss_mib"] = os.getpid(), self.peak / 2**20
            return out

    work = Path(tempfile.mkdtemp(prefix="raybench", dir="/tmp"))
    reviews = pd.read_parquet(args.data, columns=["text"]).head(args.n)
    reviews.to_parquet(work / "reviews.parquet")
    results = {"n": len(reviews), "data": args.data, "model_dir": args.model_dir, "cpus": os.cpu_count()}

    stop = peak_rss_watcher()
    start = time.perf_counter()
    classifier = Classifier.from_pretrained(args.model_dir, device="cpu", threads=args.cpus)
    table = score_texts(classifier, reviews["text"].tolist(), batch_size=args.batch_size)
    seconds = time.perf_counter() - start
    results["single_process"] = {
        "seconds": seconds,
        "reviews_per_s": len(table) / seconds,
        "peak_rss_mib": stop(),
    }
    del classifier
    print(json.dumps(results["single_process"]), flush=True)

    os.environ.setdefault("RAY_AUTH_MODE", "disabled")
    os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [sys.path[0], os.environ.get("PYTHONPATH")]))
    start = time.perf_counter()
    ray.init(
        num_cpus=args.cpus, include_dashboard=False, _temp_dir=str(work / "ray"), configure_logging=False
    )
    results["ray_start_seconds"] = time.perf_counter() - start
    ray.data.DataContext.get_current().enable_progress_bars = False
    try:
        for workers, cpus in ((1, 2), (1, 1), (2, 1)):
            output = work / f"out_{workers}x{cpus}"
            stop = peak_rss_watcher()
            start = time.perf_counter()
            score_with_ray(
                args.model_dir,
                str(work / "reviews.parquet"),
                str(output),
                num_workers=workers,
                cpus_per_worker=cpus,
                batch_size=args.batch_size,
                scorer=MeasuredScorer,
            )
            seconds = time.perf_counter() - start
            got = pd.read_parquet(output, columns=["source_row", "label", "actor_pid", "actor_peak_rss_mib"])
            agree = float(
                (got.sort_values("source_row")["label"].to_numpy() == table["label"].to_numpy()).mean()
            )
            row = {
                "workers": workers,
                "threads_per_worker": cpus,
                "seconds": seconds,
                "reviews_per_s": len(got) / seconds,
                "rows_written": len(got),
                "label_agreement_with_single_process": agree,
                "driver_peak_rss_mib": stop(),
                "actor_peak_rss_mib": got.groupby("actor_pid")["actor_peak_rss_mib"].max().round(1).tolist(),
            }
            results[f"ray_{workers}x{cpus}"] = row
            print(json.dumps(row), flush=True)
    finally:
        ray.shutdown()
        shutil.rmtree(work, ignore_errors=True)
    Path(args.output).parent.mkdir(parents=True, exist_ok=True)
    Path(args.output).write_text(json.dumps(results, indent=2) + "\n")
    print(f"wrote {args.output}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
