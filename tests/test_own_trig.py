"""scikinc's own sin/cos/tan/asin/acos/atan/atan2 (templates/helpers/math_trig.c.j2)
through a small C harness (tests/own_trig_harness.c) built around
``render.math_source``: max ulp errors vs the correctly rounded result
(double: against x87 long double libm, and mpmath on the hardest argument
reductions; float: against double libm), exact special values, no
floating-point exceptions on finite input, bitwise-equal results across
optimisation and ISA levels in reproducible mode, the x86 bits on aarch64
(qemu-user), libm's results under -DSKC_LIBM_MATH, and a reproducible
FunctionTransformer pipeline using them across the SKC_TARGET clone levels,
against sklearn.  Fast tier: ~100k points per function; the millions of
points are under ``slow``.  The bounds are the measured maxima (README,
Build modes), rounded up."""
from __future__ import annotations

import ctypes
import platform
import shutil
import subprocess
import zlib
from pathlib import Path

import numpy as np
import pytest
from util import WERROR, cpu_flags, rows, same_bits

import scikinc
from scikinc.compiler import REPRODUCIBLE_FLAGS
from scikinc.render import TRIG_UNITS, math_source

HERE = Path(__file__).resolve().parent
ONE_ARG = ("sin", "cos", "tan", "asin", "acos", "atan")
FUNCS = (*ONE_ARG, "atan2")
X87 = platform.machine() in ("x86_64", "i686") and np.finfo(np.longdouble).nmant >= 63

#: max error in ulp (measured maxima rounded up; README Build modes)
DOUBLE_ULP = {"sin": 0.8, "cos": 0.8, "tan": 1.1, "asin": 0.7, "acos": 0.7, "atan": 0.85, "atan2": 1.6}
FLOAT_ULP = dict.fromkeys(FUNCS, 0.501)

F = ctypes.POINTER(ctypes.c_float)
D = ctypes.POINTER(ctypes.c_double)
L = ctypes.POINTER(ctypes.c_long)


def build(path: Path, flags: list[str], cc: str = "gcc") -> ctypes.CDLL:
    path.mkdir(parents=True, exist_ok=True)
    (path / "skc_math.h").write_text(math_source(set(TRIG_UNITS)) + "\n")
    so = path / "harness.so"
    subprocess.run([cc, "-std=c99", *WERROR, *flags, "-fPIC", "-shared", "-I", str(path),
                    "-o", str(so), str(HERE / "own_trig_harness.c"), "-lm"], check=True)
    lib = ctypes.CDLL(str(so))
    for n in ONE_ARG:
        for t, P in (("float", F), ("double", D)):
            f = getattr(lib, f"ulp_{t}_{n}")
            f.restype, f.argtypes = ctypes.c_double, [P, ctypes.c_long, L]
        getattr(lib, f"apply_{n}f").argtypes = [F, F, ctypes.c_long]
        getattr(lib, f"apply_{n}").argtypes = [D, D, ctypes.c_long]
        getattr(lib, f"fpe_{n}f").argtypes = [F, ctypes.c_long]
        getattr(lib, f"fpe_{n}").argtypes = [D, ctypes.c_long]
    for t, P in (("float", F), ("double", D)):
        f = getattr(lib, f"ulp_{t}_atan2")
        f.restype, f.argtypes = ctypes.c_double, [P, P, ctypes.c_long, L]
    lib.apply_atan2f.argtypes = [F, F, F, ctypes.c_long]
    lib.apply_atan2.argtypes = [D, D, D, ctypes.c_long]
    lib.fpe_atan2f.argtypes = [F, F, ctypes.c_long]
    lib.fpe_atan2.argtypes = [D, D, ctypes.c_long]
    return lib


@pytest.fixture(scope="module")
def own(tmp_path_factory):
    return build(tmp_path_factory.mktemp("own_trig"), ["-O3", *REPRODUCIBLE_FLAGS])


def _p(a):
    return a.ctypes.data_as(F if a.dtype == np.float32 else D)


