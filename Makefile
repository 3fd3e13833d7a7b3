# imdb-sentiment: `make setup`, `make demo`, `make notebook`, `make train`, `make app`, `make tensorboard`, `make test`, `make lint`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
TORCH_VERSION ?= 2.13.0
# Empty MODEL / DATA: DistilBERT and IMDb from the Hub, or the offline default without the Hub.
MODEL ?=
DATA ?=
MODEL_DIR ?= saved_model
ARGS ?=

.PHONY: setup browser train test lint format app demo notebook tensorboard clean

setup: $(VENV)/.installed

# Reinstalls only when the dependency lists change; torch is pinned first so pip never swaps
# in another build to satisfy a range.
$(VENV)/.installed: pyproject.toml requirements.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q torch==$(TORCH_VERSION)
	$(BIN)/python -m pip install -q -e ".[dev,offline,notebook,ray,tensorboard]"
	touch $@

# The browser test drives Debian's chromium through Playwright; no browser is downloaded.
browser:
	@command -v chromium >/dev/null 2>&1 || { \
		echo "Installing chromium (Debian package) for the browser test"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; }

train: setup
	$(BIN)/python -m imdb_sentiment train $(if $(MODEL),--model $(MODEL)) $(if $(DATA),--data $(DATA)) \
		--output-dir $(MODEL_DIR) $(ARGS)

test: setup browser
	$(BIN)/python -m pytest

lint: setup
	$(BIN)/ruff check src tests benchmarks tools gradioApp.py
	$(BIN)/ruff format --check src tests benchmarks tools gradioApp.py

format: setup
	$(BIN)/ruff check --fix src tests benchmarks tools gradioApp.py
	$(BIN)/ruff format src tests benchmarks tools gradioApp.py

app: setup
	$(BIN)/python gradioApp.py --model-dir $(MODEL_DIR) $(ARGS)

demo: setup
	test -f $(MODEL_DIR)/model.safetensors || $(MAKE) train
	$(MAKE) app

# JupyterLab on 127.0.0.1 with Jupyter's own token (printed in the URL), createModel.ipynb open.
notebook: setup
	$(BIN)/jupyter lab --ip 127.0.0.1 --no-browser createModel.ipynb

# The curves of `train --report-to tensorboard` (MODEL_DIR/runs/), on 127.0.0.1 only.
tensorboard: setup
	$(BIN)/tensorboard --logdir $(MODEL_DIR)/runs --host 127.0.0.1

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache src/*.egg-info
