"""aarch64 cross builds (issue 15): ``compile(..., target="aarch64-linux-gnu")``
run under qemu-user through tests/qemu_host.c (cross-compiled, dynamically
linked: it dlopens the .so, calls SYMBOL per row and SYMBOL_batch, checks both
give the same bytes, writes the outputs).

For a model of every family (scalers, quantile, trees, linear/MLP, Keras
residual generator, generative deployments) the aarch64 outputs are compared
with the library and with the x86-64 build, float and double; in
reproducible mode they must be BITWISE those of the x86-64 reproducible build
(also the families using exp/tanh/erf/log: scikinc's own math functions).

Skips cleanly when the cross compiler or qemu-aarch64 is missing, unless
SCIKINC_REQUIRE_CROSS=1 (CI), which makes that a failure.  Skipped under the
sanitizer run (.ci/sanitize): its flags and preloaded x86 ASan runtime are
not for the cross builds.
"""
from __future__ import annotations

import os
import pickle
import re
import shutil
import subprocess
import sys
import warnings
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from sklearn.ensemble import GradientBoostingRegressor, RandomForestClassifier
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LinearRegression, LogisticRegression
from sklearn.neural_network import MLPClassifier, MLPRegressor
from sklearn.preprocessing import MinMaxScaler, QuantileTransformer, StandardScaler
from util import WERROR, rows, same_bits

import scikinc
from scikinc.compiler import REPRODUCIBLE_FLAGS, TARGETS, target_arch

ROOT = Path(__file__).resolve().parent.parent
HOST_C = ROOT / "tests" / "qemu_host.c"
TARGET = "aarch64-linux-gnu"
SYSROOT = Path("/usr/aarch64-linux-gnu")
DTYPE = {"float": np.float32, "double": np.float64}
#: tolerance vs the library, relative to 1 + |expected| (per element)
TOL = {"float": 2e-5, "double": 1e-10}
#: aarch64 default build vs x86-64 default build (both may contract FMAs, in other places)
TOL_X86 = {"float": 1e-5, "double": 1e-12}

SANITIZED = "-fsanitize" in os.environ.get("SCIKINC_EXTRA_CFLAGS", "")
pytestmark = pytest.mark.skipif(SANITIZED, reason="cross builds are not run under the sanitizer flags")


def _missing() -> list[str]:
    need = [f"{TARGET}-gcc", f"{TARGET}-g++", "qemu-aarch64"]
    miss = [t for t in need if shutil.which(t) is None]
    if not (SYSROOT / "lib").is_dir():
        miss.append(f"{SYSROOT}/lib (the aarch64 C library: libc6-arm64-cross)")
    return miss


def require_cross() -> None:
    """Skip when the cross tools are missing; fail instead under SCIKINC_REQUIRE_CROSS=1."""
    miss = _missing()
    if miss:
        msg = (f"missing {', '.join(miss)} (apt-get install gcc-aarch64-linux-gnu g++-aarch64-linux-gnu "
               f"qemu-user)")
        if os.environ.get("SCIKINC_REQUIRE_CROSS") == "1":
            pytest.fail(f"SCIKINC_REQUIRE_CROSS=1 but {msg}")
        pytest.skip(msg)


def _env() -> dict:
    return {k: v for k, v in os.environ.items() if k not in ("LD_PRELOAD", "QEMU_LD_PREFIX")}


@pytest.fixture(scope="module")
def host(tmp_path_factory) -> Path:
    """tests/qemu_host.c cross-compiled (dynamic), warning-free as C99 and C++."""
    require_cross()
    d = tmp_path_factory.mktemp("qemu_host")
    exe = d / "qemu_host"
    for cmd in ([f"{TARGET}-g++", "-x", "c++", "-std=c++17", "-o", str(d / "host_cxx")],
                [f"{TARGET}-gcc", "-std=c99", "-o", str(exe)]):
        res = subprocess.run([*cmd, *WERROR, "-O2", str(HOST_C), "-ldl"], capture_output=True, text=True)
        assert res.returncode == 0, f"{' '.join(cmd)}:\n{res.stderr}"
    return exe


