"""QuantileTransformer vs sklearn (forward + inverse, uniform + normal), and
the accuracy of the C normal CDF/PPF against scipy / mpmath."""
import warnings

import numpy as np
import pytest
from scipy import stats
from sklearn.preprocessing import QuantileTransformer
from util import as_type, check_contract, compile_strict, rows

import scikinc
from scikinc.core import finish
from scikinc.ir import Graph
from scikinc.ir.preprocessing import Expr
from scikinc.render import Entry, render_file


def _data(seed=0, n=3000):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 5)) * [1, 10, 100, 1, 1] + [0, 3, -50, 0, 0]
    X[:, 1] = rng.exponential(size=n) * 10  # skewed
    X[:, 3] = np.round(X[:, 3])  # repeated values -> repeated quantiles
    X[:, 4] = 2.5  # constant feature
    return X


def _models(X):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # n_quantiles > n_samples warning
        return {
            "qu": QuantileTransformer().fit(X),
            "qn": QuantileTransformer(output_distribution="normal").fit(X),
            "qu10": QuantileTransformer(n_quantiles=10).fit(X),
            "qn_sub": QuantileTransformer(n_quantiles=200, subsample=500, random_state=0,
                                          output_distribution="normal").fit(X),
            "qu_sub": QuantileTransformer(n_quantiles=50, subsample=300, random_state=1).fit(X),
            "qn_big": QuantileTransformer(n_quantiles=5000, output_distribution="normal").fit(X[:700]),
        }


def _rows(X, m_list):
    R = rows(X, 1600)
    extra = [R]
    for m in m_list:  # every quantile, and just around the fitted bounds
        q = m.quantiles_
        extra += [q, q - 1e-8, q + 1e-8, q[[0]] + 1e-7, q[[-1]] - 1e-7, q[[0]] - 2e-7, q[[-1]] + 2e-7]
    R = np.concatenate(extra)
    R[3, 0] = R[4, 2] = R[5, 3] = np.nan  # NaN passes through
    return R


# forward/inverse absolute tolerances (outputs are O(1); inverse relative to 1 + |x|)
TOL = {
    # double: the interpolation is bit-identical to numpy; only the normal
    # PPF/CDF differ from scipy's by an ulp or two (amplified by the
    # quantile slope in the inverse tails)
    "double": dict(fwd=1e-13, inv=1e-12),
    # long double: sklearn itself rounds p = 1 - tiny to double; the C keeps
    # 64-bit precision, so near the bounds the two differ by ~1e-12
    "long double": dict(fwd=5e-11, inv=1e-12),  # 1-p ~ 4e-7: double p has rel. error 1e-10 there
    # float: computed in double from a hi+lo float-pair table (~48 bits) and
    # rounded once: the output rounding (|y| <= 5.2 -> half ulp 2.4e-7) dominates
    "float": dict(fwd=3e-7, inv=1e-7),
}


@pytest.mark.parametrize("float_t", ["float", "double", "long double"])
def test_quantile_transformer_matches_sklearn(tmp_path, float_t):
    X = _data()
    models = _models(X)
    R = _rows(X, models.values())
    fns = check_contract(models, tmp_path, float_t=float_t, X=R)
    Rt = as_type(R, float_t)
    tol = TOL[float_t]
    for name, m in models.items():
        f = fns[name]
        ref = m
        expect = ref.transform(Rt)
        got = f(Rt).astype(np.float64)
        assert np.array_equal(np.isnan(got), np.isnan(expect)), name
        np.testing.assert_allclose(got, expect, rtol=0, atol=tol["fwd"], err_msg=name)
        if float_t == "double" and "qu" in name:
            assert np.array_equal(got, expect, equal_nan=True), f"{name}: uniform is bit-exact in double"
        # inverse on the transformed values, rounded to the C type
        Y = as_type(expect, float_t)
        inv_expect = ref.inverse_transform(Y)
        inv_got = f.inverse(Y).astype(np.float64)
        assert np.array_equal(np.isnan(inv_got), np.isnan(inv_expect)), name
        err = np.abs(inv_got - inv_expect) / (1 + np.abs(inv_expect))
        assert np.nanmax(err) <= tol["inv"], (name, np.nanmax(err))


def test_quantile_round_trip_and_bounds(tmp_path):
    X = _data(1)
    m = QuantileTransformer(output_distribution="normal", n_quantiles=300).fit(X)
    f = check_contract({"q": m}, tmp_path, float_t="double")["q"]
    inside = X[:500]
    np.testing.assert_allclose(f.inverse(f(inside)), inside, rtol=1e-9, atol=1e-9)
    far = rows(X, 1000, far=1000)
    y = f(far)
    lo, hi = stats.norm.ppf(1e-7 - np.spacing(1)), stats.norm.ppf(1 - (1e-7 - np.spacing(1)))
    assert y.min() == lo and y.max() == hi  # sklearn's clip bounds, never +-inf
    # exact sklearn masks around the fitted bounds
    q = m.quantiles_
    edge = np.concatenate([q[[0]], q[[0]] + 0.99e-7, q[[0]] + 1.01e-7, q[[-1]], q[[-1]] - 0.99e-7])
    np.testing.assert_allclose(f(edge), m.transform(edge), rtol=0, atol=1e-13)


