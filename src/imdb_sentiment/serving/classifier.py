"""The one inference path: :class:`Classifier` turns reviews into labelled predictions.

It applies the cleaning and truncation the model was trained with (read from the saved
``training_config.json``), sorts reviews by length so batches carry little padding, and refuses
pickle checkpoints and remote code.

    clf = Classifier.from_pretrained("saved_model")
    clf.predict(["A wonderful, moving film.", "Two hours I will never get back."])
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..config import TrainConfig
from ..errors import UserError, is_local_path
from ..model import _from_pretrained, load_tokenizer
from ..text import Encoder, InvalidTextError, check_text
from .engines import EXPORT_DIR, EXPORT_FILES, TorchBackend, choose_backend, default_threads, load_engine
from .scores import softmax

DEFAULT_MAX_LENGTH = 512
PICKLE_WEIGHTS = ("pytorch_model.bin", "tf_model.h5", "model.ckpt.index", "flax_model.msgpack")
# A vocabulary in one of the forms tokenizers save (fast, WordPiece, BPE, sentencepiece).
TOKENIZER_FILES = ("tokenizer.json", "vocab.txt", "vocab.json", "*.model")


@dataclass(frozen=True)
class Prediction:
    label: str
    score: float
    scores: dict[str, float] = field(default_factory=dict)


def check_model_dir(path: Path) -> None:
    """Clear errors for the usual problems with a local model folder."""
    if not path.is_dir():
        raise UserError(
            f"No model at '{path}'. Train one first (`make train`, `python -m imdb_sentiment "
            "train`, or the notebook createModel.ipynb), or pass another folder or a Hub id."
        )
    has_safetensors = any(path.glob("*.safetensors"))
    if not has_safetensors and any((path / name).exists() for name in PICKLE_WEIGHTS):
        raise UserError(
            f"'{path}' only has pickle weights (pytorch_model.bin), which can run arbitrary code "
            "when loaded; this project loads safetensors only. Convert them with "
            "`model.save_pretrained(dir)` in a trusted environment."
        )
    if not has_safetensors:
        raise UserError(f"'{path}' has no model.safetensors: it is not a saved model.")
    if not (path / "config.json").is_file():
        raise UserError(f"'{path}' has no config.json: it is not a saved model.")
    # Without its vocabulary transformers builds an empty tokenizer and every word becomes [UNK]:
    # the model would serve one label for everything instead of failing.
    if not any(any(path.glob(pattern)) for pattern in TOKENIZER_FILES):
        raise UserError(
            f"'{path}' has no tokenizer files ({', '.join(TOKENIZER_FILES)}): copy them from where the "
            "model was trained, or save the tokenizer with it (`tokenizer.save_pretrained(dir)`)."
        )


# What a saved classifier's Hub repo holds that serving reads: never pickles or checkpoints.
HUB_FILES = ["*.safetensors", "*.json", "*.txt", "*.model", "exports/*", "exports/**/*"]


def hub_snapshot(repo_id: str) -> Path:
    """The local folder of a Hub model repo (downloaded, or from the cache when offline), so that
    it is served exactly as a local one: with its training config, its window and its exports."""
    from huggingface_hub import snapshot_download

    try:
        return Path(snapshot_download(repo_id, allow_patterns=HUB_FILES))
    except Exception as error:  # offline and not cached, no such repo, no network: one line
        raise UserError(
            f"Could not get the model '{repo_id}' from the Hugging Face Hub or its local cache "
            f"({type(error).__name__}). Pass a local model folder, or check the repo id."
        ) from error


def load_classifier_model(name: str):
    """The saved classifier with its own label names; safetensors only, no remote code."""
    from transformers import AutoModelForSequenceClassification

    try:
        model, info = _from_pretrained(
            AutoModelForSequenceClassification,
            name,
            "model",
            use_safetensors=True,
            trust_remote_code=False,
            output_loading_info=True,
        )
    except UserError:
        raise
    except Exception as error:  # safetensors raises its own types for damaged files
        raise UserError(
            f"The weights in '{name}' could not be read; the file is damaged or truncated "
            f"({type(error).__name__}). Re-train or copy the model again."
        ) from error
    # transformers fills weights missing from the file with random values and only warns; a
    # classifier with a random head would serve coin-flip labels, so a file without them is refused.
    missing = sorted(set(info.get("missing_keys", ())) | {k[0] for k in info.get("mismatched_keys", ())})
    if missing:
        raise UserError(
            f"The weights in '{name}' are incomplete ({len(missing)} tensors missing or of the wrong "
            f"shape, e.g. {missing[0]}); the file is damaged or not a trained classifier."
        )
    return model


def batches_by_length(lengths: Sequence[int], batch_size: int, max_batch_tokens: int) -> Iterator[list[int]]:
    """Indices grouped longest first, each group at most ``batch_size`` reviews and
    ``max_batch_tokens`` padded tokens, so long reviews get small batches and short ones big."""
    order = np.argsort(-np.asarray(lengths), kind="stable")
    batch: list[int] = []
    for index in order:
        longest = lengths[batch[0]] if batch else lengths[index]
        if batch and (len(batch) == batch_size or longest * (len(batch) + 1) > max_batch_tokens):
            yield batch
            batch = []
        batch.append(int(index))
    if batch:
        yield batch


def pad_batch(ids: list[list[int]], pad_id: int) -> tuple[np.ndarray, np.ndarray]:
    """(input_ids, attention_mask) for reviews of token ids, right-padded to the longest."""
    width = max(len(row) for row in ids)
    input_ids = np.full((len(ids), width), pad_id, dtype=np.int64)
    mask = np.zeros((len(ids), width), dtype=np.int64)
    for i, row in enumerate(ids):
        input_ids[i, : len(row)] = row
        mask[i, : len(row)] = 1
    return input_ids, mask


def max_length_checked(max_length: int, config) -> int:
    """``max_length`` if the model's position embeddings cover it, else a UserError."""
    window = getattr(config, "max_position_embeddings", DEFAULT_MAX_LENGTH)
    if not isinstance(max_length, int) or not 8 <= max_length <= window:
        raise UserError(f"max_length must be between 8 and this model's window of {window} tokens.")
    return max_length