def run_qemu(host: Path, so: Path, symbol: str, X: np.ndarray, float_t: str, R=None) -> np.ndarray:
    """``symbol`` of the aarch64 ``so`` on the rows ``X`` (and noise ``R``) under qemu-aarch64."""
    d = so.parent
    dt = DTYPE[float_t]
    inp, out = d / f"{symbol}.in", d / f"{symbol}.out"
    np.ascontiguousarray(X, dtype=dt).tofile(inp)
    cmd = ["qemu-aarch64", "-L", str(SYSROOT), str(host), str(so.resolve()), symbol, str(inp), str(out)]
    if R is not None:
        rnd = d / f"{symbol}.rnd"
        np.ascontiguousarray(R, dtype=dt).tofile(rnd)
        cmd.append(str(rnd))
    res = subprocess.run(cmd, capture_output=True, text=True, env=_env(), timeout=300)
    assert res.returncode == 0, f"{' '.join(cmd)} exited {res.returncode}:\n{res.stderr}"
    y = np.fromfile(out, dtype=dt)
    return y.reshape(len(X), -1)


# --------------------------------------------------------------------------- models

@dataclass
class Case:
    model: object
    X: np.ndarray  # test rows (float64; rounded to the C type before use)
    ref: object  # Xt (, R) -> expected outputs, from the library
    R: np.ndarray | None = None
    transcendental: bool = False  # uses exp/log/tanh/erf...: cross-CPU bits need scikinc's own math
    tol: float | None = None  # vs the library, replaces TOL (float and double alike)
    row_scale: bool = False  # float32 reference (Keras): errors relative to 1 + the row's largest |output|


def _sklearn_reference(m):
    """The library's outputs as scikinc exports them (binary classifiers: P(class 1))."""
    def ref(Xt):
        if hasattr(m, "predict_proba"):
            p = m.predict_proba(Xt)
            return p[:, 1:] if p.shape[1] == 2 else p
        if hasattr(m, "transform"):
            return m.transform(Xt)
        return m.predict(Xt).reshape(len(Xt), -1)

    return ref


def _pow_case(X) -> Case:
    """StandardScaler + FunctionTransformer calling pow/cbrt/hypot/asinh/lgamma/tgamma
    (scikinc's own double ones in reproducible mode; float builds: powf, the others via double)."""
    from scipy.special import gamma, gammaln
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import FunctionTransformer

    def f(x):
        return (np.power(np.abs(x), 1.5) + np.cbrt(x) - np.hypot(x, 2) + np.arcsinh(x) + gammaln(np.abs(x) + 0.5)
                + gamma(x / 8 + 2.5))

    ft = FunctionTransformer(f)
    ft.func_inC = "pow(fabs(x), 1.5) + cbrt(x) - hypot(x, 2) + asinh(x) + lgamma(fabs(x) + 0.5) + tgamma(x / 8 + 2.5)"
    return Case(make_pipeline(StandardScaler(), ft).fit(X), rows(X, 2000, far=2)[:-1], None, transcendental=True)


def _trig_case(X) -> Case:
    """StandardScaler + FunctionTransformer calling sin/cos/tan/atan2/asin (scikinc's own in
    reproducible mode); rows within 2 spans of the data
    (|x| < 40 after scaling: tan(x / 60) stays off its poles)."""
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import FunctionTransformer

    def f(x):
        return np.sin(x) + np.cos(2 * x) - np.tan(x / 60) + np.arctan2(1 - x, x) + np.arcsin(x / (1 + np.abs(x)))

    ft = FunctionTransformer(f)
    ft.func_inC = "sin(x) + cos(2 * x) - tan(x / 60) + atan2(1 - x, x) + asin(x / (1 + fabs(x)))"
    return Case(make_pipeline(StandardScaler(), ft).fit(X), rows(X, 2000, far=2)[:-1], None, transcendental=True)


