"""NaN and infinities through every activation, merge, PReLU and the fused
dense epilogue, element by element against the real libraries: Keras (float32
and float64 models) and scikit-learn's MLP forward pass.  NaN wherever the
library returns NaN, +-inf exactly, close elsewhere.

The rows mix NaN, +-inf, +-0, huge (+-1e30, +-3e38, and +-1e300, +-1.7e308 in
double), tiny (+-1e-30, +-1e-300) and subnormal values, the kinks of the
piecewise activations and moderate random values."""
import functools
import os
import re
import subprocess
import sys
import textwrap

import numpy as np
import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

from util import check_contract, compile_strict, rows, single_row_code  # noqa: E402

import scikinc  # noqa: E402
from scikinc.core import finish  # noqa: E402
from scikinc.ir import Activation, Binary, Gather, Graph  # noqa: E402
from scikinc.render import Entry, render_file  # noqa: E402

try:
    import keras
except ImportError:  # the sklearn tests below still run
    keras = None

needs_keras = pytest.mark.skipif(keras is None, reason="keras is not installed")
keras_test = [pytest.mark.keras, needs_keras]

NP = {"float": np.float32, "double": np.float64, "long double": np.longdouble}
TOL = {"float": 1e-5, "double": 1e-10, "long double": 1e-10}


def tol(name, float_t):
    """Comparison tolerance vs Keras.  TensorFlow's float64 kernels are not all
    float64-exact: its gelu is 1.7e-7 (relative) off, and tf.nn.leaky_relu
    takes alpha as a 32-bit float attribute (alpha 0.2 multiplies by
    0.20000000298...), so those are compared at 1e-6 in double."""
    if float_t != "float" and any(k in name for k in ("gelu", "leaky", "relu_slope")):
        return 1e-6
    return TOL[float_t]
NAN, INF = float("nan"), float("inf")
#: the corners of the piecewise activations (ReLU thresholds and max values
#: used below, hard_* breakpoints, exp/expm1 overflow points)
KINKS = [-7.0, -6.0, -3.0, -1.0, -0.5, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0, 6.0, 7.0, 88.7, -88.7, -104.0, 709.8, -745.0]
SPECIAL = {
    "float": [NAN, INF, -INF, 0.0, -0.0, 1e30, -1e30, 3e38, -3e38, 1e-30, -1e-30, 1e-40, -1e-40, *KINKS],
    "double": [NAN, INF, -INF, 0.0, -0.0, 1e30, -1e30, 3e38, -3e38, 1e-30, -1e-30, 1e-40, -1e-40, 1e300, -1e300,
               1.7e308, -1.7e308, 1e-300, -1e-300, 1e-310, -1e-310, *KINKS],
}
SPECIAL["long double"] = SPECIAL["double"]
WIDTH = 8


def special_rows(float_t, n=1500, width=WIDTH, seed=0):
    """``n`` rows: one constant row per special value, then random rows in
    which about a third of the elements are special values, the others
    N(0, 1) scaled by 1, 3, 30 or 1e4."""
    rng = np.random.default_rng(seed)
    sp = np.array(SPECIAL[float_t])
    X = rng.normal(size=(n, width)) * rng.choice([1.0, 3.0, 30.0, 1e4], size=(n, 1))
    mask = rng.random((n, width)) < 0.35
    X[mask] = rng.choice(sp, size=int(mask.sum()))
    X[:sp.size] = sp[:, None]
    return X.astype(NP[float_t])


def pair_rows(float_t, k, seed=1):
    """Rows of ``k * WIDTH`` values in which every ordered pair of special
    values meets in some (a[j], b[j]) -- and in (b[j], c[j]) for k = 3 --
    followed by random special rows: argument order matters for NaN."""
    sp = np.array(SPECIAL[float_t])
    a, b = (m.reshape(-1) for m in np.meshgrid(sp, sp))
    cols = [a, b] + [np.roll(b, 7 * i) for i in range(1, k - 1)]
    n_pad = -a.size % WIDTH
    blocks = [np.concatenate([c, c[:n_pad]]).reshape(-1, WIDTH) for c in cols]
    X = np.concatenate([np.concatenate(blocks, axis=1), special_rows(float_t, 600, k * WIDTH, seed).astype(float)])
    return X.astype(NP[float_t])


