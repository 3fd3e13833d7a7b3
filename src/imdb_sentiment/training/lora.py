"""LoRA (low-rank adapters, Hu et al. 2021) as the other way to train few weights: ``--method lora``.

Instead of training whole layers, LoRA freezes every pretrained weight and learns a low-rank
update ``B @ A`` (rank ``r``, scaled by ``alpha / r``) beside each attention projection, while the
classifier head trains fully (peft's ``modules_to_save``). The frozen lower layers of
``--freeze-layers`` get no adapters, so the two combine: the embeddings and the lowest layers stay
exactly as pretrained, the upper layers adapt through their adapters. Before saving, the adapters
are merged into the weights (``merge_and_unload``), so ``saved_model/`` is a plain transformers
model that loads without peft.

    model = load_model("distilbert-base-uncased")
    freeze_lower_layers(model, 0)
    model, report = apply_lora(model, freeze_layers=0, r=8, alpha=16, dropout=0.1)
    ...  # train
    model = merge_lora(model)
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from torch import nn

from ..errors import UserError
from ..model import FreezeReport, find_layers

logger = logging.getLogger(__name__)


@dataclass
class LoraReport(FreezeReport):
    method: str = "lora"
    lora_r: int = 8
    lora_alpha: float = 16
    lora_dropout: float = 0.1
    adapted_modules: int = 0

    def __str__(self) -> str:
        return (
            f"LoRA r={self.lora_r}, alpha={self.lora_alpha:g} on {self.adapted_modules} attention "
            f"projections of layers {self.frozen_layers + 1}-{self.total_layers} (embeddings"
            f"{f' and the lowest {self.frozen_layers} layers' if self.frozen_layers else ''} without "
            f"adapters), classifier head trained fully: {self.trainable_parameters:,} of "
            f"{self.total_parameters:,} parameters trainable ({self.trainable_percent:.2f}%)."
        )


def attention_projections(model: nn.Module, freeze_layers: int = 0) -> list[str]:
    """Full names of the linear layers inside the attention blocks of the layers above the lowest
    ``freeze_layers``: DistilBERT's q_lin/k_lin/v_lin/out_lin, BERT's query/key/value and
    attention.output.dense. Found by name (a Linear under a child called ``*attention*``), so any
    encoder whose layers :func:`find_layers` finds works."""
    _, layers = find_layers(model)
    layer_ids = {id(layer) for layer in layers[freeze_layers:]}
    names = []
    for layer_name, layer in model.named_modules():
        if id(layer) not in layer_ids:
            continue
        for name, module in layer.named_modules():
            if isinstance(module, nn.Linear) and "attention" in name.lower():
                names.append(f"{layer_name}.{name}")
    return names


def head_modules(model: nn.Module) -> list[str]:
    """Names of the modules after the encoder that must train fully: the classifier head (the
    model's own children other than the encoder, e.g. DistilBERT's pre_classifier and classifier)
    and the encoder's pooler where it has one (BERT)."""
    base = getattr(model, "base_model", model)
    names = [
        name
        for name, child in model.named_children()
        if child is not base and any(True for _ in child.parameters())
    ]
    base_name = next(name for name, child in model.named_children() if child is base)
    pooler = getattr(base, "pooler", None)
    if isinstance(pooler, nn.Module) and any(True for _ in pooler.parameters()):
        names.insert(0, f"{base_name}.pooler")
    return names


def apply_lora(
    model: nn.Module, freeze_layers: int, r: int = 8, alpha: float = 16, dropout: float = 0.1
) -> tuple[nn.Module, LoraReport]:
    """Wrap ``model`` in a peft model with LoRA adapters on the attention projections of its
    upper layers and a fully trained head; returns the peft model and what trains."""
    from peft import LoraConfig, get_peft_model

    _, layers = find_layers(model)
    width = getattr(model.config, "hidden_size", None) or getattr(model.config, "dim", None)
    if width and r > width:  # a low-rank update wider than the model: more weights than the model
        raise UserError(
            f"--lora-r {r} is more than this model's hidden size ({width}); LoRA ranks are small (4-64)."
        )
    targets = attention_projections(model, freeze_layers)
    if not targets:
        raise ValueError(f"No attention projections found in {type(model).__name__}'s upper layers.")
    config = LoraConfig(
        r=r,
        lora_alpha=alpha,
        lora_dropout=dropout,
        target_modules=targets,  # full names: only these, not the same names in frozen layers
        modules_to_save=head_modules(model),
        task_type="SEQ_CLS",
        bias="none",
    )
    peft_model = get_peft_model(model, config)
    report = LoraReport(
        frozen_layers=freeze_layers,
        total_layers=len(layers),
        trainable_parameters=sum(p.numel() for p in peft_model.parameters() if p.requires_grad),
        # The model as it trains (adapters and the head's trained copy included), as peft counts.
        total_parameters=sum(p.numel() for p in peft_model.parameters()),
        lora_r=r,
        lora_alpha=alpha,
        lora_dropout=dropout,
        adapted_modules=len(targets),
    )
    logger.info("%s", report)
    return peft_model, report


def merge_lora(model: nn.Module) -> nn.Module:
    """The plain transformers model with the adapters added into its weights and the trained head
    in place of the original; a model without adapters comes back as it is."""
    merge = getattr(model, "merge_and_unload", None)  # a peft model's (no peft import otherwise)
    return merge() if merge is not None else model
