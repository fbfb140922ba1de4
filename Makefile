# siyu — two-command quick start: `make demo` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
DEMO_CUSTOMERS ?= 3000

.PHONY: demo test lint serve deps venv clean bench

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

venv: $(STAMP)

# Debian packages the suite needs: PostgreSQL server binaries and chromium (browser tests).
deps:
	@if ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then \
		echo "installing postgresql"; apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null; fi
	@if ! command -v chromium >/dev/null 2>&1; then \
		echo "installing chromium"; apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null || true; fi

demo: $(STAMP)
	$(BIN)/siyu demo --customers $(DEMO_CUSTOMERS)

serve: $(STAMP)
	$(BIN)/siyu serve

lint: $(STAMP)
	$(BIN)/ruff check src tests
	$(BIN)/ruff format --check src tests
	$(BIN)/mypy

test: $(STAMP) deps lint
	$(BIN)/pytest -q

bench: $(STAMP)
	$(BIN)/siyu bench ingest --events 100000 --json

clean:
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache
