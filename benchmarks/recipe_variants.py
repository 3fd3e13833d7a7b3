"""Recipe ideas tried on the CPU default that are not training options: how they were measured.

Each idea is a patch on the default training run (the CLI's own flow, with only the optimizer, a
callback or the head's starting weights changed), so their numbers in the README come with a command:

* ``--head-lr-multiplier M``: the randomly initialised head (BERT's pooler, DistilBERT's
  pre_classifier, and the classifier) trains at M times the learning rate of the encoder layers.
* ``--probe-head N``: linear probing, then fine-tuning (LP-FT): before the first step the final
  classifier layer is fitted (scikit-learn logistic regression, regularisation by 5-fold
  cross-validation) to the features the pretrained model gives the first N training reviews.
* ``--tail-averages``: the trainable weights are also averaged over the last half and the last
  quarter of the steps (tail / SWA-style averaging) and as an exponential moving average (decay
  0.98); the final weights and the averages are written, uncalibrated, to ``<output-dir>.averages/``.
  ``score`` then compares them on the validation split and on unseen reviews, each calibrated on
  the validation split as training does. The frozen layers are shared, so their forward pass runs
  once per batch and only the trainable top runs once per variant.

    python benchmarks/recipe_variants.py train --head-lr-multiplier 5 --output-dir benchmarks/results/minilm_head5
    python benchmarks/train_imdb.py --skip-train --pipeline-only --heldout 3000 --output-dir benchmarks/results/minilm_head5
    python benchmarks/recipe_variants.py train --probe-head 1000 --output-dir benchmarks/results/minilm_probe1000
    python benchmarks/recipe_variants.py train --tail-averages --output-dir benchmarks/results/minilm_avg42
    python benchmarks/recipe_variants.py score --n 3000 benchmarks/results/minilm_avg42

Any other argument of ``train`` is passed to ``python -m imdb_sentiment train`` (e.g. ``--seed 2``).
"""

from __future__ import annotations

import argparse
import copy
import importlib
import sys
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

AVERAGE_STARTS = (0.5, 0.75)  # the fraction of the steps after which each tail average begins
EMA_DECAY = 0.98


def is_head(name: str) -> bool:
    return ".pooler." in name or name.startswith(("classifier.", "pre_classifier."))


def patch_head_learning_rate(multiplier: float) -> None:
    from transformers import Trainer

    def create_optimizer(self, model=None):
        decay = set(self.get_decay_parameter_names(self.model))
        groups: dict[tuple[bool, bool], list] = {}
        for name, parameter in self.model.named_parameters():
            if parameter.requires_grad:
                groups.setdefault((is_head(name), name in decay), []).append(parameter)
        optimizer_cls, kwargs = self.get_optimizer_cls_and_kwargs(self.args, self.model)
        kwargs.pop("lr", None)
        groups_with_lr = [
            {
                "params": parameters,
                "weight_decay": self.args.weight_decay if decays else 0.0,
                "lr": self.args.learning_rate * (multiplier if head else 1.0),
            }
            for (head, decays), parameters in groups.items()
        ]
        self.optimizer = optimizer_cls(groups_with_lr, lr=self.args.learning_rate, **kwargs)
        return self.optimizer

    Trainer.create_optimizer = create_optimizer


def tail_averages_callback(folder: Path):
    from safetensors.torch import save_file
    from transformers import TrainerCallback

    class TailAverages(TrainerCallback):
        def __init__(self):
            self.model = None
            self.tails: dict[str, tuple[int, dict]] = {}
            self.ema: dict | None = None

        def on_train_begin(self, args, state, control, model=None, **kwargs):
            self.model = model

        def trainable(self) -> dict:
            return {n: p.detach().float() for n, p in self.model.named_parameters() if p.requires_grad}

        def on_step_end(self, args, state, control, **kwargs):
            weights = self.trainable()
            for start in AVERAGE_STARTS:
                if state.global_step / state.max_steps > start:
                    key = f"avg{round(start * 100)}"
                    count, mean = self.tails.get(key, (0, None))
                    if mean is None:
                        mean = {n: w.clone() for n, w in weights.items()}
                    else:
                        for n, w in weights.items():
                            mean[n] += (w - mean[n]) / (count + 1)
                    self.tails[key] = (count + 1, mean)
            if self.ema is None:
                self.ema = {n: w.clone() for n, w in weights.items()}
            else:
                for n, w in weights.items():
                    self.ema[n].mul_(EMA_DECAY).add_(w, alpha=1 - EMA_DECAY)

        def on_epoch_end(self, args, state, control, **kwargs):
            # Before the epoch-end evaluation and calibration: the final weights as trained.
            folder.mkdir(parents=True, exist_ok=True)
            variants = {"final": self.trainable(), "ema98": self.ema}
            variants.update({key: mean for key, (_, mean) in self.tails.items()})
            for key, weights in variants.items():
                save_file({n: w.contiguous() for n, w in weights.items()}, str(folder / f"{key}.safetensors"))
            print(f"Wrote {', '.join(variants)} to {folder}", flush=True)

    return TailAverages()


