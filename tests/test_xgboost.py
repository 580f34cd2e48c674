"""XGBoost converters vs XGBoost's own predict: Booster, XGBClassifier /
XGBRegressor / XGBRanker / XGBRF* and .json/.ubj model files; every
supported objective and its link, base_score (scalar and per class/target,
in margin space), NaN and missing= default directions, categorical splits
(partition and one-hot; negative, fractional, huge, unknown and missing
codes; lists too large for a 256-bit set), dart weights, random-forest
iterations, multi-target trees (one per target and vector leaves),
iteration_range / best_iteration.

How exactness is shown: XGBoost sums the leaves in float32, scikinc in
double.  For every model and row, (1) the leaves the converted model reports
equal pred_leaf; (2) XGBoost's margin equals, bit for bit, the float32 sum
(XGBoost's order) of the leaf values of those leaves from the model's JSON;
(3) scikinc's raw output equals, bit for bit, the double sum of the same
values.  Outputs after the link are compared within float32 rounding.

Tiers: the IR evaluated in numpy (marker ir) on >= 1000 rows per model;
compiled C (float, double, long double) for the contract and the outputs;
100k rows on, one ulp (float32 and float64) below and above every threshold,
plus NaN, +-inf, missing= and category edge values, for every tree strategy."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest

xgb = pytest.importorskip("xgboost")

from sklearn.pipeline import Pipeline  # noqa: E402
from sklearn.preprocessing import StandardScaler  # noqa: E402
from util import build, check_contract, rows, same_bits, slow_except  # noqa: E402

import scikinc  # noqa: E402
from scikinc.converters.xgboost import _margin  # noqa: E402
from scikinc.core import build_entries  # noqa: E402
from scikinc.errors import ConversionError, ModelFileError, OptionError  # noqa: E402
from scikinc.ir.evaluate import evaluate  # noqa: E402
from scikinc.loaders.xgboost import XGBoostModel, decode_ubjson, parse_model  # noqa: E402

warnings.filterwarnings("ignore", category=UserWarning, module="xgboost")

ROOT = Path(__file__).resolve().parent.parent
#: 0 normal, 1 normal with NaN, 2 values on a 0.1 grid, 3 categorical 0..11 with NaN,
#: 4 categorical 0..299 (splits listing more than 255 codes), 5 normal
FT = ["q", "q", "q", "c", "c", "q"]
N_FEATURES = len(FT)
CAT = (3, 4)
BASE = dict(max_depth=4, eta=0.3, nthread=1, seed=0, tree_method="hist", max_cat_to_onehot=1, max_bin=64)


def data(n=3000, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, N_FEATURES))
    X[rng.random(n) < 0.1, 1] = np.nan
    X[:, 2] = np.round(rng.uniform(-1, 1, n), 1)
    X[:, 3] = rng.integers(0, 12, n)
    X[rng.random(n) < 0.05, 3] = np.nan
    X[:, 4] = rng.integers(0, 300, n)
    e3, e4 = rng.normal(size=12), rng.normal(size=300)
    f = (X[:, 0] + np.nan_to_num(X[:, 1], nan=1.0) + X[:, 2] + e3[np.nan_to_num(X[:, 3], nan=0).astype(int)]
         + 1.5 * e4[X[:, 4].astype(int)] + 0.3 * X[:, 5])
    return X, f + 0.3 * rng.normal(size=n)


def dmatrix(X, label=None, ft=FT, **kw):
    return xgb.DMatrix(X, label=label, feature_types=ft, enable_categorical=True, nthread=1, **kw)


def _train(params, X, y, rounds=12, ft=FT, **kw):
    d = dmatrix(X, y, ft)
    if "group" in kw:
        d.set_group(kw.pop("group"))
    return xgb.train({**BASE, **params}, d, rounds, **kw)


@pytest.fixture(scope="module")
def boosters():
    X, f = data()
    n = len(X)
    q = np.quantile(f, [0.25, 0.5, 0.75])
    ymc = np.searchsorted(q, f)
    ybin = (f > q[1]).astype(int)
    rng = np.random.default_rng(1)
    m = {}
    m["sqerr"] = _train({"objective": "reg:squarederror"}, X, f)
    m["abserr"] = _train({"objective": "reg:absoluteerror"}, X, f)
    m["huber"] = _train({"objective": "reg:pseudohubererror"}, X, f)
    m["sqlog"] = _train({"objective": "reg:squaredlogerror"}, X, f - f.min())
    m["quantile"] = _train({"objective": "reg:quantileerror", "quantile_alpha": [0.2, 0.5, 0.8]}, X, f)
    m["reglogistic"] = _train({"objective": "reg:logistic"}, X, 1 / (1 + np.exp(-f)))
    m["binary"] = _train({"objective": "binary:logistic"}, X, ybin)
    m["logitraw"] = _train({"objective": "binary:logitraw", "base_score": 0.3}, X, ybin)
    m["hinge"] = _train({"objective": "binary:hinge"}, X, ybin)
    m["poisson"] = _train({"objective": "count:poisson"}, X, rng.poisson(np.exp(f / 3)))
    m["gamma"] = _train({"objective": "reg:gamma"}, X, np.exp(f / 3) + 0.1)
    m["tweedie"] = _train({"objective": "reg:tweedie", "tweedie_variance_power": 1.3}, X, np.exp(f / 3))
    # one-hot categorical splits (max_cat_to_onehot above the category count of column 3)
    m["softprob"] = _train({"objective": "multi:softprob", "num_class": 4, "max_cat_to_onehot": 16}, X, ymc)
    m["softmax"] = _train({"objective": "multi:softmax", "num_class": 4, "base_score": 0.2}, X, ymc)
    m["ndcg"] = _train({"objective": "rank:ndcg"}, X, ymc, group=[100] * (n // 100))
    m["pairwise"] = _train({"objective": "rank:pairwise"}, X, ymc, group=[100] * (n // 100))
    m["dart"] = _train({"objective": "binary:logistic", "booster": "dart", "rate_drop": 0.3, "skip_drop": 0.0,
                        "sample_type": "weighted", "normalize_type": "forest"}, X, ybin, rounds=15)
    m["dart_multi"] = _train({"objective": "multi:softprob", "num_class": 4, "booster": "dart", "rate_drop": 0.2,
                              "skip_drop": 0.0}, X, ymc)
    Y2 = np.c_[f, -0.5 * f + X[:, 5]]
    m["multi_target"] = _train({"objective": "reg:squarederror"}, X, Y2)
    # (vector-leaf trees have no categorical splits in XGBoost 3.2)
    m["multi_tree"] = _train({"objective": "reg:squarederror", "multi_strategy": "multi_output_tree"}, X, Y2,
                             ft=["q"] * N_FEATURES)
    m["rf"] = _train({"objective": "binary:logistic", "num_parallel_tree": 3, "subsample": 0.8,
                      "colsample_bynode": 0.8, "eta": 1.0}, X, ybin, rounds=3)
    m["stumps"] = _train({"objective": "reg:squarederror", "gamma": 1e9}, X, f, rounds=3)  # root-only trees
    return X, m


#: Booster.predict's output as the default output of each model
def predict(b, X, out="predict", rng=(0, 0)):
    d = dmatrix(X, ft=b.feature_types)
    if out == "leaves":  # (pred_leaf takes ranges from 0 only: slice the model)
        sl = b[rng[0]:rng[1] or b.num_boosted_rounds()] if rng[0] else b
        return sl.predict(d, pred_leaf=True, iteration_range=(0, 0) if rng[0] else rng).reshape(len(X), -1)
    return b.predict(d, output_margin=out == "raw", iteration_range=rng).reshape(len(X), -1)


def edge_rows(X, n=2000, seed=3):
    """rows() (>= 1000, far values included) with category edge values."""
    R = rows(X, n=n, seed=seed)
    rng = np.random.default_rng(seed)
    for c in CAT:
        k = rng.random(len(R)) < 0.3
        R[k, c] = rng.choice([-1.0, -0.5, -0.0, 0.5, 2.9, 11.99, 12.0, 299.5, 300, 1e7, 2.0 ** 24, 2.0 ** 24 - 1,
                              np.nan], size=int(k.sum()))
        R[rng.random(len(R)) < 0.05, c] = np.nan
    R[rng.random(len(R)) < 0.05, 0] = np.nan
    return R


def entry(models, options=None, float_t="double", optimize=True):
    return build_entries(models, float_t=float_t, options=options or {}, optimize=optimize)


def model_json(b) -> dict:
    return json.loads(bytes(b.save_raw("json")))["learner"]


def leaf_values(doc, t, leaf_ids):
    """The leaf vectors (float32) of tree ``t`` at the node ids ``leaf_ids``, read from the JSON."""
    gb = doc["gradient_booster"]
    tree = (gb["gbtree"] if gb["name"] == "dart" else gb)["model"]["trees"][t]
    w = int(tree["tree_param"]["size_leaf_vector"])
    if w > 1:
        lw = np.asarray(tree["leaf_weights"], np.float32).reshape(-1, w)
        return lw[np.asarray(tree["right_children"])[leaf_ids]]
    return np.asarray(tree["split_conditions"], np.float32)[leaf_ids][:, None]


def resum(b, leaves, dtype, rng=(0, 0), inplace=False):
    """base margin + the leaf values of ``leaves`` (pred_leaf layout) summed
    tree by tree in ``dtype``, XGBoost's order (dart: float32(leaf * weight) as
    Booster.predict; ``inplace``: float32((float32(base + leaf) - base) * weight)
    as inplace_predict, which the scikit-learn wrappers' predict calls)."""
    doc = model_json(b)
    mdl = XGBoostModel(json.loads(bytes(b.save_raw("json"))), b"", "json")
    n_out = mdl.n_groups
    lo = int(mdl.iteration_indptr[rng[0]])
    hi = int(mdl.iteration_indptr[rng[1] or mdl.n_iterations])
    base = _margin(mdl, n_out).astype(np.float32)
    acc = np.tile(base.astype(dtype), (len(leaves), 1))
    gb = doc["gradient_booster"]
    w = np.asarray(gb["weight_drop"], np.float32) if gb["name"] == "dart" else None
    for j, t in enumerate(range(lo, hi)):
        v = leaf_values(doc, t, leaves[:, j].astype(np.int64))
        if w is not None and inplace:
            bk = base if mdl.multi_target_trees else base[int(mdl.tree_info[t])]
            v = (((bk + v).astype(np.float32) - bk).astype(np.float32) * w[t]).astype(np.float32)
        elif w is not None:
            v = (v * w[t]).astype(np.float32)
        if mdl.multi_target_trees:
            acc = acc + v.astype(dtype)
        else:
            k = int(mdl.tree_info[t])
            acc[:, k] = acc[:, k] + v[:, 0].astype(dtype)
    return acc


