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

from .data import LABEL_NAMES
from .errors import HubUnreachableError, UserError, is_local_path, looks_like_network_failure

logger = logging.getLogger(__name__)

ID2LABEL = dict(enumerate(LABEL_NAMES))
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
    if is_local_path(name) and not local.exists():
        raise UserError(f"{what.capitalize()} path '{name}' does not exist.")
    if local.is_dir():
        _check_model_folder(local, what)
        name = str(local)
    try:
        return loader.from_pretrained(name, **kwargs)
    except OSError as error:
        if not local.exists() and looks_like_network_failure(error):
            raise HubUnreachableError(what, name, error) from error
        first_line = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise UserError(f"Could not load {what} '{name}': {first_line}") from error


def _check_model_folder(folder, what: str) -> None:
    """A UserError for a folder that holds no model: transformers would go on guessing and fail
    deep inside (an empty folder ends in "You need to have sentencepiece or tiktoken installed")."""
    wanted = ("config.json",) if what == "model" else ("config.json", "tokenizer_config.json")
    if not any((folder / name).is_file() for name in wanted):
        raise UserError(
            f"Folder '{folder}' is not a model: it has no config.json. Pass a "
            "folder saved by save_pretrained (config.json, model.safetensors, the tokenizer) or a Hub id."
        )


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
        "freezing supports DistilBERT, BERT and RoBERTa style encoders. Use --freeze-layers 0 "
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
