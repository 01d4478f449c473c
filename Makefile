# Two entry points for a fresh machine with Python 3.11+ and make: `make demo` and `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp

.PHONY: install demo test test-fast soak lint format bench screenshots clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $(STAMP)

install: $(STAMP)

demo: install
	$(BIN)/gateway demo

test: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports
	$(BIN)/mypy
	$(BIN)/pytest -q -p no:cacheprovider

test-fast: install
	$(BIN)/pytest -q -m "not slow" -p no:cacheprovider

# the reliability suite with its long variants (kill points, longer holds, more posts)
soak: install
	GATEWAY_SOAK=1 $(BIN)/pytest -q -m reliability -p no:cacheprovider tests/reliability

lint: install
	$(BIN)/ruff check .

format: install
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

bench: install
	$(BIN)/python -m bench

# the pictures in the README: the workspace's and finance's pages in headless Chromium
screenshots: install
	PLATA_SCREENSHOTS=1 $(BIN)/pytest -q -p no:cacheprovider -m browser tests/browser

clean:
	rm -rf $(VENV) var .pytest_cache .ruff_cache
