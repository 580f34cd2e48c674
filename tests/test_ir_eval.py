"""The fast tier: every converter family's IR graph, run by the numpy
evaluator (scikinc.ir.evaluate) without generating or compiling C, against
the real library on >= 1000 rows including out-of-range ones.

Each model's graphs are built by ``build_entries`` with ``optimize=False``
and ``optimize=True`` (tree models: before any lowering, ``optimize=False``).
Float64 tolerances are 1e-12 relative (1e-9 where the normal CDF/PPF enters);
tree leaves, raw scores, class outputs and forest probabilities are compared
bit for bit.  Run this tier alone with ``python -m pytest -m ir -q``.
"""
from __future__ import annotations

import contextlib
import importlib
import inspect
import pkgutil
import warnings

import numpy as np
import pytest
from sklearn.compose import ColumnTransformer, TransformedTargetRegressor
from sklearn.decomposition import PCA, FastICA, TruncatedSVD
from sklearn.ensemble import (
    ExtraTreesClassifier,
    ExtraTreesRegressor,
    GradientBoostingClassifier,
    GradientBoostingRegressor,
    HistGradientBoostingClassifier,
    HistGradientBoostingRegressor,
    RandomForestClassifier,
    RandomForestRegressor,
)
from sklearn.impute import MissingIndicator, SimpleImputer
from sklearn.linear_model import (
    LinearRegression,
    LogisticRegression,
    PoissonRegressor,
    Ridge,
    SGDClassifier,
    TweedieRegressor,
)
from sklearn.neural_network import MLPClassifier, MLPRegressor
from sklearn.pipeline import FeatureUnion, Pipeline, make_pipeline
from sklearn.preprocessing import (
    Binarizer,
    FunctionTransformer,
    KBinsDiscretizer,
    MaxAbsScaler,
    MinMaxScaler,
    Normalizer,
    OneHotEncoder,
    OrdinalEncoder,
    PolynomialFeatures,
    PowerTransformer,
    QuantileTransformer,
    RobustScaler,
    StandardScaler,
)
from sklearn.svm import LinearSVC
from sklearn.tree import DecisionTreeClassifier, DecisionTreeRegressor
from threadpoolctl import threadpool_limits
from util import rows

import scikinc
from scikinc import reference
from scikinc.core import build_entries
from scikinc.errors import InputError
from scikinc.ir import Activation, Binary, Concat, Constant, Dense, Gather, Graph, Op, Softmax
from scikinc.ir.evaluate import EVALUATORS, evaluate

pytestmark = pytest.mark.ir

RTOL = 1e-12
RTOL_NORMAL = 1e-9


# ---------------------------------------------------------------------------
# helpers
# ---------------------------------------------------------------------------


def _data(n=500, k=5, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, k)) * np.array([1.0, 10.0, 0.1, 3.0, 100.0, 0.5, 2.0][:k]) + np.arange(k)
    score = X[:, 0] + 0.3 * X[:, 1] / 10 - X[:, 2] * 5 + 0.01 * X[:, min(4, k - 1)] / 100
    return X, score - np.median(score)


def _with_nan(R, frac=0.05, seed=1):
    R = R.copy()
    R[np.random.default_rng(seed).random(R.shape) < frac] = np.nan
    return R


def assert_close(y, ref, rtol=RTOL, what=""):
    """Same shape, NaN and infinities at the same places, finite values within
    ``rtol`` of the reference (relative to the value plus the column's median
    magnitude, so that a result cancelling to ~0 is held to its inputs' scale)."""
    y, ref = np.asarray(y, dtype=np.float64), np.asarray(ref, dtype=np.float64)
    assert y.shape == ref.shape, f"{what}: shape {y.shape} != {ref.shape}"
    assert np.array_equal(np.isnan(y), np.isnan(ref)), (
        f"{what}: NaN at {np.argwhere(np.isnan(y) != np.isnan(ref))[:5].tolist()} (row, column) differs")
    inf = np.isinf(ref)
    assert np.array_equal(y[inf], ref[inf]) and not np.isinf(y[~inf]).any(), f"{what}: infinities differ"
    fin = np.isfinite(ref)
    mag = np.where(fin, np.abs(ref), np.nan)
    scale = np.nan_to_num(np.nanmedian(mag, axis=0)) if mag.size else 0
    bound = rtol * (np.abs(ref) + scale)
    with np.errstate(invalid="ignore"):
        err = np.where(fin, np.abs(y - ref), 0)
    bad = fin & ~(err <= bound)
    if bad.any():
        i = tuple(np.argwhere(bad)[0])
        worst = np.max(err / (np.abs(ref) + scale + 1e-300), where=fin, initial=0)
        raise AssertionError(f"{what}: {bad.sum()} values off, e.g. {list(i)}: {y[i]!r} vs {ref[i]!r} "
                             f"(max error {worst:.3g} relative to |value| + column median)")


def assert_exact(y, ref, what=""):
    y, ref = np.asarray(y, dtype=np.float64), np.asarray(ref, dtype=np.float64)
    assert y.shape == ref.shape, f"{what}: shape {y.shape} != {ref.shape}"
    diff = ~((y == ref) | (np.isnan(y) & np.isnan(ref)))
    assert not diff.any(), (f"{what}: {diff.sum()} values differ, e.g. {y[diff][:3].tolist()} vs "
                            f"{ref[diff][:3].tolist()}")


@contextlib.contextmanager
def _unlowered():
    """Build graphs with their TreeEnsemble ops as the converters made them:
    the tree-lowering pass (scikinc.passes.lower_trees, when there is one)
    is skipped, so that the evaluator sees the ensemble, not a strategy op."""
    import scikinc.passes as passes

    if not hasattr(passes, "lower_trees"):
        yield
        return
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(passes, "lower_trees", lambda g: None)
        yield


