# Two commands on a fresh machine:
#   make demo   -- install, train the seed's Dalitz models, convert, compile, call them from C,
#                  from the C++ pipeline and from Python, print the results side by side
#   make test   -- install the test dependencies and run the whole test-suite
PYTHON ?= python3
PIP ?= $(PYTHON) -m pip

.PHONY: install install-test demo test bench runtime clean

install:
	$(PIP) install -q -e .

install-test:
	$(PIP) install -q -e ".[all]"

demo:
	$(PIP) install -q -e ".[keras]"
	$(MAKE) -s -C runtime
	$(PYTHON) examples/dalitz/dalitz.py

test: install-test
	$(PYTHON) -m pytest -q -ra

bench:
	$(PIP) install -q -e ".[all,bench]"
	$(PYTHON) -m benchmarks

clean:
	rm -rf build src/*.egg-info .pytest_cache
