# The two commands of the README:
#   make calibrate   set up .venv (first time) and calibrate this host
#   make test        set up .venv (first time) and run every test
# Both create or reuse the project-local environment .venv; nothing is installed outside it.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.calibkit-installed

.PHONY: calibrate test setup sync-check docs bench clean-venv

setup: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	touch $@

# Extra options for the calibration, e.g. make calibrate ARGS="--framework pytorch --quick"
ARGS ?=

calibrate: $(STAMP)
	$(BIN)/calibkit calibrate --preset auto $(ARGS)

bench: $(STAMP)
	$(BIN)/python bench/calibration_targets.py

sync-check: $(STAMP)
	PATH="$(abspath $(BIN)):$$PATH" .ci/check-sync

test: sync-check
	$(BIN)/nbdev-test --n-workers 2
	$(BIN)/python -m pytest tests

clean-venv:
	rm -rf $(VENV)
