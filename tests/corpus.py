"""A fixed corpus of fitted models, one group per converter family, used to
compare the C that two versions of scikinc generate (tests/test_before_after.py).

Only the public API is used (``scikinc.convert``), and every model is fitted
from a seeded generator, so an older checkout of scikinc run on this file in a
subprocess produces C for exactly the same models:

    python tests/corpus.py OUTDIR [FAMILY ...]

writes ``OUTDIR/<family>__<model>__<float_t>.c``.
"""
from __future__ import annotations

import os
import sys
import warnings
from pathlib import Path

import numpy as np

FLOAT_TS = ("float", "double")


def _data(n=600, k=5, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, k)) * np.array([1, 10, 0.1, 3, 100])[:k]
    y = (X[:, 0] + 0.3 * X[:, 1] / 10 > 0).astype(int) + (X[:, 2] > 0.05).astype(int)
    return X, y


def scalers():
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import MaxAbsScaler, MinMaxScaler, RobustScaler, StandardScaler

    X, _ = _data()
    return {
        "stdsc": StandardScaler().fit(X),
        "minmax": MinMaxScaler(clip=True).fit(X),
        "robust": RobustScaler().fit(X),
        "chain": make_pipeline(StandardScaler(), MaxAbsScaler()).fit(X),
    }


def preprocessing():
    from sklearn.decomposition import PCA
    from sklearn.impute import SimpleImputer
    from sklearn.preprocessing import KBinsDiscretizer, PolynomialFeatures, PowerTransformer, QuantileTransformer

    X, _ = _data()
    return {
        "quantile_n": QuantileTransformer(n_quantiles=50, output_distribution="normal").fit(X),
        "quantile_u": QuantileTransformer(n_quantiles=30).fit(X),
        "power": PowerTransformer().fit(X),
        "pca": PCA(3, whiten=True).fit(X),
        "kbins": KBinsDiscretizer(4, encode="ordinal", strategy="uniform").fit(X),
        "poly": PolynomialFeatures(2).fit(X),
        "impute": SimpleImputer().fit(X),
    }


def trees():
    from sklearn.ensemble import (
        ExtraTreesRegressor,
        GradientBoostingClassifier,
        GradientBoostingRegressor,
        HistGradientBoostingClassifier,
        HistGradientBoostingRegressor,
        RandomForestClassifier,
        RandomForestRegressor,
    )
    from sklearn.tree import DecisionTreeRegressor

    X, y = _data()
    rng = np.random.default_rng(1)
    Xn = X.copy()
    Xn[rng.random(X.shape) < 0.05] = np.nan  # trained with missing values: NaN goes left at some nodes
    Xc = Xn.copy()
    Xc[:, 3] = rng.integers(0, 9, len(X))  # categorical columns (HistGB bitsets)
    Xc[:, 4] = rng.choice([-3.0, 0.5, 2.0, 7.0], len(X))
    out = {}
    gbc = GradientBoostingClassifier(n_estimators=12, max_depth=3, random_state=0).fit(X, y)
    gbr = GradientBoostingRegressor(n_estimators=10, max_depth=3, random_state=0).fit(X, X[:, 0])
    hgb = HistGradientBoostingClassifier(max_iter=8, random_state=0).fit(X, y > 0)
    rf = RandomForestRegressor(n_estimators=5, max_depth=5, random_state=0).fit(X, X[:, 1])
    for codegen in ("ifelse", "table", "branchfree", "bitvector"):
        out[f"gbc_{codegen}"] = (gbc, {"tree_codegen": codegen})
        out[f"hgb_{codegen}"] = (hgb, {"tree_codegen": codegen})
    out["gbr"] = gbr
    out["rf"] = rf
    # multiclass boosting (register accumulators), random-forest classifiers with NaN
    # (leaf vectors, divisor), leaves and class outputs, every strategy
    gbc3 = GradientBoostingClassifier(n_estimators=10, max_depth=3, random_state=0).fit(X, y)
    rfc = RandomForestClassifier(n_estimators=6, max_depth=5, random_state=0).fit(Xn, y)
    rfc2 = RandomForestClassifier(n_estimators=4, max_depth=4, random_state=0).fit(Xn, y > 0)
    hgbn = HistGradientBoostingRegressor(max_iter=10, max_depth=4, random_state=0).fit(Xn, X[:, 0])
    for codegen in ("ifelse", "table", "branchfree", "bitvector"):
        cg = {"tree_codegen": codegen}
        out[f"gbc3_{codegen}"] = (gbc3, cg)
        out[f"rfc_{codegen}"] = (rfc, cg)
        out[f"rfc_class_{codegen}"] = (rfc, {**cg, "output": "class"})
        out[f"rf_leaves_{codegen}"] = (rf, {**cg, "output": "leaves"})
        out[f"gbr_leaves_{codegen}"] = (gbr, {**cg, "output": "leaves"})
        out[f"hgbn_{codegen}"] = (hgbn, cg)
    out["gbc3_class"] = (gbc3, {"output": "class"})
    out["gbc3_raw"] = (gbc3, {"output": "decision_function", "tree_codegen": "table"})
    out["gbc_class"] = (gbc, {"output": "class", "tree_codegen": "bitvector"})
    gbc2 = GradientBoostingClassifier(n_estimators=8, max_depth=2, random_state=0).fit(X, y > 0)
    for codegen in ("ifelse", "table", "branchfree", "bitvector"):
        out[f"gbc2_class_{codegen}"] = (gbc2, {"tree_codegen": codegen, "output": "class"})
    out["gbc2_full"] = (gbc2, {"output": "proba_full"})
    out["rfc2"] = rfc2
    out["rfc2_full"] = (rfc2, {"output": "proba_full", "tree_codegen": "branchfree"})
    # HistGB with categorical splits and NaN (no branchfree: it refuses categories)
    hgbc = HistGradientBoostingClassifier(max_iter=6, categorical_features=[3, 4], random_state=0).fit(Xc, y)
    hgbc2 = HistGradientBoostingClassifier(max_iter=6, max_leaf_nodes=8, categorical_features=[3, 4],
                                           random_state=0).fit(Xc, y > 0)
    for codegen in ("auto", "ifelse", "table", "bitvector"):
        cg = {"tree_codegen": codegen}
        out[f"hgbc_{codegen}"] = (hgbc, cg)
        out[f"hgbc_leaves_{codegen}"] = (hgbc, {**cg, "output": "leaves"})
        out[f"hgbc2_class_{codegen}"] = (hgbc2, {**cg, "output": "class"})
    # bitvector: 64-bit masks, checkpoints, every NaN mode; ifelse in several chunks
    rf64 = RandomForestClassifier(n_estimators=12, max_leaf_nodes=64, random_state=0).fit(Xn, y)
    big = RandomForestRegressor(n_estimators=20, max_depth=6, random_state=0).fit(Xn, X[:, 0])
    etr2 = ExtraTreesRegressor(n_estimators=4, max_depth=4, random_state=0).fit(X, np.c_[X[:, 0], X[:, 1]])
    out["rf64_bitvector"] = (rf64, {"tree_codegen": "bitvector"})
    out["rf64"] = rf64
    for codegen in ("auto", "ifelse", "bitvector"):
        out[f"big_{codegen}"] = (big, {"tree_codegen": codegen})
    for codegen in ("table", "bitvector"):
        out[f"etr2_{codegen}"] = (etr2, {"tree_codegen": codegen})
    # a chain-shaped tree nested deeper than the ifelse indentation cap, a single-leaf
    # tree (branchfree falls back to ifelse), a tree over 65536 inputs
    x = np.arange(200, dtype=np.float64)[:, None]
    chain = DecisionTreeRegressor(random_state=0).fit(x, 1.5 ** (x[:, 0] / 2))
    leaf = DecisionTreeRegressor().fit(X, np.ones(len(X)))
    Xw = rng.normal(size=(40, 65537))
    wide = DecisionTreeRegressor(max_depth=2, random_state=0).fit(Xw, Xw[:, 65536])
    out["chain_ifelse"] = (chain, {"tree_codegen": "ifelse"})
    out["chain"] = chain
    for codegen in ("ifelse", "table", "branchfree", "bitvector"):
        out[f"leaf_{codegen}"] = (leaf, {"tree_codegen": codegen})
    out["wide_branchfree"] = (wide, {"tree_codegen": "branchfree"})
    return out


