# One entry point for set-up and every routine job. `make demo` and `make test` each do all
# of their own set-up on a fresh clone: they create .venv and install what they need.

PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
# The CPU build of torch, installed before anything that depends on torch: a bare `torch`
# requirement would make pip pull a several-GB CUDA build.
TORCH_SPEC ?= torch==2.13.0
# loadgroup: tests marked with one xdist_group (the Dask cluster tests) share a worker.
PYTEST := $(PY) -m pytest -n 2 --dist loadgroup
CORE_TESTS := tests/test_information.py tests/test_validation.py tests/test_tables.py \
	tests/test_public_api.py tests/test_kernels.py tests/test_pid_gates.py \
	tests/test_pid_batch.py tests/test_pid_errors.py tests/test_scan.py \
	tests/test_empty_batch.py tests/test_target_axis.py tests/test_maxent.py

.PHONY: install demo test test-slow test-nojit lint bench docs clean

install: $(STAMP)

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet "$(TORCH_SPEC)"
	$(PY) -m pip install --quiet -e ".[dev]"
	touch $(STAMP)

demo: $(STAMP)  ## the main job: every measure on the canonical gates, then a short Non-Syn VAE run
	$(PY) -m synergy
	$(PY) -m synergy.vae demo --out demo-output --overwrite

test: $(STAMP)  ## the whole suite but the slow checks
	$(PYTEST) -m "not slow" --doctest-modules synergy tests

test-slow: $(STAMP)  ## long checks (CI runs them after the main suite when time allows)
	$(PYTEST) -m slow tests || [ $$? -eq 5 ]  # exit 5: no slow test collected

test-nojit: $(STAMP)  ## the core suites with numba's JIT off: kernels must mean the same in Python
	NUMBA_DISABLE_JIT=1 $(PYTEST) -m "not slow" $(wildcard $(CORE_TESTS))

lint: $(STAMP)
	$(VENV)/bin/ruff check synergy tests benchmarks
	$(VENV)/bin/ruff format --check synergy tests benchmarks
	$(VENV)/bin/mypy synergy

bench: $(STAMP)  ## side-by-side timings; writes benchmarks/RESULTS.md
	$(PY) benchmarks/run.py

docs: $(STAMP)  ## the HTML docs with every notebook executed; any warning fails the build
	$(PY) -m sphinx -W --keep-going -b html docs docs/_build/html

clean:
	rm -rf $(VENV) demo-output docs/_build docs/api/generated .pytest_cache .mypy_cache \
		.ruff_cache .hypothesis
