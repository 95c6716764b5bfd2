# Two commands on a fresh machine: `make run` (the service) and `make test` (the whole suite).
# Both work in a project virtualenv (.venv, made with `$(PYTHON) -m venv`), so they need nothing beyond a
# Python 3.11+ with the venv module: Debian/Ubuntu's /usr/bin/python3 (externally managed, PEP 668: pip
# refuses to install into it; `apt-get install python3-venv`) as well as pyenv or a python.org build.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
# Subprocesses (scripts, `python3`, `bugtrail`) resolve to the venv too.
IN_VENV := PATH="$(abspath $(BIN)):$$PATH" VIRTUAL_ENV="$(abspath $(VENV))"
SERVER_STAMP := $(VENV)/.installed-server
DEV_STAMP := $(VENV)/.installed-dev

.PHONY: install run test test-fast lint bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV) || { echo "cannot create $(VENV): on Debian/Ubuntu run 'apt-get install python3-venv'" >&2; exit 1; }

# The service alone (`make run`) needs the server extra; tests and linters need the dev extra on top.
$(SERVER_STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install -q -e '.[server]'
	@touch $@

$(DEV_STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install -q -e '.[dev]'
	@touch $@ $(SERVER_STAMP)

install: $(DEV_STAMP)

## Run the service on 127.0.0.1:8000 with an embedded SQLite database and QA worker.
run: $(SERVER_STAMP)
	$(IN_VENV) bugtrail serve

## The whole test suite (Docker, PostgreSQL and browser tests skip with a reason when absent;
## CI sets BUGTRAIL_NO_SKIPS=1 so that they must run).
test: $(DEV_STAMP)
	$(IN_VENV) python -m pytest

test-fast: $(DEV_STAMP)
	$(IN_VENV) python -m pytest -m "not docker and not browser and not slow"

lint: $(DEV_STAMP)
	$(IN_VENV) ruff check src tests benchmarks
	$(IN_VENV) mypy

clean:
	rm -rf $(VENV) build dist src/*.egg-info .pytest_cache .mypy_cache .ruff_cache
