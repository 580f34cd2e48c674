"""LightGBM: ``lightgbm.Booster``, ``LGBMClassifier``, ``LGBMRegressor``,
``LGBMRanker`` (and any ``LGBMModel``) objects, and ``.txt`` model files
(``Booster.save_model``, read by :mod:`scikinc.loaders.lightgbm` without
importing lightgbm).

Every model goes through its text form (``Booster.model_to_string()``): the
trees, their thresholds (printed to round-trip), leaf values and decision
types.  The graph is

``LightGBMInput`` -> ``TreeEnsemble`` (double accumulator, LightGBM's order:
iteration-major, class-minor) -> the objective's output transform.

Decisions as LightGBM's ``Tree::Decision`` on a dense row:

* the C API first turns every ``|v| <= kZeroThreshold`` (``1e-35f``) into 0;
* numerical splits compare ``v <= threshold`` in double (``compare="float64"``,
  also in float builds), per node missing type: None (NaN -> 0.0), Zero (0
  and NaN go the default side), NaN (NaN goes the default side).  Every
  ``(feature, missing type)`` used by some node is one column of
  :class:`~scikinc.ir.boosting.LightGBMInput`, which maps the value the way
  that missing type needs (so nodes of one feature may even disagree);
* categorical splits test ``(int)v`` in the node's bitset: NaN, ``v <= -1``,
  ``v >= 2**31`` and categories beyond the bitset go right.  The categories
  a feature's bitsets name become the category list of one categorical slot
  of the ensemble (several slots when they exceed 256), anything else goes
  right (the slot's unknown code, ``nan_left`` false).

Init scores (``boost_from_average``) are folded into the first trees' leaves
by LightGBM itself; ``dart`` trees are stored already scaled; random-forest
mode (``average_output``) divides the sum by the number of iterations for
``predict``, but not for ``raw`` (as ``predict(raw_score=True)``).

Options: ``output`` (see the notes of each class), ``tree_codegen`` (as the
sklearn trees), ``num_iteration`` (as ``predict(num_iteration=)``: default
the best iteration when the Booster has one, else all; an integer ``k > 0``
the first ``k`` iterations; ``k <= 0`` all of them).
"""
from __future__ import annotations

import numpy as np

from ..errors import ConversionError
from ..ir import Activation, Affine, Binary, Softmax
from ..ir.boosting import LightGBMInput
from ..ir.trees import Tree, TreeEnsemble
from ..loaders.lightgbm import LightGBMModel
from ..registry import register_converter
from .heads import binary_full, output_option
from .trees import codegen_option

#: objectives whose predict is the raw score (regression losses, ranking)
IDENTITY = ("regression", "regression_l1", "huber", "fair", "quantile", "mape", "lambdarank", "rank_xendcg")
#: log-link objectives: predict = exp(raw)
EXP = ("poisson", "gamma", "tweedie")
#: objectives with class probabilities
CLASSIFICATION = ("binary", "cross_entropy", "multiclass", "multiclassova")
SUPPORTED = IDENTITY + EXP + CLASSIFICATION + ("cross_entropy_lambda",)

#: bits of LightGBM's decision_type
_CAT, _DEFAULT_LEFT = 1, 2
_MISSING = {0: "none", 1: "zero", 2: "nan"}
#: categories of one categorical slot of a TreeEnsemble (8 x 32-bit words)
_SLOT_CATS = 256


# ---------------------------------------------------------------------------
# The model text and the trees
# ---------------------------------------------------------------------------


def _num_iteration(ctx):
    k = ctx.option("num_iteration", None)
    if k is not None and (isinstance(k, bool) or not isinstance(k, (int, np.integer))):
        raise ConversionError(f"num_iteration must be an integer (<= 0: all iterations), got {k!r}")
    return None if k is None else int(k)


def _model_of(obj, ctx) -> LightGBMModel:
    """The parsed text of ``obj`` with the iterations ``predict`` uses."""
    k = _num_iteration(ctx)
    if isinstance(obj, LightGBMModel):
        if k is not None and 0 < k * obj.num_tree_per_iteration < len(obj.trees):
            return obj.first_iterations(k)
        return obj
    booster = obj.booster_ if hasattr(obj, "booster_") else obj
    text = booster.model_to_string() if k is None else booster.model_to_string(num_iteration=k)
    return LightGBMModel(text, source=type(obj).__name__)


def _bitset_values(t, i) -> np.ndarray:
    """Categories going left at categorical node ``i`` (its bitset's set bits)."""
    c = int(t.threshold[i])
    if not 0 <= c < len(t.cat_boundaries) - 1:
        raise ConversionError(f"categorical split with bitset index {c} out of range")
    words = t.cat_threshold[t.cat_boundaries[c]:t.cat_boundaries[c + 1]].astype(np.uint64)
    bits = (words[:, None] >> np.arange(32, dtype=np.uint64)) & np.uint64(1)
    return np.flatnonzero(bits.reshape(-1)).astype(np.int64)


