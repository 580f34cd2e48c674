"""IR ops used by the scikit-learn preprocessing converters.

Each op holds numbers only and names its template under
``templates/ops/pre_*.c.j2``; static helper functions live in
``templates/helpers/pre_*.c.j2``.
"""
from __future__ import annotations

import numpy as np

from ..errors import ConversionError
from .core import Op, _vec

#: math.h functions allowed in ``func_inC`` expressions -> number of arguments
MATH_FUNCTIONS = {
    **{f: 1 for f in ("exp", "exp2", "expm1", "log", "log2", "log10", "log1p", "sqrt", "cbrt",
                      "sin", "cos", "tan", "asin", "acos", "atan", "sinh", "cosh", "tanh",
                      "asinh", "acosh", "atanh", "fabs", "floor", "ceil", "trunc", "round", "rint",
                      "erf", "erfc", "tgamma", "lgamma")},
    **{f: 2 for f in ("pow", "atan2", "hypot", "fmin", "fmax", "fmod", "copysign", "fdim")},
}


class QuantileTable(Op):
    """Per-column QuantileTransformer map (forward or inverse).

    ``quantiles`` is ``[n_features][n_quantiles]`` (sklearn's ``quantiles_.T``);
    the references grid ``linspace(0, 1, n_quantiles)`` is recomputed in C.  ``normal`` selects the
    Gaussian output: PPF after the forward interpolation, CDF before the
    inverse one (both evaluated in double, or long double for long double).
    """

    template = "ops/pre_quantile.c.j2"
    elementwise = True

    def __init__(self, quantiles, *, normal: bool, inverse: bool,
                 threshold: float = 1e-7, clip_min: float = -np.inf, clip_max: float = np.inf):
        q = np.asarray(quantiles, dtype=np.float64)
        if q.ndim != 2:
            raise ConversionError("quantiles must be [n_features][n_quantiles]")
        self.n, self.nq = q.shape
        self.quantiles = q
        # float builds store q as a float pair hi + lo (hi is q rounded to float)
        self.quantiles_lo = q - q.astype(np.float32).astype(np.float64)
        self.normal = bool(normal)
        self.inverse = bool(inverse)
        self.threshold = float(threshold)
        self.clip_min = float(clip_min)
        self.clip_max = float(clip_max)
        self.helpers = ("pre_quantile", "pre_norm") if self.normal else ("pre_quantile",)

    def out_width(self, w):
        self.expect_widths(w, [self.n])
        return self.n

    def describe(self):
        return f"QuantileTable({'normal' if self.normal else 'uniform'}{', inverse' if self.inverse else ''})"


class Expr(Op):
    """Elementwise expression ``y[i] = f(x[i])`` given as a parse tree.

    Nodes (tuples): ``("x",)``, ``("num", value)``, ``("neg", a)``,
    ``("bin", "+"|"-"|"*"|"/", a, b)``, ``("call", libm_name, a, ...)``
    (rendered with the FLOAT_T suffix, e.g. ``expf``), ``("helper", name, a)``
    for the static helpers of ``helpers/pre_math.c.j2`` (``sign``,
    ``norm_cdf``, ``norm_ppf``).  The template re-emits C from this tree
    only, so no user text reaches the C file.
    """

    template = "ops/pre_expr.c.j2"
    elementwise = True
    BINARY = ("+", "-", "*", "/")
    HELPER_FUNCS = {"sign": "pre_math", "norm_cdf": "pre_norm", "norm_ppf": "pre_norm"}

    def __init__(self, tree, text: str = ""):
        self.tree = tree
        self.text = text
        helpers: set[str] = set()
        self._check(tree, helpers)
        self.helpers = tuple(sorted(helpers))

    def _check(self, node, helpers):
        kind = node[0]
        if kind == "x":
            return
        if kind == "num":
            float(node[1])
            return
        if kind == "neg":
            self._check(node[1], helpers)
            return
        if kind == "bin":
            if node[1] not in self.BINARY:
                raise ConversionError(f"unknown operator {node[1]!r}")
            self._check(node[2], helpers)
            self._check(node[3], helpers)
            return
        if kind == "call":
            if node[1] not in MATH_FUNCTIONS:
                raise ConversionError(f"unknown math function {node[1]!r}")
            for a in node[2:]:
                self._check(a, helpers)
            return
        if kind == "helper":
            if node[1] not in self.HELPER_FUNCS:
                raise ConversionError(f"unknown helper {node[1]!r}")
            helpers.add(self.HELPER_FUNCS[node[1]])
            if node[1] == "sign":
                helpers.add("pre_math")
            for a in node[2:]:
                self._check(a, helpers)
            return
        raise ConversionError(f"unknown expression node {node!r}")

    def out_width(self, w):
        return w[0]

    def describe(self):
        ok = self.text.replace("_", "").isalnum()  # ufunc / attribute names only
        return f"Expr({self.text})" if ok else "Expr"


