"""Decision trees, random forests / extra trees, gradient boosting and
histogram gradient boosting.

Every model becomes one :class:`~scikinc.ir.trees.TreeEnsemble` (raw scores
accumulated in double, in sklearn's own order) followed by the library's link
function.  The converters only extract numbers: the trees, offsets, base,
divisor, comparison mode and the ``tree_codegen`` option as given; the pass
:func:`scikinc.passes.lower_trees` later picks the evaluation strategy and
lays the trees out (see :mod:`scikinc.ir.trees`).  Options
(``convert(..., options={...})``):

``output``
    ``"proba"`` (classifiers' default: P(class 1) alone for binary problems,
    one column per class otherwise), ``"proba_full"`` (both columns for
    binary), ``"decision_function"`` (raw score of boosting models),
    ``"class"`` (class index as a float), ``"leaves"`` (the node id of the
    leaf reached in every tree, as sklearn's ``apply``), ``"predict"``
    (regressors' default).
``tree_codegen``
    ``"auto"`` (default: the fastest by an estimate of each strategy's cost), ``"ifelse"``,
    ``"table"``, ``"branchfree"`` or ``"bitvector"`` (trees of at most 64 leaves); see
    :mod:`scikinc.ir.trees`.
"""
from __future__ import annotations

import numpy as np
from sklearn.dummy import DummyClassifier, DummyRegressor
from sklearn.ensemble import (
    ExtraTreesClassifier,
    ExtraTreesRegressor,
    GradientBoostingClassifier,
    GradientBoostingRegressor,
    HistGradientBoostingClassifier,
    HistGradientBoostingRegressor,
    RandomForestClassifier,
    RandomForestRegressor,
)
from sklearn.tree import DecisionTreeClassifier, DecisionTreeRegressor, ExtraTreeClassifier, ExtraTreeRegressor

from ..errors import ConversionError
from ..ir import Activation, Concat
from ..ir.trees import Tree, TreeEnsemble
from ..registry import register_converter
from .heads import binary_full, classifier_head, output_option  # noqa: F401  (re-exported)


def codegen_option(ctx):
    return ctx.option("tree_codegen", "auto")


def _sk_tree(tree_, value, nan_policy="model") -> Tree:
    """A sklearn ``Tree`` with leaf vectors ``value`` (n_nodes x width).
    ``nan_policy="right"`` mirrors GradientBoosting's predict_stages, which
    never tests for NaN (NaN > t fails: right)."""
    left = np.asarray(tree_.children_left)
    if nan_policy == "right":
        nan_left = np.zeros(len(left), bool)
    else:
        nan_left = np.asarray(tree_.missing_go_to_left, dtype=bool)
    return Tree(feature=np.where(left >= 0, tree_.feature, 0), threshold=tree_.threshold,
                left=left, right=tree_.children_right, value=value, nan_left=nan_left)


# ---------------------------------------------------------------------------
# Gradient boosting
# ---------------------------------------------------------------------------


def _gb_base(obj) -> np.ndarray:
    K = obj.n_trees_per_iteration_
    init = obj.init_
    if isinstance(init, str) and init == "zero":
        return np.zeros(K)
    if isinstance(init, DummyClassifier) and init.strategy == "stratified":
        raise ConversionError(f"{type(obj).__name__}: init=DummyClassifier(strategy='stratified') "
                              "gives random initial predictions; they cannot be converted")
    if not isinstance(init, (DummyClassifier, DummyRegressor)):
        raise ConversionError(
            f"{type(obj).__name__}: a custom init estimator ({type(init).__name__}) is not supported; "
            "only init='zero' and the default prior (init=None) can be converted")
    # The dummy's prediction is a constant: evaluate sklearn's own init code once.
    row = np.zeros((1, obj.n_features_in_), dtype=np.float32)
    return np.asarray(obj._raw_predict_init(row), dtype=np.float64).reshape(-1)


def _final(out, K, inclusive):
    """Class output computed on the double accumulator (no float ties)."""
    if out != "class":
        return None
    return ("argmax",) if K > 1 else ("threshold", inclusive)


def _gb_ensemble(obj, ctx, leaves: bool, final=None) -> TreeEnsemble:
    est = obj.estimators_
    M, K = est.shape
    lr = float(obj.learning_rate)
    trees, offs = [], []
    for m in range(M):
        for k in range(K):
            t = est[m, k].tree_
            # sklearn: out[i, k] += scale * value[leaf]; the product is rounded
            # once either way, so precomputing it is exact.
            trees.append(_sk_tree(t, lr * t.value[:, 0, 0], nan_policy="right"))
            offs.append(k)
    if leaves:
        return TreeEnsemble(trees, n_features=obj.n_features_in_, n_out=len(trees), offsets=offs,
                            codegen=codegen_option(ctx), leaf_ids=True)
    return TreeEnsemble(trees, n_features=obj.n_features_in_, n_out=K, offsets=offs, base=_gb_base(obj),
                        codegen=codegen_option(ctx), final=final)


