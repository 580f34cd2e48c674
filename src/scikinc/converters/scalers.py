"""MinMaxScaler and StandardScaler: one Affine op each way, in sklearn's own
operation order so that results match to the last bit in double."""
import numpy as np
from sklearn.preprocessing import MinMaxScaler, StandardScaler

from ..ir import Affine, Clip
from ..registry import register_converter, register_inverse


@register_converter(StandardScaler, notes="with_mean/with_std; zero-variance features keep scale 1")
def standard_scaler(obj, g, x, ctx):
    # sklearn: X -= mean_; X /= scale_   (mean_/scale_ are None when disabled)
    return g.add(Affine(x.width, sub=obj.mean_ if obj.with_mean else None,
                        div=obj.scale_ if obj.with_std else None), x)


@register_inverse(StandardScaler)
def standard_scaler_inverse(obj, g, x, ctx):
    # sklearn: X *= scale_; X += mean_
    return g.add(Affine(x.width, mul=obj.scale_ if obj.with_std else None,
                        add=obj.mean_ if obj.with_mean else None), x)


@register_converter(MinMaxScaler, notes="feature_range, clip=True")
def min_max_scaler(obj, g, x, ctx):
    # sklearn: X *= scale_; X += min_; then np.clip to feature_range if clip
    y = g.add(Affine(x.width, mul=obj.scale_, add=obj.min_), x)
    if getattr(obj, "clip", False):
        lo, hi = obj.feature_range
        y = g.add(Clip(x.width, np.full(x.width, lo, float), np.full(x.width, hi, float)), y)
    return y


@register_inverse(MinMaxScaler)
def min_max_scaler_inverse(obj, g, x, ctx):
    # sklearn: X -= min_; X /= scale_
    return g.add(Affine(x.width, sub=obj.min_, div=obj.scale_), x)