def subnormal(X, float_t):
    X = np.asarray(X)
    return (X != 0) & (np.abs(X) < np.finfo(NP["double" if float_t == "long double" else float_t]).tiny)


def match(got, want, tol, X=None, what=""):
    """NaN exactly where ``want`` is NaN, +-inf where it is +-inf, and
    |got - want| <= tol (1 + |want|) elsewhere."""
    t = np.longdouble if np.asarray(got).dtype == np.longdouble else np.float64
    got, want = np.asarray(got, t), np.asarray(want, t)
    assert got.shape == want.shape, (got.shape, want.shape)
    bad = np.isnan(got) != np.isnan(want)
    fin = ~np.isnan(want) & ~np.isnan(got)
    bad[fin] = ~np.isclose(got[fin], want[fin], rtol=tol, atol=tol)
    if bad.any():
        i = tuple(np.argwhere(bad)[0])
        row = "" if X is None else f" (input row {i[0]}: {np.asarray(X, np.float64)[i[0]].tolist()})"
        raise AssertionError(f"{what}: {int(bad.sum())} mismatches; first at {i}: got {got[i]!r}, "
                             f"want {want[i]!r}{row}")


def _keras(m, X):
    return np.asarray(m(X, training=False), dtype=np.float64)


def n_ops(src, desc):
    """How many ops described as ``desc`` the generated C runs (the renderer's
    per-op comment: ``/* desc */`` or ``/* desc (label) */``)."""
    return len(re.findall(r"/\* " + re.escape(desc) + r"(?: \([^)]*\))? \*/", single_row_code(src)))


# ---------------------------------------------------------------------------
# Activations: every Activation kind, through the Keras converter
# ---------------------------------------------------------------------------

#: kind -> Keras activation of an Activation layer
LAYER_ACTS = {
    "relu": "relu", "relu6": "relu6", "leaky_relu": "leaky_relu", "elu": "elu", "selu": "selu", "celu": "celu",
    "gelu": "gelu", "sigmoid": "sigmoid", "tanh": "tanh", "exp": "exponential", "hard_sigmoid": "hard_sigmoid",
    "hard_silu": "hard_silu", "silu": "silu", "mish": "mish", "softplus": "softplus", "softsign": "softsign",
    "hard_tanh": "hard_tanh", "log_sigmoid": "log_sigmoid",
}
#: kind -> keras.ops function called on the model input
OP_ACTS = {"log": "log", "sqrt": "sqrt", "abs": "absolute", "square": "square", "negative": "negative"}
#: kinds no Keras layer converts to (Activation("linear") is dropped by the
#: converter): hand-built graphs against the matching keras.ops function
IR_ACTS = {"linear": None, "reciprocal": "reciprocal"}
#: covered by the tests further down
ELSEWHERE = {"gelu_tanh": "test_activation_variants (gelu approximate=True)",
             "hard_sigmoid_k2": "test_keras2_hard_sigmoid (tf_keras)",
             "relu_full": "test_relu_layers (ReLU max_value/negative_slope/threshold)"}


def test_every_activation_kind_is_covered():
    covered = set(LAYER_ACTS) | set(OP_ACTS) | set(IR_ACTS) | set(ELSEWHERE)
    assert covered == set(Activation.KINDS), sorted(set(Activation.KINDS) ^ covered)


def _keep(name, X, float_t):
    """TensorFlow runs its kernels with subnormal inputs read as zero: its
    sqrt(-1e-40) is -0 (exact: NaN), its log(1e-40) -103.97 (exact: -92.1),
    its inf * 1e-40 NaN (exact: inf).  Where that matters (log, sqrt, the
    merges, whose models below take sqrt(x)), elements with a subnormal input
    are left out of the comparison."""
    if any(k in name for k in ("log", "sqrt")) or name.startswith(("m_", "b_")):
        return ~subnormal(X, float_t)
    return np.ones(X.shape, bool)


