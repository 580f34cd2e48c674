"""Converter options scoped per symbol and per step (scikinc.options): the
nested and dotted forms, precedence, unscoped options that only some models
accept, the CLI form, and every bad option with its message."""
import os
import pickle
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from sklearn import linear_model as lm
from sklearn.compose import ColumnTransformer, TransformedTargetRegressor
from sklearn.ensemble import GradientBoostingClassifier, GradientBoostingRegressor
from sklearn.neural_network import MLPRegressor
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import MinMaxScaler, QuantileTransformer, StandardScaler
from util import as_type, build, rows

import scikinc
from scikinc import OptionError

ROOT = Path(__file__).resolve().parent.parent


def run(*args, cwd=None, optimize=False):
    env = dict(os.environ, PYTHONPATH=str(ROOT / "src"))
    py = [sys.executable] + (["-O"] if optimize else [])
    return subprocess.run([*py, "-m", "scikinc", *map(str, args)], capture_output=True, text=True, cwd=cwd,
                          env=env)


def _classes(m, X):
    return np.searchsorted(m.classes_, m.predict(X)).astype(np.float32)


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(7)
    X = rng.normal(size=(1200, 4)) * [1, 3, 0.5, 10] + [0, 1, -2, 5]
    y3 = np.digitize(X[:, 0] + 0.3 * X[:, 1], [-0.5, 0.8])
    yr = X[:, 0] * 2 - np.sin(X[:, 1]) + 0.01 * X[:, 3]
    return X, y3, yr


@pytest.fixture(scope="module")
def gb(data):
    X, y3, yr = data
    return (GradientBoostingClassifier(n_estimators=20, max_depth=3, random_state=0).fit(X, y3),
            GradientBoostingRegressor(n_estimators=20, max_depth=3, random_state=0).fit(X, yr))


@pytest.fixture(scope="module")
def pipes(data):
    X, y3, yr = data
    return {"p": Pipeline([("sc", StandardScaler()), ("clf", lm.LogisticRegression(max_iter=500))]).fit(X, y3),
            "q": lm.LogisticRegression(max_iter=500).fit(X, y3)}


# ---------------------------------------------------------------------------
# scoped options give each model its own output
# ---------------------------------------------------------------------------


def test_two_models_scoped_output(tmp_path, data, gb):
    """The issue's example: options={"a": {"output": "class"}} on a classifier
    and a regressor in one file; a gives class indices, b its regression value."""
    X, y3, yr = data
    gbc, gbr = gb
    models = {"a": gbc, "b": gbr}
    fns = build(models, tmp_path, options={"a": {"output": "class"}})
    R = rows(X, 2000)
    Rt = as_type(R, "float")
    assert fns["a"].n_outputs == 1 and fns["b"].n_outputs == 1
    assert np.array_equal(fns["a"](Rt)[:, 0], _classes(gbc, Rt))
    np.testing.assert_allclose(fns["b"](Rt)[:, 0], gbr.predict(Rt), rtol=1e-5, atol=1e-5)
    # without the option a gives its probabilities (3 classes)
    plain = build(models, tmp_path, stem="plain")
    np.testing.assert_allclose(plain["a"](Rt), gbc.predict_proba(Rt), atol=1e-6)
    # the dotted form is the same option
    src = scikinc.convert(models, options={"a": {"output": "class"}})
    assert scikinc.convert(models, options={"a.output": "class"}) == src
    assert src != scikinc.convert(models)


def test_unscoped_output_class_on_a_classifier_and_a_regressor(tmp_path, data, gb):
    """The issue's failing call: options={"output": "class"} unscoped; the
    regressor, which has no class output, keeps predict instead of failing."""
    X, y3, yr = data
    gbc, gbr = gb
    fns = build({"a": gbc, "b": gbr}, tmp_path, options={"output": "class"})
    Rt = as_type(rows(X, 2000), "float")
    assert np.array_equal(fns["a"](Rt)[:, 0], _classes(gbc, Rt))
    np.testing.assert_allclose(fns["b"](Rt)[:, 0], gbr.predict(Rt), rtol=1e-5, atol=1e-5)
    with pytest.raises(OptionError, match=r"GradientBoostingRegressor: output='class' is not available for this "
                                          r"model; choose one of 'predict', 'decision_function', 'leaves' \(at b\)"):
        scikinc.convert({"b": gbr}, options={"output": "class"})  # nobody can use it: an error


