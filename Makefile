# Tidings: `make serve` runs it, `make test` checks it.
PY ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 8000
# Test processes (pytest-xdist): `auto` is one a core; 0 runs the suite in this process.
TEST_WORKERS ?= auto

.PHONY: serve test lint bench install install-test clean

$(BIN)/python:
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install -q -e .
	touch $@

$(VENV)/.installed-test: pyproject.toml | $(BIN)/python
	$(BIN)/pip install -q -e '.[test]'
	touch $(VENV)/.installed $@

install: $(VENV)/.installed
install-test: $(VENV)/.installed-test

serve: install
	$(BIN)/tidings migrate
	@echo
	@echo "Tidings is starting on http://$(HOST):$(PORT) (SQLite at ./tidings.db, sandbox providers)."
	@echo "Create an account and its credentials in another terminal:"
	@echo "  $(BIN)/tidings account create --name Acme --email owner@acme.test --json"
	@echo
	$(BIN)/tidings serve --host $(HOST) --port $(PORT)

test: install-test
	@# Where PYTHONDONTWRITEBYTECODE is set (CI), each `tidings` the tests start compiled our ~300 modules again.
	$(BIN)/python -m compileall -q src >/dev/null
	$(BIN)/python -m pytest -n $(TEST_WORKERS) $(PYTEST_ARGS)

lint: install-test
	$(BIN)/ruff check src tests bench
	$(BIN)/mypy

bench: install-test
	$(BIN)/python bench/run_all.py

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
