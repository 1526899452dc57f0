# The two commands of the README:
#   make calibrate   set up .venv (first time) and calibrate this host
#   make test        set up .venv (first time) and run every test
# Both create or reuse the project-local environment .venv; nothing is installed outside it.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.calibkit-installed

.PHONY: calibrate test setup sync-check docs bench lab clean-venv

setup: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	touch $@

# The main job: run the papermill template (examples/calibrate.ipynb) for this host, full sweep. The profile and the
# executed notebook go to hardware_registry/; the run's own copy to runs/. Extra papermill parameters through ARGS,
# e.g. make calibrate ARGS="-p framework pytorch -p quick True"
ARGS ?=
RUN  := runs/calibrate_$(shell date -u +%Y%m%dT%H%M%SZ).ipynb

calibrate: $(STAMP)
	mkdir -p runs
	$(BIN)/papermill examples/calibrate.ipynb $(RUN) -p preset auto -p quick False $(ARGS)

bench: $(STAMP)
	$(BIN)/python perf/calibration_targets.py

sync-check: $(STAMP)
	PATH="$(abspath $(BIN)):$$PATH" .ci/check-sync

test: sync-check
	.ci/ensure-chromium
	$(BIN)/nbdev-test --n-workers 2
	$(BIN)/python -m pytest tests

# JupyterLab on the walk-through notebooks (examples/): the widgets one opens first.
lab: $(STAMP)
	$(BIN)/jupyter lab examples/widgets.ipynb

docs: $(STAMP)
	$(BIN)/calibkit docs --out _site

clean-venv:
	rm -rf $(VENV)