def graphs(model, *, options=None, optimize=(False, True), float_t="double"):
    """{(symbol, optimize): Graph} for the model converted as symbol ``m``
    (tree ensembles before lowering)."""
    out = {}
    for opt in optimize:
        with warnings.catch_warnings(), _unlowered():
            warnings.simplefilter("ignore")
            for e in build_entries({"m": model}, float_t=float_t, options=options, optimize=opt):
                out[e.name, opt] = e.graph
    return out


def check(model, X, ref=None, *, options=None, rtol=RTOL, exact=False, inverse=None, optimize=(False, True),
          rnd=None):
    """Evaluate the forward graph (and ``inverse=(Y, ref_inverse)``) with both
    optimisation settings against the reference (default: scikinc.reference,
    i.e. what the library's own predict/transform returns)."""
    if ref is None:
        ref = _reference(model, X, rnd, options)
    gs = graphs(model, options=options, optimize=optimize)
    for opt in optimize:
        y = evaluate(gs["m", opt], X, rnd=rnd)
        what = f"{type(model).__name__} optimize={opt}"
        (assert_exact(y, ref, what) if exact else assert_close(y, ref, rtol, what))
        if inverse is not None:
            Y, ref_inv = inverse
            assert ("m_inverse", opt) in gs, f"{what}: no inverse graph"
            assert_close(evaluate(gs["m_inverse", opt], Y), ref_inv, rtol, what + " inverse")
    return gs


_REFS: dict = {}


def _reference(model, X, rnd, options):
    """scikinc.reference.predict, computed once per (model, rows, output):
    module fixtures share models between tests (one OpenMP thread: sklearn's
    HistGradientBoosting predicts slowly on a loaded 2-core machine otherwise)."""
    key = (id(model), id(X), id(rnd), (options or {}).get("output"))
    if key not in _REFS:
        with warnings.catch_warnings(), threadpool_limits(1):
            warnings.simplefilter("ignore")
            _REFS[key] = (model, X, rnd, reference.predict(model, X, rnd=rnd, options=options))
    return _REFS[key][-1]


def fitted(model, X, y=None):
    with warnings.catch_warnings(), threadpool_limits(1):
        warnings.simplefilter("ignore")
        return model.fit(X) if y is None else model.fit(X, y)


# ---------------------------------------------------------------------------
# the evaluator itself
# ---------------------------------------------------------------------------


def _ir_op_classes():
    import scikinc.ir as ir

    found = []
    for info in pkgutil.iter_modules(ir.__path__):
        if info.name == "evaluate":
            continue
        mod = importlib.import_module(f"scikinc.ir.{info.name}")
        for obj in vars(mod).values():
            if inspect.isclass(obj) and issubclass(obj, Op) and obj is not Op and obj.__module__ == mod.__name__:
                found.append(obj)
    return found


def _lowered_tree_op(cls) -> bool:
    """The strategy ops a TreeEnsemble is lowered to (passes.lower_trees):
    the tests evaluate the ensemble before lowering instead."""
    from scikinc.ir import trees

    strategy = getattr(trees, "TreeStrategy", None)
    return (strategy is not None and issubclass(cls, strategy)) or \
        "ensemble" in inspect.signature(cls.__init__).parameters


def test_every_ir_op_class_has_an_evaluator():
    """Every op class of src/scikinc/ir/*.py has an evaluator (but the
    lowered tree-strategy ops, see _lowered_tree_op)."""
    classes = _ir_op_classes()
    assert len(classes) >= 25
    missing = [c.__qualname__ for c in classes
               if not any(k in EVALUATORS for k in c.__mro__) and not _lowered_tree_op(c)]
    assert not missing, f"no evaluator for {missing}"


def test_hand_built_graph_against_numpy():
    """Ops no converter emits alone (Constant, Binary max/min/avg/sub/mul,
    multi-input Concat, Gather duplication) on a hand-built graph."""
    rng = np.random.default_rng(0)
    X = rng.normal(size=(1200, 4)) * 10
    X[5, 1] = np.nan
    g = Graph(4)
    a = g.add(Gather([0, 1, 1, 3]), g.input)
    b = g.add(Gather([3, 2, 0, 0]), g.input)
    c = g.add(Constant([1.5, -2.0, 0.0, 4.0]))
    outs = [g.add(Binary(k), a, b, c) for k in ("add", "mul", "max", "min", "avg")] + [g.add(Binary("sub"), a, b)]
    g.output = g.add(Concat(), *outs, c)
    y = evaluate(g, X)
    A, B, C = X[:, [0, 1, 1, 3]], X[:, [3, 2, 0, 0]], np.array([1.5, -2.0, 0.0, 4.0])
    ref = np.hstack([A + B + C, A * B * C, np.maximum(np.maximum(A, B), C), np.minimum(np.minimum(A, B), C),
                     (A + B + C) / 3, A - B, np.tile(C, (len(X), 1))])
    assert_exact(y, ref, "hand-built graph")
    assert np.isnan(y[5, [1, 2, 5, 9, 13, 17, 21]]).all()  # NaN propagates through every kind, max/min too
    # one row in, one row out
    assert_exact(evaluate(g, X[7]), ref[7], "single row")


def test_dense_sums_left_to_right_like_the_template():
    """Dense adds b + x0 w0 + x1 w1 + ... in input order (no BLAS
    reassociation): on a cancelling sum the evaluator gives the sequential
    result exactly."""
    W = np.array([[1.0], [1e16], [1.0], [-1e16]])
    g = Graph(4)
    g.output = g.add(Dense(W, [0.0]), g.input)
    X = np.ones((1000, 4))
    y = evaluate(g, X)
    seq = ((0.0 + 1.0) + 1e16 + 1.0) - 1e16
    assert np.all(y == seq) and seq != 2.0


