# `make demo` and `make test` each work on a fresh machine: they create .venv
# and install the project from pyproject.toml first.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

CHROMIUM ?= /usr/bin/chromium

.PHONY: demo test lint format clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

# The dashboard's browser tests drive Debian's chromium (Playwright never downloads one here).
$(CHROMIUM):
	apt-get install -y chromium \
	  || (apt-get update && apt-get install -y chromium)

demo: $(STAMP)
	$(BIN)/judge-service demo

test: $(STAMP) $(CHROMIUM) lint
	$(BIN)/pytest

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: $(STAMP)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache judge_service.db judge_service.db-*