def _exported_engine(name: str, reason: str, auto: bool, model_dir: Path, threads: int):
    """(engine, reason) for the exported engine ``name``; a file its runtime cannot load (damaged,
    truncated, its OpenVINO weights missing) is a UserError when asked for by name, and under
    ``auto`` (None, why) so that torch serves instead."""
    try:
        return load_engine(name, model_dir, threads), reason
    except UserError:
        raise
    except Exception as error:  # ONNX Runtime and OpenVINO raise their own types for bad files
        problem = f"{EXPORT_DIR}/{EXPORT_FILES[name]} could not be loaded ({type(error).__name__})"
        if not auto:
            raise UserError(
                f"In '{model_dir}', {problem}: the export is damaged or incomplete. Export again: "
                f"python -m imdb_sentiment export --model-dir {model_dir}"
            ) from error
        return None, f"torch: {name} {problem}"


class Classifier:
    """A sentiment classifier ready for inference."""

    def __init__(
        self,
        model,
        tokenizer,
        max_length: int,
        truncation: str,
        device: str = "cpu",
        backend=None,
        config=None,
        model_path: str | None = None,
    ):
        # ``model`` may be None for an exported engine: the PyTorch weights are then loaded from
        # ``model_path`` only if something needs them (explanations), which saves their memory.
        self._model = model.to(device).eval() if model is not None else None
        self._model_path = model_path
        self.tokenizer = tokenizer
        self.device = device
        self.encoder = Encoder(tokenizer, max_length, truncation)
        config = config if config is not None else model.config
        self.id2label = {int(k): v for k, v in config.id2label.items()}
        self.pad_token_id = tokenizer.pad_token_id or 0
        self.backend = backend if backend is not None else TorchBackend(self._model, device)
        # Which engine serves and why (set by from_pretrained; the app header and predict's log).
        self.engine_reason = f"{self.backend.name}: given"

    @property
    def model(self):
        """The PyTorch model (fp32), loaded on first use when an exported engine serves predictions."""
        if self._model is None:
            if self._model_path is None:
                raise UserError("This classifier has no PyTorch model to load.")
            self._model = load_classifier_model(self._model_path).to(self.device).eval()
        return self._model

    @property
    def backend_name(self) -> str:
        return self.backend.name

    @classmethod
    def from_pretrained(
        cls,
        name_or_path: str | Path,
        device: str | None = None,
        backend: str = "auto",
        threads: int | None = None,
        max_length: int | None = None,
    ) -> Classifier:
        """Load a saved model. ``backend``: torch, torch-bf16 (CPUs with native bf16), onnx,
        onnx-int8, openvino, openvino-int8 (after ``imdb_sentiment export``), or auto: the fastest
        export measured on this CPU, else the rule by CPU flags (engines/choice.py), else torch;
        ``engine_reason`` says which and why. ``threads``: CPU threads (default: the cores this
        process may use).
        ``max_length``: tokens per review (default: the window the model was trained with), cut
        with the model's training truncation strategy."""
        import torch

        name = str(name_or_path)
        local = Path(name).expanduser()
        # A saved classifier on the Hub is "owner/name"; a bare name not on disk is a missing local
        # folder (the usual case: `saved_model` before training), which deserves the "train one" message.
        if not is_local_path(name, bare_names=True):
            local = hub_snapshot(name)  # then read as a local folder: its training config, its exports
        check_model_dir(local)
        name = str(local)
        device = device or ("cuda" if torch.cuda.is_available() else "cpu")
        if threads is not None and threads < 1:
            raise UserError(f"threads must be at least 1, not {threads}.")
        chosen, reason = choose_backend(backend, local if local.is_dir() else None, device)
        threads = threads or default_threads()
        if device == "cpu" and torch.get_num_threads() != threads:
            torch.set_num_threads(threads)
        tokenizer = load_tokenizer(name)
        trained = TrainConfig.load(local) if local.is_dir() else None
        engine = model = None
        if chosen in EXPORT_FILES:
            engine, reason = _exported_engine(chosen, reason, backend == "auto", local, threads)
            chosen = chosen if engine is not None else "torch"
        if engine is None:
            model = load_classifier_model(name).to(device).eval()
            engine = load_engine(chosen, None, threads, device, model)
            config = model.config
        else:
            from transformers import AutoConfig

            config = AutoConfig.from_pretrained(name, trust_remote_code=False)
        if trained is not None:
            window, truncation = trained.max_length, trained.truncation
        else:
            window = getattr(config, "max_position_embeddings", DEFAULT_MAX_LENGTH)
            window, truncation = min(DEFAULT_MAX_LENGTH, window), "head_tail"
        max_length = window if max_length is None else max_length_checked(max_length, config)
        classifier = cls(model, tokenizer, max_length, truncation, device, engine, config, name)
        classifier.engine_reason = reason
        return classifier

    @property
    def max_length(self) -> int:
        return self.encoder.max_length

    def encode(self, texts: Sequence[str]) -> list[list[int]]:
        """Token ids for each review, validated, cleaned and truncated as in training."""
        if isinstance(texts, (str, bytes)):
            raise InvalidTextError("predict() takes a list of reviews, not a single string.")
        if isinstance(texts, (Mapping, AbstractSet)) or hasattr(texts, "columns"):
            # A dict or a DataFrame iterates over its keys or column names; a set has no order.
            raise InvalidTextError(
                f"predict() takes a list of reviews, not a {type(texts).__name__} "
                "(for a table, pass its text column: table['text'].tolist())."
            )
        if not isinstance(texts, Sequence):  # a pandas Series, a numpy array, a generator
            if not isinstance(texts, Iterable):
                raise InvalidTextError(f"predict() takes a list of reviews, not {type(texts).__name__}.")
            texts = list(texts)
        checked = [check_text(text, i) for i, text in enumerate(texts)]
        return self.encoder(checked)["input_ids"] if checked else []

    def logits(self, input_ids: np.ndarray, attention_mask: np.ndarray) -> np.ndarray:
        return self.backend.logits(input_ids, attention_mask)

    def predict_logits(
        self, texts: Sequence[str], batch_size: int = 32, max_batch_tokens: int = 16384
    ) -> np.ndarray:
        if batch_size < 1 or max_batch_tokens < 1:
            raise UserError("batch_size and max_batch_tokens must be at least 1.")
        ids = self.encode(texts)
        lengths = [len(row) for row in ids]
        result = np.zeros((len(ids), len(self.id2label)), dtype=np.float32)
        for batch in batches_by_length(lengths, batch_size, max_batch_tokens):
            result[batch] = self.logits(*pad_batch([ids[i] for i in batch], self.pad_token_id))
        return result

    def predict(self, texts: Sequence[str], batch_size: int = 32) -> list[Prediction]:
        """One :class:`Prediction` per review, in input order."""
        logits = self.predict_logits(texts, batch_size=batch_size)
        probabilities = softmax(logits)
        predictions = []
        for row in probabilities:
            scores = {self.id2label[i]: float(p) for i, p in enumerate(row)}
            best = int(row.argmax())
            predictions.append(Prediction(self.id2label[best], float(row[best]), scores))
        return predictions

    def explain(self, text: str, method: str = "ig", steps: int = 16) -> list[tuple[str, float | None]]:
        """(word, weight) for each word of the prepared review: positive weights pushed toward
        POSITIVE, negative toward NEGATIVE, None for words truncated away (see explain.py)."""
        from .explain import explain_text

        return explain_text(self, text, method=method, steps=steps).pairs
