"""CatBoost models: ``CatBoostClassifier``, ``CatBoostRegressor``,
``CatBoostRanker`` and the generic ``CatBoost`` (fitted objects, or read
from ``.cbm`` / ``.json`` files by :mod:`scikinc.loaders.catboost`).

Nothing here imports CatBoost: the converters are registered by qualified
class name and read the model through CatBoost's own JSON dump
(``save_model(format="json")``), parsed by :func:`parse_model`.

Every tree becomes an ordinary binary :class:`~scikinc.ir.trees.Tree`:

* an oblivious (symmetric) tree of depth ``d`` tests split ``s_k`` at every
  node of level ``d - 1 - k``; CatBoost's leaf index is ``sum_k
  [x > border_k] << k``, so the complete tree of ``2**d`` leaves, numbered
  left to right, has exactly CatBoost's leaf numbering;
* a non-symmetric tree (``grow_policy`` Depthwise or Lossguide, the JSON's
  nested ``"trees"``) keeps its shape; its leaf ids are read from the
  object's own node layout (see :func:`_nonsymmetric_tree`: a fitted model
  and one read from JSON number the same tree's leaves differently), and
  checked against ``get_leaf_values()``.

Decisions: CatBoost casts the input to float32 and goes right when ``x >
border`` (float32 borders), i.e. left when ``(float)x <= border``: the
ensemble's ``compare="float32"`` with the border as threshold, exact for
every input.  NaN: ``nan_mode=Max`` (JSON ``nan_value_treatment``
``AsTrue``) sends NaN right at every split of the feature; ``Min``
(``AsFalse``, with a ``-FLT_MAX`` border where the data had NaNs) and
``Forbidden`` (``AsIs``: ``NaN > b`` is false) send it left.

Raw score: ``scale * (sum of the leaf values in tree order, double) + bias``
(CatBoost's own order: exact in double builds).  Heads: Logloss /
CrossEntropy sigmoid, MultiClass softmax, MultiClassOneVsAll and
MultiLogloss / MultiCrossEntropy a sigmoid per column (not normalised,
as CatBoost's ``Probability``), Poisson/Tweedie ``exp`` (the regressor's
default ``predict``, CatBoost's ``Exponent``), RMSEWithUncertainty
``[mean, exp(2 raw_1)]``.  Binary class: ``raw > -log(1 / t - 1)`` with
the model's probability threshold ``t`` (default 0.5: ``raw > 0``).

Refused with an error naming the feature: categorical features (CTRs and
one-hot splits hash the category values), text and embedding features.
"""
from __future__ import annotations

import json
import math
import os
import tempfile
from dataclasses import dataclass, field
from typing import NoReturn

import numpy as np

from ..errors import ConversionError, NotFittedError
from ..ir import Activation, Affine, Concat, Gather, Softmax
from ..ir.heads import ArgMax
from ..ir.trees import Tree, TreeEnsemble
from ..registry import register_converter
from .heads import binary_full, output_option

_MOD = "catboost.core."
#: the CatBoost classes converted, and the kind of model each one is
CLASSES = {"CatBoostClassifier": "classifier", "CatBoostRegressor": "regressor",
           "CatBoostRanker": "ranker", "CatBoost": "generic"}

BINARY_LOSSES = ("Logloss", "CrossEntropy")
MULTICLASS_LOSSES = ("MultiClass",)
ONE_VS_ALL_LOSSES = ("MultiClassOneVsAll",)
MULTILABEL_LOSSES = ("MultiLogloss", "MultiCrossEntropy")
CLASSIFICATION_LOSSES = BINARY_LOSSES + MULTICLASS_LOSSES + ONE_VS_ALL_LOSSES + MULTILABEL_LOSSES
#: JSON nan_value_treatment -> NaN goes left (AsTrue: NaN counts as above every border)
_NAN_LEFT = {"AsFalse": True, "AsIs": True, "AsTrue": False}


@dataclass
class CatBoostModel:
    """The numbers of a CatBoost model (what :func:`parse_model` extracts)."""

    trees: list[Tree]
    n_features: int
    #: numbers per leaf (1; n_classes for MultiClass; the dimension of multi-output losses)
    n_dim: int
    scale: float
    bias: np.ndarray
    loss: str
    symmetric: bool
    #: every tree's leaf_id is CatBoost's leaf index (non-symmetric trees: only with the object's layouts)
    leaf_ids: bool = True
    threshold: float = 0.5
    class_names: list = field(default_factory=list)


