# Keeptime: `make run` brings up the whole embedded stack; `make test` runs lint, types and the tests.
# Both create .venv and install the project on first use (and again when pyproject.toml or uv.lock change):
# exact versions from uv.lock, installed by uv (itself pinned, bootstrapped by pip into .tools).

PYTHON ?= $(shell command -v python3.11 || command -v python3)
# Test processes (pytest-xdist, one test file per process at a time): the suite mostly waits on Temporal and
# PostgreSQL, so three share two cores well (measured: 141 s vs 331 s in one process, see README).
PYTEST_WORKERS ?= 3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
UV_VERSION := 0.13.9
UV     := .tools/bin/uv

.PHONY: run test test-fast lint bench clean catalogs lock

$(UV):
	$(PYTHON) -m venv .tools
	.tools/bin/python -m pip install --quiet "uv==$(UV_VERSION)"

# --frozen: install exactly what uv.lock says (after changing pyproject.toml: `make lock`).
$(STAMP): pyproject.toml uv.lock | $(UV)
	UV_PROJECT_ENVIRONMENT=$(VENV) $(UV) sync --frozen --all-extras --python $(PYTHON)
	@touch $(STAMP)

lock: | $(UV)
	$(UV) lock --python $(PYTHON)

run: $(STAMP)
	$(BIN)/python -m starter dev

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy .
	$(BIN)/lint-imports

test: lint
	$(BIN)/python -m pytest -n $(PYTEST_WORKERS) --dist loadfile $(PYTEST_ARGS)

test-fast: $(STAMP)
	$(BIN)/python -m pytest -n $(PYTEST_WORKERS) --dist loadfile -m "not e2e" $(PYTEST_ARGS)

# After changing a template's wording: extract the strings, merge them into every catalog, then translate
# the new or fuzzy entries (tests/test_translations.py fails until every catalog is complete).
catalogs: $(STAMP)
	$(BIN)/pybabel extract -F babel.cfg --no-location --sort-output --omit-header -o activities/locales/messages.pot .
	$(BIN)/pybabel update -i activities/locales/messages.pot -d activities/locales --ignore-obsolete

clean:
	rm -rf $(VENV) .tools .keeptime .pytest_cache .mypy_cache .ruff_cache *.egg-info
