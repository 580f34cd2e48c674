"""Linear models: one ``Dense`` op (``X @ coef_.T + intercept_``) and the
model's link.  Options: ``output`` = ``"proba"`` (default where sklearn has
``predict_proba``; binary → P(class 1) alone), ``"proba_full"``,
``"decision_function"`` (default where it has not), ``"class"`` (class index
as a float), ``"predict"`` (regressors)."""
from __future__ import annotations

import numpy as np
from sklearn import linear_model as lm
from sklearn.svm import LinearSVC, LinearSVR

from ..errors import ConversionError
from ..ir import Activation, Affine, Clip, Dense
from ..ir.heads import ArgMax, Normalize
from ..registry import register_converter
from .heads import binary_full, classifier_head


def _dense(obj, g, x):
    coef = np.asarray(obj.coef_, dtype=np.float64)
    coef = coef.reshape(1, -1) if coef.ndim == 1 else coef
    b = np.broadcast_to(np.asarray(obj.intercept_, dtype=np.float64).reshape(-1), (coef.shape[0],))
    return g.add(Dense(coef.T, b), x)


# ---------------------------------------------------------------------------
# regressors
# ---------------------------------------------------------------------------

_REGRESSORS = [lm.LinearRegression, lm.Ridge, lm.RidgeCV, lm.Lasso, lm.LassoCV, lm.ElasticNet, lm.ElasticNetCV,
               lm.SGDRegressor, LinearSVR, lm.HuberRegressor, lm.BayesianRidge, lm.ARDRegression, lm.Lars,
               lm.LassoLars, lm.LassoLarsCV, lm.LassoLarsIC, lm.OrthogonalMatchingPursuit, lm.QuantileRegressor,
               lm.TheilSenRegressor, lm.MultiTaskLasso, lm.MultiTaskElasticNet, lm.PassiveAggressiveRegressor]


def linear_regressor(obj, g, x, ctx):
    ctx.option("output", "predict", choices=("predict",))
    return _dense(obj, g, x)


for _cls in _REGRESSORS:
    register_converter(_cls, notes="predict = X @ coef_.T + intercept_ (multi-target too)")(linear_regressor)


@register_converter(lm.PoissonRegressor, notes="predict = exp(X @ coef_ + intercept_)")
@register_converter(lm.GammaRegressor, notes="predict = exp(X @ coef_ + intercept_)")
@register_converter(lm.TweedieRegressor, notes="predict with identity or log link")
def glm_regressor(obj, g, x, ctx):
    out = ctx.option("output", "predict", choices=("predict", "decision_function"))
    y = _dense(obj, g, x)
    if out == "decision_function":
        return y
    link = type(obj._base_loss.link).__name__
    if link == "LogLink":
        return g.add(Activation("exp"), y)
    if link == "IdentityLink":
        return y
    raise ConversionError(f"{type(obj).__name__}: unsupported link {link}")


# ---------------------------------------------------------------------------
# classifiers
# ---------------------------------------------------------------------------


def _class(g, d):
    # sklearn LinearClassifierMixin.predict: scores > 0 (binary), argmax
    return g.add(ArgMax(0.0, inclusive=False), d)


@register_converter(lm.LogisticRegression, notes=(
    "binary → P(class 1) (sigmoid), multiclass → softmax; output=proba|proba_full|decision_function|class"))
@register_converter(lm.LogisticRegressionCV, notes="as LogisticRegression")
def logistic_regression(obj, g, x, ctx):
    out = ctx.option("output", "proba", choices=("proba", "proba_full", "decision_function", "class"))
    d = _dense(obj, g, x)
    if out == "class":
        return _class(g, d)
    return classifier_head(g, d, "logit" if d.width == 1 else "softmax", out)


@register_converter(lm.SGDClassifier, notes=(
    "decision_function/class for every loss; proba for log_loss (sigmoid, OvR-normalised) and "
    "modified_huber; output=proba|proba_full|decision_function|class"))
def sgd_classifier(obj, g, x, ctx):
    has_proba = obj.loss in ("log_loss", "modified_huber")
    allowed = ("proba", "proba_full", "decision_function", "class") if has_proba else ("decision_function", "class")
    out = ctx.option("output", "proba" if has_proba else "decision_function", choices=allowed)
    d = _dense(obj, g, x)
    if out == "class":
        return _class(g, d)
    if out == "decision_function":
        return d
    if obj.loss == "log_loss":
        return classifier_head(g, d, "logit" if d.width == 1 else "ovr", out)
    # modified_huber: (clip(d, -1, 1) + 1) / 2, normalised for multiclass
    p = g.add(Clip(d.width, -1.0, 1.0), d)
    p = g.add(Affine(d.width, sub=np.full(d.width, -1.0), div=np.full(d.width, 2.0)), p)
    if d.width == 1:
        return binary_full(g, p) if out == "proba_full" else p
    return g.add(Normalize(), p)


def decision_only(obj, g, x, ctx):
    out = ctx.option("output", "decision_function", choices=("decision_function", "class"))
    d = _dense(obj, g, x)
    return _class(g, d) if out == "class" else d


for _cls in (LinearSVC, lm.RidgeClassifier, lm.RidgeClassifierCV, lm.Perceptron, lm.PassiveAggressiveClassifier):
    register_converter(_cls, notes="decision_function (default) or class; no predict_proba in sklearn")(decision_only)
