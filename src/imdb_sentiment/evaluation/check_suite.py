"""The behavioural check's cases: short texts by capability, templated plus hand-written.

In the spirit of CheckList (Ribeiro et al., ACL 2020): each capability is a list of short texts
with the label a person would give them (1 = POSITIVE, 0 = NEGATIVE), or, for invariance, pairs
of texts that differ only in something that must not change the label. Every case was written to
be unambiguous: mixed or lukewarm verdicts ("not terrible", "it was okay") are left out. The cases
are evaluation only; nothing trains on them. :func:`build_suite` returns them; check.py runs them.

    from imdb_sentiment.evaluation.check_suite import build_suite
    cases = build_suite()
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

POS, NEG = 1, 0


@dataclass(frozen=True)
class Case:
    capability: str
    text: str
    label: int | None  # None for an invariance pair: only "same label as variant" is checked
    variant: str | None = None


CAPABILITIES = {
    "plain": "plain short statements",
    "negation": "negated positive and negative phrases (not good, not bad at all)",
    "double_negation": "never / nothing / no with a negative or positive word (never boring)",
    "contrast": "X, but Y: the clause after but (or the main clause) decides",
    "intensity": "intensifiers and downtoners (extremely, quite, a bit)",
    "typos_casing": "misspellings, capitals, elongations, no punctuation",
    "invariance": "changing names, titles, numbers or punctuation keeps the label",
    "other_domains": "reviews of food, products, hotels, books and apps",
}

SUBJECTS = ["The movie", "This film", "The acting", "The story", "The script"]
POSITIVE_ADJ = ["wonderful", "great", "excellent", "fantastic", "brilliant", "superb"]
NEGATIVE_ADJ = ["terrible", "awful", "boring", "dreadful", "horrible", "dull"]


def _plain() -> list[tuple[str, int]]:
    cases = [(f"{s} was {a}.", POS) for s, a in itertools.product(SUBJECTS, POSITIVE_ADJ[:4])]
    cases += [(f"{s} was {a}.", NEG) for s, a in itertools.product(SUBJECTS, NEGATIVE_ADJ[:4])]
    cases += [
        ("I loved it.", POS),
        ("A must-see.", POS),
        ("Highly recommended.", POS),
        ("One of the best films of the year.", POS),
        ("I would happily watch it again.", POS),
        ("It made me laugh out loud.", POS),
        ("A beautiful, moving film.", POS),
        ("Two thumbs up!", POS),
        ("I hated it.", NEG),
        ("Avoid this one.", NEG),
        ("What a waste of time.", NEG),
        ("One of the worst films I have ever seen.", NEG),
        ("I want my money back.", NEG),
        ("I fell asleep halfway through.", NEG),
        ("A boring, pointless film.", NEG),
        ("Save your money.", NEG),
    ]
    return cases


def _negation() -> list[tuple[str, int]]:
    cases = [
        (f"{s} was not {a}.", NEG)
        for s, a in itertools.product(SUBJECTS, ["good", "enjoyable", "interesting"])
    ]
    cases += [(f"I did not {v} this film.", NEG) for v in ["like", "enjoy", "love"]]
    cases += [(f"I didn't {v} it.", NEG) for v in ["like", "enjoy", "love"]]
    cases += [(f"{s} was not bad at all.", POS) for s in SUBJECTS]
    cases += [(f"{s} was not boring at all.", POS) for s in SUBJECTS]
    cases += [(f"{s} was not disappointing at all.", POS) for s in SUBJECTS]
    cases += [
        ("This movie was not bad at all.", POS),
        ("Not a bad film at all, I enjoyed it.", POS),
        ("I was not disappointed.", POS),
        ("I did not regret watching it.", POS),
        ("I don't regret a single minute of it.", POS),
        ("It was not a waste of time at all.", POS),
        ("You won't be disappointed.", POS),
        ("It did not disappoint.", POS),
        ("I wasn't bored for a second.", POS),
        ("Not boring at all.", POS),
        ("Not bad at all!", POS),
        ("It wasn't a bad film at all.", POS),
        ("This is not a good movie.", NEG),
        ("It is not worth watching.", NEG),
        ("The jokes were not funny.", NEG),
        ("I would not recommend it.", NEG),
        ("The ending did not make sense.", NEG),
        ("Not worth the price of a ticket.", NEG),
    ]
    return cases


def _double_negation() -> list[tuple[str, int]]:
    cases = [
        (f"{s} was never {a}.", POS)
        for s, a in itertools.product(SUBJECTS[:4], ["boring", "dull", "tedious"])
    ]
    cases += [
        (f"{s} was never {a}.", NEG)
        for s, a in itertools.product(SUBJECTS[:4], ["engaging", "interesting", "convincing"])
    ]
    cases += [(f"There was nothing {a} about this film.", POS) for a in ["boring", "dull", "bad"]]
    cases += [(f"There was nothing {a} about this film.", NEG) for a in ["good", "enjoyable", "interesting"]]
    cases += [
        ("Never boring.", POS),
        ("Not a single dull moment.", POS),
        ("I never got bored.", POS),
        ("There is nothing to dislike here.", POS),
        ("I wouldn't change a thing about this film.", POS),
        ("No complaints at all.", POS),
        ("I couldn't find anything wrong with it.", POS),
        ("I couldn't take my eyes off the screen.", POS),
        ("I never wanted it to end.", POS),
        ("It is impossible not to love this film.", POS),
        ("Nothing works in this film.", NEG),
        ("There is nothing to like here.", NEG),
        ("I never want to see it again.", NEG),
        ("Not a single funny joke.", NEG),
        ("I couldn't wait for it to end.", NEG),
        ("I couldn't even finish it.", NEG),
        ("It never gets interesting.", NEG),
        ("It has no redeeming qualities.", NEG),
        ("Not one character is likable.", NEG),
        ("Nobody should waste money on this.", NEG),
    ]
    return cases


ASPECTS = ["acting", "music", "plot", "ending", "dialogue"]
POSITIVE_VERDICTS = ["overall I loved it", "overall it is a wonderful film", "I enjoyed it a lot"]
NEGATIVE_VERDICTS = ["overall it was a waste of time", "overall it is a boring film", "I did not enjoy it"]


def _contrast() -> list[tuple[str, int]]:
    cases = [(f"The {a} was weak, but {v}.", POS) for a, v in itertools.product(ASPECTS, POSITIVE_VERDICTS)]
    cases += [(f"The {a} was good, but {v}.", NEG) for a, v in itertools.product(ASPECTS, NEGATIVE_VERDICTS)]
    cases += [
        ("I expected to hate it, but it was wonderful.", POS),
        ("It starts slowly, but it becomes one of the best films of the year.", POS),
        ("A terrible trailer, but a great film.", POS),
        ("The reviews were bad, but I loved every minute.", POS),
        ("Although the effects are cheap, the story is brilliant.", POS),
        ("I wanted to like it, but it was boring.", NEG),
        ("Great cast, but a terrible film.", NEG),
        ("The trailer looked amazing, but the film is a mess.", NEG),
        ("Although the actors try hard, the film is dull.", NEG),
        ("Beautiful to look at, but painfully boring.", NEG),
    ]
    return cases


def _intensity() -> list[tuple[str, int]]:
    positive = [
        "extremely good",
        "really enjoyable",
        "very good",
        "quite good",
        "pretty good",
        "absolutely brilliant",
    ]
    negative = [
        "extremely boring",
        "really bad",
        "very disappointing",
        "a bit boring",
        "rather dull",
        "utterly pointless",
    ]
    cases = [(f"{s} was {p}.", POS) for s, p in itertools.product(SUBJECTS[:4], positive)]
    cases += [(f"{s} was {p}.", NEG) for s, p in itertools.product(SUBJECTS[:4], negative)]
    cases += [
        ("Best. Movie. Ever.", POS),
        ("Absolutely loved it!!!", POS),
        ("Worst movie ever!!!", NEG),
        ("Incredibly, painfully bad.", NEG),
    ]
    return cases


def _typos_casing() -> list[tuple[str, int]]:
    positive = ["amazng", "wonderfull", "excelent", "awsome", "fantastc", "brillant"]
    negative = ["terible", "horible", "borring", "dissapointing", "awfull", "dredful"]
    cases = [(f"This movie was {w}.", POS) for w in positive]
    cases += [(f"This movie was {w}.", NEG) for w in negative]
    for text, label in [
        ("This movie was great", POS),
        ("The acting was wonderful", POS),
        ("I loved this film", POS),
        ("This movie was terrible", NEG),
        ("The acting was awful", NEG),
        ("I hated this film", NEG),
    ]:
        cases += [(text.upper() + "!", label), (text.lower(), label)]
    cases += [
        ("soooo good!!", POS),
        ("loved it, 10/10 would watch again", POS),
        ("gr8 movie, luv it", POS),
        ("sooo boring", NEG),
        ("worst. film. EVER.", NEG),
        ("dont waste ur time", NEG),
    ]
    return cases


NAMES = ["Tom Hanks", "Meryl Streep", "Priya Sharma", "Kenji Tanaka", "Olusegun Adeyemi", "Maria Garcia"]
TITLES = ["Casablanca", "The Room", "Titanic", "Cats", "Gigli", "Paddington 2"]


def _invariance() -> list[tuple[str, str]]:
    pairs = []
    for base in ["{} gives a wonderful performance.", "{} is painfully wooden in the lead."]:
        pairs += [(base.format(NAMES[0]), base.format(name)) for name in NAMES[1:]]
    for base in ["I watched {} last night and loved it.", "I watched {} last night and it bored me."]:
        pairs += [(base.format(TITLES[0]), base.format(title)) for title in TITLES[1:]]
    for base in [
        "It runs {} minutes and I enjoyed every one of them.",
        "It runs {} minutes and every one of them was a chore.",
        "I saw it in {} and it was a delight.",
        "I saw it in {} and it was a mess.",
    ]:
        values = ["1994", "2005", "2023"] if "saw it in" in base else ["90", "120", "150"]
        pairs += [(base.format(values[0]), base.format(v)) for v in values[1:]]
    for text in [
        "A wonderful film",
        "What a great cast",
        "I loved the ending",
        "A dreadful film",
        "What a boring plot",
        "I hated the ending",
    ]:
        pairs += [(text + ".", text + "!"), (text + ".", text)]
    return pairs


def _other_domains() -> list[tuple[str, int]]:
    items = ["food", "service", "hotel room", "phone", "book"]
    cases = [(f"The {i} was {a}.", POS) for i, a in itertools.product(items, ["excellent", "wonderful"])]
    cases += [(f"The {i} was {a}.", NEG) for i, a in itertools.product(items, ["terrible", "disappointing"])]
    cases += [
        ("The pasta was delicious.", POS),
        ("The staff were friendly and the food came quickly.", POS),
        ("This phone has an amazing battery life.", POS),
        ("Great headphones for the price.", POS),
        ("The hotel room was spotless and comfortable.", POS),
        ("I love this blender, it works perfectly.", POS),
        ("The book was impossible to put down.", POS),
        ("Best pizza in town.", POS),
        ("Fast shipping and the product works as described.", POS),
        ("The app is easy to use and never crashes.", POS),
        ("These shoes are very comfortable.", POS),
        ("Excellent customer service.", POS),
        ("The soup was cold and bland.", NEG),
        ("The battery died after two days.", NEG),
        ("The waiter was rude and we waited an hour.", NEG),
        ("The charger stopped working within a week.", NEG),
        ("The hotel room was dirty and smelled of smoke.", NEG),
        ("Terrible customer service.", NEG),
        ("The app crashes every time I open it.", NEG),
        ("The food was overpriced and tasteless.", NEG),
        ("It broke the first time I used it.", NEG),
        ("Do not buy this product.", NEG),
        ("The steak was overcooked and chewy.", NEG),
        ("We will never eat here again.", NEG),
    ]
    return cases


def build_suite() -> list[Case]:
    """Every case, grouped by capability in the order of :data:`CAPABILITIES`."""
    labelled = {
        "plain": _plain(),
        "negation": _negation(),
        "double_negation": _double_negation(),
        "contrast": _contrast(),
        "intensity": _intensity(),
        "typos_casing": _typos_casing(),
        "other_domains": _other_domains(),
    }
    cases = []
    for capability in CAPABILITIES:
        if capability == "invariance":
            cases += [Case(capability, a, None, b) for a, b in _invariance()]
        else:
            cases += [Case(capability, text, label) for text, label in labelled[capability]]
    return cases
