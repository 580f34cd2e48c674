"""Pipeline (nested to any depth, ``"passthrough"``/``None`` steps, any
convertible last step) and ColumnTransformer (every column-selector kind,
``remainder``, sklearn's output order), with inverses; FeatureUnion and
TransformedTargetRegressor.

A whole Pipeline is ONE symbol: each step's ops are appended to the same
graph, so a ``Pipeline(scaler, model)`` compiles to a single function.

Every part is converted in a scope named after it (the Pipeline step, the
ColumnTransformer / FeatureUnion part; ``regressor`` and ``transformer`` of a
TransformedTargetRegressor): options written ``{"sym": {"clf": {"output":
"class"}}}`` or ``"sym.clf.output"`` reach the step ``clf`` only (see
:mod:`scikinc.options`), and the ops are labelled with it in the C.
"""
from __future__ import annotations

import numpy as np
from sklearn.compose import ColumnTransformer, TransformedTargetRegressor
from sklearn.pipeline import FeatureUnion, Pipeline

from ..core import n_inputs as _n_inputs_of
from ..errors import ConversionError, NotInvertible
from ..ir import Affine, Concat, Gather
from ..registry import lookup, register_converter, register_inverse


def _rethrow(e: ConversionError, where: str):
    """Re-raise ``e`` (same class) with the location inside a composite."""
    try:
        err = type(e)(f"{where}: {e}")
    except TypeError:  # pragma: no cover - exotic constructor
        raise e from None
    raise err from e


# ---------------------------------------------------------------------------
# Pipeline
# ---------------------------------------------------------------------------


def _is_skip(step) -> bool:
    return step is None or (isinstance(step, str) and step == "passthrough")


def _pipeline_n_inputs(obj):
    try:
        n = obj.n_features_in_
        if n is not None:
            return int(n)
    except AttributeError:
        pass
    for _, step in obj.steps:
        if _is_skip(step):
            continue
        return _n_inputs_of(step, lookup(step))
    return None


@register_converter(Pipeline, n_inputs=_pipeline_n_inputs,
                    notes="nested to any depth, 'passthrough'/None steps, any convertible last step; "
                          "inverse when every step is invertible")
def pipeline(obj, g, x, ctx):
    for name, step in obj.steps:
        if _is_skip(step):
            continue
        try:
            x = ctx.convert(step, g, x, name)
        except ConversionError as e:
            _rethrow(e, f"Pipeline step {name!r}")
    return x


@register_inverse(Pipeline)
def pipeline_inverse(obj, g, x, ctx):
    for name, step in reversed(obj.steps):
        if _is_skip(step):
            continue
        if not ctx.has_inverse(step):
            raise NotInvertible(f"Pipeline step {name!r} ({type(step).__name__}) has no inverse")
        try:
            x = ctx.convert_inverse(step, g, x, name)
        except NotInvertible as e:
            _rethrow(e, f"Pipeline step {name!r}")
    return x


# ---------------------------------------------------------------------------
# ColumnTransformer
# ---------------------------------------------------------------------------


def resolve_columns(obj, columns, n_features: int) -> list[int]:
    """Integer column indices of a ColumnTransformer selector (ints, slices,
    boolean masks, strings through ``feature_names_in_``, callables)."""
    names = getattr(obj, "feature_names_in_", None)

    def by_name(s):
        if names is None:
            raise ConversionError(f"ColumnTransformer: column {s!r} selected by name but the "
                                  "transformer has no feature_names_in_ (was it fitted on a DataFrame?)")
        hits = np.flatnonzero(np.asarray(names) == s)
        if hits.size != 1:
            raise ConversionError(f"ColumnTransformer: no input column named {s!r}")
        return int(hits[0])

    if callable(columns):
        raise ConversionError("ColumnTransformer: callable selector in a fitted transformer; "
                              "expected sklearn to have resolved it at fit time")
    if columns is None:
        return []
    if isinstance(columns, (str, np.str_)):
        return [by_name(str(columns))]
    if isinstance(columns, (int, np.integer)) and not isinstance(columns, bool):
        return [int(columns) % n_features if columns < 0 else int(columns)]
    if isinstance(columns, slice):
        if isinstance(columns.start, str) or isinstance(columns.stop, str):
            start = 0 if columns.start is None else by_name(columns.start)
            stop = n_features - 1 if columns.stop is None else by_name(columns.stop)
            return list(range(start, stop + 1))  # label slices include the end, like pandas .loc
        return list(range(n_features))[columns]
    arr = np.asarray(columns)
    if arr.ndim != 1:
        raise ConversionError(f"ColumnTransformer: cannot interpret column selector {columns!r}")
    if arr.size == 0:
        return []
    if arr.dtype == bool:
        if arr.size != n_features:
            raise ConversionError("ColumnTransformer: boolean column mask of the wrong length")
        return [int(i) for i in np.flatnonzero(arr)]
    if arr.dtype.kind in "iu":
        return [int(i) % n_features if i < 0 else int(i) for i in arr]
    if arr.dtype.kind in "UO":
        return [by_name(str(s)) for s in arr]
    raise ConversionError(f"ColumnTransformer: cannot interpret column selector {columns!r}")


