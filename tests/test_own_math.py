"""scikinc's own math functions (templates/helpers/math.c.j2) through a small
C harness (tests/own_math_harness.c) built around ``render.math_source``:
max ulp errors vs the correctly rounded result (float: >= 10M float bit
patterns spread over all floats, against double libm; double: >= 1M points
incl. hard ranges, against x87 long double libm), exact special values, no
floating-point exceptions on finite input, bitwise-equal results across
optimisation levels and ISA levels in reproducible mode, the x86 bits on
aarch64 (cross-compiled, run under qemu-user), and libm's results
under -DSKC_LIBM_MATH.  The bounds are the measured maxima (README, Build
modes), rounded up."""
from __future__ import annotations

import ctypes
import platform
import subprocess
import zlib
from pathlib import Path

import numpy as np
import pytest
from util import cpu_flags

from scikinc.compiler import REPRODUCIBLE_FLAGS
from scikinc.render import MATH_UNITS, math_source

HERE = Path(__file__).resolve().parent
ONE_ARG = ("exp", "expm1", "log", "log1p", "tanh", "erf", "erfc", "exp2", "log2", "log10", "sinh", "cosh")
#: added later: 100k points each in the fast tier, the full sweeps under slow
NEW_ONE_ARG = ("cbrt", "asinh", "acosh", "atanh", "tgamma", "lgamma")
ALL_ONE_ARG = ONE_ARG + NEW_ONE_ARG
TWO_ARG = ("pow", "hypot")
X87 = platform.machine() in ("x86_64", "i686") and np.finfo(np.longdouble).nmant >= 63

#: max error in ulp, float (all floats sampled) and double
FLOAT_ULP = {"exp": 1.05, "expm1": 1.3, "log": 0.85, "log1p": 1.5, "tanh": 1.5, "erf": 0.51, "erfc": 0.51,
             "exp2": 0.51, "log2": 0.51, "log10": 0.51, "sinh": 0.51, "cosh": 0.51, "pow": 0.51,
             "cbrt": 0.51, "asinh": 0.51, "acosh": 0.51, "atanh": 0.51, "tgamma": 0.51, "lgamma": 0.51,
             "hypot": 0.51}
DOUBLE_ULP = {"exp": 1.0, "expm1": 1.55, "log": 0.9, "log1p": 1.5, "tanh": 1.5, "erf": 1.45, "erfc": 2.4,
              "exp2": 1.05, "log2": 1.35, "log10": 1.25, "sinh": 1.4, "cosh": 1.4,
              "cbrt": 0.55, "asinh": 2.1, "acosh": 2.3, "atanh": 2.1, "tgamma": 7.0, "pow": 1.0, "hypot": 0.8}
#: lgamma: x > 0 (its zeros at 1 and 2 keep their relative precision), and x < 0 where
#: |lgamma(x)| >= 1/2 (near its negative zeros the error is absolute: ~1e-16)
LGAMMA_ULP = {"pos": 7.0, "neg": 13.0}

F = ctypes.POINTER(ctypes.c_float)
D = ctypes.POINTER(ctypes.c_double)


def build(path: Path, flags: list[str], cc: str = "gcc") -> ctypes.CDLL:
    path.mkdir(parents=True, exist_ok=True)
    (path / "skc_math.h").write_text(math_source(set(MATH_UNITS)) + "\n")
    so = path / "harness.so"
    subprocess.run([cc, "-std=c99", "-Wall", "-Wextra", "-Werror", *flags, "-fPIC", "-shared", "-I", str(path),
                    "-o", str(so), str(HERE / "own_math_harness.c"), "-lm"], check=True)
    lib = ctypes.CDLL(str(so))
    for n in ALL_ONE_ARG:
        getattr(lib, f"ulp_float_{n}").restype = ctypes.c_double
        getattr(lib, f"ulp_float_{n}").argtypes = [ctypes.c_uint, ctypes.c_uint, ctypes.c_uint, F]
        getattr(lib, f"ulp_double_{n}").restype = ctypes.c_double
        getattr(lib, f"ulp_double_{n}").argtypes = [D, ctypes.c_long, D]
        getattr(lib, f"apply_{n}f").argtypes = [F, F, ctypes.c_long]
        getattr(lib, f"apply_{n}").argtypes = [D, D, ctypes.c_long]
        getattr(lib, f"fpe_{n}f").argtypes = [F, ctypes.c_long]
        getattr(lib, f"fpe_{n}").argtypes = [D, ctypes.c_long]
    lib.ulp_float_pow.restype = ctypes.c_double
    lib.ulp_float_pow.argtypes = [F, F, ctypes.c_long, ctypes.POINTER(ctypes.c_long)]
    lib.apply_powf.argtypes = [F, F, F, ctypes.c_long]
    for n in TWO_ARG:
        getattr(lib, f"ulp2_float_{n}").restype = ctypes.c_double
        getattr(lib, f"ulp2_float_{n}").argtypes = [F, F, ctypes.c_long, ctypes.POINTER(ctypes.c_long)]
        getattr(lib, f"ulp2_double_{n}").restype = ctypes.c_double
        getattr(lib, f"ulp2_double_{n}").argtypes = [D, D, ctypes.c_long, ctypes.POINTER(ctypes.c_long)]
        getattr(lib, f"apply2_{n}f").argtypes = [F, F, F, ctypes.c_long]
        getattr(lib, f"apply2_{n}").argtypes = [D, D, D, ctypes.c_long]
        getattr(lib, f"fpe2_{n}f").argtypes = [F, F, ctypes.c_long]
        getattr(lib, f"fpe2_{n}").argtypes = [D, D, ctypes.c_long]
    return lib


