"""Every model of tests/corpus.py (edge cases of every family: single-leaf
trees, categorical inputs never split on, width-1 layers...) converts to C that
compiles warning-free as C99 and as C++, for float, double and long double."""
import subprocess
import warnings

import corpus
import pytest
from util import WERROR

import scikinc

FAMILIES = [f for f in corpus.FAMILIES if f != "keras"]


def _entries(fam):
    for name, m in corpus.FAMILIES[fam]().items():
        model, opts = m if isinstance(m, tuple) else (m, {})
        yield name, model, opts


@pytest.mark.parametrize("fam", FAMILIES + [pytest.param("keras", marks=pytest.mark.keras)])
def test_corpus_compiles_strict(tmp_path, fam):
    if fam == "keras":
        pytest.importorskip("keras")
    failures = []
    for name, model, opts in _entries(fam):
        for float_t in ("float", "double", "long double"):
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                src = scikinc.convert({name: model}, float_t=float_t, options=opts)
            c = tmp_path / f"{name}.c"
            c.write_text(src)
            for cmd in (["gcc", "-std=c99", "-pedantic", "-x", "c"], ["g++", "-std=c++17", "-x", "c++"]):
                r = subprocess.run([*cmd, *WERROR, "-O1", "-fsyntax-only", str(c)], capture_output=True, text=True)
                if r.returncode:
                    failures.append(f"{name} [{float_t}, {cmd[0]}]: {r.stderr.strip().splitlines()[:3]}")
    assert not failures, "\n".join(failures)