def patch_probe_head(samples: int) -> None:
    """Linear probing, then fine-tuning (LP-FT; Kumar et al. 2022): before the first step, the final
    classifier layer is set to a logistic regression fitted on the features the pretrained model
    feeds it for the first ``samples`` training reviews, so no step starts from a random head."""
    import torch
    from sklearn.linear_model import LogisticRegressionCV
    from transformers import Trainer

    from imdb_sentiment.backends import pad_batch
    from imdb_sentiment.calibrate import output_layer
    from imdb_sentiment.predict import batches_by_length

    default_train = Trainer.train

    def train(self, *args, **kwargs):
        started = time.perf_counter()
        rows = self.train_dataset.select(range(min(samples, len(self.train_dataset))))
        ids, labels = rows["input_ids"], np.asarray(rows["labels"])
        lengths = [len(row) for row in ids]
        layer = output_layer(self.model)
        features = np.zeros((len(ids), layer.in_features), np.float32)
        captured: dict = {}
        hook = layer.register_forward_hook(lambda module, inputs, output: captured.update(x=inputs[0]))
        self.model.eval()
        with torch.inference_mode():
            for batch in batches_by_length(lengths, 16, 16 * max(lengths)):
                padded = pad_batch([ids[i] for i in batch], self.data_collator.tokenizer.pad_token_id)
                input_ids, mask = map(torch.from_numpy, padded)
                self.model(input_ids=input_ids, attention_mask=mask)
                features[batch] = captured["x"].float().numpy()
        hook.remove()
        self.model.train()
        # shortest first, as in the measured run: the cross-validation folds are contiguous
        order = np.argsort(lengths)
        x, y = features[order], labels[order]
        probe = LogisticRegressionCV(Cs=8, cv=5, max_iter=2000).fit(x, y)
        coef = torch.tensor(probe.coef_[0], dtype=layer.weight.dtype)
        bias = float(probe.intercept_[0])
        with torch.no_grad():  # softmax of (-z/2, z/2) is the probe's sigmoid of z
            layer.weight.copy_(torch.stack([-coef / 2, coef / 2]))
            layer.bias.copy_(torch.tensor([-bias / 2, bias / 2]))
        print(
            f"Probe head: {len(y)} reviews ({y.mean():.2f} positive), C={probe.C_[0]:.3g}, "
            f"cross-validated accuracy {probe.scores_[1].mean(axis=0).max():.3f}, "
            f"{time.perf_counter() - started:.0f} s",
            flush=True,
        )
        return default_train(self, *args, **kwargs)

    Trainer.train = train


def train(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="recipe_variants.py train")
    parser.add_argument("--output-dir", required=True)
    parser.add_argument("--data", default="../shared/imdb/train.parquet")
    parser.add_argument("--max-train-samples", type=int, default=4000)
    parser.add_argument("--head-lr-multiplier", type=float, default=None)
    parser.add_argument("--tail-averages", action="store_true")
    parser.add_argument("--adam-beta2", type=float, default=None)
    parser.add_argument("--probe-head", type=int, default=None, metavar="N")
    args, extra = parser.parse_known_args(argv)
    training = importlib.import_module("imdb_sentiment.train")
    if args.adam_beta2 is not None:
        default_arguments = training.training_arguments
        training.training_arguments = lambda config: replace(
            default_arguments(config), adam_beta2=args.adam_beta2
        )
    if args.head_lr_multiplier is not None:
        patch_head_learning_rate(args.head_lr_multiplier)
    if args.probe_head:
        patch_probe_head(args.probe_head)
    if args.tail_averages:
        default_callbacks = training._callbacks
        folder = Path(f"{args.output_dir}.averages")
        training._callbacks = lambda *a, **k: default_callbacks(*a, **k) + [tail_averages_callback(folder)]

    from imdb_sentiment.cli import main
    from train_imdb import minilm_path  # benchmarks/ is this script's folder

    return main(
        ["train", "--model", minilm_path(), "--data", args.data, "--output_dir", args.output_dir]
        + ["--max_train_samples", str(args.max_train_samples), *extra]
    )


