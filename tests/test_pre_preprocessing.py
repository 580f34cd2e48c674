"""MaxAbsScaler, RobustScaler, Normalizer, PowerTransformer, PCA,
KBinsDiscretizer, SimpleImputer, PolynomialFeatures, OneHotEncoder vs
sklearn, forward and inverse, float and double."""
import copy
import warnings

import numpy as np
import pytest
from sklearn.decomposition import PCA, IncrementalPCA
from sklearn.impute import SimpleImputer
from sklearn.preprocessing import (
    KBinsDiscretizer,
    MaxAbsScaler,
    Normalizer,
    OneHotEncoder,
    PolynomialFeatures,
    PowerTransformer,
    RobustScaler,
)
from util import as_type, check_contract, rows

import scikinc


def _data(seed=0, n=1500):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 5)) * [1, 5, 0.1, 2, 1] + [0, 3, 1, 10, 0]
    X[:, 3] = rng.lognormal(size=n) + 0.1  # positive, skewed (box-cox)
    X[:, 4] = 0.0 if seed % 2 == 0 else 1.5  # constant feature
    return X


def _cat(seed=0, n=1500):
    rng = np.random.default_rng(seed)
    C = np.round(rng.normal(size=(n, 3)) * [2, 1, 3])
    C[:, 1] = rng.choice([0.5, 7.0, -1.0], size=n)
    C[rng.random(n) < 0.05, 2] = np.nan  # NaN is a category of its own
    return C


def _with_nans(X, seed=0):
    rng = np.random.default_rng(seed)
    Xn = X.copy()
    Xn[rng.random(X.shape) < 0.1] = np.nan
    Xn[:, 2] = np.nan  # empty at fit: dropped unless keep_empty_features
    return Xn


def _models(X, C, Xn):
    P = X[:, :4]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return {
            # (model, input kind)
            "maxabs": (MaxAbsScaler().fit(X), "X"),
            "robust": (RobustScaler(quantile_range=(10, 90), unit_variance=True).fit(X), "X"),
            "robust_nc": (RobustScaler(with_centering=False).fit(X), "X"),
            "norm_l1": (Normalizer("l1").fit(X), "X"),
            "norm_l2": (Normalizer("l2").fit(X), "X"),
            "norm_max": (Normalizer("max").fit(X), "X"),
            "yj": (PowerTransformer().fit(P), "P"),
            "yj_raw": (PowerTransformer(standardize=False).fit(P), "P"),
            "boxcox": (PowerTransformer(method="box-cox").fit(X[:, 3:4]), "B"),
            "pca": (PCA(n_components=3).fit(X), "X"),
            "pca_white": (PCA(whiten=True).fit(X), "X"),
            "ipca": (IncrementalPCA(n_components=2, whiten=True).fit(X), "X"),
            "kb_ord": (KBinsDiscretizer(n_bins=6, encode="ordinal", quantile_method="linear").fit(X), "X"),
            "kb_uni": (KBinsDiscretizer(n_bins=[3, 4, 5, 6, 2], encode="onehot-dense",
                                        strategy="uniform").fit(X), "X"),
            "kb_km": (KBinsDiscretizer(n_bins=4, encode="onehot", strategy="kmeans").fit(X), "X"),
            "imp_mean": (SimpleImputer().fit(Xn), "N"),
            "imp_median_ind": (SimpleImputer(strategy="median", add_indicator=True).fit(Xn), "N"),
            "imp_freq": (SimpleImputer(strategy="most_frequent").fit(np.round(Xn)), "N"),
            "imp_const_keep": (SimpleImputer(strategy="constant", fill_value=-7.5,
                                             keep_empty_features=True).fit(Xn), "N"),
            "imp_sentinel": (SimpleImputer(missing_values=-1.0, strategy="mean").fit(np.round(X)), "R"),
            "poly3": (PolynomialFeatures(degree=3).fit(X[:, :3]), "3"),
            "poly_inter": (PolynomialFeatures(degree=(2, 3), interaction_only=True,
                                              include_bias=False).fit(X), "X"),
            "ohe": (OneHotEncoder(sparse_output=False, handle_unknown="ignore").fit(C), "C"),
            "ohe_drop": (OneHotEncoder(drop="first").fit(C), "C"),
            "ohe_binary": (OneHotEncoder(drop="if_binary", sparse_output=False).fit(C[:, :2]), "C2"),
        }