def _act_models(dtype):
    L = keras.layers
    M = {}
    for kind, act in LAYER_ACTS.items():
        M["a_" + kind] = keras.Sequential([keras.Input((WIDTH,), dtype=dtype), L.Activation(act, dtype=dtype)],
                                          name="a_" + kind)
    for kind, op in OP_ACTS.items():
        i = keras.Input((WIDTH,), dtype=dtype)
        M["a_" + kind] = keras.Model(i, getattr(keras.ops, op)(i), name="a_" + kind)
    # variants: gelu's tanh form, parameterised alphas
    for name, act in (("gelu_tanh", functools.partial(keras.activations.gelu, approximate=True)),
                      ("leaky_relu_a", functools.partial(keras.activations.leaky_relu, negative_slope=0.05)),
                      ("elu_a", functools.partial(keras.activations.elu, alpha=0.7)),
                      ("celu_a", functools.partial(keras.activations.celu, alpha=0.5))):
        M["v_" + name] = keras.Sequential([keras.Input((WIDTH,), dtype=dtype), L.Activation(act, dtype=dtype)],
                                          name="v_" + name)
    return M


@pytest.fixture(scope="module")
def act_libs(tmp_path_factory):
    if keras is None:
        pytest.skip("keras is not installed")
    tmp = tmp_path_factory.mktemp("acts")
    out = {}
    for float_t, dtype in (("float", "float32"), ("double", "float64")):
        models = _act_models(dtype)
        X = special_rows(float_t)
        src = scikinc.convert(models, float_t=float_t)
        for name in models:  # the kind under test really is what runs
            kind = name[2:].removesuffix("_a")
            assert n_ops(src.split(f"{name}__impl", 1)[1].split("\n}\n", 1)[0], f"Activation({kind})") == 1, name
        out[float_t] = models, check_contract(models, tmp, float_t=float_t, X=X), X
    return out


@pytest.mark.keras
@needs_keras
@pytest.mark.parametrize("float_t", ["float", "double"])
@pytest.mark.parametrize("kind", sorted(set(LAYER_ACTS) | set(OP_ACTS)))
def test_activation(act_libs, kind, float_t):
    models, fns, X = act_libs[float_t]
    name = "a_" + kind
    keep = _keep(kind, X, float_t)
    with np.errstate(all="ignore"):
        got, want = fns[name](X), _keras(models[name], X)
    assert np.isnan(want[np.isnan(X)]).all()  # Keras propagates NaN through every kind
    match(got[keep], want[keep], tol(kind, float_t), what=f"{kind} ({float_t})")
    assert np.isnan(got[np.isnan(X)]).all()


@pytest.mark.keras
@needs_keras
@pytest.mark.parametrize("float_t", ["float", "double"])
@pytest.mark.parametrize("name", ["gelu_tanh", "leaky_relu_a", "elu_a", "celu_a"])
def test_activation_variants(act_libs, name, float_t):
    models, fns, X = act_libs[float_t]
    with np.errstate(all="ignore"):
        match(fns["v_" + name](X), _keras(models["v_" + name], X), tol(name, float_t), X, f"{name} ({float_t})")


def _ir_so(graphs, tmp_path, float_t):
    entries = [Entry(name, finish(g)) for name, g in graphs.items()]
    src = render_file(entries, float_t=float_t, copyright=None, version="test")
    compile_strict(src, tmp_path, stem=f"ir_{float_t.replace(' ', '_')}")
    so = scikinc.compile(src, tmp_path / f"ir_{float_t.replace(' ', '_')}.so")
    return {name: scikinc.load(so, name) for name in graphs}