# ---------------------------------------------------------------------------
# Reading the model
# ---------------------------------------------------------------------------


def _name(obj) -> str:
    return type(obj).__name__


def _check_fitted(obj) -> None:
    fitted = getattr(obj, "is_fitted", None)
    if callable(fitted) and not fitted():
        raise NotFittedError(f"{_name(obj)} is not fitted: call fit() or load_model() before converting it")


def _feature_label(names, i) -> str:
    if names and 0 <= i < len(names) and str(names[i]) not in ("", str(i)):
        return f"{names[i]!r} (input column {i})"
    return f"input column {i}"


def _refuse_special_features(obj) -> None:
    """Categorical, text and embedding features, named (checked on the object
    first: CatBoost cannot even write text/embedding models as JSON)."""
    names = list(getattr(obj, "feature_names_", None) or [])
    for kind, getter in (("categorical", "get_cat_feature_indices"), ("text", "get_text_feature_indices"),
                         ("embedding", "get_embedding_feature_indices")):
        fn = getattr(obj, getter, None)
        idx = list(fn()) if callable(fn) else []
        if idx:
            raise ConversionError(_special_message(_name(obj), kind, [_feature_label(names, int(i)) for i in idx]))


def _special_message(cls: str, kind: str, labels) -> str:
    why = {"categorical": "CatBoost's CTRs and one-hot splits work on hashes of the category values, which a "
                          "float input cannot carry",
           "text": "text features need CatBoost's tokenizers and dictionaries",
           "embedding": "embedding features need CatBoost's LDA/KNN calcers"}[kind]
    s = "s" if len(labels) > 1 else ""
    return (f"{cls}: {kind} feature{s} {', '.join(labels)} cannot be converted ({why}); "
            f"only models with numeric features only are supported")


def model_json(obj) -> dict:
    """CatBoost's own JSON dump of a fitted model (``save_model(format="json")``)."""
    _check_fitted(obj)
    _refuse_special_features(obj)
    with tempfile.TemporaryDirectory(prefix="scikinc_catboost_") as tmp:
        path = os.path.join(tmp, "model.json")
        try:
            obj.save_model(path, format="json")
        except Exception as e:  # noqa: BLE001 - CatBoostError and friends
            raise ConversionError(f"{_name(obj)}: CatBoost cannot write the model as JSON: {e}") from e
        with open(path, encoding="utf-8") as f:
            return json.load(f)


def is_catboost_json(d) -> bool:
    """Whether a parsed JSON document is a CatBoost model dump."""
    return isinstance(d, dict) and "features_info" in d and ("oblivious_trees" in d or "trees" in d)


def _loss(d: dict) -> str:
    lf = ((d.get("model_info") or {}).get("params") or {}).get("loss_function")
    if isinstance(lf, dict):
        return str(lf.get("type", ""))
    return str(lf or "")


def _oblivious_tree(t: dict, flat: dict, nan_left: dict, n_dim: int | None, k: int):
    splits = t.get("splits") or []
    vals = np.asarray(t["leaf_values"], np.float64)
    d = len(splits)
    n_leaves = 2 ** d
    if n_dim is None:
        if len(vals) % n_leaves or not len(vals):
            raise ConversionError(f"CatBoost tree {k}: {len(vals)} leaf values for {n_leaves} leaves")
        n_dim = len(vals) // n_leaves
    if len(vals) != n_leaves * n_dim:
        raise ConversionError(f"CatBoost tree {k}: {len(vals)} leaf values, expected {n_leaves} x {n_dim}")
    n_int = n_leaves - 1
    n = n_int + n_leaves
    feature = np.zeros(n, np.int64)
    threshold = np.zeros(n)
    nl = np.ones(n, bool)
    idx = np.arange(n)
    left = np.where(idx < n_int, 2 * idx + 1, -1)
    right = np.where(idx < n_int, 2 * idx + 2, -1)
    for level in range(d):
        s = splits[d - 1 - level]  # the root tests the leaf index's most significant bit
        f, b, nan = _split(s, flat, nan_left, k)
        lo, hi = 2 ** level - 1, 2 ** (level + 1) - 1
        feature[lo:hi], threshold[lo:hi], nl[lo:hi] = f, b, nan
    value = np.zeros((n, n_dim))
    value[n_int:] = vals.reshape(n_leaves, n_dim)
    leaf_id = np.where(idx < n_int, 0, idx - n_int)
    return Tree(feature=feature, threshold=threshold, left=left, right=right, value=value, nan_left=nl,
                leaf_id=leaf_id), n_dim


