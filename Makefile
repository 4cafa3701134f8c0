# tollguard — every command a fresh clone needs. `make demo` and `make test` are the two that matter.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
# the clients follow the broker scripts/kafka.sh starts: KAFKA_PORT alone moves both (TOLLGUARD_BROKER overrides)
export TOLLGUARD_BROKER ?= kafka://127.0.0.1:$(or $(KAFKA_PORT),9092)
export PYTHON := $(abspath $(PY))

.PHONY: help venv kafka-up kafka-down test test-unit engine-check demo bench schema clean

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

# The Rust engine (engine/, module streams._engine): the editable install above builds it once; an edit
# of the crate rebuilds it here, so no test ever runs a stale engine.
ENGINE := streams/_engine.abi3.so
ENGINE_SRC := $(wildcard engine/src/*.rs engine/src/*/*.rs) engine/Cargo.toml engine/Cargo.lock
$(ENGINE): $(ENGINE_SRC) | $(STAMP)
	@command -v cargo >/dev/null || { echo "cargo not found: install Rust with rustup (README: Building)" >&2; exit 1; }
	PATH="$(abspath $(VENV))/bin:$$PATH" $(PY) -m pip install -q --no-deps --no-build-isolation -e .
	@touch $(ENGINE)

venv: $(STAMP) $(ENGINE)

# The crate's own checks: its pure-Rust tests, and clippy with warnings as errors (with and without the bindings).
engine-check:
	cargo test --manifest-path engine/Cargo.toml --locked -q
	cargo clippy --manifest-path engine/Cargo.toml --locked -q --all-targets -- -D warnings
	cargo clippy --manifest-path engine/Cargo.toml --locked -q --all-targets --features python -- -D warnings

kafka-up: $(STAMP)
	scripts/kafka.sh up

kafka-down:
	scripts/kafka.sh down

# Starts the broker, runs everything, stops the broker even when tests fail; keeps pytest's exit code.
test: $(STAMP) $(ENGINE) engine-check
	@scripts/setup-system.sh
	@scripts/s3proxy.sh fetch
	@scripts/kafka.sh up
	@set +e; TOLLGUARD_FIGURES=$(CURDIR)/docs/figures $(PY) -m pytest $(PYTEST_ARGS); rc=$$?; scripts/kafka.sh down; exit $$rc

test-unit: $(STAMP) $(ENGINE)
	TOLLGUARD_FIGURES=$(CURDIR)/docs/figures $(PY) -m pytest -m "not kafka" $(PYTEST_ARGS)

demo: $(STAMP) $(ENGINE)
	@scripts/demo.sh

# Not part of `make test`: starts the broker if needed (and stops it after), generates data once into .cache/bench.
bench: $(STAMP) $(ENGINE)
	$(PY) bench/run.py $(BENCH_ARGS)

schema: $(STAMP)
	$(PY) -m streams.cli schema --write streams/schemas
	$(PY) -m streams.rules > docs/rules.md
	$(PY) -m streams.audit > docs/audit-checks.md

clean:
	rm -rf $(VENV) .pytest_cache build *.egg-info engine/target $(ENGINE)
