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
	# tf-keras reads Keras-2 .h5 files and SavedModels; it depends on the full
	# 'tensorflow' wheel, so install it without dependencies next to tensorflow-cpu
	$(PIP) install -q --no-deps "tf-keras==$$($(PYTHON) -c 'import importlib.metadata as m; v = m.version("tensorflow-cpu").split("."); print(".".join(v[:2]) + ".*")')"

demo:
	$(PIP) install -q -e ".[keras]"
	$(MAKE) -s -C runtime
	$(PYTHON) examples/dalitz/dalitz.py

test: install-test
	$(PYTHON) -m pytest -q -ra -n auto --maxprocesses 4 --dist loadfile

bench:
	$(PIP) install -q -e ".[all,bench]"
	$(PYTHON) -m benchmarks

runtime:
	$(MAKE) -C runtime

clean:
	rm -rf build src/*.egg-info .pytest_cache