def _inputs(X, C, Xn, float_t):
    R = rows(X, 1200)
    Rc = np.concatenate([C[:600], C[:600] + 0.25, np.full((3, 3), 99.0)])  # unseen categories too
    Rn = np.concatenate([_with_nans(R, 5), R[:100]])
    kinds = {"X": R, "P": R[:, :4], "B": np.abs(R[:, 3:4]) + 1e-3, "N": Rn, "R": np.round(R),
             "3": R[:, :3] / 10, "C": Rc, "C2": Rc[:, :2]}
    return {k: as_type(v, float_t) for k, v in kinds.items()}


def _dense(a):
    return a.toarray() if hasattr(a, "toarray") else np.asarray(a)


def _reference(name, m, float_t):
    """sklearn's answer, with the documented rule for unseen categories.
    Float builds store bin edges rounded to float: compare against the same
    rounding (an input exactly on an edge may change bin)."""
    if name.startswith("ohe") and m.handle_unknown == "error":
        # documented rule: unseen values give what handle_unknown='ignore' gives
        r = copy.deepcopy(m)
        r.handle_unknown = "ignore"
        return r
    if float_t != "float" or not name.startswith("kb"):
        return m
    r = copy.deepcopy(m)
    r.bin_edges_ = np.array([e.astype(np.float32).astype(np.float64) for e in m.bin_edges_], dtype=object)
    return r


RTOL = {"float": 2e-6, "double": 1e-12, "long double": 1e-12}


@pytest.mark.parametrize("float_t", ["float", "double", "long double"])
def test_preprocessing_matches_sklearn(tmp_path, float_t):
    X, C = _data(0), _cat(0)
    Xn = _with_nans(X)
    models = _models(X, C, Xn)
    inputs = _inputs(X, C, Xn, float_t)
    fns = {}
    syms = {name: m for name, (m, _) in models.items()}
    fns = check_contract(syms, tmp_path, float_t=float_t)
    rtol = RTOL[float_t]
    for name, (m, kind) in models.items():
        f, R = fns[name], inputs[kind]
        ref = _reference(name, m, float_t)
        with np.errstate(all="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore")  # unknown categories
            expect = _dense(ref.transform(R))
        got = f(R).astype(np.float64)
        assert got.shape == expect.shape, name
        assert np.array_equal(np.isnan(got), np.isnan(expect)), name
        scale = np.abs(expect)
        if name.startswith("pca") or name == "ipca":  # sums of products: relative to the terms
            # (whiten divides by sqrt(variance), which is 0 for the constant feature's component)
            scale = np.abs(R) @ np.abs(m.components_.T) / (
                np.maximum(np.sqrt(m.explained_variance_), np.finfo(float).eps) if m.whiten else 1)
        atol = rtol * (1 + np.nanmax(scale, axis=0))
        np.testing.assert_array_less(np.nan_to_num(np.abs(got - expect)), atol * 4 + rtol * np.nan_to_num(scale),
                                     err_msg=name)
        if float_t == "double" and not name.startswith(("pca", "ipca", "norm_l2", "yj", "boxcox")):
            assert np.array_equal(got, expect, equal_nan=True), f"{name}: expected bit-exact in double"
        if hasattr(m, "inverse_transform") and name.startswith(("maxabs", "robust", "yj", "boxcox", "pca",
                                                                "ipca", "kb", "ohe", "imp_median_ind")):
            assert f.inverse is not None, name
            Y = as_type(expect, float_t)
            if name.startswith("imp"):
                # sklearn's inverse decides per *batch* whether a column was dropped
                # (np.all of its indicator); keep rows where the empty feature is missing
                Y, R = Y[np.isnan(R[:, 2])], R[np.isnan(R[:, 2])]
            with np.errstate(all="ignore"):
                # OneHotEncoder: None for all-zero blocks -> NaN (the documented rule)
                inv_expect = np.asarray(ref.inverse_transform(Y)).astype(np.float64)
                if name.startswith("kb"):  # sklearn casts NaN to an index; scikinc keeps NaN
                    inv_expect[np.isnan(Y[:, :inv_expect.shape[1]]) if name == "kb_ord" else
                               np.zeros_like(inv_expect, bool)] = np.nan
            inv_got = f.inverse(Y).astype(np.float64)
            assert np.array_equal(np.isnan(inv_got), np.isnan(inv_expect)), name
            ok = np.isfinite(inv_expect)
            if float_t == "float":
                # power inverses at 1e6 have condition number ~ 1/lambda * log-ish
                # factors of 1e3: compare the ordinary rows only
                ok &= ~(np.abs(R) >= 1e4).any(axis=1, keepdims=True)
            np.testing.assert_allclose(inv_got[ok], inv_expect[ok], rtol=20 * rtol,
                                       atol=20 * rtol * (1 + np.nanmax(np.abs(inv_expect[ok]))), err_msg=name)
        elif name.startswith(("norm", "poly", "imp")):
            assert f.inverse is None, name


