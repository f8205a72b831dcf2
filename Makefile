# Every target creates the virtual environment it needs; nothing is assumed installed.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
LINT_PATHS := $(wildcard pydisco tests bench examples)

.PHONY: test lint typecheck pytest demo bench dist clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

# The editable install puts the checkout on sys.path with a plain .pth line ("compat" mode):
# the default mode's import hook costs every interpreter (driver, master, each worker) ~12 ms
# and resolves pydisco modules a wheel install would not. If a later setuptools drops the
# mode, the default editable install is used.
$(STAMP): $(BIN)/python setup.cfg pyproject.toml Makefile
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]' --config-settings editable_mode=compat \
		2>/dev/null || $(BIN)/python -m pip install --quiet -e '.[test]'
	touch $(STAMP)

test: $(STAMP) lint typecheck pytest

lint: $(STAMP)
	$(BIN)/ruff check $(LINT_PATHS)
	$(BIN)/ruff format --check $(LINT_PATHS)

typecheck: $(STAMP)
	$(BIN)/mypy

# Four workers on two cores: the suite mostly waits on worker processes and timers, so
# -n 4 beats -n 2 (bench/README.md, "Test suite"). --durations=20 puts the slowest
# tests in the CI log.
pytest: $(STAMP)
	$(BIN)/pytest -n 4 -q --durations=20

demo: $(STAMP)
	$(BIN)/python examples/demo.py

bench: $(STAMP)
	$(BIN)/python bench/protocol.py

# The sdist and the wheel built from it (tests/test_packaging.py builds and installs them too).
dist: $(STAMP)
	$(BIN)/python -m build --no-isolation --outdir dist .

clean:
	rm -rf $(VENV) build dist *.egg-info
