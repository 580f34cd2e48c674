"""IR ops of the boosted-tree library converters (LightGBM, XGBoost, CatBoost):
what such a library does to an input row before its trees see it.

:class:`LightGBMInput`
    LightGBM's view of a dense row: ``|v| <= kZeroThreshold`` counts as 0
    (the C API drops such values from a dense row), then per split feature
    the missing type of its nodes (NaN -> 0, zero/NaN -> missing) or, for
    categorical splits, the category ``(int)v`` (NaN, ``v <= -1`` and
    ``v >= 2**31`` -> NaN: LightGBM sends them right).
"""
from __future__ import annotations

import numpy as np

from ..errors import ConversionError
from .core import Op

#: LightGBM's kZeroThreshold (``1e-35f``: the float nearest 1e-35, as a double)
LIGHTGBM_ZERO_THRESHOLD = float(np.float32(1e-35))


class LightGBMInput(Op):
    """``y[j] = f(x[src[j]])``, the output columns grouped by mode, in the
    order of :attr:`MODES` (``counts[m]`` columns of mode ``m`` each), with
    ``v = (double)x`` and ``z = |v| <= zero_threshold``:

    ``none`` (LightGBM missing type None)
        ``NaN or z -> 0``, else ``v``;
    ``zero`` (missing type Zero)
        ``NaN or z -> NaN`` (the tree sends NaN to the default side), else ``v``;
    ``nan`` (missing type NaN)
        ``z -> 0``, else ``v`` (NaN stays NaN);
    ``cat`` (categorical splits)
        ``-1 < v < 2**31 -> (int)v`` (truncated), else NaN (NaN included).
    """

    template = "ops/lgb_input.c.j2"
    MODES = ("none", "zero", "nan", "cat")

    def __init__(self, n_inputs: int, src, counts, zero_threshold: float = LIGHTGBM_ZERO_THRESHOLD):
        self.n_inputs = int(n_inputs)
        self.src = np.asarray(src, dtype=np.int64).reshape(-1)
        self.counts = [int(c) for c in counts]
        if len(self.counts) != len(self.MODES) or sum(self.counts) != len(self.src) or len(self.src) == 0:
            raise ConversionError("LightGBMInput: one count per mode, summing to the (non-zero) output width")
        if ((self.src < 0) | (self.src >= self.n_inputs)).any():
            raise ConversionError(f"LightGBMInput: source columns must be below {self.n_inputs}")
        self.zero_threshold = float(zero_threshold)
        #: [start, stop) of each mode's output columns
        ends = np.cumsum([0] + self.counts)
        self.ranges = {m: (int(ends[i]), int(ends[i + 1])) for i, m in enumerate(self.MODES)}

    def out_width(self, w):
        self.expect_widths(w, [self.n_inputs])
        return int(self.src.size)

    def describe(self):
        return f"LightGBMInput({self.n_inputs} -> {self.src.size})"


#: XGBoost's largest valid category + 1 (``OutOfRangeCat``: 2**24, the float32 integers)
XGBOOST_MAX_CAT = 16777216.0
#: XGBoostInput's category code of a missing value (NaN, or equal to ``missing``)
XGBOOST_CAT_MISSING = -2.0
#: ... and of an invalid category (negative, >= 2**24): matches no category list
XGBOOST_CAT_INVALID = -1.0


class XGBoostInput(Op):
    """XGBoost's view of a dense row, ``f = (float)x`` as XGBoost reads it.

    ``y[j]`` for ``j < n_inputs``: the input, or NaN when ``f ==
    (float)missing`` (``missing`` not NaN);
    then per entry ``k`` of ``cat_src`` the category code of ``x[cat_src[k]]``
    as XGBoost's categorical splits see it: missing (NaN or ``missing``) ->
    ``XGBOOST_CAT_MISSING``; ``f < 0`` or ``f >= 2**24`` ->
    ``XGBOOST_CAT_INVALID``; else ``(int)f`` (truncated);
    then per entry ``k`` of ``member_src`` whether that code is one of the
    sorted codes ``member_codes[member_off[k]:member_off[k] + member_n[k]]``
    (a categorical split too large for a 256-bit set): 1 or 0, NaN when
    missing."""

    template = "ops/xgb_input.c.j2"

    def __init__(self, n_inputs: int, missing: float = float("nan"), cat_src=(), member_src=(), member_codes=()):
        self.n_inputs = int(n_inputs)
        self.missing = float(np.float32(missing))
        self.missing_is_nan = bool(np.isnan(self.missing))
        self.cat_src = np.asarray(cat_src, dtype=np.int64).reshape(-1)
        self.member_src = np.asarray(member_src, dtype=np.int64).reshape(-1)
        codes = [np.unique(np.asarray(c, dtype=np.int64).reshape(-1)) for c in member_codes]
        if len(codes) != len(self.member_src):
            raise ConversionError("XGBoostInput: one code list per membership column")
        for src in (self.cat_src, self.member_src):
            if ((src < 0) | (src >= self.n_inputs)).any():
                raise ConversionError(f"XGBoostInput: source columns must be below {self.n_inputs}")
        if any(((c < 0) | (c >= XGBOOST_MAX_CAT)).any() or len(c) == 0 for c in codes):
            raise ConversionError("XGBoostInput: membership codes must be non-empty lists in [0, 2**24)")
        self.member_n = np.array([len(c) for c in codes], np.int64)
        self.member_off = np.cumsum(np.r_[0, self.member_n])[:-1].astype(np.int64)
        self.member_codes = np.concatenate(codes) if codes else np.zeros(0, np.int64)
        self.max_cat = XGBOOST_MAX_CAT
        self.cat_missing = XGBOOST_CAT_MISSING
        self.cat_invalid = XGBOOST_CAT_INVALID

    def out_width(self, w):
        self.expect_widths(w, [self.n_inputs])
        return self.n_inputs + int(self.cat_src.size) + int(self.member_src.size)

    def describe(self):
        return (f"XGBoostInput({self.n_inputs} + {self.cat_src.size} categorical + "
                f"{self.member_src.size} membership)")