@pytest.fixture(scope="module")
def own(tmp_path_factory):
    return build(tmp_path_factory.mktemp("own"), ["-O3", *REPRODUCIBLE_FLAGS])


def apply(lib, name, x):
    x = np.ascontiguousarray(x)
    y = np.empty_like(x)
    if x.dtype == np.float32:
        getattr(lib, f"apply_{name}f")(x.ctypes.data_as(F), y.ctypes.data_as(F), len(x))
    else:
        getattr(lib, f"apply_{name}")(x.ctypes.data_as(D), y.ctypes.data_as(D), len(x))
    return y


def double_points(name: str, n: int = 150_000) -> np.ndarray:
    """>= 1M doubles: uniform over the useful range and around 0, log-uniform
    over every magnitude (both signs), subnormals, random bit patterns, the
    neighbourhoods of the function's thresholds, specials."""
    rng = np.random.default_rng(zlib.crc32(name.encode()))
    useful = {"exp": 746, "expm1": 50, "exp2": 1080, "sinh": 711, "cosh": 711, "tanh": 25, "erf": 7,
              "erfc": 28, "atanh": 1, "tgamma": 180, "lgamma": 200}.get(name, 1e3)
    mag = np.exp(rng.uniform(-745, 709, n))
    parts = [rng.uniform(-useful, useful, n), rng.uniform(-1, 1, n), rng.uniform(-0.6, 0.6, n),
             mag, -mag, rng.uniform(0, 2, n) * 2.0 ** -1022, rng.uniform(0.5, 2, n),
             np.frombuffer(rng.integers(0, 2**64, n, dtype=np.uint64, endpoint=False).tobytes(), np.float64)]
    edges = [0.5, 0.55, 1, 6, 22, 27.2, 700, 708, 709.782712893384, 710.4758600739439, 745.1332191019411,
             1020, 1024, 1074, 1075, 2.0 ** -26, 2.0 ** -54, 1 / np.sqrt(2), np.sqrt(2)]
    around = []
    for e in edges:
        for s in (1, -1):
            c = s * e
            around.append(c + np.arange(-2000, 2001) * np.spacing(c))
            around.append(c * (1 + rng.uniform(-1e-6, 1e-6, 2000)))
    if name in ("log", "log1p", "log2", "log10"):  # just around 1 and -1
        around.append(1 + rng.uniform(-1e-3, 1e-3, n))
        around.append(-1 + rng.uniform(-1e-3, 1e-3, 20000))
        around.append(2.0 ** rng.integers(-1074, 1024, 20000).astype(np.float64))
    if name == "exp2":
        around.append(rng.integers(-1100, 1100, 20000).astype(np.float64))
    if name in ("tgamma", "lgamma"):  # the recurrence and reflection ranges, every pole's neighbourhood
        around.append(rng.uniform(-10, 10, n))
        poles = rng.integers(-180, 1, 20000).astype(np.float64)
        around.append(poles + rng.uniform(-1e-3, 1e-3, 20000))
        around.append(1 + rng.uniform(-1e-3, 1e-3, 20000))
        around.append(2 + rng.uniform(-1e-3, 1e-3, 20000))
        around.append(rng.uniform(171, 171.7, 20000))
    special = [0.0, -0.0, np.inf, -np.inf, np.nan, 5e-324, -5e-324, 2.2250738585072014e-308, 1.7976931348623157e308,
               -1.7976931348623157e308, 1.0, -1.0]
    with np.errstate(all="ignore"):
        x = np.concatenate([*parts, *around, np.array(special)]).astype(np.float64)
    return np.ascontiguousarray(x)


