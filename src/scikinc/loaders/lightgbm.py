"""LightGBM models in their text form: ``Booster.save_model("model.txt")``
files and ``Booster.model_to_string()``.

:func:`parse_model_text` reads the numbers the converter needs (header and
trees) without importing lightgbm, so ``scikinC model.txt`` works where
LightGBM is not installed.  The ``.txt`` loader returns a
:class:`LightGBMModel`; :mod:`scikinc.converters.lightgbm` converts it.

Imported lazily by :func:`scikinc.io.load_model_file` for ``.txt`` files.
"""
from __future__ import annotations

import copy
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..errors import ConversionError, ModelFileError
from ..io import register_loader

#: how every LightGBM model text starts
MAGIC = "tree\nversion="


@dataclass
class LightGBMTree:
    """One tree as LightGBM stores it: internal nodes ``0 .. num_leaves-2``;
    a child ``c < 0`` is the leaf ``~c``; ``decision_type`` bit 0:
    categorical, bit 1: default left, bits 2-3: missing type (0 None, 1 Zero,
    2 NaN); a categorical node's ``threshold`` indexes ``cat_boundaries``,
    which delimit its bitset in ``cat_threshold`` (bit v set: category v goes
    left)."""

    num_leaves: int
    leaf_value: np.ndarray
    split_feature: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    threshold: np.ndarray = field(default_factory=lambda: np.zeros(0))
    decision_type: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    left_child: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    right_child: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    cat_boundaries: np.ndarray = field(default_factory=lambda: np.zeros(1, np.int64))
    cat_threshold: np.ndarray = field(default_factory=lambda: np.zeros(0, np.uint32))
    is_linear: bool = False


class LightGBMModel:
    """A LightGBM model read from its text form.

    ``objective`` is the objective line's first word (``None`` for a custom
    objective, whose predictions are raw scores), ``objective_params`` its
    ``key:value`` words (``sigmoid``, ``num_class``) and flags (``sqrt``);
    ``average_output``: random-forest mode (``predict`` divides the sum of
    the trees by the number of iterations).  ``predict`` runs LightGBM
    itself on the same text (``scikinC validate``; needs lightgbm)."""

    def __init__(self, text: str, source: str = "model"):
        self.text = text
        self.source = source
        (self.version, self.num_class, self.num_tree_per_iteration, self.max_feature_idx, self.objective,
         self.objective_params, self.average_output, self.trees) = parse_model_text(text, source)
        #: iterations kept by first_iterations (None: all the text holds)
        self.num_iteration: int | None = None

    @property
    def n_features_in_(self) -> int:
        return self.max_feature_idx + 1

    def first_iterations(self, k: int) -> LightGBMModel:
        """A copy holding the trees of the first ``k`` iterations only."""
        m = copy.copy(self)
        m.trees = self.trees[:k * self.num_tree_per_iteration]
        m.num_iteration = k
        return m

    def booster(self):
        import lightgbm

        return lightgbm.Booster(model_str=self.text)

    def predict(self, X, **kw):
        if self.num_iteration is not None:
            kw.setdefault("num_iteration", self.num_iteration)
        return self.booster().predict(np.asarray(X), **kw)

    def decision_function(self, X):
        return self.predict(X, raw_score=True)

    def __repr__(self):
        return (f"LightGBMModel({self.source}: {len(self.trees)} trees, objective={self.objective}, "
                f"{self.n_features_in_} features)")


def _fail(source, msg):
    raise ConversionError(f"{source}: not a valid LightGBM model text: {msg}")


def _numbers(source, d, key, dtype, n=None):
    if key not in d:
        _fail(source, f"a tree has no {key}= line")
    try:
        if dtype is float:
            a = np.array([float(v) for v in d[key].split()], np.float64)
        else:
            a = np.array([int(v) for v in d[key].split()], np.int64)
    except ValueError:
        _fail(source, f"{key}= holds a value that is not a number")
    if n is not None and len(a) != n:
        _fail(source, f"{key}= has {len(a)} values, expected {n}")
    return a


def _block(lines):
    d = {}
    for ln in lines:
        if "=" in ln:
            k, v = ln.split("=", 1)
            d[k.strip()] = v.strip()
        elif ln.strip():
            d[ln.strip()] = ""
    return d


