# tollguard — every command a fresh clone needs. `make demo` and `make test` are the two that matter.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
export TOLLGUARD_BROKER ?= kafka://127.0.0.1:9092
export PYTHON := $(abspath $(PY))

.PHONY: help venv kafka-up kafka-down test test-unit demo bench schema clean

help:
	@echo "make demo        stream the bundled fixture day through the detector on a real Kafka broker"
	@echo "make test        virtualenv + install + broker up + all tests + broker down"
	@echo "make test-unit   tests that need no broker"
	@echo "make kafka-up    start the local single-node Kafka broker (fetches jars once)"
	@echo "make kafka-down  stop it"
	@echo "make schema      regenerate streams/schemas/*.json and docs/rules.md from the code"
	@echo "make bench       measure throughput, latency, memory and growth; writes BENCHMARKS.md (~30 min)"

# constraints.txt: the exact versions the tests were run with (pyproject.toml has lower bounds only).
$(STAMP): pyproject.toml constraints.txt
	@test -x $(PY) || $(PYTHON_BOOT) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -c constraints.txt -e '.[test]'
	@touch $(STAMP)

PYTHON_BOOT := $(shell command -v python3.11 || command -v python3)
venv: $(STAMP)

kafka-up: $(STAMP)
	scripts/kafka.sh up

kafka-down:
	scripts/kafka.sh down

# Starts the broker, runs everything, stops the broker even when tests fail; keeps pytest's exit code.
test: $(STAMP)
	@scripts/setup-system.sh
	@scripts/kafka.sh up
	@set +e; TOLLGUARD_FIGURES=$(CURDIR)/docs/figures $(PY) -m pytest $(PYTEST_ARGS); rc=$$?; scripts/kafka.sh down; exit $$rc

test-unit: $(STAMP)
	TOLLGUARD_FIGURES=$(CURDIR)/docs/figures $(PY) -m pytest -m "not kafka" $(PYTEST_ARGS)

demo: $(STAMP)
	@scripts/demo.sh

# Not part of `make test`: starts the broker if needed (and stops it after), generates data once into .cache/bench.
bench: $(STAMP)
	$(PY) bench/run.py $(BENCH_ARGS)

schema: $(STAMP)
	$(PY) -m streams.cli schema --write streams/schemas
	$(PY) -m streams.rules > docs/rules.md

clean:
	rm -rf $(VENV) .pytest_cache build *.egg-info
