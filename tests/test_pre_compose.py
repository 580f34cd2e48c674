"""Pipeline (nested 3 deep, passthrough/None steps, a model as last step)
and ColumnTransformer (every selector kind, remainder, output order,
inverse) vs sklearn."""
import copy
import warnings

import numpy as np
import pytest
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.compose import ColumnTransformer, TransformedTargetRegressor, make_column_transformer
from sklearn.decomposition import PCA
from sklearn.pipeline import FeatureUnion, Pipeline, make_pipeline
from sklearn.preprocessing import FunctionTransformer, MinMaxScaler, QuantileTransformer, StandardScaler
from sklearn.tree import DecisionTreeRegressor
from util import as_type, check_contract, rows

import scikinc


def _data(seed=0, n=1500, k=6):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, k)) * np.arange(1, k + 1) + np.arange(k)
    X[:, 1] = rng.exponential(size=n) + 0.1
    return X


def _deep():
    """Pipeline nested three deep, with passthrough and None steps."""
    return Pipeline([
        ("scale", StandardScaler()),
        ("inner", Pipeline([
            ("skip", "passthrough"),
            ("innermost", Pipeline([
                ("qt", QuantileTransformer(n_quantiles=200, output_distribution="normal")),
                ("none", None),
                ("mm", MinMaxScaler(feature_range=(-1, 1))),
            ])),
        ])),
        ("tanh", FunctionTransformer(np.tanh, inverse_func=np.arctanh)),
    ])


def _cts(X):
    y = X[:, 0] * 2 + np.sin(X[:, 2])
    inner_ct = ColumnTransformer([("s", StandardScaler(), [1, 0])], remainder="passthrough")
    return {
        "deep": _deep().fit(X),
        "first_passthrough": make_pipeline("passthrough", StandardScaler(), None).fit(X),
        "to_tree": make_pipeline(StandardScaler(), QuantileTransformer(n_quantiles=50),
                                 DecisionTreeRegressor(max_depth=5, random_state=0)).fit(X, y),
        "ct_kinds": ColumnTransformer([
            ("int", StandardScaler(), [0]),
            ("neg_int_list", MinMaxScaler(), [-1, 3]),
            ("slice", QuantileTransformer(n_quantiles=100), slice(1, 3)),
            ("mask", FunctionTransformer(np.log1p), np.array([False, True, False, False, False, False])),
            ("callable", "passthrough", lambda X: [2, 4]),
            ("dropped", "drop", [0]),
            ("empty", StandardScaler(), []),
        ], remainder="drop").fit(X),
        "ct_remainder_est": make_column_transformer((StandardScaler(), [4, 1]), remainder=MinMaxScaler()).fit(X),
        "ct_remainder_pass": ColumnTransformer([("a", QuantileTransformer(n_quantiles=100), [5, 0])],
                                               remainder="passthrough").fit(X),
        "ct_nested": ColumnTransformer([
            ("p", make_pipeline(inner_ct, MinMaxScaler(), _deep()), [0, 1, 2]),
            ("q", "passthrough", [5]),
        ], remainder=StandardScaler()).fit(X),
        "pipe_ct": make_pipeline(ColumnTransformer([("a", StandardScaler(), [3, 2, 1, 0]),
                                                    ("b", MinMaxScaler(), [5, 4])]),
                                 QuantileTransformer(n_quantiles=100)).fit(X),
    }


# float: the C rounds to float between steps (sklearn stays in double); a
# QuantileTransformer(normal) step then amplifies that by its slope (up to ~50)
TOL = {"float": 2e-5, "double": 1e-12}


@pytest.mark.parametrize("float_t", ["float", "double"])
def test_pipelines_and_column_transformers(tmp_path, float_t):
    X = _data()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        models = _cts(X)
    R = rows(X, 1200)
    R[7, 2] = np.nan
    fns = check_contract(models, tmp_path, float_t=float_t, X=R)
    Rt = as_type(R, float_t)
    tol = TOL[float_t]
    for name, m in models.items():
        f = fns[name]
        with np.errstate(invalid="ignore"):  # log1p of out-of-range rows -> NaN on both sides
            expect = m.predict(Rt) if hasattr(m, "predict") else m.transform(Rt)
        expect = expect.reshape(len(Rt), -1)
        got = f(Rt).astype(np.float64)
        assert got.shape == expect.shape, name
        if name == "to_tree" and float_t == "float":
            # the tree sees float-rounded features; rows on a split boundary may differ
            assert np.mean(np.isclose(got, expect, rtol=1e-5, atol=1e-5)) > 0.99
            continue
        np.testing.assert_allclose(got, expect, rtol=tol, atol=tol * (1 + np.nanmax(np.abs(expect))), err_msg=name)
    # inverses: sklearn's where it exists, else a round trip
    assert fns["to_tree"].inverse is None
    assert fns["ct_kinds"].inverse is None  # columns 0 duplicated / dropped: not a permutation
    for name in ("deep", "first_passthrough"):
        f, m = fns[name], models[name]
        Y = as_type(m.transform(X[:1000]), float_t)
        np.testing.assert_allclose(f.inverse(Y), m.inverse_transform(Y), rtol=100 * tol, atol=100 * tol, err_msg=name)
    for name in ("ct_remainder_est", "ct_remainder_pass", "ct_nested", "pipe_ct"):
        f = fns[name]
        assert f.inverse is not None, name
        Xi = as_type(X[:1000], float_t)
        np.testing.assert_allclose(f.inverse(f(Xi)), Xi, rtol=2000 * tol, atol=2000 * tol, err_msg=name)