def apply(lib, name, x, x2=None):
    x = np.ascontiguousarray(x)
    y = np.empty_like(x)
    sfx = "f" if x.dtype == np.float32 else ""
    if name == "atan2":
        x2 = np.ascontiguousarray(x2, dtype=x.dtype)
        getattr(lib, "apply_atan2" + sfx)(_p(x), _p(x2), _p(y), len(x))
    else:
        getattr(lib, f"apply_{name}{sfx}")(_p(x), _p(y), len(x))
    return y


def max_ulp(lib, name, x, x2=None):
    """(max error in ulp, worst argument(s))."""
    x = np.ascontiguousarray(x)
    t = "float" if x.dtype == np.float32 else "double"
    w = ctypes.c_long(-1)
    if name == "atan2":
        x2 = np.ascontiguousarray(x2, dtype=x.dtype)
        err = getattr(lib, f"ulp_{t}_atan2")(_p(x), _p(x2), len(x), ctypes.byref(w))
        return err, (x[w.value], x2[w.value])
    err = getattr(lib, f"ulp_{t}_{name}")(_p(x), len(x), ctypes.byref(w))
    return err, x[w.value]


SPECIAL_D = [0.0, -0.0, np.inf, -np.inf, np.nan, 5e-324, -5e-324, 2.2250738585072014e-308, 1.7976931348623157e308,
             -1.7976931348623157e308, 1.0, -1.0, 0.5, -0.5, 1048576.0, -1048576.0, np.nextafter(1048576.0, 0)]


