# spikevid: the two commands a new user needs are `make demo` and `make test`.
SHELL := /bin/bash
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
# Brian2 compiles generated code; keep its caches inside the project.
export SPIKEVID_CACHE_DIR ?= $(CURDIR)/.brian_cache
export MPLBACKEND ?= Agg

.PHONY: demo test lint test-slow test-cuda venv bench clean help

help:
	@echo "make demo       create .venv, install, run the default experiment (configs/demo.yaml)"
	@echo "make test       create .venv, install, run the default (fast) test tier"
	@echo "make lint       ruff: lint rules and formatting (configured in pyproject.toml)"
	@echo "make test-slow  real-data and accuracy checks (needs ../shared/data)"
	@echo "make test-cuda  brian2cuda tests (compile only without a GPU) and, with a GPU, bench_gpu"
	@echo "make bench      run the benchmarks in benchmarks/"

venv: $(STAMP)

$(STAMP): pyproject.toml
	@set -e; py=$$(scripts/find_python.sh); \
	if [ ! -x "$(PY)" ] || ! "$(PY)" -c 'import sys; sys.exit(sys.version_info < (3, 12))' 2>/dev/null; then \
	  echo "creating $(VENV) with $$py"; rm -rf "$(VENV)"; "$$py" -m venv "$(VENV)"; fi
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test]'
	@touch $(STAMP)

demo: $(STAMP)
	$(VENV)/bin/spikevid run configs/demo.yaml --out runs/demo

test: $(STAMP)
	$(PY) -m pytest -q

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

test-slow: $(STAMP)
	$(PY) -m pytest -q -m slow

test-cuda: $(STAMP)
	$(PY) -m pip install --quiet -e '.[cuda]'
	$(PY) -m pytest -q -m cuda
	$(PY) -m benchmarks.bench_gpu --sizes 1000,16000

bench: $(STAMP)
	$(PY) -m benchmarks

clean:
	rm -rf .brian_cache .pytest_cache runs build *.egg-info
