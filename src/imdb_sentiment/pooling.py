"""Mean pooling as one more encoder layer, so that a saved model stays a plain transformers model.

Sentence encoders such as all-MiniLM-L6-v2 were trained to average their token vectors; they never
trained their ``[CLS]`` token, which is what transformers' sequence classifiers read. A linear probe
on the frozen MiniLM shows the cost (docs/short_texts.md): mean-pooled features score far better on
short sentences than ``[CLS]`` or the pooler. Rather than a custom head class (which a plain
``pipeline`` could not load without ``trust_remote_code``), :func:`add_mean_pooling_layer` appends
one standard layer (a copy of the top one) whose queries are zero, so its attention is uniform over
the real tokens, whose values pass the token vectors through and whose output projection scales
them, so the ``[CLS]`` position leaves it holding ``LayerNorm(cls + MEAN_WEIGHT * mean(tokens))``:
the mean, up to a small share of ``[CLS]``. It trains like the layers below it (its queries can
learn to weigh tokens: attention pooling), and the pipeline, the ONNX export and the explanations
see an ordinary encoder one layer deeper.

    if config.pooling == "mean":   # --pooling mean; the default is cls
        add_mean_pooling_layer(model)

Measured on the CPU default (MiniLM, 4,000 reviews, docs/short_texts.md): after fine-tuning, mean
pooling is no better than [CLS] on unseen reviews or short sentences, and costs a seventh layer, so
it is an option, not the default.
"""

from __future__ import annotations

import copy
import logging

import torch
from torch import nn

from .errors import UserError
from .model import find_layers

logger = logging.getLogger(__name__)

# The token mean outweighs the [CLS] vector kept by the residual connection by this factor.
MEAN_WEIGHT = 16.0


def add_mean_pooling_layer(model: nn.Module) -> None:
    """Append a layer whose ``[CLS]`` output is the (layer-normed) mean of the tokens below it.

    BERT-style layers (BERT, RoBERTa, MiniLM, ELECTRA: ``attention.self.query``) and DistilBERT's
    (``attention.q_lin``) are supported. The model's config counts the new layer, so the saved
    model loads as a plain transformers model of that depth."""
    _, layers = find_layers(model)
    layer = copy.deepcopy(layers[-1])
    attention = getattr(layer, "attention", None)
    if hasattr(attention, "self") and hasattr(layer, "intermediate"):  # BERT style
        parts = (
            attention.self.query,
            attention.self.value,
            attention.output.dense,
            attention.output.LayerNorm,
            layer.output.dense,
            layer.output.LayerNorm,
        )
        depth_names = ("num_hidden_layers",)
    elif hasattr(attention, "q_lin") and hasattr(layer, "ffn"):  # DistilBERT
        parts = (
            attention.q_lin,
            attention.v_lin,
            attention.out_lin,
            layer.sa_layer_norm,
            layer.ffn.lin2,
            layer.output_layer_norm,
        )
        depth_names = ("n_layers", "num_hidden_layers")
    else:
        raise UserError(
            f"Mean pooling supports BERT- and DistilBERT-style layers, not {type(layer).__name__}; "
            "use --pooling cls with this model."
        )
    query, value, attention_out, attention_norm, feed_forward_out, output_norm = parts
    with torch.no_grad():
        nn.init.zeros_(query.weight)  # equal scores: softmax spreads evenly over unmasked tokens
        nn.init.zeros_(query.bias)
        _set_identity(value, 1.0)
        _set_identity(attention_out, MEAN_WEIGHT)
        # The feed-forward branch starts at zero (its first projection keeps the copied weights,
        # so it gets gradients and can learn): the layer's output is its attention block's.
        nn.init.zeros_(feed_forward_out.weight)
        nn.init.zeros_(feed_forward_out.bias)
        for norm in (attention_norm, output_norm):
            nn.init.ones_(norm.weight)
            nn.init.zeros_(norm.bias)
    for module in layer.modules():  # BERT's attention modules know their place (for caches)
        if hasattr(module, "layer_idx"):
            module.layer_idx = len(layers)
    layers.append(layer)
    for name in depth_names:
        if hasattr(model.config, name):
            setattr(model.config, name, len(layers))
    _reset_pooler(model)
    logger.info("Added a mean-pooling layer: %d encoder layers.", len(layers))


def _set_identity(linear: nn.Linear, scale: float) -> None:
    linear.weight.copy_(torch.eye(linear.out_features, linear.in_features) * scale)
    nn.init.zeros_(linear.bias)


def _reset_pooler(model: nn.Module) -> None:
    """BERT's pooler (dense + tanh) was fitted to the old [CLS] vector; make it pass the mean on."""
    pooler = getattr(getattr(model, "base_model", model), "pooler", None)
    dense = getattr(pooler, "dense", None)
    if isinstance(dense, nn.Linear) and dense.in_features == dense.out_features:
        with torch.no_grad():
            _set_identity(dense, 1.0)