def _split(s: dict, flat: dict, nan_left: dict, k: int):
    kind = s.get("split_type", "FloatFeature")
    if kind != "FloatFeature":
        what = {"OneHotFeature": f"a one-hot split on categorical feature {s.get('cat_feature_index')}",
                "OnlineCtr": "a CTR split (categorical features)",
                "EstimatedFeature": "a split on an estimated (text/embedding) feature"}.get(kind, f"a {kind} split")
        raise ConversionError(f"CatBoost tree {k} has {what}: only numeric splits can be converted")
    i = int(s["float_feature_index"])
    if i not in flat:
        raise ConversionError(f"CatBoost tree {k}: split on unknown float feature {i}")
    # borders are float32 in CatBoost (its JSON loader rounds them to float)
    return flat[i], float(np.float32(s["border"])), nan_left[i]


def _nonsymmetric_tree(t: dict, flat: dict, nan_left: dict, n_dim: int | None, k: int, layout=None):
    """A nested JSON tree (``{"split", "left", "right"}`` / ``{"value"}``) in
    preorder.

    The JSON does not say how CatBoost numbers the leaves: a fitted model
    holds a split node's single leaf child in the node itself, a model read
    from JSON gives every leaf a node of its own, and ``calc_leaf_indexes``
    reports the resulting ids.  ``layout`` is the object's own layout of the
    tree (``(step_nodes, node_to_leaf)``: node ``q``'s children are ``q +
    step`` or, for a step 0, the leaf ``node_to_leaf[q]``); the JSON tree is
    walked along it, and every leaf gets its id there.  Without ``layout``
    the ids are left unknown (``None``)."""
    feature: list[int] = []
    threshold: list[float] = []
    left: list[int] = []
    right: list[int] = []
    nl: list[bool] = []
    leaf_id: list[int] = []
    values: list[np.ndarray | None] = []
    steps, node_to_leaf = layout if layout is not None else (None, None)

    def bad(what) -> NoReturn:
        raise ConversionError(f"CatBoost tree {k}: the JSON tree and CatBoost's node layout disagree ({what})")

    def is_leaf(node):
        return "split" not in node

    def new(node):
        feature.append(0)
        threshold.append(0.0)
        left.append(-1)
        right.append(-1)
        nl.append(True)
        leaf_id.append(-1)
        values.append(None)
        return len(feature) - 1

    def leaf_of(q):
        if not 0 <= q < len(node_to_leaf) or node_to_leaf[q] >= 2 ** 31:
            bad(f"node {q} holds no leaf")
        return int(node_to_leaf[q])

    # (JSON node, its index here, its node in CatBoost's layout or None when a step 0 put it in its parent)
    stack: list[tuple[dict, int, int | None]] = [(t, new(t), 0)]
    while stack:
        node, i, q = stack.pop()
        if is_leaf(node):
            v = np.atleast_1d(np.asarray(node["value"], np.float64))
            if len(v) == 0 or (n_dim is not None and len(v) != n_dim):
                raise ConversionError(f"CatBoost tree {k}: leaf of {len(v)} values, expected {n_dim}")
            n_dim = len(v)
            values[i] = v
            if steps is not None and q is not None:  # a leaf node of its own
                if not 0 <= q < len(steps) or tuple(steps[q]) != (0, 0):
                    bad(f"node {q} is not a leaf")
                leaf_id[i] = leaf_of(q)
            continue
        feature[i], threshold[i], nl[i] = _split(node["split"], flat, nan_left, k)
        lnode, rnode = node["left"], node["right"]
        li, ri = new(lnode), new(rnode)
        left[i], right[i] = li, ri
        cq: list[int | None] = [None, None]
        if steps is not None:
            if q is None or not 0 <= q < len(steps) or tuple(steps[q]) == (0, 0):
                bad(f"split node {q} is missing")
            for side, (child, ci) in enumerate(((lnode, li), (rnode, ri))):
                step = int(steps[q][side])
                if step == 0:  # the leaf held by node q
                    if not is_leaf(child):
                        bad(f"node {q} holds a leaf where the JSON has a split")
                    leaf_id[ci] = leaf_of(q)
                else:
                    cq[side] = q + step
        stack += [(rnode, ri, cq[1]), (lnode, li, cq[0])]
    if n_dim is None:  # pragma: no cover - every tree has a leaf
        raise ConversionError(f"CatBoost tree {k} has no leaves")
    value = np.zeros((len(feature), n_dim))
    for i, vec in enumerate(values):
        if vec is not None:
            value[i] = vec
    is_leaf_arr = np.asarray(left) < 0
    if steps is None:
        ids = None
    else:
        ids = np.asarray(leaf_id, np.int64)
        got = np.sort(ids[is_leaf_arr])
        if not np.array_equal(got, np.arange(len(got))):
            bad("leaf ids are not 0 .. n_leaves - 1")
        ids = np.where(is_leaf_arr, ids, 0)
    tree = Tree(feature=np.asarray(feature, np.int64), threshold=np.asarray(threshold, np.float64),
                left=np.asarray(left, np.int64), right=np.asarray(right, np.int64), value=value,
                nan_left=np.asarray(nl, bool), leaf_id=ids)  # ids None: node numbers (leaf_ids False)
    return tree, n_dim