@pytest.mark.keras
@needs_keras
@pytest.mark.parametrize("float_t", ["float", "double"])
def test_ir_only_activations(tmp_path, float_t):
    graphs = {}
    for kind in IR_ACTS:
        g = Graph(WIDTH)
        g.output = g.add(Activation(kind), g.input)
        graphs["i_" + kind] = g
    fns = _ir_so(graphs, tmp_path, float_t)
    X = special_rows(float_t)
    for kind, op in IR_ACTS.items():
        want = X if op is None else np.asarray(getattr(keras.ops, op)(X), np.float64)
        with np.errstate(all="ignore"):
            match(fns["i_" + kind](X), want, TOL[float_t], X, kind)


# ---------------------------------------------------------------------------
# Keras layers: ReLU(max_value, negative_slope, threshold), LeakyReLU, PReLU, ELU
# ---------------------------------------------------------------------------

RELU_LAYERS = {  # name: ReLU kwargs
    "relu": {}, "relu_max": {"max_value": 1.5}, "relu6": {"max_value": 6.0}, "relu_slope": {"negative_slope": 0.3},
    "relu_threshold": {"threshold": 0.75}, "relu_max6_threshold": {"max_value": 6.0, "threshold": 1.0},
    "relu_max_threshold": {"max_value": 2.0, "threshold": 0.5},
    "relu_max_slope": {"max_value": 2.0, "negative_slope": 0.1},
    "relu_slope_threshold": {"negative_slope": 0.2, "threshold": 0.5},
    "relu_all": {"max_value": 2.0, "negative_slope": 0.1, "threshold": 0.5},
}


def _layer_models(dtype):
    L = keras.layers
    rng = np.random.default_rng(5)

    def seq(name, layer):
        return keras.Sequential([keras.Input((WIDTH,), dtype=dtype), layer], name=name)
    M = {"l_" + k: seq("l_" + k, L.ReLU(**kw, dtype=dtype)) for k, kw in RELU_LAYERS.items()}
    M["l_leaky"] = seq("l_leaky", L.LeakyReLU(negative_slope=0.05, dtype=dtype))
    M["l_elu"] = seq("l_elu", L.ELU(alpha=0.7, dtype=dtype))
    M["l_elu1"] = seq("l_elu1", L.ELU(dtype=dtype))
    prelu = L.PReLU(dtype=dtype)
    M["l_prelu"] = seq("l_prelu", prelu)
    alpha = np.concatenate([[0.0, -0.5, 1.0, 0.25], rng.normal(size=WIDTH - 4)]).astype(np.float32)
    prelu.set_weights([alpha.astype(dtype)])
    return M


@pytest.fixture(scope="module")
def layer_libs(tmp_path_factory):
    if keras is None:
        pytest.skip("keras is not installed")
    tmp = tmp_path_factory.mktemp("layers")
    out = {}
    for float_t, dtype in (("float", "float32"), ("double", "float64")):
        models = _layer_models(dtype)
        X = special_rows(float_t, seed=2)
        out[float_t] = models, check_contract(models, tmp, float_t=float_t, X=X), X
    return out


@pytest.mark.keras
@needs_keras
@pytest.mark.parametrize("float_t", ["float", "double"])
@pytest.mark.parametrize("name", [*RELU_LAYERS, "leaky", "elu", "elu1", "prelu"])
def test_relu_layers(layer_libs, name, float_t):
    models, fns, X = layer_libs[float_t]
    with np.errstate(all="ignore"):
        match(fns["l_" + name](X), _keras(models["l_" + name], X), tol(name, float_t), X, f"{name} ({float_t})")


@pytest.mark.keras
@needs_keras
def test_relu_full_is_what_runs():
    """The ReLU variants with a threshold or a max_value other than 6 run the
    relu_full statement (the others map to relu, relu6, leaky_relu)."""
    src = scikinc.convert(_layer_models("float32"))
    assert n_ops(src, "Activation(relu_full)") == 7