def test_float32_mode_matches_sklearn_rounded():
    """dtype=np.float32 mimics a float build: a StandardScaler (computed in
    double from the float input, rounded once) equals sklearn's double
    result rounded to float, and a float MLP is within float rounding."""
    X, s = _data()
    R = rows(X).astype(np.float32)
    sc = StandardScaler().fit(X)
    g = graphs(sc, float_t="float", optimize=(False,))["m", False]
    y = evaluate(g, R, dtype=np.float32)
    assert y.dtype == np.float32
    assert_exact(y, sc.transform(R.astype(np.float64)).astype(np.float32), "StandardScaler float")
    mlp = fitted(MLPRegressor(hidden_layer_sizes=(16,), max_iter=200, random_state=0), sc.transform(X), s)
    g = graphs(mlp, float_t="float", optimize=(True,))["m", True]
    R2 = sc.transform(X).astype(np.float32)
    assert_close(evaluate(g, R2, dtype=np.float32), mlp.predict(R2.astype(np.float64))[:, None], 1e-5,
                 "MLP float")


def test_long_double_mode_runs_in_long_double():
    X, _ = _data()
    sc = StandardScaler().fit(X)
    g = graphs(sc, float_t="long double", optimize=(False,))["m", False]
    R = rows(X)
    y = evaluate(g, R, dtype=np.longdouble)
    assert y.dtype == np.longdouble
    assert_close(y, sc.transform(R), 1e-15, "StandardScaler long double")


class _UnknownOp(Op):
    """A user op without an evaluator (real op, real graph)."""

    template = "ops/copy.c.j2"

    def out_width(self, w):
        return w[0]


def test_bad_inputs_give_clear_errors():
    X, _ = _data()
    g = graphs(StandardScaler().fit(X), optimize=(False,))["m", False]
    with pytest.raises(ValueError, match=r"in must have shape \(5,\) or \(n_rows, 5\); got \(3, 4\)"):
        evaluate(g, np.zeros((3, 4)))
    with pytest.raises(ValueError, match="rnd given but the graph takes no 'rnd' input"):
        evaluate(g, X, rnd=np.zeros((len(X), 2)))
    with pytest.raises(ValueError, match="must be numeric"):
        evaluate(g, np.array([["a"] * 5]))
    with pytest.raises(ValueError, match="dtype must be np.float32, np.float64 or np.longdouble"):
        evaluate(g, X, dtype=np.int32)
    with pytest.raises(InputError, match="expected a scikinc.ir.Graph, got list"):
        evaluate([g], X)
    empty = Graph(3)
    with pytest.raises(ValueError, match="the graph has no output"):
        evaluate(empty, np.zeros((2, 3)))
    u = Graph(3)
    u.output = u.add(_UnknownOp(), u.input)
    with pytest.raises(NotImplementedError, match=r"no evaluator for IR op .*_UnknownOp; register one with "
                                                  r"@scikinc.ir.evaluate.evaluator\(_UnknownOp\)"):
        evaluate(u, np.zeros((2, 3)))
    gen = _generative()[0]
    gg = graphs(gen, optimize=(False,))["m", False]
    with pytest.raises(ValueError, match="takes a 3-wide input 'rnd': pass rnd="):
        evaluate(gg, np.zeros((4, 2)))
    with pytest.raises(ValueError, match="X has 4 rows but rnd has 5"):
        evaluate(gg, np.zeros((4, 2)), rnd=np.zeros((5, 3)))
    with pytest.raises(ValueError, match=r"rnd must have shape \(3,\) or \(n_rows, 3\) like X; got \(4, 2\)"):
        evaluate(gg, np.zeros((4, 2)), rnd=np.zeros((4, 2)))


# ---------------------------------------------------------------------------
# scalers
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("model", [
    StandardScaler(), StandardScaler(with_mean=False), StandardScaler(with_std=False),
    MinMaxScaler(), MinMaxScaler(feature_range=(-2, 3), clip=True), MaxAbsScaler(),
    RobustScaler(), RobustScaler(quantile_range=(10, 90), unit_variance=True, with_centering=False),
], ids=lambda m: repr(m).replace(" ", ""))
def test_scalers(model):
    X, _ = _data()
    X[:, 2] = 7.0  # a constant column: scale 1
    model = fitted(model, X)
    R = rows(X)
    Y = model.transform(R)
    check(model, R, Y, inverse=(Y, model.inverse_transform(Y)))


# ---------------------------------------------------------------------------
# preprocessing
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("dist,nq", [("uniform", 30), ("uniform", 1000), ("normal", 50), ("normal", 7)])
def test_quantile_transformer(dist, nq):
    X, _ = _data(seed=2)
    X[:, 3] = np.round(X[:, 3])  # repeated values: flat stretches of the quantile table
    qt = fitted(QuantileTransformer(n_quantiles=nq, output_distribution=dist, subsample=10 ** 6), X)
    R = _with_nan(np.vstack([rows(X), qt.quantiles_]))  # the knots themselves too
    Y = qt.transform(R)
    Yi = np.vstack([Y, np.linspace(0, 1, 50)[:, None] * np.ones(5)]) if dist == "uniform" else \
        np.vstack([Y, np.linspace(-6, 6, 50)[:, None] * np.ones(5)])
    rtol = RTOL_NORMAL if dist == "normal" else RTOL
    check(qt, R, Y, rtol=rtol, inverse=(Yi, qt.inverse_transform(Yi)))


@pytest.mark.parametrize("method,standardize", [("yeo-johnson", True), ("yeo-johnson", False),
                                                ("box-cox", True), ("box-cox", False)])
def test_power_transformer(method, standardize):
    X, _ = _data(seed=3)
    if method == "box-cox":
        X = np.abs(X) + 0.1
    pt = fitted(PowerTransformer(method=method, standardize=standardize), X)
    R = rows(X)
    if method == "box-cox":
        R = np.abs(R) + 1e-3
    Y = pt.transform(R)
    Yi = Y[np.all(np.isfinite(Y), axis=1)]
    check(pt, R, Y, rtol=1e-11, inverse=(Yi, pt.inverse_transform(Yi)))


