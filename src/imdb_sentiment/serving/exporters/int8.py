"""The rule both int8 exporters share: which matrix products stay in floating point.

    widest_products({"layer.0/intermediate": 384, "layer.0/output": 1536})  # -> ["layer.0/output"]

``exporters/onnx.py`` (ONNX Runtime dynamic int8) and ``exporters/openvino.py`` (NNCF static int8)
each read the widths from their own graph and pass the names this returns to their quantizer.
"""

from __future__ import annotations


def widest_products(widths: dict[str, int]) -> list[str]:
    """Of ``{product name: width of its input}``, the products reading the widest input: in a
    transformer, each feed-forward block's down-projection, which reads the GELU's wide activations.

    int8 keeps these in float. Their activations have the outliers that per-tensor activation
    scales handle worst: on two trained MiniLM models, leaving them in float halved the labels int8
    moved (1.7% to 0.8% with ONNX Runtime, 1.6% to 0.6% with NNCF, 2,000 unseen reviews) for 10-19%
    of int8's speed (docs/benchmarks.md, "int8 that agrees with fp32"). Nothing is kept when all
    products read the same width (not a transformer's feed-forward).
    """
    if len(set(widths.values())) < 2:
        return []
    widest = max(widths.values())
    return [name for name, width in widths.items() if width == widest]
