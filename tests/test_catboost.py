"""CatBoost converters and model files against CatBoost itself.

Every model is fitted here (thread_count=1) and compared with CatBoost's own
predict (RawFormulaVal / Probability / Class / Exponent, calc_leaf_indexes) on
>= 1000 rows with NaN and out-of-range values: the IR tier (numpy evaluator)
for every model and output, compiled float / double / long double builds of
the same, the 100k-row exactness test on the models' own borders (at, one
float32 and one float64 ulp above and below, NaN, +-inf) for every
tree_codegen strategy, the .cbm/.json loaders and the CLI, and every refusal
with its message."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler
from util import check_contract, rows, slow_except

import scikinc
from scikinc.converters.catboost import model_json, parse_model, tree_layouts
from scikinc.core import build_entries
from scikinc.errors import ConversionError, ModelFileError, NotFittedError, OptionError
from scikinc.io import load_model_file
from scikinc.ir.evaluate import evaluate

catboost = pytest.importorskip("catboost")

ROOT = Path(__file__).resolve().parent.parent
KW = dict(verbose=0, thread_count=1, random_seed=0, allow_writing_files=False)


# ---------------------------------------------------------------------------
# models and rows
# ---------------------------------------------------------------------------


def _data(seed=0, n=1500, k=5):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, k))
    X[:, 3] = np.round(X[:, 3] * 2) / 2  # ties: values exactly on borders
    X[:, 4] = rng.exponential(size=n) * 100
    Xn = X.copy()
    Xn[rng.random(X.shape) < 0.08] = np.nan
    z = np.nan_to_num(Xn)
    return X, Xn, z


@pytest.fixture(scope="module")
def models():
    X, Xn, z = _data()
    yb = (z[:, 0] + z[:, 1] * z[:, 2] + 0.3 * np.sin(z[:, 3]) > 0).astype(int)
    ym = np.digitize(z[:, 0] + z[:, 2] - 0.5 * z[:, 3], [-0.7, 0.6])
    yr = 2 * z[:, 0] + z[:, 1] ** 2 + np.log1p(z[:, 4]) + 3
    ypos = np.exp(0.5 * z[:, 0]) + np.abs(z[:, 1])
    m = {}
    m["bin"] = catboost.CatBoostClassifier(iterations=25, depth=5, nan_mode="Min", **KW).fit(Xn, yb)
    m["bin_thr"] = catboost.CatBoostClassifier(iterations=15, depth=4, nan_mode="Max", **KW).fit(Xn, yb)
    m["bin_thr"].set_probability_threshold(0.3)
    m["bin_thr"].set_scale_and_bias(0.8, [0.25])
    m["xent"] = catboost.CatBoostClassifier(iterations=15, depth=3, loss_function="CrossEntropy",
                                            **KW).fit(Xn, yb)
    m["multi"] = catboost.CatBoostClassifier(iterations=20, depth=4, loss_function="MultiClass", nan_mode="Max",
                                             class_names=["lo", "mid", "hi"], **KW).fit(
                                                 Xn, np.array(["lo", "mid", "hi"])[ym])
    m["ova"] = catboost.CatBoostClassifier(iterations=15, depth=3, loss_function="MultiClassOneVsAll",
                                           **KW).fit(Xn, ym)
    m["mlabel"] = catboost.CatBoostClassifier(iterations=12, depth=3, loss_function="MultiLogloss", **KW).fit(
        Xn, np.stack([yb, ym == 2], 1).astype(int))
    m["lossguide"] = catboost.CatBoostClassifier(iterations=15, depth=6, grow_policy="Lossguide", max_leaves=13,
                                                 loss_function="MultiClass", min_data_in_leaf=10, **KW).fit(Xn, ym)
    m["rmse"] = catboost.CatBoostRegressor(iterations=20, depth=6, **KW).fit(Xn, yr)  # boost_from_average: bias
    m["forbid"] = catboost.CatBoostRegressor(iterations=15, depth=4, nan_mode="Forbidden", **KW).fit(X, yr)
    m["depthwise"] = catboost.CatBoostRegressor(iterations=15, depth=6, grow_policy="Depthwise", nan_mode="Max",
                                                min_data_in_leaf=15, **KW).fit(Xn, yr)
    m["quantile"] = catboost.CatBoostRegressor(iterations=12, depth=3, loss_function="Quantile:alpha=0.8",
                                               **KW).fit(Xn, yr)
    m["poisson"] = catboost.CatBoostRegressor(iterations=15, depth=3, loss_function="Poisson", **KW).fit(Xn, ypos)
    m["tweedie"] = catboost.CatBoostRegressor(iterations=12, depth=3, loss_function="Tweedie:variance_power=1.4",
                                              **KW).fit(Xn, ypos)
    m["multirmse"] = catboost.CatBoostRegressor(iterations=15, depth=3, loss_function="MultiRMSE", **KW).fit(
        Xn, np.stack([yr, z[:, 1] - z[:, 2]], 1))
    m["uncert"] = catboost.CatBoostRegressor(iterations=12, depth=3, loss_function="RMSEWithUncertainty",
                                             **KW).fit(Xn, yr)
    m["ranker"] = catboost.CatBoostRanker(iterations=12, depth=3, loss_function="YetiRank", **KW).fit(
        Xn, np.clip(np.round(yr), 0, 6), group_id=np.arange(len(Xn)) // 15)
    m["generic"] = catboost.CatBoost(dict(iterations=12, depth=3, loss_function="Logloss", **KW)).fit(Xn, yb)
    return m, X


def noisy_rows(X, seed=1):
    """rows() of the clean data, NaN sprinkled over a quarter of them, +-inf."""
    R = rows(X, 2000, seed)
    rng = np.random.default_rng(seed)
    R[rng.random(R.shape) < 0.06] = np.nan
    R[rng.random(R.shape) < 0.01] = np.inf
    R[rng.random(R.shape) < 0.01] = -np.inf
    return R


def _borders(obj):
    """{input column: float32 borders used by the trees}."""
    d = model_json(obj)
    flat = {f["feature_index"]: f["flat_feature_index"] for f in d["features_info"]["float_features"]}
    out: dict[int, set] = {}

    def add(s):
        out.setdefault(flat[s["float_feature_index"]], set()).add(np.float32(s["border"]))

    for t in d.get("oblivious_trees", []):
        for s in t["splits"]:
            add(s)
    stack = list(d.get("trees", []))
    while stack:
        n = stack.pop()
        if "split" in n:
            add(n["split"])
            stack += [n["left"], n["right"]]
    return {j: np.array(sorted(v), np.float32) for j, v in out.items()}


def edge_rows(objs, n_features, n=100_000, seed=0):
    """Rows whose every value is a border of one of the models, one float32 ulp
    above/below, one float64 ulp above/below, NaN, +-inf, +-0, +-FLT_MAX or random."""
    rng = np.random.default_rng(seed)
    per: dict[int, list] = {j: [] for j in range(n_features)}
    for o in objs:
        for j, b in _borders(o).items():
            b64 = b.astype(np.float64)
            with np.errstate(over="ignore"):  # -FLT_MAX borders (nan_mode Min): one ulp below is -inf
                per[j] += [b64, np.nextafter(b, np.float32(np.inf)).astype(np.float64),
                           np.nextafter(b, np.float32(-np.inf)).astype(np.float64),
                           np.nextafter(b64, np.inf), np.nextafter(b64, -np.inf)]
    fmax = float(np.finfo(np.float32).max)
    special = np.array([np.nan, np.inf, -np.inf, 0.0, -0.0, fmax, -fmax, 1e300, -1e300])
    X = rng.normal(size=(n, n_features)) * 3
    for j in range(n_features):
        cand = np.concatenate(per[j] + [special])
        pick = rng.random(n) < 0.85
        X[pick, j] = rng.choice(cand, int(pick.sum()))
    return X


def _f32(X):
    return np.asarray(X, np.float32)


# what CatBoost returns for each (model, output); X float64, cast to float32 by CatBoost itself
def expected(obj, out, X):
    name = type(obj).__name__
    if out == "leaves":
        return obj.calc_leaf_indexes(X, thread_count=1).astype(np.float64)
    if out in ("decision_function", "raw"):
        return np.asarray(obj.predict(X, prediction_type="RawFormulaVal", thread_count=1)).reshape(len(X), -1)
    if out == "class":
        labels = obj.predict(X, prediction_type="Class", thread_count=1).reshape(-1)
        classes = list(obj.classes_)
        return np.array([classes.index(v) for v in labels], np.float64)[:, None]
    if out in ("proba", "proba_full"):
        P = np.asarray(obj.predict(X, prediction_type="Probability", thread_count=1))
        loss = obj.get_all_params()["loss_function"]
        return P[:, 1:] if (out == "proba" and loss in ("Logloss", "CrossEntropy")) else P
    assert out is None
    if name == "CatBoostClassifier":
        return expected(obj, "proba", X)
    return np.asarray(obj.predict(X, thread_count=1), np.float64).reshape(len(X), -1)


#: (model, output) pairs checked everywhere (None: the converter's default)
CASES = [("bin", None), ("bin", "proba_full"), ("bin", "class"), ("bin", "decision_function"), ("bin", "leaves"),
         ("bin_thr", None), ("bin_thr", "class"), ("bin_thr", "raw"), ("xent", None), ("xent", "class"),
         ("multi", None), ("multi", "class"), ("multi", "leaves"), ("ova", None), ("ova", "class"),
         ("mlabel", None), ("mlabel", "raw"), ("lossguide", None), ("lossguide", "class"), ("lossguide", "leaves"),
         ("rmse", None), ("rmse", "leaves"), ("forbid", None), ("depthwise", None), ("depthwise", "leaves"),
         ("quantile", None), ("poisson", None), ("poisson", "decision_function"), ("tweedie", None),
         ("multirmse", None), ("uncert", None), ("uncert", "raw"), ("ranker", None), ("ranker", "leaves"),
         ("generic", None), ("generic", "proba"), ("generic", "class")]
EXACT = ("leaves", "class", "decision_function", "raw")


def _sym(name, out):
    return f"{name}_{out or 'default'}"


#: models whose default output is the raw score
RAW_DEFAULT = ("rmse", "forbid", "depthwise", "quantile", "multirmse", "ranker")
#: scale != 1: s * acc + b may be one fused multiply-add in the ISA clones (one rounding instead of two)
SCALED = ("bin_thr",)


def _compare(y, ref, out, name, dtype):
    assert y.shape == ref.shape, (name, out, y.shape, ref.shape)
    raw = out in ("decision_function", "raw") or (out is None and name in RAW_DEFAULT)
    if out in ("leaves", "class") or (dtype == np.float64 and raw and name not in SCALED):
        assert np.array_equal(y, ref), (name, out, np.flatnonzero((y != ref).any(1))[:5])
    else:
        tol = 1e-13 if dtype == np.float64 else 3e-6
        np.testing.assert_allclose(y, ref, rtol=tol, atol=tol, err_msg=f"{name} {out}")


# ---------------------------------------------------------------------------
# IR tier
# ---------------------------------------------------------------------------


@pytest.mark.ir
@pytest.mark.parametrize("optimize", [False, True])
def test_ir_every_model_and_output(models, optimize):
    m, X = models
    R = noisy_rows(X)
    opts = {_sym(n, o): {"output": o} for n, o in CASES if o}
    entries = build_entries({_sym(n, o): m[n] for n, o in CASES}, float_t="double", options=opts, optimize=optimize)
    graphs = {e.name: e.graph for e in entries}
    for n, o in CASES:
        y = evaluate(graphs[_sym(n, o)], R)
        _compare(y, expected(m[n], o, R), o, n, np.float64)


@pytest.mark.ir
def test_ir_exact_on_borders(models):
    """100k rows on the borders: leaf indices and raw scores bit for bit (double)."""
    m, X = models
    names = ["bin", "multi", "lossguide", "rmse", "forbid", "depthwise"]
    E = edge_rows([m[n] for n in names], X.shape[1])
    opts = {f"{n}_l": {"output": "leaves"} for n in names} | {f"{n}_r": {"output": "raw"} for n in names}
    models_ = {f"{n}_l": m[n] for n in names} | {f"{n}_r": m[n] for n in names}
    graphs = {e.name: e.graph for e in build_entries(models_, float_t="double", options=opts, optimize=False)}
    for n in names:
        assert np.array_equal(evaluate(graphs[f"{n}_l"], E), expected(m[n], "leaves", E)), n
        assert np.array_equal(evaluate(graphs[f"{n}_r"], E), expected(m[n], "raw", E)), n


# ---------------------------------------------------------------------------
# compiled
# ---------------------------------------------------------------------------


#: compiled: every model's default output, and the heads the defaults do not reach
COMPILED = [(n, None) for n in dict.fromkeys(n for n, _ in CASES)] + [
    ("bin", "proba_full"), ("bin_thr", "class"), ("multi", "class"), ("uncert", "raw"), ("generic", "class")]
COMPILED_LONG_DOUBLE = [("bin", None), ("multi", "class"), ("uncert", None), ("poisson", None)]


@pytest.mark.parametrize("float_t", slow_except(["float", "double", "long double"], "float", "long double"))
def test_compiled_every_model(models, tmp_path, float_t):
    m, X = models
    R = noisy_rows(X)
    cases = COMPILED if float_t != "long double" else COMPILED_LONG_DOUBLE
    opts = {_sym(n, o): {"output": o} for n, o in cases if o}
    fns = check_contract({_sym(n, o): m[n] for n, o in cases}, tmp_path, float_t=float_t, X=R, options=opts)
    for n, o in cases:
        f = fns[_sym(n, o)]
        Xc = np.asarray(R, f.dtype)
        y = np.asarray(f(Xc), np.float64)
        # CatBoost reads float32: feeding it the C input type's values is the same model input
        ref = expected(m[n], o, Xc.astype(np.float64))
        _compare(y, ref, o, n, np.float64 if float_t != "float" else np.float32)


@pytest.mark.parametrize("float_t", slow_except(["float", "double"], "float"))
def test_compiled_exact_100k_every_codegen(models, tmp_path, float_t):
    """Leaf indices exactly and raw scores (double: bit for bit) on 100k border
    rows, for every tree_codegen (bitvector/branchfree where the trees allow)."""
    m, X = models
    E = edge_rows([m["bin"], m["multi"], m["depthwise"], m["lossguide"]], X.shape[1], seed=3)
    plan = {"bin": ("ifelse", "table", "branchfree", "bitvector"), "multi": ("branchfree", "bitvector"),
            "depthwise": ("table", "branchfree"), "lossguide": ("ifelse", "bitvector")}
    syms, opts = {}, {}
    for n, codegens in plan.items():
        for cg in codegens:
            syms[f"{n}_{cg}_l"] = m[n]
            opts[f"{n}_{cg}_l"] = {"output": "leaves", "tree_codegen": cg}
        syms[f"{n}_r"] = m[n]
        opts[f"{n}_r"] = {"output": "raw"}
    fns = check_contract(syms, tmp_path, float_t=float_t, X=E, options=opts)
    with np.errstate(over="ignore"):  # 1e300 -> inf in float, as CatBoost's own cast
        Ec = np.asarray(E, np.float32 if float_t == "float" else np.float64)
    refs = {(n, k): expected(m[n], k, Ec.astype(np.float64)) for n in plan for k in ("leaves", "raw")}
    for sym, f in fns.items():
        n = sym.rsplit("_", 2)[0] if sym.endswith("_l") else sym[:-2]
        kind = "leaves" if sym.endswith("_l") else "raw"
        y = np.asarray(f(Ec), np.float64)
        if kind == "leaves" or float_t == "double":
            assert np.array_equal(y, refs[n, kind]), sym
        else:
            np.testing.assert_allclose(y, refs[n, kind], rtol=3e-6, atol=3e-6, err_msg=sym)


def test_pipeline_and_classifier_wrapper(models, tmp_path):
    m, X = models
    Xn = _data()[1]
    yb = (np.nan_to_num(Xn[:, 0]) > 0).astype(int)
    pipe = Pipeline([("ss", StandardScaler()),
                     ("cb", catboost.CatBoostClassifier(iterations=15, depth=3, **KW))]).fit(Xn, yb)
    wrapped = scikinc.Classifier(m["multi"], activation=None)
    R = noisy_rows(X)
    R[np.isinf(R)] = np.nan  # StandardScaler refuses infinities
    fns = check_contract({"pipe": pipe, "wrapped": wrapped}, tmp_path, float_t="double", X=R,
                         options={"wrapped": {"model": {"output": "raw"}}})
    np.testing.assert_allclose(fns["pipe"](R), pipe.predict_proba(R)[:, 1:], rtol=1e-12, atol=1e-15)
    assert np.array_equal(fns["wrapped"](R), expected(m["multi"], "raw", R))


# ---------------------------------------------------------------------------
# model files and the CLI
# ---------------------------------------------------------------------------


def _cli(*args, cwd=None):
    env = dict(os.environ, PYTHONPATH=str(ROOT / "src"))
    return subprocess.run([sys.executable, "-m", "scikinc", *map(str, args)], capture_output=True, text=True,
                          cwd=cwd, env=env)


@pytest.mark.slow
def test_model_files_and_cli(models, tmp_path):
    m, X = models
    R = noisy_rows(X)
    files = {}
    for n in ("bin", "multi", "lossguide", "poisson", "ranker", "multirmse"):
        files[n + "_cbm"] = tmp_path / f"{n}.cbm"
        m[n].save_model(str(files[n + "_cbm"]))
        if n in ("bin", "multi", "lossguide", "multirmse"):
            files[n + "_json"] = tmp_path / f"{n}.json"
            m[n].save_model(str(files[n + "_json"]), format="json")
    kinds = {"bin": "CatBoostClassifier", "multi": "CatBoostClassifier", "lossguide": "CatBoostClassifier",
             "poisson": "CatBoostRegressor", "ranker": "CatBoostRanker", "multirmse": "CatBoostRegressor"}
    loaded = {}
    for key, p in files.items():
        loaded[key] = load_model_file(p)
        assert type(loaded[key]).__name__ == kinds[key.rsplit("_", 1)[0]], key
    # the files through scikinc.convert: the default outputs of the fitted objects, exactly as CatBoost
    # predicts with the model it reads from the file (its JSON reader may round a leaf value differently
    # from the writer by an ulp: within 1e-13 of the fitted object then)
    fns = check_contract({k: str(p) for k, p in files.items()}, tmp_path, float_t="double", X=R)
    for key, f in fns.items():
        n = key.rsplit("_", 1)[0]
        _compare(f(R), expected(loaded[key], None, R), None, n, np.float64)
        np.testing.assert_allclose(f(R), expected(m[n], None, R), rtol=1e-13, atol=1e-13, err_msg=key)
    # the CLI: a C file, one symbol per model file, options by symbol
    out = tmp_path / "cli.c"
    r = _cli(files["bin_cbm"], f"mj={files['multi_json']}", "-f", "double", "--option", "mj.output=class",
             "-o", out)
    assert r.returncode == 0, r.stderr
    so = scikinc.compile(out.read_text(), tmp_path / "cli.so")
    _compare(scikinc.load(so, "bin")(R), expected(m["bin"], None, R), None, "bin", np.float64)
    assert np.array_equal(scikinc.load(so, "mj")(R), expected(m["multi"], "class", R))
    # scikinC validate: CatBoost's own predictions of the same output
    np.save(tmp_path / "R.npy", R[:300])
    for p, extra in ((files["bin_cbm"], ()), (files["poisson_cbm"], ()), (files["multi_json"], ("--option",
                                                                                              "output=class"))):
        r = _cli("validate", p, "--data", tmp_path / "R.npy", "-f", "double", *extra)
        assert r.returncode == 0, (p, r.stdout, r.stderr)
    rep = scikinc.validate(m["lossguide"], R[:300], float_t="double", options={"output": "leaves"})
    assert rep.ok, str(rep)


def test_bad_model_files(tmp_path):
    (tmp_path / "junk.cbm").write_bytes(b"not a catboost model")
    (tmp_path / "other.json").write_text(json.dumps({"hello": [1, 2]}))
    (tmp_path / "broken.json").write_text('{"features_info": ')
    (tmp_path / "fake.json").write_text(json.dumps({"features_info": {}, "oblivious_trees": "nope"}))
    for name, msg in [("junk.cbm", "not a CatBoost model"), ("other.json", "neither an XGBoost model"),
                      ("broken.json", "not valid JSON"), ("fake.json", "not a CatBoost model")]:
        with pytest.raises(ModelFileError, match=msg):
            load_model_file(tmp_path / name)
        r = _cli(tmp_path / name)
        assert r.returncode == 1, (name, r.stdout[:200])
        assert r.stderr.startswith("scikinC: error: ") and msg in r.stderr and r.stderr.count("\n") == 1, r.stderr


# ---------------------------------------------------------------------------
# refusals
# ---------------------------------------------------------------------------


def test_categorical_text_embedding_features_refused(tmp_path):
    import pandas as pd

    rng = np.random.default_rng(0)
    n = 400
    df = pd.DataFrame({"a": rng.normal(size=n), "colour": rng.choice(list("xyzw"), n), "b": rng.normal(size=n)})
    y = ((df.a > 0) ^ (df.colour == "x")).astype(int)
    cat = catboost.CatBoostClassifier(iterations=5, depth=3, cat_features=["colour"], **KW).fit(df, y)
    with pytest.raises(ConversionError, match=r"CatBoostClassifier: categorical feature 'colour' \(input column 1\)"):
        scikinc.convert(cat)
    # the file of the same model: refused by the same check (the .json dump lists the feature)
    cat.save_model(str(tmp_path / "cat.json"), format="json")
    cat.save_model(str(tmp_path / "cat.cbm"))
    for p in ("cat.json", "cat.cbm"):
        r = _cli(tmp_path / p)
        assert r.returncode == 1 and "categorical feature 'colour' (input column 1)" in r.stderr, r.stderr
    d = json.loads((tmp_path / "cat.json").read_text())
    with pytest.raises(ConversionError, match=r"categorical feature 'colour' \(input column 1\)"):
        parse_model(d, "CatBoostClassifier")
    dt = pd.DataFrame({"a": rng.normal(size=n), "review": rng.choice(["good film", "bad film", "so so"], n)})
    txt = catboost.CatBoostClassifier(iterations=5, depth=2, text_features=["review"], **KW).fit(dt, y)
    with pytest.raises(ConversionError, match=r"text feature 'review' \(input column 1\)"):
        scikinc.convert(txt)
    de = pd.DataFrame({"a": rng.normal(size=n), "emb": list(rng.normal(size=(n, 3)))})
    emb = catboost.CatBoostClassifier(iterations=5, depth=2, embedding_features=["emb"], **KW).fit(de, y)
    with pytest.raises(ConversionError, match=r"embedding feature 'emb' \(input column 1\)"):
        scikinc.convert(emb)


def test_bad_outputs_and_unfitted(models):
    m, _ = models
    with pytest.raises(ConversionError, match="output='proba_full' is for binary losses"):
        scikinc.convert(m["multi"], options={"output": "proba_full"})
    with pytest.raises(ConversionError, match="output='class' is not available for multi-label"):
        scikinc.convert(m["mlabel"], options={"output": "class"})
    with pytest.raises(OptionError, match="output"):
        scikinc.convert(m["rmse"], options={"output": "proba"})
    with pytest.raises(OptionError, match="output"):
        scikinc.convert(m["bin"], options={"output": "predict"})
    with pytest.raises(NotFittedError, match="CatBoostRegressor is not fitted"):
        scikinc.convert(catboost.CatBoostRegressor())
    for n in ("multi", "rmse", "generic"):
        with pytest.raises(ConversionError, match=f"{type(m[n]).__name__}: tree_codegen must be one of auto"):
            scikinc.convert(m[n], options={"tree_codegen": "fastest"})


class LoglossObjective:
    """A user-defined objective (CatBoost calls it from Python)."""

    def calc_ders_range(self, approxes, targets, weights):
        p = 1 / (1 + np.exp(-np.asarray(approxes)))
        return list(zip(np.asarray(targets) - p, -p * (1 - p), strict=True))


def test_custom_objective_raw_only(tmp_path):
    X, Xn, z = _data(n=300)
    clf = catboost.CatBoostClassifier(iterations=4, depth=3, loss_function=LoglossObjective(), eval_metric="Logloss",
                                      **KW).fit(Xn, (z[:, 0] > 0).astype(int))
    for out in (None, "class", "proba_full"):
        with pytest.raises(ConversionError, match="loss 'PythonUserDefinedPerObject' is not one of Logloss"):
            scikinc.convert(clf, options={"output": out} if out else None)
    R = noisy_rows(X, 1)
    fns = check_contract({"raw": clf, "lv": clf}, tmp_path, float_t="double", X=R,
                         options={"raw": {"output": "decision_function"}, "lv": {"output": "leaves"}})
    assert np.array_equal(fns["raw"](R), expected(clf, "raw", R))
    assert np.array_equal(fns["lv"](R), expected(clf, "leaves", R))


def test_trees_without_splits(models, tmp_path):
    """An oblivious tree of depth 0 and a non-symmetric tree that is one leaf
    (written into CatBoost's JSON and read back by CatBoost): one leaf, index 0."""
    m, X = models
    R = noisy_rows(X)
    d = model_json(m["rmse"])
    d["oblivious_trees"][1].update(splits=[], leaf_values=[0.125], leaf_weights=[10])
    (tmp_path / "obl.json").write_text(json.dumps(d))
    d = model_json(m["depthwise"])
    d["trees"][2] = {"value": -0.375, "weight": 10}
    (tmp_path / "ns.json").write_text(json.dumps(d))
    files = {"obl": tmp_path / "obl.json", "ns": tmp_path / "ns.json"}
    syms = {f"{k}_{o}": str(p) for k, p in files.items() for o in ("raw", "leaves")}
    opts = {s: {"output": s.split("_")[1], "tree_codegen": "table" if s.startswith("ns") else "branchfree"}
            for s in syms}
    fns = check_contract(syms, tmp_path, float_t="double", X=R, options=opts)
    for k, p in files.items():
        cb = load_model_file(p)
        assert (cb.calc_leaf_indexes(R)[:, 1 if k == "obl" else 2] == 0).all()
        for o in ("raw", "leaves"):
            assert np.array_equal(fns[f"{k}_{o}"](R), expected(cb, o, R)), (k, o)


def test_nonsymmetric_leaf_ids_from_catboost_layout(models, tmp_path):
    """A fitted model and the same model read back from JSON number their
    non-symmetric leaves differently; the ids come from each object's layout."""
    m, X = models
    R = noisy_rows(X)
    m["lossguide"].save_model(str(tmp_path / "lg.json"), format="json")
    back = load_model_file(tmp_path / "lg.json")
    fitted_ids, back_ids = expected(m["lossguide"], "leaves", R), expected(back, "leaves", R)
    assert not np.array_equal(fitted_ids, back_ids)  # CatBoost's own numbering differs
    graphs = {e.name: e.graph for e in build_entries({"fitted": m["lossguide"], "back": back}, float_t="double",
                                                     options={"output": "leaves"}, optimize=False)}
    assert np.array_equal(evaluate(graphs["fitted"], R), fitted_ids)
    assert np.array_equal(evaluate(graphs["back"], R), back_ids)
    d = model_json(m["lossguide"])
    layouts = tree_layouts(m["lossguide"], len(d["trees"]))
    assert parse_model(d, "C", layouts).leaf_ids and not parse_model(d, "C").leaf_ids
    with pytest.raises(ConversionError, match="tree 0: the JSON tree and CatBoost's node layout disagree"):
        parse_model(d, "C", layouts[1:] + layouts[:1])
    with pytest.raises(ConversionError, match="C: 14 tree layouts for 15 trees"):
        parse_model(d, "C", layouts[1:])


@pytest.mark.ir
def test_class_threshold_border_to_the_last_bit():
    """Binary class = raw > -log(1/t - 1), CatBoost's border to the bit: raw
    set to every double around it (scale 0, bias b), for several thresholds."""
    X, Xn, z = _data(n=300)
    base = catboost.CatBoostClassifier(iterations=2, depth=2, **KW).fit(Xn, (z[:, 0] > 0).astype(int))
    syms = {}
    for t in (0.5, 0.7, 0.3, 0.123, 0.9):
        c = 0.0 if t == 0.5 else -np.log(1 / t - 1)
        b = c
        for _ in range(4):
            b = np.nextafter(b, -np.inf)
        for _ in range(9):
            mm = base.copy()
            mm.set_probability_threshold(t)
            mm.set_scale_and_bias(0.0, [float(b)])
            syms[f"t{len(syms)}"] = mm
            b = np.nextafter(b, np.inf)
    entries = build_entries(syms, float_t="double", options={"output": "class"}, optimize=False)
    row = Xn[:1]
    got = [evaluate(e.graph, row)[0, 0] for e in entries]
    ref = [expected(syms[e.name], "class", row)[0, 0] for e in entries]
    assert got == ref
    assert 0 < sum(ref) < len(ref)
