VENV := .venv
BIN := $(VENV)/bin

.PHONY: setup run test lint unit integration bench

# Prepare the host: packages, dockerd + gVisor, RabbitMQ, PostgreSQL, .venv, sandbox images
# (idempotent). Only some languages' images: make setup LANGUAGES=python,go,c
setup:
	@bash scripts/setup.sh

# The combined service (API + workers, in-process broker) on 127.0.0.1:8080.
run: setup
	$(BIN)/runakode $(ARGS)

# The whole suite, one test at a time: run beside each other, the load-sensitive tests failed
# (a hostile program's "answered within a second", a fault's recovery time).
test: setup lint
	$(BIN)/pytest tests --durations=15

lint:
	$(BIN)/ruff check src tests bench sandbox/launcher
	$(BIN)/ruff format --check src tests bench sandbox/launcher
	$(BIN)/mypy

unit:
	$(BIN)/pytest tests/unit

integration: setup
	$(BIN)/pytest tests/integration

bench: setup
	$(BIN)/python -m bench
