"""What the generated C computes, computed by the original library in Python.

Used by ``scikinc.validate`` / ``scikinC validate``.  The mapping mirrors the
converters' default outputs:

* transformers -> ``transform``;
* classifiers -> ``predict_proba`` (binary: the P(class 1) column only);
  option ``output="decision_function"`` -> ``decision_function``;
* regressors -> ``predict``;
* Keras models -> ``model(x)``;
* ``Pipeline`` -> every step's ``transform`` then the last step as above;
* ``scikinc.Generative`` -> ``post.inverse_transform(gen(concat(pre(X), rnd)))``;
* ``scikinc.Classifier`` -> ``activation(model(pre(X)))``.
"""
from __future__ import annotations

import numpy as np

from .deploy import Classifier, Generative


def _2d(a) -> np.ndarray:
    a = np.asarray(a, dtype=np.float64)
    return a.reshape(len(a), -1)


def _is_keras(obj) -> bool:
    mod = type(obj).__module__
    return mod.startswith(("keras", "tf_keras", "tensorflow"))


def _inverse(obj, Y):
    if hasattr(obj, "inverse_transform"):
        return _2d(obj.inverse_transform(Y))
    from sklearn.compose import ColumnTransformer

    if isinstance(obj, ColumnTransformer):
        out = np.empty((len(Y), obj.n_features_in_))
        for name, tr, cols in obj.transformers_:
            if tr == "drop" or (name == "remainder" and len(np.atleast_1d(cols)) == 0):
                continue
            block = Y[:, obj.output_indices_[name]]
            out[:, cols] = block if tr == "passthrough" else _inverse(tr, block)
        return out
    raise TypeError(f"{type(obj).__name__} has no inverse_transform")


def predict(obj, X, *, rnd=None, options=None) -> np.ndarray:
    """The Python counterpart of ``obj``'s C function on the rows ``X``."""
    options = options or {}
    X = np.asarray(X, dtype=np.float64)
    if isinstance(obj, Generative):
        if rnd is None:
            raise ValueError("a generative model needs the noise matrix rnd")
        Z = X if obj.preprocessing is None else predict(obj.preprocessing, X)
        Z = np.hstack([Z, rnd] if obj.noise_position == "after" else [rnd, Z])
        Y = predict(obj.generator, Z)
        return Y if obj.postprocessing is None else _inverse(obj.postprocessing, Y)
    if isinstance(obj, Classifier):
        Z = X if obj.preprocessing is None else predict(obj.preprocessing, X)
        Y = predict(obj.model, Z)
        if obj.activation == "sigmoid":
            return 1 / (1 + np.exp(-Y))
        if obj.activation == "softmax":
            E = np.exp(Y - Y.max(1, keepdims=True))
            return E / E.sum(1, keepdims=True)
        return Y
    if _is_keras(obj):
        return _2d(np.asarray(obj(X.astype(np.float32))))
    if type(obj).__module__.startswith("catboost."):
        from .converters.catboost import reference_predict

        return reference_predict(obj, X, options)
    from sklearn.base import BaseEstimator, is_classifier
    from sklearn.pipeline import Pipeline

    if isinstance(obj, Pipeline):
        for _, step in obj.steps[:-1]:
            if step is not None and step != "passthrough":
                X = _2d(step.transform(X))
        last = obj.steps[-1][1]
        return X if last is None or last == "passthrough" else predict(last, X, options=options)
    if type(obj).__module__ == "xgboost.core" and type(obj).__name__ == "Booster":  # predict needs a DMatrix
        from .loaders.xgboost import XGBoostModel

        obj = XGBoostModel.from_booster(obj)
    out = options.get("output", "proba")
    if out == "decision_function" and hasattr(obj, "decision_function"):
        return _2d(obj.decision_function(X))
    if isinstance(obj, BaseEstimator) and is_classifier(obj):
        if out == "class":
            return _2d(np.searchsorted(obj.classes_, obj.predict(X)))
        if hasattr(obj, "predict_proba"):
            P = _2d(obj.predict_proba(X))
            return P[:, 1:] if P.shape[1] == 2 and out != "proba_full" else P
        return _2d(obj.decision_function(X))
    if hasattr(obj, "transform"):
        return _2d(obj.transform(X))
    if hasattr(obj, "predict"):
        return _2d(obj.predict(X))
    raise TypeError(f"no Python reference for {type(obj).__name__}")
