"""The row-blocked batch entry point (``name_batch``): R rows share each dense
weight load, yet every row is bitwise the single call's result, for every
row count (0, 1, R-1, R, R+1, thousands), FLOAT_T, build (ISA clones forced
one by one, -march=native, reproducible) and model family (Keras residual
networks, sklearn MLPs, pipelines mixing per-row preprocessing with dense
layers, generative models with a noise input, trees next to them in one .so).
The outputs are also checked against the library that fitted the model."""
import os

import numpy as np
import pytest
from sklearn.compose import ColumnTransformer, TransformedTargetRegressor
from sklearn.ensemble import GradientBoostingRegressor
from sklearn.neural_network import MLPClassifier, MLPRegressor
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import KBinsDiscretizer, QuantileTransformer, StandardScaler
from util import DTYPES, check_contract, cpu_flags, rows, same_bits

import scikinc
from scikinc.render import BATCH_ROWS, BATCH_STACK_BYTES, batch_rows

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


def counts(float_t, n_big=1003):
    R = BATCH_ROWS[float_t]
    return [0, 1, R - 1, R, R + 1, 2 * R + 1, n_big]


def check_batch(f, X, *, rnd=None, n_big=1003):
    """f(X[:n]) (the batch entry point) == single calls, bitwise, for every
    row count of interest; returns the batch output of all of X."""
    X = np.ascontiguousarray(X, dtype=f.dtype)
    if rnd is not None:
        rnd = np.ascontiguousarray(rnd, dtype=f.dtype)
    single = np.stack([f(x) if rnd is None else f(x, r) for x, r in zip(X, X if rnd is None else rnd,
                                                                      strict=True)])
    for n in counts(f.float_t, n_big):
        got = f(X[:n]) if rnd is None else f(X[:n], rnd[:n])
        assert got.shape == (n, f.n_outputs)
        assert same_bits(got, single[:n]), f"{f.symbol}: batch of {n} rows differs from single calls"
    # an offset start (rows not aligned to a block of the whole array)
    got = f(X[3:]) if rnd is None else f(X[3:], rnd[3:])
    assert same_bits(got, single[3:]), f"{f.symbol}: batch from row 3 differs from single calls"
    return f(X) if rnd is None else f(X, rnd)


def close(got, want, tol):
    got, want = np.asarray(got, np.float64), np.asarray(want, np.float64).reshape(np.shape(got))
    bad = ~(np.abs(got - want) <= tol * (1 + np.abs(want)))
    assert not bad.any(), f"{bad.sum()} mismatches, first at {np.argwhere(bad)[0]}"


# ---------------------------------------------------------------------------
# sklearn MLPs and mixed pipelines
# ---------------------------------------------------------------------------

@pytest.fixture(scope="module")
def sk_models():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(600, 9))
    y = X[:, 0] - X[:, 1] ** 2 + np.sin(X[:, 2])
    mlp = MLPRegressor(hidden_layer_sizes=(70, 1, 33), max_iter=200, random_state=0).fit(X, y)
    clf = MLPClassifier(hidden_layer_sizes=(65,), max_iter=200, random_state=0).fit(X, np.digitize(y, [-1, 0, 1]))
    ct = ColumnTransformer([("q", QuantileTransformer(n_quantiles=50), [0, 1, 2]),
                            ("kb", KBinsDiscretizer(n_bins=4, encode="onehot-dense"), [3, 4]),
                            ("sc", StandardScaler(), [5, 6, 7, 8])])
    pipe = Pipeline([("ct", ct), ("mlp", MLPRegressor(hidden_layer_sizes=(40, 129), max_iter=200,
                                                      random_state=0))]).fit(X, y)
    tt = TransformedTargetRegressor(
        regressor=Pipeline([("sc", StandardScaler()), ("mlp", MLPRegressor(hidden_layer_sizes=(17,), max_iter=200,
                                                                           random_state=0))]),
        transformer=QuantileTransformer(n_quantiles=40)).fit(X, y)
    gbr = GradientBoostingRegressor(n_estimators=20, max_depth=3, random_state=0).fit(X, y)
    models = {"mlp": mlp, "clf": clf, "pipe": pipe, "tt": tt, "gbr": gbr}
    return models, X


@pytest.mark.parametrize("float_t", ["float", "double", "long double"])
def test_sklearn_batch_bitwise_and_vs_sklearn(tmp_path, sk_models, float_t):
    models, X = sk_models
    R = rows(X, 1500)
    fns = check_contract(models, tmp_path, float_t=float_t, X=R)
    tol = 2e-4 if float_t == "float" else 1e-9
    Rt = np.asarray(R, dtype=DTYPES[float_t]).astype(np.float64)
    for name, f in fns.items():
        got = check_batch(f, R)
        m = models[name]
        if name == "clf":
            close(got, m.predict_proba(Rt), tol)
        else:
            close(got[:, 0], m.predict(Rt), tol if name != "tt" else 10 * tol)


