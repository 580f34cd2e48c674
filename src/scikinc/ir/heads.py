"""Classifier-head ops shared by every classifier family (trees, linear
models, MLPs, boosted-tree libraries): class index and probability
normalisation."""
from __future__ import annotations

from .core import Op


class ArgMax(Op):
    """Index of the first maximum as a float; for a single input the class
    index ``x > threshold`` (``x >= threshold`` when ``inclusive``)."""

    template = "ops/argmax.c.j2"

    def __init__(self, threshold: float = 0.0, inclusive: bool = False):
        self.threshold = float(threshold)
        self.inclusive = bool(inclusive)

    def out_width(self, w):
        return 1


class Normalize(Op):
    """``y = x / sum(x)``; a zero sum gives the uniform vector (sklearn's
    one-vs-rest probability normalisation)."""

    template = "ops/normalize.c.j2"

    def out_width(self, w):
        return w[0]