def close(got, want, tol=2e-5):
    got, want = np.asarray(got, np.float64), np.asarray(want, np.float64).reshape(got.shape)
    assert got.shape == want.shape
    nan = np.isnan(want)
    assert np.array_equal(np.isnan(got), nan)
    err = np.abs(got - want)[~nan] / np.maximum(1.0, np.abs(want[~nan]))
    assert err.max(initial=0) <= tol, f"max relative error {err.max():.3g}"


#: models with the classifier outputs proba and class (binary:logistic, multi:*)
CLASSIFIERS = ("binary", "softprob", "softmax", "dart", "dart_multi", "rf")


def want_class(name, b, R):
    """XGBClassifier.predict's rule: prediction > 0.5 (binary), argmax of the probabilities (multi:softprob),
    the prediction itself (multi:softmax)."""
    p = predict(b, R)
    if name == "softmax":
        return p[:, 0]
    return (p[:, 0] > 0.5).astype(float) if p.shape[1] == 1 else p.argmax(1).astype(float)


# ---------------------------------------------------------------------------
# IR tier
# ---------------------------------------------------------------------------


@pytest.mark.ir
def test_ir_every_booster(boosters):
    X, m = boosters
    R = edge_rows(X)
    for name, b in m.items():
        outs = ["predict", "raw", "leaves"] + (["proba", "class"] if name in CLASSIFIERS else [])
        e = {o: entry({"m": b}, {"m": {"output": o}})[0] for o in outs}
        leaves = evaluate(e["leaves"].graph, R)
        assert np.array_equal(leaves, predict(b, R, "leaves")), name
        assert same_bits(evaluate(e["raw"].graph, R), resum(b, leaves, np.float64)), name
        # XGBoost's own margin is the float32 sum of the same leaves: the decisions and the intercept are its own
        assert same_bits(predict(b, R, "raw").astype(np.float32), resum(b, leaves, np.float32)), name
        close(evaluate(e["predict"].graph, R), predict(b, R))
        if name in CLASSIFIERS:
            mr = predict(b, R, "raw")
            sm = np.exp(mr - mr.max(1, keepdims=True))
            close(evaluate(e["proba"].graph, R), sm / sm.sum(1, keepdims=True) if name == "softmax" else predict(b, R))
            assert np.array_equal(evaluate(e["class"].graph, R)[:, 0], want_class(name, b, R)), name


