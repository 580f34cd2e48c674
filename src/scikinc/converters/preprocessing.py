"""The remaining scikit-learn preprocessing converters.

MaxAbsScaler, RobustScaler, Normalizer, PowerTransformer, PCA (and
IncrementalPCA), KBinsDiscretizer, SimpleImputer, PolynomialFeatures,
OneHotEncoder; also Binarizer, MissingIndicator, OrdinalEncoder, TruncatedSVD,
FastICA.  Each follows the operation order of sklearn's own
``transform`` so that double results agree to rounding.

Rules where sklearn would raise instead of returning a value (the C code
never fails, it returns a number for every input):

* OneHotEncoder: a value matching no fitted category (``handle_unknown=
  'error'`` would raise) gives an all-zero block for that feature, exactly
  what ``handle_unknown='ignore'`` returns.  NaN matches a NaN category if
  one was fitted, else gives zeros.  Inverse: an all-zero block gives the
  dropped category, else NaN (sklearn: None, or an error).
* KBinsDiscretizer: NaN (rejected by sklearn) goes to the last bin, as
  ``np.searchsorted`` would place it; the inverse clamps bin indices to
  ``[0, n_bins - 1]`` and maps NaN to NaN.
* PowerTransformer box-cox: non-positive inputs (rejected by sklearn) give
  what libm gives: ``log(0) = -inf`` based results, NaN for negatives.
* Normalizer: NaN rows (rejected by sklearn) come out NaN.
* OrdinalEncoder: an unseen value gives ``unknown_value`` with
  ``handle_unknown='use_encoded_value'``, else NaN (sklearn raises); NaN
  without a fitted NaN category counts as unseen.
"""
from __future__ import annotations

import numpy as np
from sklearn.decomposition import PCA, FastICA, IncrementalPCA, TruncatedSVD
from sklearn.impute import MissingIndicator, SimpleImputer
from sklearn.preprocessing import (
    Binarizer,
    KBinsDiscretizer,
    MaxAbsScaler,
    Normalizer,
    OneHotEncoder,
    OrdinalEncoder,
    PolynomialFeatures,
    PowerTransformer,
    RobustScaler,
)

from ..errors import ConversionError, NotInvertible
from ..ir import Affine, Concat, Dense, Gather
from ..ir.preprocessing import (
    Binarize,
    Bins,
    CategoryIndex,
    FillNaN,
    IsNaN,
    Lookup,
    Monomials,
    Normalize,
    OneHot,
    OneHotInverse,
    PowerMap,
    RestoreMissing,
)
from ..registry import register_converter, register_inverse

# ---------------------------------------------------------------------------
# Scalers
# ---------------------------------------------------------------------------


@register_converter(MaxAbsScaler, notes="zero columns keep scale 1")
def max_abs_scaler(obj, g, x, ctx):
    return g.add(Affine(x.width, div=obj.scale_), x)  # sklearn: X /= scale_


@register_inverse(MaxAbsScaler)
def max_abs_scaler_inverse(obj, g, x, ctx):
    return g.add(Affine(x.width, mul=obj.scale_), x)


@register_converter(RobustScaler, notes="with_centering/with_scaling, any quantile_range, unit_variance")
def robust_scaler(obj, g, x, ctx):
    # sklearn: X -= center_; X /= scale_
    return g.add(Affine(x.width, sub=obj.center_ if obj.with_centering else None,
                        div=obj.scale_ if obj.with_scaling else None), x)


@register_inverse(RobustScaler)
def robust_scaler_inverse(obj, g, x, ctx):
    # sklearn: X *= scale_; X += center_
    return g.add(Affine(x.width, mul=obj.scale_ if obj.with_scaling else None,
                        add=obj.center_ if obj.with_centering else None), x)


def _n_features(obj):
    n = getattr(obj, "n_features_in_", None)
    return None if n is None else int(n)