def tree_layouts(obj, n_trees: int):
    """CatBoost's own node layout of every non-symmetric tree of ``obj``
    (``_get_tree_step_nodes`` / ``_get_tree_node_to_leaf``), or None when this
    CatBoost does not expose it."""
    steps = getattr(obj, "_get_tree_step_nodes", None)
    n2l = getattr(obj, "_get_tree_node_to_leaf", None)
    if not (callable(steps) and callable(n2l)):
        return None
    try:
        return [(list(steps(k)), list(n2l(k))) for k in range(n_trees)]
    except Exception:  # noqa: BLE001 - a CatBoost without these internals
        return None


def parse_model(d: dict, cls: str = "CatBoost", layouts=None) -> CatBoostModel:
    """The trees and numbers of a CatBoost JSON dump (refusing what cannot be
    converted exactly, with the feature named).  ``layouts``: see
    :func:`tree_layouts` (non-symmetric trees: their leaf ids; without it
    ``leaf_ids`` is False)."""
    if not is_catboost_json(d):
        raise ConversionError(f"{cls}: not a CatBoost JSON model (no features_info / oblivious_trees / trees)")
    fi = d["features_info"]
    names: dict[int, str] = {}
    flats = []
    for kind in ("float_features", "categorical_features", "text_features", "embedding_features"):
        for f in fi.get(kind) or []:
            j = int(f.get("flat_feature_index", f.get("feature_index", 0)))
            flats.append(j)
            names[j] = str(f.get("feature_id") or "")
    for kind, key in (("categorical", "categorical_features"), ("text", "text_features"),
                      ("embedding", "embedding_features")):
        feats = fi.get(key) or []
        if feats:
            labels = []
            for f in feats:
                j = int(f.get("flat_feature_index", f.get("feature_index", 0)))
                labels.append(f"{names[j]!r} (input column {j})" if names.get(j) else f"input column {j}")
            raise ConversionError(_special_message(cls, kind, labels))
    flat: dict[int, int] = {}
    nan_left: dict[int, bool] = {}
    for f in fi.get("float_features") or []:
        i = int(f["feature_index"])
        flat[i] = int(f.get("flat_feature_index", i))
        treatment = f.get("nan_value_treatment", "AsIs")
        if treatment not in _NAN_LEFT:
            raise ConversionError(f"{cls}: unknown nan_value_treatment {treatment!r} of feature {i}")
        nan_left[i] = _NAN_LEFT[treatment]
    n_features = max(flats) + 1 if flats else 0
    symmetric = "oblivious_trees" in d
    raw_trees = d["oblivious_trees"] if symmetric else d["trees"]
    if not raw_trees:
        raise ConversionError(f"{cls}: the model has no trees")
    trees: list[Tree] = []
    n_dim = None
    if not symmetric and layouts is not None and len(layouts) != len(raw_trees):
        raise ConversionError(f"{cls}: {len(layouts)} tree layouts for {len(raw_trees)} trees")
    for k, t in enumerate(raw_trees):
        if symmetric:
            tree, n_dim = _oblivious_tree(t, flat, nan_left, n_dim, k)
        else:
            tree, n_dim = _nonsymmetric_tree(t, flat, nan_left, n_dim, k, None if layouts is None else layouts[k])
        trees.append(tree)
    assert n_dim is not None
    sb = d.get("scale_and_bias") or [1.0, [0.0]]
    scale = float(sb[0])
    bias = np.asarray(sb[1] if len(sb) > 1 else [0.0], np.float64).reshape(-1)
    if len(bias) == 1 and n_dim > 1:
        bias = np.full(n_dim, bias[0])
    if len(bias) != n_dim:
        raise ConversionError(f"{cls}: {len(bias)} biases for {n_dim}-dimensional leaves")
    info = d.get("model_info") or {}
    threshold = float(info.get("binclass_probability_threshold", 0.5))
    class_names = list((info.get("class_params") or {}).get("class_names") or [])
    return CatBoostModel(trees=trees, n_features=n_features, n_dim=n_dim, scale=scale, bias=bias,
                         loss=_loss(d), symmetric=symmetric, leaf_ids=symmetric or layouts is not None,
                         threshold=threshold, class_names=class_names)