def _ensemble(m: LightGBMModel, ctx, *, leaves: bool, average: bool, final=None):
    """``(LightGBMInput, TreeEnsemble)`` of a parsed model."""
    if any(t.is_linear for t in m.trees):
        raise ConversionError("linear trees (linear_tree=True: a linear model in every leaf) are not supported")
    columns: dict[tuple[str, int], int] = {}  # (mode, feature) -> position within its mode
    cat_nodes: dict[int, list[tuple[int, int, np.ndarray]]] = {}  # feature -> (tree, node, categories)
    for k, t in enumerate(m.trees):
        for i in range(t.num_leaves - 1):
            f, dt = int(t.split_feature[i]), int(t.decision_type[i])
            if dt & _CAT:
                cat_nodes.setdefault(f, []).append((k, i, _bitset_values(t, i)))
                columns.setdefault(("cat", f), 0)
            else:
                mt = (dt >> 2) & 3
                if mt not in _MISSING:
                    raise ConversionError(f"tree {k} node {i}: unknown missing type {mt} in decision_type {dt}")
                columns.setdefault((_MISSING[mt], f), 0)
    if not columns:  # only single-leaf trees: any one column keeps the ensemble well-formed
        columns[("none", 0)] = 0
    order = sorted(columns, key=lambda mf: (LightGBMInput.MODES.index(mf[0]), mf[1]))
    col = {mf: j for j, mf in enumerate(order)}
    pre = LightGBMInput(m.n_features_in_, [f for _, f in order],
                        [sum(1 for md, _ in order if md == mode) for mode in LightGBMInput.MODES])

    # categorical slots: each node's categories within one slot of <= 256 categories
    slots: list[tuple[int, set]] = []  # (feature, categories)
    slot_of: dict[tuple[int, int], int] = {}
    for f in sorted(cat_nodes):
        mine: list[int] = []
        for k, i, vals in cat_nodes[f]:
            if len(vals) > _SLOT_CATS:
                raise ConversionError(f"tree {k}: a categorical split sends {len(vals)} categories left; "
                                      f"at most {_SLOT_CATS} are supported")
            s = next((s for s in mine if len(slots[s][1] | set(vals.tolist())) <= _SLOT_CATS), None)
            if s is None:
                s = len(slots)
                slots.append((f, set()))
                mine.append(s)
            slots[s][1].update(vals.tolist())
            slot_of[(k, i)] = s
    slot_vals = [np.array(sorted(v), np.float64) for _, v in slots]
    categorical = [(col[("cat", f)], slot_vals[s]) for s, (f, _) in enumerate(slots)]

    trees = []
    for k, t in enumerate(m.trees):
        n_int = t.num_leaves - 1
        n = n_int + t.num_leaves
        feature = np.zeros(n, np.int64)
        thr = np.zeros(n)
        left = np.full(n, -1, np.int64)
        right = np.full(n, -1, np.int64)
        nan_left = np.zeros(n, bool)
        is_cat = np.zeros(n, bool)
        value = np.zeros(n)
        value[n_int:] = t.leaf_value
        leaf_id = np.zeros(n, np.int64)
        leaf_id[n_int:] = np.arange(t.num_leaves)
        bitset = {}
        for i in range(n_int):
            f, dt = int(t.split_feature[i]), int(t.decision_type[i])
            lc, rc = int(t.left_child[i]), int(t.right_child[i])
            left[i] = lc if lc >= 0 else n_int + ~lc
            right[i] = rc if rc >= 0 else n_int + ~rc
            if dt & _CAT:
                s = slot_of[(k, i)]
                is_cat[i] = True
                feature[i] = s
                codes = np.searchsorted(slot_vals[s], _bitset_values(t, i).astype(np.float64))
                words = np.zeros(8, np.uint32)
                np.bitwise_or.at(words, codes >> 5, (np.uint32(1) << (codes & 31).astype(np.uint32)))
                bitset[i] = words
            else:
                mode = _MISSING[(dt >> 2) & 3]
                feature[i] = col[(mode, f)]
                thr[i] = t.threshold[i]
                nan_left[i] = mode != "none" and bool(dt & _DEFAULT_LEFT)
        trees.append(Tree(feature=feature, threshold=thr, left=left, right=right, value=value,
                          nan_left=nan_left, is_cat=is_cat, bitset=bitset, leaf_id=leaf_id))
    K = m.num_tree_per_iteration
    n_iter = len(trees) // K
    offsets = np.arange(len(trees)) % K
    common = dict(n_features=len(order), offsets=offsets, compare="float64", categorical=categorical,
                  codegen=codegen_option(ctx))
    if leaves:
        return pre, TreeEnsemble(trees, n_out=len(trees), leaf_ids=True, **common)
    return pre, TreeEnsemble(trees, n_out=K, divisor=n_iter if average and n_iter > 1 else None,
                             final=final, **common)


