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
    from sklearn.ensemble import (GradientBoostingClassifier, GradientBoostingRegressor,
                                  HistGradientBoostingClassifier, RandomForestRegressor)

    X, y = _data()
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
            "mlp_r": make_pipeline(StandardScaler(), MLPRegressor(hidden_layer_sizes=(16, 8), max_iter=50, random_state=0)).fit(X, X[:, 1]),
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
