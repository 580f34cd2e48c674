"""XGBoost: ``xgboost.Booster``, ``XGBClassifier``, ``XGBRegressor``,
``XGBRanker`` (and the other ``XGBModel`` wrappers: XGBRF*) objects, and
``.json`` / ``.ubj`` model files (``save_model``; read by
:mod:`scikinc.loaders.xgboost` without importing xgboost).

Every model goes through XGBoost's own serialisation (``save_raw("ubj")``
for live objects: float32 values bit for bit).  The graph is

``XGBoostInput`` (only with categorical splits or ``missing`` not NaN) ->
``TreeEnsemble`` (double accumulator, XGBoost's tree order) -> the
objective's output transform.

Decisions as XGBoost's CPU predictor:

* the row is cast to float32; a numerical node sends ``x < split_condition``
  (float32) left, i.e. ``x <= nextafter(t, -inf)`` compared in float32 (also
  in double builds); a missing value (NaN, or ``(float)x == (float)missing``
  for the scikit-learn wrappers' ``missing=``) goes to ``default_left``; +-inf
  are ordinary values;
* a categorical node (``enable_categorical``) sends the categories it lists
  RIGHT and every other one left: the input is the category code (pandas
  ``.cat.codes`` of the training categories, NaN for missing), truncated
  ``(int)(float)x``; negative codes and codes >= 2**24 go left, missing goes
  to ``default_left``.  Each categorical feature becomes one column of
  :class:`~scikinc.ir.boosting.XGBoostInput` and one or more categorical
  slots of the ensemble (a slot: the missing code and up to 255 listed
  categories; any other category is unknown there and goes left).

The intercept (``base_score``, stored in the objective's output space; a
vector for multi-class / multi-target models since XGBoost 2) is turned into
the margin as XGBoost does it in float32 (logistic: ``-logf(1/b - 1)``;
poisson/gamma/tweedie: ``logf(b)``; others: ``b``).  ``dart`` trees are
weighted as XGBoost weights them: ``float32(leaf * weight_drop)`` for a
Booster (``predict``), ``float32((float32(base + leaf) - base) *
weight_drop)`` for the scikit-learn wrappers (their ``predict`` calls
``inplace_predict``): exact both ways.  Multi-target models (``num_target > 1``) are supported with one tree
per target (``multi_strategy="one_output_per_tree"``) and with vector-leaf
trees (``"multi_output_tree"``).  ``gblinear`` is refused.

The sum runs in double where XGBoost sums in float32: the outputs agree
within float32 rounding of the sum, the leaves reached exactly.

Options: ``output`` (see each class's notes), ``tree_codegen`` (as the
sklearn trees), ``iteration_range`` (``(begin, end)`` or ``"begin,end"`` as
``predict(iteration_range=)``, end 0: the last; default: what ``predict``
uses: all trees for a Booster, ``best_iteration`` for the scikit-learn
wrappers when early stopping recorded one, also for files they saved).
"""
from __future__ import annotations

import ctypes
import ctypes.util
import math

import numpy as np

from ..errors import ConversionError
from ..ir import Activation, Softmax
from ..ir.boosting import XGBOOST_CAT_MISSING, XGBoostInput
from ..ir.heads import ArgMax
from ..ir.preprocessing import Binarize
from ..ir.trees import Tree, TreeEnsemble
from ..loaders.xgboost import XGBoostModel, XGBoostTree
from ..registry import register_converter
from .heads import binary_full, output_option
from .trees import codegen_option

#: objectives whose prediction is the margin
IDENTITY = ("reg:squarederror", "reg:squaredlogerror", "reg:absoluteerror", "reg:pseudohubererror",
            "reg:quantileerror", "binary:logitraw")
#: logistic objectives: prediction sigmoid(margin), intercept logit(b)
LOGISTIC = ("binary:logistic", "reg:logistic")
#: log-link objectives: prediction exp(margin), intercept log(b)
LOG_LINK = ("count:poisson", "reg:gamma", "reg:tweedie")
MULTICLASS = ("multi:softprob", "multi:softmax")
SUPPORTED = IDENTITY + LOGISTIC + LOG_LINK + MULTICLASS + ("binary:hinge", "rank:*")
#: objectives with probabilities for the Booster / regressor outputs proba, proba_full, class
_PROBA = ("binary:logistic",) + MULTICLASS
#: the most category codes one categorical slot of the ensemble holds besides the missing code
_SLOT_CODES = 255
_RAW = ("raw", "decision_function")


# ---------------------------------------------------------------------------
# float32 arithmetic of XGBoost's intercept
# ---------------------------------------------------------------------------