@pytest.mark.ir
def test_ir_intercept_in_float32():
    """The margin of base_score as XGBoost computes it (float32, the C library's logf): trees with leaves
    too small to matter leave the intercept alone in the margin, bit for bit."""
    rng = np.random.default_rng(2)
    X = rng.normal(size=(200, 2))
    for obj in ("binary:logistic", "reg:logistic", "count:poisson", "reg:gamma", "reg:tweedie", "binary:logitraw",
                "reg:squarederror", "multi:softprob"):
        for bs in list(rng.uniform(0.001, 0.999, 12)) + [1e-6, 1 - 1e-6, 0.5]:
            y = rng.integers(0, 3, 200) if obj.startswith("multi") else (X[:, 0] > 0).astype(float)
            p = {"objective": obj, "base_score": float(bs), "eta": 1e-30, "max_depth": 1}
            if obj.startswith("multi"):
                p["num_class"] = 3
            b = xgb.train({**p, "nthread": 1}, xgb.DMatrix(X, label=y + (obj == "reg:gamma"), nthread=1), 1)
            e = entry({"m": b}, {"m": {"output": "raw"}}, float_t="float")[0]
            want = b.predict(xgb.DMatrix(X[:3], nthread=1), output_margin=True).reshape(3, -1)
            assert same_bits(evaluate(e.graph, X[:3], dtype=np.float32), want), (obj, bs)


@pytest.mark.ir
def test_ir_iteration_range_and_multi_target(boosters):
    X, m = boosters
    R = edge_rows(X, n=1200)
    for name in ("softprob", "multi_tree", "multi_target", "rf", "dart"):
        b = m[name]
        for rng in ((0, 2), (1, 3), (2, 0)):
            e = entry({"m": b}, {"m": {"output": "leaves", "iteration_range": rng}})[0]
            leaves = evaluate(e.graph, R)
            assert np.array_equal(leaves, predict(b, R, "leaves", rng)), (name, rng)
            r = entry({"m": b}, {"m": {"output": "raw", "iteration_range": f"{rng[0]},{rng[1]}"}})[0]
            assert same_bits(evaluate(r.graph, R), resum(b, leaves, np.float64, rng)), (name, rng)
            assert same_bits(predict(b, R, "raw", rng).astype(np.float32), resum(b, leaves, np.float32, rng))
    assert entry({"m": m["multi_tree"]})[0].graph.output.width == 2
    assert entry({"m": m["quantile"]})[0].graph.output.width == 3


