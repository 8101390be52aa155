# tvig: the two commands a newcomer types are `make demo` and `make test`.
VENV ?= .venv
PY := $(VENV)/bin/python
export HF_HUB_OFFLINE ?= 1

.PHONY: setup demo test docs clean-runs
setup: $(VENV)/.tvig-installed
$(VENV)/.tvig-installed: pyproject.toml scripts/setup.sh
	bash scripts/setup.sh

## Run the four notebooks end to end on embedded sample classes (paper weights if cached, else tiny).
demo: setup
	$(VENV)/bin/tvig notebooks run --sample --profile paper --fallback-tiny --out runs/demo

## The test suite (what CI runs), offline, with the network guard on; TEST_WORKERS processes
## (pytest-xdist; a test file stays on one worker). TEST_WORKERS=0 runs it in one process.
TEST_WORKERS ?= 2
test: setup
	$(PY) -m pytest -n $(TEST_WORKERS) $(PYTEST_ARGS)

## Build the documentation site offline into site/ (executes the notebooks with tiny first).
docs: setup
	$(VENV)/bin/tvig docs build --out site

clean-runs:
	rm -rf runs site site-build
