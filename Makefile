# Green Shield developer entry points. `make help` lists them.
#
#   make demo   the whole pipeline over a simulated Double 11 day, with a live dashboard (Ctrl-C stops it)
#   make test   the whole test suite against a real Kafka broker and PostgreSQL

SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= $(shell command -v python3.11 2>/dev/null || command -v python3)
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
GS     := $(BIN)/greenshield

# make demo: PARCELS=, RATE= (events/s), SEED= and DEMO_ARGS= (any `greenshield demo --help` option)
PARCELS   ?=
RATE      ?=
SEED      ?=
DEMO_ARGS ?=
DEMO_OPTS := $(if $(PARCELS),--parcels $(PARCELS)) $(if $(RATE),--rate $(RATE)) $(if $(SEED),--seed $(SEED)) $(DEMO_ARGS)

.PHONY: help venv test demo kafka-up kafka-down bench lint

help:
	@echo "make demo        stream a simulated Double 11 day through Kafka, the worker and the dashboard (no Java: --embedded)"
	@echo "make test        run all tests against a fresh local Kafka broker and PostgreSQL (PYTEST_ARGS=... to filter)"
	@echo "make venv        create $(VENV) and install the package with its test extras (only when pyproject.toml changed)"
	@echo "make kafka-up    start the local Kafka broker on 127.0.0.1:19092 (data in var/kafka)"
	@echo "make kafka-down  stop it"
	@echo "make bench       run the benchmarks"
	@echo "make lint        type-check with mypy, check the import rules"

# The stamp is newer than pyproject.toml once the install succeeded, so a second run does nothing.
venv: $(STAMP)

$(STAMP): pyproject.toml
	@if [ ! -x $(BIN)/python ]; then \
		echo "creating $(VENV) with $(PYTHON)"; \
		$(PYTHON) -m venv $(VENV) || { echo "could not create a venv: on Debian/Ubuntu run 'sudo apt-get install -y python3-venv'" >&2; exit 1; }; \
	fi
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[test,bench]'
	@touch $@

test: venv
	scripts/test.sh $(PYTEST_ARGS)

# Kafka mode needs java and mvn (the local broker); without them the demo runs --embedded (no Kafka)
demo: venv
	@if command -v java >/dev/null 2>&1 && command -v mvn >/dev/null 2>&1; then \
		exec $(GS) demo $(DEMO_OPTS); \
	else \
		echo "make demo: java or mvn is missing, so the demo runs WITHOUT Kafka (greenshield demo --embedded):"; \
		echo "           same day, same dashboard, events go straight to the SQLite store."; \
		echo "           For the Kafka pipeline: sudo apt-get install -y openjdk-17-jre-headless maven"; \
		exec $(GS) demo --embedded $(DEMO_OPTS); \
	fi

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
	$(BIN)/lint-imports
