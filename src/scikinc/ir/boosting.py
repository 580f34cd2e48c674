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
