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
