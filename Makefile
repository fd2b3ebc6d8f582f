# Entry points: `make render` (the dev stack, offline) and `make test` (lint, types, tests).
# Both bootstrap .venv idempotently; nothing here needs the Pulumi CLI or cloud credentials.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# Programs type-checked one by one: each is its own __main__ with its own import root.
PROGRAMS := . $(wildcard stacks/*)

.PHONY: venv tools test lint typecheck pytest clean

venv: $(STAMP)

$(STAMP): pyproject.toml constraints.txt requirements.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -c constraints.txt -e '.[dev]'
	touch $(STAMP)

# MariaDB and HAProxy for the rehearsal's end-to-end tests (installed with apt when missing).
tools:
	bash scripts/ensure-rehearsal-tools.sh

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(STAMP)
	$(BIN)/mypy

pytest: $(STAMP) tools
	$(BIN)/pytest -q

test: lint typecheck pytest

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache build rendered
