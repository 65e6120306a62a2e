# tearsignals — every target installs what it needs into .venv first.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
PYTEST_ARGS ?=
# The suite runs on every core (pytest-xdist); tests/conftest.py groups the tests that must
# share a process or keep apart. TEST_WORKERS=0 runs it in this one process.
TEST_WORKERS ?= auto
XDIST := -n $(TEST_WORKERS) --dist loadgroup --no-loadscope-reorder

# Scripts outside the test run (bench/, the corpus report) import the shared test helpers
# (tests/support) from the repository root; pytest finds them through pythonpath in pyproject.
RUN_SCRIPT := PYTHONPATH=. $(BIN)/python

CHROMIUM := /usr/bin/chromium

.PHONY: install browser demo test test-all lint format bench docs validation corpus-report clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

# The report tests render pages in headless Chromium (Debian's package): installed here when it
# is missing and we may (root with apt-get); elsewhere those tests skip and say why.
browser:
	@if [ ! -x $(CHROMIUM) ] && [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
		echo "installing Debian's chromium for the report tests"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
	fi

demo: $(STAMP)
	$(BIN)/tearsignals demo --lake data/demo/lake

test: $(STAMP) browser
	$(BIN)/python -m pytest -q -m "not slow" $(XDIST) $(PYTEST_ARGS)

test-all: $(STAMP) browser
	$(BIN)/python -m pytest -q $(XDIST) $(PYTEST_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check src flows tests bench
	$(BIN)/ruff format --check src flows tests bench
	$(BIN)/mypy

format: $(STAMP)
	$(BIN)/ruff check --fix src flows tests bench
	$(BIN)/ruff format src flows tests bench

bench: $(STAMP)
	$(RUN_SCRIPT) bench/hrv_windows.py
	$(RUN_SCRIPT) bench/apple_xml.py --size-mb 100

docs: $(STAMP)
	$(BIN)/python -m tearsignals.contract.expectations
	$(BIN)/python -m tearsignals.contract.outputs_doc > docs/outputs.md

validation: $(STAMP)
	$(RUN_SCRIPT) bench/validation_report.py

corpus-report: $(STAMP)
	$(RUN_SCRIPT) tests/corpus/report.py

clean:
	rm -rf $(VENV) data/demo .pytest_cache .mypy_cache .ruff_cache