def parse_model_text(text: str, source: str = "model"):
    """``(version, num_class, num_tree_per_iteration, max_feature_idx,
    objective, objective_params, average_output, trees)`` of a LightGBM model
    text; ConversionError naming ``source`` when it is not one."""
    if not isinstance(text, str) or not text.startswith(MAGIC):
        _fail(source, "it does not start with 'tree' and 'version=' (save it with Booster.save_model)")
    body = text.split("\nend of trees", 1)[0]
    parts = body.split("\nTree=")
    head = _block(parts[0].split("\n"))
    try:
        num_class = int(head.get("num_class", "1"))
        per_iter = int(head.get("num_tree_per_iteration", str(num_class)))
        max_feature_idx = int(head["max_feature_idx"])
    except (KeyError, ValueError):
        _fail(source, "the header lacks num_class/num_tree_per_iteration/max_feature_idx")
    if per_iter < 1 or max_feature_idx < 0:
        _fail(source, f"num_tree_per_iteration={per_iter}, max_feature_idx={max_feature_idx}")
    obj_words = head.get("objective", "").split()
    objective = obj_words[0] if obj_words else None
    params: dict[str, object] = {}
    for w in obj_words[1:]:
        if ":" in w:
            k, v = w.split(":", 1)
            params[k] = v
        else:
            params[w] = True
    trees = []
    for i, part in enumerate(parts[1:]):
        lines = part.split("\n")
        d = _block(lines[1:])
        try:
            nl = int(d.get("num_leaves", ""))
        except ValueError:
            _fail(source, f"tree {i} has no valid num_leaves=")
        if nl < 1:
            _fail(source, f"tree {i} has num_leaves={nl}")
        t = LightGBMTree(num_leaves=nl, leaf_value=_numbers(source, d, "leaf_value", float, nl),
                         is_linear=d.get("is_linear", "0") not in ("0", ""))
        if nl > 1:
            m = nl - 1
            t.split_feature = _numbers(source, d, "split_feature", int, m)
            t.threshold = _numbers(source, d, "threshold", float, m)
            t.decision_type = _numbers(source, d, "decision_type", int, m)
            t.left_child = _numbers(source, d, "left_child", int, m)
            t.right_child = _numbers(source, d, "right_child", int, m)
            for ch in (t.left_child, t.right_child):
                if ((ch >= m) | (ch < -nl)).any():
                    _fail(source, f"tree {i} has a child index out of range")
            if ((t.split_feature < 0) | (t.split_feature > max_feature_idx)).any():
                _fail(source, f"tree {i} splits on a feature beyond max_feature_idx={max_feature_idx}")
            if int(d.get("num_cat", "0")) > 0:
                t.cat_boundaries = _numbers(source, d, "cat_boundaries", int)
                t.cat_threshold = _numbers(source, d, "cat_threshold", int).astype(np.uint32)
                cb = t.cat_boundaries
                if len(cb) < 2 or cb[0] != 0 or (np.diff(cb) < 0).any() or cb[-1] != len(t.cat_threshold):
                    _fail(source, f"tree {i} has inconsistent cat_boundaries/cat_threshold")
        trees.append(t)
    if not trees:
        _fail(source, "it holds no trees")
    if len(trees) % per_iter:
        _fail(source, f"{len(trees)} trees is not a multiple of num_tree_per_iteration={per_iter}")
    version = head.get("version", "")
    return (version, num_class, per_iter, max_feature_idx, objective, params, "average_output" in head, trees)


@register_loader(".txt")
def load_lightgbm_text(path: Path, opts: dict) -> LightGBMModel:
    """A LightGBM ``.txt`` model file (``Booster.save_model``)."""
    with open(path, "rb") as f:
        start = f.read(64)
        if not start.replace(b"\r\n", b"\n").startswith(MAGIC.encode()):
            raise ModelFileError(f"{path}: not a LightGBM model file: a .txt model must be a LightGBM text model "
                                 "(Booster.save_model), starting with 'tree' and 'version=...'")
        rest = f.read()
    try:
        text = (start + rest).decode("utf-8")
    except UnicodeDecodeError as e:
        raise ModelFileError(f"{path}: not a LightGBM model file (not UTF-8 text)") from e
    text = text.replace("\r\n", "\n")
    try:
        return LightGBMModel(text, source=str(path))
    except ConversionError as e:
        raise ModelFileError(str(e)) from e