def _sklearn_cases() -> dict[str, Case]:
    rng = np.random.default_rng(15)
    X = np.column_stack([rng.normal(size=1500) * 10 + 3, rng.lognormal(size=1500), rng.uniform(-1, 1, 1500),
                         rng.integers(0, 4, 1500).astype(float)])
    y = X[:, 0] - 2 * X[:, 1] + np.sin(3 * X[:, 2]) + X[:, 3]
    yc = (y > np.median(y)).astype(int)
    R = rows(X, 2000)
    Xs = StandardScaler().fit_transform(X)
    Rs = rows(Xs, 2000)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)  # small MLPs, few iterations: still real models
        cases = {
            "stdsc": Case(StandardScaler().fit(X), R, None),
            "minmax": Case(MinMaxScaler().fit(X), R, None),
            "qt_uniform": Case(QuantileTransformer(n_quantiles=200).fit(X), R, None),
            "qt_normal": Case(QuantileTransformer(n_quantiles=200, output_distribution="normal").fit(X), R, None,
                              transcendental=True),
            "gbdt": Case(GradientBoostingRegressor(n_estimators=40, max_depth=4, random_state=0).fit(X, y), R,
                         None),
            "rf": Case(RandomForestClassifier(n_estimators=20, max_depth=6, random_state=0).fit(X, yc), R, None),
            "linreg": Case(LinearRegression().fit(X, y), R, None),
            "logreg": Case(LogisticRegression(max_iter=500).fit(Xs, yc), Rs, None, transcendental=True),
            "mlp_relu": Case(MLPRegressor(hidden_layer_sizes=(16, 8), max_iter=300, random_state=0).fit(Xs, y),
                             Rs, None),
            "mlp_clf": Case(MLPClassifier(hidden_layer_sizes=(8,), activation="tanh", max_iter=300,
                                          random_state=0).fit(Xs, yc), Rs, None, transcendental=True),
        }
    cases["trig"] = _trig_case(X)
    cases["powfn"] = _pow_case(X)
    for c in cases.values():
        c.ref = _sklearn_reference(c.model)
    try:
        import xgboost
    except ImportError:  # pragma: no cover - xgboost is in the test extra
        pass
    else:
        xg = xgboost.XGBRegressor(n_estimators=30, max_depth=4, nthread=1, random_state=0).fit(X, y)
        cases["xgb"] = Case(xg, R, lambda Xt: xg.predict(Xt.astype(np.float32)).reshape(-1, 1), tol=1e-5)
    return cases


def _keras_cases() -> dict[str, Case]:
    keras = pytest.importorskip("keras")
    keras.utils.set_random_seed(15)
    n_cond, n_rnd, n_out, width = 4, 8, 3, 32
    inp = keras.Input(shape=(n_cond + n_rnd,))
    x = keras.layers.LeakyReLU(negative_slope=0.1)(keras.layers.Dense(width)(inp))
    for _ in range(2):  # 3 Dense(32) layers in all
        h = keras.layers.LeakyReLU(negative_slope=0.1)(keras.layers.Dense(width)(x))
        h = keras.layers.Dropout(0.1)(h)
        x = keras.layers.Add()([x, h])
    gen = keras.Model(inp, keras.layers.Dense(n_out)(x))

    def kpredict(Z):
        return np.asarray(gen(np.asarray(Z, np.float32), training=False), dtype=np.float64)

    rng = np.random.default_rng(16)
    C = np.column_stack([rng.lognormal(size=1500) * 10, rng.normal(size=(1500, 2)), rng.integers(0, 3, 1500)])
    Y = np.column_stack([rng.normal(size=1500) * 0.01, rng.exponential(size=1500), rng.normal(size=1500) * 5])
    Cr = rows(C, 1200)
    Rn = np.random.default_rng(17).normal(size=(len(Cr), n_rnd))
    Rn[:4] = [[0] * n_rnd, [5] * n_rnd, [-5] * n_rnd, [1e-3] * n_rnd]
    pre_lin, post_lin = StandardScaler().fit(C), MinMaxScaler().fit(Y)
    pre_q = QuantileTransformer(n_quantiles=100, output_distribution="normal").fit(C)
    post_q = QuantileTransformer(n_quantiles=100).fit(Y)
    Z = rows(np.hstack([pre_lin.transform(C), rng.normal(size=(len(C), n_rnd))]), 1200)
    # Keras computes in float32: tolerance relative to the row's output scale
    return {
        "keras_res": Case(gen, Z, kpredict, tol=1e-4, row_scale=True),
        "gen_lin": Case(scikinc.Generative(gen, preprocessing=pre_lin, postprocessing=post_lin, n_random=n_rnd),
                        Cr, lambda Xt, R: post_lin.inverse_transform(kpredict(np.hstack([pre_lin.transform(Xt), R]))),
                        R=Rn, tol=1e-4, row_scale=True),
        "gen_q": Case(scikinc.Generative(gen, preprocessing=pre_q, postprocessing=post_q, n_random=n_rnd),
                      Cr, lambda Xt, R: post_q.inverse_transform(kpredict(np.hstack([pre_q.transform(Xt), R]))),
                      R=Rn, transcendental=True, tol=1e-4, row_scale=True),
    }