def test_round_trips(tmp_path):
    X = _data(1)
    models = {"yj": PowerTransformer().fit(X[:, :4]), "bc": PowerTransformer("box-cox").fit(X[:, 3:4]),
              "pca": PCA(whiten=True).fit(X[:, :4]), "robust": RobustScaler().fit(X)}
    fns = check_contract(models, tmp_path, float_t="double")
    for name, Xi in (("yj", X[:, :4]), ("bc", X[:, 3:4]), ("pca", X[:, :4]), ("robust", X)):
        f = fns[name]
        np.testing.assert_allclose(f.inverse(f(Xi)), Xi, rtol=1e-9, atol=1e-9, err_msg=name)


def test_documented_rules_where_sklearn_raises(tmp_path):
    C = _cat(2)
    ohe = OneHotEncoder(handle_unknown="error", sparse_output=False).fit(C)
    kb = KBinsDiscretizer(n_bins=3, encode="ordinal", quantile_method="linear").fit(_data(2))
    fns = check_contract({"ohe": ohe, "kb": kb}, tmp_path, float_t="double")
    unseen = np.array([[123.0, 7.0, 0.0]])
    out = fns["ohe"](unseen)[0]
    widths = [len(c) for c in ohe.categories_]
    assert out[:widths[0]].sum() == 0  # unseen value: all-zero block
    np.testing.assert_array_equal(out[widths[0]:], ohe.transform(np.array([[0.0, 7.0, 0.0]]))[0, widths[0]:])
    # NaN -> last bin (the constant feature 4 has a single bin)
    assert fns["kb"](np.full((1, 5), np.nan))[0].tolist() == [2.0, 2.0, 2.0, 2.0, 0.0]
    inv = fns["kb"].inverse(np.array([[-3.0, 0.0, 1.0, 2.0, 77.0]]))[0]
    with np.errstate(invalid="ignore"):
        centres = [(e[1:] + e[:-1]) / 2 for e in kb.bin_edges_]
    assert inv[:4].tolist() == [centres[0][0], centres[1][0], centres[2][1], centres[3][2]]
    assert np.isnan(inv[4]) and np.isnan(centres[4][0])  # constant feature: centre of [-inf, inf], as sklearn


def test_refused_configurations():
    C = _cat(3)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ohe = OneHotEncoder(min_frequency=0.2).fit(C)
    with pytest.raises(scikinc.ConversionError, match="infrequent categories .* not supported"):
        scikinc.convert({"o": ohe})
    ohe_s = OneHotEncoder().fit(np.array([["a"], ["b"]], dtype=object))
    with pytest.raises(scikinc.ConversionError, match="non-numeric categories"):
        scikinc.convert({"o": ohe_s})
    imp = SimpleImputer(missing_values="?", strategy="most_frequent").fit(np.array([["a"], ["?"]], dtype=object))
    with pytest.raises(scikinc.ConversionError, match="missing_values='\\?' is not numeric"):
        scikinc.convert({"i": imp})