@pytest.mark.ir
def test_ir_older_layouts(boosters, tmp_path):
    """Documents without iteration_indptr and with a scalar base_score (XGBoost 1.x) convert the same;
    a vector-leaf tree without leaf_weights is refused."""
    X, m = boosters
    R = edge_rows(X, n=1000)
    for name in ("softprob", "rf", "binary"):
        doc = json.loads(bytes(m[name].save_raw("json")))
        model = doc["learner"]["gradient_booster"]["model"]
        del model["iteration_indptr"]
        bs = doc["learner"]["learner_model_param"]["base_score"]
        scalar = json.loads(bs)
        if len(set(scalar)) == 1:
            doc["learner"]["learner_model_param"]["base_score"] = repr(float(np.float32(scalar[0])))
        old = parse_model(json.dumps(doc).encode())
        assert np.array_equal(old.iteration_indptr, XGBoostModel.from_booster(m[name]).iteration_indptr), name
        e = entry({"m": old}, {"m": {"output": "raw"}})[0]
        assert same_bits(evaluate(e.graph, R), evaluate(entry({"m": m[name]}, {"m": {"output": "raw"}})[0].graph, R))
    doc = json.loads(bytes(m["multi_tree"].save_raw("json")))
    del doc["learner"]["gradient_booster"]["model"]["trees"][0]["leaf_weights"]
    p = tmp_path / "old_multi.json"
    p.write_text(json.dumps(doc))
    with pytest.raises(ModelFileError, match="leaf_weights"):
        scikinc.convert(str(p))


# ---------------------------------------------------------------------------
# Compiled tier
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("float_t", slow_except(["float", "double", "long double"], "float", "double"))
def test_compiled_boosters(tmp_path, boosters, float_t):
    X, m = boosters
    names = ["binary", "softprob", "softmax", "dart", "multi_tree", "quantile", "poisson", "ndcg", "stumps"]
    models = {n: m[n] for n in names}
    options = {n: {"tree_codegen": "table"} for n in names}
    for o in ("raw", "leaves"):
        models[f"binary_{o}"] = m["binary"]
        options[f"binary_{o}"] = {"output": o}
    R = edge_rows(X, n=1500)
    dt = {"float": np.float32, "double": np.float64, "long double": np.longdouble}[float_t]
    Rt = R.astype(dt)
    Rd = Rt.astype(np.float64)
    fns = check_contract(models, tmp_path, float_t=float_t, X=Rd, options=options)
    leaves = fns["binary_leaves"](Rt)
    assert np.array_equal(leaves, predict(m["binary"], Rd, "leaves"))
    raw = fns["binary_raw"](Rt)
    want = resum(m["binary"], leaves.astype(np.float64), np.float64)
    assert same_bits(raw, want.astype(dt)) if float_t != "long double" else np.array_equal(raw, want)
    for n in names:
        close(fns[n](Rt), predict(m[n], Rd), 2e-5 if float_t != "float" else 1e-4)


def _split_values(m):
    """Per feature, the float32 split conditions (numeric) / listed categories of the models."""
    thr: dict[int, set] = {}
    cats: dict[int, set] = {}
    for b in m:
        mdl = XGBoostModel.from_booster(b)
        for t in mdl.trees:
            for i in np.flatnonzero(t.left != -1):
                f = int(t.feature[i])
                if t.split_type[i] == 1:
                    cats.setdefault(f, set()).update(int(c) for c in t.cats[int(i)])
                else:
                    thr.setdefault(f, set()).add(float(t.threshold[i]))
    return thr, cats


def threshold_rows(models, n=100_000, seed=1, n_features=N_FEATURES, cat=CAT, missing=None):
    """Rows whose every value is, at random, a split condition, one float32 ulp or one float64 ulp below or
    above it, a listed category (+- 0.5, as float32 neighbours), a category edge value, NaN, +-inf, 0, -0,
    the missing= value and its float32 twins, or a random value."""
    thr, cats = _split_values(models)
    rng = np.random.default_rng(seed)
    R = np.empty((n, n_features))
    special = [np.nan, np.inf, -np.inf, 0.0, -0.0]
    if missing is not None:
        m32 = np.float32(missing)
        special += [missing, float(np.nextafter(missing, np.inf)), float(np.nextafter(missing, -np.inf)),
                    float(np.nextafter(m32, np.float32(np.inf))), float(np.nextafter(m32, np.float32(-np.inf)))]
    for f in range(n_features):
        pool = list(special)
        for t in thr.get(f, ()):
            t32 = np.float32(t)
            pool += [t, float(np.nextafter(t32, np.float32(np.inf))), float(np.nextafter(t32, np.float32(-np.inf))),
                     float(np.nextafter(t, np.inf)), float(np.nextafter(t, -np.inf))]
        for c in cats.get(f, ()):
            pool += [c, c + 0.5, c - 0.5, float(np.nextafter(np.float32(c), np.float32(-1))),
                     float(np.nextafter(float(c), np.inf))]
        if f in cat:
            pool += [-1.0, -0.5, -1e-45, 2.0 ** 24, 2.0 ** 24 - 1, 2.0 ** 24 - 0.5, 1e30, 500.0, 12.0]
        pool = np.array(pool)
        R[:, f] = pool[rng.integers(0, len(pool), n)]
        rand = rng.random(n) < 0.15
        R[rand, f] = rng.normal(size=int(rand.sum())) * 3
    return R


def _check_exact(fns, name, b, R, leaves_ref, margin_ref, n_out, dt):
    """Every strategy's leaves agree; pred_leaf on the rows without +-inf (DMatrix refuses them);
    XGBoost's margin is the float32 sum of the leaves; the C's raw output their double sum."""
    leaves = fns[f"{name}_ifelse"](R)
    for cg in ("table", "bitvector", "branchfree"):
        if f"{name}_{cg}" in fns:
            assert np.array_equal(fns[f"{name}_{cg}"](R), leaves), (name, cg)
    fin = ~np.isinf(R.astype(np.float64)).any(1)
    assert np.array_equal(leaves[fin], leaves_ref(fin)), name
    rows_, margin = margin_ref(fin)
    assert same_bits(margin.reshape(-1, n_out).astype(np.float32),
                     resum(b, leaves[rows_].astype(np.float64), np.float32)), name
    want = resum(b, leaves.astype(np.float64), np.float64)
    assert same_bits(fns[f"{name}_raw"](R), want.astype(dt)), name