@register_converter(GradientBoostingClassifier, notes=(
    "binary → P(class 1); multiclass → n_classes probabilities; losses log_loss, exponential; "
    "init 'zero' or default prior; output=proba|proba_full|decision_function|class|leaves; "
    "tree_codegen=auto|ifelse|table|branchfree|bitvector; exact float32 split decisions (NaN goes right, "
    "as in sklearn's predict_stages; sklearn itself refuses NaN)"))
def gradient_boosting_classifier(obj, g, x, ctx):
    out = output_option(ctx, obj, ("proba", "proba_full", "decision_function", "class", "leaves"), "proba")
    if out == "leaves":
        return g.add(_gb_ensemble(obj, ctx, True), x)
    if out == "class":  # sklearn: raw >= 0 (binary), argmax (multiclass)
        return g.add(_gb_ensemble(obj, ctx, False, _final(out, obj.n_trees_per_iteration_, True)), x)
    raw = g.add(_gb_ensemble(obj, ctx, False), x)
    loss = type(obj._loss).__name__
    if obj.n_trees_per_iteration_ > 1:
        link = "softmax"
    else:
        link = "logit2" if loss == "ExponentialLoss" else "logit"
    return classifier_head(g, raw, link, out, class_threshold_inclusive=True)


@register_converter(GradientBoostingRegressor, notes=(
    "all losses (squared_error, absolute_error, huber, quantile); init 'zero' or default; "
    "output=predict|leaves; tree_codegen option"))
def gradient_boosting_regressor(obj, g, x, ctx):
    out = output_option(ctx, obj, ("predict", "decision_function", "leaves"), "predict")
    return g.add(_gb_ensemble(obj, ctx, out == "leaves"), x)


# ---------------------------------------------------------------------------
# Single trees and forests
# ---------------------------------------------------------------------------


def _trees_of(obj):
    return [obj] if hasattr(obj, "tree_") else list(obj.estimators_)


def _forest(obj, g, x, ctx, classifier: bool):
    if obj.n_outputs_ != 1 and classifier:
        raise ConversionError(f"{type(obj).__name__}: multi-output classification is not supported")
    est = _trees_of(obj)
    single = hasattr(obj, "tree_")
    n_features = obj.n_features_in_
    if classifier:
        out = output_option(ctx, obj, ("proba", "proba_full", "class", "leaves"), "proba")
    else:
        out = output_option(ctx, obj, ("predict", "leaves"), "predict")
    if out == "leaves":
        trees = [_sk_tree(e.tree_, np.zeros(e.tree_.node_count)) for e in est]
        return g.add(TreeEnsemble(trees, n_features=n_features, n_out=len(trees), offsets=np.zeros(len(trees)),
                                  codegen=codegen_option(ctx), leaf_ids=True), x)
    if classifier:
        n_classes = int(obj.n_classes_)
        cols = [1] if (n_classes == 2 and out == "proba") else list(range(n_classes))
        trees = [_sk_tree(e.tree_, e.tree_.value[:, 0, :n_classes][:, cols]) for e in est]
    else:
        trees = [_sk_tree(e.tree_, e.tree_.value[:, :, 0]) for e in est]
    width = trees[0].value.shape[1]
    ens = TreeEnsemble(trees, n_features=n_features, n_out=width, offsets=np.zeros(len(trees)),
                       divisor=None if single else len(est), codegen=codegen_option(ctx),
                       final=("argmax",) if classifier and out == "class" else None)
    return g.add(ens, x)


_TREE_NOTES = ("NaN routed like sklearn (missing_go_to_left); exact float32 split decisions; "
               "tree_codegen=auto|ifelse|table|branchfree|bitvector")


for _cls in (RandomForestClassifier, ExtraTreesClassifier, DecisionTreeClassifier, ExtraTreeClassifier):
    register_converter(_cls, notes="predict_proba (binary → P(class 1)); output=proba|proba_full|class|leaves; "
                       + _TREE_NOTES)(lambda obj, g, x, ctx: _forest(obj, g, x, ctx, True))
for _cls in (RandomForestRegressor, ExtraTreesRegressor, DecisionTreeRegressor, ExtraTreeRegressor):
    register_converter(_cls, notes="predict (multi-output too); output=predict|leaves; "
                       + _TREE_NOTES)(lambda obj, g, x, ctx: _forest(obj, g, x, ctx, False))


