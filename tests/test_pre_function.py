"""FunctionTransformer: numpy ufuncs, identity, user C expressions
(func_inC / inverse_func_inC) and the rejection of anything else."""
import warnings

import numpy as np
import pytest
from sklearn.preprocessing import FunctionTransformer
from util import as_type, check_contract

import scikinc
from scikinc.converters.function import UFUNCS, parse_expression

DOMAIN = {  # input ranges where numpy gives finite results
    "log": (1e-3, 1e3), "log2": (1e-3, 1e3), "log10": (1e-3, 1e3), "sqrt": (0, 1e3),
    "log1p": (-0.999, 1e3), "arcsin": (-1, 1), "arccos": (-1, 1), "arctanh": (-0.999, 0.999),
    "arccosh": (1, 1e3), "reciprocal": (0.01, 100), "exp": (-30, 30), "exp2": (-30, 30),
    "expm1": (-30, 30), "sinh": (-30, 30), "cosh": (-30, 30),
}


def _ft(func, inverse=None, **attrs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # check_inverse on arbitrary pairs
        f = FunctionTransformer(func, inverse_func=inverse, check_inverse=False).fit(np.ones((5, 3)))
    for k, v in attrs.items():
        setattr(f, k, v)
    return f


def _rows(name, n=1200, seed=0):
    rng = np.random.default_rng(seed)
    lo, hi = DOMAIN.get(name, (-20, 20))
    X = lo + (hi - lo) * rng.random((n, 3))
    X[0] = [lo, hi, np.nan]
    return X


@pytest.mark.parametrize("float_t", ["float", "double"])
def test_ufuncs_match_numpy(tmp_path, float_t):
    models = {f"u_{n}": _ft(getattr(np, n)) for n in sorted(UFUNCS)}
    models["ident"] = _ft(None)
    fns = check_contract(models, tmp_path, float_t=float_t, X=_rows("x"))
    rtol = 2e-6 if float_t == "float" else 1e-14
    for sym, m in models.items():
        name = sym[2:]
        X = as_type(_rows(name), float_t)
        f = fns[sym]
        with np.errstate(all="ignore"):
            expect = m.transform(X)
        got = f(X).astype(np.float64)
        assert np.array_equal(np.isnan(got), np.isnan(expect)), sym
        # trig functions of large arguments: absolute error ~ ulp(x)
        atol = 4 * np.finfo(f.dtype).eps * (1 + np.abs(X)) if name in ("sin", "cos", "tan", "sign") else 0
        np.testing.assert_allclose(got, expect, rtol=rtol, atol=np.nanmax(atol) if np.size(atol) > 1 else atol,
                                   err_msg=sym)
        # inverse_func=None: identity, like sklearn
        np.testing.assert_array_equal(f.inverse(X), m.inverse_transform(X).astype(f.dtype))


@pytest.mark.parametrize("float_t", ["float", "double"])
def test_user_c_expressions(tmp_path, float_t):
    models = {
        "logit": _ft(lambda x: np.log(x / (1 - x)), lambda y: 1 / (1 + np.exp(-y)),
                     func_inC="log(x / (1 - x))", inverse_func_inC="1 / (1 + exp(-x))"),
        "poly": _ft(lambda x: 2.5e-1 * x * x - 3 * x + 0.5, func_inC="2.5e-1*x*x - 3*x + .5"),
        "two": _ft(lambda x: np.power(np.abs(x), 1.5) + np.arctan2(x, 2) + np.fmin(x, 0.25),
                   func_inC="pow(fabs(x), 1.5) + atan2(x, 2) + fmin(x, 0.25)"),
        "unary": _ft(lambda x: np.negative(-x) + x - np.pi * -x / np.e, func_inC="-(-x) + +x - M_PI * -x / M_E"),
        # *_inC takes precedence over a supported ufunc
        "override": _ft(np.exp, func_inC="exp(x) - 1", inverse_func_inC="log(x + 1)"),
    }
    X = np.random.default_rng(1).uniform(0.01, 0.99, size=(1000, 3))
    fns = check_contract(models, tmp_path, float_t=float_t, X=X)
    Xt = as_type(X, float_t)
    rtol = 3e-6 if float_t == "float" else 1e-13
    for name, m in list(models.items())[:4]:
        np.testing.assert_allclose(fns[name](Xt), m.transform(Xt), rtol=rtol, atol=rtol, err_msg=name)
    f = fns["logit"]
    np.testing.assert_allclose(f.inverse(f(Xt)), Xt, rtol=rtol * 4)
    np.testing.assert_allclose(fns["override"](Xt), np.expm1(Xt), rtol=rtol, atol=rtol)
    np.testing.assert_allclose(fns["override"].inverse(fns["override"](Xt)), Xt, rtol=rtol * 4, atol=rtol)
    assert fns["poly"].inverse is not None  # inverse_func None -> identity, like sklearn


def test_user_text_never_reaches_the_c_file():
    m = _ft(lambda x: x, func_inC="  log( x+1 )*2  ")
    src = scikinc.convert({"f": m}, float_t="double")
    assert "log( x+1 )" not in src and "func_inC" not in src.split("Expr", 1)[0]
    assert "log((v + ((FLOAT_T)1.0)))" in src


REJECTED = [
    ("x; system(\"rm -rf /\")", "unexpected character ';'"),
    ("{ return x; }", "unexpected character '{'"),
    ("system(x)", "unknown identifier 'system'"),
    ("x /* hidden */", "comments are not allowed"),
    ("x // hidden", "comments are not allowed"),
    ("x */ int y; /*", "comments are not allowed"),
    ("y + 1", "unknown identifier 'y'"),
    ("expf(x)", "unknown identifier 'expf'"),
    ("", "empty expression"),
    ("   ", "empty expression"),
    ("exp(x", "expected ')'"),
    ("pow(x)", "pow() takes 2 argument(s), got 1"),
    ("exp(x, 1)", "exp() takes 1 argument(s), got 2"),
    ("1e999", "is not finite"),
    ("x +", "unexpected end of expression"),
    ("x x", "unexpected 'x' at position 2"),
    ("\"x\"", "unexpected character '\"'"),
    ("#include <stdlib.h>", "unexpected character '#'"),
    ("x[0]", "unexpected character '['"),
    ("x = 1", "unexpected character '='"),
    ("exp", "expected '('"),
    (")", "unexpected ')'"),
    ("(" * 200 + "x" + ")" * 200, "nested too deeply"),
]


@pytest.mark.parametrize("text,message", REJECTED)
def test_rejected_expressions(text, message):
    with pytest.raises(scikinc.ConversionError) as e:
        parse_expression(text)
    assert message in str(e.value)
    assert "Allowed: numbers, x" in str(e.value)
    m = _ft(lambda x: x, func_inC=text)
    with pytest.raises(scikinc.ConversionError, match="func_inC"):
        scikinc.convert({"f": m})
    m = _ft(None, inverse_func_inC=text)
    with pytest.warns(UserWarning, match="no inverse symbol: inverse_func_inC"):
        assert "f_inverse" not in scikinc.convert({"f": m})


def test_unsupported_functions_are_reported():
    with pytest.raises(scikinc.ConversionError, match=r"cannot translate .*<lambda>.* func_inC"):
        scikinc.convert({"f": _ft(lambda x: x + 1)})
    with pytest.warns(UserWarning, match=r"no inverse symbol: .*cannot translate .* inverse_func_inC"):
        src = scikinc.convert({"f": _ft(np.log, np.add)})  # binary ufunc: forward only
    assert "f_inverse" not in src and "FLOAT_T *f(" in src
    m = FunctionTransformer(np.log, kw_args={"out": None}).fit(np.ones((3, 2)))
    with pytest.raises(scikinc.ConversionError, match="kw_args are not supported"):
        scikinc.convert({"f": m})
    with pytest.raises(scikinc.ConversionError, match="must be a string"):
        parse_expression(3.0)
    with pytest.raises(scikinc.ConversionError, match="longer than"):
        parse_expression("x+" * 2000 + "x")