@pytest.mark.parametrize("float_t", slow_except(["double", "float"], "float"))
def test_exact_decisions_100k(tmp_path, boosters, wrappers, float_t):
    X, m = boosters
    Xn, _, w = wrappers
    reg = w["reg_missing"]
    names = ["binary", "softprob", "dart_multi", "multi_tree", "sqerr", "reg_missing"]
    est = {**m, "reg_missing": reg.get_booster()}
    models, options = {}, {}
    for n in names:
        models[f"{n}_raw"] = reg if n == "reg_missing" else m[n]
        options[f"{n}_raw"] = {"output": "raw", "tree_codegen": "table"}
        codegens = ["ifelse"] + (["table", "bitvector"] if n in ("binary", "softprob") else [])
        codegens += ["branchfree", "bitvector"] if n in ("multi_tree", "reg_missing") else []
        for cg in codegens:
            models[f"{n}_{cg}"] = models[f"{n}_raw"]
            options[f"{n}_{cg}"] = {"output": "leaves", "tree_codegen": cg}
    # (the generated code's contract is checked by the other compiled tests: no strict compile here)
    fns = build(models, tmp_path, float_t=float_t, options=options)
    dt = np.float32 if float_t == "float" else np.float64
    R = threshold_rows([est[n] for n in names[:-1]]).astype(dt)
    Rd = R.astype(np.float64)
    for n in names[:-1]:
        b = m[n]
        n_out = XGBoostModel.from_booster(b).n_groups

        def margin(fin, b=b, n=n):
            if n.startswith("dart"):  # Booster.predict (inplace_predict of dart rounds differently)
                return fin, b.predict(dmatrix(Rd[fin], ft=b.feature_types), output_margin=True)
            return np.ones(len(Rd), bool), b.inplace_predict(Rd, predict_type="margin")
        _check_exact(fns, n, b, R, lambda fin, b=b: predict(b, Rd[fin], "leaves"), margin, n_out, dt)
    Rm = threshold_rows([reg.get_booster()], n=30_000, n_features=Xn.shape[1], cat=(), missing=-999.0).astype(dt)
    Rmd = Rm.astype(np.float64)
    _check_exact(fns, "reg_missing", reg.get_booster(), Rm, lambda fin: reg.apply(Rmd[fin]),
                 lambda fin: (np.ones(len(Rmd), bool), reg.predict(Rmd, output_margin=True)), 1, dt)


# ---------------------------------------------------------------------------
# scikit-learn wrappers
# ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def wrappers():
    X, f = data(2500, seed=5)
    Xn = np.delete(X, CAT, axis=1)  # numeric columns only
    q = np.quantile(f, [0.25, 0.5, 0.75])
    ybin, ymc = (f > q[1]).astype(int), np.searchsorted(q, f)
    kw = dict(n_estimators=20, max_depth=4, n_jobs=1, random_state=0)
    w = {}
    w["clf_bin"] = xgb.XGBClassifier(**kw).fit(Xn, ybin)
    w["clf_multi_es"] = xgb.XGBClassifier(**{**kw, "n_estimators": 200}, early_stopping_rounds=3, eta=0.5).fit(
        Xn[:1500], ymc[:1500], eval_set=[(Xn[1500:], ymc[1500:])], verbose=False)
    w["clf_softmax"] = xgb.XGBClassifier(**kw, objective="multi:softmax").fit(Xn, ymc)
    w["clf_logitraw"] = xgb.XGBClassifier(**kw, objective="binary:logitraw").fit(Xn, ybin)
    w["clf_multilabel"] = xgb.XGBClassifier(**kw, tree_method="hist").fit(Xn, np.c_[ybin, f > q[2]].astype(int))
    Xm = Xn.copy()
    rng = np.random.default_rng(4)
    Xm[rng.random(Xm.shape) < 0.1] = -999.0
    w["reg_missing"] = xgb.XGBRegressor(**kw, missing=-999.0).fit(Xm, f)
    w["reg_es"] = xgb.XGBRegressor(**{**kw, "n_estimators": 300}, early_stopping_rounds=2, eta=0.8).fit(
        Xn[:1500], f[:1500], eval_set=[(Xn[1500:], f[1500:])], verbose=False)
    w["reg_multi"] = xgb.XGBRegressor(**kw).fit(Xn, np.c_[f, f ** 2])
    w["ranker"] = xgb.XGBRanker(**kw).fit(Xn, ymc, qid=np.repeat(np.arange(25), 100))
    w["rf_clf"] = xgb.XGBRFClassifier(n_estimators=5, max_depth=4, n_jobs=1, random_state=0).fit(Xn, ymc)
    w["rf_reg"] = xgb.XGBRFRegressor(n_estimators=5, max_depth=4, n_jobs=1, random_state=0).fit(Xn, f)
    dart = dict(booster="dart", rate_drop=0.3, skip_drop=0.0)
    w["dart_reg"] = xgb.XGBRegressor(**kw, **dart).fit(Xn, f)
    w["dart_clf"] = xgb.XGBClassifier(**kw, **dart).fit(Xn, ymc)
    return Xn, Xm, w


