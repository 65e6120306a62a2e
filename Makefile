# tearsignals — every target installs what it needs into .venv first.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
PYTEST_ARGS ?=

.PHONY: install demo test test-all lint format bench docs validation clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(BIN)/tearsignals demo --lake data/demo/lake

test: $(STAMP)
	$(BIN)/python -m pytest -q -m "not slow" $(PYTEST_ARGS)

test-all: $(STAMP)
	$(BIN)/python -m pytest -q $(PYTEST_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check src flows tests bench
	$(BIN)/ruff format --check src flows tests bench
	$(BIN)/mypy

format: $(STAMP)
	$(BIN)/ruff check --fix src flows tests bench
	$(BIN)/ruff format src flows tests bench

bench: $(STAMP)
	$(BIN)/python bench/hrv_windows.py
	$(BIN)/python bench/apple_xml.py --size-mb 100

docs: $(STAMP)
	$(BIN)/python -m tearsignals.contract.expectations
	$(BIN)/python -m tearsignals.contract.outputs_doc > docs/outputs.md

validation: $(STAMP)
	$(BIN)/python bench/validation_report.py

clean:
	rm -rf $(VENV) data/demo .pytest_cache .mypy_cache .ruff_cache
