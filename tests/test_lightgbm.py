"""LightGBM converters vs LightGBM's own predict: Booster, LGBMClassifier /
LGBMRegressor / LGBMRanker and .txt model files; every objective and link;
missing types None/Zero/NaN (and nodes of one feature disagreeing), the
kZeroThreshold zero band, categorical bitsets (NaN, negative, fractional,
huge and unknown categories; more than 256 categories); random-forest, dart,
goss, init scores, single-leaf trees; num_iteration/best_iteration.

Tiers: the IR evaluated in numpy (marker ir) on >= 1000 rows per model;
compiled C (float, double, long double) for the contract and the outputs;
100k rows on, one ulp (float32 and float64) below and above every threshold,
plus NaN, +-inf, zeros and the zero band, compared leaf by leaf (pred_leaf)
for every tree strategy, raw scores bit for bit (double; float: the float32
rounding of LightGBM's double score)."""
from __future__ import annotations

import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest

lgb = pytest.importorskip("lightgbm")

from sklearn.pipeline import Pipeline  # noqa: E402
from sklearn.preprocessing import StandardScaler  # noqa: E402
from util import as_type as _as_type  # noqa: E402
from util import build, check_contract, rows, same_bits, slow_except  # noqa: E402

import scikinc  # noqa: E402
from scikinc.core import build_entries  # noqa: E402
from scikinc.errors import ConversionError, ModelFileError, OptionError  # noqa: E402
from scikinc.ir.boosting import LIGHTGBM_ZERO_THRESHOLD as KZ  # noqa: E402
from scikinc.ir.evaluate import evaluate  # noqa: E402
from scikinc.loaders.lightgbm import LightGBMModel  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
N_FEATURES = 6
CAT_COLS = (3, 5)
BASE = dict(verbose=-1, num_threads=1, deterministic=True, num_leaves=15, min_data_in_leaf=10,
            min_data_per_group=10, cat_smooth=1.0, max_cat_to_onehot=2, seed=0)


