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

# The suite in two lanes at once (tests/lanes.py): the tests that mostly wait beside the rest.
test: setup lint
	$(BIN)/python tests/lanes.py --durations=15

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