def check_leaf_values(obj, m: CatBoostModel) -> None:
    """Every leaf's value (from the JSON) is the one CatBoost holds at its
    leaf id (``get_leaf_values()``): the leaf ids are CatBoost's."""
    try:
        vals = np.asarray(obj.get_leaf_values(), np.float64)
        counts = np.asarray(obj.get_tree_leaf_counts(), np.int64)
    except Exception:  # noqa: BLE001
        return
    if len(counts) != len(m.trees) or counts.sum() * m.n_dim != len(vals):
        raise ConversionError(f"{type(obj).__name__}: CatBoost reports {len(counts)} trees / {len(vals)} leaf "
                              f"values, its JSON dump {len(m.trees)} trees")
    off = 0
    for k, (t, c) in enumerate(zip(m.trees, counts.tolist(), strict=True)):
        tv = vals[off:off + c * m.n_dim].reshape(c, m.n_dim)
        off += c * m.n_dim
        leaf = t.left < 0
        ids = np.asarray(t.leaf_id)[leaf]
        if ids.max() >= c or not np.array_equal(tv[ids], t.value[leaf]):
            raise ConversionError(f"{type(obj).__name__}: tree {k}: the leaf values of CatBoost's JSON dump and "
                                  "of its leaf indices disagree")


# ---------------------------------------------------------------------------
# Graph
# ---------------------------------------------------------------------------


def _n_inputs(obj) -> int:
    n = getattr(obj, "n_features_in_", None)
    if n:  # 0 after load_model()
        return int(n)
    _check_fitted(obj)
    names = getattr(obj, "feature_names_", None)
    if names:
        return len(names)
    raise ConversionError(f"cannot tell the input width of {_name(obj)} (no features)")


def _ensemble(m: CatBoostModel, ctx, *, leaves=False, final=None) -> TreeEnsemble:
    codegen = ctx.option("tree_codegen", "auto")
    n = len(m.trees)
    if leaves:
        return TreeEnsemble(m.trees, n_features=m.n_features, n_out=n, offsets=np.zeros(n), compare="float32",
                            codegen=codegen, leaf_ids=True)
    return TreeEnsemble(m.trees, n_features=m.n_features, n_out=m.n_dim, offsets=np.zeros(n), compare="float32",
                        codegen=codegen, final=final)