@pytest.mark.parametrize("model", [PCA(3), PCA(4, whiten=True), TruncatedSVD(3, random_state=0),
                                   FastICA(3, random_state=0, whiten="unit-variance")],
                         ids=lambda m: repr(m).replace(" ", ""))
def test_decompositions(model):
    X, _ = _data(seed=4)
    model = fitted(model, X)
    R = rows(X)
    Y = model.transform(R)
    check(model, R, Y, inverse=(Y, model.inverse_transform(Y)))


@pytest.mark.parametrize("encode,strategy", [("ordinal", "uniform"), ("ordinal", "quantile"),
                                             ("onehot-dense", "kmeans"), ("onehot-dense", "uniform")])
def test_kbins(encode, strategy):
    X, _ = _data(seed=5)
    kb = fitted(KBinsDiscretizer(n_bins=5, encode=encode, strategy=strategy, subsample=None), X)
    R = np.vstack([rows(X), np.concatenate(kb.bin_edges_).reshape(-1, 1) * np.ones(5)])
    Y = kb.transform(R)
    check(kb, R, Y, exact=True)
    check(kb, R, Y, inverse=(Y, kb.inverse_transform(Y)))


def test_onehot_and_ordinal_encoders():
    rng = np.random.default_rng(6)
    X = np.c_[rng.integers(0, 4, 400), rng.choice([-1.5, 2.0, 10.0, np.nan], 400), rng.integers(0, 3, 400)]
    R = np.c_[rng.integers(-1, 6, 1500), rng.choice([-1.5, 2.0, 10.0, 3.0, np.nan], 1500), rng.integers(0, 4, 1500)]
    ign = fitted(OneHotEncoder(handle_unknown="ignore", sparse_output=False), X)
    check(ign, R, ign.transform(R), exact=True)
    known = X[rng.integers(0, len(X), 1200)]
    Y = ign.transform(known)
    check(ign, known, Y, inverse=(Y, ign.inverse_transform(Y)))
    for drop in ("first", "if_binary"):
        enc = fitted(OneHotEncoder(drop=drop, sparse_output=False), X)
        Y = enc.transform(known)
        check(enc, known, Y, exact=True)
        check(enc, known, Y, inverse=(Y, enc.inverse_transform(Y)))
    ordi = fitted(OrdinalEncoder(handle_unknown="use_encoded_value", unknown_value=-1,
                                 encoded_missing_value=-2), X)
    check(ordi, R, ordi.transform(R), exact=True)


@pytest.mark.parametrize("imputer", [
    SimpleImputer(), SimpleImputer(strategy="median", add_indicator=True),
    SimpleImputer(strategy="constant", fill_value=-7.5, add_indicator=True),
    SimpleImputer(missing_values=-1.0, strategy="most_frequent", add_indicator=True),
], ids=lambda m: repr(m).replace(" ", ""))
def test_simple_imputer(imputer):
    X, _ = _data(seed=7)
    X = np.round(X, 1)
    mv = imputer.missing_values
    X = np.where(np.random.default_rng(0).random(X.shape) < 0.1, mv, X)
    X[:, 4] = mv if imputer.strategy == "constant" else X[:, 4]  # all missing: kept (constant) or dropped
    imp = fitted(imputer, X)
    R = np.where(np.random.default_rng(1).random((1500, 5)) < 0.1, mv, rows(X, 1500))
    Y = imp.transform(R)
    inverse = (Y, imp.inverse_transform(Y)) if imputer.add_indicator and Y.shape[1] > 4 and \
        imp.statistics_.size == Y.shape[1] - imp.indicator_.features_.size else None
    check(imp, R, Y, exact=True, inverse=inverse)
    ind = fitted(MissingIndicator(missing_values=mv, features="all"), X)
    check(ind, R, ind.transform(R).astype(float), exact=True)


@pytest.mark.parametrize("model", [PolynomialFeatures(3), PolynomialFeatures(2, interaction_only=True,
                                                                             include_bias=False),
                                   PolynomialFeatures((2, 3))], ids=lambda m: repr(m).replace(" ", ""))
def test_polynomial_features(model):
    X, _ = _data(seed=8, k=4)
    model = fitted(model, X)
    R = rows(X)
    check(model, R, model.transform(R), exact=True)


@pytest.mark.parametrize("norm", ["l1", "l2", "max"])
def test_normalizer_and_binarizer(norm):
    X, _ = _data(seed=9)
    nz = fitted(Normalizer(norm=norm), X)
    R = rows(X)
    check(nz, R, nz.transform(R))
    bz = fitted(Binarizer(threshold=0.25), X)
    check(bz, R, bz.transform(R), exact=True)


def test_function_transformer():
    X, _ = _data(seed=10)
    R = rows(X)
    for f, fi in ((np.log1p, np.expm1), (np.sign, None), (np.arctan, np.tan), (np.cbrt, np.square),
                  (np.rint, np.negative), (np.sinh, np.arcsinh)):
        ft = fitted(FunctionTransformer(f, fi), X)
        Y = ft.transform(R)
        check(ft, R, Y, inverse=(Y, ft.inverse_transform(Y)))
    # a Python function with its C expression
    ft = fitted(FunctionTransformer(lambda x: np.hypot(x, 2.0) * np.exp(-np.abs(x) / 10) + np.fmod(x, 3) -
                                    np.power(np.abs(x) + 1, 0.25),
                                    lambda x: np.fmax(np.copysign(np.floor(x), -1.0), -4.5) + np.atan2(x, 3.0)), X)
    ft.func_inC = "hypot(x, 2.0) * exp(-fabs(x) / 10) + fmod(x, 3) - pow(fabs(x) + 1, 0.25)"
    ft.inverse_func_inC = "fmax(copysign(floor(x), -1), -4.5) + atan2(x, 3.0)"
    Y = ft.transform(R)
    check(ft, R, Y, inverse=(Y, ft.inverse_transform(Y)))


# ---------------------------------------------------------------------------
# compose
# ---------------------------------------------------------------------------