def _libm_logf():
    try:
        name = ctypes.util.find_library("m")
        f = ctypes.CDLL(name).logf if name else None
    except (OSError, AttributeError):
        return None
    if f is not None:
        f.restype = ctypes.c_float
        f.argtypes = [ctypes.c_float]
    return f


_LOGF = _libm_logf()


def _logf(v) -> np.float32:
    """``logf(v)`` of the C library (the one XGBoost calls); without it, the
    correctly rounded float32 logarithm."""
    v = np.float32(v)
    if _LOGF is not None:
        return np.float32(_LOGF(float(v)))
    return np.float32(math.log(float(v)))


def _objective(m: XGBoostModel) -> str:
    o = m.objective
    if o in SUPPORTED or o.startswith("rank:"):
        return o
    raise ConversionError(f"{m.source}: objective {o!r} is not supported; supported: "
                          f"{', '.join(SUPPORTED)}")


def _margin(m: XGBoostModel, n_out: int) -> np.ndarray:
    """The intercept in margin space, one per output (float32 values)."""
    o = _objective(m)
    b = np.asarray(m.base_score, np.float32).reshape(-1)
    if len(b) == 1:
        b = np.repeat(b, n_out)
    if len(b) != n_out:
        raise ConversionError(f"{m.source}: base_score has {len(b)} values for {n_out} outputs")
    out = np.empty(n_out, np.float32)
    for j, v in enumerate(b):
        if o in LOGISTIC:
            if not 0 < v < 1:
                raise ConversionError(f"{m.source}: base_score must be in (0, 1) for {o}, got {float(v)!r}")
            out[j] = -_logf(np.float32(np.float32(1) / v - np.float32(1)))
        elif o in LOG_LINK:
            if not v > 0:
                raise ConversionError(f"{m.source}: base_score must be > 0 for {o}, got {float(v)!r}")
            out[j] = _logf(v)
        else:
            out[j] = v
    return out.astype(np.float64)


# ---------------------------------------------------------------------------
# Iterations, trees, categorical slots
# ---------------------------------------------------------------------------


def _iteration_range(m: XGBoostModel, ctx, default):
    r = ctx.option("iteration_range", None)
    if r is None:
        r = default
    elif isinstance(r, str):
        parts = r.replace(":", ",").split(",")
        try:
            r = tuple(int(p) for p in parts)
        except ValueError:
            r = None
    if (not isinstance(r, (tuple, list)) or len(r) != 2
            or not all(isinstance(v, (int, np.integer)) and not isinstance(v, bool) for v in r)):
        raise ConversionError(f"iteration_range must be (begin, end) or 'begin,end' (integers; end 0: the last "
                              f"iteration), got {ctx.option('iteration_range', None)!r}")
    b, e = int(r[0]), int(r[1])
    n = m.n_iterations
    if e == 0:
        e = n
    if not 0 <= b < e <= n:
        raise ConversionError(f"iteration_range ({r[0]}, {r[1]}) is outside the model's {n} iterations")
    return b, e


def _check_split(m: XGBoostModel, k: int, t: XGBoostTree, i: int):
    f = int(t.feature[i])
    if not 0 <= f < m.num_feature:
        raise ConversionError(f"{m.source}: tree {k} node {i} splits on feature {f} of {m.num_feature}")
    if t.split_type[i] == 0 and not (np.isfinite(t.threshold[i]) or t.threshold[i] == np.inf):
        raise ConversionError(f"{m.source}: tree {k} node {i} has split condition {float(t.threshold[i])!r}")
    if t.split_type[i] not in (0, 1):
        raise ConversionError(f"{m.source}: tree {k} node {i} has unknown split type {int(t.split_type[i])}")


def _order(t: XGBoostTree) -> list[int]:
    """The nodes reachable from the root (deleted nodes are not), parents first."""
    order, head = [0], 0
    while head < len(order):
        i = order[head]
        head += 1
        if t.left[i] != -1:
            order += [int(t.left[i]), int(t.right[i])]
    if len(order) != len(set(order)):
        raise ConversionError("a tree is not a tree (a node is reached twice)")
    return order


