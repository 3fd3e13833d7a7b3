"""Render a sweep.json (python -m imdb_sentiment sweep) as the Markdown table of docs/freezing.md.

    python benchmarks/freezing_table.py benchmarks/results/sweep_minilm/sweep.json

Times are also shown relative to the freeze 0 row of the same sweep (the ratios are what a shared
machine measures reliably).
"""

import json
import sys
from pathlib import Path

rows = json.loads(Path(sys.argv[1]).read_text(encoding="utf-8"))
print(
    "| setting | trainable | training time | samples/s | peak memory added | validation accuracy (n) | short-text accuracy (n) |"
)
print("|---|---|---|---|---|---|---|")
base = next((r for r in rows if r["setting"] == "freeze 0" and not r.get("error")), None)
for r in rows:
    if r.get("error"):
        print(f"| {r['setting']} | failed: {r['error']} | | | | | |")
        continue
    ratio = f" ({r['train_runtime_s'] / base['train_runtime_s']:.2f}x)" if base else ""
    mem = "" if r.get("peak_memory_mb") is None else f"{r['peak_memory_mb']:,.0f} MiB"
    short = (
        ""
        if r.get("short_accuracy") is None
        else f"{r['short_accuracy']:.4f} ± {r['short_interval']:.4f} ({r['short_n']:,})"
    )
    print(
        f"| {r['setting']} (lr {r['learning_rate']:g}) | {r['trainable_parameters']:,} ({r['trainable_percent']:.1f}%) | {r['train_runtime_s']:.0f} s{ratio} | {r['train_samples_per_second']:.2f} | {mem} | {r['validation_accuracy']:.4f} ± {r['validation_interval']:.4f} ({r['validation_n']:,}) | {short} |"
    )