def _wrapper_cases(w):
    """(name, options, reference function) for the outputs of each wrapper."""
    cases = []
    for name, est in w.items():
        cases.append((name, "leaves", est.apply))
        cases.append((name, "raw", lambda X, e=est: e.predict(X, output_margin=True)))
        if isinstance(est, xgb.XGBClassifier):
            def proba(X, e=est):
                P = e.predict_proba(X)
                return P[:, 1:] if P.shape[1] == 2 and e.n_classes_ == 2 and P.ndim == 2 and not _multilabel(e) else P
            cases.append((name, "proba", proba))
            cases.append((name, "class", est.predict))
            if est.n_classes_ == 2 and not _multilabel(est):
                cases.append((name, "proba_full", est.predict_proba))
        else:
            cases.append((name, "predict", est.predict))
    return cases


def _multilabel(e):
    return XGBoostModel.from_booster(e.get_booster()).n_groups > 1 and e.n_classes_ == 2


@pytest.mark.ir
def test_ir_wrappers(wrappers):
    Xn, Xm, w = wrappers
    R = rows(Xn, n=1500)
    Rm = R.copy()
    Rm[np.random.default_rng(0).random(R.shape) < 0.1] = -999.0
    Rm[:20, 0] = float(np.nextafter(np.float32(-999.0), np.float32(0)))  # not missing
    Rm[20:40, 0] = -999.00000001  # float32 -999: missing for XGBoost
    assert w["clf_multi_es"].best_iteration < w["clf_multi_es"].get_booster().num_boosted_rounds() - 1
    assert w["reg_es"].best_iteration < w["reg_es"].get_booster().num_boosted_rounds() - 1
    for name, out, ref in _wrapper_cases(w):
        Rx = Rm if name == "reg_missing" else R
        e = entry({"m": w[name]}, {"m": {"output": out}})[0]
        got = evaluate(e.graph, Rx)
        want = np.asarray(ref(Rx), np.float64).reshape(len(Rx), -1)
        if out in ("leaves", "class"):
            assert (got != want).mean() < (1e-3 if out == "class" else 1e-12), (name, out)
        else:
            close(got, want, 2e-5)
    # dart through inplace_predict (the wrappers' predict): its own float32 weighting, bit for bit
    for name in ("dart_reg", "dart_clf"):
        est = w[name]
        leaves = evaluate(entry({"m": est}, {"m": {"output": "leaves"}})[0].graph, R)
        b = est.get_booster()
        assert same_bits(est.predict(R, output_margin=True).reshape(len(R), -1).astype(np.float32),
                         resum(b, leaves, np.float32, inplace=True)), name
        raw = evaluate(entry({"m": est}, {"m": {"output": "raw"}})[0].graph, R)
        assert same_bits(raw, resum(b, leaves, np.float64, inplace=True)), name
        if name == "dart_reg":  # (a large intercept: the two weightings differ)
            assert not same_bits(raw, resum(b, leaves, np.float64))
    # the scikit-learn default outputs: predict_proba (binary: P(class 1)) / predict
    e = entry({"c": w["clf_bin"], "r": w["reg_missing"]})
    close(evaluate(e[0].graph, R), w["clf_bin"].predict_proba(R)[:, 1:])
    close(evaluate(e[1].graph, Rm), w["reg_missing"].predict(Rm))


def test_compiled_wrappers(tmp_path, wrappers):
    Xn, Xm, w = wrappers
    R = rows(Xn, n=1200)
    names = ["clf_bin", "clf_multi_es", "clf_softmax", "clf_multilabel", "reg_missing", "reg_multi", "ranker",
             "rf_clf"]
    pipe = Pipeline([("sc", StandardScaler()), ("xgb", xgb.XGBRegressor(n_estimators=10, max_depth=3, n_jobs=1))])
    pipe.fit(Xn, Xn[:, 0] * 2 + np.nan_to_num(Xn[:, 1]) ** 2)
    logit = xgb.XGBClassifier(n_estimators=10, max_depth=3, objective="binary:logitraw", n_jobs=1).fit(
        Xn, Xn[:, 0] > 0)
    models = {n: w[n] for n in names}
    models["pipe"] = pipe
    models["clf_sigmoid"] = scikinc.Classifier(model=logit.get_booster(), activation="sigmoid")
    fns = check_contract(models, tmp_path, float_t="double", X=R)
    close(fns["clf_bin"](R), w["clf_bin"].predict_proba(R)[:, 1:])
    close(fns["clf_multi_es"](R), w["clf_multi_es"].predict_proba(R))
    close(fns["clf_softmax"](R), w["clf_softmax"].predict_proba(R))
    close(fns["clf_multilabel"](R), w["clf_multilabel"].predict_proba(R))
    Rm = np.where(np.random.default_rng(1).random(R.shape) < 0.1, -999.0, R)
    close(fns["reg_missing"](Rm), w["reg_missing"].predict(Rm))
    close(fns["reg_multi"](R), w["reg_multi"].predict(R))
    close(fns["ranker"](R), w["ranker"].predict(R))
    close(fns["rf_clf"](R), w["rf_clf"].predict_proba(R))
    close(fns["pipe"](R), pipe.predict(R))
    margin = logit.predict(R, output_margin=True)
    close(fns["clf_sigmoid"](R), 1 / (1 + np.exp(-margin)))