def test_conversion_error_paths():
    from sklearn.preprocessing import QuantileTransformer

    X = _data(5)
    qt = QuantileTransformer(n_quantiles=50).fit(X)
    qt.references_ = qt.references_ ** 2
    with pytest.raises(scikinc.ConversionError, match="references_ is not numpy.linspace"):
        scikinc.convert({"q": qt})
    kb = KBinsDiscretizer(n_bins=3, encode="ordinal", quantile_method="linear").fit(X[:, :4])
    kb.encode = "binary"
    with pytest.raises(scikinc.ConversionError, match="unsupported encode='binary'"):
        scikinc.convert({"k": kb})


def test_box_cox_rule_for_non_positive_inputs(tmp_path):
    """sklearn refuses x <= 0; the C follows libm: log(0) -> -inf based, NaN below."""
    bc = PowerTransformer(method="box-cox", standardize=False).fit(_data(6)[:, 3:4])
    f = check_contract({"bc": bc}, tmp_path, float_t="double")["bc"]
    out = f(np.array([[0.0], [-1.0]]))[:, 0]
    lam = bc.lambdas_[0]
    assert out[0] == (-1 / lam if lam > 0 else -np.inf)
    assert np.isnan(out[1])


def test_imputer_with_text_fill_value_is_refused():
    imp = SimpleImputer(strategy="constant", fill_value="none").fit(np.array([[1.0], [np.nan]], dtype=object))
    with pytest.raises(scikinc.ConversionError, match="fill values .* are not numeric"):
        scikinc.convert({"i": imp})


@pytest.mark.parametrize("float_t", ["float", "double"])
def test_more_transformers(tmp_path, float_t):
    from sklearn.decomposition import FastICA, TruncatedSVD
    from sklearn.impute import MissingIndicator
    from sklearn.preprocessing import Binarizer, OrdinalEncoder

    rng = np.random.default_rng(7)
    X = rng.normal(size=(1500, 4)) @ rng.normal(size=(4, 4)) + [1, 2, 3, 4]
    C = _cat(7)
    Xn = _with_nans(X, 7)
    Xn[:, 2] = X[:, 2]  # never missing: left out by features='missing-only'
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        models = {
            "bin": (Binarizer(threshold=0.5).fit(X), X),
            "mi": (MissingIndicator().fit(Xn), Xn),
            "mi_all": (MissingIndicator(features="all").fit(Xn), Xn),
            "oe": (OrdinalEncoder().fit(C), C),
            "oe_enc": (OrdinalEncoder(handle_unknown="use_encoded_value", unknown_value=-1,
                                      encoded_missing_value=-2).fit(C), np.concatenate([C, [[99, 0.25, np.nan]]])),
            "svd": (TruncatedSVD(n_components=2, random_state=0).fit(X), X),
            "ica": (FastICA(n_components=3, random_state=0).fit(X), X),
            "ica_nowhite": (FastICA(whiten=False, random_state=0, max_iter=500).fit(X), X),
        }
    fns = check_contract({k: m for k, (m, _) in models.items()}, tmp_path, float_t=float_t, X=None)
    rtol = RTOL[float_t]
    for name, (m, D) in models.items():
        D = as_type(D, float_t)
        f = fns[name]
        expect = m.transform(D).astype(np.float64)
        got = f(D).astype(np.float64)
        assert np.array_equal(np.isnan(got), np.isnan(expect)), name
        np.testing.assert_allclose(got, expect, rtol=rtol, atol=4 * rtol * (1 + np.nanmax(np.abs(D))), err_msg=name)
        if name in ("svd", "ica", "ica_nowhite"):
            Y = as_type(expect, float_t)
            inv = m.inverse_transform(Y)
            np.testing.assert_allclose(f.inverse(Y), inv, rtol=rtol, atol=8 * rtol * (1 + np.abs(inv).max()),
                                       err_msg=name)
        else:
            assert f.inverse is None, name
    # OrdinalEncoder rule where sklearn raises: unseen value -> NaN
    out = fns["oe"](np.array([[99.0, 7.0, np.nan], [0.0, 0.25, 1.0]]))
    assert np.isnan(out[0, 0]) and out[0, 1] == list(models["oe"][0].categories_[1]).index(7.0)
    assert np.isnan(out[1, 1])
