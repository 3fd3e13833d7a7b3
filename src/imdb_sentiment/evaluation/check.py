"""Behavioural check: pass rates per capability on short texts (CheckList style), with the failures.

Runs the cases of check_suite.py through a classifier: a labelled case passes when the predicted
label is the expected one; an invariance pair passes when both texts get the same label.

    python -m imdb_sentiment check --model-dir saved_model             # table + failing cases
    python -m imdb_sentiment check --model-dir saved_model --json      # for programs
    python -m imdb_sentiment check --model-dir saved_model --min-pass 0.9   # exit 1 below 90%

Training runs it at the end (:func:`behaviour_metrics`) and stores the summary in metrics.json
under ``behaviour`` and in the model card.
"""

from __future__ import annotations

from collections.abc import Sequence

from .check_suite import CAPABILITIES, Case, build_suite
from .report import markdown_table

LABELS = ("NEGATIVE", "POSITIVE")


def run_check(classifier, cases: Sequence[Case] | None = None, batch_size: int = 64) -> dict:
    """Per-capability results: ``{"overall", "macro", "n", "capabilities": {name: {...}}}``;
    each capability has ``n``, ``passed``, ``pass_rate``, ``description`` and ``failures``."""
    cases = list(build_suite() if cases is None else cases)
    texts = [c.text for c in cases] + [c.variant for c in cases if c.variant is not None]
    predictions = classifier.predict(texts, batch_size=batch_size)
    by_text = dict(zip(texts, predictions))
    results = {}
    for name in dict.fromkeys([*CAPABILITIES, *(c.capability for c in cases)]):
        chosen = [c for c in cases if c.capability == name]
        if not chosen:
            continue
        failures = []
        for case in chosen:
            got = by_text[case.text]
            if case.variant is not None:
                other = by_text[case.variant]
                if other.label != got.label:
                    failures.append(
                        {
                            "text": case.text,
                            "predicted": got.label,
                            "score": round(got.score, 3),
                            "variant": case.variant,
                            "variant_predicted": other.label,
                            "variant_score": round(other.score, 3),
                        }
                    )
            elif got.label != LABELS[case.label]:
                failures.append(
                    {
                        "text": case.text,
                        "expected": LABELS[case.label],
                        "predicted": got.label,
                        "score": round(got.score, 3),
                    }
                )
        passed = len(chosen) - len(failures)
        results[name] = {
            "description": CAPABILITIES.get(name, name),
            "n": len(chosen),
            "passed": passed,
            "pass_rate": passed / len(chosen),
            "failures": failures,
        }
    total = sum(r["n"] for r in results.values())
    return {
        "overall": sum(r["passed"] for r in results.values()) / total,
        "macro": sum(r["pass_rate"] for r in results.values()) / len(results),
        "n": total,
        "capabilities": results,
    }


def summary(result: dict) -> dict:
    """What metrics.json keeps: the rates, not the failing cases."""
    return {
        "overall": result["overall"],
        "macro": result["macro"],
        "n": result["n"],
        "capabilities": {
            k: {"n": v["n"], "pass_rate": v["pass_rate"]} for k, v in result["capabilities"].items()
        },
    }


def behaviour_metrics(model, tokenizer, config) -> dict:
    """The check's summary for a model still in memory (training calls this after evaluating)."""
    from ..serving.classifier import Classifier

    device = str(next(model.parameters()).device)  # its own GPU under accelerate launch, not cuda:0
    classifier = Classifier(model, tokenizer, config.max_length, config.truncation, device)
    return summary(run_check(classifier))


def format_table(result: dict, show: int = 5) -> str:
    """Markdown table of pass rates, then up to ``show`` failing cases per capability."""
    rows = [
        [name, f"{r['passed']}/{r['n']}", r["pass_rate"], r["description"]]
        for name, r in result["capabilities"].items()
    ]
    passed = sum(r["passed"] for r in result["capabilities"].values())
    rows.append(["**overall**", f"{passed}/{result['n']}", result["overall"], f"macro {result['macro']:.3f}"])
    columns = ["capability", "passed", "pass rate", "what it tests"]
    lines = [markdown_table(rows, columns, float_format="{:.3f}")]
    for name, r in result["capabilities"].items():
        if not r["failures"] or show <= 0:
            continue
        lines.append(
            f"\n{name}: {len(r['failures'])} failing"
            + (f" (first {show})" if len(r["failures"]) > show else "")
        )
        for f in r["failures"][:show]:
            if "variant" in f:
                lines.append(
                    f"  {f['text']!r} -> {f['predicted']} {f['score']:.2f}, but "
                    f"{f['variant']!r} -> {f['variant_predicted']} {f['variant_score']:.2f}"
                )
            else:
                lines.append(
                    f"  {f['text']!r}: expected {f['expected']}, got {f['predicted']} {f['score']:.2f}"
                )
    return "\n".join(lines)
