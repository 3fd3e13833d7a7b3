"""What the app says about how far to trust the model: its headline metrics, and a note under a label.

The headline comes from the model's own ``metrics.json`` (the test split if scored, the behavioural
check if training ran it). The note is shown when the label deserves less trust than the headline
suggests: the text is much shorter than the reviews the model learned from, the score is close to
0.5, or the text negates something and the model's own check shows it often misreads negation
(docs/short_texts.md).

    headline_metrics("saved_model")   # markdown for the top of the app
    trust_note("Not bad at all.", {"POSITIVE": 0.2, "NEGATIVE": 0.8}, negation_pass_rate("saved_model"))
"""

from __future__ import annotations

import json
import re
from pathlib import Path

# Below these the app says how far to trust a label: IMDb reviews average about 230 words, so a
# dozen words is far shorter than almost every review the model learned from (see
# docs/short_texts.md), and a score within 0.1 of 0.5 is close to a coin toss.
SHORT_WORDS = 12
UNSURE_MARGIN = 0.1
# A word that negates what follows ("not", "never", "wasn't"): a negated text gets the note when
# the model's own check says it misreads negation.
NEGATOR = re.compile(
    r"\b(?:not|no|never|nothing|nobody|none|neither|nor|without|hardly|barely|\w+n['’]t)\b", re.IGNORECASE
)
# A model that passes fewer of its check's negation cases than this gets the negation note: at
# 0.56 (the CPU default's rate) a negated phrase is read by its sentiment word about half the time.
RELIABLE_NEGATION = 0.8
NEGATION_CAPABILITIES = ("negation", "double_negation")


def summary_line(behaviour: dict | None) -> str:
    """One line for the app and the model card, e.g. 'behavioural check 0.87 (negation 0.70, ...)'."""
    if not isinstance(behaviour, dict) or not isinstance(behaviour.get("overall"), (int, float)):
        return ""
    rates = ", ".join(f"{name} {v['pass_rate']:.2f}" for name, v in behaviour.get("capabilities", {}).items())
    return (
        f"behavioural check on {behaviour.get('n', 0)} short texts: **{behaviour['overall']:.3f}** ({rates})"
    )


def metrics_path(model_dir: str | Path | None) -> Path | None:
    """The model's ``metrics.json``, or None when there is none."""
    path = Path(model_dir) / "metrics.json" if model_dir else None
    return path if path is not None and path.is_file() else None


def read_metrics(model_dir: str | Path | None) -> dict | None:
    """The model's ``metrics.json`` as a dict, or None when it is missing or unreadable."""
    path = metrics_path(model_dir)
    if path is None:
        return None
    try:
        metrics = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return metrics if isinstance(metrics, dict) else None


def headline_metrics(model_dir: str | Path | None) -> str:
    """Markdown with the model's headline metrics from ``metrics.json`` (test split if scored)."""
    if metrics_path(model_dir) is None:
        return "_No metrics.json next to this model, so no measured metrics to show._"
    metrics = read_metrics(model_dir)
    if metrics is None:
        return "_metrics.json could not be read._"
    split = next((s for s in ("test", "validation") if isinstance(metrics.get(s), dict)), None)
    if split is None:
        return "_metrics.json has no scored split._"
    scores = metrics[split]
    parts = [
        f"{name} **{scores[key]:.3f}**"
        for key, name in (("accuracy", "accuracy"), ("f1", "F1"), ("roc_auc", "ROC-AUC"))
        if isinstance(scores.get(key), (int, float))
    ]
    count = f" on {scores['n']:,} reviews" if isinstance(scores.get("n"), int) else ""
    behaviour = summary_line(metrics.get("behaviour"))  # check.py's pass rates, if training ran it
    return (
        f"Measured on the {split} split{count}: "
        + ", ".join(parts)
        + "."
        + (f" {behaviour}." if behaviour else "")
    )


def negation_pass_rate(model_dir: str | Path | None) -> float | None:
    """The model's pass rate on its check's negation cases (negation and double negation
    together), or None when training did not run the check."""
    capabilities = ((read_metrics(model_dir) or {}).get("behaviour") or {}).get("capabilities") or {}
    found = [capabilities[name] for name in NEGATION_CAPABILITIES if isinstance(capabilities.get(name), dict)]
    n = sum(c.get("n", 0) for c in found)
    if not n:
        return None
    return sum(c.get("pass_rate", 0.0) * c.get("n", 0) for c in found) / n


def trust_note(text: object, scores: dict | None, negation_rate: float | None = None) -> str:
    """A note for under the label: empty, or why this label deserves less trust."""
    notes = []
    words = len(text.split()) if isinstance(text, str) else 0
    if 0 < words < SHORT_WORDS:
        notes.append(
            f"Short input ({words} word{'s' * (words != 1)}): the model learned from movie reviews of "
            "hundreds of words, and is less accurate on a sentence or two."
        )
    if isinstance(scores, dict) and scores:
        top = max(float(v) for v in scores.values())
        if top - 0.5 < UNSURE_MARGIN:
            notes.append(f"Unsure: the score ({top:.2f}) is close to 0.5, so either label is plausible.")
    negator = NEGATOR.search(text) if isinstance(text, str) else None
    if negator and negation_rate is not None and negation_rate < RELIABLE_NEGATION:
        notes.append(
            f'Negation ("{negator.group(0)}"): this model got {negation_rate:.0%} of the negated '
            'phrases in its behavioural check right; it often reads "not bad" by "bad" alone.'
        )
    return "\n\n".join(f"_{note}_" for note in notes)