def test_unscoped_option_reaches_only_models_that_accept_it(tmp_path, data):
    """output=class unscoped: classifiers give class indices, the regressors
    (which have no such output) keep predict."""
    X, y3, yr = data
    models = {"lr": lm.LogisticRegression(max_iter=500).fit(X, y3), "ridge": lm.Ridge().fit(X, yr),
              "mlpr": MLPRegressor(hidden_layer_sizes=(8,), max_iter=300, random_state=0).fit(X, yr)}
    fns = build(models, tmp_path, float_t="double", options={"output": "class"})
    R = rows(X, 1500)
    assert np.array_equal(fns["lr"](R)[:, 0], _classes(models["lr"], R).astype(np.float64))
    for k in ("ridge", "mlpr"):
        np.testing.assert_allclose(fns[k](R)[:, 0], models[k].predict(R), rtol=1e-12, atol=1e-9, err_msg=k)
    # a scoped value wins over the unscoped one
    both = build(models, tmp_path, float_t="double", stem="both",
                 options={"output": "class", "lr": {"output": "decision_function"}})
    np.testing.assert_allclose(both["lr"](R), models["lr"].decision_function(R), rtol=1e-12, atol=1e-9)


def test_pipeline_step_scope(tmp_path, data, pipes):
    X, y3, yr = data
    p, q = pipes["p"], pipes["q"]
    R = rows(X, 1500)
    forms = [{"p": {"clf": {"output": "decision_function"}}}, {"p": {"clf.output": "decision_function"}},
             {"p.clf.output": "decision_function"}, {"p.clf": {"output": "decision_function"}}]
    srcs = {scikinc.convert(pipes, float_t="double", options=f) for f in forms}
    assert len(srcs) == 1  # four spellings, one option
    fns = build(pipes, tmp_path, float_t="double", options=forms[0])
    np.testing.assert_allclose(fns["p"](R), p.decision_function(R), rtol=1e-10, atol=1e-9)
    np.testing.assert_allclose(fns["q"](R), q.predict_proba(R), rtol=1e-10, atol=1e-12)  # untouched
    # symbol scope reaches the steps inside; the step scope wins over it and over the unscoped value
    opts = {"output": "proba", "p": {"output": "class", "clf": {"output": "decision_function"}}, "q.output": "class"}
    fns = build(pipes, tmp_path, float_t="double", stem="prec", options=opts)
    np.testing.assert_allclose(fns["p"](R), p.decision_function(R), rtol=1e-10, atol=1e-9)
    assert np.array_equal(fns["q"](R)[:, 0], _classes(q, R).astype(np.float64))
    fns = build(pipes, tmp_path, float_t="double", stem="sym", options={"p.output": "class"})
    assert np.array_equal(fns["p"](R)[:, 0], _classes(p, R).astype(np.float64))
    np.testing.assert_allclose(fns["q"](R), q.predict_proba(R), rtol=1e-10, atol=1e-12)


def test_nested_pipeline_column_transformer_and_wrappers(tmp_path, data):
    """Scopes go through nested Pipelines, ColumnTransformer parts,
    TransformedTargetRegressor and scikinc.Classifier."""
    X, y3, yr = data
    inner = Pipeline([("ct", ColumnTransformer([("a", StandardScaler(), [0, 1]), ("b", MinMaxScaler(), [2, 3])])),
                      ("clf", lm.LogisticRegression(max_iter=500))])
    outer = Pipeline([("qt", QuantileTransformer(n_quantiles=100)), ("inner", inner)]).fit(X, y3)
    ttr = TransformedTargetRegressor(regressor=lm.PoissonRegressor(), transformer=MinMaxScaler((0.1, 2.0)))
    ttr.fit(X, np.exp(yr / 5))
    sig = scikinc.Classifier(lm.LogisticRegression(max_iter=500).fit(StandardScaler().fit_transform(X), y3 == 1),
                             preprocessing=StandardScaler().fit(X), activation="sigmoid")
    opts = {"outer.inner.clf.output": "class", "ttr": {"regressor": {"output": "decision_function"}},
            "sig.model.output": "decision_function"}
    fns = build({"outer": outer, "ttr": ttr, "sig": sig}, tmp_path, float_t="double", options=opts)
    R = rows(X, 1500)
    assert np.array_equal(fns["outer"](R)[:, 0], _classes(outer, R).astype(np.float64))
    # TTR with the regressor's raw linear predictor: transformer⁻¹(X @ coef + b)
    raw = R @ ttr.regressor_.coef_ + ttr.regressor_.intercept_
    np.testing.assert_allclose(fns["ttr"](R)[:, 0], ttr.transformer_.inverse_transform(raw[:, None])[:, 0],
                               rtol=1e-10, atol=1e-10)
    # Classifier: sigmoid(decision_function) is the probability of class 1
    Z = sig.preprocessing.transform(R)
    np.testing.assert_allclose(fns["sig"](R)[:, 0], sig.model.predict_proba(Z)[:, 1], rtol=1e-10, atol=1e-12)