@pytest.mark.keras
@needs_keras
@pytest.mark.parametrize("float_t", ["float", "double"])
def test_keras2_hard_sigmoid(tmp_path, float_t):
    """tf_keras's hard_sigmoid (clip(0.2 x + 0.5, 0, 1)): standalone and fused
    into a Dense epilogue."""
    tfk = pytest.importorskip("tf_keras")
    K = tfk.layers
    dtype = NP[float_t]
    tfk.utils.set_random_seed(3)
    m = tfk.Sequential([tfk.Input((6,), dtype=dtype), K.Activation("hard_sigmoid", dtype=dtype)], name="k2_hs")
    d = tfk.Sequential([tfk.Input((6,), dtype=dtype), K.Dense(16, activation="hard_sigmoid", dtype=dtype)],
                       name="k2_dense_hs")
    src = scikinc.convert({"k2_hs": m, "k2_dense_hs": d}, float_t=float_t)
    assert n_ops(src, "Activation(hard_sigmoid_k2)") == 1 and n_ops(src, "Dense+hard_sigmoid_k2") == 1
    X, Xd = special_rows(float_t, width=6), dense_rows(float_t)
    fns = check_contract({"k2_hs": m, "k2_dense_hs": d}, tmp_path, float_t=float_t, X=X)
    with np.errstate(all="ignore"):
        match(fns["k2_hs"](X), _keras(m, X), TOL[float_t], X, "hard_sigmoid_k2")
        match(fns["k2_dense_hs"](Xd), _keras(d, Xd), TOL[float_t], Xd, "Dense+hard_sigmoid_k2")


# ---------------------------------------------------------------------------
# Merges: NaN in either argument position
# ---------------------------------------------------------------------------

MERGES = {"add": "Add", "sub": "Subtract", "mul": "Multiply", "avg": "Average", "max": "Maximum", "min": "Minimum"}


@pytest.mark.keras
@needs_keras
@pytest.mark.parametrize("float_t", ["float", "double"])
def test_merges_every_pair(tmp_path, float_t):
    """Binary ops on hand-built graphs (the inputs cut into 2 or 3 slices) vs
    the Keras merge layers on the same slices: every ordered pair of special
    values, NaN first, second, both, with infinities and signed zeros."""
    graphs, ks = {}, {}
    for kind in MERGES:
        for k in ((2, 3) if kind not in ("sub",) else (2,)):
            g = Graph(k * WIDTH)
            parts = [g.add(Gather(np.arange(j * WIDTH, (j + 1) * WIDTH)), g.input) for j in range(k)]
            g.output = g.add(Binary(kind), *parts)
            graphs[f"b_{kind}{k}"] = g
            ks[f"b_{kind}{k}"] = k
    fns = _ir_so(graphs, tmp_path, float_t)
    dtype = "float32" if float_t == "float" else "float64"
    for name, k in ks.items():
        X = pair_rows(float_t, k)
        layer = getattr(keras.layers, MERGES[name[2:-1]])(dtype=dtype)
        with np.errstate(all="ignore"):
            want = np.asarray(layer([X[:, j * WIDTH:(j + 1) * WIDTH] for j in range(k)]), np.float64)
            got = fns[name](X)
        keep = ~subnormal(X, float_t).reshape(len(X), k, WIDTH).any(axis=1)
        match(np.where(keep, got, 0), np.where(keep, want, 0), TOL[float_t], X, f"{name} ({float_t})")
        nan_in = np.isnan(X.reshape(len(X), k, WIDTH)).any(axis=1)
        assert np.isnan(got[nan_in]).all(), name  # Keras: NaN in any position gives NaN


def _merge_models(dtype):
    """Keras models whose merge inputs are NaN in one position only: sqrt(x)
    is NaN for x < 0 where x is not."""
    L, ops = keras.layers, keras.ops
    M = {}
    for kind, cls in MERGES.items():
        for order in ("first", "second"):
            i = keras.Input((WIDTH,), dtype=dtype)
            a, b = ops.sqrt(i), i
            if order == "second":
                a, b = b, a
            M[f"m_{kind}_{order}"] = keras.Model(i, getattr(L, cls)(dtype=dtype)([a, b]), name=f"m_{kind}_{order}")
        if kind != "sub":
            i = keras.Input((WIDTH,), dtype=dtype)
            M[f"m_{kind}_3"] = keras.Model(i, getattr(L, cls)(dtype=dtype)([i, ops.negative(i), ops.sqrt(i)]),
                                           name=f"m_{kind}_3")
    return M


