"""Regenerate createModel.ipynb (without outputs) from the cells below: `python tools/make_notebook.py`.

The notebook is a thin, explained driver over the package; this file is its only source (edit the
cells here, then regenerate): it keeps diffs readable and the notebook committed without outputs.
tests/test_make_notebook.py fails when the committed notebook differs from what this writes.
"""

from __future__ import annotations

from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

CELLS = [
    new_markdown_cell("""# Fine-tune DistilBERT on IMDb with the lower layers frozen

This notebook trains a positive/negative sentiment classifier on the 50,000 IMDb movie reviews and
saves it to `saved_model/`, ready for `gradioApp.py`. It is a thin driver over the `imdb_sentiment`
package: the CLI (`python -m imdb_sentiment train`) runs exactly the same code.

Run it top to bottom (Run > Run All Cells) on a machine with a GPU for the full recipe (512 tokens,
3 epochs, all 22,500 training reviews); without a GPU it switches to a CPU-sized recipe that
finishes in minutes. Without access to the Hugging Face Hub it trains the offline default: the
all-MiniLM-L6-v2 encoder and the 2,500 IMDb reviews that ship with the package."""),
    new_markdown_cell("""## Why freeze the lower layers?

A pretrained transformer's lower layers encode general facts about language (word pieces, syntax,
local context), while its upper layers hold the more task-specific features. Sentiment needs the
latter to adapt, not the former. Freezing the embeddings and the lowest layers:

* **trains a fraction of the weights** (about half of DistilBERT's encoder with the default 3 of 6
  layers frozen), which protects the general knowledge from being overwritten by 25k reviews
  ("catastrophic forgetting") and regularises the small task;
* **makes each step cheaper**: no gradients are computed or stored below the first trainable layer,
  and the optimizer keeps no state for frozen weights, so training is faster and uses less memory;
* **costs little accuracy**: studies of layer freezing in BERT-style models (e.g. Lee et al., 2019,
  *What would Elsa do? Freezing layers during transformer fine-tuning*) find that fine-tuning only the
  upper part of the network keeps most of full fine-tuning's quality.

The trade-off: freeze too many layers and the model cannot adapt enough (accuracy drops); freeze too
few and you pay for full fine-tuning. `freeze_layers` sets the balance."""),
    new_markdown_cell("""## Parameters

Edit these, or set the environment variables `MODEL`, `DATA`, `OUTPUT_DIR` and `TRAIN_OVERRIDES`
(JSON, e.g. `{"epochs": 1}`). `None` means the default: `distilbert-base-uncased` and
`stanfordnlp/imdb` from the Hub, or the offline default when the Hub cannot be reached. Any local
model folder, or parquet / CSV / JSON Lines file or `aclImdb/` folder, works too."""),
    new_code_cell(
        """import json
import os

MODEL = os.environ.get("MODEL")  # None: the default model
DATA = os.environ.get("DATA")  # None: the default data
OUTPUT_DIR = os.environ.get("OUTPUT_DIR", "saved_model")
OVERRIDES = json.loads(os.environ.get("TRAIN_OVERRIDES", "{}"))""",
        metadata={"tags": ["parameters"]},
    ),
    new_code_cell("""from imdb_sentiment import TrainConfig, load_splits, resolve_config

config = resolve_config(TrainConfig(model=MODEL, data=DATA, output_dir=OUTPUT_DIR, **OVERRIDES))
config"""),
    new_markdown_cell("""## The data

The validation split is carved out of the training reviews (stratified, seeded): it chooses the
best epoch. The test split is only used once, for the final report, so its numbers are honest.
HTML line breaks (`<br />`) are removed, and long reviews keep their first and last tokens
(`head_tail`), since reviews tend to state their verdict at the start and at the end."""),
    new_code_cell("""splits = load_splits(config)
print(f"train {len(splits.train):,} | validation {len(splits.validation):,} | "
      f"test {0 if splits.test is None else len(splits.test):,}")
splits.train.head(3)"""),
    new_markdown_cell("""## Counterfactual pairs: teaching the model what an edit does

IMDb's labels never show a model what happens when a few words of a review change its verdict. A
model trained on them alone reads whole reviews well but often keeps the old label when a review is
minimally edited ("a great film" -> "not a great film", "boring" -> "gripping"): it has learnt words
that merely co-occur with a label. *Counterfactually-augmented data* (Kaushik, Hovy and Lipton, ICLR
2020) answers that: people rewrote 1,707 IMDb training reviews so that each takes the opposite label
with as few edits as possible. Trained with each original beside its revision, the model has to
look at the words that actually decide the verdict.

The pairs ship with the package (`embedded/cad/`, Apache-2.0). With `counterfactuals="auto"` (the
default) they are mixed in when the training data is IMDb, and left out for your own data (`"on"`,
`"off"`, or a file of `text`, `label`, `pair_id` rows to choose). They are added on top of the IMDb
sample, each pair kept whole in train or validation, and a pair sharing a text with the test split
is dropped. After training, the model is scored on the separate CAD *dev* pairs: accuracy on the
originals, on the edits, and the share of pairs right on both sides."""),
    new_markdown_cell("""## Train

The Hugging Face `Trainer` does the work: dynamic padding, length-grouped batches, mixed precision
on a GPU, evaluation each epoch and the best epoch kept. The model is written atomically: if the
run fails, the previous `saved_model/` is untouched."""),
    new_code_cell("""from imdb_sentiment import train

result = train(config)"""),
    new_markdown_cell("""## How good is it?

*Accuracy* is the share of reviews classified right; *precision* the share of reviews called positive
that are; *recall* the share of positive reviews found; *F1* their harmonic mean; *ROC-AUC* how well
the scores rank positive above negative reviews, whatever the threshold (0.5 is chance, 1.0 perfect).
The last three rows are the counterfactual pairs: a model that follows edits scores about as well on
the edits as on the originals, and gets most pairs right on both sides.

The scores are calibrated: after training, a temperature and a decision threshold are fitted on
the validation split (Platt scaling) and folded into the model's output layer, so a score of 0.9
means about nine in ten such reviews are positive. `calibration` shows what was fitted."""),
    new_code_cell("""import pandas as pd
from IPython.display import Image, display

rows = {split: result.metrics[split] for split in ("validation", "test") if result.metrics[split]}
table = pd.DataFrame(rows).T[["accuracy", "precision", "recall", "f1", "roc_auc", "n"]]
# Pair consistency on the CAD dev pairs (see "Counterfactual pairs" above), with 95% intervals.
pairs = result.metrics["pairs"]
names = {"original": "CAD dev originals", "edited": "CAD dev edits", "both": "CAD dev pairs, both right"}
for key, name in names.items():
    table.loc[name, ["accuracy", "n"]] = [pairs[key]["accuracy"], pairs[key]["n"]]
    table.loc[name, "95% interval"] = f"{pairs[key]['low']:.3f} - {pairs[key]['high']:.3f}"
display(table.fillna(""))
print("counterfactual pairs in training:", result.metrics["counterfactuals"])
print("calibration:", result.metrics["calibration"])
display(Image(filename=str(result.output_dir / "training_curves.png")))
display(Image(filename=str(result.output_dir / "confusion_matrix.png")))"""),
    new_markdown_cell("## Try it"),
    new_code_cell("""from imdb_sentiment import Classifier

classifier = Classifier.from_pretrained(result.output_dir)
reviews = [
    "An absolute delight from start to finish, with a wonderful cast.",
    "Two hours of my life I will never get back. Dreadful.",
]
for review, prediction in zip(reviews, classifier.predict(reviews)):
    print(f"{prediction.label:8} {prediction.score:.3f}  {review}")"""),
    # --- How many layers to freeze: a small sweep ---
    new_markdown_cell("""## How many layers to freeze? A sweep

`python -m imdb_sentiment sweep` trains the same model on the same reviews, split and seed once per
setting and compares them (docs/freezing.md has a full one). On a GPU this cell compares every
third of the layers and LoRA on 4,000 reviews; on a CPU only none and half of the layers, on 400
reviews. `SWEEP_OVERRIDES` (JSON: `freeze_layers`, `lora` ranks, and any training option) changes it."""),
    new_code_cell("""import dataclasses

from imdb_sentiment.training.sweep import run_sweep, settings_for

layers = result.metrics["model"]["total_layers"]
if config.device == "cuda":
    thirds = sorted({0, layers // 3, layers // 2, 2 * layers // 3, layers})
    SWEEP = {"freeze_layers": thirds, "lora": [8], "max_train_samples": 4000, "epochs": 1.0}
else:
    SWEEP = {"freeze_layers": [0, layers // 2], "lora": [], "max_train_samples": 400,
             "max_length": min(config.max_length, 128)}
SWEEP.update(json.loads(os.environ.get("SWEEP_OVERRIDES", "{}")))
freeze, ranks = SWEEP.pop("freeze_layers"), SWEEP.pop("lora")
rows = run_sweep(dataclasses.replace(config, **SWEEP), settings_for(freeze, ranks), "sweep")
display(Image(filename="sweep/sweep.png"))"""),
    new_markdown_cell("""Each point is one setting: further right took longer to train, higher is more accurate,
and the bars are the validation accuracy's 95% interval, so points whose bars overlap are not told
apart by this many reviews. Pick the leftmost point level with the best one: its label says how many
layers it froze and what share of the weights it trained."""),
    new_markdown_cell("""Next: `python gradioApp.py` serves this model in a browser, and
`python -m imdb_sentiment predict --file reviews.csv` scores a file of reviews."""),
    # --- Share: optional, skipped unless a repo id is set ---
    new_markdown_cell("""## Share (optional)

Push the model to the Hugging Face Hub, with its card (scores, dataset, licence), and publish the
app as a Gradio Space that serves it. Skipped unless you set `HUB_REPO_ID` (e.g.
`"your-name/imdb-sentiment"`) here or in the environment; it needs a token with write access
(`HF_TOKEN`, or `hf auth login`). `DRY_RUN` writes what would be uploaded to `share/model/` and
`share/space/` instead (`cd share/space && python app.py --model-dir ../model` runs the Space)."""),
    new_code_cell("""from imdb_sentiment.sharing import push

HUB_REPO_ID = os.environ.get("HUB_REPO_ID")  # e.g. "your-name/imdb-sentiment"
SPACE_ID = os.environ.get("SPACE_ID") or (HUB_REPO_ID and f"{HUB_REPO_ID}-demo")
DRY_RUN = os.environ.get("DRY_RUN")  # e.g. "share": write the folders, upload nothing
if HUB_REPO_ID:
    shared = push(result.output_dir, HUB_REPO_ID, space_id=SPACE_ID, dry_run=DRY_RUN)
    print("files:", shared.model_files, *shared.notes, sep="\\n")
    if not DRY_RUN:
        print(f"https://huggingface.co/{HUB_REPO_ID}\\nhttps://huggingface.co/spaces/{SPACE_ID}")
else:
    print("Set HUB_REPO_ID to push the model and publish its Space.")"""),
]


def build_notebook() -> nbformat.NotebookNode:
    """The notebook, byte for byte what is committed (cell ids by position, so reruns give no diff)."""
    notebook = new_notebook(cells=CELLS)
    for index, cell in enumerate(notebook.cells):
        cell.id = f"cell-{index:02d}"
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    notebook.metadata["language_info"] = {"name": "python"}
    return notebook


NOTEBOOK = Path(__file__).resolve().parent.parent / "createModel.ipynb"


def main() -> None:
    nbformat.write(build_notebook(), NOTEBOOK)
    print(f"wrote {NOTEBOOK}")


if __name__ == "__main__":
    main()
