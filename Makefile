# The front door. `make help` lists the targets.
SHELL := /bin/bash
PYTHON_SYSTEM ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
PY := $(VENV)/bin/python
INSTALLED := $(VENV)/.installed
export TF_CPP_MIN_LOG_LEVEL ?= 2
export PYTHONUNBUFFERED := 1

.DEFAULT_GOAL := help
.PHONY: help install data run smoke test test-browser bench lab app clean

help: ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-13s %s\n", $$1, $$2}'

$(INSTALLED): requirements.txt pyproject.toml
	@test -x $(PY) || $(PYTHON_SYSTEM) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.txt -e .
	@touch $@

install: $(INSTALLED) ## Create or refresh .venv from requirements.txt and the digitlib package

data: $(INSTALLED) ## Fetch MNIST into dataset/ if missing, and verify it
	@$(PY) -m digitlib data

run: data ## The full pipeline: notebooks 01-05 with default parameters, rendered in notebooks/
	$(PY) -m digitlib run

smoke: data ## The pipeline on the smoke parameters (about 2 min), into runs/smoke/
	$(PY) -m digitlib run --params params/smoke.yaml --out runs/smoke

test: data ## Set up, then the full test suite (unit tests and notebook checks)
	$(PY) -m pytest

test-browser: data ## The real-browser test of the drawing interface (installs Debian's Chromium if missing)
	@command -v chromium >/dev/null || (apt-get update -qq && apt-get install -y -qq chromium)
	$(PY) -m pytest -m browser tests/test_browser.py

bench: data ## Benchmarks: our presets against the Keras recipe, then step times (about an hour), into reports/
	$(PY) benchmarks/train_benchmark.py
	$(PY) benchmarks/step_benchmark.py

lab: data ## Open JupyterLab on notebooks/ with the .venv kernel
	$(VENV)/bin/jupyter lab notebooks/

app: data ## Serve the drawing interface as a standalone page (Voila)
	JUPYTER_PATH=$(CURDIR)/digitlib $(VENV)/bin/voila notebooks/05_interface.ipynb --template=offline --no-browser --Voila.ip=127.0.0.1

clean: ## Remove runs/ and caches (keeps dataset/, models/ and .venv)
	rm -rf runs .pytest_cache
	find . -name __pycache__ -prune -exec rm -rf {} +
