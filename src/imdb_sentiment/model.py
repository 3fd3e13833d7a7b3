"""Load a pretrained encoder with a two-label head, and freeze its lower layers.

Freezing the embeddings and the lowest ``k`` transformer layers keeps the general language
knowledge those layers hold, trains a fraction of the parameters, and makes each step cheaper:
no gradients flow below the first trainable layer. It works for DistilBERT
(``distilbert.transformer.layer``), BERT / RoBERTa / ELECTRA style encoders (``encoder.layer``)
and others whose layer list is found by :func:`find_layers`.

    model = load_model("distilbert-base-uncased")
    report = freeze_lower_layers(model, 3)
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from torch import nn

from .errors import HubUnreachableError, UserError, looks_like_network_failure

logger = logging.getLogger(__name__)

ID2LABEL = {0: "NEGATIVE", 1: "POSITIVE"}
LABEL2ID = {label: index for index, label in ID2LABEL.items()}
# Attribute paths (from the base model) of the layer list, in the order they are tried.
LAYER_PATHS = ("transformer.layer", "encoder.layer", "encoder.layers", "layers", "layer")


@dataclass
class FreezeReport:
    frozen_layers: int
    total_layers: int
    trainable_parameters: int
    total_parameters: int

    @property
    def trainable_percent(self) -> float:
        return 100.0 * self.trainable_parameters / max(self.total_parameters, 1)

    def __str__(self) -> str:
        return (
            f"Froze embeddings + {self.frozen_layers}/{self.total_layers} transformer layers: "
            f"{self.trainable_parameters:,} of {self.total_parameters:,} parameters trainable "
            f"({self.trainable_percent:.1f}%)."
        )


def _from_pretrained(loader, name: str, what: str, **kwargs):
    """Call ``loader.from_pretrained`` with one-line errors for a bad path or no network."""
    from pathlib import Path

    local = Path(name).expanduser()
    if name.startswith((".", "/", "~")) and not local.exists():
        raise UserError(f"{what.capitalize()} path '{name}' does not exist.")
    if local.is_dir():
        name = str(local)
    try:
        return loader.from_pretrained(name, **kwargs)
    except OSError as error:
        if not local.exists() and looks_like_network_failure(error):
            raise HubUnreachableError(what, name, error) from error
        first_line = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise UserError(f"Could not load {what} '{name}': {first_line}") from error


def load_tokenizer(name: str):
    from transformers import AutoTokenizer

    return _from_pretrained(AutoTokenizer, name, "tokenizer")


def load_model(name: str):
    """A sequence classifier with NEGATIVE/POSITIVE labels, from safetensors weights only."""
    from transformers import AutoModelForSequenceClassification

    return _from_pretrained(
        AutoModelForSequenceClassification,
        name,
        "model",
        num_labels=2,
        id2label=ID2LABEL,
        label2id=LABEL2ID,
        use_safetensors=True,
        trust_remote_code=False,
    )


def find_layers(model: nn.Module) -> tuple[nn.Module, nn.ModuleList]:
    """The embeddings module and the list of transformer layers of ``model``'s encoder."""
    base = getattr(model, "base_model", model)
    embeddings = getattr(base, "embeddings", None)
    for path in LAYER_PATHS:
        layers = base
        for attribute in path.split("."):
            layers = getattr(layers, attribute, None)
        if isinstance(layers, nn.ModuleList) and embeddings is not None:
            return embeddings, layers
    raise UserError(
        f"Cannot find the embeddings and transformer layers of {type(model).__name__}; "
        "freezing supports DistilBERT, BERT and RoBERTa style encoders. Use --freeze_layers 0 "
        "only with a supported architecture, or pick one of those models."
    )


def default_freeze_layers(total_layers: int, method: str = "freeze") -> int:
    """``freeze_layers`` when none is given: half the layers, rounded down (3 of DistilBERT's 6),
    where freezing costs no accuracy measurable at 2,000 reviews (docs/freezing.md); LoRA puts its
    adapters in every layer, as in Hu et al. (2021), since it trains ~1% of the weights anyway."""
    return 0 if method == "lora" else total_layers // 2


def freeze_lower_layers(model: nn.Module, freeze_layers: int) -> FreezeReport:
    """Freeze the embeddings and the lowest ``freeze_layers`` layers; everything else trains."""
    embeddings, layers = find_layers(model)
    if not 0 <= freeze_layers <= len(layers):
        raise UserError(
            f"freeze_layers={freeze_layers} is out of range: {type(model).__name__} has "
            f"{len(layers)} transformer layers, so use 0 to {len(layers)}."
        )
    for parameter in model.parameters():
        parameter.requires_grad = True
    for module in (embeddings, *layers[:freeze_layers]):
        for parameter in module.parameters():
            parameter.requires_grad = False
    report = FreezeReport(
        frozen_layers=freeze_layers,
        total_layers=len(layers),
        trainable_parameters=sum(p.numel() for p in model.parameters() if p.requires_grad),
        total_parameters=sum(p.numel() for p in model.parameters()),
    )
    logger.info("%s", report)
    return report