@register_converter(Normalizer, n_inputs=_n_features,
                    notes="norm l1/l2/max; rows with norm < 10*DBL_EPSILON are left unchanged (like sklearn)")
def normalizer(obj, g, x, ctx):
    return g.add(Normalize(obj.norm), x)


# ---------------------------------------------------------------------------
# PowerTransformer
# ---------------------------------------------------------------------------


@register_converter(PowerTransformer,
                    notes="yeo-johnson and box-cox (scipy's formulas), standardize; inverse. "
                          "box-cox of x <= 0 follows libm (-inf/NaN)")
def power_transformer(obj, g, x, ctx):
    y = g.add(PowerMap(obj.method, obj.lambdas_, inverse=False), x)
    if obj.standardize:
        y = ctx.convert(obj._scaler, g, y)
    return y


@register_inverse(PowerTransformer)
def power_transformer_inverse(obj, g, x, ctx):
    if obj.standardize:
        x = ctx.convert_inverse(obj._scaler, g, x)
    return g.add(PowerMap(obj.method, obj.lambdas_, inverse=True), x)


# ---------------------------------------------------------------------------
# PCA
# ---------------------------------------------------------------------------


def _pca_scale(obj):
    scale = np.sqrt(np.asarray(obj.explained_variance_, dtype=np.float64))
    return np.maximum(scale, np.finfo(np.float64).eps)  # sklearn clips tiny variances


def pca(obj, g, x, ctx):
    C = np.asarray(obj.components_, dtype=np.float64)
    mean = np.zeros(C.shape[1]) if obj.mean_ is None else np.asarray(obj.mean_, dtype=np.float64)
    # sklearn: X @ C.T - mean @ C.T, then / sqrt(explained_variance_) if whiten
    y = g.add(Dense(C.T, -(mean @ C.T)), x)
    if obj.whiten:
        y = g.add(Affine(y.width, div=_pca_scale(obj)), y)
    return y


def pca_inverse(obj, g, x, ctx):
    C = np.asarray(obj.components_, dtype=np.float64)
    if obj.whiten:  # sklearn: sqrt(explained_variance_) (unclipped) * components_
        C = np.sqrt(np.asarray(obj.explained_variance_, dtype=np.float64))[:, None] * C
    return g.add(Dense(C, obj.mean_), x)


for _cls in (PCA, IncrementalPCA):
    register_converter(_cls, notes="whiten; inverse")(pca)
    register_inverse(_cls)(pca_inverse)


# ---------------------------------------------------------------------------
# KBinsDiscretizer
# ---------------------------------------------------------------------------


@register_converter(KBinsDiscretizer,
                    notes="encode ordinal, onehot, onehot-dense (dense output); any strategy; "
                          "NaN goes to the last bin; inverse (bin centres, indices clamped)")
def kbins(obj, g, x, ctx):
    y = g.add(Bins([np.asarray(e, dtype=np.float64)[1:-1] for e in obj.bin_edges_]), x)
    if obj.encode == "ordinal":
        return y
    if obj.encode in ("onehot", "onehot-dense"):
        return ctx.convert(obj._encoder, g, y)
    raise ConversionError(f"KBinsDiscretizer: unsupported encode={obj.encode!r}")


@register_inverse(KBinsDiscretizer)
def kbins_inverse(obj, g, x, ctx):
    if obj.encode != "ordinal":
        x = ctx.convert_inverse(obj._encoder, g, x)
    with np.errstate(invalid="ignore"):  # a constant feature's [-inf, inf] bin: NaN, as in sklearn
        centres = [(np.asarray(e[1:], float) + np.asarray(e[:-1], float)) * 0.5 for e in obj.bin_edges_]
    return g.add(Lookup(centres), x)


# ---------------------------------------------------------------------------
# SimpleImputer
# ---------------------------------------------------------------------------