class _Slots:
    """Categorical slots: per categorical feature, groups of <= 255 category
    codes (plus the missing code) that together hold the lists of its
    splits.  A split listing more codes becomes a membership column of
    XGBoostInput (1: listed, goes right) tested as a numerical split."""

    def __init__(self):
        self.feature: list[int] = []
        self.codes: list[set] = []
        self.of: dict[tuple[int, int], int] = {}
        self.members: dict[tuple[int, tuple], int] = {}  # (feature, codes) -> membership column
        self.member_of: dict[tuple[int, int], int] = {}

    def add(self, f: int, k: int, i: int, cats: np.ndarray):
        if len(cats) > _SLOT_CODES:
            key = (f, tuple(int(c) for c in cats))
            self.member_of[(k, i)] = self.members.setdefault(key, len(self.members))
            return
        vals = set(int(c) for c in cats)
        s = next((s for s, (ff, c) in enumerate(zip(self.feature, self.codes, strict=True))
                  if ff == f and len(c | vals) <= _SLOT_CODES), None)
        if s is None:
            s = len(self.feature)
            self.feature.append(f)
            self.codes.append(set())
        self.codes[s] |= vals
        self.of[(k, i)] = s

    def values(self, s: int) -> np.ndarray:
        """The slot's sorted category values: the missing code first, then the codes."""
        return np.array([XGBOOST_CAT_MISSING] + sorted(self.codes[s]), np.float64)


def _trees(m: XGBoostModel, lo: int, hi: int, dart_base=None):
    """``(input op, trees, offsets, categorical slots)`` of trees ``lo:hi``.
    ``dart_base``: None for dart trees weighted as ``Booster.predict`` does,
    else the float32 margins of the intercept, for ``inplace_predict``'s
    weighting (the scikit-learn wrappers' predict)."""
    src = m.trees[lo:hi]
    slots = _Slots()
    orders = []
    for k, t in enumerate(src, start=lo):
        order = _order(t)
        orders.append(order)
        for i in order:
            if t.left[i] == -1:
                continue
            _check_split(m, k, t, i)
            if t.split_type[i] == 1:
                slots.add(int(t.feature[i]), k, i, t.cats[i])
    n_in = m.num_feature
    cat_features = sorted(set(slots.feature))
    n_slot_cols = n_in + len(cat_features)
    trees = []
    for k, (t, order) in enumerate(zip(src, orders, strict=True), start=lo):
        pos = {old: new for new, old in enumerate(order)}
        idx = np.array(order, np.int64)
        leaf = t.left[idx] == -1
        left = np.where(leaf, -1, [pos.get(int(c), -1) for c in t.left[idx]])
        right = np.where(leaf, -1, [pos.get(int(c), -1) for c in t.right[idx]])
        value = t.leaf[idx]
        if m.weight_drop is not None:
            w = np.float32(m.weight_drop[k])
            value = value.astype(np.float32)
            if dart_base is None:  # Booster.predict adds float32(leaf * weight)
                value = (value * w).astype(np.float32)
            else:  # inplace_predict: each tree's prediction p = base + leaf, then adds (p - base) * weight
                b = (dart_base.reshape(1, -1) if m.multi_target_trees
                     else np.full((1, 1), dart_base[int(m.tree_info[k])])).astype(np.float32)
                value = ((((b + value).astype(np.float32) - b).astype(np.float32)) * w).astype(np.float32)
        value = np.where(leaf[:, None], value, 0).astype(np.float64)
        # x < t (float32)  <=>  x <= the float32 below t
        thr = np.nextafter(t.threshold[idx].astype(np.float32), np.float32(-np.inf)).astype(np.float64)
        cat_node = (~leaf) & (t.split_type[idx] == 1)
        is_cat = np.zeros(len(idx), bool)
        feature = np.where(leaf, 0, t.feature[idx])
        nan_left = t.default_left[idx].copy()
        bitset = {}
        for new in np.flatnonzero(cat_node):
            old = order[new]
            if (k, old) in slots.member_of:  # membership column: 1 (listed) > 0.5 goes right
                feature[new] = n_slot_cols + slots.member_of[(k, old)]
                thr[new] = 0.5
                continue
            s = slots.of[(k, old)]
            vals = slots.values(s)
            # bits of the slot's values going LEFT: the missing code iff default_left,
            # every code the node does not list
            goes_left = ~np.isin(vals, t.cats[old].astype(np.float64))
            goes_left[0] = bool(t.default_left[old])
            codes = np.flatnonzero(goes_left)
            words = np.zeros(8, np.uint32)
            np.bitwise_or.at(words, codes >> 5, np.uint32(1) << (codes & 31).astype(np.uint32))
            bitset[int(new)] = words
            is_cat[new] = True
            feature[new] = s
            nan_left[new] = True  # unknown and invalid categories (slot code -1) go left
        trees.append(Tree(feature=feature, threshold=np.where(is_cat | leaf, 0.0, thr), left=left, right=right,
                          value=value, nan_left=nan_left, is_cat=is_cat, bitset=bitset, leaf_id=idx))
    offsets = np.zeros(len(src), np.int64) if m.multi_target_trees else m.tree_info[lo:hi].copy()
    categorical = [(n_in + cat_features.index(f), slots.values(s)) for s, f in enumerate(slots.feature)]
    members = sorted(slots.members.items(), key=lambda kv: kv[1])
    pre = dict(cat_src=cat_features, member_src=[f for (f, _), _ in members],
               member_codes=[list(c) for (_, c), _ in members])
    return pre, trees, offsets, categorical