SKLEARN = ["stdsc", "minmax", "qt_uniform", "qt_normal", "gbdt", "rf", "xgb", "linreg", "logreg", "mlp_relu",
           "mlp_clf", "trig", "powfn"]
KERAS = ["keras_res", "gen_lin", "gen_q"]


class Builds:
    """One .so per (group, float_t, reproducible, arch) holding every symbol of
    the group, built on first use; outputs cached per symbol."""

    def __init__(self, tmp: Path, host_fn):
        self.tmp, self.host_fn = tmp, host_fn
        self.cases: dict[str, dict[str, Case]] = {}
        self.sos: dict[tuple, Path] = {}
        self.outs: dict[tuple, np.ndarray] = {}

    def group(self, symbol: str) -> str:
        return "keras" if symbol in KERAS else "sklearn"

    def case_map(self, group: str) -> dict[str, Case]:
        if group not in self.cases:
            self.cases[group] = _keras_cases() if group == "keras" else _sklearn_cases()
        return self.cases[group]

    def case(self, symbol: str) -> Case:
        cases = self.case_map(self.group(symbol))
        if symbol not in cases:
            pytest.skip(f"{symbol}: library not installed")
        return cases[symbol]

    def so(self, group: str, float_t: str, reproducible: bool, arch: str) -> Path:
        key = (group, float_t, reproducible, arch)
        if key not in self.sos:
            # one conversion, both platforms compiled at once
            src = scikinc.convert({n: c.model for n, c in self.case_map(group).items()}, float_t=float_t)
            stem = self.tmp / f"{group}_{float_t}_{'repro' if reproducible else 'default'}.{{arch}}.so"
            with ThreadPoolExecutor(2) as pool:
                jobs = {a: pool.submit(scikinc.compile, src, stem, reproducible=reproducible,
                                       target=TARGET if a == "aarch64" else "native") for a in ("aarch64", "x86_64")}
                for a, job in jobs.items():
                    self.sos[(group, float_t, reproducible, a)] = job.result()
        return self.sos[key]

    def inputs(self, symbol: str, float_t: str):
        c = self.case(symbol)
        dt = DTYPE[float_t]
        X = np.asarray(c.X, dtype=dt)
        R = None if c.R is None else np.asarray(c.R, dtype=dt)
        return X, R

    def out(self, symbol: str, float_t: str, reproducible: bool, arch: str) -> np.ndarray:
        key = (symbol, float_t, reproducible, arch)
        if key not in self.outs:
            so = self.so(self.group(symbol), float_t, reproducible, arch)
            X, R = self.inputs(symbol, float_t)
            if arch == "aarch64":
                self.outs[key] = run_qemu(self.host_fn(), so, symbol, X, float_t, R)
            else:
                f = scikinc.load(so, symbol)
                self.outs[key] = f(X) if R is None else f(X, R)
        return self.outs[key]


@pytest.fixture(scope="module")
def builds(tmp_path_factory, request):
    require_cross()
    return Builds(tmp_path_factory.mktemp("aarch64"), lambda: request.getfixturevalue("host"))


def _params(names):
    return [pytest.param(n, marks=pytest.mark.keras) if n in KERAS else n for n in names]


def _close(got, want, tol, what, row_scale=False):
    got, want = np.asarray(got, np.float64), np.asarray(want, np.float64)
    assert got.shape == want.shape, f"{what}: shape {got.shape} != {want.shape}"
    assert np.array_equal(np.isnan(got), np.isnan(want)), f"{what}: NaN in other places"
    # cancellation (far-out rows of a linear model): errors of the typical output's size are allowed too
    scale = 1 + np.abs(want) + np.nanmedian(np.abs(want), axis=0)
    if row_scale:
        scale = scale + np.nanmax(np.abs(want), axis=1, keepdims=True)
    ok = np.isnan(want) | (np.abs(got - want) <= tol * scale)
    bad = np.argwhere(~ok)
    assert not len(bad), (f"{what}: {len(bad)} of {got.size} outputs off, first at {tuple(bad[0])}: "
                          f"{got[tuple(bad[0])]!r} vs {want[tuple(bad[0])]!r}")


