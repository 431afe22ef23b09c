# mmsvf: `make demo` (main job) and `make test` create .venv when missing.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip
STAMP := $(VENV)/.mmsvf-installed
DEMO_DIR ?= work_dirs/demo

.PHONY: install demo test bench mutation clean

$(STAMP): setup.py requirements/runtime.txt requirements/mminstall.txt \
          requirements/mminstall-nodeps.txt requirements/tests.txt \
          requirements/constraints.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) install -q -c requirements/constraints.txt \
	    -r requirements/runtime.txt -r requirements/mminstall.txt \
	    -r requirements/tests.txt
	$(PIP) install -q --no-deps -r requirements/mminstall-nodeps.txt
	$(PIP) install -q --no-deps --no-build-isolation -e .
	touch $@

install: $(STAMP)

test: $(STAMP)
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
	rm -rf $(VENV) work_dirs mmsvf/.mim *.egg-info