def _missing_value(obj):
    mv = obj.missing_values
    if mv is None or (isinstance(mv, float) and np.isnan(mv)) or mv is np.nan:
        return np.nan
    if isinstance(mv, (int, float, np.integer, np.floating)) and not isinstance(mv, bool):
        return float(mv)
    raise ConversionError(f"SimpleImputer: missing_values={mv!r} is not numeric")


@register_converter(SimpleImputer,
                    notes="mean/median/most_frequent/constant with numeric or NaN missing_values; "
                          "features empty at fit are dropped (or kept with keep_empty_features); "
                          "add_indicator; inverse (add_indicator=True, like sklearn)")
def simple_imputer(obj, g, x, ctx):
    mv = _missing_value(obj)
    try:
        stats = np.asarray(obj.statistics_, dtype=np.float64)
    except (TypeError, ValueError):
        raise ConversionError(f"SimpleImputer: the fill values {list(obj.statistics_)!r} "
                              "are not numeric") from None
    keep = np.arange(x.width) if obj.keep_empty_features else np.flatnonzero(~np.isnan(stats))
    y = x if len(keep) == x.width else g.add(Gather(keep), x)
    y = g.add(FillNaN(stats[keep], missing=mv), y)
    ind = getattr(obj, "indicator_", None)
    if obj.add_indicator and ind is not None:
        feats = np.asarray(ind.features_, dtype=np.int64)
        if feats.size:
            y = g.add(Concat(), y, g.add(IsNaN(feats, missing=mv), x))
    return y


@register_inverse(SimpleImputer)
def simple_imputer_inverse(obj, g, x, ctx):
    # sklearn defines inverse_transform only with add_indicator=True
    ind = getattr(obj, "indicator_", None)
    if not obj.add_indicator or ind is None:
        raise NotInvertible("SimpleImputer: inverse_transform needs add_indicator=True")
    mv = _missing_value(obj)
    stats = np.asarray(obj.statistics_, dtype=np.float64)
    n = stats.size
    keep = np.arange(n) if obj.keep_empty_features else np.flatnonzero(~np.isnan(stats))
    src = np.full(n, -1, dtype=np.int64)
    src[keep] = np.arange(keep.size)
    feats = np.asarray(ind.features_, dtype=np.int64)
    where = np.full(n, -1, dtype=np.int64)
    where[feats] = keep.size + np.arange(feats.size)
    return g.add(RestoreMissing(src, where, missing=mv), x)


# ---------------------------------------------------------------------------
# PolynomialFeatures
# ---------------------------------------------------------------------------


@register_converter(PolynomialFeatures, notes="degree (int or range), interaction_only, include_bias, "
                                               "sklearn's multiplication order")
def polynomial_features(obj, g, x, ctx):
    factors = []
    for row in np.asarray(obj.powers_):
        idx = [i for i, p in enumerate(row) for _ in range(int(p))]
        # sklearn builds x_a x_b x_c as (x_c * x_b) * x_a
        factors.append(idx[::-1])
    return g.add(Monomials(factors), x)


# ---------------------------------------------------------------------------
# OneHotEncoder
# ---------------------------------------------------------------------------


@register_converter(OneHotEncoder,
                    notes="numeric categories (NaN allowed), drop first/if_binary/explicit; dense "
                          "output; a value outside the fitted categories gives an all-zero block "
                          "(the handle_unknown='ignore' result, also for 'error'); no infrequent "
                          "categories; inverse (all-zero block -> dropped category, else NaN)")
def one_hot_encoder(obj, g, x, ctx):
    if getattr(obj, "_infrequent_enabled", False):
        raise ConversionError("OneHotEncoder: infrequent categories (min_frequency/max_categories) "
                              "are not supported")
    drop = getattr(obj, "drop_idx_", None)
    feat, vals = [], []
    for i, cats in enumerate(obj.categories_):
        cats = np.asarray(cats)
        if cats.dtype.kind not in "fiub":
            raise ConversionError(f"OneHotEncoder: feature {i} has non-numeric categories "
                                  f"({cats.dtype}); only numeric categories can be converted")
        d = None if drop is None else drop[i]
        for j, c in enumerate(cats.astype(np.float64)):
            if d is not None and j == d:
                continue
            feat.append(i)
            vals.append(c)
    return g.add(OneHot(feat, vals), x)


