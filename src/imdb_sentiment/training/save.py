"""Save a tokenizer so that a plain ``transformers.pipeline`` sees reviews as training did.

save_tokenizer(tokenizer, staging, max_length=512, truncation="head_tail")
"""

from __future__ import annotations

import json
from pathlib import Path

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