def _expr_so(tmp_path, float_t):
    entries = []
    for name in ("norm_cdf", "norm_ppf"):
        g = Graph(1)
        g.output = g.add(Expr(("helper", name, ("x",))), g.input)
        entries.append(Entry(name, finish(g)))
    src = render_file(entries, float_t=float_t, copyright=None, version="test")
    compile_strict(src, tmp_path, stem=f"norm_{float_t.replace(' ', '_')}")
    so = scikinc.compile(src, tmp_path / f"norm_{float_t.replace(' ', '_')}.so")
    return scikinc.load(so, "norm_cdf"), scikinc.load(so, "norm_ppf")


def _rel(a, b):
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    return np.abs(a - b) / np.maximum(np.abs(b), np.finfo(np.float64).tiny)


def test_normal_cdf_ppf_accuracy_double(tmp_path):
    """Max relative error vs scipy: PPF 6.0e-16 (< 3 ulp) for p in [1e-300, 1 - 1e-16];
    CDF 4.0e-16 * (1 + x^2) on [-37, 9] -- (1 + x^2) is the condition number
    of Phi: rounding x/sqrt(2) alone costs x^2 ulp (scipy has the same)."""
    cdf, ppf = _expr_so(tmp_path, "double")
    p = np.concatenate([np.logspace(-300, -1, 3000), np.linspace(0.01, 0.99, 3001),
                        1 - np.logspace(-16, -1, 1000), [0.5, 0.02425, 1 - 0.02425, 1e-7, 1 - 1e-7]])
    p = p[(p > 0) & (p < 1)][:, None]
    e_ppf = _rel(ppf(p), stats.norm.ppf(p)).max()
    x = np.linspace(-37, 9, 20001)[:, None]
    e_cdf = (_rel(cdf(x), stats.norm.cdf(x)) / (1 + x ** 2)).max()
    assert e_ppf <= 1e-15, e_ppf
    assert e_cdf <= 4.5e-16, e_cdf
    special = np.array([[0.0], [1.0], [-0.5], [1.5], [np.nan]])
    out = ppf(special)[:, 0]
    assert out[0] == -np.inf and out[1] == np.inf and np.isnan(out[2:]).all()
    assert np.isnan(cdf(np.array([[np.nan]]))[0, 0])
    assert cdf(np.array([[-np.inf], [np.inf]]))[:, 0].tolist() == [0.0, 1.0]


def _mp(mpmath, v):
    """Exact mpmath value of a numpy (long) double."""
    n, d = np.longdouble(v).as_integer_ratio()
    return mpmath.mpf(n) / d


def test_normal_cdf_ppf_accuracy_long_double(tmp_path):
    """Against mpmath at 40 digits (64-bit mantissa, ulp 1.1e-19): PPF relative
    error < 5e-19; CDF < 1.1e-19 * (1 + x^2) (its condition number)."""
    mpmath = pytest.importorskip("mpmath")
    mpmath.mp.dps = 40
    cdf, ppf = _expr_so(tmp_path, "long double")
    p = np.concatenate([np.logspace(-200, -1, 60), np.linspace(0.05, 0.95, 41), 1 - np.logspace(-15, -2, 30)])
    pl = p.astype(np.longdouble)[:, None]
    got = ppf(pl)[:, 0]
    worst = 0.0
    for pi, gi in zip(pl[:, 0], got, strict=False):
        pm = _mp(mpmath, pi)
        ref = mpmath.mpf(float(stats.norm.ppf(float(pi))))
        for _ in range(3):  # Newton at 40 digits from scipy's double value
            ref -= (mpmath.ncdf(ref) - pm) / mpmath.npdf(ref)
        worst = max(worst, float(abs((_mp(mpmath, gi) - ref) / ref)))
    assert worst < 5e-19, worst
    x = np.linspace(-30, 8, 77).astype(np.longdouble)[:, None]
    gc = cdf(x)[:, 0]
    worst_c = max(float(abs((_mp(mpmath, g) - mpmath.ncdf(_mp(mpmath, xi))) / mpmath.ncdf(_mp(mpmath, xi))))
                  / (1 + float(xi) ** 2) for xi, g in zip(x[:, 0], gc, strict=False))
    assert worst_c < 1.1e-19, worst_c