# ---------------------------------------------------------------------------
# Histogram gradient boosting
# ---------------------------------------------------------------------------


def _hgb_ensemble(obj, ctx, leaves: bool, final=None) -> TreeEnsemble:
    n_features = obj.n_features_in_
    pre = getattr(obj, "_preprocessor", None)
    categorical = []
    if pre is not None:
        is_cat = np.asarray(obj.is_categorical_, dtype=bool)
        # the preprocessor puts categorical columns first, then the numeric ones
        perm = np.concatenate([np.flatnonzero(is_cat), np.flatnonzero(~is_cat)])
        enc = pre.named_transformers_["encoder"]
        for s, cats in enumerate(enc.categories_):
            cats = np.asarray(cats, dtype=np.float64)
            categorical.append((int(perm[s]), np.sort(cats[~np.isnan(cats)])))
    else:
        perm = np.arange(n_features)
    trees, offs = [], []
    for preds in obj._predictors:
        for k, p in enumerate(preds):
            nd = p.nodes
            leaf = nd["is_leaf"].astype(bool)
            is_cat = nd["is_categorical"].astype(bool) & ~leaf
            feat = nd["feature_idx"].astype(np.int64)
            feat = np.where(leaf, 0, np.where(is_cat, feat, perm[np.clip(feat, 0, n_features - 1)]))
            bits = {int(i): p.raw_left_cat_bitsets[nd["bitset_idx"][i]] for i in np.flatnonzero(is_cat)}
            trees.append(Tree(feature=feat, threshold=nd["num_threshold"],
                              left=np.where(leaf, -1, nd["left"].astype(np.int64)),
                              right=np.where(leaf, -1, nd["right"].astype(np.int64)),
                              value=nd["value"], nan_left=nd["missing_go_to_left"].astype(bool),
                              is_cat=is_cat, bitset=bits))
            offs.append(k)
    K = obj.n_trees_per_iteration_
    # sklearn compares the float64 input with float64 thresholds; a float input
    # gives the same decisions compared in float32 (with float32_floor(t))
    compare = "float32" if ctx.float_t == "float" else "float64"
    if leaves:
        return TreeEnsemble(trees, n_features=n_features, n_out=len(trees), offsets=offs, compare=compare,
                            categorical=categorical, codegen=codegen_option(ctx), leaf_ids=True)
    return TreeEnsemble(trees, n_features=n_features, n_out=K, offsets=offs,
                        base=np.asarray(obj._baseline_prediction, np.float64).reshape(-1),
                        compare=compare, categorical=categorical, codegen=codegen_option(ctx), final=final)


_HGB_NOTES = ("NaN routing (missing_go_to_left), categorical splits (bitsets, unknown categories → "
              "missing side); float64 comparisons as sklearn (float32 when FLOAT_T is float, same "
              "decisions); tree_codegen option; output=... leaves gives predictor node ids")


@register_converter(HistGradientBoostingClassifier, notes=(
    "binary → P(class 1), multiclass → probabilities; output=proba|proba_full|decision_function|class|leaves; "
    + _HGB_NOTES))
def hist_gradient_boosting_classifier(obj, g, x, ctx):
    out = output_option(ctx, obj, ("proba", "proba_full", "decision_function", "class", "leaves"), "proba")
    if out == "leaves":
        return g.add(_hgb_ensemble(obj, ctx, True), x)
    if out == "class":  # sklearn: raw > 0 (binary), argmax (multiclass)
        return g.add(_hgb_ensemble(obj, ctx, False, _final(out, obj.n_trees_per_iteration_, False)), x)
    raw = g.add(_hgb_ensemble(obj, ctx, False), x)
    link = "softmax" if obj.n_trees_per_iteration_ > 1 else "logit"
    return classifier_head(g, raw, link, out, class_threshold_inclusive=False)


@register_converter(HistGradientBoostingRegressor, notes=(
    "all losses (identity link; exp for poisson/gamma/tweedie); output=predict|decision_function|leaves; "
    + _HGB_NOTES))
def hist_gradient_boosting_regressor(obj, g, x, ctx):
    out = output_option(ctx, obj, ("predict", "decision_function", "leaves"), "predict")
    if out == "leaves":
        return g.add(_hgb_ensemble(obj, ctx, True), x)
    raw = g.add(_hgb_ensemble(obj, ctx, False), x)
    if out == "decision_function":
        return raw
    link = type(obj._loss.link).__name__
    if link == "IdentityLink":
        return raw
    if link == "LogLink":
        return g.add(Activation("exp"), raw)
    raise ConversionError(f"{type(obj).__name__}: unsupported link {link}")


__all__ = ["output_option", "classifier_head", "binary_full", "Concat"]