# --------------------------------------------------------------------------- tests


@pytest.mark.parametrize("float_t", ["float", "double"])
@pytest.mark.parametrize("symbol", _params(SKLEARN + KERAS))
def test_aarch64_matches_library_and_x86(builds, symbol, float_t):
    c = builds.case(symbol)
    X, R = builds.inputs(symbol, float_t)
    assert len(X) >= 1000
    got = builds.out(symbol, float_t, False, "aarch64")
    Xt = X.astype(np.float64)
    want = c.ref(Xt) if R is None else c.ref(Xt, R.astype(np.float64))
    _close(got, want, c.tol or TOL[float_t], f"{symbol} aarch64 vs library", c.row_scale)
    x86 = builds.out(symbol, float_t, False, "x86_64")
    _close(got, x86, TOL_X86[float_t], f"{symbol} aarch64 vs x86-64", c.row_scale)


TRANSCENDENTAL = ["qt_normal", "logreg", "mlp_clf", "gen_q", "trig", "powfn"]
EXACT = [n for n in SKLEARN + KERAS if n not in TRANSCENDENTAL]


@pytest.mark.parametrize("float_t", ["float", "double"])
@pytest.mark.parametrize("symbol", _params(EXACT))
def test_reproducible_aarch64_bitwise_equals_x86(builds, symbol, float_t):
    assert not builds.case(symbol).transcendental
    a64 = builds.out(symbol, float_t, True, "aarch64")
    x86 = builds.out(symbol, float_t, True, "x86_64")
    assert same_bits(a64, x86), f"{symbol}: {(a64 != x86).sum()} of {a64.size} outputs differ"
    # not vacuous: the outputs vary, and are those of the library
    assert np.unique(a64).size > 10
    c = builds.case(symbol)
    X, R = builds.inputs(symbol, float_t)
    Xt = X.astype(np.float64)
    _close(a64, c.ref(Xt) if R is None else c.ref(Xt, R.astype(np.float64)), c.tol or TOL[float_t],
           f"{symbol} reproducible aarch64 vs library", c.row_scale)


@pytest.mark.parametrize("float_t", ["float", "double"])
@pytest.mark.parametrize("symbol", _params(TRANSCENDENTAL))
def test_reproducible_transcendental_aarch64_bitwise_equals_x86(builds, symbol, float_t):
    assert builds.case(symbol).transcendental
    a64 = builds.out(symbol, float_t, True, "aarch64")
    x86 = builds.out(symbol, float_t, True, "x86_64")
    assert same_bits(a64, x86), f"{symbol}: {(a64 != x86).sum()} of {a64.size} outputs differ"


@pytest.mark.parametrize("float_t", ["float", "double"])
@pytest.mark.parametrize("group", ["sklearn", pytest.param("keras", marks=pytest.mark.keras)])
def test_aarch64_strict_c99_and_cxx(builds, tmp_path, group, float_t):
    """The generated code is -Wall -Wextra -Werror clean for aarch64, as C99 and as C++, default and
    reproducible."""
    models = {n: c.model for n, c in builds.case_map(group).items()}
    src = tmp_path / "m.c"
    src.write_text(scikinc.convert(models, float_t=float_t))
    for cmd in ([f"{TARGET}-gcc", "-std=c99", "-pedantic", "-x", "c"],
                [f"{TARGET}-g++", "-std=c++17", "-x", "c++", *REPRODUCIBLE_FLAGS]):
        res = subprocess.run([*cmd, *WERROR, "-O2", "-c", str(src), "-o", str(tmp_path / "m.o")],
                             capture_output=True, text=True)
        assert res.returncode == 0, f"{' '.join(cmd)}:\n{res.stderr[:4000]}"