def _ensemble(m: XGBoostModel, ctx, g, x, *, missing, rng, inplace=False, leaves=False, final=None):
    """The input op (if any) and the ensemble of the iterations ``rng``, applied to ``x``."""
    if m.booster not in ("gbtree", "dart"):
        raise ConversionError(f"{m.source}: booster {m.booster!r} is not supported (gblinear is a linear model, "
                              "not trees); only gbtree and dart models can be converted")
    n_out = m.n_groups
    lo, hi = (int(m.iteration_indptr[rng[0]]), int(m.iteration_indptr[rng[1]]))
    n_in = m.num_feature
    dart_base = _margin(m, n_out).astype(np.float32) if inplace and m.weight_drop is not None else None
    pre, trees, offsets, categorical = _trees(m, lo, hi, dart_base)
    missing = float(np.float32(missing))
    if len(pre["cat_src"]) or len(pre["member_src"]) or not math.isnan(missing):
        op = XGBoostInput(n_in, missing, **pre)
        x = g.add(op, x)
        width = op.out_width([n_in])
    else:
        width = n_in
    common = dict(n_features=width, compare="float32", categorical=categorical, codegen=codegen_option(ctx))
    if leaves:
        if not trees:
            raise ConversionError(f"{m.source}: output='leaves' of a model without trees")
        return g.add(TreeEnsemble(trees, n_out=len(trees), offsets=np.arange(len(trees)), leaf_ids=True,
                                  **common), x)
    if not trees:  # no trees: the intercept alone
        w = n_out if m.multi_target_trees else 1
        trees = [Tree(feature=np.zeros(1, np.int64), threshold=np.zeros(1), left=np.full(1, -1),
                      right=np.full(1, -1), value=np.zeros((1, w)), nan_left=np.zeros(1, bool))]
        offsets = np.zeros(1, np.int64)
    return g.add(TreeEnsemble(trees, n_out=n_out, offsets=offsets, base=_margin(m, n_out), final=final,
                              **common), x)


# ---------------------------------------------------------------------------
# Outputs
# ---------------------------------------------------------------------------


def _predict(m: XGBoostModel, g, raw):
    """Booster.predict's transform of the margins (multi:softmax: see _convert)."""
    o = _objective(m)
    if o in LOGISTIC:
        return g.add(Activation("sigmoid"), raw)
    if o in LOG_LINK:
        return g.add(Activation("exp"), raw)
    if o == "multi:softprob":
        return g.add(Softmax(), raw)
    if o == "binary:hinge":
        return g.add(Binarize(0.0), raw)
    return raw


def _source(obj):
    """``(XGBoostModel, kind, missing, default iteration range)`` of any supported object."""
    if isinstance(obj, XGBoostModel):
        kind = {"classifier": "classifier", "regressor": "regressor", "ranker": "ranker"}.get(
            obj.estimator_type or "", "booster")
        best = obj.best_iteration if kind != "booster" else None
        return obj, kind, float("nan"), (0, best + 1) if best is not None else (0, 0)
    name = type(obj).__name__
    if hasattr(obj, "get_booster"):  # an XGBModel wrapper
        try:
            booster = obj.get_booster()
        except Exception as e:  # NotFittedError
            raise ConversionError(f"{name} is not fitted") from e
        if getattr(obj, "booster", None) == "gblinear":
            raise ConversionError(f"{name}: booster 'gblinear' is not supported (a linear model, not trees); "
                                  "only gbtree and dart models can be converted")
        m = XGBoostModel.from_booster(booster, name)
        mro = [c.__name__ for c in type(obj).__mro__]
        kind = "classifier" if "XGBClassifier" in mro else "ranker" if "XGBRanker" in mro else "regressor"
        missing = obj.missing if obj.missing is not None else float("nan")
        try:
            missing = float(missing)
        except (TypeError, ValueError):
            raise ConversionError(f"{name}: missing={obj.missing!r} is not a number") from None
        best = m.best_iteration
        return m, kind, missing, (0, best + 1) if best is not None else (0, 0)
    return XGBoostModel.from_booster(obj, name), "booster", float("nan"), (0, 0)