def test_output_order_is_sklearns(tmp_path):
    X = _data(1)
    ct = ColumnTransformer([("b", MinMaxScaler(), [5]), ("a", "passthrough", [0, 3]),
                            ("c", FunctionTransformer(np.negative), [1])], remainder="passthrough").fit(X)
    f = check_contract({"ct": ct}, tmp_path, float_t="double")["ct"]
    got = f(X)
    for name, sl in ct.output_indices_.items():
        np.testing.assert_array_equal(got[:, sl], ct.transform(X)[:, sl], err_msg=name)
    np.testing.assert_array_equal(got[:, 1:3], X[:, [0, 3]])
    np.testing.assert_array_equal(got[:, 4:], X[:, [2, 4]])  # remainder last, in input order


def test_string_selectors_via_feature_names(tmp_path):
    """String selectors resolve through feature_names_in_.  (pandas is not
    installed here, so the named transformer is obtained by fitting the same
    ColumnTransformer with integer columns and giving it the names a
    DataFrame fit would have recorded.)"""
    X = _data(2)
    names = np.array(["px", "py", "pz", "eta", "phi", "p"], dtype=object)
    ct = ColumnTransformer([("a", StandardScaler(), [2, 0]), ("b", MinMaxScaler(), [5]),
                            ("c", "passthrough", [3, 4])]).fit(X)
    named = copy.deepcopy(ct)
    named.feature_names_in_ = names
    named.transformers_ = [("a", named.transformers_[0][1], ["pz", "px"]),
                           ("b", named.transformers_[1][1], "p"),  # scalar selectors

                           ("c", "passthrough", slice("eta", "phi"))] + named.transformers_[3:]
    fns = check_contract({"ints": ct, "named": named}, tmp_path, float_t="double")
    np.testing.assert_array_equal(fns["named"](X), fns["ints"](X))
    np.testing.assert_allclose(fns["named"](X), ct.transform(X), rtol=1e-15)
    scalar = copy.deepcopy(ct)
    scalar.transformers_ = [("b", scalar.transformers_[1][1], 5), ("c", "passthrough", np.int64(-2))]
    np.testing.assert_array_equal(scikinc.load(scikinc.compile({"s": scalar}, tmp_path / "s.so", float_t="double"),
                                               "s")(X), ct.transform(X)[:, [2, 4]])
    bad = copy.deepcopy(named)
    bad.transformers_ = [("a", bad.transformers_[0][1], ["pz", "nope"])]
    with pytest.raises(scikinc.ConversionError, match="ColumnTransformer: no input column named 'nope'"):
        scikinc.convert({"bad": bad})
    del bad.feature_names_in_
    with pytest.raises(scikinc.ConversionError, match="selected by name but the transformer has no feature_names_in_"):
        scikinc.convert({"bad": bad})


class _Opaque(TransformerMixin, BaseEstimator):
    """A class no converter knows."""

    def fit(self, X, y=None):
        self.n_features_in_ = X.shape[1]
        return self

    def transform(self, X):
        return X


def test_error_messages_name_the_step():
    X = _data(3)
    p = make_pipeline(StandardScaler(), make_pipeline(MinMaxScaler(), _Opaque())).fit(X)
    with pytest.raises(scikinc.UnsupportedModelError,
                       match=r"Pipeline step 'pipeline': Pipeline step '_opaque': cannot convert an object of class"):
        scikinc.convert({"p": p})
    ct = ColumnTransformer([("weird", _Opaque(), [0])]).fit(X)
    with pytest.raises(scikinc.UnsupportedModelError, match="ColumnTransformer part 'weird'"):
        scikinc.convert({"ct": ct})
    ct = ColumnTransformer([("d", "drop", [0])], remainder="drop").fit(X)
    with pytest.raises(scikinc.ConversionError, match="every column is dropped"):
        scikinc.convert({"ct": ct})
    with pytest.raises(scikinc.NotFittedError, match="Pipeline is not fitted: call fit"):
        scikinc.convert({"p": make_pipeline(StandardScaler())})