def test_sve_build_bitwise_equals_neon(builds, tmp_path):
    """SKC_TARGET="+sve" (an SVE-only build; qemu's default CPU has SVE) gives the NEON build's bits in
    reproducible mode."""
    symbols = ["mlp_relu", "gbdt", "stdsc"]
    cases = builds.case_map("sklearn")
    models = {n: cases[n].model for n in symbols}
    so = scikinc.compile(models, tmp_path / "sve.{arch}.so", float_t="float", reproducible=True, target=TARGET,
                         flags=["-O3", '-DSKC_TARGET="+sve"'])
    dis = subprocess.run([f"{TARGET}-objdump", "-d", str(so)], capture_output=True, text=True).stdout
    assert " z0." in dis or "ptrue" in dis or "whilelo" in dis, "no SVE instruction in the +sve build"
    for n in symbols:
        X, _ = builds.inputs(n, "float")
        assert same_bits(run_qemu(builds.host_fn(), so, n, X, "float"), builds.out(n, "float", True, "aarch64")), n


# --------------------------------------------------------------------------- API, CLI, errors

def _elf_machine(path: Path) -> int:
    return int.from_bytes(path.read_bytes()[18:20], "little")


ELF_MACHINE = {"x86_64": 62, "aarch64": 183}


@pytest.fixture(scope="module")
def scaler_file(tmp_path_factory) -> Path:
    p = tmp_path_factory.mktemp("cli") / "sc.pkl"
    p.write_bytes(pickle.dumps(StandardScaler().fit(np.random.default_rng(0).normal(size=(50, 3)))))
    return p


def _cli(capsys, *args) -> tuple[int, str, str]:
    """``scikinC ARGS`` in this process (the console script's own main): status, stdout, stderr."""
    from scikinc.cli import main

    capsys.readouterr()
    try:
        status = main([str(a) for a in args])
    except SystemExit as e:  # --help
        status = e.code
    out, err = capsys.readouterr()
    return status, out, err


def test_cli_several_targets_arch_tag(scaler_file, tmp_path, capsys):
    require_cross()
    status, out, err = _cli(capsys, "compile", scaler_file, "--target", "x86_64-linux-gnu,aarch64-linux-gnu",
                            "-o", tmp_path / "sc.{arch}.so")
    assert status == 0, err
    assert out.split() == [str(tmp_path / "sc.x86_64.so"), str(tmp_path / "sc.aarch64.so")]
    for arch in ("x86_64", "aarch64"):
        assert _elf_machine(tmp_path / f"sc.{arch}.so") == ELF_MACHINE[arch]
        assert (tmp_path / f"sc.{arch}.c").exists()
    assert scikinc.load(tmp_path / "sc.x86_64.so", "sc").n_inputs == 3
    status, help_text, _ = _cli(capsys, "compile", "--help")
    assert status == 0
    assert "--target" in help_text and "{arch}" in help_text and "gcc-aarch64-linux-gnu" in help_text


def test_api_targets_and_cxx_cross_compiler(tmp_path):
    require_cross()
    m = {"s": StandardScaler().fit(np.random.default_rng(0).normal(size=(50, 3)))}
    native = scikinc.compile(m, tmp_path / "n.{arch}.so")
    arch = target_arch(None)
    assert native.name == f"n.{arch}.so" and _elf_machine(native) == ELF_MACHINE[arch]
    host = scikinc.compile(m, tmp_path / "h.so", target="x86_64-linux-gnu")
    assert scikinc.load(host, "s").n_outputs == 3
    for cc in ("gcc", "g++", f"{TARGET}-gcc"):
        so = scikinc.compile(m, tmp_path / f"{cc}.{{arch}}.so", target=TARGET, cc=cc)
        assert so.name == f"{cc}.aarch64.so" and _elf_machine(so) == ELF_MACHINE["aarch64"]
    from scikinc.compiler import compiler_command

    assert compiler_command(Path("m.c"), Path("m.so"), cc="g++", target=TARGET)[0] == f"{TARGET}-g++"
    assert compiler_command(Path("m.c"), Path("m.so"), target="native")[0] == "gcc"
    for cc, want in (("cc", [f"{TARGET}-gcc"]), ("/usr/bin/gcc-12", [f"{TARGET}-gcc-12"]),
                     ("ccache g++", ["ccache", f"{TARGET}-g++"])):
        assert compiler_command(Path("m.c"), Path("m.so"), cc=cc, target=TARGET)[:len(want)] == want, cc
    assert "-ffp-contract=off" in compiler_command(Path("m.c"), Path("m.so"), target=TARGET)