def test_pipeline_column_transformer_feature_union():
    X, s = _data(seed=11, k=6)
    X[:, 5] = np.round(np.abs(X[:, 5]) * 2)
    ct = ColumnTransformer([("std", StandardScaler(), [0, 1]), ("qt", QuantileTransformer(n_quantiles=40), [2]),
                            ("mm", MinMaxScaler(), [4, 3])], remainder="passthrough")
    fu = FeatureUnion([("pca", PCA(2)), ("id", "passthrough"), ("mx", MaxAbsScaler())],
                      transformer_weights={"pca": 2.0, "mx": 0.5})
    mlp = MLPRegressor(hidden_layer_sizes=(12, 6), max_iter=100, random_state=0)
    pipe = fitted(Pipeline([("ct", ct), ("fu", fu), ("mlp", mlp)]),
                  X, s)
    R = rows(X)
    check(pipe, R)
    # invertible composites: ColumnTransformer of invertible parts (permuted columns), nested Pipeline
    ct2 = fitted(ColumnTransformer([("a", StandardScaler(), [3, 0]), ("b", PowerTransformer(), [1, 2]),
                                    ("c", "passthrough", [5]), ("d", RobustScaler(), [4])]), X)
    Y = ct2.transform(R)
    check(ct2, R, Y, rtol=1e-11, inverse=(Y, reference._inverse(ct2, Y)))
    p2 = fitted(make_pipeline(StandardScaler(), PCA(6), MinMaxScaler()), X)
    Y = p2.transform(R)
    check(p2, R, Y, inverse=(Y, p2.inverse_transform(Y)))
    ttr = fitted(TransformedTargetRegressor(Ridge(1.0), transformer=StandardScaler()), X, s * 100 + 3)
    check(ttr, R)


# ---------------------------------------------------------------------------
# linear models and MLP
# ---------------------------------------------------------------------------


def _classes(score, k):
    return np.digitize(score, np.quantile(score, np.linspace(0, 1, k + 1)[1:-1]))


@pytest.fixture(scope="module")
def linear_classifiers():
    X, s = _data(seed=12)
    X = StandardScaler().fit_transform(X)
    return X, [fitted(LogisticRegression(max_iter=1000), X, s > 0),
               fitted(LogisticRegression(max_iter=1000), X, _classes(s, 3)),
               fitted(SGDClassifier(loss="log_loss", random_state=0), X, _classes(s, 4)),
               fitted(SGDClassifier(loss="modified_huber", random_state=0), X, _classes(s, 3)),
               fitted(SGDClassifier(loss="modified_huber", random_state=0), X, s > 0),
               fitted(LinearSVC(random_state=0), X, _classes(s, 3))]


@pytest.mark.parametrize("output", ["proba", "proba_full", "decision_function", "class"])
def test_linear_classifiers(linear_classifiers, output):
    X, models = linear_classifiers
    for m in models:
        if isinstance(m, LinearSVC) and output not in ("decision_function", "class"):
            continue
        R = rows(X)
        if isinstance(m, SGDClassifier) and m.loss == "log_loss" and output.startswith("proba"):
            # Far out, every one-vs-rest sigmoid underflows: sklearn's expit gives 0 (uniform
            # probabilities) where the IR's sigmoid keeps a subnormal (one class gets 1).
            R = rows(X, far=3.0)
        check(m, R, options={"output": output}, exact=output == "class")


def test_linear_regressors():
    X, s = _data(seed=13)
    X = StandardScaler().fit_transform(X)
    R = rows(X)
    check(fitted(LinearRegression(), X, np.c_[s, -2 * s + X[:, 3]]), R)
    check(fitted(Ridge(0.5), X, s), R)
    Rp = rows(X, far=0.5)  # exp link: stay where exp does not overflow
    y = np.exp(s / 4)
    check(fitted(PoissonRegressor(max_iter=300), X, y), Rp)
    check(fitted(TweedieRegressor(power=1.5, link="log", max_iter=300), X, y), Rp)
    check(fitted(TweedieRegressor(power=0, link="identity"), X, s), R)


@pytest.mark.parametrize("activation", ["relu", "tanh", "logistic", "identity"])
def test_mlp(activation):
    X, s = _data(seed=14)
    X = StandardScaler().fit_transform(X)
    R = rows(X)
    reg = fitted(MLPRegressor(hidden_layer_sizes=(16, 8), activation=activation, max_iter=60, random_state=0),
                 X, np.c_[s, s ** 2])
    check(reg, R)
    for y in (s > 0, _classes(s, 4), np.c_[s > 0, s > 1, X[:, 1] > 0]):
        clf = fitted(MLPClassifier(hidden_layer_sizes=(10,), activation=activation, max_iter=60, random_state=0), X, y)
        outputs = ["proba", "decision_function"] + (["proba_full", "class"] if np.ndim(y) == 1 else [])
        for out in outputs:
            ref = None
            if out == "decision_function":  # the pre-activation output: sklearn's own forward pass
                ref = _mlp_logits(clf, R)
            check(clf, R, ref, options={"output": out}, exact=out == "class")


def _mlp_logits(clf, X):
    """The last layer before the output activation, with sklearn's own
    activation functions and layer products."""
    from sklearn.neural_network._base import ACTIVATIONS

    a = X
    for i, (W, b) in enumerate(zip(clf.coefs_, clf.intercepts_, strict=True)):
        a = a @ W + b
        if i < len(clf.coefs_) - 1:
            ACTIVATIONS[clf.activation](a)
    return a


# ---------------------------------------------------------------------------
# trees: leaves, raw scores, classes and forest probabilities bit for bit
# ---------------------------------------------------------------------------


def _tree_rows(X, nan=True):
    R = rows(X)
    # exact thresholds and their float neighbours are in rows(): the fitted sample
    return _with_nan(R, 0.05, seed=2) if nan else R


CODEGENS = ["ifelse", "table", "branchfree", "bitvector"]