@register_inverse(OneHotEncoder)
def one_hot_encoder_inverse(obj, g, x, ctx):
    # sklearn: category at argmax of each block; an all-zero block gives the
    # dropped category, or None (ignore) / an error (error) without drop: NaN here
    drop = getattr(obj, "drop_idx_", None)
    cats, zero = [], []
    for i, c in enumerate(obj.categories_):
        c = np.asarray(c, dtype=np.float64)
        d = None if drop is None else drop[i]
        cats.append(c if d is None else np.delete(c, int(d)))
        zero.append(np.nan if d is None else c[int(d)])
    return g.add(OneHotInverse(cats, zero), x)


# ---------------------------------------------------------------------------
# Binarizer, MissingIndicator, OrdinalEncoder, TruncatedSVD, FastICA
# ---------------------------------------------------------------------------


@register_converter(Binarizer, n_inputs=_n_features, notes="threshold; NaN gives 0")
def binarizer(obj, g, x, ctx):
    return g.add(Binarize(obj.threshold), x)


@register_converter(MissingIndicator, notes="features missing-only/all, NaN or numeric missing_values")
def missing_indicator(obj, g, x, ctx):
    mv = _missing_value(obj)
    return g.add(IsNaN(np.asarray(obj.features_, dtype=np.int64), missing=mv), x)


@register_converter(OrdinalEncoder,
                    notes="numeric categories (NaN -> encoded_missing_value); unseen values give "
                          "unknown_value (use_encoded_value) or NaN where sklearn would raise; "
                          "no infrequent categories")
def ordinal_encoder(obj, g, x, ctx):
    if getattr(obj, "_infrequent_enabled", False):
        raise ConversionError("OrdinalEncoder: infrequent categories (min_frequency/max_categories) "
                              "are not supported")
    cats, nanv = [], []
    for i, c in enumerate(obj.categories_):
        c = np.asarray(c)
        if c.dtype.kind not in "fiub":
            raise ConversionError(f"OrdinalEncoder: feature {i} has non-numeric categories ({c.dtype})")
        c = c.astype(np.float64)
        has_nan = bool(np.isnan(c).any())
        cats.append(c[~np.isnan(c)])
        nanv.append(float(obj.encoded_missing_value) if has_nan else np.nan)
    unknown = float(obj.unknown_value) if obj.handle_unknown == "use_encoded_value" else np.nan
    # NaN without a NaN category is an unknown value
    nanv = [v if not np.isnan(v) or np.isnan(c).any() else unknown
            for v, c in zip(nanv, (np.asarray(c, dtype=np.float64) for c in obj.categories_), strict=False)]
    return g.add(CategoryIndex(cats, nanv, unknown), x)


@register_converter(TruncatedSVD, notes="inverse")
def truncated_svd(obj, g, x, ctx):
    return g.add(Dense(np.asarray(obj.components_, dtype=np.float64).T), x)


@register_inverse(TruncatedSVD)
def truncated_svd_inverse(obj, g, x, ctx):
    return g.add(Dense(np.asarray(obj.components_, dtype=np.float64)), x)


@register_converter(FastICA, notes="whiten or not; inverse")
def fast_ica(obj, g, x, ctx):
    if obj.whiten:  # sklearn: (X - mean_) @ components_.T
        x = g.add(Affine(x.width, sub=obj.mean_), x)
    return g.add(Dense(np.asarray(obj.components_, dtype=np.float64).T), x)


@register_inverse(FastICA)
def fast_ica_inverse(obj, g, x, ctx):
    return g.add(Dense(np.asarray(obj.mixing_, dtype=np.float64).T,
                       obj.mean_ if obj.whiten else None), x)
