# The README's two commands are `make run` and `make test`.
PYTHON ?= python3.11
VENV   ?= .venv
BIN    := $(VENV)/bin
# Two stamps: `make run` needs the service's own dependencies only; `make test` (and lint,
# bench) add the test extras (pytest, ruff, playwright ...) on top.
RUN_STAMP := $(VENV)/.installed-runtime
STAMP     := $(VENV)/.installed

.PHONY: run test lint check bench scale-sim clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(RUN_STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e .
	touch $(RUN_STAMP)

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e '.[test]'
	touch $(STAMP) $(RUN_STAMP)

## run: the service on 127.0.0.1:5000 (SQLite, console transport, example rota and customers)
run: $(RUN_STAMP)
	$(BIN)/oncall check
	$(BIN)/oncall serve --host 127.0.0.1 --port 5000

## test: the whole test suite (PostgreSQL too when ONCALL_TEST_DATABASE_URL is reachable)
test: $(STAMP)
	$(BIN)/python -m pytest $(PYTEST_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check oncall tests benchmarks
	$(BIN)/ruff format --check oncall tests benchmarks
	$(BIN)/lint-imports --no-cache

check: $(RUN_STAMP)
	$(BIN)/oncall check

bench: $(STAMP)
	$(BIN)/python benchmarks/run_all.py

## scale-sim: the engine against 100,000 open cases and 1,000 escalations (docs/scaling.md)
scale-sim: $(STAMP)
	$(BIN)/python -m benchmarks.scale_sim $(SIM_ARGS)

clean:
	rm -rf $(VENV) oncall.db oncall.db-wal oncall.db-shm oncall.db-engine.lock .pytest_cache artifacts
