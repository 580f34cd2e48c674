"""Helpers shared by the test-suite: build/compile models, contract checks,
row generators.  Kept in one place so every converter family is held to the
same contract."""
from __future__ import annotations

import subprocess
from pathlib import Path

import numpy as np
from sklearn.preprocessing import StandardScaler

import scikinc


class CustomScaler(StandardScaler):
    """A user class: not trusted when read from a .skops file."""


WERROR = ["-Wall", "-Wextra", "-Werror"]
DTYPES = {"float": np.float32, "double": np.float64, "long double": np.longdouble}


def build(models, tmp_path: Path, *, float_t="float", stem="m", **kw):
    """Compile ``models`` ({symbol: obj}) into one .so; return {symbol: MLFunction}."""
    so = scikinc.compile(models, tmp_path / f"{stem}_{float_t.replace(' ', '_')}.so", float_t=float_t, **kw)
    names = list(models) if isinstance(models, dict) else [kw.get("name")]
    return {n: scikinc.load(so, n) for n in names}


def compile_strict(src: str, tmp_path: Path, stem: str = "strict") -> None:
    """The generated code compiles warning-free as C99 and as C++."""
    c = tmp_path / f"{stem}.c"
    c.write_text(src)
    for cmd in (["gcc", "-std=c99", "-pedantic", *WERROR, "-O2", "-c", "-x", "c"],
                ["g++", "-std=c++17", *WERROR, "-O2", "-c", "-x", "c++"]):
        res = subprocess.run(cmd + [str(c), "-o", str(tmp_path / f"{stem}.o")], capture_output=True, text=True)
        assert res.returncode == 0, f"{' '.join(cmd)} failed:\n{res.stderr[:4000]}"


def check_contract(models, tmp_path: Path, *, float_t="float", X=None, **kw):
    """Strict compile (C99 + C++), byte-identical reconversion, batch == single
    bitwise on the given rows, metadata values.  Returns {symbol: MLFunction}."""
    src = scikinc.convert(models, float_t=float_t, **kw)
    assert src == scikinc.convert(models, float_t=float_t, **kw), "conversion is not deterministic"
    compile_strict(src, tmp_path, stem=f"strict_{float_t.replace(' ', '_')}")
    fns = build(models, tmp_path, float_t=float_t, stem="contract", **kw)
    if X is not None:
        for f in fns.values():
            Xc = np.ascontiguousarray(X[:64], dtype=f.dtype)
            batch = f(Xc)
            single = np.stack([f(row) for row in Xc])
            assert same_bits(batch, single), f"{f.symbol}: batch differs from single calls"
            assert batch.shape == (len(Xc), f.n_outputs)
    return fns


def same_bits(a, b) -> bool:
    """Bitwise equality; long double compares its 10 significant bytes only
    (the padding of numpy's 16-byte slots is garbage)."""
    a, b = np.asarray(a), np.asarray(b)
    if a.shape != b.shape or a.dtype != b.dtype:
        return False
    if a.dtype == np.longdouble and a.dtype.itemsize == 16:
        va = a.reshape(-1).view(np.uint8).reshape(-1, 16)[:, :10]
        vb = b.reshape(-1).view(np.uint8).reshape(-1, 16)[:, :10]
        return bool(np.array_equal(va, vb))
    return a.tobytes() == b.tobytes()


def rows(X_fit: np.ndarray, n: int = 2000, seed: int = 0, *, far: float = 10.0) -> np.ndarray:
    """``n`` test rows: half in the fitted range, a quarter far outside it
    (``far`` ranges away), plus the exact fitted min/max and constants."""
    rng = np.random.default_rng(seed)
    lo, hi = X_fit.min(0), X_fit.max(0)
    span = np.where(hi > lo, hi - lo, 1.0)
    k = X_fit.shape[1]
    inside = lo + rng.random((n // 2, k)) * span
    outside = lo + (rng.random((n // 4, k)) * (2 * far + 1) - far) * span
    sample = X_fit[rng.integers(0, len(X_fit), n - n // 2 - n // 4 - 4)]
    edges = np.stack([lo, hi, np.zeros(k), np.full(k, 1e6)])
    return np.concatenate([inside, outside, sample, edges])


def as_type(X, float_t):
    """Round rows to the C input type; return them as float64 for sklearn."""
    return np.asarray(X, dtype=DTYPES[float_t]).astype(np.float64)


def cpu_flags() -> set:
    """The CPU's feature flags from /proc/cpuinfo (empty where unreadable)."""
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("flags"):
                return set(line.split(":", 1)[1].split())
    except OSError:
        pass
    return set()


def single_row_code(src: str) -> str:
    """The generated C without its row-blocked batch kernels (``NAME__rows``) and the
    x86-64-v3/v4 versions of its functions (``NAME__impl_v4`` ...), which repeat
    every op of the single-row code: for counting ops in a model's C."""
    import re

    src = re.sub(r"#ifdef SKC_ISA_VERSIONS\n#define SKC_MACF.*?\n#undef SKC_MACD\n#endif\n", "", src, flags=re.S)
    return re.sub(r"/\* \d+ rows at once.*?\n}\n", "", src, flags=re.S)


def slow_except(values, *fast):
    """Parameters for ``pytest.mark.parametrize``: the ``fast`` ones run in
    every tier, the others carry ``@pytest.mark.slow`` (``make test`` skips
    them, ``make test-all`` runs them).  For the parametrizations that repeat
    one check with another float type or code generator: CI keeps one
    representative of each and the full product stays one command away."""
    import pytest

    return [v if v in fast else pytest.param(v, marks=pytest.mark.slow) for v in values]