def test_pandas_categorical(tmp_path):
    """enable_categorical with pandas category columns: the C input is the category code (NaN when missing)."""
    pd = pytest.importorskip("pandas")
    rng = np.random.default_rng(7)
    n = 2500
    letters = np.array(list("abcdefghijklmnopqrst"))
    df = pd.DataFrame({"x": rng.normal(size=n), "c": pd.Categorical(rng.choice(letters, n), categories=letters),
                       "d": pd.Categorical(rng.choice([10, 20, 35, 70], n))})
    df.loc[rng.random(n) < 0.1, "c"] = np.nan
    eff = dict(zip(letters, rng.normal(size=20), strict=True))
    y = (df.x + df.c.map(eff).astype(float).fillna(1.0) + (df.d == 35) > 0.3).astype(int)
    clf = xgb.XGBClassifier(n_estimators=15, max_depth=4, enable_categorical=True, max_cat_to_onehot=1,
                            n_jobs=1).fit(df, y)
    T = pd.DataFrame({"x": rng.normal(size=1500), "c": pd.Categorical(rng.choice(letters, 1500), categories=letters),
                      "d": pd.Categorical(rng.choice([10, 20, 35, 70], 1500), categories=df.d.cat.categories)})
    T.loc[rng.random(1500) < 0.1, "c"] = np.nan
    codes = np.c_[T.x, T.c.cat.codes.replace(-1, np.nan), T.d.cat.codes].astype(np.float64)
    codes[np.asarray(T.c.cat.codes) < 0, 1] = np.nan
    e = entry({"m": clf}, {"m": {"output": "leaves"}})[0]
    assert np.array_equal(evaluate(e.graph, codes), clf.apply(T))
    fns = check_contract({"m": clf}, tmp_path, float_t="double", X=codes)
    close(fns["m"](codes), clf.predict_proba(T)[:, 1:])
    assert any(t.split_type.max() == 1 for t in XGBoostModel.from_booster(clf.get_booster()).trees)


# ---------------------------------------------------------------------------
# Model files and the CLI
# ---------------------------------------------------------------------------


def run_cli(*args, cwd=None):
    env = dict(os.environ, PYTHONPATH=str(ROOT / "src"))
    return subprocess.run([sys.executable, "-m", "scikinc", *map(str, args)], capture_output=True, text=True,
                          cwd=cwd, env=env)


@pytest.mark.slow
def test_files_and_cli(tmp_path, boosters, wrappers):
    X, m = boosters
    Xn, _, w = wrappers
    R = edge_rows(X, n=1200)
    j, u = tmp_path / "multi-model.json", tmp_path / "multi.ubj"
    m["softprob"].save_model(str(j))
    m["softprob"].save_model(str(u))
    mj, mu = scikinc.io.load_model_file(j), scikinc.io.load_model_file(u)
    assert isinstance(mj, XGBoostModel) and mj.format == "json" and mu.format == "ubj"
    assert mj.n_features_in_ == N_FEATURES and len(mj.trees) == len(mu.trees) == 48
    for a, b in zip(mj.trees, mu.trees, strict=True):  # the JSON's decimal floats are the UBJSON's float32 values
        assert same_bits(a.threshold, b.threshold) and same_bits(a.leaf, b.leaf)
        assert np.array_equal(a.left, b.left) and a.cats.keys() == b.cats.keys()
    assert np.array_equal(mj.base_score, mu.base_score)
    ref = predict(m["softprob"], R)
    for path in (j, u):
        e = build_entries([str(path)], float_t="double")[0]
        close(evaluate(e.graph, R), ref)
    assert build_entries([str(j)])[0].name == "multi_model"
    close(mj.predict(R[:50]), ref[:50], 1e-6)  # the validate reference

    # a classifier file with early stopping: as XGBClassifier.load_model (best_iteration, predict_proba)
    clf = w["clf_multi_es"]
    cj = tmp_path / "clf.json"
    clf.save_model(str(cj))
    back = xgb.XGBClassifier()
    back.load_model(str(cj))
    e = build_entries([str(cj)], float_t="double")[0]
    close(evaluate(e.graph, rows(Xn, n=1000)), back.predict_proba(rows(Xn, n=1000)))
    # a Booster file: every tree, as Booster.predict
    bj = tmp_path / "booster.ubj"
    clf.get_booster().save_model(str(bj))
    raw = xgb.Booster(model_file=str(bj))
    e = build_entries({"b": str(bj)}, float_t="double", options={"b": {"output": "raw"}})[0]
    R2 = rows(Xn, n=1000)
    close(evaluate(e.graph, R2), raw.predict(xgb.DMatrix(R2, nthread=1), output_margin=True))
    r = run_cli(j)
    assert r.returncode == 0, r.stderr
    assert "FLOAT_T *multi_model(FLOAT_T *out, const FLOAT_T *in)" in r.stdout
    r = run_cli(f"raw={u}", "--option", "raw.output=raw", "--option", "iteration_range=1,3", "-f", "double")
    assert r.returncode == 0, r.stderr
    e3 = build_entries({"raw": str(u)}, float_t="double", options={"output": "raw", "iteration_range": "1,3"})
    close(evaluate(e3[0].graph, R), predict(m["softprob"], R, "raw", (1, 3)), 2e-6)
    so = tmp_path / "cli.so"
    r = run_cli("compile", j, "-o", so)
    assert r.returncode == 0, r.stderr
    close(scikinc.load(so, "multi_model")(R), ref)
    np.save(tmp_path / "rows.npy", R)
    r = run_cli("validate", j, "--data", tmp_path / "rows.npy", "--so", so)
    assert r.returncode == 0, r.stdout + r.stderr
    # the Python reference of a live Booster (whose predict wants a DMatrix)
    rep = scikinc.validate(m["softprob"], R, so=so, symbol="multi_model", float_t="float")
    assert rep.ok and rep.n_bad == 0, str(rep)

    # not an XGBoost model / damaged files: clear messages, exit 1
    other = tmp_path / "other.json"
    other.write_text('{"features_info": {}}')
    r = run_cli(other)
    assert r.returncode == 1 and "XGBoost model (no 'learner' object)" in r.stderr and "Traceback" not in r.stderr
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    with pytest.raises(ModelFileError, match="not valid JSON"):
        scikinc.convert(str(bad))
    cut = tmp_path / "cut.ubj"
    cut.write_bytes(u.read_bytes()[:-100])
    r = run_cli(cut)
    assert r.returncode == 1 and "UBJSON" in r.stderr and "Traceback" not in r.stderr
    doc = json.loads(j.read_text())
    doc["learner"]["gradient_booster"]["model"]["trees"][3]["left_children"] = [1, 2]
    broken = tmp_path / "broken.json"
    broken.write_text(json.dumps(doc))
    with pytest.raises(ModelFileError, match="left_children"):
        scikinc.convert(str(broken))
    doc = json.loads(j.read_text())
    doc["learner"]["gradient_booster"]["model"]["tree_info"][0] = 9
    broken.write_text(json.dumps(doc))
    with pytest.raises(ModelFileError, match="adds to output 9"):
        scikinc.convert(str(broken))


