# modelport — every target sets up what it needs on a fresh clone.
PYTHON ?= python3.11
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: setup demo test check format bench bench-serving bench-drift clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV) || python3 -m venv $(VENV)

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	touch $(STAMP)

setup: $(STAMP)

demo: $(STAMP)
	$(BIN)/python demo/run_demo.py

test: $(STAMP)
	$(BIN)/python -m pytest -q $(PYTEST_ARGS)

check: $(STAMP)
	$(BIN)/ruff check src tests bench demo
	$(BIN)/ruff format --check src tests bench demo
	$(BIN)/mypy src/modelport

format: $(STAMP)
	$(BIN)/ruff check --fix src tests bench demo
	$(BIN)/ruff format src tests bench demo

bench: bench-serving bench-drift

bench-serving: $(STAMP)
	$(BIN)/python bench/serving.py

bench-drift: $(STAMP)
	$(BIN)/python bench/drift.py

clean:
	rm -rf .modelport .pytest_cache .mypy_cache .ruff_cache bench/results
