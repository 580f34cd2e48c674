"""Linear models and MLPs vs sklearn (decision function, probabilities,
classes), float and double."""
import warnings

import numpy as np
import pytest
from sklearn import linear_model as lm
from sklearn.exceptions import ConvergenceWarning
from sklearn.neural_network import MLPClassifier, MLPRegressor
from sklearn.svm import LinearSVC, LinearSVR
from util import as_type, build, check_contract, rows

import scikinc
from scikinc.errors import ConversionError


@pytest.fixture(autouse=True)
def _quiet():
    from threadpoolctl import threadpool_limits

    with warnings.catch_warnings(), threadpool_limits(1):
        warnings.simplefilter("ignore", ConvergenceWarning)
        yield


def _data(seed=0, n=800, k=5):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, k)) * [1, 2, 0.5, 1, 3]
    s = X @ rng.normal(size=k)
    y2 = (s + rng.normal(size=n) * 0.5 > 0).astype(int)
    y3 = np.digitize(s + rng.normal(size=n) * 0.5, [-1, 1])
    return X, s, y2, y3


TOL = {"float": 2e-5, "double": 1e-10}


def _close(got, exp, float_t, name):
    exp = np.asarray(exp, dtype=np.float64).reshape(len(got), -1)
    got = np.asarray(got, dtype=np.float64)
    fin = np.isfinite(exp) & (np.abs(exp) < 1e30)  # exp() overflow: both sides huge
    assert np.all(np.abs(got[~fin]) > 1e30), name
    scale = 1 + np.abs(exp[fin]).max()
    np.testing.assert_allclose(got[fin], exp[fin], rtol=TOL[float_t], atol=TOL[float_t] * scale, err_msg=name)


@pytest.mark.parametrize("float_t", ["float", "double"])
def test_linear_regressors(tmp_path, float_t):
    X, s, _, _ = _data()
    y = s + 3
    Y2 = np.c_[y, -y]
    models = {
        "ols": lm.LinearRegression().fit(X, y),
        "ols2": lm.LinearRegression().fit(X, Y2),
        "ridge": lm.Ridge(alpha=2).fit(X, y),
        "lasso": lm.Lasso(alpha=0.05).fit(X, y),
        "enet": lm.ElasticNet(alpha=0.05, l1_ratio=0.3).fit(X, y),
        "sgdr": lm.SGDRegressor(random_state=0).fit(X, y),
        "svr": LinearSVR(random_state=0, max_iter=5000).fit(X, y),
        "pois": lm.PoissonRegressor().fit(X, np.exp(s / 4)),
        "mlpr": MLPRegressor(hidden_layer_sizes=(16, 8), max_iter=200, random_state=0).fit(X, y),
        "mlpr_id": MLPRegressor(hidden_layer_sizes=(8,), activation="identity", max_iter=100,
                                random_state=0).fit(X, Y2),
        "mlpr_tanh": MLPRegressor(hidden_layer_sizes=(8,), activation="tanh", max_iter=100,
                                  random_state=0).fit(X, y),
    }
    R = rows(X, 1500)
    fns = check_contract(models, tmp_path, float_t=float_t, X=R)
    Rt = as_type(R, float_t)
    for name, m in models.items():
        _close(fns[name](Rt), m.predict(Rt), float_t, name)


@pytest.mark.parametrize("float_t", ["float", "double"])
def test_linear_and_mlp_classifiers(tmp_path, float_t):
    X, s, y2, y3 = _data(1)
    models = {}
    for tag, y in (("2", y2), ("3", y3)):
        models.update({
            "lr" + tag: lm.LogisticRegression(C=0.5).fit(X, y),
            "sgdlog" + tag: lm.SGDClassifier(loss="log_loss", random_state=0).fit(X, y),
            "sgdmh" + tag: lm.SGDClassifier(loss="modified_huber", random_state=0).fit(X, y),
            "mlp" + tag: MLPClassifier(hidden_layer_sizes=(12,), max_iter=200, random_state=0).fit(X, y),
            "mlplog" + tag: MLPClassifier(hidden_layer_sizes=(6, 6), activation="logistic", max_iter=100,
                                          random_state=0).fit(X, y),
        })
    R = rows(X, 1500)
    Rt = as_type(R, float_t)
    fns = check_contract(models, tmp_path, float_t=float_t, X=R)
    full = build(models, tmp_path, float_t=float_t, stem="full", options={"output": "proba_full"})
    dec = build({k: v for k, v in models.items() if not k.startswith("mlp")}, tmp_path, float_t=float_t,
                stem="dec", options={"output": "decision_function"})
    cls = build(models, tmp_path, float_t=float_t, stem="cls", options={"output": "class"})
    for name, m in models.items():
        p = m.predict_proba(Rt)
        got = fns[name](Rt)
        _close(got, p[:, 1:] if p.shape[1] == 2 else p, float_t, name)
        _close(full[name](Rt), p, float_t, name)
        if name in dec:
            d = m.decision_function(Rt)
            _close(dec[name](Rt), d, float_t, name)
            safe = np.abs(d).reshape(len(d), -1).min(1) > 1e-3 if d.ndim == 1 else np.ones(len(d), bool)
        else:
            safe = np.abs(p - 0.5).min(1) > 1e-4 if p.shape[1] == 2 else np.ones(len(p), bool)
        c = cls[name](Rt)[:, 0]
        expect = np.searchsorted(m.classes_, m.predict(Rt))
        assert np.mean(c[safe] == expect[safe]) == 1.0, name
        assert np.mean(c == expect) > 0.995, name


@pytest.mark.parametrize("float_t", ["float", "double"])
def test_decision_only_classifiers(tmp_path, float_t):
    X, s, y2, y3 = _data(2)
    models = {"svc2": LinearSVC(random_state=0).fit(X, y2), "svc3": LinearSVC(random_state=0).fit(X, y3),
              "ridgec": lm.RidgeClassifier().fit(X, y3), "sgdhinge": lm.SGDClassifier(random_state=0).fit(X, y2)}
    R = rows(X, 1200)
    Rt = as_type(R, float_t)
    fns = check_contract(models, tmp_path, float_t=float_t, X=R)
    for name, m in models.items():
        _close(fns[name](Rt), m.decision_function(Rt), float_t, name)


def test_linear_errors():
    X, s, y2, y3 = _data(3)
    with pytest.raises(ConversionError, match=r"LinearSVC: output='proba' is not available.*'decision_function'"):
        scikinc.convert(LinearSVC().fit(X, y2), options={"output": "proba"})
    with pytest.raises(ConversionError, match="SGDClassifier: output='proba'"):
        scikinc.convert(lm.SGDClassifier().fit(X, y2), options={"output": "proba"})
    with pytest.raises(ConversionError, match="output='class' is not available"):
        scikinc.convert(lm.Ridge().fit(X, s), options={"output": "class"})
    ml = MLPClassifier(hidden_layer_sizes=(4,), max_iter=20).fit(X, np.c_[y2, 1 - y2, y2])
    with pytest.raises(ConversionError, match="multilabel"):
        scikinc.convert(ml, options={"output": "class"})