@pytest.fixture(scope="module")
def gb_models():
    X, s = _data(seed=15)
    return X, [fitted(GradientBoostingClassifier(n_estimators=15, max_depth=3, random_state=0), X, s > 0),
               fitted(GradientBoostingClassifier(n_estimators=8, max_depth=3, random_state=0), X, _classes(s, 3)),
               fitted(GradientBoostingClassifier(n_estimators=10, max_depth=2, loss="exponential", random_state=0),
                      X, s > 0),
               fitted(GradientBoostingClassifier(n_estimators=6, init="zero", random_state=0), X, _classes(s, 3))], [
        fitted(GradientBoostingRegressor(n_estimators=10, loss=loss, random_state=0), X, s)
        for loss in ("squared_error", "absolute_error", "huber", "quantile")]


@pytest.mark.parametrize("codegen", CODEGENS)
def test_gradient_boosting(gb_models, codegen):
    X, clfs, regs = gb_models
    R = rows(X)  # (GradientBoosting refuses NaN)
    cg = {"tree_codegen": codegen}
    for m in clfs + regs:
        check(m, R, m.apply(R).reshape(len(R), -1), options={**cg, "output": "leaves"}, exact=True,
              optimize=(False,))
    for m in clfs:
        check(m, R, options={**cg, "output": "decision_function"}, exact=True, optimize=(False,))
        check(m, R, options={**cg, "output": "class"}, exact=True, optimize=(False,))
        check(m, R, options={**cg, "output": "proba_full"}, optimize=(False,))
        check(m, R, options=cg, optimize=(False,))
    for m in regs:
        check(m, R, options=cg, exact=True, optimize=(False,))


@pytest.fixture(scope="module")
def forests():
    X, s = _data(seed=16)
    Xn = _with_nan(X, 0.05, seed=3)  # trained with missing values: NaN goes left at some nodes
    clfs = [fitted(RandomForestClassifier(n_estimators=8, max_depth=6, random_state=0), Xn, _classes(s, 3)),
            fitted(RandomForestClassifier(n_estimators=5, max_leaf_nodes=40, random_state=0), Xn, s > 0),
            fitted(ExtraTreesClassifier(n_estimators=5, max_depth=5, random_state=0), X, _classes(s, 4)),
            fitted(DecisionTreeClassifier(max_depth=7, random_state=0), Xn, _classes(s, 3))]
    regs = [fitted(RandomForestRegressor(n_estimators=6, max_depth=6, random_state=0), Xn, s),
            fitted(ExtraTreesRegressor(n_estimators=4, max_depth=5, random_state=0), X, np.c_[s, X[:, 1]]),
            fitted(DecisionTreeRegressor(max_depth=8, random_state=0), Xn, s)]
    return X, clfs, regs


@pytest.mark.parametrize("codegen", CODEGENS)
def test_forests_and_single_trees(forests, codegen):
    X, clfs, regs = forests
    Rn = _with_nan(rows(X), 0.05, seed=2)
    cg = {"tree_codegen": codegen}
    for m in clfs + regs:
        R = Rn if m.__sklearn_tags__().input_tags.allow_nan else rows(X)
        leaves = m.apply(R).reshape(len(R), -1)
        check(m, R, leaves, options={**cg, "output": "leaves"}, exact=True, optimize=(False,))
        check(m, R, options=cg, exact=True, optimize=(False,))  # probabilities too: same sums, same divisor
        if m in clfs:
            check(m, R, options={**cg, "output": "class"}, exact=True, optimize=(False,))
            check(m, R, options={**cg, "output": "proba_full"}, exact=True, optimize=(False,))


@pytest.fixture(scope="module")
def hgb_models():
    X, s = _data(seed=17, k=6)
    rng = np.random.default_rng(17)
    X[:, 3] = rng.integers(0, 9, len(X))
    X[:, 5] = rng.choice([-3.0, 0.5, 2.0, 7.0], len(X))
    Xn = _with_nan(X, 0.05, seed=17)
    R = _with_nan(rows(X), 0.05, seed=18)
    R[:, 3] = rng.choice([0, 1, 3, 8, 9, 11, -1, 2.5, np.nan], len(R))  # unknown categories too
    R[:, 5] = rng.choice([-3.0, 0.5, 2.0, 7.0, 1.0, np.nan], len(R))
    cat = dict(categorical_features=[3, 5], random_state=0)
    clfs = [fitted(HistGradientBoostingClassifier(max_iter=10, **cat), Xn, s > 0),
            fitted(HistGradientBoostingClassifier(max_iter=6, max_leaf_nodes=12, **cat), Xn, _classes(s, 3))]
    regs = [fitted(HistGradientBoostingRegressor(max_iter=12, **cat), Xn, s),
            fitted(HistGradientBoostingRegressor(max_iter=8, loss="poisson", random_state=0), Xn, np.exp(s / 4))]
    return R, clfs, regs


@pytest.mark.parametrize("codegen", ["ifelse", "table", "bitvector"])
def test_hist_gradient_boosting_nan_and_categories(hgb_models, codegen):
    R, clfs, regs = hgb_models
    cg = {"tree_codegen": codegen}
    for m in clfs + regs:
        with threadpool_limits(1):
            raw_ref = m._raw_predict(R)
        check(m, R, raw_ref, options={**cg, "output": "decision_function"}, exact=True,
              optimize=(False,))
        leaves = evaluate(graphs(m, options={**cg, "output": "leaves"}, optimize=(False,))["m", False], R)
        ids = leaves.astype(np.int64)
        # leaf ids whose values sum, in sklearn's order, to sklearn's raw score bit for bit
        preds = [p for it in m._predictors for p in it]
        assert all(p.nodes["is_leaf"][ids[:, k]].all() for k, p in enumerate(preds))
        K = m.n_trees_per_iteration_
        raw = np.tile(np.asarray(m._baseline_prediction, np.float64).reshape(1, -1), (len(R), 1))
        for k, p in enumerate(preds):
            raw[:, k % K] += p.nodes["value"][ids[:, k]]
        assert_exact(raw, raw_ref, f"{type(m).__name__} leaves")
    for m in clfs:
        check(m, R, options={**cg, "output": "class"}, exact=True, optimize=(False,))
        check(m, R, options=cg, optimize=(False,))
        check(m, R, options={**cg, "output": "proba_full"}, optimize=(False,))
    for m in regs:
        check(m, R, options=cg, optimize=(False,))


