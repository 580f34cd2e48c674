# Two commands on a fresh machine:
#   make demo   -- install, train the seed's Dalitz models, convert, compile, call them from C,
#                  from the C++ pipeline and from Python, print the results side by side
#   make test   -- install the test dependencies and run the test-suite (all but the
#                  @pytest.mark.slow repeats of a check; what CI runs)
# and for developers:
#   make test-all -- the same with the slow tests too (every float type x code generator,
#                  the 1e6-point math sweeps, the CLI under python -O ...)
#   make check  -- ruff, mypy and the runtime's clang-format check
#   make bench  -- the benchmarks
#
# Each pip install runs once: it leaves a stamp file (.stamp-*, gitignored) and
# runs again only when pyproject.toml changes (the editable install picks up
# source changes by itself).  `make clean` removes the stamps; so does a fresh clone.
PYTHON ?= python3
PIP ?= $(PYTHON) -m pip

.PHONY: install install-test demo test test-all bench check runtime clean

install: .stamp-install
install-test: .stamp-install-test

.stamp-install: pyproject.toml
	$(PIP) install -q -e .
	@touch $@

.stamp-install-keras: pyproject.toml
	$(PIP) install -q -e ".[keras]"
	@touch $@

.stamp-install-test: pyproject.toml
	$(PIP) install -q -e ".[all]"
	# tf-keras reads Keras-2 .h5 files and SavedModels; it depends on the full
	# 'tensorflow' wheel, so install it without dependencies next to tensorflow-cpu
	$(PIP) install -q --no-deps "tf-keras==$$($(PYTHON) -c 'import importlib.metadata as m; v = m.version("tensorflow-cpu").split("."); print(".".join(v[:2]) + ".*")')"
	@touch $@

.stamp-install-bench: pyproject.toml
	$(PIP) install -q -e ".[all,bench]"
	@touch $@

.stamp-install-dev: pyproject.toml
	$(PIP) install -q -e ".[dev]"
	@touch $@

demo: .stamp-install-keras
	$(MAKE) -s -C runtime
	$(PYTHON) examples/dalitz/dalitz.py

PYTEST = $(PYTHON) -m pytest -q -ra -n auto --maxprocesses 4 --dist loadfile
test: .stamp-install-test
	$(PYTEST) -m "not slow"

test-all: .stamp-install-test
	$(PYTEST)

bench: .stamp-install-bench
	$(PYTHON) -m benchmarks

# Every tool runs even when an earlier one reports findings; the target fails
# if any of them failed.  (The sub-make goes through a variable so that
# `make -n check` only prints the recipe instead of running it.)
RUNTIME_FORMAT_CHECK = $(MAKE) -C runtime format-check
check: .stamp-install-dev
	@status=0; \
	$(PYTHON) -m ruff check src tests benchmarks examples || status=1; \
	$(PYTHON) -m mypy src/scikinc || status=1; \
	$(RUNTIME_FORMAT_CHECK) || status=1; \
	exit $$status

runtime:
	$(MAKE) -C runtime

clean:
	rm -rf build src/*.egg-info .pytest_cache .stamp-install*