def _raw(m: CatBoostModel, g, x, ctx):
    """``scale * sum + bias`` (in CatBoost's order: sum first)."""
    acc = g.add(_ensemble(m, ctx), x)
    mul = None if m.scale == 1.0 else np.full(m.n_dim, m.scale)
    add = None if not np.any(m.bias) else m.bias
    if mul is None and add is None:
        return acc
    return g.add(Affine(m.n_dim, mul=mul, add=add), acc)


def _plain(m: CatBoostModel) -> bool:
    return m.scale == 1.0 and not np.any(m.bias)


def _classes(m: CatBoostModel, g, x, ctx, cls: str):
    """Class index: first maximum (multiclass), ``raw > logit(threshold)`` (binary)."""
    if m.loss in MULTILABEL_LOSSES:
        raise ConversionError(f"{cls}: output='class' is not available for multi-label losses ({m.loss}); "
                              "use output='proba' or 'decision_function'")
    if m.n_dim > 1:
        if _plain(m):  # on the double accumulator
            return g.add(_ensemble(m, ctx, final=("argmax",)), x)
        return g.add(ArgMax(), _raw(m, g, x, ctx))
    t = m.threshold
    if not 0.0 < t < 1.0:
        raise ConversionError(f"{cls}: probability threshold {t} outside (0, 1)")
    border = 0.0 if t == 0.5 else -math.log(1.0 / t - 1.0)  # CatBoost's own formula, to the last bit
    if border == 0.0 and _plain(m):
        return g.add(_ensemble(m, ctx, final=("threshold", False)), x)
    return g.add(ArgMax(border, inclusive=False), _raw(m, g, x, ctx))


def _proba(m: CatBoostModel, g, raw, out: str, cls: str):
    if m.loss in BINARY_LOSSES:
        p = g.add(Activation("sigmoid"), raw)
        return binary_full(g, p) if out == "proba_full" else p
    if m.loss in MULTICLASS_LOSSES:
        return g.add(Softmax(), raw)
    if m.loss in ONE_VS_ALL_LOSSES + MULTILABEL_LOSSES:
        return g.add(Activation("sigmoid"), raw)
    raise ConversionError(f"{cls}: no probabilities for loss {m.loss!r}")  # pragma: no cover


def _regression(m: CatBoostModel, g, raw, cls: str):
    """CatBoostRegressor.predict: CatBoost's default prediction type."""
    if m.loss.startswith(("Poisson", "Tweedie")):  # 'Exponent'
        return g.add(Activation("exp"), raw)
    if m.loss == "RMSEWithUncertainty":  # [mean, variance = exp(2 log_std)]
        if m.n_dim != 2:
            raise ConversionError(f"{cls}: RMSEWithUncertainty with {m.n_dim}-dimensional leaves")
        mean = g.add(Gather([0]), raw)
        var = g.add(Activation("exp"), g.add(Affine(1, mul=[2.0]), g.add(Gather([1]), raw)))
        return g.add(Concat(), mean, var)
    return raw


def _kind(obj) -> str:
    """classifier / regressor / ranker / generic: the CatBoost class ``obj`` is (or derives from)."""
    return next((CLASSES[c.__name__] for c in type(obj).__mro__
                 if c.__module__ + "." == _MOD and c.__name__ in CLASSES), "generic")


def catboost_model(obj, g, x, ctx):
    cls = _name(obj)
    kind = _kind(obj)
    d = model_json(obj)
    layouts = None if "oblivious_trees" in d else tree_layouts(obj, len(d.get("trees") or []))
    m = parse_model(d, cls, layouts)
    if m.leaf_ids:
        check_leaf_values(obj, m)
    if m.n_features != x.width:
        raise ConversionError(f"{cls}: the model's trees read {m.n_features} features, its input has {x.width}")
    classification = m.loss in CLASSIFICATION_LOSSES
    if kind == "classifier":
        allowed = ("proba", "proba_full", "decision_function", "raw", "class", "leaves")
        default = "proba"
    else:
        allowed = ("predict", "decision_function", "raw", "leaves")
        if classification:
            allowed += ("proba", "proba_full", "class")
        default = "predict"
    out = output_option(ctx, obj, allowed, default)
    if out in ("proba", "proba_full", "class") and not classification:  # a custom objective
        raise ConversionError(f"{cls}: loss {m.loss!r} is not one of {', '.join(CLASSIFICATION_LOSSES)}: its "
                              f"output={out!r} is unknown; output='decision_function' (the raw score) or "
                              "'leaves' can be converted")
    if out == "proba_full" and m.loss not in BINARY_LOSSES:
        raise ConversionError(f"{cls}: output='proba_full' is for binary losses; {m.loss} gives one "
                              "probability per class already (output='proba')")
    if out == "leaves":
        if not m.leaf_ids:
            raise ConversionError(f"{cls}: output='leaves' needs CatBoost's node layout of the non-symmetric "
                                  "trees (_get_tree_step_nodes), which this CatBoost does not give")
        return g.add(_ensemble(m, ctx, leaves=True), x)
    if out == "class":
        return _classes(m, g, x, ctx, cls)
    raw = _raw(m, g, x, ctx)
    if out in ("decision_function", "raw"):
        return raw
    if out in ("proba", "proba_full"):
        return _proba(m, g, raw, out, cls)
    if kind == "regressor":
        return _regression(m, g, raw, cls)
    return raw  # CatBoost / CatBoostRanker .predict(): RawFormulaVal


