# The README's commands. Every target sets up what it needs from the project's own files.
SHELL := /bin/bash
PYTHON_BOOT ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
BUF_VERSION := 1.75.0
BUF := .tools/node_modules/.bin/buf
PROTO_DEPS := build/proto-deps
PROTOS := $(wildcard proto/neo_alexandria/v1/*.proto)
# The released contracts that every change must stay wire-compatible with (`buf breaking`).
BREAKING_BASE := 5c2ac3a
BREAKING_DIR := build/breaking-base
REPO ?= .
PYTEST_ARGS ?=

.PHONY: demo test install gen check-gen lint buf-lint buf-breaking proto-deps clean

# --- setup -----------------------------------------------------------------
$(PY):
	$(PYTHON_BOOT) -m venv $(VENV) || python3 -m venv $(VENV)

$(STAMP): pyproject.toml | $(PY)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

$(BUF):
	npm install --silent --no-audit --no-fund --no-package-lock --prefix .tools @bufbuild/buf@$(BUF_VERSION)

# google/api/*.proto come from the googleapis-common-protos wheel, so buf needs no network.
proto-deps: $(STAMP)
	@mkdir -p $(PROTO_DEPS)/google/api
	@site=$$($(PY) -c 'import google.api.annotations_pb2 as m, os; print(os.path.dirname(m.__file__))'); \
	  cp $$site/annotations.proto $$site/http.proto $(PROTO_DEPS)/google/api/

# --- contracts ---------------------------------------------------------------
gen: $(STAMP) proto-deps
	$(PY) -m alexandria.codegen --out gen
	$(PY) -m alexandria.api_docs

check-gen: $(STAMP) proto-deps
	$(PY) -m alexandria.codegen --check gen
	$(PY) -m alexandria.api_docs --check

# buf comes from npm: CI requires it; a machine without npm skips this one check with a warning.
buf-lint: proto-deps
	@if command -v npm >/dev/null 2>&1; then \
	  $(MAKE) --no-print-directory $(BUF) && $(BUF) lint && echo "buf lint: ok"; \
	elif [ -n "$$CI" ]; then echo "CI: npm is required for buf lint" >&2; exit 1; \
	else echo "warning: npm not found, skipping buf lint (CI runs it)" >&2; fi

# The base's proto/ and buf.yaml come from git history (a clone with history is needed),
# with the same google/api files beside them.
buf-breaking: proto-deps
	@if command -v npm >/dev/null 2>&1; then \
	  $(MAKE) --no-print-directory $(BUF) && rm -rf $(BREAKING_DIR) && mkdir -p $(BREAKING_DIR)/build && \
	  git archive $(BREAKING_BASE) proto buf.yaml | tar -x -C $(BREAKING_DIR) && \
	  cp -r $(PROTO_DEPS) $(BREAKING_DIR)/build/ && \
	  $(BUF) breaking --against $(BREAKING_DIR) && echo "buf breaking against $(BREAKING_BASE): ok"; \
	elif [ -n "$$CI" ]; then echo "CI: npm is required for buf breaking" >&2; exit 1; \
	else echo "warning: npm not found, skipping buf breaking (CI runs it)" >&2; fi

lint: $(STAMP) buf-lint buf-breaking check-gen
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy

# --- the two commands ------------------------------------------------------
demo: $(STAMP)
	$(VENV)/bin/alexandria demo $(REPO)

test: lint
	$(VENV)/bin/pytest $(PYTEST_ARGS)

clean:
	rm -rf $(VENV) .tools build