def linear():
    from sklearn.linear_model import LinearRegression, LogisticRegression
    from sklearn.neural_network import MLPClassifier, MLPRegressor
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    X, y = _data()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return {
            "linreg": LinearRegression().fit(X, X[:, 0] * 2),
            "logreg": LogisticRegression(max_iter=500).fit(X, y),
            "mlp_r": make_pipeline(
                StandardScaler(), MLPRegressor(hidden_layer_sizes=(16, 8), max_iter=50, random_state=0)
            ).fit(X, X[:, 1]),
            "mlp_c": MLPClassifier(hidden_layer_sizes=(8,), activation="tanh", max_iter=50, random_state=0).fit(X, y),
        }


def keras_models():
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    import keras
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import StandardScaler

    L = keras.layers
    keras.utils.set_random_seed(0)
    X, _ = _data(k=4)
    out = {}
    inp = keras.Input((4,))
    h = L.Dense(16)(inp)
    h = L.LeakyReLU(0.1)(h)
    for _ in range(3):
        z = L.Dense(16)(h)
        z = L.LeakyReLU(0.1)(z)
        z = L.Dropout(0.1)(z)
        h = L.Add()([h, z])
    out["resgen"] = keras.Model(inp, L.Dense(3)(h))
    out["seq"] = keras.Sequential([keras.Input((4,)), L.Dense(8, activation="relu"),
                                   L.BatchNormalization(), L.Dense(8, activation="tanh"),
                                   L.Dense(3, activation="softmax")])
    clf = keras.Sequential([keras.Input((4,)), L.Dense(8, activation="relu"), L.Dense(1, activation="sigmoid")])
    out["pipe"] = Pipeline([("tX", StandardScaler().fit(X)), ("dnn", clf)])
    return out


FAMILIES = {"scalers": scalers, "preprocessing": preprocessing, "trees": trees, "linear": linear,
            "keras": keras_models}


def generate(outdir: Path, families=None) -> list[Path]:
    import scikinc

    outdir.mkdir(parents=True, exist_ok=True)
    written = []
    for fam in families or FAMILIES:
        for name, m in FAMILIES[fam]().items():
            model, opts = m if isinstance(m, tuple) else (m, {})
            for float_t in FLOAT_TS:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    src = scikinc.convert({name: model}, float_t=float_t, options=opts)
                p = outdir / f"{fam}__{name}__{float_t}.c"
                p.write_text(src)
                written.append(p)
    return written


if __name__ == "__main__":
    generate(Path(sys.argv[1]), sys.argv[2:] or None)
