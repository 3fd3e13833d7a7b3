"""What the app says about trust (trust.py): the headline metrics, and the note under a label for
short inputs, unsure scores and negation the model's own check says it misreads."""

from __future__ import annotations

import json

from imdb_sentiment.serving.trust import headline_metrics, negation_pass_rate, trust_note

LONG = " ".join(["word"] * 40)
SURE = {"POSITIVE": 0.95, "NEGATIVE": 0.05}


def test_headline_metrics(trained_model_dir, tmp_path):
    text = headline_metrics(trained_model_dir)
    metrics = json.loads((trained_model_dir / "metrics.json").read_text())
    split = "test" if metrics.get("test") else "validation"  # the test split when the data had one
    assert f"{split} split" in text and f"accuracy **{metrics[split]['accuracy']:.3f}**" in text
    assert "behavioural check" in text  # training stored it
    (tmp_path / "metrics.json").write_text(
        json.dumps({"test": None, "validation": {"accuracy": 0.5, "n": 10}})
    )
    assert "validation split on 10 reviews: accuracy **0.500**" in headline_metrics(tmp_path)
    assert "No metrics.json" in headline_metrics(tmp_path / "nowhere")
    assert "No metrics" in headline_metrics(None)
    (tmp_path / "metrics.json").write_text("{not json")
    assert "could not be read" in headline_metrics(tmp_path)


def test_trust_note_for_short_inputs_and_unsure_scores():
    assert "Short input (3 words)" in trust_note("Not bad, really.", SURE)
    assert "Unsure" in trust_note(LONG, {"POSITIVE": 0.55, "NEGATIVE": 0.45})
    assert trust_note(LONG, SURE) == ""
    both = trust_note("Hmm.", {"POSITIVE": 0.52, "NEGATIVE": 0.48})
    assert "Short input (1 word)" in both and "Unsure" in both
    assert trust_note(None, None) == ""


def test_negation_note_follows_the_models_own_check(trained_model_dir, tmp_path):
    negated = LONG + " and it was not bad"
    note = trust_note(negated, SURE, negation_rate=0.56)
    assert 'Negation ("not")' in note and "56%" in note
    assert "wouldn't" in trust_note(LONG + " I wouldn't change a thing", SURE, negation_rate=0.5)
    assert trust_note(negated, SURE, negation_rate=0.9) == ""  # a model that handles negation
    assert trust_note(negated, SURE, negation_rate=None) == ""  # no check: nothing to say
    assert trust_note(LONG + " a moment I want to see again", SURE, negation_rate=0.5) == ""

    rate = negation_pass_rate(trained_model_dir)  # training ran the check and stored it
    behaviour = json.loads((trained_model_dir / "metrics.json").read_text())["behaviour"]["capabilities"]
    n = behaviour["negation"]["n"] + behaviour["double_negation"]["n"]
    passed = sum(behaviour[c]["pass_rate"] * behaviour[c]["n"] for c in ("negation", "double_negation"))
    assert rate == passed / n and 0 <= rate <= 1
    assert negation_pass_rate(tmp_path) is None and negation_pass_rate(None) is None
