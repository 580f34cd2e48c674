"""Reproducible mode (-ffp-contract=off and friends): every ISA clone gives the
same bits as the portable no-clones build, for small sklearn MLPs (whose
narrow dense layers GCC's SLP vectoriser turned into fused multiply-adds) and
the sklearn models' outputs stay those of sklearn."""
import numpy as np
import pytest
from sklearn.neural_network import MLPRegressor
from util import cpu_flags, rows, same_bits

import scikinc


@pytest.mark.parametrize("float_t", ["float", "double"])
@pytest.mark.parametrize("hidden", [(6,), (3, 5), (17,)])
def test_reproducible_mlp_identical_across_isa_levels(tmp_path, float_t, hidden):
    rng = np.random.default_rng(1)
    X = rng.normal(size=(400, 4))
    m = MLPRegressor(hidden_layer_sizes=hidden, max_iter=300, random_state=0).fit(X, X[:, 0] - X[:, 1] ** 2)
    src = scikinc.convert({"m": m}, float_t=float_t)
    levels = {"no_clones": ["-DSKC_NO_CLONES"], "clones": [], "v2": ['-DSKC_TARGET="arch=x86-64-v2"']}
    flags = cpu_flags()
    if {"avx2", "fma", "bmi2"} <= flags:
        levels["v3"] = ['-DSKC_TARGET="arch=x86-64-v3"']
    if {"avx512f", "avx512bw", "avx512vl", "avx512dq"} <= flags:
        levels["v4"] = ['-DSKC_TARGET="arch=x86-64-v4"']
    R = rows(X, 3000).astype(np.float32 if float_t == "float" else np.float64)
    outs = {lvl: scikinc.load(scikinc.compile(src, tmp_path / f"{lvl}.so", flags=["-O3", *fl], reproducible=True),
                              "m")(R) for lvl, fl in levels.items()}
    ref = outs.pop("no_clones")
    for lvl, y in outs.items():
        assert same_bits(y, ref), f"{lvl}: {(y != ref).sum()} outputs differ from the no-clones build"
    want = m.predict(R.astype(np.float64))
    tol = 1e-4 if float_t == "float" else 1e-12
    err = np.abs(ref[:, 0] - want) / (1 + np.abs(want))
    assert err.max() < tol, err.max()


def _levels() -> dict:
    levels = {"no_clones": ["-DSKC_NO_CLONES"], "clones": [], "baseline": ['-DSKC_TARGET="arch=x86-64"'],
              "v2": ['-DSKC_TARGET="arch=x86-64-v2"']}
    flags = cpu_flags()
    if {"avx2", "fma", "bmi2"} <= flags:
        levels["v3"] = ['-DSKC_TARGET="arch=x86-64-v3"']
    if {"avx512f", "avx512bw", "avx512vl", "avx512dq"} <= flags:
        levels["v4"] = ['-DSKC_TARGET="arch=x86-64-v4"']
    return levels


def _transcendental_models(float_t):
    """Models whose C calls exp, tanh, erf, log, log1p (scikinc's own math
    functions), with a reference predict for each."""
    from sklearn.preprocessing import FunctionTransformer, QuantileTransformer

    rng = np.random.default_rng(4)
    X = rng.normal(size=(600, 4))
    sig = MLPRegressor(hidden_layer_sizes=(12,), activation="logistic", max_iter=300,
                       random_state=0).fit(X, np.sin(X[:, 0]) + X[:, 1])
    tnh = MLPRegressor(hidden_layer_sizes=(9,), activation="tanh", max_iter=300, random_state=0).fit(X, X[:, 2])
    qt = QuantileTransformer(n_quantiles=100, output_distribution="normal").fit(X)
    ft = FunctionTransformer(np.log1p).fit(np.abs(X))
    models = {"sig": (sig, sig.predict), "tnh": (tnh, tnh.predict), "qt": (qt, qt.transform),
              "qti": (qt, qt.inverse_transform), "ft": (ft, ft.transform)}
    try:
        import keras
    except ImportError:
        return X, models
    keras.utils.set_random_seed(5)
    dt = "float32" if float_t == "float" else "float64"
    L = keras.layers
    inp = keras.Input((4,), dtype=dt)
    h = L.Dense(16, activation="tanh", dtype=dt)(inp)
    h = L.Dense(16, activation="gelu", dtype=dt)(h)
    h = L.Dense(16, activation="silu", dtype=dt)(h)
    out = L.Dense(5, activation="softmax", dtype=dt)(h)
    km = keras.Model(inp, out, name="k_transc")
    models["k"] = (km, lambda A: np.asarray(km(A.astype(dt))))
    return X, models


@pytest.mark.parametrize("float_t", ["float", "double"])
def test_reproducible_transcendental_models_identical_across_isa_levels(tmp_path, float_t):
    """exp/tanh/erf/log in reproducible mode (scikinc's own math, no libm):
    every ISA clone gives the no-clones bits, and the outputs stay the
    library's."""
    X, models = _transcendental_models(float_t)
    syms = {k: m for k, (m, _) in models.items() if k != "qti"}
    src = scikinc.convert(syms, float_t=float_t)  # qt_inverse: the QuantileTransformer's inverse symbol
    dt = np.float32 if float_t == "float" else np.float64
    R = rows(X, 2000).astype(dt)
    Rp = np.abs(R)
    outs: dict = {}
    for lvl, fl in _levels().items():
        so = scikinc.compile(src, tmp_path / f"{lvl}.so", flags=["-O3", *fl], reproducible=True)
        outs[lvl] = {k: scikinc.load(so, k)(Rp if k == "ft" else R) for k in syms}
        outs[lvl]["qti"] = scikinc.load(so, "qt_inverse")(R)
    ref = outs.pop("no_clones")
    for lvl, o in outs.items():
        for k in o:
            assert same_bits(o[k], ref[k]), f"{lvl} {k}: {(o[k] != ref[k]).sum()} outputs differ from no-clones"
    # vs the libraries (Keras/TF's own float64 gelu/softmax differ from the exact ones by ~1e-9: libm's too)
    tol = 2e-5 if float_t == "float" else 1e-11
    so = scikinc.compile(src, tmp_path / "libm.so", flags=["-O3", "-DSKC_LIBM_MATH"])
    libm = {k: scikinc.load(so, k)(Rp if k == "ft" else R) for k in syms}
    libm["qti"] = scikinc.load(so, "qt_inverse")(R)
    for k in ref:
        d = np.abs(ref[k].astype(np.float64) - libm[k]) / (1 + np.abs(libm[k].astype(np.float64)))
        assert np.nanmax(d) < (1e-5 if float_t == "float" else 1e-13), (k, "own vs libm", np.nanmax(d))
        want = np.asarray(models[k][1]((Rp if k == "ft" else R).astype(np.float64)), dtype=np.float64)
        got = ref[k].astype(np.float64).reshape(want.shape)
        err = np.abs(got - want) / (1 + np.abs(want))
        assert np.nanmax(err) < (1e-8 if k == "k" and float_t == "double" else tol), (k, np.nanmax(err))