def test_bad_targets_are_refused(scaler_file, tmp_path, capsys):
    m = {"s": StandardScaler().fit(np.random.default_rng(0).normal(size=(50, 3)))}
    with pytest.raises(scikinc.CompileError, match=r"unknown target 'riscv64-linux-gnu': choose one of "
                                                   r"aarch64-linux-gnu, x86_64-linux-gnu or 'native'"):
        scikinc.compile(m, tmp_path / "m.so", target="riscv64-linux-gnu")
    with pytest.raises(scikinc.CompileError, match="unknown target 3"):
        scikinc.compile(m, tmp_path / "m.so", target=3)
    with pytest.raises(scikinc.CompileError, match="march_native tunes for this machine's CPU: it cannot be "
                                                   "combined with target='aarch64-linux-gnu'"):
        scikinc.compile(m, tmp_path / "m.so", target=TARGET, march_native=True)
    with pytest.raises(scikinc.CompileError, match="cc='clang' cannot build for target 'aarch64-linux-gnu'"):
        scikinc.compile(m, tmp_path / "m.so", target=TARGET, cc="clang")
    cases = [
        (["--target", "riscv64-linux-gnu"], "unknown target 'riscv64-linux-gnu'"),
        (["--target", "x86_64-linux-gnu,aarch64-linux-gnu"], r"the output needs the \{arch\} tag"),
        (["--target", "native,x86_64-linux-gnu", "-o", tmp_path / "m.{arch}.so"], "names the same platform twice"),
        (["--target", "aarch64-linux-gnu,", "-o", tmp_path / "m.{arch}.so"], "empty name in the list"),
        (["--target", TARGET, "--march-native"], "march_native tunes for this machine's CPU"),
    ]
    for args, msg in cases:
        status, _, err = _cli(capsys, "compile", scaler_file, "-o", tmp_path / "m.so", *args)
        assert status == 1 and re.search(msg, err), (args, err)
        assert err.startswith("scikinC: error: "), err


def test_missing_cross_compiler_names_the_debian_package(scaler_file, tmp_path, monkeypatch):
    m = {"s": StandardScaler().fit(np.random.default_rng(0).normal(size=(50, 3)))}
    empty = tmp_path / "empty_path"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))
    for cc, pkg in (("gcc", "gcc-aarch64-linux-gnu"), ("g++", "g++-aarch64-linux-gnu")):
        with pytest.raises(scikinc.CompileError, match=rf"cross compiler '{TARGET}-{re.escape(cc)}' for target "
                                                       rf"'{TARGET}' not found: install Debian's {re.escape(pkg)}"):
            scikinc.compile(m, tmp_path / "m.so", target=TARGET, cc=cc)
    # the real command: exit status 1 and the message
    res = subprocess.run([sys.executable, "-m", "scikinc", "compile", str(scaler_file), "--target", TARGET, "-o",
                          str(tmp_path / "m.so")], capture_output=True, text=True, env={**os.environ}, cwd=ROOT)
    assert res.returncode == 1, res.stderr
    assert res.stderr.startswith("scikinC: error: cross compiler 'aarch64-linux-gnu-gcc' for target "
                                 "'aarch64-linux-gnu' not found: install Debian's gcc-aarch64-linux-gnu"), res.stderr


def test_targets_table_names_packages():
    for triple, (arch, cpkg, cxxpkg) in TARGETS.items():
        assert triple.startswith(arch + "-") and cpkg.startswith("gcc-") and cxxpkg.startswith("g++-")


def test_load_of_a_foreign_so_names_its_architecture(tmp_path):
    """scikinc.load on an aarch64 .so (on an x86-64 machine): a clear LoadError, not dlopen's
    'wrong ELF class' text alone."""
    require_cross()
    import platform

    X = np.random.default_rng(0).normal(size=(50, 3))
    so = scikinc.compile({"s": StandardScaler().fit(X)}, tmp_path / "m.{arch}.so", target="aarch64-linux-gnu")
    if platform.machine() == "aarch64":
        pytest.skip("this machine runs aarch64 code natively")
    with pytest.raises(scikinc.LoadError, match=rf"built for aarch64, this machine is {platform.machine()}"):
        scikinc.load(so, "s")
    not_elf = tmp_path / "junk.so"
    not_elf.write_bytes(b"not a shared object")
    with pytest.raises(scikinc.LoadError, match="cannot load shared object"):
        scikinc.load(not_elf, "s")
