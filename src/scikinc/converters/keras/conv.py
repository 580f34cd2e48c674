"""Convolutions, pooling and spatial shape layers (1-D and 2-D).

The Conv, ConvTranspose, Pool and Bilinear ops work channels last on a 2-D
grid (a 1-D layer is a grid of height 1); ``channels_first`` layers permute to
channels last and back around them (two Gathers).  Depthwise convolutions are
Convs with one group per input channel, separable ones a depthwise Conv then
a 1x1 Conv.  Padding, cropping and nearest upsampling only move values: one
Gather each (zero padding reads an appended zero).
"""
from __future__ import annotations

import numpy as np

from ...errors import ConversionError, UnsupportedModelError
from ...ir import Concat, Constant, Value
from ...ir.keras import Bilinear, Conv, ConvTranspose, Pool
from . import shapes as S
from .activations import activation_spec, add_activation
from .graph import _keras2
from .layers import _layer, _np


def _fmt(call) -> str:
    fmt = getattr(call.layer, "data_format", None) or "channels_last"
    if fmt not in ("channels_last", "channels_first"):
        raise UnsupportedModelError(f"{call.where()}: data_format={fmt!r}")
    return fmt


def _split(dims, fmt: str) -> tuple[tuple[int, ...], int]:
    """(spatial dims, channels) of a batch-dropped shape."""
    if fmt == "channels_first":
        return tuple(dims[1:]), int(dims[0])
    return tuple(dims[:-1]), int(dims[-1])


def _grid(sp) -> tuple[int, int]:
    return (1, int(sp[0])) if len(sp) == 1 else (int(sp[0]), int(sp[1]))


def _tuple(v, n: int) -> tuple[int, ...]:
    if isinstance(v, (int, np.integer)):
        return (int(v),) * n
    t = tuple(int(a) for a in v)
    return t * n if len(t) == 1 else t


def _pad_before(mode: str, n: int, out: int, k: int, s: int, d: int, where: str) -> int:
    if mode == "valid":
        return 0
    if mode == "same":
        return max((out - 1) * s + (k - 1) * d + 1 - n, 0) // 2
    if mode == "causal":
        return (k - 1) * d
    raise UnsupportedModelError(f"{where}: padding={mode!r}")


def _channels_last(g, x: Value, dims, fmt: str) -> Value:
    if fmt == "channels_first":
        return S.permute(g, x, dims, list(range(1, len(dims))) + [0])
    return x


def _back(g, y: Value, sp, c: int, fmt: str) -> Value:
    """A channels-last result ``[*sp][c]`` in the layer's format."""
    if fmt == "channels_first":
        n = len(sp)
        return S.permute(g, y, (*sp, c), [n] + list(range(n)))
    return y


