# forecast: two commands on a fresh clone: `make report` and `make test`.
# Both create the virtual environment (.venv) and install the package first.

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   ?= .venv
BIN    := $(VENV)/bin
# The install stamp depends on pyproject.toml, so a changed dependency reinstalls.
STAMP  := $(VENV)/.installed
CONFIG ?= config/default.yaml
PYTEST_ARGS ?=
# Extra arguments of `forecast run`, e.g. make report ARGS="-p source=ucdp -p events_path=data/raw/ucdp/GEDEvent_v25_1.csv"
ARGS ?=

.DEFAULT_GOAL := help
.PHONY: help install report test test-fast lint bench gazetteer clean

help: ## Show this help
	@awk 'BEGIN {FS = ":.*##"; printf "Usage: make <target>\n\n"} /^[a-zA-Z_-]+:.*##/ {printf "  %-12s %s\n", $$1, $$2}' $(MAKEFILE_LIST)

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[dev,dask]"
	$(BIN)/python -m ipykernel install --sys-prefix --name forecast --display-name "forecast"
	@touch $(STAMP)

install: $(STAMP) ## Create .venv and install the package with its dev extras

report: $(STAMP) ## Run the whole notebook suite on the embedded synthetic scenario; HTML under reports/
	$(BIN)/forecast run --config $(CONFIG) --publish $(ARGS)

test: $(STAMP) ## Run the whole test suite (slow tests included)
	$(BIN)/python -m pytest $(PYTEST_ARGS)

test-fast: $(STAMP) ## Run the tests not marked slow
	$(BIN)/python -m pytest -m "not slow" $(PYTEST_ARGS)

lint: $(STAMP) ## Check style with ruff (the notebooks included)
	$(BIN)/ruff check src tests scripts bench docs notebooks

# The peers of the benchmark (statsforecast) need pandas < 3, so benchmarks get
# their own environment and never change the one the tests run in.
BENCH_VENV ?= .venv-bench
$(BENCH_VENV)/.installed: pyproject.toml
	@test -x $(BENCH_VENV)/bin/python || $(PYTHON) -m venv $(BENCH_VENV)
	$(BENCH_VENV)/bin/python -m pip install --quiet --upgrade pip
	$(BENCH_VENV)/bin/python -m pip install --quiet -e ".[dev,dask,bench]"
	@touch $@

bench: $(BENCH_VENV)/.installed ## Run the benchmarks (own venv, .venv-bench); figures go to bench/RESULTS.md
	@for script in bench/bench_*.py; do echo "== $$script"; $(BENCH_VENV)/bin/python $$script || exit 1; done

gazetteer: $(STAMP) ## Rebuild the gazetteer fact tables from ../shared/data/afghanistan (and Pakistan's)
	$(BIN)/python scripts/build_gazetteer.py
	$(BIN)/python scripts/build_gazetteer_pak.py

clean: ## Remove the virtual environment and caches (never data/raw or reports)
	rm -rf $(VENV) $(BENCH_VENV) .pytest_cache .ruff_cache src/*.egg-info