def data(n=3000, seed=0):
    """Columns: 0 normal; 1 normal with NaN; 2 with many exact zeros, NaN and
    values in the zero band; 3 categorical 0..29 with NaN; 4 uniform; 5
    categorical with sparse large codes (0, 7, ..., 700)."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, N_FEATURES))
    X[rng.random(n) < 0.1, 1] = np.nan
    X[rng.random(n) < 0.3, 2] = 0.0
    X[rng.random(n) < 0.05, 2] = np.nan
    X[rng.random(n) < 0.05, 2] = rng.choice([1e-36, -1e-36, KZ, -KZ], size=1)[0]
    X[:, 3] = rng.integers(0, 30, n)
    X[rng.random(n) < 0.05, 3] = np.nan
    X[:, 4] = rng.uniform(-1, 1, n)
    X[:, 5] = 7.0 * rng.integers(0, 101, n)
    eff3, eff5 = rng.normal(size=30), rng.normal(size=101)
    f = (X[:, 0] + np.nan_to_num(X[:, 1], nan=1.5) - 0.8 * (np.nan_to_num(X[:, 2], nan=-1.0) == 0)
         + eff3[np.nan_to_num(X[:, 3]).astype(int)] + eff5[(X[:, 5] / 7).astype(int)] + 0.5 * X[:, 4])
    return X, f, rng


def _train(params, X, y, rounds=15, cat=CAT_COLS, **kw):
    p = dict(BASE, **params)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return lgb.train(p, lgb.Dataset(X, y, categorical_feature=list(cat), free_raw_data=False, **kw),
                         num_boost_round=rounds)


def _logistic_obj(preds, ds):
    p = 1 / (1 + np.exp(-preds))
    return p - ds.get_label(), p * (1 - p)


@pytest.fixture(scope="module")
def boosters():
    X, f, rng = data()
    yb = (f > np.median(f)).astype(float)
    y3 = np.digitize(f, np.quantile(f, [0.33, 0.66]))
    ypos = np.exp(0.3 * f) + 0.01
    yfrac = 1 / (1 + np.exp(-f))
    groups = [50] * (len(X) // 50)
    rel = np.digitize(f, np.quantile(f, [0.5, 0.8, 0.95]))
    m = {
        "binary": _train(dict(objective="binary", sigmoid=0.7), X, yb),
        "multiclass": _train(dict(objective="multiclass", num_class=3), X, y3, rounds=8),
        "ova": _train(dict(objective="multiclassova", num_class=3, sigmoid=1.3), X, y3, rounds=8),
        "l2_zero": _train(dict(objective="regression", zero_as_missing=True), X, f),
        "l2_none": _train(dict(objective="regression", use_missing=False), X, f),
        "l1": _train(dict(objective="regression_l1"), X, f),
        "huber": _train(dict(objective="huber", alpha=0.9), X, f),
        "fair": _train(dict(objective="fair"), X, f),
        "quantile": _train(dict(objective="quantile", alpha=0.7), X, f),
        "mape": _train(dict(objective="mape"), X, ypos),
        "reg_sqrt": _train(dict(objective="regression", reg_sqrt=True), X, f * np.abs(f)),
        "poisson": _train(dict(objective="poisson"), X, ypos),
        "gamma_reg": _train(dict(objective="gamma"), X, ypos),
        "tweedie": _train(dict(objective="tweedie", tweedie_variance_power=1.3), X, ypos),
        "xentropy": _train(dict(objective="cross_entropy"), X, yfrac),
        "xentlambda": _train(dict(objective="cross_entropy_lambda"), X, yfrac),
        "lambdarank": _train(dict(objective="lambdarank"), X, rel, group=groups),
        "xendcg": _train(dict(objective="rank_xendcg"), X, rel, group=groups),
        "rf": _train(dict(objective="binary", boosting="rf", bagging_freq=1, bagging_fraction=0.6), X, yb),
        "rf_multi": _train(dict(objective="multiclass", num_class=3, boosting="rf", bagging_freq=1,
                                bagging_fraction=0.6), X, y3, rounds=5),
        "dart": _train(dict(objective="binary", boosting="dart", drop_rate=0.3), X, yb, rounds=20),
        "goss": _train(dict(objective="regression", data_sample_strategy="goss"), X, f),
        "no_avg": _train(dict(objective="regression", boost_from_average=False), X, f + 10),
        "custom": _train(dict(objective=_logistic_obj), X, yb, rounds=8),
        "stump": _train(dict(objective="regression", min_data_in_leaf=len(X)), X, f, rounds=3),
    }
    # continued training with another missing policy: nodes of one feature disagree
    first = _train(dict(objective="regression", zero_as_missing=True), X, f, rounds=5)
    p = dict(BASE, objective="regression")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        m["mixed"] = lgb.train(p, lgb.Dataset(X, f, categorical_feature=list(CAT_COLS)), num_boost_round=5,
                               init_model=first)
    return X, m


@pytest.fixture(scope="module")
def manycat():
    """A categorical feature whose splits name more than 256 categories
    (several category slots), codes up to 1199."""
    rng = np.random.default_rng(5)
    n = 20000
    C = rng.integers(0, 1200, n).astype(float)
    X = np.column_stack([C, rng.normal(size=n)])
    y = rng.normal(size=1200)[C.astype(int)] + 0.1 * X[:, 1]
    b = _train(dict(objective="regression", max_cat_threshold=128, max_bin=2000, max_cat_to_onehot=1,
                    min_data_in_leaf=5, min_data_per_group=5, num_leaves=31), X, y, rounds=6, cat=[0])
    return X, b


def as_type(X, float_t):
    """The rows rounded to FLOAT_T (huge values become inf in float), as float64."""
    with np.errstate(over="ignore"):
        return _as_type(X, float_t)


def predict(b, X, out="predict"):
    X = np.asarray(X, np.float64)
    if out == "leaves":
        return np.asarray(b.predict(X, pred_leaf=True, num_threads=1), np.float64).reshape(len(X), -1)
    return np.asarray(b.predict(X, raw_score=out == "raw", num_threads=1), np.float64).reshape(len(X), -1)


def edge_rows(X):
    """rows() plus the edge values of every column."""
    R = rows(np.nan_to_num(X))
    rng = np.random.default_rng(3)
    edge = np.array([np.nan, np.inf, -np.inf, 0.0, -0.0, KZ, -KZ, 1e-36, -1e-36, np.nextafter(KZ, 1),
                     np.nextafter(-KZ, -1), -0.5, -1.0, 2.5, 1e10, 2.0 ** 31, 1e300])
    E = rng.choice(edge, size=(600, X.shape[1]))
    return np.concatenate([R, E])


def close(got, want, tol):
    got, want = np.asarray(got, np.float64), np.asarray(want, np.float64).reshape(np.shape(got))
    bad = ~((np.abs(got - want) <= tol * (1 + np.abs(want))) | (np.isnan(got) & np.isnan(want)))
    assert not bad.any(), (f"{bad.sum()} mismatches; first at {np.argwhere(bad)[0]}: "
                           f"got {got[tuple(np.argwhere(bad)[0])]!r}, want {want[tuple(np.argwhere(bad)[0])]!r}")


# ---------------------------------------------------------------------------
# IR tier: numpy evaluation of the graphs
# ---------------------------------------------------------------------------


@pytest.mark.ir
def test_ir_every_booster(boosters, manycat):
    X, models = boosters
    R = edge_rows(X)
    assert len(R) >= 1000
    Xc, mc = manycat
    cases = dict(models, manycat=mc)
    for name, b in cases.items():
        Rb = R if name != "manycat" else np.concatenate([rows(Xc), [[np.nan, 0], [-1, 0], [1200, 0], [2.5, 1]]])
        for out in ("predict", "raw", "leaves"):
            for optimize in (False, True):
                e = build_entries({"m": b}, float_t="double", options={"output": out}, optimize=optimize)
                got = evaluate(e[0].graph, Rb)
                want = predict(b, Rb, out)
                if out == "predict":
                    close(got, want, 1e-13)
                else:
                    assert same_bits(got, want), (name, out, np.abs(got - want).max())


@pytest.mark.ir
def test_ir_booster_class_outputs(boosters):
    """Boosters of classification objectives: proba, proba_full and class
    (LightGBM's sklearn wrapper: argmax of the probabilities)."""
    X, m = boosters
    R = edge_rows(X)
    for name in ("binary", "multiclass", "ova", "rf", "rf_multi", "dart", "xentropy"):
        P = predict(m[name], R)
        full = np.column_stack([1 - P[:, 0], P[:, 0]]) if P.shape[1] == 1 else P
        for out, want in (("proba", P), ("proba_full", full), ("class", np.argmax(full, 1)[:, None])):
            e = build_entries({"m": m[name]}, float_t="double", options={"output": out})
            close(evaluate(e[0].graph, R), want, 1e-13 if out != "class" else 0)
    with pytest.raises(OptionError, match="'proba'"):
        build_entries({"m": m["poisson"]}, options={"m.output": "proba"})


@pytest.mark.ir
def test_ir_mixed_missing_types_and_slots(boosters, manycat):
    """The models really exercise what they are meant to: one feature with
    nodes of two missing types, all three missing types, categorical slots
    beyond 256 categories, single-leaf trees, average_output."""
    _, m = boosters

    def parsed(b):
        return LightGBMModel(b.model_to_string())

    def types(b):
        return {(int(f), (int(d) >> 2) & 3) for t in parsed(b).trees
                for f, d in zip(t.split_feature, t.decision_type, strict=True) if not d & 1}

    mixed = types(m["mixed"])
    assert any(len({mt for g, mt in mixed if g == f}) > 1 for f in range(N_FEATURES)), mixed
    assert {mt for _, mt in types(m["binary"]) | types(m["l2_zero"]) | types(m["l2_none"])} == {0, 1, 2}
    e = build_entries({"m": manycat[1]}, float_t="double", optimize=False)
    ens = next(op.ensemble for op in e[0].graph.ops if hasattr(op, "ensemble"))
    assert len(ens.categorical) > 1 and max(c.max() for _, c in ens.categorical) > 255
    assert all(t.num_leaves == 1 for t in parsed(m["stump"]).trees)
    assert parsed(m["rf"]).average_output and not parsed(m["binary"]).average_output


# ---------------------------------------------------------------------------
# Compiled C
# ---------------------------------------------------------------------------


#: compiled (with the strict C99/C++ contract) in every FLOAT_T: every input
#: mode, every output head, random forest, a model file
CONTRACT = ("binary", "multiclass", "ova", "l2_zero", "l2_none", "reg_sqrt", "poisson", "xentlambda", "rf",
            "mixed", "stump")


def _check_compiled(fns, m, Xt, float_t):
    tol = 2e-6 if float_t == "float" else 1e-13
    for sym, f in fns.items():
        base = "binary" if sym == "from_file" else sym.rsplit("_raw", 1)[0].rsplit("_leaves", 1)[0]
        out = "raw" if sym.endswith("_raw") else "leaves" if sym.endswith("_leaves") else "predict"
        want = predict(m[base], Xt, out)
        got = f(Xt)
        if out == "predict":
            close(got, want, tol)
        elif out == "leaves":
            assert np.array_equal(got.astype(np.float64), want), sym
        else:  # the same sums in the same order: LightGBM's double score, rounded to FLOAT_T
            assert same_bits(got, want.astype(f.dtype)), (sym, np.abs(got - want).max())


@pytest.mark.parametrize("float_t", slow_except(["float", "double", "long double"], "float"))
def test_compiled_boosters(tmp_path, boosters, float_t):
    X, m = boosters
    R = edge_rows(X)
    models = {n: m[n] for n in CONTRACT}
    opts = {}
    for n in ("binary", "multiclass", "rf"):
        models[n + "_raw"], opts[n + "_raw.output"] = m[n], "raw"
    models["l2_zero_leaves"], opts["l2_zero_leaves.output"] = m["l2_zero"], "leaves"
    path = tmp_path / "binary.txt"
    m["binary"].save_model(str(path))
    models["from_file"] = str(path)
    fns = check_contract(models, tmp_path, float_t=float_t, X=R, options=opts)
    _check_compiled(fns, m, as_type(R, float_t), float_t)


def test_compiled_every_objective(tmp_path, boosters):
    """The other objectives and boosting modes, compiled in double."""
    X, m = boosters
    R = edge_rows(X)
    models = {n: b for n, b in m.items() if n not in CONTRACT}
    models.update({"multiclass_leaves": m["multiclass"], "rf_multi_raw": m["rf_multi"], "dart_raw": m["dart"]})
    opts = {"multiclass_leaves.output": "leaves", "rf_multi_raw.output": "raw", "dart_raw.output": "raw"}
    _check_compiled(build(models, tmp_path, float_t="double", options=opts), m, R, "double")


# ---------------------------------------------------------------------------
# 100k rows on and around every threshold, every strategy
# ---------------------------------------------------------------------------


def _splits(boosters):
    """Numerical thresholds and categories of every feature in ``boosters``."""
    thr = {f: set() for f in range(N_FEATURES)}
    cats = {f: set() for f in range(N_FEATURES)}
    for b in boosters:
        for t in LightGBMModel(b.model_to_string()).trees:
            for i in range(t.num_leaves - 1):
                f = int(t.split_feature[i])
                if t.decision_type[i] & 1:
                    c = int(t.threshold[i])
                    w = t.cat_threshold[t.cat_boundaries[c]:t.cat_boundaries[c + 1]]
                    cats[f].update(int(32 * j + b) for j, word in enumerate(w) for b in range(32) if word >> b & 1)
                else:
                    thr[f].add(float(t.threshold[i]))
    return thr, cats


def threshold_rows(boosters, n=100_000, seed=1):
    """Each column drawn from: every threshold t, t one float64 ulp below and
    above, the float32 values around t (largest float32 <= t and its
    neighbours), specials (NaN, +-inf, +-0, the zero band and its edges);
    categorical columns from the categories, their halves, negative, huge and
    unknown codes.  A fifth of the values are random."""
    from scikinc.ir.trees import float32_floor

    thr, cats = _splits(boosters)
    rng = np.random.default_rng(seed)
    special = [np.nan, np.inf, -np.inf, 0.0, -0.0, KZ, -KZ, np.nextafter(KZ, 1), np.nextafter(-KZ, -1),
               np.nextafter(KZ, 0), 1e-36, -1e-36, 5e-324, 1e-300]
    R = np.empty((n, N_FEATURES))
    for f in range(N_FEATURES):
        if f in CAT_COLS:
            c = np.array(sorted(cats[f]) or [0], np.float64)
            top = c.max()
            cand = np.concatenate([c, c + 0.5, c + 0.999, c - 1e-9, [-0.5, -0.999, -1.0, -1.5, -7.0, top + 1,
                                   top + 33, 255, 256, 2.0 ** 31 - 1, 2.0 ** 31, 2.0 ** 32, 1e10, 1e300],
                                   special])
        else:
            t = np.array(sorted(thr[f]) or [0.0])
            t32 = float32_floor(t)
            cand = np.concatenate([t, np.nextafter(t, np.inf), np.nextafter(t, -np.inf), t32,
                                   np.nextafter(t32, np.float32(np.inf)), np.nextafter(t32, np.float32(-np.inf)),
                                   special]).astype(np.float64)
        col = rng.choice(cand, n)
        rand = rng.random(n) < 0.2
        col[rand] = rng.normal(size=rand.sum()) * (100 if f in CAT_COLS else 2)
        R[:, f] = col
    return R


EXACT = ("binary", "multiclass", "l2_zero", "l2_none", "mixed", "rf")


@pytest.mark.parametrize("float_t", ["double", "float"])
def test_exact_decisions_100k(tmp_path, boosters, float_t):
    """Leaf indices equal to pred_leaf on 100k rows, every strategy; raw
    scores bit for bit (the same sums in the same order)."""
    _, m = boosters
    R = threshold_rows([m[k] for k in EXACT])
    Rt = as_type(R, float_t)  # the float build sees (and LightGBM is given) the float32 rows
    models, opts = {}, {}
    for k in EXACT:
        has_cat = any(t.decision_type[i] & 1 for t in LightGBMModel(m[k].model_to_string()).trees
                      for i in range(t.num_leaves - 1))
        for cg in ("ifelse", "table", "bitvector") + (() if has_cat else ("branchfree",)):
            for out in ("leaves", "raw"):
                s = f"{k}_{cg}_{out}"
                models[s] = m[k]
                opts[s] = {"output": out, "tree_codegen": cg}
    fns = build(models, tmp_path, float_t=float_t, options=opts)
    want = {(k, out): predict(m[k], Rt, out) for k in EXACT for out in ("leaves", "raw")}
    for s, f in fns.items():
        k, cg, out = s.rsplit("_", 2)
        got = f(Rt)
        w = want[(k, out)]
        if out == "leaves":
            bad = np.flatnonzero((got.astype(np.float64) != w).any(1))
            assert not len(bad), f"{s}: {len(bad)} rows in other leaves, e.g. row {R[bad[0]].tolist()}"
        else:
            assert same_bits(got, w.astype(f.dtype)), (s, np.abs(got - w).max())


def test_manycat_compiled(tmp_path, manycat):
    X, b = manycat
    rng = np.random.default_rng(2)
    R = np.concatenate([rows(X), np.column_stack([rng.uniform(-3, 1300, 3000), rng.normal(size=3000)]),
                        [[np.nan, 0], [-1, 0], [1200, 0], [2.5, 1], [2.0 ** 31, 0], [-0.5, 0]]])
    models = {f"c_{cg}": b for cg in ("ifelse", "table", "bitvector")}
    opts = {f"c_{cg}.tree_codegen": cg for cg in ("ifelse", "table", "bitvector")}
    fns = check_contract(models, tmp_path, float_t="double", X=R, options=opts)
    want = predict(b, R, "raw")
    for f in fns.values():
        assert same_bits(f(R), want)


# ---------------------------------------------------------------------------
# The sklearn wrappers, Pipelines, scikinc.Classifier
# ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def wrappers():
    X, f, rng = data(2000, seed=7)
    yb = np.where(f > np.median(f), "yes", "no")
    y3 = np.digitize(f, np.quantile(f, [0.33, 0.66]))
    kw = dict(n_estimators=12, num_leaves=15, n_jobs=1, verbose=-1, min_child_samples=10, deterministic=True,
              cat_smooth=1.0, max_cat_to_onehot=2, min_data_per_group=10)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        clf2 = lgb.LGBMClassifier(**kw).fit(X, yb, categorical_feature=list(CAT_COLS))
        clf3 = lgb.LGBMClassifier(**kw).fit(X, y3, categorical_feature=list(CAT_COLS))
        reg = lgb.LGBMRegressor(objective="poisson", **kw).fit(X, np.exp(0.3 * f))
        rank = lgb.LGBMRanker(**kw).fit(X, np.digitize(f, [0, 1]), group=[50] * 40)
        pipe = Pipeline([("tX", StandardScaler()), ("gbm", lgb.LGBMRegressor(**kw))]).fit(np.nan_to_num(X), f)
        Xv = X[:400]
        es = lgb.LGBMClassifier(**dict(kw, n_estimators=300, learning_rate=0.5)).fit(
            X[400:], y3[400:], eval_set=[(Xv, y3[:400])], callbacks=[lgb.early_stopping(3, verbose=False)])
        custom = lgb.train(dict(BASE, objective=_logistic_obj), lgb.Dataset(X, (f > 0).astype(float)),
                           num_boost_round=6)
    assert 0 < es.best_iteration_ < 300
    return X, dict(clf2=clf2, clf3=clf3, reg=reg, rank=rank, pipe=pipe, es=es, custom=custom)


def _wrapper_cases(w):
    c2, c3 = w["clf2"], w["clf3"]
    sig = scikinc.Classifier(model=w["custom"], activation="sigmoid")
    return {
        "c2": (c2, {}, lambda X: c2.predict_proba(X)[:, 1:]),
        "c2_full": (c2, {"output": "proba_full"}, c2.predict_proba),
        "c2_class": (c2, {"output": "class"}, lambda X: np.searchsorted(c2.classes_, c2.predict(X))),
        "c2_raw": (c2, {"output": "raw"}, lambda X: c2.predict(X, raw_score=True)),
        "c2_leaves": (c2, {"output": "leaves"}, lambda X: c2.predict(X, pred_leaf=True)),
        "c3": (c3, {}, c3.predict_proba),
        "c3_class": (c3, {"output": "class"}, c3.predict),
        "c3_df": (c3, {"output": "decision_function"}, lambda X: c3.predict(X, raw_score=True)),
        "reg": (w["reg"], {}, w["reg"].predict),
        "reg_raw": (w["reg"], {"output": "raw"}, lambda X: w["reg"].predict(X, raw_score=True)),
        "rank": (w["rank"], {}, w["rank"].predict),
        "pipe": (w["pipe"], {}, lambda X: w["pipe"].predict(np.nan_to_num(X))),
        "es": (w["es"], {}, w["es"].predict_proba),
        "es_5": (w["es"], {"num_iteration": 5}, lambda X: w["es"].predict_proba(X, num_iteration=5)),
        "es_all": (w["es"], {"num_iteration": -1}, lambda X: w["es"].predict_proba(X, num_iteration=-1)),
        "sig": (sig, {}, lambda X: 1 / (1 + np.exp(-w["custom"].predict(X)))),
    }


def _nan_free_for(name, R):
    return np.nan_to_num(R, nan=0.0, posinf=0.0, neginf=0.0) if name == "pipe" else R


@pytest.mark.ir
def test_ir_wrappers(wrappers):
    X, w = wrappers
    R = edge_rows(X)
    for name, (obj, opts, ref) in _wrapper_cases(w).items():
        Rn = _nan_free_for(name, R)
        e = build_entries({"m": obj}, float_t="double", options={"m": opts}, optimize=False)
        got = evaluate(e[0].graph, Rn)
        want = np.asarray(ref(Rn), np.float64).reshape(len(Rn), -1)
        close(got, want, 1e-12)


def test_compiled_wrappers(tmp_path, wrappers):
    X, w = wrappers
    R = edge_rows(X)
    cases = _wrapper_cases(w)
    fns = build({k: v[0] for k, v in cases.items()}, tmp_path, float_t="double",
                options={k: v[1] for k, v in cases.items()})
    for name, (_, _, ref) in cases.items():
        Rn = _nan_free_for(name, R)
        want = np.asarray(ref(Rn), np.float64).reshape(len(Rn), -1)
        close(fns[name](Rn), want, 1e-12)
    # validate (the Python reference is the library's predict) agrees
    rep = scikinc.validate(w["clf3"], R[:300])
    assert rep.ok


# ---------------------------------------------------------------------------
# Model files and the command line
# ---------------------------------------------------------------------------


def run_cli(*args, cwd=None):
    import os

    env = dict(os.environ, PYTHONPATH=str(ROOT / "src"))
    return subprocess.run([sys.executable, "-m", "scikinc", *map(str, args)], capture_output=True, text=True,
                          cwd=cwd, env=env)


def test_txt_files_and_cli(tmp_path, boosters):
    X, m = boosters
    good = tmp_path / "gbm-model.txt"
    m["multiclass"].save_model(str(good))
    loaded = scikinc.io.load_model_file(good)
    assert isinstance(loaded, LightGBMModel) and loaded.n_features_in_ == N_FEATURES
    R = edge_rows(X)
    e = build_entries([str(good)], float_t="double", optimize=False)
    assert e[0].name == "gbm_model"
    close(evaluate(e[0].graph, R), predict(m["multiclass"], R), 1e-13)
    close(loaded.predict(R[:50]), predict(m["multiclass"], R[:50]), 0)  # the validate reference
    # windows line ends are fine
    crlf = tmp_path / "crlf.txt"
    crlf.write_bytes(good.read_bytes().replace(b"\n", b"\r\n"))
    e2 = build_entries([str(crlf)], float_t="double", optimize=False)
    close(evaluate(e2[0].graph, R), predict(m["multiclass"], R), 1e-13)

    r = run_cli(good)
    assert r.returncode == 0, r.stderr
    assert "FLOAT_T *gbm_model(FLOAT_T *out, const FLOAT_T *in)" in r.stdout
    r = run_cli(f"raw={good}", "--option", "raw.output=raw", "--option", "num_iteration=3", "-f", "double")
    assert r.returncode == 0, r.stderr
    e3 = build_entries({"raw": str(good)}, float_t="double", options={"output": "raw", "num_iteration": 3},
                       optimize=False)
    close(evaluate(e3[0].graph, R), m["multiclass"].predict(R, raw_score=True, num_iteration=3), 0)

    # not a LightGBM model: a clear message, exit 1
    other = tmp_path / "notes.txt"
    other.write_text("some notes\nversion=1\n")
    r = run_cli(other)
    assert r.returncode == 1 and "not a LightGBM model file" in r.stderr and "Traceback" not in r.stderr
    with pytest.raises(ModelFileError, match="not a LightGBM model file"):
        scikinc.convert(str(other))
    # a damaged LightGBM text: which line is wrong
    text = good.read_text()
    broken = tmp_path / "broken.txt"
    broken.write_text(text.replace("leaf_value=", "leaf_value=1 2 x ", 1))
    r = run_cli(broken)
    assert r.returncode == 1 and "leaf_value" in r.stderr and "not a valid LightGBM model text" in r.stderr
    cut = tmp_path / "cut.txt"
    cut.write_text(text[:text.find("Tree=0")])
    with pytest.raises(ModelFileError, match="holds no trees"):
        scikinc.convert(str(cut))
    badidx = tmp_path / "badidx.txt"
    badidx.write_text(text.replace("max_feature_idx=5", "max_feature_idx=1"))
    with pytest.raises(ModelFileError, match="beyond max_feature_idx"):
        scikinc.convert(str(badidx))


# ---------------------------------------------------------------------------
# Errors
# ---------------------------------------------------------------------------


def test_errors(tmp_path, boosters):
    X, m = boosters
    y = X[:, 0] + np.nan_to_num(X[:, 1])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        lin = lgb.train(dict(BASE, objective="regression", linear_tree=True), lgb.Dataset(np.nan_to_num(X), y),
                        num_boost_round=3)
    with pytest.raises(ConversionError, match="linear trees"):
        scikinc.convert(lin)
    text = m["binary"].model_to_string().replace("objective=binary sigmoid:0.7", "objective=unknown_loss", 1)
    with pytest.raises(ConversionError, match="objective 'unknown_loss' is not supported"):
        scikinc.convert(LightGBMModel(text))
    text = m["binary"].model_to_string().replace("sigmoid:0.7", "sigmoid:-1", 1)
    with pytest.raises(ConversionError, match="sigmoid must be > 0"):
        scikinc.convert(LightGBMModel(text))
    with pytest.raises(OptionError, match="'leaves'"):  # the message lists what is available
        scikinc.convert({"m": m["l2_zero"]}, options={"m.output": "proba"})
    with pytest.raises(OptionError, match="output='class'"):
        scikinc.convert({"m": m["custom"]}, options={"m.output": "class"})
    with pytest.raises(ConversionError, match="num_iteration must be an integer"):
        scikinc.convert(m["binary"], options={"num_iteration": "all"})
    with pytest.raises(ConversionError, match="expects 6 input columns"):
        scikinc.convert(Pipeline([("s", StandardScaler().fit(X[:, :4])), ("g", m["binary"])]))
    with pytest.raises(ConversionError, match="not fitted"):
        scikinc.convert(lgb.LGBMRegressor())
    # the unscoped class output leaves regressors alone, as for the sklearn converters
    src = scikinc.convert({"c": m["binary"], "r": m["l2_zero"]}, options={"output": "class"})
    assert "FLOAT_T *r(" in src
    r = run_cli(tmp_path / "missing.txt")
    assert r.returncode == 1 and "no such file" in r.stderr