def _geometry(call, rank: int, k, s, d, padding: str):
    """Input grid, output grid, pads for a rank-``rank`` spatial layer."""
    fmt = _fmt(call)
    dims = call.in_dims[0]
    if len(dims) != rank + 1:
        raise UnsupportedModelError(f"{call.where()}: input shape {call.in_shapes[0]} (rank {rank + 2} expected)")
    sp, c = _split(dims, fmt)
    osp, _ = _split(call.out_dims, fmt)
    pads = tuple(_pad_before(padding, sp[i], osp[i], k[i], s[i], d[i], call.where()) for i in range(rank))
    for i in range(rank):  # the output sizes these pads give must be Keras'
        span = (k[i] - 1) * d[i] + 1
        want = {"same": -(-sp[i] // s[i]), "valid": (sp[i] - span) // s[i] + 1,
                "causal": (sp[i] - 1) // s[i] + 1}[padding]
        if want != osp[i]:
            raise ConversionError(f"{call.where()}: output size {osp[i]} along spatial axis {i}, "
                                  f"the geometry gives {want}")
    pad = (0, pads[0]) if rank == 1 else pads
    return fmt, dims, sp, c, osp, pad


def _bias(L, name: str = "bias"):
    b = getattr(L, name, None)
    return _np(b) if getattr(L, "use_bias", True) and b is not None else None


def _finish(call, g, y: Value, osp, cout: int, fmt: str) -> Value:
    """The layer's activation over the channels-last result, then its format."""
    L = call.layer
    kind, params = activation_spec(getattr(L, "activation", None), _keras2(L), call.where())
    y = add_activation(g, y, kind, params, group=cout)
    return _back(g, y, osp, cout, fmt)


def _conv_like(call, g, W, b, groups: int = 1, pointwise=None, pointwise_b=None) -> Value:
    """A (grouped) convolution with Keras kernel ``W`` (``[*k][C_in/groups][C_out]``),
    then an optional 1x1 ``pointwise`` convolution (SeparableConv)."""
    L = call.layer
    rank = W.ndim - 2
    k = tuple(int(v) for v in W.shape[:rank])
    s, d = _tuple(L.strides, rank), _tuple(L.dilation_rate, rank)
    fmt, dims, sp, c, osp, pad = _geometry(call, rank, k, s, d, str(L.padding).lower())
    if rank == 1:
        W = W[None]
        s, d = (1, s[0]), (1, d[0])
    x = _channels_last(g, call.x(), dims, fmt)
    y = g.add(Conv(W, b, _grid(sp), _grid(osp), s, d, pad, groups), x)
    if pointwise is not None:
        P = pointwise.reshape(1, 1, *pointwise.shape[-2:])
        y = g.add(Conv(P, pointwise_b, _grid(osp), _grid(osp)), y)
    cout = int(pointwise.shape[-1] if pointwise is not None else W.shape[-1])
    return _finish(call, g, y, osp, cout, fmt)


@_layer("Conv1D", "Conv2D")
def _conv(call, g):
    L = call.layer
    groups = int(getattr(L, "groups", 1) or 1)
    return _conv_like(call, g, np.asarray(_np(L.kernel)), _bias(L), groups)


def _depthwise_kernel(call, K: np.ndarray, rank: int) -> tuple[np.ndarray, int]:
    """Keras' depthwise kernel ``[*k][C_in][multiplier]`` as a Conv kernel with
    one group per input channel (output channel ``ci * multiplier + m``)."""
    if K.ndim != rank + 2:
        raise UnsupportedModelError(f"{call.where()}: depthwise kernel of shape {K.shape}")
    cin, dm = int(K.shape[-2]), int(K.shape[-1])
    return K.reshape(*K.shape[:rank], 1, cin * dm), cin


@_layer("DepthwiseConv1D", "DepthwiseConv2D")
def _depthwise(call, g):
    L = call.layer
    rank = int(type(L).__name__[-2])
    K = getattr(L, "depthwise_kernel", None)  # tf.keras 2; Keras 3 calls it kernel
    W, cin = _depthwise_kernel(call, np.asarray(_np(L.kernel if K is None else K)), rank)
    return _conv_like(call, g, W, _bias(L), groups=cin)


@_layer("SeparableConv1D", "SeparableConv2D")
def _separable(call, g):
    """Depthwise (no bias) then pointwise 1x1 (the bias), then the activation."""
    L = call.layer
    rank = int(type(L).__name__[-2])
    W, cin = _depthwise_kernel(call, np.asarray(_np(L.depthwise_kernel)), rank)
    P = np.asarray(_np(L.pointwise_kernel))
    return _conv_like(call, g, W, None, groups=cin, pointwise=P, pointwise_b=_bias(L))


@_layer("Conv1DTranspose", "Conv2DTranspose")
def _conv_transpose(call, g):
    """TensorFlow's conv_transpose (the gradient of the forward convolution
    from the output grid to the input grid: its pads are that convolution's)."""
    L = call.layer
    rank = int(type(L).__name__[-11])
    K = np.asarray(_np(L.kernel))  # [*k][C_out][C_in]
    if K.ndim != rank + 2:
        raise UnsupportedModelError(f"{call.where()}: kernel of shape {K.shape}")
    k = tuple(int(v) for v in K.shape[:rank])
    s, d = _tuple(L.strides, rank), _tuple(L.dilation_rate, rank)
    padding = str(L.padding).lower()
    if padding not in ("valid", "same"):
        raise UnsupportedModelError(f"{call.where()}: padding={padding!r}")
    fmt = _fmt(call)
    dims = call.in_dims[0]
    if len(dims) != rank + 1:
        raise UnsupportedModelError(f"{call.where()}: input shape {call.in_shapes[0]} (rank {rank + 2} expected)")
    sp, _ = _split(dims, fmt)
    osp, cout = _split(call.out_dims, fmt)
    pads = []
    for i in range(rank):
        span = (k[i] - 1) * d[i] + 1
        fwd = -(-osp[i] // s[i]) if padding == "same" else (osp[i] - span) // s[i] + 1
        if fwd != sp[i] or osp[i] < 1:
            raise ConversionError(f"{call.where()}: output size {osp[i]} along spatial axis {i} does not give "
                                  f"back the input size {sp[i]} (TensorFlow's conv_transpose geometry)")
        pads.append(max((sp[i] - 1) * s[i] + span - osp[i], 0) // 2 if padding == "same" else 0)
    W = np.swapaxes(K, -1, -2)  # [*k][C_in][C_out]
    if rank == 1:
        W = W[None]
        s, d, pads = (1, s[0]), (1, d[0]), [0, pads[0]]
    x = _channels_last(g, call.x(), dims, fmt)
    y = g.add(ConvTranspose(W, _bias(L), _grid(sp), _grid(osp), s, d, tuple(pads)), x)
    return _finish(call, g, y, osp, int(W.shape[-1]), fmt)


@_layer("MaxPooling1D", "MaxPooling2D", "AveragePooling1D", "AveragePooling2D")
def _pool(call, g):
    L = call.layer
    name = type(L).__name__
    rank = int(name[-2])
    k = _tuple(L.pool_size, rank)
    s = _tuple(L.strides if L.strides is not None else L.pool_size, rank)
    fmt, dims, sp, c, osp, pad = _geometry(call, rank, k, s, (1,) * rank, str(L.padding).lower())
    if rank == 1:
        k, s = (1, k[0]), (1, s[0])
    x = _channels_last(g, call.x(), dims, fmt)
    y = g.add(Pool("max" if name.startswith("Max") else "avg", c, _grid(sp), _grid(osp), k, s, pad), x)
    return _back(g, y, osp, c, fmt)


@_layer("GlobalMaxPooling1D", "GlobalMaxPooling2D", "GlobalAveragePooling1D", "GlobalAveragePooling2D")
def _global_pool(call, g):
    L = call.layer
    name = type(L).__name__
    rank = int(name[-2])
    fmt = _fmt(call)
    dims = call.in_dims[0]
    if len(dims) != rank + 1:
        raise UnsupportedModelError(f"{call.where()}: input shape {call.in_shapes[0]} (rank {rank + 2} expected)")
    sp, c = _split(dims, fmt)
    hw = _grid(sp)
    x = _channels_last(g, call.x(), dims, fmt)
    # the output (c values, or keepdims' 1x..x1xc / cx1x..x1) is the same flat vector either way
    return g.add(Pool("max" if "Max" in name else "avg", c, hw, (1, 1), hw, (1, 1)), x)


def _moved(call, g, idx: np.ndarray) -> Value:
    """Gather ``idx`` (flat input positions, -1 for a zero) from the input."""
    x = call.x()
    if (idx < 0).any():
        x = g.add(Concat(), x, g.add(Constant(np.zeros(1))))
        idx = np.where(idx < 0, x.width - 1, idx)
    return S.gather(g, x, idx)


def _spatial_axes(call, rank: int) -> tuple[list[int], np.ndarray]:
    fmt = _fmt(call) if hasattr(call.layer, "data_format") else "channels_last"
    dims = call.in_dims[0]
    if len(dims) != rank + 1:
        raise UnsupportedModelError(f"{call.where()}: input shape {call.in_shapes[0]} (rank {rank + 2} expected)")
    axes = list(range(1, rank + 1)) if fmt == "channels_first" else list(range(rank))
    return axes, S.index(dims)


def _pairs(v, rank: int) -> list[tuple[int, int]]:
    if isinstance(v, (int, np.integer)):
        return [(int(v), int(v))] * rank
    v = list(v)
    if rank == 1:
        return [(int(v[0]), int(v[1]))] if not isinstance(v[0], (list, tuple)) else [tuple(v[0])]
    out = []
    for p in v:
        out.append((int(p), int(p)) if isinstance(p, (int, np.integer)) else (int(p[0]), int(p[1])))
    return out


@_layer("ZeroPadding1D", "ZeroPadding2D")
def _zero_padding(call, g):
    rank = int(type(call.layer).__name__[-2])
    axes, idx = _spatial_axes(call, rank)
    widths = [(0, 0)] * idx.ndim
    for a, p in zip(axes, _pairs(call.layer.padding, rank), strict=True):
        widths[a] = p
    return _moved(call, g, np.pad(idx, widths, constant_values=-1))


@_layer("Cropping1D", "Cropping2D")
def _cropping(call, g):
    rank = int(type(call.layer).__name__[-2])
    axes, idx = _spatial_axes(call, rank)
    sl = [slice(None)] * idx.ndim
    for a, (lo, hi) in zip(axes, _pairs(call.layer.cropping, rank), strict=True):
        sl[a] = slice(lo, idx.shape[a] - hi)
    return _moved(call, g, idx[tuple(sl)])


@_layer("UpSampling1D", "UpSampling2D")
def _upsampling(call, g):
    L = call.layer
    rank = int(type(L).__name__[-2])
    interpolation = getattr(L, "interpolation", "nearest")
    if rank == 2 and interpolation == "bilinear":
        return _bilinear(call, g, _tuple(L.size, 2))
    if interpolation != "nearest":
        raise UnsupportedModelError(f"{call.where()}: interpolation={interpolation!r} (only 'nearest' and "
                                    f"'bilinear')")
    axes, idx = _spatial_axes(call, rank)
    for a, r in zip(axes, _tuple(L.size, rank), strict=True):
        idx = np.repeat(idx, r, axis=a)
    return _moved(call, g, idx)


def _bilinear_axis(n_in: int, n_out: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """TensorFlow's half-pixel bilinear weights along one axis, in float32 as
    it computes them: source ``(o + 0.5) * (n_in / n_out) - 0.5``, rows
    ``floor`` and ``ceil`` clamped to the input, weight ``v - floor(v)``."""
    f32 = np.float32
    scale = f32(n_in) / f32(n_out)
    v = (np.arange(n_out, dtype=f32) + f32(0.5)) * scale - f32(0.5)
    lo = np.floor(v)
    first = np.maximum(lo.astype(np.int64), 0)
    second = np.minimum(np.ceil(v).astype(np.int64), n_in - 1)
    return first, second, (v - lo).astype(np.float64)


def _bilinear(call, g, size) -> Value:
    """UpSampling2D(interpolation='bilinear'): Keras' ops.image.resize, i.e.
    tf.image.resize (half-pixel centres, no antialiasing on upsampling)."""
    fmt = _fmt(call)
    dims = call.in_dims[0]
    if len(dims) != 3:
        raise UnsupportedModelError(f"{call.where()}: input shape {call.in_shapes[0]} (rank 4 expected)")
    sp, c = _split(dims, fmt)
    y0, y1, ly = _bilinear_axis(sp[0], sp[0] * size[0])
    x0, x1, lx = _bilinear_axis(sp[1], sp[1] * size[1])
    x = _channels_last(g, call.x(), dims, fmt)
    y = g.add(Bilinear(c, sp, y0, y1, ly, x0, x1, lx), x)
    return _back(g, y, (sp[0] * size[0], sp[1] * size[1]), c, fmt)
