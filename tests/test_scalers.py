"""MinMaxScaler and StandardScaler vs sklearn, forward and inverse."""
import numpy as np
import pytest
from sklearn.preprocessing import MinMaxScaler, StandardScaler
from util import as_type, check_contract, rows

# Affine maps run in double internally: float results are the correctly rounded
# double results (<= 1/2 ulp = 6e-8 relative); double ones match sklearn to the bit
# or within a few ulps.
# (long double is more accurate than sklearn's float64 where x - mean cancels,
# so there the bound is relative to the magnitude of the inputs).
TOL = {"float": dict(rtol=6.0e-8), "double": dict(rtol=1e-15), "long double": dict(rtol=1e-12)}


def _data(seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(500, 5)) * [1, 10, 1e3, 1e-3, 1] + [0, 5, -100, 0, 3]
    X[:, 4] = 3.0  # constant feature: zero variance / zero range
    return X


SCALERS = {
    "ss": lambda: StandardScaler(),
    "ss_nomean": lambda: StandardScaler(with_mean=False),
    "ss_nostd": lambda: StandardScaler(with_std=False),
    "ss_none": lambda: StandardScaler(with_mean=False, with_std=False),
    "mm": lambda: MinMaxScaler(),
    "mm_range": lambda: MinMaxScaler(feature_range=(-3, 7)),
    "mm_clip": lambda: MinMaxScaler(feature_range=(-1, 1), clip=True),
}


def _atol(Y, rtol):
    if rtol > 1e-13:  # long double vs float64 reference: cancellation error of the reference
        return rtol * (1 + np.max(np.abs(Y[np.isfinite(Y)]), initial=0))
    return 1e-300  # no absolute slack: the relative bound holds down to zero


@pytest.mark.parametrize("float_t", ["float", "double", "long double"])
def test_scalers_match_sklearn(tmp_path, float_t):
    X = _data()
    models = {k: f().fit(X) for k, f in SCALERS.items()}
    R = rows(X, 2000)
    R[5, 1] = np.nan  # NaN passes through like in sklearn
    fns = check_contract(models, tmp_path, float_t=float_t, X=R)
    Rt = as_type(R, float_t)
    rtol = TOL[float_t]["rtol"]
    for name, m in models.items():
        f = fns[name]
        assert f.n_inputs == 5 and f.n_outputs == 5
        expect = m.transform(Rt)
        got = f(Rt).astype(np.float64)
        np.testing.assert_allclose(got, expect, rtol=rtol, atol=_atol(expect, rtol), err_msg=name)
        assert np.isnan(got[5, 1]) == np.isnan(expect[5, 1])
        # inverse
        assert f.inverse is not None, name
        Y = as_type(expect, float_t)
        inv_expect = m.inverse_transform(Y)
        inv_got = f.inverse(Y).astype(np.float64)
        np.testing.assert_allclose(inv_got, inv_expect, rtol=rtol, atol=_atol(inv_expect, rtol), err_msg=name)


def test_double_is_bit_exact_for_standard_scaler(tmp_path):
    """Same operation order as sklearn: in double the results are identical."""
    X = _data(1)
    m = StandardScaler().fit(X)
    f = check_contract({"s": m}, tmp_path, float_t="double")["s"]
    R = rows(X, 1000, seed=3)
    assert np.array_equal(f(R), m.transform(R), equal_nan=True)


def test_minmax_clip_clamps_out_of_range(tmp_path):
    X = _data(2)
    m = MinMaxScaler(clip=True).fit(X)
    f = check_contract({"s": m}, tmp_path)["s"]
    R = rows(X, 1000, far=100)
    got = f(R)
    assert got.min() >= 0 and got.max() <= 1
    np.testing.assert_allclose(got, m.transform(as_type(R, "float")), rtol=1e-6, atol=1e-6)
