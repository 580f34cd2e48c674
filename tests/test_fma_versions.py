"""Dense kernels with explicit fused multiply-adds: x86-64 builds carry a v4, a
v3 and a baseline version of each function with dense layers (the v3/v4 ones
multiply-add with FMA instructions), chosen per call from the CPU flags;
-DSKC_ISA_MAX=3 / 0 caps the choice, so every version runs on this machine.
In every version batch rows are bitwise the single calls; the two FMA
versions give the same bits; reproducible builds use no FMA anywhere (the
same bits in every version); outputs stay those of sklearn."""
import platform
import subprocess

import numpy as np
import pytest
from sklearn.neural_network import MLPRegressor
from util import compile_strict, cpu_flags, rows, same_bits

import scikinc
from scikinc.compiler import ALWAYS_FLAGS, REPRODUCIBLE_FLAGS

pytestmark = pytest.mark.skipif(platform.machine() != "x86_64", reason="x86-64 function versions")


def _levels() -> list[int]:
    flags = cpu_flags()
    lv = [0]
    if {"avx2", "fma", "bmi2", "f16c"} <= flags:
        lv.append(3)
        if {"avx512f", "avx512bw", "avx512vl", "avx512dq"} <= flags:
            lv.append(4)
    return lv


@pytest.fixture(scope="module")
def model():
    rng = np.random.default_rng(3)
    X = rng.normal(size=(500, 7))
    y = np.c_[X[:, 0] * X[:, 1], np.sin(X[:, 2]) + X[:, 3]]
    # 70 wide: one full 64-float block and a 6-wide tail per layer; 3 outputs (tail only)
    m = MLPRegressor(hidden_layer_sizes=(70, 70), max_iter=60, random_state=0).fit(X, y)
    return m, rows(X, 1500)


def _outputs(src, tmp_path, float_t, reproducible, R):
    out = {}
    for lv in _levels():
        so = scikinc.compile(src, tmp_path / f"m{lv}_{reproducible}.so", flags=["-O3", f"-DSKC_ISA_MAX={lv}"],
                             reproducible=reproducible)
        f = scikinc.load(so, "m")
        Rc = np.ascontiguousarray(R, dtype=f.dtype)
        batch = f(Rc)
        single = np.stack([f(r) for r in Rc[:200]])
        assert same_bits(batch[:200], single), f"level {lv}: batch rows differ from single calls"
        out[lv] = batch
    return out


@pytest.mark.parametrize("float_t", ["float", "double"])
def test_every_version_batch_equals_single_and_sklearn(model, tmp_path, float_t):
    m, R = model
    src = scikinc.convert({"m": m}, float_t=float_t)
    compile_strict(src, tmp_path)
    outs = _outputs(src, tmp_path, float_t, False, R)
    want = m.predict(R)
    tol = 1e-4 if float_t == "float" else 1e-12
    for lv, y in outs.items():
        err = np.abs(y - want) / (1 + np.abs(want))
        assert err.max() < tol, (lv, err.max())
    if 4 in outs:
        assert same_bits(outs[4], outs[3]), "the v4 and v3 (FMA) versions differ"


def test_reproducible_same_bits_in_every_version(model, tmp_path):
    m, R = model
    src = scikinc.convert({"m": m})
    outs = _outputs(src, tmp_path, "float", True, R)
    for lv, y in outs.items():
        assert same_bits(y, outs[0]), f"reproducible level {lv}: {(y != outs[0]).sum()} outputs differ from baseline"
    plain = scikinc.load(scikinc.compile(src, tmp_path / "nc.so", flags=["-O3", "-DSKC_NO_CLONES"],
                                         reproducible=True), "m")(np.ascontiguousarray(R, dtype=np.float32))
    assert same_bits(plain, outs[0])


def test_fma_only_outside_reproducible_builds(model, tmp_path):
    m, _ = model
    src = tmp_path / "m.c"
    src.write_text(scikinc.convert({"m": m}))
    asm = {}
    for name, extra in (("default", []), ("reproducible", list(REPRODUCIBLE_FLAGS))):
        cmd = ["gcc", "-O3", *ALWAYS_FLAGS, *extra, "-S", "-o", "-", str(src)]
        asm[name] = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    assert "vfmadd" in asm["default"]
    assert "vfmadd" not in asm["reproducible"] and "fmaf" not in asm["reproducible"]
    # the baseline version has no FMA instruction: no libm call either
    assert "call\tfmaf" not in asm["default"] and "fmaf@PLT" not in asm["default"]
