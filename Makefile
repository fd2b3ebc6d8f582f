# Entry points: `make render` (the dev stack, offline) and `make test` (lint, types, tests).
# Both bootstrap .venv idempotently; nothing here needs the Pulumi CLI or cloud credentials.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# Programs type-checked one by one: each is its own __main__ with its own import root.
PROGRAMS := . $(wildcard stacks/*) $(wildcard examples/*)

.PHONY: venv tools crds toolchain render golden rehearse test e2e lint typecheck pytest bench clean

# The render clock of the committed golden files (tests/test_render_dev_stack.py uses the same).
GOLDEN_NOW := 2026-01-01T00:00:00Z

venv: $(STAMP)

# Progress goes to stderr: on the first run this takes minutes and pip is quiet.
$(STAMP): pyproject.toml constraints.txt requirements.txt
	@test -x $(BIN)/python || { \
		echo "make: setting up $(VENV) (first run: installs pulumi, pulumi-gcp," \
			"pulumi-kubernetes, pulumi-tls, cryptography and the dev tools; a few minutes)" >&2; \
		$(PYTHON) -m venv $(VENV); }
	@echo "make: pip install -e '.[dev]' into $(VENV) (pinned by constraints.txt)..." >&2
	@started=$$(date +%s); \
		$(BIN)/python -m pip install --quiet --disable-pip-version-check -c constraints.txt -e '.[dev]' \
		&& echo "make: $(VENV) ready in $$(( $$(date +%s) - started )) s" >&2
	@touch $(STAMP)

# The dev stack, rendered offline for review: open rendered/summary.md first.
render: $(STAMP)
	$(BIN)/meshlink render . --stack dev --out rendered

# Refresh the committed golden render after an intended change; the PR shows its diff.
golden: $(STAMP)
	$(BIN)/meshlink render . --stack dev --out tests/golden/dev --now $(GOLDEN_NOW)

# Real MySQL traffic through the rendered link, and the refusal cases. Renders with the
# current clock: certificates from the golden clock have long expired.
rehearse: $(STAMP) tools
	$(BIN)/meshlink render . --stack dev --out build/rehearse --include-private-keys
	$(BIN)/meshlink rehearse build/rehearse

# MariaDB and HAProxy for the rehearsal's end-to-end tests (installed with apt when missing).
tools:
	bash scripts/ensure-rehearsal-tools.sh

# The pinned Istio CRD sets, from the istio.io/api Go module into the toolchain cache (seconds).
crds:
	@echo "make: Istio CRD sets (fetched from the istio.io/api Go module on the first run)" >&2
	MESHLINK_TOOLCHAIN_PIECES=istio_crds bash scripts/toolchain.sh

# The real-engine toolchain (pulumi CLI, Kubernetes provider, kube-apiserver, etcd), built from
# Go modules into ~/.cache/meshlink/toolchain; a no-op when everything is cached.
toolchain:
	bash scripts/toolchain.sh

# The real engine against two local Kubernetes control planes (see README: what it covers).
e2e: $(STAMP) toolchain
	$(BIN)/pytest -q -p no:cacheprovider -o tmp_path_retention_policy=none tests/e2e

# meshlink against its floors, side by side (construction, render, RSS, critical path),
# then `pulumi preview` on the real engine against a program of as many plain resources;
# several minutes. `$(BIN)/python benchmarks/bench.py --quick` is the smoke run.
bench: $(STAMP) toolchain
	$(BIN)/python benchmarks/bench.py
	$(BIN)/python benchmarks/real_engine_preview.py

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports

typecheck: $(STAMP)
	$(BIN)/mypy
	for program in $(PROGRAMS); do $(BIN)/mypy $$program/__main__.py || exit 1; done

pytest: $(STAMP) tools crds
	$(BIN)/pytest -q --ignore=tests/e2e

test: lint typecheck pytest

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache build rendered