def test_ubjson_decoder():
    """Every UBJSON container form (sized, typed, open), all scalar markers, no-ops."""
    doc = (b"{" + b"i\x01a" + b"[$d#i\x02" + np.array([1.5, -2.25], ">f4").tobytes()
           + b"i\x01b" + b"[i\x05U\xffI\x01\x00l\x00\x00\x00\x07L" + (2 ** 40).to_bytes(8, "big") + b"]"
           + b"i\x01c" + b"[#i\x03TFZ" + b"i\x01d" + b"{$S#i\x01i\x01ki\x02hi"
           + b"i\x01e" + b"NSU\x03\xc3\xa9t" + b"i\x01f" + b"D" + np.array([0.1], ">f8").tobytes() + b"}")
    v = decode_ubjson(doc)
    assert v["a"].dtype == np.float32 and v["a"].tolist() == [1.5, -2.25]
    assert v["b"] == [5, 255, 256, 7, 2 ** 40] and v["c"] == [True, False, None]
    assert v["d"] == {"k": "hi"} and v["e"] == "\u00e9t" and v["f"] == 0.1
    for bad in (doc[:-1], doc + b"x", b"[$d#i\x05\x00"):
        with pytest.raises(ValueError, match="UBJSON"):
            decode_ubjson(bad)
    with pytest.raises(ModelFileError):
        parse_model(b"\x00\x01")


# ---------------------------------------------------------------------------
# Errors
# ---------------------------------------------------------------------------


def test_errors(tmp_path, boosters, wrappers):
    X, m = boosters
    Xn, _, w = wrappers
    rng = np.random.default_rng(0)
    lin = xgb.train({"booster": "gblinear", "nthread": 1}, xgb.DMatrix(Xn, label=Xn[:, 0], nthread=1), 3)
    with pytest.raises(ConversionError, match="gblinear"):
        scikinc.convert(lin)
    with pytest.raises(ConversionError, match="gblinear"):
        scikinc.convert(xgb.XGBRegressor(booster="gblinear", n_estimators=2).fit(Xn, Xn[:, 0]))
    lp = tmp_path / "linear.json"
    lin.save_model(str(lp))
    r = run_cli(lp)
    assert r.returncode == 1 and "gblinear" in r.stderr and "Traceback" not in r.stderr
    cox = xgb.train({"objective": "survival:cox", "nthread": 1},
                    xgb.DMatrix(Xn, label=rng.exponential(size=len(Xn)), nthread=1), 2)
    with pytest.raises(ConversionError, match="objective 'survival:cox' is not supported"):
        scikinc.convert(cox)
    with pytest.raises(OptionError, match="output"):
        scikinc.convert({"m": m["sqerr"]}, options={"m": {"output": "proba"}})
    with pytest.raises(ConversionError, match="proba_full"):
        scikinc.convert({"m": m["softprob"]}, options={"m": {"output": "proba_full"}})
    for bad in ("a,b", (5, 2), (0, 99), "3", (True, 2), 7):
        with pytest.raises(ConversionError, match="iteration_range"):
            scikinc.convert({"m": m["binary"]}, options={"m": {"iteration_range": bad}})
    r = run_cli(tmp_path / "missing.json")
    assert r.returncode == 1 and "no such file" in r.stderr
    with pytest.raises(ConversionError, match="not fitted"):
        scikinc.convert(xgb.XGBClassifier())
    # a base_score outside the logistic range (a damaged document)
    doc = json.loads(bytes(m["binary"].save_raw("json")))
    doc["learner"]["learner_model_param"]["base_score"] = "[1.5E0]"
    p = tmp_path / "bs.json"
    p.write_text(json.dumps(doc))
    with pytest.raises(ConversionError, match=r"base_score must be in \(0, 1\)"):
        scikinc.convert(str(p))
    doc = json.loads(bytes(m["softprob"].save_raw("json")))
    doc["learner"]["learner_model_param"]["base_score"] = "[1E-1,2E-1]"
    p.write_text(json.dumps(doc))
    with pytest.raises(ConversionError, match="base_score has 2 values for 4 outputs"):
        scikinc.convert(str(p))