def points(name: str, n: int, dtype=np.float64) -> np.ndarray:
    """Uniform over the useful range, log-uniform over every magnitude (both
    signs), the neighbourhoods of the thresholds and of multiples of pi/2
    (the hard reductions), random bit patterns, specials."""
    rng = np.random.default_rng(zlib.crc32(name.encode()) + (dtype == np.float32))
    k = n // 7 + 1
    top = 709.0 if dtype == np.float64 else 88.0
    mag = np.exp(rng.uniform(-top - 36, top, k)) * rng.choice([-1, 1], k)
    with np.errstate(all="ignore"):
        bits = (rng.integers(0, 2**64, k, dtype=np.uint64).view(np.float64) if dtype == np.float64 else
                rng.integers(0, 2**32, k, dtype=np.uint64).astype(np.uint32).view(np.float32).astype(np.float64))
    if name in ("asin", "acos"):
        main = [rng.uniform(-1, 1, 3 * k), rng.uniform(0.49, 0.51, k) * rng.choice([-1, 1], k),
                (1 - np.exp(rng.uniform(-40, -1, k))) * rng.choice([-1, 1], k),
                np.exp(rng.uniform(-700, 0, k)) * rng.choice([-1, 1], k), rng.uniform(-3, 3, k // 10)]
        edges = [0.5, 1.0]
    elif name == "atan":
        main = [rng.uniform(-3, 3, 3 * k), rng.uniform(-40, 40, k), mag, mag / 1e10]
        edges = [0.4375, 0.6875, 1.1875, 2.4375, 1.0]
    else:
        kk = rng.integers(1, 2**21, 2 * k).astype(np.float64)
        near = kk * (np.pi / 2)  # within a few ulp of k pi/2: tiny reduced arguments
        main = [rng.uniform(-10, 10, 2 * k), rng.uniform(-2.0**20, 2.0**20, k), mag,
                near * rng.choice([-1, 1], 2 * k), rng.uniform(1e5, 1e7, k // 2)]
        edges = [np.pi / 4, np.pi / 2, 2.0**20, 2.0**24, 2.0**53]
    around = []
    for e in edges:
        c = np.float64(e)
        around.append(np.concatenate([c + np.arange(-200, 201) * np.spacing(c)] * 2) * np.repeat([1, -1], 401))
    with np.errstate(all="ignore"):
        x = np.concatenate([*main, bits, *around, SPECIAL_D]).astype(dtype)
    return np.ascontiguousarray(x)


def atan2_points(n: int, dtype=np.float64):
    rng = np.random.default_rng(2 + (dtype == np.float32))
    top = 300 if dtype == np.float64 else 40
    k = n // 4
    y = np.concatenate([rng.normal(size=k) * np.exp(rng.uniform(-top, top, k)), rng.uniform(-1, 1, k),
                        rng.uniform(-3, 3, k), rng.normal(size=k)])
    x = np.concatenate([rng.normal(size=k) * np.exp(rng.uniform(-top, top, k)), rng.uniform(-1, 1, k),
                        y[2 * k:3 * k] * (1 + rng.uniform(-1e-3, 1e-3, k)),  # near the diagonal |y| = |x|
                        -np.abs(rng.normal(size=k))])
    sp = np.array([0.0, -0.0, 1.0, -1.0, np.inf, -np.inf, np.nan, 5e-324, 1e300, -1e300])
    sy, sx = np.meshgrid(sp, sp)
    with np.errstate(all="ignore"):
        return (np.ascontiguousarray(np.concatenate([y, sy.ravel()]).astype(dtype)),
                np.ascontiguousarray(np.concatenate([x, sx.ravel()]).astype(dtype)))


def _check(own, name, dtype, n):
    if name == "atan2":
        y, x = atan2_points(n, dtype)
        assert len(y) >= n
        err, w = max_ulp(own, name, y, x)
    else:
        x = points(name, n, dtype)
        assert len(x) >= n
        err, w = max_ulp(own, name, x)
    bound = (FLOAT_ULP if dtype == np.float32 else DOUBLE_ULP)[name]
    assert err <= bound, f"{name} {dtype.__name__}: {err:.3f} ulp at {w!r}"


@pytest.mark.skipif(not X87, reason="the double reference is x87 long double libm")
@pytest.mark.parametrize("name", FUNCS)
def test_double_max_ulp(own, name):
    _check(own, name, np.float64, 100_000)


@pytest.mark.parametrize("name", FUNCS)
def test_float_max_ulp(own, name):
    _check(own, name, np.float32, 100_000)


@pytest.mark.slow
@pytest.mark.skipif(not X87, reason="the double reference is x87 long double libm")
@pytest.mark.parametrize("name", FUNCS)
def test_double_max_ulp_millions(own, name):
    _check(own, name, np.float64, 3_000_000)


@pytest.mark.slow
@pytest.mark.parametrize("name", ONE_ARG)
def test_float_max_ulp_over_all_floats(own, name):
    """12M float bit patterns (every 357th: all exponents, both signs)."""
    x = np.arange(0, 2**32, 357, dtype=np.uint64).astype(np.uint32).view(np.float32)
    err, w = max_ulp(own, name, x)
    assert err <= FLOAT_ULP[name], f"{name}f: {err:.3f} ulp at {w!r}"


def test_hardest_reductions_vs_mpmath(own):
    """sin/cos/tan of the doubles nearest to multiples of pi/2 at every
    magnitude (|x mod pi/2| down to ~2^-61, incl. the known worst case
    6381956970095103 * 2^797), against mpmath at 1400 bits."""
    mp = pytest.importorskip("mpmath")
    rng = np.random.default_rng(9)
    xs = [6381956970095103.0 * 2.0**797, 5319372648326541.0 * 2.0**-1]
    with mp.workprec(1400):
        half_pi = mp.pi / 2
        for e in list(range(0, 1020, 6)) + [19, 20, 21, 52, 53]:
            for _ in range(2):
                k = mp.floor(mp.mpf(2) ** e * (1 + mp.mpf(rng.random())) / half_pi) + 1
                xs.append(float(k * half_pi))
        x = np.array(xs + [-v for v in xs])
        bad = []
        for name in ("sin", "cos", "tan"):
            y = apply(own, name, x)
            f = getattr(mp, name)
            for xi, yi in zip(x, y, strict=True):
                want = f(mp.mpf(xi))
                ulp = mp.mpf(2) ** (mp.floor(mp.log(abs(want), 2)) - 52)
                err = abs(mp.mpf(yi) - want) / ulp
                if err > DOUBLE_ULP[name]:
                    bad.append(f"{name}({xi!r}) = {yi!r}: {float(err):.3f} ulp")
    assert not bad, bad[:10]


INF, NAN = np.inf, np.nan
PI, PI2, PI4 = np.pi, np.pi / 2, np.pi / 4
#: (function, argument(s), IEEE result) checked bit for bit, float and double
#: (the float results are the float roundings of these doubles)
SPECIAL = [
    *[(n, (NAN,), NAN) for n in ONE_ARG],
    ("sin", (0.0,), 0.0), ("sin", (-0.0,), -0.0), ("sin", (INF,), NAN), ("sin", (-INF,), NAN),
    ("cos", (0.0,), 1.0), ("cos", (-0.0,), 1.0), ("cos", (INF,), NAN), ("cos", (-INF,), NAN),
    ("tan", (0.0,), 0.0), ("tan", (-0.0,), -0.0), ("tan", (INF,), NAN), ("tan", (-INF,), NAN),
    ("sin", (5e-324,), 5e-324), ("tan", (-5e-324,), -5e-324),
    ("asin", (0.0,), 0.0), ("asin", (-0.0,), -0.0), ("asin", (1.0,), PI2), ("asin", (-1.0,), -PI2),
    ("asin", (1.5,), NAN), ("asin", (-INF,), NAN),
    ("acos", (1.0,), 0.0), ("acos", (-1.0,), PI), ("acos", (0.0,), PI2), ("acos", (-0.0,), PI2),
    ("acos", (2.0,), NAN), ("acos", (INF,), NAN),
    ("atan", (0.0,), 0.0), ("atan", (-0.0,), -0.0), ("atan", (INF,), PI2), ("atan", (-INF,), -PI2),
    ("atan", (1.0,), PI4), ("atan", (-1.0,), -PI4), ("atan", (1e300,), PI2),
    ("atan2", (0.0, 0.0), 0.0), ("atan2", (-0.0, 0.0), -0.0), ("atan2", (0.0, -0.0), PI), ("atan2", (-0.0, -0.0), -PI),
    ("atan2", (0.0, -1.0), PI), ("atan2", (-0.0, -1.0), -PI), ("atan2", (0.0, 1.0), 0.0), ("atan2", (-0.0, 1.0), -0.0),
    ("atan2", (1.0, 0.0), PI2), ("atan2", (-1.0, -0.0), -PI2), ("atan2", (INF, INF), PI4),
    ("atan2", (-INF, INF), -PI4), ("atan2", (INF, -INF), 3 * PI4), ("atan2", (-INF, -INF), -3 * PI4),
    ("atan2", (INF, 1.0), PI2), ("atan2", (-INF, -1.0), -PI2), ("atan2", (1.0, INF), 0.0),
    ("atan2", (-1.0, INF), -0.0), ("atan2", (1.0, -INF), PI), ("atan2", (-1.0, -INF), -PI),
    ("atan2", (1.0, 1.0), PI4), ("atan2", (-2.0, -2.0), -3 * PI4), ("atan2", (NAN, 1.0), NAN),
    ("atan2", (1.0, NAN), NAN), ("atan2", (NAN, NAN), NAN), ("atan2", (INF, NAN), NAN),
]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_special_values_exact(own, dtype):
    bad = []
    for name, args, want in SPECIAL:
        with np.errstate(over="ignore"):
            a = [np.array([v], dtype=dtype) for v in args]
        y = apply(own, name, *a)[0]
        w = dtype(want)
        if not ((np.isnan(w) and np.isnan(y)) or (y == w and np.signbit(y) == np.signbit(w))):
            bad.append(f"{name}{args} = {y!r}, want {w!r}")
    assert not bad, bad


def test_nan_out_is_the_input_nan_or_one_fixed_nan(own):
    """A NaN argument comes back as itself (payload and sign); inf and
    domain errors give one fixed NaN, the same on every CPU."""
    payload = np.array([0x7FF8000000000123, 0xFFF8000000000456], dtype=np.uint64).view(np.float64)
    for name in ONE_ARG:
        assert apply(own, name, payload).view(np.uint64).tolist() == payload.view(np.uint64).tolist(), name
    dom = {"sin": [INF], "cos": [-INF], "tan": [INF], "asin": [2.0, -INF], "acos": [-1.5, INF]}
    fixed = set()
    for name, xs in dom.items():
        fixed |= set(apply(own, name, np.array(xs)).view(np.uint64).tolist())
    assert len(fixed) == 1 and np.isnan(np.array(list(fixed), dtype=np.uint64).view(np.float64)[0])


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_no_fp_exceptions_on_finite_input(own, dtype):
    """Overflow, invalid and divide-by-zero never raised on finite input (hosts
    trap them): huge sin arguments, asin(2), atan2(0, 0), atan(1e308)..."""
    rng = np.random.default_rng(3)
    info = np.finfo(dtype)
    top = 700 if dtype == np.float64 else 88
    x = np.concatenate([rng.uniform(-50, 50, 20000), rng.uniform(-3, 3, 20000),
                        np.exp(rng.uniform(-top, top, 20000)) * rng.choice([-1, 1], 20000),
                        [0, -0.0, -1, 1, 2, -2, 1e30, -1e30, float(info.max), -float(info.max), float(info.tiny)]])
    with np.errstate(all="ignore"):
        x = np.ascontiguousarray(np.clip(x, -info.max, info.max).astype(dtype))
    x2 = np.ascontiguousarray(np.concatenate([x[1:], x[:1]]) * 0)  # zeros, then shifted copies
    sfx = "f" if dtype == np.float32 else ""
    raised = {n: getattr(own, f"fpe_{n}{sfx}")(_p(x), len(x)) for n in ONE_ARG}
    for k, other in enumerate((x2, np.ascontiguousarray(x[::-1]), x)):
        raised[f"atan2/{k}"] = getattr(own, f"fpe_atan2{sfx}")(_p(x), _p(other), len(x))
    assert not any(raised.values()), {n: r for n, r in raised.items() if r}


def _isa_builds(tmp_path, all_levels: bool):
    """-O0 and the widest x86 ISA levels (all levels: also -O2 and x86-64-v2)."""
    levels = {"O0": ["-O0"]}
    flags = cpu_flags()
    if all_levels:
        levels["O2"] = ["-O2"]
    if platform.machine() == "x86_64":
        if all_levels:
            levels["v2"] = ["-O3", "-march=x86-64-v2"]
        if {"avx2", "fma", "bmi2"} <= flags:
            levels["v3"] = ["-O3", "-march=x86-64-v3"]
        if {"avx512f", "avx512bw", "avx512vl", "avx512dq"} <= flags:
            levels["v4"] = ["-O3", "-march=x86-64-v4"]
    return {k: build(tmp_path / k, [*fl, *REPRODUCIBLE_FLAGS]) for k, fl in levels.items()}


def _bits_inputs(n, dtype):
    rng = np.random.default_rng(11)
    top = 700 if dtype == np.float64 else 88
    m = n - 2 * (n // 3) - 5
    with np.errstate(all="ignore"):
        x = np.concatenate([rng.uniform(-30, 30, n // 3), rng.uniform(-1.2, 1.2, n // 3),
                            np.exp(rng.uniform(-top, top, m)) * rng.choice([-1, 1], m),
                            [0, -0.0, np.inf, -np.inf, np.nan]]).astype(dtype)
    return np.ascontiguousarray(x)


@pytest.mark.parametrize("all_levels", [False, pytest.param(True, marks=pytest.mark.slow)])
def test_reproducible_bits_across_optimisation_and_isa_levels(own, tmp_path, all_levels):
    """The -O3 baseline build (``own``) against -O0, AVX2 and AVX-512 builds
    (all levels: also -O2 and x86-64-v2, and 10x the points)."""
    libs = _isa_builds(tmp_path, all_levels)
    for dtype in (np.float32, np.float64):
        x = _bits_inputs(200_000 if all_levels else 20_000, dtype)
        x2 = np.ascontiguousarray(x[::-1])
        for name in FUNCS:
            ref = apply(own, name, x, x2)
            for k, lib in libs.items():
                y = apply(lib, name, x, x2)
                assert y.tobytes() == ref.tobytes(), f"{name} {dtype.__name__} {k}: {(y != ref).sum()} differ"


def test_libm_mode_calls_libm(tmp_path):
    """-DSKC_LIBM_MATH (and the default build): the helpers are libm's own
    results, bit for bit; -DSKC_OWN_MATH: scikinc's."""
    libm = ctypes.CDLL("libm.so.6")
    rng = np.random.default_rng(5)
    x = rng.uniform(-1, 1, 200) * 5.0 ** rng.integers(0, 3, 200)
    x2 = rng.uniform(-5, 5, 200)
    built = {m: build(tmp_path / m, ["-O2", *fl]) for m, fl in
             (("libm", ["-DSKC_LIBM_MATH"]), ("default", []), ("own", ["-DSKC_OWN_MATH"]))}
    own = build(tmp_path / "repro", ["-O2", *REPRODUCIBLE_FLAGS])
    for name in FUNCS:
        f, ff = getattr(libm, name), getattr(libm, name + "f")
        nargs = 2 if name == "atan2" else 1
        f.restype, f.argtypes = ctypes.c_double, [ctypes.c_double] * nargs
        ff.restype, ff.argtypes = ctypes.c_float, [ctypes.c_float] * nargs
        with np.errstate(all="ignore"):
            want = np.array([f(*([float(a), float(b)][:nargs])) for a, b in zip(x, x2, strict=True)])
            xf, x2f = x.astype(np.float32), x2.astype(np.float32)
            wantf = np.array([ff(*([float(a), float(b)][:nargs])) for a, b in zip(xf, x2f, strict=True)],
                             dtype=np.float32)
        for mode in ("libm", "default"):
            got, gotf = apply(built[mode], name, x, x2), apply(built[mode], name, xf, x2f)
            assert np.array_equal(got, want, equal_nan=True), (mode, name)
            assert np.array_equal(gotf, wantf, equal_nan=True), (mode, name + "f")
        assert same_bits(apply(built["own"], name, x, x2), apply(own, name, x, x2)), name


def test_aarch64_bits_equal_x86(tmp_path):
    """The helpers cross-compiled for aarch64 (reproducible flags) and run
    under qemu-user give the x86-64 build's bits, float and double."""
    cc = "aarch64-linux-gnu-gcc"
    if not (shutil.which(cc) and shutil.which("qemu-aarch64") and Path("/usr/aarch64-linux-gnu").is_dir()):
        pytest.skip("needs aarch64-linux-gnu-gcc and qemu-aarch64 (Debian gcc-aarch64-linux-gnu, qemu-user)")
    (tmp_path / "skc_math.h").write_text(math_source(set(TRIG_UNITS)) + "\n")
    n = 20_000
    xf, xd = _bits_inputs(n, np.float32), _bits_inputs(n, np.float64)
    inp = tmp_path / "in.bin"
    inp.write_bytes(xf.tobytes() + xd.tobytes())
    outs = {}
    for arch, cmd, run in (("x86", "gcc", []), ("aarch64", cc, ["qemu-aarch64", "-L", "/usr/aarch64-linux-gnu"])):
        exe = tmp_path / f"h_{arch}"
        subprocess.run([cmd, "-std=c99", *WERROR, "-O3", *REPRODUCIBLE_FLAGS, "-DSKC_HARNESS_MAIN", "-I",
                        str(tmp_path), "-o", str(exe), str(HERE / "own_trig_harness.c"), "-lm"], check=True)
        out = tmp_path / f"out_{arch}.bin"
        subprocess.run([*run, str(exe), str(inp), str(out), str(n)], check=True)
        outs[arch] = out.read_bytes()
    assert len(outs["x86"]) == n * 12 * len(FUNCS)
    if outs["x86"] != outs["aarch64"]:
        a, b = (np.frombuffer(outs[k], np.uint8) for k in ("x86", "aarch64"))
        first = int(np.nonzero(a != b)[0][0])
        pytest.fail(f"aarch64 differs from x86 first in {FUNCS[first // (n * 12)]} (byte {first})")


# ----------------------------------------------------------------- a model

TRIG_EXPR = ("sin(x) + cos(2 * x) - tan(x / 7) + atan2(1 - x, x) + asin(x / (1 + fabs(x)))"
             " + acos(x / (2 + fabs(x))) + atan(3 * x)")


def trig_pipeline(X):
    """StandardScaler + a FunctionTransformer calling sin/cos/tan/atan2/asin/acos/atan (C expression)."""
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import FunctionTransformer, StandardScaler

    def f(x):
        return (np.sin(x) + np.cos(2 * x) - np.tan(x / 7) + np.arctan2(1 - x, x) + np.arcsin(x / (1 + np.abs(x)))
                + np.arccos(x / (2 + np.abs(x))) + np.arctan(3 * x))

    ft = FunctionTransformer(f)
    ft.func_inC = TRIG_EXPR
    return make_pipeline(StandardScaler(), ft).fit(X)


def trig_rows(X):
    """>= 1000 rows in and around the fitted range, zeros, the fitted mean
    (scaled 0: atan2(1, 0)), +-1 after scaling, large values."""
    R = rows(X, 1500, far=3)
    mu, sd = X.mean(0), X.std(0)
    extra = np.stack([mu, mu + sd, mu - sd, mu + 1e3 * sd, mu - 1e5 * sd])
    return np.concatenate([R, extra])


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
def test_reproducible_trig_model_identical_across_isa_levels(tmp_path, float_t):
    """The pipeline compiled reproducible: every SKC_TARGET clone level gives
    the no-clones bits; the outputs are sklearn's (double: to rounding,
    float: to float rounding of the arguments) and libm's build's."""
    rng = np.random.default_rng(12)
    X = np.column_stack([rng.normal(size=800) * 3 + 1, rng.uniform(-2, 5, 800), rng.lognormal(size=800)])
    m = trig_pipeline(X)
    src = scikinc.convert({"trig": m}, float_t=float_t)
    assert "skc_atan2" in src and "skc_sin" in src and "skc_asin" in src
    dt = np.float32 if float_t == "float" else np.float64
    R = trig_rows(X).astype(dt)
    assert len(R) >= 1000
    outs = {lvl: scikinc.load(scikinc.compile(src, tmp_path / f"{lvl}.so", flags=["-O3", *fl], reproducible=True),
                              "trig")(R) for lvl, fl in _levels().items()}
    ref = outs.pop("no_clones")
    for lvl, y in outs.items():
        assert same_bits(y, ref), f"{lvl}: {(y != ref).sum()} outputs differ from the no-clones build"
    assert np.unique(ref).size > 1000
    want = m.transform(R.astype(np.float64))
    z = np.abs(m[0].transform(R.astype(np.float64)))
    got = ref.astype(np.float64)
    # an argument error of eps |z| moves the result by up to (1 + tan^2) |z| eps
    scale = (1 + np.abs(want)) ** 2 * (1 + z)
    tol = 1e-6 if float_t == "float" else 1e-13
    err = np.abs(got - want) / scale
    assert err.max() < tol, (err.max(), np.unravel_index(err.argmax(), err.shape))
    so = scikinc.compile(src, tmp_path / "libm.so", flags=["-O3", "-DSKC_LIBM_MATH"])
    libm = scikinc.load(so, "trig")(R).astype(np.float64)
    d = np.abs(got - libm) / (1 + np.abs(libm))
    assert d.max() < (1e-5 if float_t == "float" else 1e-14), d.max()
