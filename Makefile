# modelport — every target sets up what it needs on a fresh clone.
PYTHON ?= python3.11
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: setup demo demo-pipeline test check format bench bench-serving bench-stall bench-drift bench-shadow bench-pipeline bench-feedback bench-dashboard bench-batch bench-report calibrate clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV) || python3 -m venv $(VENV)

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	touch $(STAMP)

setup: $(STAMP)

demo: $(STAMP)
	$(BIN)/python demo/run_demo.py

# A detector -> recogniser pipeline; its second step's input drifts when the first one's does.
demo-pipeline: $(STAMP)
	$(BIN)/python demo/run_pipeline_demo.py

# Two worker processes (most tests wait on a server or a browser): ~13 min on 2 cores.
# PYTEST_ARGS= runs them in one process.
PYTEST_ARGS ?= -n 2

test: $(STAMP)
	$(BIN)/python -m pytest -q $(PYTEST_ARGS)

check: $(STAMP)
	$(BIN)/ruff check src tests bench demo
	$(BIN)/ruff format --check src tests bench demo
	$(BIN)/mypy src/modelport

format: $(STAMP)
	$(BIN)/ruff check --fix src tests bench demo
	$(BIN)/ruff format src tests bench demo

EVIDENTLY := bench/.venv-evidently

$(EVIDENTLY)/.installed: bench/requirements-evidently.txt
	$(PYTHON) -m venv $(EVIDENTLY) || python3 -m venv $(EVIDENTLY)
	echo '*' > $(EVIDENTLY)/.gitignore
	$(EVIDENTLY)/bin/python -m pip install --quiet -r bench/requirements-evidently.txt
	touch $@

MLSERVER := bench/.venv-mlserver

# Same scikit-learn as modelport's venv: the benchmark's model crosses over as a joblib file.
$(MLSERVER)/.installed: bench/requirements-mlserver.txt $(STAMP)
	$(PYTHON) -m venv $(MLSERVER) || python3 -m venv $(MLSERVER)
	echo '*' > $(MLSERVER)/.gitignore
	$(MLSERVER)/bin/python -m pip install --quiet -r bench/requirements-mlserver.txt \
		"scikit-learn==$$($(BIN)/python -c 'import sklearn; print(sklearn.__version__)')"
	touch $@

bench: bench-serving bench-stall bench-drift bench-shadow bench-pipeline bench-feedback bench-dashboard bench-batch bench-report

bench-serving: $(STAMP) $(MLSERVER)/.installed
	command -v wrk >/dev/null || { apt-get update -qq && apt-get install -y -qq wrk; }
	$(BIN)/python bench/serving.py --connections 1,8,16,64 --repeat 3 $(BENCH_ARGS)

# 60 s at 16 connections per server: p99, max and the requests slower than 20 ms.
bench-stall: $(STAMP) $(MLSERVER)/.installed
	command -v wrk >/dev/null || { apt-get update -qq && apt-get install -y -qq wrk; }
	$(BIN)/python bench/serving.py --stall-run 60 $(BENCH_ARGS)

bench-drift: $(STAMP) $(EVIDENTLY)/.installed
	$(BIN)/python bench/drift.py --evidently-modes preset,value-drift

bench-pipeline: $(STAMP)
	command -v wrk >/dev/null || { apt-get update -qq && apt-get install -y -qq wrk; }
	$(BIN)/python bench/pipeline.py $(BENCH_ARGS)

bench-shadow: $(STAMP)
	command -v wrk >/dev/null || { apt-get update -qq && apt-get install -y -qq wrk; }
	$(BIN)/python bench/shadow_overhead.py $(BENCH_ARGS)

# Quick run: make bench-feedback FEEDBACK_ROWS=10000,1000000
FEEDBACK_ROWS ?= 10000,10000000
bench-feedback: $(STAMP)
	$(BIN)/python bench/feedback.py --rows $(FEEDBACK_ROWS) $(BENCH_ARGS)

# The endpoint page with 30 days of hourly series for 50 features, timed in headless Chromium.
bench-dashboard: $(STAMP)
	command -v chromium >/dev/null || { apt-get update -qq && apt-get install -y -qq chromium chromium-driver; }
	$(BIN)/python bench/dashboard.py $(BENCH_ARGS)

# Quick run: make bench-batch BATCH_ROWS=200000
BATCH_ROWS ?= 2000000
bench-batch: $(STAMP)
	$(BIN)/python bench/batch.py --rows $(BATCH_ROWS) --repeat 3 $(BENCH_ARGS)

# Reports over a day of 1,000 log segments (1M rows x 20 features): cold, repeated, shifted.
bench-report: $(STAMP)
	$(BIN)/python bench/report_speed.py --repeats 3 $(BENCH_ARGS)

calibrate: $(STAMP)
	$(BIN)/python bench/calibrate_detectors.py
	$(BIN)/python bench/calibrate_drift.py
	$(BIN)/python bench/calibrate_rollout.py --reps 500 --seed 20261201
	$(BIN)/python bench/calibrate_multivariate.py

clean:
	rm -rf .modelport .pytest_cache .mypy_cache .ruff_cache bench/results