class Normalize(Op):
    """Row normalisation (sklearn ``Normalizer``): ``l1``, ``l2`` or ``max``
    norm; an all-zero row stays zero."""

    template = "ops/pre_normalize.c.j2"
    NORMS = ("l1", "l2", "max")

    def __init__(self, norm: str):
        if norm not in self.NORMS:
            raise ConversionError(f"unknown norm {norm!r}")
        self.norm = norm

    def out_width(self, w):
        return w[0]

    def describe(self):
        return f"Normalize({self.norm})"


class OneHot(Op):
    """``y = [x[feature[k]] == value[k] for k]``: one output per
    (feature, category) pair; NaN categories match NaN inputs."""

    template = "ops/pre_onehot.c.j2"

    def __init__(self, feature, value):
        self.feature = np.asarray(feature, dtype=np.int64).reshape(-1)
        self.value = _vec(value, self.feature.size, "categories")
        self.isnan = np.isnan(self.value).astype(np.int64)
        self.value = np.where(np.isnan(self.value), 0.0, self.value)

    def out_width(self, w):
        if self.feature.size and (self.feature.min() < 0 or self.feature.max() >= w[0]):
            raise ConversionError("one-hot feature index out of range")
        return int(self.feature.size)


class Bins(Op):
    """``y[i] = number of inner edges of feature i that are <= x[i]``
    (``np.searchsorted(edges, x, side="right")``); ``edges`` is a list of
    per-feature increasing arrays.  NaN maps to the last bin, like numpy."""

    template = "ops/pre_bins.c.j2"
    elementwise = True

    def __init__(self, edges):
        edges = [np.asarray(e, dtype=np.float64).reshape(-1) for e in edges]
        self.n = len(edges)
        self.counts = np.array([e.size for e in edges], dtype=np.int64)
        self.offsets = np.concatenate([[0], np.cumsum(self.counts)[:-1]]).astype(np.int64)
        self.edges = np.concatenate(edges) if edges else np.zeros(0)

    def out_width(self, w):
        self.expect_widths(w, [self.n])
        return self.n


class Lookup(Op):
    """``y[i] = table[i][clamp((int) x[i], 0, n_i - 1)]`` (bin centres of the
    KBinsDiscretizer inverse); NaN gives NaN."""

    template = "ops/pre_lookup.c.j2"
    elementwise = True

    def __init__(self, tables):
        tables = [np.asarray(t, dtype=np.float64).reshape(-1) for t in tables]
        self.n = len(tables)
        self.counts = np.array([t.size for t in tables], dtype=np.int64)
        self.offsets = np.concatenate([[0], np.cumsum(self.counts)[:-1]]).astype(np.int64)
        values = np.concatenate(tables) if tables else np.zeros(0)
        # NaN entries (the centre of a constant feature's [-inf, inf] bin)
        # are flagged and emitted as NAN by the template
        self.isnan = np.isnan(values).astype(np.int64)
        self.values = np.where(np.isnan(values), 0.0, values)

    def out_width(self, w):
        self.expect_widths(w, [self.n])
        return self.n


class FillNaN(Op):
    """``y[i] = missing(x[i]) ? fill[i] : x[i]`` (SimpleImputer); missing
    means NaN, or equal to ``missing`` when that is a number."""

    template = "ops/pre_fillnan.c.j2"
    elementwise = True

    def __init__(self, fill, missing=np.nan):
        self.fill = _vec(fill)
        self.n = self.fill.size
        self.missing = float(missing)
        self.missing_is_nan = bool(np.isnan(self.missing))

    def out_width(self, w):
        self.expect_widths(w, [self.n])
        return self.n


class IsNaN(Op):
    """``y[j] = missing(x[index[j]]) ? 1 : 0`` (MissingIndicator)."""

    template = "ops/pre_isnan.c.j2"

    def __init__(self, index, missing=np.nan):
        self.index = np.asarray(index, dtype=np.int64).reshape(-1)
        self.missing = float(missing)
        self.missing_is_nan = bool(np.isnan(self.missing))

    def out_width(self, w):
        return int(self.index.size)


class Monomials(Op):
    """``y[k] = prod_j x[factors[k][j]]`` multiplied left to right (the order
    sklearn's PolynomialFeatures uses); an empty product is 1."""

    template = "ops/pre_poly.c.j2"

    def __init__(self, factors):
        factors = [list(map(int, f)) for f in factors]
        self.n_out = len(factors)
        self.counts = np.array([len(f) for f in factors], dtype=np.int64)
        self.offsets = np.concatenate([[0], np.cumsum(self.counts)[:-1]]).astype(np.int64)
        flat = [i for f in factors for i in f]
        self.flat = np.array(flat, dtype=np.int64)

    def out_width(self, w):
        if self.flat.size and (self.flat.min() < 0 or self.flat.max() >= w[0]):
            raise ConversionError("monomial factor index out of range")
        return self.n_out