# ---------------------------------------------------------------------------
# Outputs
# ---------------------------------------------------------------------------


def _objective(m: LightGBMModel) -> str | None:
    o = m.objective
    if o is not None and o not in SUPPORTED:
        raise ConversionError(f"objective {o!r} is not supported; supported: {', '.join(SUPPORTED)} "
                              "and custom objectives (raw scores)")
    return o


def _sigmoid_param(m: LightGBMModel) -> float:
    try:
        s = float(str(m.objective_params.get("sigmoid", 1.0)))
    except (TypeError, ValueError):
        raise ConversionError(f"objective {m.objective}: invalid sigmoid parameter "
                              f"{m.objective_params.get('sigmoid')!r}") from None
    if not s > 0:
        raise ConversionError(f"objective {m.objective}: sigmoid must be > 0, got {s}")
    return s


def _transform(m: LightGBMModel, g, raw):
    """LightGBM's ConvertOutput of the objective (``predict`` without raw_score)."""
    o = _objective(m)
    if o is None or o in ("lambdarank", "rank_xendcg"):
        return raw
    if o in IDENTITY:
        if m.objective_params.get("sqrt"):  # reg_sqrt: sign(x) * x * x
            return g.add(Binary("mul"), raw, g.add(Activation("abs"), raw))
        return raw
    if o in EXP:
        return g.add(Activation("exp"), raw)
    if o == "cross_entropy_lambda":
        return g.add(Activation("softplus"), raw)
    if o == "multiclass":
        return g.add(Softmax(), raw)
    s = 1.0 if o == "cross_entropy" else _sigmoid_param(m)  # binary, multiclassova: 1 / (1 + exp(-s x))
    if s != 1.0:
        raw = g.add(Affine(raw.width, mul=np.full(raw.width, s)), raw)
    return g.add(Activation("sigmoid"), raw)


_RAW = ("raw", "decision_function")


def _convert(obj, g, x, ctx, kind: str):
    m = _model_of(obj, ctx)
    o = _objective(m)
    K = m.num_tree_per_iteration
    is_class = o in CLASSIFICATION
    allowed: tuple[str, ...]
    if kind == "classifier":
        allowed = ("proba", "proba_full", "class") + _RAW + ("leaves",) if is_class else _RAW + ("leaves",)
        out = output_option(ctx, obj, allowed, "proba" if is_class else "raw")
    else:
        allowed = ("predict",) + _RAW + ("leaves",) + (("proba", "proba_full", "class") if is_class else ())
        out = output_option(ctx, obj, allowed, "predict")
    if out == "leaves":
        pre, ens = _ensemble(m, ctx, leaves=True, average=False)
        return g.add(ens, g.add(pre, x))
    if out == "class":  # LightGBM's argmax of the probabilities, on the raw scores
        final = ("argmax",) if K > 1 else ("threshold", False)
        pre, ens = _ensemble(m, ctx, leaves=False, average=m.average_output, final=final)
        return g.add(ens, g.add(pre, x))
    pre, ens = _ensemble(m, ctx, leaves=False, average=m.average_output and out not in _RAW)
    raw = g.add(ens, g.add(pre, x))
    if out in _RAW:
        return raw
    y = _transform(m, g, raw)
    if out == "proba_full" and K == 1:
        return binary_full(g, y)
    return y


_OUT = "raw|decision_function (predict(raw_score=True)), leaves (pred_leaf)"
_COMMON = ("every objective (see the LightGBM section); gbdt/dart/goss/rf; exact missing-type and categorical "
           "decisions, double thresholds; num_iteration option; tree_codegen option")


def _booster_n_inputs(b) -> int:
    return int(b.num_feature())


@register_converter("lightgbm.basic.Booster", n_inputs=_booster_n_inputs, notes=(
    "output=predict (default: Booster.predict)|" + _OUT + "; proba|proba_full|class for classification "
    "objectives; " + _COMMON))
def lightgbm_booster(obj, g, x, ctx):
    return _convert(obj, g, x, ctx, "booster")


@register_converter(LightGBMModel, notes=(
    "a LightGBM .txt model file (Booster.save_model; read without importing lightgbm): as Booster"))
def lightgbm_text_model(obj, g, x, ctx):
    return _convert(obj, g, x, ctx, "booster")


@register_converter("lightgbm.sklearn.LGBMClassifier", notes=(
    "predict_proba (binary → P(class 1)); output=proba|proba_full|class (index in classes_)|" + _OUT
    + "; " + _COMMON))
def lgbm_classifier(obj, g, x, ctx):
    return _convert(obj, g, x, ctx, "classifier")


for _name in ("LGBMRegressor", "LGBMRanker", "LGBMModel"):
    register_converter(f"lightgbm.sklearn.{_name}", notes=(
        "output=predict (default)|" + _OUT + "; " + _COMMON))(
        lambda obj, g, x, ctx: _convert(obj, g, x, ctx, "booster"))