# ---------------------------------------------------------------------------
# bad options: clear errors
# ---------------------------------------------------------------------------


def test_option_errors(data, pipes, gb):
    X, y3, yr = data
    gbc, gbr = gb
    ridge = lm.Ridge().fit(X, yr)
    cases = [
        # scope naming an unknown symbol / step
        ({"c": {"output": "class"}}, r"option scope 'c' names no symbol: 'c' is unknown; the symbols are: p, q"),
        ({"p.clff.output": "class"}, r"option scope 'p.clff': no step 'clff' of 'p' \(Pipeline\); "
                                     r"its steps are: sc, clf"),
        ({"q": {"clf": {"output": "class"}}}, r"no step 'clf' of 'q' \(LogisticRegression\); it has no steps"),
        # misspelt keys, unscoped and scoped
        ({"outptu": "class"}, r"option 'outptu' is not read by any converter \(misspelt\?\); "
                              r"the converters here read: .*output"),
        ({"p.clf.outptu": "class"}, r"option 'p.clf.outptu' is not read by any converter in 'p.clf' "
                                    r"\(LogisticRegression\)"),
        # values no converter accepts
        ({"output": "klass"}, r"LogisticRegression: output='klass' is not available for this model; "
                              r"choose one of 'proba', 'proba_full', 'decision_function', 'class' \(at p.clf\)"),
        ({"q.output": "predict"}, r"LogisticRegression: q.output='predict' is not available"),
        # given twice
        ({"q.output": "class", "q": {"output": "proba"}}, r"option 'q.output' is given twice, as 'class' and 'proba'"),
        # malformed
        ("output=class", r"options must be a dict"),
        ([("output", "class")], r"options must be a dict"),
        ({3: "x"}, r"option names must be non-empty strings, got 3"),
        ({"q": {"": 1}}, r"option names must be non-empty strings, got '' in the scope 'q'"),
        ({"q..output": "class"}, r"option 'q..output': empty name or blanks between dots"),
    ]
    for opts, msg in cases:
        with pytest.raises(OptionError, match=msg):
            scikinc.convert(pipes, options=opts)
    # an option on a symbol whose converters read no option at all
    with pytest.raises(OptionError, match=r"option 's.output' is not read by any converter in 's' "
                                          r"\(StandardScaler\) \(misspelt\?\); the converters in 's' "):
        scikinc.convert({"s": StandardScaler().fit(X), "q": pipes["q"]}, options={"s.output": "class"})
    # a regressor alone cannot honour an unscoped output=class: refused, not ignored
    with pytest.raises(OptionError, match=r"Ridge: output='class' is not available for this model; "
                                          r"choose one of 'predict' \(at ridge\)"):
        scikinc.convert({"ridge": ridge}, options={"output": "class"})
    # OptionError is a ConversionError (and a ValueError): older except clauses keep working
    assert issubclass(OptionError, scikinc.ConversionError) and issubclass(OptionError, ValueError)


def test_unknown_convert_keyword_is_an_error(pipes):
    with pytest.raises(scikinc.ConversionError, match=r"unexpected keyword argument\(s\) 'float_T'"):
        scikinc.convert(pipes, float_T="double")
    with pytest.raises(scikinc.ConversionError, match="trust must be a list of type names"):
        scikinc.convert(pipes, trust="sklearn.Foo")


# ---------------------------------------------------------------------------
# command line
# ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def files(tmp_path_factory, data, gb, pipes):
    d = tmp_path_factory.mktemp("opt")
    X, *_ = data
    for name, m in (("gbc", gb[0]), ("gbr", gb[1]), ("pipe", pipes["p"])):
        with open(d / f"{name}.pkl", "wb") as f:
            pickle.dump(m, f)
    np.save(d / "X.npy", rows(X, 1200))
    return d


