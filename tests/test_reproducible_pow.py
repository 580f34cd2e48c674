"""Reproducible mode with scikinc's own double pow, cbrt, hypot, asinh, lgamma,
tgamma (templates/helpers/math.c.j2): PowerTransformer (Yeo-Johnson and
Box-Cox, whose inverses call pow) and a FunctionTransformer calling them give
the same bits at every SKC_TARGET clone level as the no-clones build, and
stay the library's outputs (>= 1000 rows)."""
import numpy as np
import pytest
from scipy.special import gamma, gammaln
from sklearn.preprocessing import FunctionTransformer, PowerTransformer
from util import cpu_flags, rows, same_bits

import scikinc

C_EXPR = ("pow(fabs(x), 1.5) + cbrt(x) - hypot(x, 2) + asinh(x) + lgamma(fabs(x) + 0.5)"
          " + tgamma(x / 8 + 2.5) + acosh(fabs(x) + 1) + atanh(x / (1 + fabs(x)))")


def _f(x):
    return (np.power(np.abs(x), 1.5) + np.cbrt(x) - np.hypot(x, 2) + np.arcsinh(x) + gammaln(np.abs(x) + 0.5)
            + gamma(x / 8 + 2.5) + np.arccosh(np.abs(x) + 1) + np.arctanh(x / (1 + np.abs(x))))


def _levels() -> dict:
    levels = {"no_clones": ["-DSKC_NO_CLONES"], "clones": [], "baseline": ['-DSKC_TARGET="arch=x86-64"'],
              "v2": ['-DSKC_TARGET="arch=x86-64-v2"']}
    flags = cpu_flags()
    if {"avx2", "fma", "bmi2"} <= flags:
        levels["v3"] = ['-DSKC_TARGET="arch=x86-64-v3"']
    if {"avx512f", "avx512bw", "avx512vl", "avx512dq"} <= flags:
        levels["v4"] = ['-DSKC_TARGET="arch=x86-64-v4"']
    return levels


@pytest.mark.parametrize("float_t", ["float", "double"])
def test_reproducible_pow_models_identical_across_isa_levels(tmp_path, float_t):
    rng = np.random.default_rng(8)
    X = np.column_stack([rng.lognormal(0, 1, 800), rng.gamma(2, 2, 800), rng.normal(3, 2, 800)])
    yj = PowerTransformer(method="yeo-johnson").fit(X - 2)
    bc = PowerTransformer(method="box-cox").fit(X[:, :2])
    ft = FunctionTransformer(_f)
    ft.func_inC = C_EXPR
    ft.fit(X)
    src = scikinc.convert({"yj": yj, "bc": bc, "ft": ft}, float_t=float_t)
    dt = np.float32 if float_t == "float" else np.float64
    R = rows(X, 1500).astype(dt)
    inputs = {
        "yj": R - 2, "yj_inverse": yj.transform(R.astype(np.float64) - 2).astype(dt),
        "bc": np.abs(R[:, :2]) + 1e-3, "bc_inverse": rng.uniform(-2, 2, (1500, 2)).astype(dt),
        "ft": np.clip(R, -30, 30),
    }
    outs = {}
    for lvl, fl in _levels().items():
        so = scikinc.compile(src, tmp_path / f"{lvl}.so", flags=["-O3", *fl], reproducible=True)
        outs[lvl] = {k: scikinc.load(so, k)(np.ascontiguousarray(v)) for k, v in inputs.items()}
    ref = outs.pop("no_clones")
    for lvl, o in outs.items():
        for k in o:
            assert same_bits(o[k], ref[k]), f"{lvl} {k}: {(o[k] != ref[k]).sum()} outputs differ from no-clones"
    # vs the library (float64 reference); not vacuous
    want = {"yj": yj.transform(inputs["yj"].astype(np.float64)),
            "yj_inverse": yj.inverse_transform(inputs["yj_inverse"].astype(np.float64)),
            "bc": bc.transform(inputs["bc"].astype(np.float64)),
            "bc_inverse": bc.inverse_transform(inputs["bc_inverse"].astype(np.float64)),
            "ft": ft.transform(inputs["ft"].astype(np.float64))}
    tol = 1e-4 if float_t == "float" else 1e-12
    for k, w in want.items():
        got = ref[k].astype(np.float64).reshape(w.shape)
        fin = np.isfinite(w)
        assert fin.mean() > 0.9, k
        assert np.array_equal(np.isfinite(got), fin), k
        err = np.abs(got[fin] - w[fin]) / (1 + np.abs(w[fin]))
        assert err.max() < tol, (k, err.max())
        assert np.unique(got[fin]).size > 100, k
    # the default build (libm for these) agrees closely with the reproducible one
    so = scikinc.compile(src, tmp_path / "default.so", flags=["-O3"])
    for k, v in inputs.items():
        d = scikinc.load(so, k)(np.ascontiguousarray(v)).astype(np.float64)
        r = ref[k].astype(np.float64)
        fin = np.isfinite(r)
        assert np.array_equal(np.isfinite(d), fin), k
        assert (np.abs(d[fin] - r[fin]) / (1 + np.abs(r[fin]))).max() < (1e-5 if float_t == "float" else 1e-13), k
