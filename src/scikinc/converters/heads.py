"""Classifier outputs shared by the classifier converters (trees, linear
models, MLPs, boosted-tree libraries): the ``output`` option and the raw
score -> probability / class heads."""
from __future__ import annotations

from ..errors import ConversionError
from ..ir import Activation, Affine, Gather, Softmax
from ..ir.heads import ArgMax, Normalize


def output_option(ctx, obj, allowed, default):
    # choices=: a value this model cannot give (an unscoped output=class seen
    # by a regressor) is skipped here and reported only if no converter takes it
    out = ctx.option("output", default, choices=allowed)
    if out not in allowed:
        raise ConversionError(
            f"{type(obj).__name__}: output={out!r} is not available for this model; "
            f"choose one of {', '.join(repr(a) for a in allowed)}")
    return out


def binary_full(g, p):
    """[1 - p, p] from a 1-wide probability (sklearn: ``proba[:, 0] = 1 - p``)."""
    two = g.add(Gather([0, 0]), p)
    return g.add(Affine(2, mul=[-1.0, 1.0], add=[1.0, 0.0]), two)


def classifier_head(g, raw, link: str, out: str, *, class_threshold_inclusive=False):
    """Turn raw scores into the requested classifier output.

    ``link``: ``"logit"`` (binary, sigmoid), ``"logit2"`` (binary,
    sigmoid(2 raw): exponential loss), ``"softmax"``, ``"ovr"`` (sigmoid per
    class then normalised).
    """
    if out == "decision_function":
        return raw
    if out == "class":
        return g.add(ArgMax(0.0, inclusive=class_threshold_inclusive), raw)
    if link in ("logit", "logit2"):
        if link == "logit2":
            raw = g.add(Affine(1, mul=[2.0]), raw)
        p = g.add(Activation("sigmoid"), raw)
        return binary_full(g, p) if out == "proba_full" else p
    if link == "softmax":
        return g.add(Softmax(), raw)
    if link == "ovr":
        return g.add(Normalize(), g.add(Activation("sigmoid"), raw))
    raise ConversionError(f"unknown link {link!r}")  # pragma: no cover