def test_cli_dotted_options(files, data, gb, pipes, tmp_path):
    X, *_ = data
    gbc, gbr = gb
    so = tmp_path / "m.so"
    r = run("compile", f"a={files / 'gbc.pkl'}", f"b={files / 'gbr.pkl'}", f"p={files / 'pipe.pkl'}",
            "--option", "a.output=class", "--option", "p.clf.output=decision_function", "-o", so)
    assert r.returncode == 0, r.stderr
    R = as_type(rows(X, 1500), "float")
    assert np.array_equal(scikinc.load(so, "a")(R)[:, 0], _classes(gbc, R))
    np.testing.assert_allclose(scikinc.load(so, "b")(R)[:, 0], gbr.predict(R), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(scikinc.load(so, "p")(R), pipes["p"].decision_function(R), rtol=1e-4, atol=1e-4)
    # the CLI's C equals the API's for the same options
    r = run(f"a={files / 'gbc.pkl'}", f"b={files / 'gbr.pkl'}", "--option", "a.output=class")
    assert r.returncode == 0 and r.stdout == scikinc.convert({"a": gbc, "b": gbr}, options={"a.output": "class"})


def test_cli_validate_follows_scoped_options(files):
    r = run("validate", f"p={files / 'pipe.pkl'}", "--data", files / "X.npy", "--option",
            "p.clf.output=decision_function", "--atol", "1e-4", "--rtol", "1e-4")
    assert r.returncode == 0 and "PASS" in r.stdout, r.stdout + r.stderr
    r = run("validate", f"p={files / 'pipe.pkl'}", "--data", files / "X.npy", "--option", "p.clf.outptu=x")
    assert r.returncode == 1 and "option 'p.clf.outptu' is not read by any converter" in r.stderr


@pytest.mark.parametrize("opts,message", [
    (["c.output=class"], "option scope 'c' names no symbol: 'c' is unknown; the symbols are: a, b, p"),
    (["p.clff.output=class"], "no step 'clff' of 'p' (Pipeline); its steps are: sc, clf"),
    (["a.clf.output=class"], "no step 'clf' of 'a' (GradientBoostingClassifier); it has no steps"),
    (["outptu=class"], "option 'outptu' is not read by any converter (misspelt?)"),
    (["p.output=klass"], "LogisticRegression: p.output='klass' is not available for this model; choose one of "
                         "'proba', 'proba_full', 'decision_function', 'class' (at p.clf)"),
    (["=class"], "the key before '=' is empty"),
    (["a.output"], "--option needs KEY=VALUE"),
    (["a..output=class"], "empty name or blanks between dots"),
    (["a.output=class", "a.output=proba"], "--option a.output is given twice, as 'class' and 'proba'"),
])
def test_cli_option_errors(files, opts, message):
    args = [a for o in opts for a in ("--option", o)]
    r = run(f"a={files / 'gbc.pkl'}", f"b={files / 'gbr.pkl'}", f"p={files / 'pipe.pkl'}", *args)
    assert r.returncode == 1, r.stderr
    assert r.stderr.startswith("scikinC: error:") and message in r.stderr, r.stderr
    assert "Traceback" not in r.stderr and r.stdout == ""


@pytest.mark.slow
def test_cli_invariant_error_is_clean_under_python_O(files, data, tmp_path):
    """An IR invariant (a Dense fed the wrong width: a LogisticRegression whose
    coef_ lost a column) is an explicit check, not an assert: still a clean
    error when Python runs with -O."""
    X, y3, yr = data
    bad = lm.LogisticRegression(max_iter=500).fit(X, y3)
    bad.coef_ = bad.coef_[:, :3]
    with open(tmp_path / "bad.pkl", "wb") as f:
        pickle.dump(bad, f)
    for optimize in (False, True):
        r = run(tmp_path / "bad.pkl", optimize=optimize)
        assert r.returncode == 1 and r.stdout == ""
        assert r.stderr.startswith("scikinC: error:") and "Traceback" not in r.stderr, r.stderr
        assert "Dense" in r.stderr and "[4]" in r.stderr and len(r.stderr.strip().splitlines()) == 1, r.stderr


def test_fuse_option_scoped_per_symbol(tmp_path, data):
    """fuse (read once per symbol) scoped to one symbol: its dense layers are
    not fused, the other symbol's are; both still match sklearn."""
    X, y3, yr = data
    m = MLPRegressor(hidden_layer_sizes=(8, 8), max_iter=300, random_state=0).fit(X, yr)
    models = {"fused": m, "plain": m}
    src = scikinc.convert(models, float_t="double", options={"plain.fuse": False})
    assert src != scikinc.convert(models, float_t="double")  # the option changed the C...
    assert src == scikinc.convert(models, float_t="double", options={"plain.fuse": False, "fused.fuse": True})
    assert src == scikinc.convert(models, float_t="double", options={"fuse": False, "fused": {"fuse": True}})
    fns = build(models, tmp_path, float_t="double", options={"plain": {"fuse": False}})
    R = rows(X, 1500)
    for k in models:
        np.testing.assert_allclose(fns[k](R)[:, 0], m.predict(R), rtol=1e-12, atol=1e-9, err_msg=k)
    with pytest.raises(OptionError, match=r"plain.fuse='maybe' is not available; choose one of True, False "
                                          r"\(at plain\)"):
        scikinc.convert(models, options={"plain.fuse": "maybe"})