@pytest.mark.keras
@needs_keras
@pytest.mark.parametrize("float_t", ["float", "double"])
def test_merge_layers(tmp_path, float_t):
    dtype = "float32" if float_t == "float" else "float64"
    models = _merge_models(dtype)
    X = special_rows(float_t, seed=3)
    fns = check_contract(models, tmp_path, float_t=float_t, X=X)
    keep = _keep("m_", X, float_t)
    for name, m in models.items():
        with np.errstate(all="ignore"):
            got, want = fns[name](X), _keras(m, X)
        match(np.where(keep, got, 0), np.where(keep, want, 0), TOL[float_t], X, f"{name} ({float_t})")
        assert np.isnan(got[np.isnan(X)]).all(), name


# ---------------------------------------------------------------------------
# The fused Dense + activation epilogue
# ---------------------------------------------------------------------------

FUSED = ["linear", "relu", "relu6", "leaky_relu", "hard_sigmoid", "hard_silu", "hard_tanh"]


def dense_rows(float_t, n=2000, seed=4):
    """Moderate rows with up to two NaN/+-inf/+-0/tiny values each and, in one
    row in five, one huge value (a single huge term: the float sums stay exact
    to rounding).  Two infinities of opposite product sign give NaN outputs
    next to +-inf ones."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 6)) * rng.choice([1.0, 3.0], size=(n, 1))
    sp = np.array([NAN, INF, -INF, 0.0, -0.0, 1e-30, -1e-30, 1e-40, -1e-40])
    for r in range(n):
        for j in rng.choice(6, size=rng.integers(0, 3), replace=False):
            X[r, j] = rng.choice(sp)
        if rng.random() < 0.2:
            X[r, rng.integers(6)] = rng.choice([1e30, -1e30])
    X[:sp.size] = sp[:, None]
    return X.astype(NP[float_t])


def _dense_models(dtype):
    L = keras.layers
    rng = np.random.default_rng(6)
    W = rng.normal(size=(6, 16)).astype(np.float32)
    W[0, :3] = 0.0  # 0 * inf = NaN
    b = rng.normal(size=16).astype(np.float32)
    M = {}
    for kind in FUSED:
        act = functools.partial(keras.activations.leaky_relu, negative_slope=0.1) if kind == "leaky_relu" else kind
        d = L.Dense(16, activation=act, dtype=dtype)
        M["d_" + kind] = keras.Sequential([keras.Input((6,), dtype=dtype), d], name="d_" + kind)
        d.set_weights([W.astype(dtype), b.astype(dtype)])
    return M


@pytest.mark.keras
@needs_keras
@pytest.mark.parametrize("float_t", ["float", "double"])
def test_dense_epilogue(tmp_path, float_t):
    """Keras Dense(..., activation=f) converts to one fused Dense+f op whose
    epilogue applies f on the registers: NaN and +-inf sums go through f as
    they do in Keras."""
    dtype = "float32" if float_t == "float" else "float64"
    models = _dense_models(dtype)
    src = scikinc.convert(models, float_t=float_t)
    for kind in FUSED[1:]:
        assert n_ops(src, f"Dense+{kind}") == 1, kind
    X = dense_rows(float_t)
    fns = check_contract(models, tmp_path, float_t=float_t, X=X)
    for name, m in models.items():
        with np.errstate(all="ignore"):
            want = _keras(m, X)
            match(fns[name](X), want, tol(name, float_t), X, f"{name} ({float_t})")
        assert np.isnan(want).any()
        if name == "d_linear":  # the sums reach NaN (inf - inf, 0 * inf) and +-inf
            assert np.isinf(want).any() and (np.isnan(want) & ~np.isnan(X).any(axis=1, keepdims=True)).any()


# ---------------------------------------------------------------------------
# long double: compiles, propagates NaN, agrees with Keras float64
# ---------------------------------------------------------------------------

@pytest.mark.keras
@needs_keras
def test_long_double(tmp_path):
    wide = {**_act_models("float64"), **_layer_models("float64"), **_merge_models("float64")}
    dense = _dense_models("float64")
    (tmp_path / "d").mkdir()
    fns = {**check_contract(wide, tmp_path, float_t="long double", X=special_rows("long double")),
           **check_contract(dense, tmp_path / "d", float_t="long double", X=dense_rows("long double"))}
    models = {**wide, **dense}
    X = special_rows("double")
    # long double has a wider range: leave out the inputs whose results
    # overflow in double only (exp(709.8), 1e300 ** 2, ...)
    ok = (~np.isfinite(X) | (np.abs(X) <= 1e30)) & (X != 709.8)
    X = X[ok.all(axis=1)]
    assert len(X) >= 800
    Xd = dense_rows("double")
    for name, m in models.items():
        x = Xd if name.startswith("d_") else X
        with np.errstate(all="ignore"):
            want = _keras(m, x)
            got = fns[name](x.astype(np.longdouble))
        keep = np.ones(want.shape, bool)
        if want.shape == x.shape:  # elementwise: exp(1e3) overflows in double only
            keep = _keep(name, x, "long double") & ~(np.isinf(want) & np.isfinite(x))
        assert got.dtype == np.longdouble
        match(got[keep], want[keep], tol(name, "long double"), what=f"{name} (long double)")
        assert np.isnan(got[np.isnan(want)]).all()


# ---------------------------------------------------------------------------
# scikit-learn MLPs (relu hidden layers)
# ---------------------------------------------------------------------------

@pytest.fixture(scope="module")
def mlps():
    from sklearn.datasets import make_classification, make_regression
    from sklearn.neural_network import MLPClassifier, MLPRegressor

    X, y = make_regression(n_samples=400, n_features=6, noise=0.1, random_state=0)
    Xc, yc = make_classification(n_samples=400, n_features=6, n_informative=4, n_classes=3, random_state=0)
    Xb, yb = make_classification(n_samples=400, n_features=6, random_state=1)
    kw = dict(hidden_layer_sizes=(16, 8), activation="relu", max_iter=300, random_state=0)
    import warnings
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # ConvergenceWarning
        return {"mlp_reg": (MLPRegressor(**kw).fit(X, y), X),
                "mlp_clf": (MLPClassifier(**kw).fit(Xc, yc), Xc),
                "mlp_bin": (MLPClassifier(**kw).fit(Xb, yb), Xb)}


def _mlp_rows(X_fit, float_t, seed=7):
    """util.rows() plus NaN, +-inf, +-0, tiny and huge values in up to two
    columns of most rows."""
    rng = np.random.default_rng(seed)
    X = rows(X_fit, 2000, seed)
    sp = np.array([NAN, INF, -INF, 0.0, -0.0, 1e-30, -1e-40, 1e30, -1e30])
    for r in range(len(X)):
        for j in rng.choice(X.shape[1], size=rng.integers(0, 3), replace=False):
            X[r, j] = rng.choice(sp)
    X[:sp.size] = sp[:, None]
    return np.asarray(X, NP[float_t])


def _mlp_scale(m, X):
    """Magnitude of the terms summed into each output: |x| through |W|, |b|
    (float rounding error is bounded relative to it)."""
    a = np.abs(np.nan_to_num(X.astype(np.float64), nan=0.0, posinf=0.0, neginf=0.0))
    for W, b in zip(m.coefs_, m.intercepts_, strict=True):
        a = a @ np.abs(W) + np.abs(b)
    return a


def test_sklearn_mlp_refuses_nan():
    """Why the references below use sklearn's forward pass: predict refuses
    NaN and infinity."""
    from sklearn.neural_network import MLPRegressor

    m = MLPRegressor(hidden_layer_sizes=(4,), solver="lbfgs", random_state=0).fit(np.eye(6), np.arange(6.0))
    with pytest.raises(ValueError, match="NaN"):
        m.predict(np.full((1, 6), np.nan))
    with pytest.raises(ValueError, match="infinity"):
        m.predict(np.full((1, 6), np.inf))


@pytest.mark.parametrize("float_t", ["float", "double"])
def test_sklearn_mlp_relu(mlps, tmp_path, float_t):
    """A relu MLP given NaN returns NaN like sklearn's own forward pass
    (``_forward_pass_fast(X, check_input=False)``: np.maximum(x, 0) keeps
    NaN)."""
    models = {name: m for name, (m, _) in mlps.items()}
    fns = check_contract(models, tmp_path, float_t=float_t, X=_mlp_rows(mlps["mlp_reg"][1], float_t))
    for name, (m, X_fit) in mlps.items():
        X = _mlp_rows(X_fit, float_t)
        with np.errstate(all="ignore"):
            want = m._forward_pass_fast(X.astype(np.float64), check_input=False)
            got = fns[name](X)
        want = want.reshape(got.shape)
        if float_t == "double":
            match(got, want, TOL[float_t], X, f"{name} ({float_t})")
        else:  # float sums of large terms cancel: rounding is relative to the terms
            err = np.abs(got - want) <= 1e-5 * (1 + _mlp_scale(m, X).reshape(got.shape))
            match(np.where(err, want, got), want, 0.0, X, f"{name} ({float_t})")
        assert (np.isnan(got) == np.isnan(want)).all(), name
        assert np.isnan(got[np.isnan(X).any(axis=1)]).all(), name


# ---------------------------------------------------------------------------
# No floating-point trap on finite input (NaN input is outside the guarantee)
# ---------------------------------------------------------------------------

@pytest.mark.keras
@needs_keras
@pytest.mark.parametrize("float_t", ["float", "double"])
def test_no_fpe_on_finite_input(tmp_path, float_t):
    """Hosts trap FE_OVERFLOW|FE_INVALID|FE_DIVBYZERO: the NaN-propagating
    selects raise none of them on finite input (+-0, +-1e30, tiny,
    subnormal, the kinks).  NaN input may raise FE_INVALID (an ordered
    comparison with NaN signals, as before); it is outside the guarantee."""
    dtype = "float32" if float_t == "float" else "float64"
    act = {k: v for k, v in _act_models(dtype).items()
           if k[2:] in ("relu", "relu6", "leaky_relu", "celu", "elu", "selu", "hard_sigmoid", "hard_silu",
                        "hard_tanh", "gelu_tanh", "leaky_relu_a", "elu_a")}
    i = keras.Input((WIDTH,), dtype=dtype)
    L = keras.layers
    maxmin = keras.Model(i, L.Maximum(dtype=dtype)([i, L.Minimum(dtype=dtype)([keras.ops.negative(i), i]),
                                                     keras.ops.absolute(i)]), name="m_maxmin")
    models = {**act, **_layer_models(dtype), "m_maxmin": maxmin, **_dense_models(dtype)}
    so = scikinc.compile(models, tmp_path / f"fpe_{float_t}.so", float_t=float_t)
    finite = [v for v in SPECIAL["float"] if np.isfinite(v) and abs(v) <= 1e30]
    code = textwrap.dedent(f"""
        import ctypes, numpy as np, scikinc
        fs = [scikinc.load({str(so)!r}, n) for n in {list(models)!r}]
        v = np.array({finite!r}, dtype=np.{np.dtype(NP[float_t]).name})
        xs = [[np.ascontiguousarray(np.resize(np.roll(v, k), f.n_inputs)) for k in range(v.size)] for f in fs]
        libm = ctypes.CDLL("libm.so.6")
        libm.feenableexcept(0x08 | 0x01 | 0x04)  # FE_OVERFLOW | FE_INVALID | FE_DIVBYZERO
        for f, rows in zip(fs, xs):
            for x in rows:
                f(x)
        print("ok")
    """)
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert res.returncode == 0 and "ok" in res.stdout, res.stderr[-2000:]