# ---------------------------------------------------------------------------
# deploy wrappers
# ---------------------------------------------------------------------------


def _generative():
    rng = np.random.default_rng(18)
    C = rng.normal(size=(400, 2)) * [1.0, 5.0]
    Z = rng.normal(size=(400, 3))
    T = np.c_[C[:, 0] + Z[:, 0], np.exp(C[:, 1] / 5 + Z[:, 1] / 3), Z[:, 2] * 2]
    pre = StandardScaler().fit(C)
    post = QuantileTransformer(n_quantiles=60, output_distribution="normal").fit(T)
    gen = fitted(MLPRegressor(hidden_layer_sizes=(16,), max_iter=100, random_state=0), np.c_[pre.transform(C), Z],
                 post.transform(T))
    return scikinc.Generative(gen, preprocessing=pre, postprocessing=post, n_random=3), C


@pytest.mark.parametrize("position", ["after", "before"])
def test_generative(position):
    g, C = _generative()
    g.noise_position = position
    if position == "before":  # a generator that reads its input as concat(rnd, pre(in))
        g.generator = fitted(MLPRegressor(hidden_layer_sizes=(8,), max_iter=200, random_state=0),
                             np.random.default_rng(0).normal(size=(400, 5)),
                             np.random.default_rng(1).normal(size=(400, 3)))
    R = rows(C)
    rnd = np.random.default_rng(19).normal(size=(len(R), 3))
    check(g, R, rtol=RTOL_NORMAL, rnd=rnd)


@pytest.mark.parametrize("activation", [None, "sigmoid", "softmax"])
def test_classifier_wrapper(activation):
    X, s = _data(seed=20)
    model = fitted(MLPRegressor(hidden_layer_sizes=(8,), max_iter=100, random_state=0),
                   StandardScaler().fit_transform(X),
                   np.c_[s, -s, s ** 2 / 10])
    c = scikinc.Classifier(model, preprocessing=StandardScaler().fit(X), activation=activation)
    check(c, rows(X, far=2.0))


# ---------------------------------------------------------------------------
# Keras (float64 models: Keras computes in double, the IR is held to 1e-12)
# ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def keras64():
    keras = pytest.importorskip("keras")
    old, oldx = keras.config.dtype_policy(), keras.config.floatx()
    keras.config.set_floatx("float64")  # inputs, weights and computations in double
    keras.config.set_dtype_policy("float64")
    keras.utils.set_random_seed(0)
    yield keras
    keras.config.set_dtype_policy(old)
    keras.config.set_floatx(oldx)


def _keras_ref(model, X):
    return np.asarray(model(X.astype(np.float64)), dtype=np.float64).reshape(len(X), -1)


@pytest.mark.keras
def test_keras_sequential(keras64):
    L = keras64.layers
    X, _ = _data(seed=21, k=4)
    model = keras64.Sequential([keras64.Input((4,)), L.Dense(16, activation="relu"), L.BatchNormalization(),
                                L.Dense(12, activation="tanh"), L.LayerNormalization(), L.Dense(8),
                                L.PReLU(alpha_initializer=keras64.initializers.Constant(0.2)),
                                L.Dense(8, activation="elu"), L.Dense(6, activation="selu"),
                                L.Dense(3, activation="softmax")])
    for layer in model.layers:  # non-trivial BatchNorm statistics
        if isinstance(layer, L.BatchNormalization):
            rng = np.random.default_rng(0)
            layer.set_weights([rng.random(16) + 0.5, rng.normal(size=16), rng.normal(size=16), rng.random(16) + 0.5])
    R = rows(X, far=3.0)
    check(model, R, _keras_ref(model, R), rtol=1e-11)


@pytest.mark.keras
def test_keras_functional_residual(keras64):
    L = keras64.layers
    X, _ = _data(seed=22, k=4)
    inp = keras64.Input((4,))
    h = L.Activation("mish")(L.Dense(16)(inp))
    for act in ("relu", "hard_sigmoid", "silu"):
        z = L.Dense(16, activation=act)(h)
        z = L.Dropout(0.1)(z)
        h = L.Add()([h, z])
    m = L.Maximum()([L.Dense(16)(h), h])
    n = L.Subtract()([L.Dense(16, activation="softplus")(h), m])
    y = L.Concatenate()([L.Average()([m, n]), L.Multiply()([m, n])])
    model = keras64.Model(inp, L.Dense(3)(L.ReLU(max_value=4.0, threshold=0.5, negative_slope=0.1)(y)))
    R = rows(X, far=3.0)
    gs = check(model, R, _keras_ref(model, R), rtol=1e-11)
    fused = [op for op in gs["m", True].ops if isinstance(op, Dense)]
    assert any(getattr(op, "residual", False) for op in fused), "no residual Dense in the optimised graph"


#: TensorFlow's own float64 error: leaky_relu's slope is a float32 attribute
#: (0.2 becomes 0.20000000298), its float64 erf-based gelu is off by ~1.4e-7
_TF_FLOAT64_ERROR = {"leaky_relu": 1e-7, "gelu": 1e-6}