def test_selector_error_paths():
    """Selectors sklearn would not leave in a fitted transformer are refused clearly."""
    X = _data(4)
    ct = ColumnTransformer([("a", StandardScaler(), [0, 1])]).fit(X)
    cases = [
        (lambda X: [0, 1], "callable selector in a fitted transformer"),
        (np.array([[0, 1]]), "cannot interpret column selector"),
        (np.array([0.5, 1.5]), "cannot interpret column selector"),
        (np.array([True, False]), "boolean column mask of the wrong length"),
    ]
    for sel, msg in cases:
        bad = copy.deepcopy(ct)
        bad.transformers_ = [("a", bad.transformers_[0][1], sel)]
        with pytest.raises(scikinc.ConversionError, match=msg):
            scikinc.convert({"ct": bad})
    bad = copy.deepcopy(ct)
    bad.transformers_ = [("a", "weird", [0])]
    with pytest.raises(scikinc.ConversionError, match="ColumnTransformer part 'a': unknown transformer 'weird'"):
        scikinc.convert({"ct": bad})


@pytest.mark.parametrize("float_t", ["float", "double"])
def test_feature_union_and_transformed_target(tmp_path, float_t):
    X = _data(5)
    y = np.exp(X[:, 0] / 3) + X[:, 1]
    models = {
        "fu": FeatureUnion([("pca", PCA(2)), ("drop", "drop"), ("raw", "passthrough"),
                            ("q", make_pipeline(StandardScaler(), QuantileTransformer(n_quantiles=100)))],
                           transformer_weights={"pca": 0.5, "raw": 2.0}).fit(X),
        "ttr_log": TransformedTargetRegressor(DecisionTreeRegressor(max_depth=6, random_state=0),
                                              func=np.log, inverse_func=np.exp).fit(X, y),
        "ttr_qt": TransformedTargetRegressor(make_pipeline(StandardScaler(),
                                                           DecisionTreeRegressor(max_depth=5, random_state=0)),
                                             transformer=QuantileTransformer(n_quantiles=100)).fit(X, y),
    }
    fns = check_contract(models, tmp_path, float_t=float_t, X=X)
    Xt = as_type(X[:1200], float_t)
    tol = 2e-6 if float_t == "float" else 1e-12
    got = fns["fu"](Xt)
    np.testing.assert_allclose(got, models["fu"].transform(Xt), rtol=tol, atol=tol * 50)
    for name in ("ttr_log", "ttr_qt"):
        expect = models[name].predict(Xt).reshape(len(Xt), -1)
        got = fns[name](Xt)
        close = np.isclose(got, expect, rtol=tol * 10, atol=tol * 10)
        # a scaled feature within an ulp of a split threshold may take the other
        # branch (the tree converter's business, see its tests): allow 1%
        assert close.mean() > 0.99, name
    bad = TransformedTargetRegressor(DecisionTreeRegressor(), func=np.log, inverse_func=lambda v: v,
                                     check_inverse=False).fit(X, y)
    with pytest.warns(UserWarning, match="no inverse symbol"), \
            pytest.raises(scikinc.ConversionError, match="TransformedTargetRegressor transformer: .*inverse_func_inC"):
        scikinc.convert({"bad": bad})


@pytest.mark.keras
def test_pipeline_ending_in_a_keras_model_is_one_symbol(tmp_path):
    keras = pytest.importorskip("keras")
    X = _data(6, n=1200, k=4)
    net = keras.Sequential([keras.Input((4,)), keras.layers.Dense(8, activation="tanh"), keras.layers.Dense(2)])
    pipe = Pipeline([("scale", StandardScaler().fit(X)),
                     ("qt", QuantileTransformer(n_quantiles=100, output_distribution="normal").fit(X)),
                     ("nn", net)])
    f = check_contract({"lamarr": pipe}, tmp_path, float_t="float", X=X)["lamarr"]
    assert (f.n_inputs, f.n_outputs) == (4, 2) and f.inverse is None
    Xf = as_type(X, "float")
    expect = net.predict(pipe[:-1].transform(Xf).astype(np.float32), verbose=0)
    np.testing.assert_allclose(f(Xf), expect, rtol=1e-5, atol=1e-5)
