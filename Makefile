# The README's commands. Every target creates the virtual environment when it is missing.
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
SCALE ?= 1000000
# Test processes: the suite waits on PostgreSQL and Airflow subprocesses much of the time, so two
# workers finish it in well under the time of one even on 2 cores (TEST_WORKERS=0 runs in-process).
TEST_WORKERS ?= 2

.PHONY: install demo test lint format airflow bench browser-deps clean-state

install: $(STAMP)

$(STAMP): pyproject.toml constraints.txt
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c constraints.txt -e ".[dev]"
	@touch $(STAMP)

## demo: simulate the departments and run the whole pipeline through Airflow, then summarize
demo: install
	$(BIN)/python -m community_dw.demo

## test: the whole test suite against a real PostgreSQL (embedded unless CDW_TEST_DATABASE_URL is set)
test: install browser-deps
	$(BIN)/pytest -n $(TEST_WORKERS) --dist loadgroup

## browser-deps: Debian's Chromium (and CJK fonts) for the browser tests, installed when missing
browser-deps: install
	$(BIN)/python -m community_dw.browser_deps

lint: install
	$(BIN)/ruff check .

format: install
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

## airflow: Airflow 3 (api-server, scheduler, dag-processor, triggerer) on localhost with the project's DAGs
airflow: install
	$(BIN)/python -m community_dw.airflow_local

bench: install
	$(BIN)/python bench/run.py --scale $(SCALE)

clean-state:
	-$(BIN)/cdw warehouse stop
	rm -rf .cdw