@pytest.mark.keras
def test_keras_activation_kinds(keras64):
    """Every Activation kind Keras has, on one Dense layer each, against Keras."""
    L = keras64.layers
    kinds = ["relu6", "leaky_relu", "elu", "selu", "celu", "gelu", "hard_sigmoid", "hard_silu", "silu", "mish",
             "softplus", "softsign", "tanh", "sigmoid", "exponential", "hard_tanh", "log_sigmoid", "linear",
             "log_softmax", "softmax", "relu"]
    X = np.linspace(-8, 8, 1200)[:, None] * np.ones(3) + np.array([0.0, 0.25, -0.5])
    inp = keras64.Input((3,))
    outs = [L.Activation(getattr(keras64.activations, k))(L.Dense(4)(inp)) for k in kinds]
    outs.append(L.ReLU(max_value=4.0, threshold=0.5, negative_slope=0.1)(L.Dense(4)(inp)))
    outs.append(L.ELU(alpha=0.7)(L.Dense(4)(inp)))
    model = keras64.Model(inp, L.Concatenate()(outs))
    ref = _keras_ref(model, X)
    gs = graphs(model)
    for opt in (False, True):
        y = evaluate(gs["m", opt], X)
        for j, k in enumerate(kinds + ["relu_full", "elu_alpha"]):
            block = slice(4 * j, 4 * j + 4)
            assert_close(y[:, block], ref[:, block], _TF_FLOAT64_ERROR.get(k, 1e-11), f"{k} optimize={opt}")
    # NaN in, NaN out, for every kind (the numpy semantics of np.maximum)
    Xn = X.copy()
    Xn[::7, 1] = np.nan
    y = evaluate(gs["m", True], Xn)
    assert np.isnan(y[::7]).all() and not np.isnan(y[1::7]).any()


def test_activation_ops_against_sklearn_and_numpy():
    """The kinds sklearn's MLP uses, and the elementwise maths kinds, on a
    hand-built graph against sklearn's ACTIVATIONS and numpy."""
    from sklearn.neural_network._base import ACTIVATIONS

    X = np.r_[np.linspace(-50, 50, 1001), [0.0, -0.0, 1e-300, 700.0, -745.0, 1e300]][:, None] * np.ones(2)
    X[:, 1] = np.abs(X[:, 1]) + 1e-3
    for kind, ref in (("relu", "relu"), ("tanh", "tanh"), ("sigmoid", "logistic"), ("linear", "identity")):
        g = Graph(2)
        g.output = g.add(Activation(kind), g.input)
        want = X.copy()
        ACTIVATIONS[ref](want)
        assert_close(evaluate(g, X), want, 2e-16 if kind != "linear" else 0, kind)
    for kind, fn in (("exp", np.exp), ("log", np.log), ("sqrt", np.sqrt), ("abs", np.abs), ("square", np.square),
                     ("negative", np.negative), ("reciprocal", np.reciprocal)):
        g = Graph(2)
        g.output = g.add(Activation(kind), g.input)
        with np.errstate(all="ignore"):
            assert_exact(evaluate(g, X), fn(X), kind)
    g = Graph(2)
    g.output = g.add(Softmax(log=True), g.add(Softmax(), g.input))
    from scipy.special import log_softmax, softmax

    assert_close(evaluate(g, X), log_softmax(softmax(X, axis=1), axis=1), 1e-15, "softmax")


@pytest.mark.keras
def test_keras_tensors(keras64):
    """Rank >= 3 tensors, several inputs/outputs, convolutions and pooling
    (issue #16): the IR against float64 Keras; inputs concatenated row-major
    in model order, outputs likewise."""
    K, L = keras64, keras64.layers
    rng = np.random.default_rng(5)
    cf = {"data_format": "channels_first"}
    a, b = K.Input((6, 4)), K.Input((1, 4))
    h = L.Add()([L.Dense(4, activation="tanh")(a), b])
    h = L.LayerNormalization(axis=[1, 2])(L.Softmax(axis=1)(h))
    y1 = L.Flatten()(L.Concatenate(axis=1)([h, L.Permute((2, 1))(L.Dense(6)(L.Permute((2, 1))(h)))]))
    c = L.Conv1D(6, 3, strides=2, padding="same", activation="relu")(a)
    c = L.Conv1D(4, 2, dilation_rate=2, padding="causal", groups=2)(L.ZeroPadding1D((1, 2))(c))
    y2 = L.GlobalAveragePooling1D()(L.MaxPooling1D(2, padding="same")(c))
    img = K.Input((7, 6, 2))  # (TensorFlow has no float64 channels_first convolution on CPU)
    d = L.Conv2D(4, (3, 2), strides=(2, 1), padding="same")(img)
    d = L.AveragePooling2D(2, padding="same")(L.BatchNormalization(axis=1)(d))
    y3 = L.Flatten()(L.UpSampling2D((1, 2), **cf)(L.Cropping2D(((0, 1), (1, 0)), **cf)(d)))
    model = K.Model([a, b, img], [y1, y2, y3])
    for w in model.weights:
        shape = tuple(w.shape)
        w.assign(rng.uniform(0.5, 2.0, shape) if "variance" in w.path else rng.normal(size=shape) * 0.5)
    X = rng.normal(size=(1200, 24 + 4 + 84)) * np.where(np.arange(1200) % 3 == 0, 30.0, 1.0)[:, None]
    X[0] = 0.0
    ins = [X[:, :24].reshape(-1, 6, 4), X[:, 24:28].reshape(-1, 1, 4), X[:, 28:].reshape(-1, 7, 6, 2)]
    ref = np.concatenate([np.asarray(o, dtype=np.float64).reshape(len(X), -1) for o in model(ins)], axis=1)
    check(model, X, ref, rtol=1e-10)


@pytest.mark.keras
def test_keras_embedding(keras64):
    L = keras64.layers
    rng = np.random.default_rng(6)
    i = keras64.Input((4,))
    model = keras64.Model(i, L.Flatten()(L.Dense(3)(L.Embedding(9, 5)(i))))
    X = rng.integers(0, 9, size=(1200, 4)) + rng.uniform(0, 0.999, size=(1200, 4))
    check(model, X, _keras_ref(model, X), rtol=1e-12)