def _parts(obj):
    """[(name, transformer, column indices)] in sklearn's output order."""
    n = int(obj.n_features_in_)
    parts = []
    for name, trans, cols in obj.transformers_:
        if isinstance(trans, str) and trans == "drop":
            continue
        idx = resolve_columns(obj, cols, n)
        if not idx:
            continue
        parts.append((name, trans, idx))
    return parts


def _select(g, x, idx):
    if list(idx) == list(range(x.width)):
        return x
    return g.add(Gather(idx), x)


@register_converter(ColumnTransformer,
                    notes="selectors: int, slice, bool mask, str (feature_names_in_), callable/"
                          "make_column_selector; remainder drop/passthrough/estimator; output in "
                          "sklearn's order (dense); inverse when all parts invert and the columns "
                          "are a permutation of the input")
def column_transformer(obj, g, x, ctx):
    outs = []
    for name, trans, idx in _parts(obj):
        sub = _select(g, x, idx)
        if isinstance(trans, str):
            if trans != "passthrough":
                raise ConversionError(f"ColumnTransformer part {name!r}: unknown transformer {trans!r}")
            outs.append(sub)
            continue
        try:
            outs.append(ctx.convert(trans, g, sub, name))
        except ConversionError as e:
            _rethrow(e, f"ColumnTransformer part {name!r}")
    if not outs:
        raise ConversionError("ColumnTransformer: every column is dropped; the output would be empty")
    return outs[0] if len(outs) == 1 else g.add(Concat(), *outs)


@register_inverse(ColumnTransformer)
def column_transformer_inverse(obj, g, x, ctx):
    parts = _parts(obj)
    n = int(obj.n_features_in_)
    cols = [i for _, _, idx in parts for i in idx]
    if sorted(cols) != list(range(n)):
        raise NotInvertible("ColumnTransformer: the selected columns are not a permutation of the "
                            "input columns (some are dropped or used twice)")
    slices = getattr(obj, "output_indices_", {})
    pieces, off = [], 0
    for name, trans, idx in parts:
        sl = slices.get(name)
        if sl is None:
            raise NotInvertible(f"ColumnTransformer part {name!r}: unknown output slice")
        width = sl.stop - sl.start
        if isinstance(trans, str):
            if width != len(idx):
                raise NotInvertible(f"ColumnTransformer part {name!r}: unexpected width")
            pieces.append(_select(g, x, list(range(sl.start, sl.stop))))
            continue
        if not ctx.has_inverse(trans):
            raise NotInvertible(f"ColumnTransformer part {name!r} ({type(trans).__name__}) has no inverse")
        sub = _select(g, x, list(range(sl.start, sl.stop)))
        try:
            y = ctx.convert_inverse(trans, g, sub, name)
        except NotInvertible as e:
            _rethrow(e, f"ColumnTransformer part {name!r}")
        if y.width != len(idx):
            raise NotInvertible(f"ColumnTransformer part {name!r}: inverse gives {y.width} columns "
                                f"for {len(idx)} inputs")
        pieces.append(y)
        off += width
    joined = pieces[0] if len(pieces) == 1 else g.add(Concat(), *pieces)
    # joined[k] is input column cols[k]: invert the permutation
    where = np.empty(n, dtype=np.int64)
    where[np.asarray(cols)] = np.arange(n)
    return _select(g, joined, where.tolist())


# ---------------------------------------------------------------------------
# FeatureUnion, TransformedTargetRegressor
# ---------------------------------------------------------------------------


@register_converter(FeatureUnion, notes="'drop'/'passthrough' parts, transformer_weights")
def feature_union(obj, g, x, ctx):
    weights = obj.transformer_weights or {}
    outs = []
    for name, trans in obj.transformer_list:
        if isinstance(trans, str) and trans == "drop":
            continue
        if isinstance(trans, str) and trans == "passthrough":
            y = x
        else:
            try:
                y = ctx.convert(trans, g, x, name)
            except ConversionError as e:
                _rethrow(e, f"FeatureUnion part {name!r}")
        w = weights.get(name)
        if w is not None:
            y = g.add(Affine(y.width, mul=np.full(y.width, float(w))), y)
        outs.append(y)
    if not outs:
        raise ConversionError("FeatureUnion: every part is dropped; the output would be empty")
    return outs[0] if len(outs) == 1 else g.add(Concat(), *outs)


@register_converter(TransformedTargetRegressor,
                    notes="predict: the regressor, then the inverse of transformer/inverse_func")
def transformed_target_regressor(obj, g, x, ctx):
    try:
        y = ctx.convert(obj.regressor_, g, x, "regressor")
    except ConversionError as e:
        _rethrow(e, "TransformedTargetRegressor regressor")
    if not ctx.has_inverse(obj.transformer_):
        raise ConversionError(f"TransformedTargetRegressor: the target transformer "
                              f"{type(obj.transformer_).__name__} has no inverse converter")
    try:
        return ctx.convert_inverse(obj.transformer_, g, y, "transformer")
    except ConversionError as e:
        _rethrow(e, "TransformedTargetRegressor transformer")
