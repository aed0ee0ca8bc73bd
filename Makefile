# `make demo` and `make test` each work on a fresh machine: they create .venv
# and install the project from pyproject.toml first.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

CHROMIUM ?= /usr/bin/chromium

.PHONY: demo test test-fast lint format clean

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

# The whole suite (what CI runs), one process: its timing-sensitive tests (live pages, rate
# probes, stop rules) are not yet steady with four workers on two cores.
# `make test TEST_WORKERS=4` runs it in pytest-xdist workers (about 11 min against 13).
TEST_WORKERS ?= 0
test: $(STAMP) $(CHROMIUM) lint
	$(BIN)/pytest -n $(TEST_WORKERS)

# The quick loop: no test marked slow (no worker subprocess, demo, browser or fault test).
test-fast: $(STAMP)
	$(BIN)/pytest -m "not slow" -n auto

# mypy's settings (which parts are strict, the pydantic plugin) are under [tool.mypy] in
# pyproject.toml.
lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy judge_service

format: $(STAMP)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache .mypy_cache judge_service.db judge_service.db-*
