# The front door. `make help` lists the targets.
SHELL := /bin/bash
PYTHON_SYSTEM ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
PY := $(VENV)/bin/python
INSTALLED := $(VENV)/.installed
SWEEP ?= params/sweeps/smoke.yaml
export TF_CPP_MIN_LOG_LEVEL ?= 2
export PYTHONUNBUFFERED := 1

.DEFAULT_GOAL := help
.PHONY: help install lock lint format data run reader smoke sweep test test-fast test-browser load-test bench lab app clean

help: ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-13s %s\n", $$1, $$2}'

# The exact versions of requirements.lock, then digitlib itself (editable, its dependencies are in the lock).
$(INSTALLED): requirements.lock pyproject.toml
	@test -x $(PY) || $(PYTHON_SYSTEM) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.lock
	$(PY) -m pip install --quiet --no-deps -e .
	@touch $@

install: $(INSTALLED) ## Create or refresh .venv from requirements.lock (exact versions) and the digitlib package

data: $(INSTALLED) ## Fetch MNIST (and Fashion-MNIST, for notebook 04) into dataset/ if missing, and verify them
	@$(PY) -m digitlib data

run: data ## The full pipeline, rendered in notebooks/ and reports/; make run PARAMS=params/NAME.yaml runs into runs/NAME/
	@if [ -n "$(PARAMS)" ]; then \
	  $(PY) -m digitlib run --params $(PARAMS) --out runs/$(basename $(notdir $(PARAMS))); \
	else \
	  $(PY) -m digitlib run && $(PY) -m digitlib results; \
	fi

reader: data ## Train the number reader again (half an hour or more on 2 cores), then render the notebooks that read numbers (07, then 04 and 06)
	$(PY) -m digitlib reader
	$(PY) -m digitlib run --only 07 && $(PY) -m digitlib run --only 04 06 && $(PY) -m digitlib results

smoke: data ## The pipeline on the smoke parameters (a few minutes), into runs/smoke/
	$(PY) -m digitlib run --params params/smoke.yaml --out runs/smoke

test: data ## Set up, then the full test suite (unit tests, training tests and notebook runs checked by nbval)
	$(PY) -m pytest

test-fast: data ## The quick loop: unit tests only, no slow or browser tests (pytest -m "not slow and not browser")
	$(PY) -m pytest -m "not slow and not browser"

test-browser: data ## The real-browser test of the drawing interface (installs Debian's Chromium if missing)
	@command -v chromium >/dev/null || (apt-get update -qq && apt-get install -y -qq chromium)
	$(PY) -m pytest -m browser tests/test_browser.py

load-test: data ## The drawing app under load in Chromium: 1, 4, 8 visitors at once, 100 visits (about 15 min), into reports/app_load.json
	@command -v chromium >/dev/null || (apt-get update -qq && apt-get install -y -qq chromium)
	$(PY) benchmarks/app_load.py
	$(PY) -m digitlib results

lint: $(INSTALLED) ## Lint, format and type checks (ruff check, ruff format --check, mypy digitlib); fails on any problem
	@status=0; \
	echo "ruff check ."; $(VENV)/bin/ruff check . || status=1; \
	echo "ruff format --check ."; $(VENV)/bin/ruff format --check . || status=1; \
	echo "mypy digitlib"; $(VENV)/bin/mypy digitlib || status=1; \
	exit $$status

format: $(INSTALLED) ## Rewrite code and notebooks: ruff check --fix (imports, upgrades), then ruff format
	@status=0; \
	$(VENV)/bin/ruff check --fix . || status=1; \
	$(VENV)/bin/ruff format . || status=1; \
	if [ $$status -ne 0 ]; then echo "make format: the problems listed above need a hand" >&2; fi; \
	exit $$status

lock: ## Refresh requirements.lock: requirements.txt resolved in a scratch venv (then make install, test, commit)
	@set -euo pipefail; tmp=$$(mktemp -d); trap 'rm -rf "$$tmp"' EXIT; \
	echo "resolving requirements.txt in a scratch venv ($$tmp)"; \
	$(PYTHON_SYSTEM) -m venv "$$tmp/venv"; \
	"$$tmp/venv/bin/python" -m pip install --quiet --upgrade pip; \
	"$$tmp/venv/bin/python" -m pip install --quiet -r requirements.txt; \
	{ echo "# Exact versions that make install installs, resolved from requirements.txt by make lock: do not edit."; \
	  "$$tmp/venv/bin/python" -m pip freeze --exclude-editable; } > "$$tmp/requirements.lock"; \
	if grep -nE ' @ |^-e ' "$$tmp/requirements.lock"; then echo "the lock above names local paths: not written" >&2; exit 1; fi; \
	mv "$$tmp/requirements.lock" requirements.lock; \
	echo "requirements.lock written: now make install, make test, and commit it"

sweep: data ## A parameter sweep on Dask: make sweep SWEEP=params/sweeps/NAME.yaml, into reports/sweeps/NAME.csv
	$(PY) -m digitlib sweep $(SWEEP)

bench: data ## Benchmarks: our presets against the Keras recipe over 5 seeds, then step times, into reports/
	$(PY) benchmarks/train_benchmark.py
	$(PY) benchmarks/step_benchmark.py
	$(PY) -m digitlib results

lab: data ## Open JupyterLab on notebooks/ with the .venv kernel
	$(VENV)/bin/jupyter lab notebooks/

app: $(INSTALLED) ## Serve the drawing pad at http://127.0.0.1:8866 (settings: params/app.yaml)
	$(PY) -m digitlib app

clean: ## Remove runs/ and caches (keeps dataset/, models/ and .venv)
	rm -rf runs .pytest_cache .ruff_cache .mypy_cache
	find . -name __pycache__ -prune -exec rm -rf {} +