def reference_predict(obj, X, options=None) -> np.ndarray:
    """What the C function of ``obj`` computes, by CatBoost itself (for
    :func:`scikinc.reference.predict`, ``scikinC validate``): the ``output``
    option's prediction type, as rows x columns."""
    out = (options or {}).get("output")
    X = np.asarray(X, np.float64)
    n = len(X)
    kind = _kind(obj)
    if out is None:
        out = "proba" if kind == "classifier" else "predict"
    if out == "leaves":
        return np.asarray(obj.calc_leaf_indexes(X), np.float64).reshape(n, -1)
    if out in ("raw", "decision_function"):
        return np.asarray(obj.predict(X, prediction_type="RawFormulaVal"), np.float64).reshape(n, -1)
    if out == "class":
        labels = list(obj.classes_)
        pred = np.asarray(obj.predict(X, prediction_type="Class")).reshape(-1)
        return np.array([labels.index(v) for v in pred], np.float64)[:, None]
    if out in ("proba", "proba_full"):
        P = np.asarray(obj.predict(X, prediction_type="Probability"), np.float64).reshape(n, -1)
        return P[:, 1:] if out == "proba" and P.shape[1] == 2 and loss_name(obj) in BINARY_LOSSES else P
    return np.asarray(obj.predict(X), np.float64).reshape(n, -1)


def loss_name(obj) -> str:
    """The loss of a CatBoost object without its parameters (``"Quantile:alpha=0.8"`` -> ``"Quantile"``)."""
    try:
        return str(obj.get_all_params().get("loss_function", "")).split(":", 1)[0]
    except Exception:  # noqa: BLE001
        return ""


_COMMON = ("oblivious and non-symmetric (Depthwise/Lossguide) trees; exact float32 split decisions "
           "(x > border goes right), NaN as the model's nan_mode (Min/Forbidden left, Max right), scale "
           "and bias; .cbm/.json files; categorical/text/embedding features refused; "
           "tree_codegen=auto|ifelse|table|branchfree|bitvector")
_NOTES = {
    "CatBoostClassifier": "Logloss/CrossEntropy → P(class 1), MultiClass → softmax, MultiClassOneVsAll and "
                          "MultiLogloss → sigmoid per class; class: raw > logit(probability threshold), "
                          "argmax; output=proba|proba_full|decision_function|raw|class|leaves; ",
    "CatBoostRegressor": "predict as CatBoost: raw (RMSE, MAE, Quantile, MultiRMSE, ...), exp for "
                         "Poisson/Tweedie, [mean, variance] for RMSEWithUncertainty; "
                         "output=predict|decision_function|raw|leaves; ",
    "CatBoostRanker": "raw score (YetiRank, PairLogit, QueryRMSE, ...); output=predict|decision_function|raw|leaves; ",
    "CatBoost": "predict = RawFormulaVal (any loss); output=predict|decision_function|raw|leaves, "
                "proba|proba_full|class for classification losses; ",
}

for _c in CLASSES:
    register_converter(_MOD + _c, n_inputs=_n_inputs, notes=_NOTES[_c] + _COMMON)(catboost_model)