def test_batch_rows_bounded_stack():
    """R shrinks until R rows of every buffer fit the stack budget; 0 (the plain
    loop over single calls) when two rows do not fit or nothing is blocked."""
    assert batch_rows(True, [128, 128], "float") == BATCH_ROWS["float"]
    assert batch_rows(False, [128, 128], "float") == 0
    wide = BATCH_STACK_BYTES // 4 // 3  # floats: three rows fit, not six
    assert batch_rows(True, [wide], "float") == 3
    assert batch_rows(True, [BATCH_STACK_BYTES // 4], "float") == 0
    for ft in BATCH_ROWS:
        for sizes in ([7], [3000, 129], [900] * 5):
            R = batch_rows(True, sizes, ft)
            nbytes = {"float": 4, "double": 8, "long double": 16}[ft]
            assert R == 0 or R * sum(sizes) * nbytes <= BATCH_STACK_BYTES


def test_wide_buffers_fewer_rows(tmp_path):
    """A 3000-wide hidden layer: fewer rows per block, still bitwise, and the
    block's buffers stay within the stack budget."""
    rng = np.random.default_rng(3)
    X = rng.normal(size=(300, 5))
    m = MLPRegressor(hidden_layer_sizes=(3000,), max_iter=5, random_state=0).fit(X, X[:, 0])
    src = scikinc.convert({"w": m})
    R = batch_rows(True, [3000], "float")
    assert 1 < R < BATCH_ROWS["float"]
    assert f"[{R} * 3000]" in src
    f = check_contract({"w": m}, tmp_path, X=rows(X, 200))["w"]
    R_ = rows(X, 200)
    got = check_batch(f, R_, n_big=200)
    close(got[:, 0], m.predict(np.asarray(R_, np.float32).astype(np.float64)), 2e-4)


# ---------------------------------------------------------------------------
# builds: every ISA clone forced, no clones, -march=native, reproducible
# ---------------------------------------------------------------------------

def _levels():
    levels = {"clones": {}, "no_clones": {"flags": ["-O3", "-DSKC_NO_CLONES"]},
              "v2": {"flags": ["-O3", '-DSKC_TARGET="arch=x86-64-v2"']},
              "native": {"march_native": True}, "reproducible": {"reproducible": True},
              "reproducible_v3": {"reproducible": True, "flags": ["-O3", '-DSKC_TARGET="arch=x86-64-v3"']}}
    flags = cpu_flags()
    if {"avx2", "fma", "bmi2"} <= flags:
        levels["v3"] = {"flags": ["-O3", '-DSKC_TARGET="arch=x86-64-v3"']}
    if {"avx512f", "avx512bw", "avx512vl", "avx512dq"} <= flags:
        levels["v4"] = {"flags": ["-O3", '-DSKC_TARGET="arch=x86-64-v4"']}
    return levels


@pytest.mark.parametrize("float_t", ["float", "double"])
def test_builds_batch_bitwise(tmp_path, sk_models, float_t):
    models, X = sk_models
    sub = {k: models[k] for k in ("mlp", "pipe", "tt")}
    src = scikinc.convert(sub, float_t=float_t)
    R = rows(X, 1100)
    outs = {}
    for lvl, kw in _levels().items():
        so = scikinc.compile(src, tmp_path / f"{lvl}.so", **kw)
        for name in sub:
            outs[lvl, name] = check_batch(scikinc.load(so, name), R, n_big=1100)
    for name in sub:  # reproducible mode: the same bits in every clone
        assert same_bits(outs["reproducible", name], outs["reproducible_v3", name]), name


# ---------------------------------------------------------------------------
# Keras residual networks and a generative model with a noise input
# ---------------------------------------------------------------------------

def _resnet(keras, n_in, width, blocks, n_out, seed):
    keras.utils.set_random_seed(seed)
    L = keras.layers
    i = keras.Input((n_in,))
    x = L.LeakyReLU(0.1)(L.Dense(width)(i))
    for _ in range(blocks):
        x = L.Add()([x, L.LeakyReLU(0.1)(L.Dense(width)(x))])
    return keras.Model(i, L.Dense(n_out)(x))


@pytest.mark.keras
@pytest.mark.parametrize("float_t", ["float", "double", "long double"])
def test_keras_residual_batch(tmp_path, float_t):
    (tmp_path / "one").mkdir()
    keras = pytest.importorskip("keras")
    m = _resnet(keras, 13, 70, 3, 5, 0)     # 70 = a 64 block + a 6 tail
    m1 = _resnet(keras, 1, 65, 1, 1, 1)     # one input, width-1 output, 1-wide tail
    X = np.random.default_rng(0).normal(size=(1200, 13)).astype(np.float32) * 3
    X1 = X[:, :1].copy()
    fns = check_contract({"res": m}, tmp_path, float_t=float_t, X=X)
    fns.update(check_contract({"res1": m1}, tmp_path / "one", float_t=float_t, X=X1))
    tol = 1e-4 if float_t == "float" else 1e-5  # Keras computes in float32
    got = check_batch(fns["res"], X)
    close(got, np.asarray(m(X, training=False)), tol)
    got = check_batch(fns["res1"], X1)
    close(got, np.asarray(m1(X1, training=False)), tol)


@pytest.mark.keras
def test_generative_batch(tmp_path):
    keras = pytest.importorskip("keras")
    rng = np.random.default_rng(2)
    C = rng.normal(size=(500, 4))
    pre = StandardScaler().fit(C)
    post = QuantileTransformer(n_quantiles=60).fit(rng.normal(size=(500, 3)) ** 3)
    gen = _resnet(keras, 4 + 6, 66, 2, 3, 2)
    g = scikinc.Generative(gen, preprocessing=pre, postprocessing=post, n_random=6)
    src = scikinc.convert({"g": g})
    for lvl, kw in _levels().items():
        so = scikinc.compile(src, tmp_path / f"g_{lvl}.so", **kw)
        f = scikinc.load(so, "g")
        Xc = rows(C, 1100).astype(np.float32)
        rnd = rng.normal(size=(len(Xc), 6)).astype(np.float32)
        got = check_batch(f, Xc, rnd=rnd, n_big=1100)
        if lvl == "clones":
            z = np.concatenate([pre.transform(Xc.astype(np.float64)), rnd], axis=1).astype(np.float32)
            want = post.inverse_transform(np.asarray(gen(z, training=False), np.float64))
            close(got, want, 1e-3)