def _convert(obj, g, x, ctx):
    m, kind, missing, default_range = _source(obj)
    # dart: the scikit-learn wrappers predict through inplace_predict, a Booster through predict(DMatrix);
    # they weight the trees with different float32 roundings, both reproduced exactly
    how = dict(missing=missing, inplace=kind != "booster")
    if m.booster not in ("gbtree", "dart"):
        raise ConversionError(f"{m.source}: booster {m.booster!r} is not supported (gblinear is a linear model, "
                              "not trees); only gbtree and dart models can be converted")
    o = _objective(m)
    n_out = m.n_groups
    if kind == "classifier":
        allowed = ("proba", "proba_full", "class") + _RAW + ("leaves",)
        default = "proba"
    else:
        allowed = ("predict",) + _RAW + ("leaves",) + (("proba", "proba_full", "class") if o in _PROBA else ())
        default = "predict"
    out = output_option(ctx, obj, allowed, default)
    rng = _iteration_range(m, ctx, default_range)
    if out == "leaves":
        return _ensemble(m, ctx, g, x, rng=rng, **how, leaves=True)
    multiclass = o in MULTICLASS
    if out == "class" and multiclass or (out == "predict" and o == "multi:softmax"):
        # the first largest margin (XGBoost: argmax of the probabilities / margins)
        return _ensemble(m, ctx, g, x, rng=rng, **how, final=("argmax",))
    if out == "proba_full" and n_out != 1:
        raise ConversionError(f"{type(obj).__name__}: output='proba_full' is for binary models (one output); "
                              f"this one has {n_out}: use 'proba'")
    raw = _ensemble(m, ctx, g, x, rng=rng, **how)
    if out in _RAW:
        return raw
    if multiclass and out in ("proba", "predict"):  # softprob's predict; softmax's predict_proba
        return g.add(Softmax(), raw)
    y = _predict(m, g, raw)
    if out == "class":  # XGBClassifier.predict: 1 where the prediction is > 0.5
        return g.add(ArgMax(0.5), y) if n_out == 1 else g.add(Binarize(0.5), y)
    if out == "proba_full":
        return binary_full(g, y)
    return y


def _booster_n_inputs(b) -> int:
    return int(b.num_features())


_COMMON = ("objectives reg:squarederror/squaredlogerror/absoluteerror/pseudohubererror/quantileerror, "
           "reg:logistic, binary:logistic/logitraw/hinge, count:poisson, reg:gamma, reg:tweedie (exp), "
           "multi:softprob/softmax, rank:*; gbtree, dart (weighted as predict: exact), gblinear refused; "
           "multi-target; base_score → margin as XGBoost; exact float32 split decisions, NaN/missing= to the "
           "default side, categorical splits (input: the category code); iteration_range option (default as "
           "predict); tree_codegen option")
_OUT = "raw|decision_function (output_margin), leaves (pred_leaf / apply: node id per tree)"


@register_converter("xgboost.core.Booster", n_inputs=_booster_n_inputs, notes=(
    "output=predict (default: Booster.predict; multi:softmax the class), " + _OUT
    + ", proba|proba_full|class for binary:logistic and multi:*; " + _COMMON))
def xgboost_booster(obj, g, x, ctx):
    return _convert(obj, g, x, ctx)


@register_converter(XGBoostModel, notes=(
    "an XGBoost .json/.ubj model file (save_model; read without xgboost): as xgboost.Booster, or as the "
    "scikit-learn wrapper that saved it (its outputs and best_iteration)"))
def xgboost_model_file(obj, g, x, ctx):
    return _convert(obj, g, x, ctx)


@register_converter("xgboost.sklearn.XGBClassifier", notes=(
    "predict_proba (binary → P(class 1); multi:softmax → softmax of the margins), output=proba|proba_full|"
    "class (predict: prediction > 0.5, argmax for multiclass, per label for multi-label), " + _OUT + "; "
    "missing=; best_iteration as predict; " + _COMMON))
def xgb_classifier(obj, g, x, ctx):
    return _convert(obj, g, x, ctx)


for _name in ("XGBRegressor", "XGBRanker", "XGBModel"):
    register_converter(f"xgboost.sklearn.{_name}", notes=(
        "predict (default), " + _OUT + "; missing=; best_iteration as predict; " + _COMMON))(
        lambda obj, g, x, ctx: _convert(obj, g, x, ctx))