def set_attention_dropout(model: nn.Module, probability: float) -> int:
    """Set the dropout on attention probabilities in every transformer layer (and in the config
    saved with the model); returns how many attention modules were changed.

    Why: on a CPU, PyTorch's fused attention kernel (SDPA) supports no dropout, so any attention
    dropout in training sends every layer to the unfused path, which materialises the full
    attention matrix: 5x slower attention at 512 tokens (README "Training"). Hidden-state dropout
    is left as it is.
    """
    _, layers = find_layers(model)
    dropouts = [dropout for layer in layers for dropout in _attention_dropouts(layer)]
    return _set_dropouts(model, dropouts, ("attention_probs_dropout_prob", "attention_dropout"), probability)


def _attention_dropouts(model: nn.Module) -> list[nn.Dropout]:
    # BertSelfAttention, DistilBertSelfAttention, RobertaSelfAttention, ...: the attention interface
    # reads self.dropout.p at every forward; the *Output modules' dropouts act on hidden states.
    return [
        module.dropout
        for module in model.modules()
        if "attention" in type(module).__name__.lower()
        and isinstance(getattr(module, "dropout", None), nn.Dropout)
    ]


def set_hidden_dropout(model: nn.Module, probability: float) -> int:
    """Set every dropout that is not on attention probabilities (embeddings, layer outputs, the
    classifier's input), in the modules and in the config saved with the model; returns how many
    dropout modules were changed."""
    attention = {id(dropout) for dropout in _attention_dropouts(model)}
    dropouts = [m for m in model.modules() if isinstance(m, nn.Dropout) and id(m) not in attention]
    names = ("hidden_dropout_prob", "dropout", "classifier_dropout", "seq_classif_dropout")
    return _set_dropouts(model, dropouts, names, probability)


def _set_dropouts(model: nn.Module, dropouts: list[nn.Dropout], config_names, probability: float) -> int:
    """Set ``dropouts`` and those of ``config_names`` the model's config has (so the saved config
    says what training used); returns how many modules were changed."""
    for dropout in dropouts:
        dropout.p = probability
    for name in config_names:
        if hasattr(model.config, name):
            setattr(model.config, name, probability)
    return len(dropouts)


def frozen_parameter_names(model: nn.Module) -> list[str]:
    return [name for name, parameter in model.named_parameters() if not parameter.requires_grad]


# The side a plain tokenizer cuts from, for each training truncation strategy: "left" keeps the
# end of a review. head_tail keeps 3/4 of its window from the end, so "left" is the closest a
# tokenizer can get to it (a tokenizer truncates from one side only).
TRUNCATION_SIDE = {"head": "right", "tail": "left", "head_tail": "left"}


def save_tokenizer(
    tokenizer, directory, max_length: int | None = None, truncation: str | None = None
) -> None:
    """Save ``tokenizer`` so that a plain ``transformers.pipeline`` sees reviews as training did.

    The HTML line breaks removed before training (``text.clean_text``) are also removed by a
    normalizer baked into ``tokenizer.json``; the generic fast-tokenizer class loads that file as
    written (the model-specific classes rebuild their normalizer and would drop it). With
    ``max_length`` and ``truncation``, ``truncation=True`` in a pipeline cuts a long review to the
    training window, from the side that keeps most of what training kept (``TRUNCATION_SIDE``).
    """
    import json
    from pathlib import Path

    backend = getattr(tokenizer, "backend_tokenizer", None)
    tokenizer.save_pretrained(directory)
    updates = {}
    if max_length is not None:
        updates["model_max_length"] = max_length
    if truncation is not None:
        updates["truncation_side"] = TRUNCATION_SIDE[truncation]
    if backend is not None:  # a fast tokenizer: bake the line-break normalizer into tokenizer.json
        _bake_line_breaks(backend, Path(directory) / "tokenizer.json")
        updates["tokenizer_class"] = "PreTrainedTokenizerFast"
    config_path = Path(directory) / "tokenizer_config.json"
    config = json.loads(config_path.read_text(encoding="utf-8"))
    config_path.write_text(json.dumps({**config, **updates}, indent=2) + "\n", encoding="utf-8")


def _bake_line_breaks(backend, path) -> None:
    from tokenizers import Regex, normalizers

    line_breaks = normalizers.Replace(Regex(r"<\s*[bB][rR]\s*/?\s*>"), " ")
    steps = [line_breaks] + ([backend.normalizer] if backend.normalizer is not None else [])
    patched = backend.__class__.from_str(backend.to_str())
    patched.normalizer = normalizers.Sequence(steps)
    patched.save(str(path))
