"""XGBoost models in their own serialisation: ``Booster.save_model("m.json")``
/ ``"m.ubj"`` files and ``Booster.save_raw("json" | "ubj")`` bytes.

:class:`XGBoostModel` reads the numbers the converter needs (objective,
intercept, trees, dart weights, iteration layout, categorical splits) from the
document XGBoost writes, without importing xgboost: ``scikinC model.json``
works where XGBoost is not installed.  UBJSON (``.ubj``, XGBoost's default
binary format) is decoded here (:func:`decode_ubjson`); its float arrays are
the model's float32 values bit for bit.

Imported lazily by :func:`scikinc.io.load_model_file` for ``.json`` and
``.ubj`` files.  A ``.json`` file that is not an XGBoost model (no
``learner`` key) is handed to ``scikinc.loaders.catboost.load_catboost_json``
when that module exists (CatBoost writes ``.json`` models too).
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import ConversionError, ModelFileError
from ..io import register_loader

# ---------------------------------------------------------------------------
# UBJSON (https://ubjson.org, the subset XGBoost writes and a little more)
# ---------------------------------------------------------------------------

#: fixed-size UBJSON numbers: marker -> big-endian numpy dtype
_NUMBERS = {b"i": ">i1", b"U": ">u1", b"I": ">i2", b"l": ">i4", b"L": ">i8", b"d": ">f4", b"D": ">f8"}


class _UBJ:
    def __init__(self, data: bytes):
        self.b = memoryview(data)
        self.i = 0

    def fail(self, msg):
        raise ValueError(f"invalid UBJSON at byte {self.i}: {msg}")

    def take(self, n: int) -> memoryview:
        if n < 0 or self.i + n > len(self.b):
            self.fail("truncated")
        v = self.b[self.i:self.i + n]
        self.i += n
        return v

    def marker(self) -> bytes:
        while True:
            m = bytes(self.take(1))
            if m != b"N":  # no-op
                return m

    def count(self) -> int:
        m = self.marker()
        if m not in _NUMBERS or m in (b"d", b"D"):
            self.fail(f"a length must be an integer, got marker {m!r}")
        n = int(np.frombuffer(self.take(np.dtype(_NUMBERS[m]).itemsize), _NUMBERS[m])[0])
        if n < 0:
            self.fail("negative length")
        return n

    def string(self) -> str:
        return bytes(self.take(self.count())).decode("utf-8")

    def value(self, m: bytes | None = None) -> Any:
        if m is None:
            m = self.marker()
        if m in _NUMBERS:
            dt = np.dtype(_NUMBERS[m])
            v = np.frombuffer(self.take(dt.itemsize), dt)[0]
            return float(v) if dt.kind == "f" else int(v)
        if m == b"S" or m == b"H":
            return self.string()
        if m == b"C":
            return bytes(self.take(1)).decode("latin-1")
        if m == b"T":
            return True
        if m == b"F":
            return False
        if m == b"Z":
            return None
        if m == b"[":
            return self.container(b"]", False)
        if m == b"{":
            return self.container(b"}", True)
        self.fail(f"unknown marker {m!r}")

    def container(self, end: bytes, is_obj: bool):
        typ = n = None
        m = self.marker()
        if m == b"$":
            typ = self.marker()
            m = self.marker()
            if m != b"#":
                self.fail("a typed container needs a count")
        if m == b"#":
            n = self.count()
        else:
            self.i -= 1
        if not is_obj and typ in _NUMBERS and n is not None:  # typed numeric array: one numpy read
            dt = np.dtype(_NUMBERS[typ])
            a = np.frombuffer(self.take(n * dt.itemsize), dt)
            return a.astype(dt.newbyteorder("="))
        out: Any = {} if is_obj else []
        k = 0
        while n is None or k < n:
            if n is None:
                m = self.marker()
                if m == end:
                    break
                self.i -= 1
            if is_obj:
                key = self.string()
                out[key] = self.value(typ)
            else:
                out.append(self.value(typ))
            k += 1
        return out


def decode_ubjson(data: bytes) -> Any:
    """The document in UBJSON ``data``; typed numeric arrays become numpy arrays."""
    r = _UBJ(bytes(data))
    v = r.value()
    if r.i != len(r.b):
        r.fail("trailing bytes after the document")
    return v


# ---------------------------------------------------------------------------
# The model
# ---------------------------------------------------------------------------

#: gradient boosters: tree ensembles (dart: weighted trees) and the linear booster (refused)
TREE_BOOSTERS = ("gbtree", "dart")


@dataclass
class XGBoostTree:
    """One tree as XGBoost stores it: node ``i`` is a leaf when
    ``left[i] == -1``; an internal node sends ``x < threshold[i]`` (float32)
    left, a missing value to the left iff ``default_left[i]``; a categorical
    node (``split_type[i] == 1``) sends the categories ``cats[i]`` RIGHT and
    every other (or invalid) category left.  ``leaf`` holds each node's leaf
    vector (``width`` numbers; rows of internal nodes unused)."""

    feature: np.ndarray
    threshold: np.ndarray
    left: np.ndarray
    right: np.ndarray
    default_left: np.ndarray
    split_type: np.ndarray
    cats: dict
    leaf: np.ndarray


def _fail(source, msg):
    raise ConversionError(f"{source}: not a valid XGBoost model: {msg}")


def _get(source, d, *path):
    for k in path:
        if not isinstance(d, dict) or k not in d:
            _fail(source, f"missing {'/'.join(path)}")
        d = d[k]
    return d


def _arr(source, d, key, dtype, n=None) -> np.ndarray:
    if key not in d:
        _fail(source, f"a tree has no {key!r}")
    try:
        a = np.asarray(d[key], dtype=dtype).reshape(-1)
    except (TypeError, ValueError):
        _fail(source, f"tree array {key!r} is not numeric")
    if n is not None and len(a) != n:
        _fail(source, f"tree array {key!r} has {len(a)} entries, expected {n}")
    return a


def _floats(source, s, what) -> np.ndarray:
    """``"[5E-1,3E-1]"`` or ``"5E-1"`` (XGBoost prints its float32 parameters) -> float32 array."""
    if isinstance(s, (int, float)):
        return np.array([s], np.float32)
    try:
        v = json.loads(s) if isinstance(s, str) else s
        return np.asarray(v, dtype=np.float32).reshape(-1)
    except (TypeError, ValueError):
        _fail(source, f"{what} {s!r} is not a number or a list of numbers")
        raise


def _int(source, v, what) -> int:
    try:
        return int(v)
    except (TypeError, ValueError):
        _fail(source, f"{what} {v!r} is not an integer")
        raise


def _tree(source, t: dict, k: int, n_targets: int) -> XGBoostTree:
    tp = t.get("tree_param", {})
    n = _int(source, tp.get("num_nodes", len(t.get("left_children", []))), "num_nodes")
    width = _int(source, tp.get("size_leaf_vector", 1), "size_leaf_vector") or 1
    left = _arr(source, t, "left_children", np.int64, n)
    right = _arr(source, t, "right_children", np.int64, n)
    feature = _arr(source, t, "split_indices", np.int64, n)
    cond = _arr(source, t, "split_conditions", np.float32, n)
    default_left = _arr(source, t, "default_left", np.int64, n).astype(bool)
    split_type = _arr(source, t, "split_type", np.int64, n) if "split_type" in t else np.zeros(n, np.int64)
    leaf_mask = left == -1
    internal = ~leaf_mask
    if n == 0:
        _fail(source, f"tree {k} has no nodes")
    if ((left[internal] < 0) | (left[internal] >= n) | (right[internal] < 0) | (right[internal] >= n)).any():
        _fail(source, f"tree {k}: a child index is out of range")
    if width > 1:  # multi-target tree (multi_strategy="multi_output_tree")
        if width != n_targets:
            _fail(source, f"tree {k} has leaf vectors of {width} values for {n_targets} targets")
        if "leaf_weights" not in t:
            raise ConversionError(f"{source}: tree {k} is a multi-target tree without 'leaf_weights' (a layout "
                                  "older than XGBoost 3.0); save it with XGBoost >= 3.0")
        lw = _arr(source, t, "leaf_weights", np.float32).reshape(-1, width)
        idx = right[leaf_mask]
        if ((idx < 0) | (idx >= len(lw))).any():
            _fail(source, f"tree {k}: a leaf index is out of range of leaf_weights")
        leaf = np.zeros((n, width), np.float32)
        leaf[leaf_mask] = lw[idx]
    else:  # scalar leaves: the leaf value is stored as the node's split condition
        leaf = np.where(leaf_mask, cond, np.float32(0)).astype(np.float32)[:, None]
    cats = {}
    if (split_type[internal] == 1).any():
        nodes = _arr(source, t, "categories_nodes", np.int64)
        seg = _arr(source, t, "categories_segments", np.int64, len(nodes))
        size = _arr(source, t, "categories_sizes", np.int64, len(nodes))
        allc = _arr(source, t, "categories", np.int64)
        for i, s, m in zip(nodes.tolist(), seg.tolist(), size.tolist(), strict=True):
            if not (0 <= i < n and 0 <= s and 0 <= m and s + m <= len(allc)):
                _fail(source, f"tree {k}: a categorical split's segment is out of range")
            cats[i] = np.unique(allc[s:s + m])
        missing = [i for i in np.flatnonzero(internal & (split_type == 1)) if int(i) not in cats]
        if missing:
            _fail(source, f"tree {k}: categorical node {int(missing[0])} has no category list")
    return XGBoostTree(feature=feature, threshold=cond, left=left, right=right, default_left=default_left,
                       split_type=split_type, cats=cats, leaf=leaf)


class XGBoostModel:
    """An XGBoost model read from its JSON or UBJSON document.

    ``objective``: the objective's name (``binary:logistic``, ...);
    ``base_score``: the intercept as stored (user space, float32; one per
    output, or one for all); ``n_groups``: outputs per iteration of
    one-output-per-tree trees (``num_class`` or ``num_target``); ``trees``,
    ``tree_info`` (each tree's output), ``iteration_indptr`` (the trees of
    iteration ``i`` are ``iteration_indptr[i]:iteration_indptr[i+1]``),
    ``weight_drop`` (dart: each tree's weight, else None);
    ``estimator_type``: ``classifier``/``regressor``/``ranker`` when saved by
    an XGBoost scikit-learn wrapper (its ``scikit_learn`` attribute), else
    None; ``best_iteration`` from early stopping, else None.
    ``predict``/``decision_function`` run XGBoost itself on the same document
    (``scikinC validate``; needs xgboost)."""

    def __init__(self, doc: Any, raw: bytes, fmt: str, source: str = "model"):
        self.source = source
        self.raw = bytes(raw)
        self.format = fmt
        if not isinstance(doc, dict) or "learner" not in doc:
            _fail(source, "no 'learner' object at the top level")
        self.version = tuple(int(v) for v in np.asarray(doc.get("version", [0, 0, 0])).reshape(-1)[:3])
        L = doc["learner"]
        mp = _get(source, L, "learner_model_param")
        self.num_feature = _int(source, mp.get("num_feature", 0), "num_feature")
        self.num_class = _int(source, mp.get("num_class", 0), "num_class")
        self.num_target = _int(source, mp.get("num_target", 1), "num_target") or 1
        self.base_score = _floats(source, mp.get("base_score", "5E-1"), "base_score")
        self.objective = str(_get(source, L, "objective", "name"))
        self.objective_params = {k: v for k, v in L["objective"].items() if k != "name"}
        self.feature_names = [str(f) for f in L.get("feature_names", [])]
        self.feature_types = [str(f) for f in L.get("feature_types", [])]
        attrs = L.get("attributes", {}) or {}
        self.attributes = {str(k): str(v) for k, v in attrs.items()}
        best = self.attributes.get("best_iteration")
        self.best_iteration = _int(source, best, "best_iteration") if best is not None else None
        self.estimator_type = None
        if "scikit_learn" in self.attributes:
            try:
                self.estimator_type = json.loads(self.attributes["scikit_learn"]).get("_estimator_type")
            except (ValueError, AttributeError):
                self.estimator_type = None
        gb = _get(source, L, "gradient_booster")
        self.booster = str(gb.get("name", ""))
        self.weight_drop = None
        self.trees: list[XGBoostTree] = []
        self.tree_info = np.zeros(0, np.int64)
        self.iteration_indptr = np.zeros(1, np.int64)
        self.num_parallel_tree = 1
        self.multi_target_trees = False
        if self.booster not in TREE_BOOSTERS:
            return  # gblinear & co: the converter refuses them with a clear message
        if self.booster == "dart":
            self.weight_drop = np.asarray(gb.get("weight_drop", []), np.float32).reshape(-1)
            gb = _get(source, gb, "gbtree")
        model = _get(source, gb, "model")
        gp = model.get("gbtree_model_param", {})
        self.num_parallel_tree = _int(source, gp.get("num_parallel_tree", 1), "num_parallel_tree") or 1
        trees = model.get("trees", [])
        self.tree_info = np.asarray(model.get("tree_info", []), np.int64).reshape(-1)
        if len(self.tree_info) != len(trees):
            _fail(source, f"{len(trees)} trees but {len(self.tree_info)} tree_info entries")
        self.trees = [_tree(source, t, k, self.num_target) for k, t in enumerate(trees)]
        self.multi_target_trees = any(t.leaf.shape[1] > 1 for t in self.trees)
        if "iteration_indptr" in model:
            ip = np.asarray(model["iteration_indptr"], np.int64).reshape(-1)
        else:  # older models: a fixed number of trees per iteration
            per = self.num_parallel_tree * (1 if self.multi_target_trees else self.n_groups)
            ip = np.arange(0, len(trees) + 1, per, dtype=np.int64)
            if ip[-1] != len(trees):
                ip = np.r_[ip, len(trees)]
        if ip[0] != 0 or ip[-1] != len(trees) or (np.diff(ip) < 0).any():
            _fail(source, "iteration_indptr does not partition the trees")
        self.iteration_indptr = ip
        if self.weight_drop is not None and len(self.weight_drop) != len(trees):
            _fail(source, f"dart: {len(self.weight_drop)} weights for {len(trees)} trees")
        bad = (self.tree_info < 0) | (self.tree_info >= self.n_groups)
        if bad.any():
            _fail(source, f"tree {int(np.flatnonzero(bad)[0])} adds to output "
                  f"{int(self.tree_info[bad][0])} of {self.n_groups}")

    @property
    def n_groups(self) -> int:
        return self.num_class if self.num_class > 1 else self.num_target

    @property
    def n_features_in_(self) -> int:
        return self.num_feature

    @property
    def n_iterations(self) -> int:
        return len(self.iteration_indptr) - 1

    @classmethod
    def from_booster(cls, booster, source: str = "Booster") -> XGBoostModel:
        """The model of a live ``xgboost.Booster`` (its UBJSON bytes: exact float32 values)."""
        raw = bytes(booster.save_raw("ubj"))
        return cls(decode_ubjson(raw), raw, "ubj", source)

    # -- the library's own predictions (validate) ----------------------------
    def xgb_booster(self):
        import xgboost

        return xgboost.Booster(model_file=bytearray(self.raw))

    def _range(self):
        if self.estimator_type is not None and self.best_iteration is not None:
            return (0, self.best_iteration + 1)  # as the scikit-learn wrapper reloaded (load_model)
        return (0, 0)

    def predict(self, X, **kw):
        """XGBoost's prediction of the converter's default output (``output_margin=True``: the margins)."""
        b = self.xgb_booster()
        X = np.asarray(X, dtype=np.float64)
        r = self._range()
        margin = bool(kw.get("output_margin"))
        if self.estimator_type is None and self.booster == "dart":  # Booster.predict: its dart weighting
            return b.predict(xgboost_dmatrix(X, self.feature_types), output_margin=margin, iteration_range=r)
        if margin:
            return b.inplace_predict(X, iteration_range=r, predict_type="margin")
        if self.estimator_type == "classifier" and self.objective == "multi:softmax":  # predict_proba
            m = b.inplace_predict(X, iteration_range=r, predict_type="margin")
            e = np.exp(m - m.max(1, keepdims=True))
            return e / e.sum(1, keepdims=True)
        return b.inplace_predict(X, iteration_range=r)

    def decision_function(self, X):
        return self.predict(X, output_margin=True)

    def __repr__(self):
        return (f"XGBoostModel({self.source}: {len(self.trees)} trees, booster={self.booster}, "
                f"objective={self.objective}, {self.num_feature} features)")


def xgboost_dmatrix(X, feature_types):
    import xgboost

    return xgboost.DMatrix(X, feature_types=feature_types or None, enable_categorical=True)


def parse_model(data: bytes, source: str = "model") -> XGBoostModel:
    """An :class:`XGBoostModel` from JSON or UBJSON bytes (told apart by the first byte)."""
    data = bytes(data)
    s = data.lstrip()
    if s[:1] == b"{" and s[1:2] in (b'"', b"\n", b"\r", b" ", b"\t", b"}"):
        try:
            doc = json.loads(data.decode("utf-8"))
        except (UnicodeDecodeError, ValueError) as e:
            raise ModelFileError(f"{source}: not valid JSON ({e})") from e
        return XGBoostModel(doc, data, "json", source)
    try:
        doc = decode_ubjson(data)
    except (ValueError, UnicodeDecodeError) as e:
        raise ModelFileError(f"{source}: not an XGBoost UBJSON model ({e})") from e
    return XGBoostModel(doc, data, "ubj", source)


def _from_file(path: Path, fn):
    try:
        return fn()
    except ModelFileError:
        raise
    except ConversionError as e:  # a damaged document: the file's fault
        raise ModelFileError(str(e)) from e


@register_loader(".ubj")
def load_xgboost_ubj(path: Path, opts: dict) -> XGBoostModel:
    return _from_file(path, lambda: parse_model(Path(path).read_bytes(), str(path)))


@register_loader(".json")
def load_json_model(path: Path, opts: dict):
    """XGBoost JSON models; other JSON models (CatBoost) go to their loader."""
    data = Path(path).read_bytes()
    try:
        doc = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as e:
        raise ModelFileError(f"{path}: not valid JSON ({e})") from e
    if isinstance(doc, dict) and "learner" in doc:
        return _from_file(path, lambda: XGBoostModel(doc, data, "json", str(path)))
    import importlib

    try:
        other = importlib.import_module(f"{__package__}.catboost")
    except ImportError:
        other = None
    if other is not None and hasattr(other, "load_catboost_json"):
        return other.load_catboost_json(path, opts)
    raise ModelFileError(f"{path}: a JSON file that is not an XGBoost model (no 'learner' object); "
                         "JSON models are read for XGBoost (Booster.save_model('model.json'))")


__all__ = ["XGBoostModel", "XGBoostTree", "decode_ubjson", "parse_model"]
