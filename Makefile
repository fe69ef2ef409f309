# Green Shield developer entry points. `make help` lists them.
#
#   make demo   simulate a day of parcels and check it (no servers needed)
#   make test   the whole test suite against a real Kafka broker and PostgreSQL

SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= $(shell command -v python3.11 2>/dev/null || command -v python3)
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
GS     := $(BIN)/greenshield

PARCELS ?= 2000
SEED    ?= 7
DEMO    := var/demo

.PHONY: help venv test demo kafka-up kafka-down bench lint

help:
	@echo "make demo        simulate a day ($(PARCELS) parcels, seed $(SEED)) and check it; prints the violations"
	@echo "make test        run all tests against a fresh local Kafka broker and PostgreSQL (PYTEST_ARGS=... to filter)"
	@echo "make venv        create $(VENV) and install the package with its test extras (only when pyproject.toml changed)"
	@echo "make kafka-up    start the local Kafka broker on 127.0.0.1:19092 (data in var/kafka)"
	@echo "make kafka-down  stop it"
	@echo "make bench       run the benchmarks"
	@echo "make lint        type-check with mypy"

# The stamp is newer than pyproject.toml once the install succeeded, so a second run does nothing.
venv: $(STAMP)

$(STAMP): pyproject.toml
	@if [ ! -x $(BIN)/python ]; then \
		echo "creating $(VENV) with $(PYTHON)"; \
		$(PYTHON) -m venv $(VENV) || { echo "could not create a venv: on Debian/Ubuntu run 'sudo apt-get install -y python3-venv'" >&2; exit 1; }; \
	fi
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[test]'
	@touch $@

test: venv
	scripts/test.sh $(PYTEST_ARGS)

demo: venv
	@mkdir -p $(DEMO)
	$(GS) simulate --parcels $(PARCELS) --seed $(SEED) > $(DEMO)/day.jsonl
	$(GS) check $(DEMO)/day.jsonl --format table

kafka-up: venv
	$(GS) kafka up

kafka-down: venv
	$(GS) kafka down

bench: venv
	@if [ -x benchmarks/run.sh ]; then \
		benchmarks/run.sh; \
	elif [ -f benchmarks/run.sh ]; then \
		bash benchmarks/run.sh; \
	elif [ -f benchmarks/run.py ]; then \
		$(BIN)/python benchmarks/run.py; \
	elif [ -f benchmarks/__main__.py ]; then \
		$(BIN)/python -m benchmarks; \
	else \
		echo "no benchmarks yet (expected benchmarks/run.sh)"; \
	fi

lint: venv
	$(BIN)/mypy greenshield
