# mmsvf: `make demo` (main job) and `make test` create .venv when missing.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip
STAMP := $(VENV)/.mmsvf-installed
DEMO_DIR ?= work_dirs/demo

.PHONY: install demo test lint bench mutation clean

# the README's "Installation" commands, in the same order; every step is
# pinned by requirements/constraints.txt. mmcv-lite is skipped where a full
# mmcv is installed (both own the mmcv/ folder: requirements/mminstall-mmcv.txt)
$(STAMP): setup.py requirements/runtime.txt requirements/mminstall.txt \
          requirements/mminstall-mmcv.txt requirements/mminstall-nodeps.txt \
          requirements/optional.txt requirements/tests.txt \
          requirements/constraints.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) install -q -c requirements/constraints.txt \
	    -r requirements/runtime.txt -r requirements/mminstall.txt \
	    -r requirements/optional.txt -r requirements/tests.txt
	$(PIP) show -q mmcv 2>/dev/null || $(PIP) install -q \
	    -c requirements/constraints.txt -r requirements/mminstall-mmcv.txt
	$(PIP) install -q --no-deps -c requirements/constraints.txt \
	    -r requirements/mminstall-nodeps.txt
	$(PIP) install -q --no-deps --no-build-isolation -e .
	touch $@

install: $(STAMP)

# ruff.toml: pycodestyle, pyflakes and import order (OpenMMLab style)
lint: $(STAMP)
	$(VENV)/bin/ruff check .

# what CI runs (.ci/run): the lint first, then the test suite
test: lint
	$(PY) -m pytest tests

demo: $(STAMP)
	bash tools/run_toy.sh $(DEMO_DIR)

bench: $(STAMP)
	$(PY) tools/analysis/benchmark_neurons.py

# mutation check of the numeric core (docs/testing.md); PACKAGES= a subset,
# e.g. `make mutation PACKAGES=neurons`; JOBS, SAMPLE, FRESH: see the script
mutation: $(STAMP)
	$(PIP) install -q -c requirements/constraints.txt -r requirements/dev.txt
	PYTHON=$(PY) bash tools/dev/mutation_check.sh $(PACKAGES)

clean:
	rm -rf $(VENV) work_dirs mmsvf/.mim *.egg-info .ruff_cache