class PowerMap(Op):
    """Per-column Yeo-Johnson / Box-Cox transform or inverse with scipy's
    formulas (expm1/log1p forms).  ``kind`` is ``yeo-johnson`` or
    ``box-cox``; ``lambdas`` one per column."""

    template = "ops/pre_power.c.j2"
    elementwise = True

    def __init__(self, kind: str, lambdas, inverse: bool):
        if kind not in ("yeo-johnson", "box-cox"):
            raise ConversionError(f"unknown power transform {kind!r}")
        self.kind = kind
        self.lambdas = _vec(lambdas)
        self.n = self.lambdas.size
        self.inverse = bool(inverse)
        eps = np.spacing(1.0)
        # which formula each column uses, decided like sklearn / scipy
        if kind == "yeo-johnson":
            self.zero = (np.abs(self.lambdas) < eps).astype(np.int64)
        elif inverse:  # scipy.special.inv_boxcox
            self.zero = (self.lambdas == 0).astype(np.int64)
        else:  # scipy.special.boxcox
            self.zero = (np.abs(self.lambdas) < 1e-19).astype(np.int64)
        self.two = (np.abs(self.lambdas - 2) <= eps).astype(np.int64)

    def out_width(self, w):
        self.expect_widths(w, [self.n])
        return self.n

    def describe(self):
        return f"PowerMap({self.kind}{', inverse' if self.inverse else ''})"


class OneHotInverse(Op):
    """OneHotEncoder.inverse_transform: per feature, the category at the
    first maximum (numpy argmax) of its block of ``counts[i]`` inputs; a block
    summing to 0 gives ``zero_value[i]`` (the dropped category, or NaN)."""

    template = "ops/pre_onehot_inverse.c.j2"

    def __init__(self, categories, zero_value):
        cats = [np.asarray(c, dtype=np.float64).reshape(-1) for c in categories]
        self.n = len(cats)
        self.counts = np.array([c.size for c in cats], dtype=np.int64)
        self.offsets = np.concatenate([[0], np.cumsum(self.counts)[:-1]]).astype(np.int64)
        values = np.concatenate(cats) if cats else np.zeros(0)
        zero = _vec(zero_value, self.n, "zero_value")
        # NaN entries are flagged and emitted as NAN by the template
        self.isnan = np.isnan(values).astype(np.int64)
        self.values = np.where(np.isnan(values), 0.0, values)
        self.zero_isnan = np.isnan(zero).astype(np.int64)
        self.zero = np.where(np.isnan(zero), 0.0, zero)
        self.n_in = int(self.counts.sum())

    def out_width(self, w):
        if w != [self.n_in]:
            raise ConversionError(f"one-hot inverse expects {self.n_in} inputs, got {w}")
        return self.n


class RestoreMissing(Op):
    """SimpleImputer.inverse_transform (add_indicator=True): original column
    ``j`` is ``missing`` where its indicator ``x[ind[j]]`` is non-zero (or
    when the feature was dropped, ``src[j] < 0``), else ``x[src[j]]``."""

    template = "ops/pre_restore_missing.c.j2"

    def __init__(self, src, ind, missing=np.nan):
        self.src = np.asarray(src, dtype=np.int64).reshape(-1)
        self.ind = np.asarray(ind, dtype=np.int64).reshape(-1)
        self.n = self.src.size
        self.missing = float(missing)
        self.missing_is_nan = bool(np.isnan(self.missing))

    def out_width(self, w):
        if max(self.src.max(initial=-1), self.ind.max(initial=-1)) >= w[0]:
            raise ConversionError("column index out of range")
        return self.n


class Binarize(Op):
    """``y[i] = x[i] > threshold ? 1 : 0`` (NaN -> 0)."""

    template = "ops/pre_binarize.c.j2"
    elementwise = True

    def __init__(self, threshold: float):
        self.threshold = float(threshold)

    def out_width(self, w):
        return w[0]


class CategoryIndex(Op):
    """OrdinalEncoder: ``y[i]`` = position of ``x[i]`` among feature i's
    (non-NaN) categories; NaN gives ``nan_value[i]``, anything else
    ``unknown``.  Values that are NaN are flagged, emitted as NAN."""

    template = "ops/pre_catindex.c.j2"
    elementwise = True

    def __init__(self, categories, nan_value, unknown: float):
        cats = [np.asarray(c, dtype=np.float64).reshape(-1) for c in categories]
        self.n = len(cats)
        self.counts = np.array([c.size for c in cats], dtype=np.int64)
        self.offsets = np.concatenate([[0], np.cumsum(self.counts)[:-1]]).astype(np.int64)
        self.values = np.concatenate(cats) if cats else np.zeros(0)
        nv = _vec(nan_value, self.n, "nan_value")
        self.nan_isnan = np.isnan(nv).astype(np.int64)
        self.nan_value = np.where(np.isnan(nv), 0.0, nv)
        self.unknown = float(unknown)
        self.unknown_isnan = bool(np.isnan(self.unknown))

    def out_width(self, w):
        self.expect_widths(w, [self.n])
        return self.n