def score(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="recipe_variants.py score")
    parser.add_argument("model_dir", help="A model trained with --tail-averages.")
    parser.add_argument("--n", type=int, default=3000, help="Unseen reviews to score.")
    args = parser.parse_args(argv)

    import torch
    from safetensors.torch import load_file

    from heldout import unseen_reviews
    from imdb_sentiment import Classifier, TrainConfig, load_splits
    from imdb_sentiment.backends import pad_batch
    from imdb_sentiment.calibrate import Calibration, fit_calibration
    from imdb_sentiment.model import find_layers
    from imdb_sentiment.predict import batches_by_length

    folder = Path(f"{args.model_dir}.averages")
    names = ["final"] + sorted(p.stem for p in folder.glob("*.safetensors") if p.stem != "final")
    config = TrainConfig.load(args.model_dir)
    validation = load_splits(config).validation
    unseen = unseen_reviews(args.model_dir, args.n)
    texts = validation["text"].tolist() + unseen["text"].tolist()
    labels = np.array(validation["label"].tolist() + unseen["label"].tolist())
    n_validation = len(validation)
    classifier = Classifier.from_pretrained(args.model_dir, backend="torch")
    ids = classifier.encode(texts)  # cleaned and cut as in training

    # The saved model has the calibration folded into its classifier: load the uncalibrated final
    # weights over it. Each variant is a copy whose frozen bottom is cut off: its embedding module
    # returns the hidden states the shared model computed up to the last frozen layer.
    shared = classifier.model
    shared.load_state_dict(load_file(str(folder / "final.safetensors")), strict=False)
    frozen_output: dict = {}
    variants = {}
    for name in names:
        variant = copy.deepcopy(shared)
        if name != "final":  # the shared model holds the final weights already
            variant.load_state_dict(load_file(str(folder / f"{name}.safetensors")), strict=False)
        embeddings, layers = find_layers(variant)
        del layers[: config.freeze_layers]
        embeddings.forward = lambda *a, **k: frozen_output["hidden"]
        variants[name] = variant
    logits = {name: np.zeros((len(texts), 2), np.float32) for name in names}
    started = time.perf_counter()
    for number, batch in enumerate(batches_by_length([len(x) for x in ids], 64, 16384)):
        input_ids, mask = map(torch.from_numpy, pad_batch([ids[i] for i in batch], classifier.pad_token_id))
        with torch.inference_mode():
            hidden = shared.base_model(input_ids=input_ids, attention_mask=mask, output_hidden_states=True)
            frozen_output["hidden"] = hidden.hidden_states[config.freeze_layers]
            for name, variant in variants.items():
                logits[name][batch] = variant(input_ids=input_ids, attention_mask=mask).logits.numpy()
            if number == 0:  # the cut-off copy must give what the whole model gives
                whole = shared(input_ids=input_ids, attention_mask=mask).logits.numpy()
                assert np.allclose(whole, logits["final"][batch], atol=1e-5), "the shared bottom is wrong"
    print(f"Scored {len(texts)} reviews x {len(names)} variants in {time.perf_counter() - started:.0f} s\n")

    truth_validation, truth_unseen = labels[:n_validation], labels[n_validation:]
    print(f"| weights | validation acc (n={n_validation}) | unseen acc (n={args.n}) | scale | shift |")
    print("|---|---|---|---|---|")
    for name in names:
        # a variant that cannot be calibrated stays as it is: the identity calibration
        calibration = fit_calibration(truth_validation, logits[name][:n_validation]) or Calibration(1.0, 0.0)
        calibrated = calibration.apply(logits[name])
        predicted = calibrated.argmax(axis=1)
        print(
            f"| {name} | {np.mean(predicted[:n_validation] == truth_validation):.4f} "
            f"| {np.mean(predicted[n_validation:] == truth_unseen):.4f} "
            f"| {calibration.scale:.3f} | {calibration.shift:+.3f} |"
        )
    return 0


if __name__ == "__main__":
    commands = {"train": train, "score": score}
    if len(sys.argv) < 2 or sys.argv[1] not in commands:
        raise SystemExit(f"usage: {sys.argv[0]} train|score ... (see the docstring)")
    raise SystemExit(commands[sys.argv[1]](sys.argv[2:]))
