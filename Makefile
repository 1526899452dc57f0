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

calibrate: $(STAMP)
	$(BIN)/calibkit platform
	$(BIN)/calibkit check --preset auto

sync-check: $(STAMP)
	PATH="$(abspath $(BIN)):$$PATH" .ci/check-sync

test: sync-check
	$(BIN)/nbdev-test --n-workers 2
	$(BIN)/python -m pytest tests

clean-venv:
	rm -rf $(VENV)