@pytest.mark.parametrize("name", ONE_ARG)
def test_float_max_ulp_over_all_floats(own, name):
    """12M float bit patterns (every 357th, all exponents, both signs)."""
    w = ctypes.c_float()
    err = getattr(own, f"ulp_float_{name}")(0, 0xFFFFFFFF, 357, ctypes.byref(w))
    assert err <= FLOAT_ULP[name], f"{name}f: {err:.3f} ulp at {w.value!r}"


def test_powf_max_ulp(own):
    rng = np.random.default_rng(7)
    n = 1_000_000
    x = np.concatenate([rng.uniform(0, 4, n), np.exp(rng.uniform(-80, 80, n)), -rng.uniform(0, 3, n // 4),
                        np.array([0, -0.0, 1, -1, np.inf, -np.inf, np.nan, 2, 0.5, -2] * 10)]).astype(np.float32)
    y = np.concatenate([rng.uniform(-5, 5, n), rng.uniform(-1, 1, n), rng.integers(-9, 10, n // 4),
                        np.array([0, -0.0, 1, -1, np.inf, -np.inf, np.nan, 3, -3, 0.5] * 10)]).astype(np.float32)
    rng.shuffle(y[-100:])
    w = ctypes.c_long()
    err = own.ulp_float_pow(x.ctypes.data_as(F), y.ctypes.data_as(F), len(x), ctypes.byref(w))
    assert err <= FLOAT_ULP["pow"], f"powf: {err:.3f} ulp at ({x[w.value]!r}, {y[w.value]!r})"


@pytest.mark.skipif(not X87, reason="the double reference is x87 long double libm")
@pytest.mark.parametrize("name", ONE_ARG)
def test_double_max_ulp(own, name):
    x = double_points(name)
    assert len(x) >= 1_000_000
    w = ctypes.c_double()
    err = getattr(own, f"ulp_double_{name}")(x.ctypes.data_as(D), len(x), ctypes.byref(w))
    assert err <= DOUBLE_ULP[name], f"{name}: {err:.3f} ulp at {w.value!r}"


def _max_ulp1(lib, name, x):
    x = np.ascontiguousarray(x, dtype=np.float64)
    w = ctypes.c_double()
    return getattr(lib, f"ulp_double_{name}")(x.ctypes.data_as(D), len(x), ctypes.byref(w)), w.value


def _new_points(name, n):
    """``double_points`` for the functions added later, without lgamma's
    negative zeros (checked apart) and with n points per part."""
    x = double_points(name, n)
    if name == "lgamma":
        x = x[~(x < 0)]
    return x


@pytest.mark.parametrize("name", NEW_ONE_ARG)
def test_new_float_max_ulp(own, name):
    """~120k float bit patterns (every 35,791st; all floats under slow)."""
    w = ctypes.c_float()
    err = getattr(own, f"ulp_float_{name}")(0, 0xFFFFFFFF, 35791, ctypes.byref(w))
    assert err <= FLOAT_ULP[name], f"{name}f: {err:.3f} ulp at {w.value!r}"


@pytest.mark.slow
@pytest.mark.parametrize("name", NEW_ONE_ARG)
def test_new_float_max_ulp_over_all_floats(own, name):
    w = ctypes.c_float()
    err = getattr(own, f"ulp_float_{name}")(0, 0xFFFFFFFF, 357, ctypes.byref(w))
    assert err <= FLOAT_ULP[name], f"{name}f: {err:.3f} ulp at {w.value!r}"


def _check_new_double(own, name, n):
    x = _new_points(name, n)
    err, w = _max_ulp1(own, name, x)
    bound = LGAMMA_ULP["pos"] if name == "lgamma" else DOUBLE_ULP[name]
    assert err <= bound, f"{name}: {err:.3f} ulp at {w!r}"


@pytest.mark.skipif(not X87, reason="the double reference is x87 long double libm")
@pytest.mark.parametrize("name", NEW_ONE_ARG)
def test_new_double_max_ulp(own, name):
    _check_new_double(own, name, 10_000)


@pytest.mark.slow
@pytest.mark.skipif(not X87, reason="the double reference is x87 long double libm")
@pytest.mark.parametrize("name", NEW_ONE_ARG)
def test_new_double_max_ulp_millions(own, name):
    _check_new_double(own, name, 150_000)


def test_lgamma_negative_vs_mpmath(own):
    """lgamma for x < 0 (reflection) vs mpmath: LGAMMA_ULP['neg'] where |lgamma| >= 1/2,
    an absolute error below 4e-16 everywhere (the negative zeros of lgamma)."""
    mp = pytest.importorskip("mpmath")

    rng = np.random.default_rng(9)
    x = -np.concatenate([rng.uniform(0, 10, 3000), rng.uniform(0, 190, 1500), np.exp(rng.uniform(-700, 5, 500))])
    x = np.ascontiguousarray(x[np.floor(x) != x])
    y = apply(own, "lgamma", x)
    want = np.array([float(mp.loggamma(mp.mpf(float(v))).real) for v in x])
    assert np.abs(y - want).max() <= 4e-16 * np.maximum(1, np.abs(want)).max(), np.abs(y - want).max()
    big = np.abs(want) >= 0.5
    ulp = np.abs(y - want)[big] / np.spacing(np.abs(want[big]))
    assert ulp.max() <= LGAMMA_ULP["neg"], (ulp.max(), x[big][ulp.argmax()])


def pow_points(n: int) -> tuple[np.ndarray, np.ndarray]:
    """(x, y) for pow: moderate ranges, every magnitude, x near 1 with huge y,
    results near overflow/underflow/subnormals, negative x with integral y."""
    rng = np.random.default_rng(13)
    xs = [rng.uniform(0, 4, n), np.exp(rng.uniform(-700, 700, n)), 1 + rng.uniform(-1e-6, 1e-6, n),
          1 + rng.normal(size=n) * 1e-13, -rng.uniform(0, 3, n)]
    ys = [rng.uniform(-50, 50, n), rng.uniform(-1, 1, n), rng.uniform(-1e8, 1e8, n), rng.uniform(-5e14, 5e14, n),
          rng.integers(-300, 300, n).astype(np.float64)]
    xe = np.exp(rng.uniform(0.01, 5, n)) ** rng.choice([-1, 1], n)
    for lo, hi in ((700, 709.8), (-745.2, -700), (-760, -740)):  # exponents near overflow and underflow
        xs.append(xe)
        ys.append(rng.uniform(lo, hi, n) / np.log(xe))
    return np.concatenate(xs), np.concatenate(ys)


def hypot_points(n: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(17)
    a = np.concatenate([rng.normal(size=n), np.exp(rng.uniform(-745, 709, n)), rng.normal(size=n) * 1e-310,
                        np.exp(rng.uniform(-745, 709, n))])
    b = np.concatenate([rng.normal(size=n), np.exp(rng.uniform(-745, 709, n)), rng.normal(size=n) * 1e300,
                        np.exp(rng.uniform(-745, 709, n)) * rng.uniform(0, 1e-8, n)])
    return np.concatenate([a, a]), np.concatenate([b, a * rng.uniform(0, 1, len(a))])


def _max_ulp2(lib, name, x, y, dtype):
    x, y = (np.ascontiguousarray(v.astype(dtype)) for v in (x, y))
    w = ctypes.c_long()
    P = F if dtype == np.float32 else D
    err = getattr(lib, f"ulp2_{'float' if dtype == np.float32 else 'double'}_{name}")(
        x.ctypes.data_as(P), y.ctypes.data_as(P), len(x), ctypes.byref(w))
    return err, (x[w.value], y[w.value])


@pytest.mark.skipif(not X87, reason="the double reference is x87 long double libm")
@pytest.mark.parametrize("n", [12_500, pytest.param(150_000, marks=pytest.mark.slow)])
def test_pow_hypot_double_max_ulp(own, n):
    """double pow (8n points, >= 1M under slow) and hypot (8n)."""
    for name, pts in (("pow", pow_points), ("hypot", hypot_points)):
        x, y = pts(n)
        with np.errstate(all="ignore"):
            err, w = _max_ulp2(own, name, x, y, np.float64)
        assert err <= DOUBLE_ULP[name], f"{name}: {err:.3f} ulp at {w!r}"


def test_hypotf_max_ulp(own):
    x, y = hypot_points(12_500)
    with np.errstate(all="ignore"):
        x, y = x.astype(np.float32), y.astype(np.float32)
        err, w = _max_ulp2(own, "hypot", x, y, np.float32)
    assert err <= FLOAT_ULP["hypot"], f"hypotf: {err:.3f} ulp at {w!r}"


def test_two_arg_special_values_vs_libm(own):
    """pow and hypot over a grid of special and ordinary values: libm's
    result bit for bit where it is 0, inf or NaN, else within the ulp bound."""
    libm = ctypes.CDLL("libm.so.6")
    sp = [0.0, -0.0, np.inf, -np.inf, np.nan, 1.0, -1.0, 2.0, -2.0, 0.5, -0.5, 3.0, -3.0, 0.25, 4.0, 1e-5, -4.0,
          1.5, -1.5, 1e20, -1e20, 5e-324, -5e-324, 1e300, -1e300, 1.7976931348623157e308, 2.0 ** 53 + 2, 2.0 ** 53 - 1]
    X, Y = (np.ascontiguousarray(v.ravel()) for v in np.meshgrid(np.array(sp), np.array(sp)))
    bad = []
    for name in TWO_ARG:
        for dtype, suf, ct in ((np.float64, "", ctypes.c_double), (np.float32, "f", ctypes.c_float)):
            f = getattr(libm, name + suf)
            f.restype, f.argtypes = ct, [ct, ct]
            with np.errstate(all="ignore"):
                x, y = X.astype(dtype), Y.astype(dtype)
            out = np.empty_like(x)
            P = F if dtype == np.float32 else D
            if name == "pow" and suf:
                own.apply_powf(x.ctypes.data_as(P), y.ctypes.data_as(P), out.ctypes.data_as(P), len(x))
            else:
                getattr(own, f"apply2_{name}{suf}")(x.ctypes.data_as(P), y.ctypes.data_as(P), out.ctypes.data_as(P),
                                                    len(x))
            for a, b, o in zip(x, y, out, strict=True):
                with np.errstate(all="ignore"):
                    w = dtype(f(float(a), float(b)))
                if np.isnan(w) or np.isinf(w) or w == 0:
                    ok = (np.isnan(w) and np.isnan(o)) or (o == w and np.signbit(o) == np.signbit(w))
                else:
                    ok = abs(float(o) - float(w)) <= 2 * float(np.spacing(abs(w)))
                if not ok:
                    bad.append(f"{name}{suf}({a!r}, {b!r}) = {o!r}, libm {w!r}")
    assert not bad, bad[:20]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_two_arg_no_fp_exceptions(own, dtype):
    """pow and hypot raise no overflow/invalid/divide-by-zero on finite input
    (pow(0, -1) = inf, pow(-2, 0.5) = NaN, pow(10, 400) = inf selected) except
    a genuine overflow of pow within 0.01 of its threshold (not sampled here)."""
    rng = np.random.default_rng(23)
    info = np.finfo(dtype)
    x = np.concatenate([rng.uniform(-5, 5, 20000), np.exp(rng.uniform(-700, 700, 20000)) * rng.choice([-1, 1], 20000),
                        [0, -0.0, -1, 1, 10, -10, 1e30, 1e300, -1e300, 2]])
    y = np.concatenate([rng.uniform(-50, 50, 20000), rng.uniform(-1e4, 1e4, 20000),
                        [-1, -1, 0.5, 1e300, 400, 401, -3, 1e300, 3, -2000]])
    with np.errstate(all="ignore"):
        x = np.ascontiguousarray(np.clip(x, -info.max, info.max).astype(dtype))
        y = np.ascontiguousarray(np.clip(y, -info.max, info.max).astype(dtype))
    P = F if dtype == np.float32 else D
    suf = "f" if dtype == np.float32 else ""
    # powf is the float conversion of a double result: a result beyond FLT_MAX overflows in it (README)
    names = ("hypot",) if dtype == np.float32 else TWO_ARG
    raised = {n: getattr(own, f"fpe2_{n}{suf}")(x.ctypes.data_as(P), y.ctypes.data_as(P), len(x)) for n in names}
    assert not any(raised.values()), raised


INF, NAN = np.inf, np.nan
#: (function, argument, IEEE result) checked bit for bit in float and double
SPECIAL = [
    *[(n, NAN, NAN) for n in ALL_ONE_ARG],
    ("cbrt", INF, INF), ("cbrt", -INF, -INF), ("cbrt", 0.0, 0.0), ("cbrt", -0.0, -0.0), ("cbrt", 27.0, 3.0),
    ("cbrt", -0.125, -0.5),
    ("asinh", INF, INF), ("asinh", -INF, -INF), ("asinh", 0.0, 0.0), ("asinh", -0.0, -0.0),
    ("acosh", INF, INF), ("acosh", 1.0, 0.0), ("acosh", 0.5, NAN), ("acosh", -INF, NAN),
    ("atanh", 1.0, INF), ("atanh", -1.0, -INF), ("atanh", 0.0, 0.0), ("atanh", -0.0, -0.0), ("atanh", 2.0, NAN),
    ("tgamma", INF, INF), ("tgamma", -INF, NAN), ("tgamma", 0.0, INF), ("tgamma", -0.0, -INF), ("tgamma", -1.0, NAN),
    ("tgamma", -2.0, NAN), ("tgamma", 1.0, 1.0), ("tgamma", 2.0, 1.0), ("tgamma", 5.0, 24.0), ("tgamma", 200.0, INF),
    ("tgamma", -200.5, -0.0), ("tgamma", -201.5, 0.0),
    ("lgamma", INF, INF), ("lgamma", -INF, INF), ("lgamma", 0.0, INF), ("lgamma", -0.0, INF), ("lgamma", 1.0, 0.0),
    ("lgamma", 2.0, 0.0), ("lgamma", -3.0, INF), ("lgamma", 1e306, INF),
    ("exp", INF, INF), ("exp", -INF, 0.0), ("exp", 0.0, 1.0), ("exp", -0.0, 1.0), ("exp", 1e4, INF), ("exp", -1e4, 0.0),
    ("expm1", INF, INF), ("expm1", -INF, -1.0), ("expm1", 0.0, 0.0), ("expm1", -0.0, -0.0), ("expm1", -1e4, -1.0),
    ("expm1", 1e4, INF),
    ("log", 0.0, -INF), ("log", -0.0, -INF), ("log", -1.0, NAN), ("log", -INF, NAN), ("log", INF, INF),
    ("log", 1.0, 0.0),
    ("log1p", -1.0, -INF), ("log1p", -2.0, NAN), ("log1p", INF, INF), ("log1p", 0.0, 0.0), ("log1p", -0.0, -0.0),
    ("log2", 0.0, -INF), ("log2", -1.0, NAN), ("log2", INF, INF), ("log2", 8.0, 3.0), ("log2", 0.125, -3.0),
    ("log10", 0.0, -INF), ("log10", -3.0, NAN), ("log10", INF, INF), ("log10", 1.0, 0.0),
    ("tanh", INF, 1.0), ("tanh", -INF, -1.0), ("tanh", 30.0, 1.0), ("tanh", -30.0, -1.0), ("tanh", 0.0, 0.0),
    ("tanh", -0.0, -0.0), ("tanh", 1e30, 1.0),
    ("erf", INF, 1.0), ("erf", -INF, -1.0), ("erf", 6.5, 1.0), ("erf", -6.5, -1.0), ("erf", 0.0, 0.0),
    ("erf", -0.0, -0.0),
    ("erfc", INF, 0.0), ("erfc", -INF, 2.0), ("erfc", 0.0, 1.0), ("erfc", 30.0, 0.0), ("erfc", -30.0, 2.0),
    ("exp2", INF, INF), ("exp2", -INF, 0.0), ("exp2", 10.0, 1024.0), ("exp2", -3.0, 0.125), ("exp2", 2000.0, INF),
    ("sinh", INF, INF), ("sinh", -INF, -INF), ("sinh", 0.0, 0.0), ("sinh", -0.0, -0.0), ("sinh", 1e4, INF),
    ("sinh", -1e4, -INF),
    ("cosh", INF, INF), ("cosh", -INF, INF), ("cosh", 0.0, 1.0), ("cosh", 1e4, INF), ("cosh", -1e4, INF),
]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_special_values_exact(own, dtype):
    bad = []
    for name, x, want in SPECIAL:
        y = apply(own, name, np.array([x], dtype=dtype))[0]
        w = dtype(want)
        if not ((np.isnan(w) and np.isnan(y)) or (y == w and np.signbit(y) == np.signbit(w))):
            bad.append(f"{name}({x}) = {y!r}, want {w!r}")
    assert not bad, bad


def test_thresholds_exact(own):
    """exp and sinh/cosh overflow exactly where the correctly rounded result
    does; exp and exp2 integers and subnormal ends."""
    d = np.float64
    top = d(709.782712893384)
    assert np.isfinite(apply(own, "exp", np.array([top]))[0])
    assert apply(own, "exp", np.array([np.nextafter(top, d(800))]))[0] == np.inf
    s = d(710.4758600739439)
    assert np.isfinite(apply(own, "sinh", np.array([s, -s]))).all()
    assert np.isfinite(apply(own, "cosh", np.array([s, -s]))).all()
    assert (np.abs(apply(own, "sinh", np.array([np.nextafter(s, d(800))]))) == np.inf).all()
    ftop = np.float32(88.72283172607422)
    assert np.isfinite(apply(own, "exp", np.array([ftop])))[0]
    assert apply(own, "exp", np.array([np.nextafter(ftop, np.float32(100))]))[0] == np.inf
    k = np.arange(-1074, 1024).astype(np.float64)
    assert (apply(own, "exp2", k) == np.ldexp(1.0, k.astype(int))).all()
    assert (apply(own, "log2", np.ldexp(1.0, k.astype(int))) == k).all()
    kf = np.arange(-149, 128).astype(np.float32)
    assert (apply(own, "exp2", kf) == np.ldexp(np.float32(1), kf.astype(int))).all()
    assert apply(own, "exp", np.array([-745.1332191019411]))[0] == 5e-324
    assert apply(own, "exp", np.array([-745.14]))[0] == 0.0


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_no_fp_exceptions_on_finite_input(own, dtype):
    """Overflow, invalid and divide-by-zero never raised on finite input (hosts
    trap them): log(0), log(-1), exp(1e4), tanh(1e30), erf of anything..."""
    rng = np.random.default_rng(3)
    info = np.finfo(dtype)
    x = np.concatenate([rng.uniform(-50, 50, 20000), np.exp(rng.uniform(-700, 700, 20000)) * rng.choice([-1, 1], 20000),
                        [0, -0.0, -1, 1, 1e4, -1e4, 1e30, -1e30, 1e300, -1e300, 800, -800, 710.5, 89, -104]])
    with np.errstate(all="ignore"):
        x = np.ascontiguousarray(np.clip(x, -info.max, info.max).astype(dtype))
    p = x.ctypes.data_as(F if dtype == np.float32 else D)
    raised = {n: getattr(own, f"fpe_{n}" + ("f" if dtype == np.float32 else ""))(p, len(x)) for n in ALL_ONE_ARG}
    assert not any(raised.values()), {n: r for n, r in raised.items() if r}


def isa_builds(tmp_path):
    levels = {"O0": ["-O0"], "O2": ["-O2"], "O3": ["-O3"]}
    flags = cpu_flags()
    if platform.machine() == "x86_64":
        levels["v2"] = ["-O3", "-march=x86-64-v2"]
        if {"avx2", "fma", "bmi2"} <= flags:
            levels["v3"] = ["-O3", "-march=x86-64-v3"]
        if {"avx512f", "avx512bw", "avx512vl", "avx512dq"} <= flags:
            levels["v4"] = ["-O3", "-march=x86-64-v4"]
    return {k: build(tmp_path / k, [*fl, *REPRODUCIBLE_FLAGS]) for k, fl in levels.items()}


def test_reproducible_bits_across_optimisation_and_isa_levels(tmp_path):
    libs = isa_builds(tmp_path)
    rng = np.random.default_rng(11)
    for dtype in (np.float32, np.float64):
        x = np.concatenate([rng.uniform(-30, 30, 50000), np.exp(rng.uniform(-80, 80, 50000)),
                            [0, -0.0, np.inf, -np.inf, np.nan]]).astype(dtype)
        for name in ALL_ONE_ARG:
            ys = {k: apply(lib, name, x) for k, lib in libs.items()}
            ref = ys.pop("O0")
            for k, y in ys.items():
                assert y.tobytes() == ref.tobytes(), f"{name} {dtype.__name__} {k}: {(y != ref).sum()} differ"
        if dtype == np.float32:
            x2 = rng.uniform(-4, 4, len(x)).astype(dtype)
            outs = {}
            for k, lib in libs.items():
                y = np.empty_like(x)
                lib.apply_powf(x.ctypes.data_as(F), x2.ctypes.data_as(F), y.ctypes.data_as(F), len(x))
                outs[k] = y.tobytes()
            assert len(set(outs.values())) == 1
        x2 = rng.uniform(-40, 40, len(x)).astype(dtype)
        suf = "f" if dtype == np.float32 else ""
        P = F if dtype == np.float32 else D
        for name in TWO_ARG:
            outs = {}
            for k, lib in libs.items():
                y = np.empty_like(x)
                getattr(lib, f"apply2_{name}{suf}")(x.ctypes.data_as(P), x2.ctypes.data_as(P), y.ctypes.data_as(P),
                                                    len(x))
                outs[k] = y.tobytes()
            assert len(set(outs.values())) == 1, f"{name}{suf}"


def test_libm_mode_calls_libm(tmp_path):
    """-DSKC_LIBM_MATH (and no SKC_REPRODUCIBLE): the helpers are libm's own
    results, bit for bit."""
    lib = build(tmp_path / "libm", ["-O2", "-DSKC_LIBM_MATH"])
    libm = ctypes.CDLL("libm.so.6")
    rng = np.random.default_rng(5)
    x = rng.uniform(-5, 5, 200)
    for name in ALL_ONE_ARG:
        f = getattr(libm, name)
        f.restype, f.argtypes = ctypes.c_double, [ctypes.c_double]
        ff = getattr(libm, name + "f")
        ff.restype, ff.argtypes = ctypes.c_float, [ctypes.c_float]
        with np.errstate(all="ignore"):
            want = np.array([f(float(v)) for v in x])
            wantf = np.array([ff(float(v)) for v in x.astype(np.float32)], dtype=np.float32)
        got, gotf = apply(lib, name, x), apply(lib, name, x.astype(np.float32))
        assert np.array_equal(got, want, equal_nan=True), name
        assert np.array_equal(gotf, wantf, equal_nan=True), name + "f"


def test_generated_code_same_in_every_mode():
    """The mode is a compile flag: the C text has both paths."""
    src = math_source({"exp_float", "pow_float"})
    assert "#if defined(SKC_REPRODUCIBLE) || !defined(SKC_LIBM_MATH)" in src  # own by default
    assert "#if defined(SKC_REPRODUCIBLE) || defined(SKC_OWN_MATH)" in src  # libm by default (powf)
    assert "return expf(x);" in src and "return powf(x, y);" in src


def test_aarch64_bits_equal_x86(tmp_path):
    """The helpers cross-compiled for aarch64 (reproducible flags) and run
    under qemu-user give the x86-64 build's bits, float and double."""
    import shutil

    cc = "aarch64-linux-gnu-gcc"
    if not (shutil.which(cc) and shutil.which("qemu-aarch64") and Path("/usr/aarch64-linux-gnu").is_dir()):
        pytest.skip("needs aarch64-linux-gnu-gcc and qemu-aarch64 (Debian gcc-aarch64-linux-gnu, qemu-user)")
    (tmp_path / "skc_math.h").write_text(math_source(set(MATH_UNITS)) + "\n")
    rng = np.random.default_rng(21)
    n = 100_000
    with np.errstate(over="ignore"):
        xf = np.concatenate([rng.uniform(-30, 30, n // 2), np.exp(rng.uniform(-100, 100, n // 2 - 8)),
                             [0, -0.0, np.inf, -np.inf, np.nan, 1e30, -1e30, -1]]).astype(np.float32)
    xd = np.concatenate([rng.uniform(-30, 30, n // 2), np.exp(rng.uniform(-745, 709, n // 2 - 8)),
                         [0, -0.0, np.inf, -np.inf, np.nan, 1e300, -1e300, -1]]).astype(np.float64)
    inp = tmp_path / "in.bin"
    inp.write_bytes(xf.tobytes() + xd.tobytes())
    outs = {}
    for arch, cmd, run in (("x86", "gcc", []), ("aarch64", cc, ["qemu-aarch64", "-L", "/usr/aarch64-linux-gnu"])):
        exe = tmp_path / f"h_{arch}"
        subprocess.run([cmd, "-std=c99", "-Wall", "-Wextra", "-Werror", "-O3", *REPRODUCIBLE_FLAGS,
                        "-DSKC_HARNESS_MAIN", "-I", str(tmp_path), "-o", str(exe), str(HERE / "own_math_harness.c"),
                        "-lm"], check=True)
        out = tmp_path / f"out_{arch}.bin"
        subprocess.run([*run, str(exe), str(inp), str(out), str(n)], check=True)
        outs[arch] = out.read_bytes()
    assert len(outs["x86"]) == n * (len(ALL_ONE_ARG) * 12 + 4 + 8 + 8 + 4)
    if outs["x86"] != outs["aarch64"]:
        a, b = (np.frombuffer(outs[k], np.uint8) for k in ("x86", "aarch64"))
        first = int(np.nonzero(a != b)[0][0])
        names = [*ALL_ONE_ARG, "powf, pow, hypot or hypotf"]
        pytest.fail(f"aarch64 differs from x86 first in {names[min(first // (n * 12), len(ALL_ONE_ARG))]} "
                    f"(byte {first})")


def test_each_unit_compiles_alone(tmp_path):
    """Every unit with only the units MATH_UNITS says it calls: strict C99 and C++."""
    for u in MATH_UNITS:
        c = tmp_path / f"{u}.c"
        c.write_text("#include <math.h>\n#include <string.h>\n" + math_source({u}) + "\n")
        for cmd in (["gcc", "-std=c99", "-pedantic"], ["g++", "-std=c++17", "-x", "c++"]):
            res = subprocess.run([*cmd, "-Wall", "-Wextra", "-Werror", "-fsyntax-only", "-DSKC_REPRODUCIBLE", str(c)],
                                 capture_output=True, text=True)
            assert res.returncode == 0, f"{u}: {res.stderr[:2000]}"
