# Two commands on a fresh machine:
#   make demo   -- install, fit small models, convert, compile, call them from C and Python
#   make test   -- install the test dependencies and run the whole test-suite
PYTHON ?= python3
PIP ?= $(PYTHON) -m pip

.PHONY: install install-test demo test bench runtime clean

install:
	$(PIP) install -q -e .

install-test:
	$(PIP) install -q -e ".[all]"

demo: install
	$(PYTHON) examples/quickstart/demo.py

test: install-test
	$(PYTHON) -m pytest -q -ra

bench:
	$(PIP) install -q -e ".[all,bench]"
	$(PYTHON) -m benchmarks

clean:
	rm -rf build src/*.egg-info .pytest_cache
