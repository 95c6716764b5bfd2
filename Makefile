# Two commands on a fresh machine: `make run` (the service) and `make test` (the whole suite).
PYTHON ?= python3
PIP ?= $(PYTHON) -m pip
STAMP := .make-installed

.PHONY: install run test test-fast lint bench clean

$(STAMP): pyproject.toml
	$(PIP) install -q -e '.[dev]'
	@touch $(STAMP)

install: $(STAMP)

## Run the service on 127.0.0.1:8000 with an embedded SQLite database and QA worker.
run: $(STAMP)
	bugtrail serve

## The whole test suite (Docker, PostgreSQL and browser tests skip with a reason when absent;
## CI sets BUGTRAIL_NO_SKIPS=1 so that they must run).
test: $(STAMP)
	$(PYTHON) -m pytest

test-fast: $(STAMP)
	$(PYTHON) -m pytest -m "not docker and not browser and not slow"

lint: $(STAMP)
	ruff check src tests benchmarks
	mypy

clean:
	rm -rf $(STAMP) build dist src/*.egg-info .pytest_cache .mypy_cache .ruff_cache
