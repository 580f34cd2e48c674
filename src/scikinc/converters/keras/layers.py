"""Converters of the built-in Keras layers and ops: ``fn(call, g) -> Value``.

Each is registered in the public registry under ``keras.layers.NAME`` or
``keras.ops.NAME`` (NAME: the class name, the same in Keras 3 and tf_keras),
so a user's ``@scikinc.register_converter("keras.layers.Dense")`` replaces it.
``call`` (:class:`~.graph._Call`) holds the layer, its input Values and the
Keras shapes.
"""
from __future__ import annotations

import functools

import numpy as np

from ...errors import ConversionError, UnsupportedModelError
from ...ir import Activation, Affine, Binary, Clip, Concat, Dense, Gather, Softmax, Value
from ...ir.keras import Embedding, LayerNorm, PositionDense, PositionSoftmax, PReLU
from ...registry import qualname, register_converter
from . import shapes as S
from .activations import _relu_spec, activation_spec, add_activation
from .graph import _HOWTO, _is_tensor, _keras2

# ---------------------------------------------------------------------------
# Numbers out of Keras variables
# ---------------------------------------------------------------------------


def _np(v) -> np.ndarray | None:
    if v is None:
        return None
    if hasattr(v, "numpy"):
        v = v.numpy()
    return np.asarray(v, dtype=np.float64)


def _scalar(v) -> float:
    a = np.asarray(_np(v), dtype=np.float64).reshape(-1)
    if a.size != 1:
        raise ConversionError(f"expected a scalar, got {a.size} values")
    return float(a[0])


# ---------------------------------------------------------------------------
# Layer converters: fn(call, g) -> Value
# ---------------------------------------------------------------------------

def _register(kind: str, names, fn):
    """Register ``fn(call, g)`` as the converter of Keras layer/op classes
    ``names`` (public registry, key ``keras.<kind>.<name>``)."""
    def forward(layer, g, x, ctx):
        return fn(ctx.layer_call, g)

    forward.__module__ = fn.__module__
    for n in names:
        register_converter(f"keras.{kind}.{n}", layer=True)(forward)


def _layer(*names):
    def deco(fn):
        _register("layers", names, fn)
        return fn
    return deco


def _op(*names):
    def deco(fn):
        _register("ops", names, fn)
        return fn
    return deco


@_layer("InputLayer", "Dropout", "SpatialDropout1D", "SpatialDropout2D", "SpatialDropout3D",
        "GaussianNoise", "GaussianDropout", "AlphaDropout", "ActivityRegularization", "Identity",
        "Reshape")
def _identity(call, g):
    return call.x()


def flatten_order(shape: tuple, data_format: str | None) -> np.ndarray | None:
    """Where Flatten takes each output value from, in the row-major input of
    ``shape`` (batch first); None when it is the identity.  With
    ``data_format="channels_first"`` Keras moves the channel axis last before
    flattening, so its output is the (d1, ..., c) order of the input."""
    dims = tuple(int(d) for d in shape[1:])
    if data_format != "channels_first" or len(dims) < 2:
        return None
    idx = np.arange(int(np.prod(dims))).reshape(dims)
    return np.moveaxis(idx, 0, -1).reshape(-1)


@_layer("Flatten")
def _flatten(call, g):
    x = call.x()
    fmt = getattr(call.layer, "data_format", None)
    if fmt not in (None, "channels_last", "channels_first"):
        raise UnsupportedModelError(f"{call.where()}: data_format={fmt!r}")
    if any(d is None for d in call.in_shapes[0][1:]):
        raise UnsupportedModelError(f"{call.where()}: input shape {call.in_shapes[0]} has unknown dimensions")
    order = flatten_order(call.in_shapes[0], fmt)
    return x if order is None else g.add(Gather(order), x)


def dense(call, g, layer, x: Value, dims) -> Value:
    """Keras' Dense on a tensor of shape ``dims``: the kernel applied along the
    last axis at every position (one PositionDense op holding the weights once)."""
    if getattr(layer, "quantization_mode", None):
        raise UnsupportedModelError(f"{call.where()}: quantized ({layer.quantization_mode}) Dense layers "
                                    "are not supported; convert the float model")
    W = np.asarray(_np(layer.kernel))
    n_in = dims[-1] if dims else 1
    if W.ndim != 2 or W.shape[0] != n_in:
        raise ConversionError(f"{call.where()}: kernel shape {W.shape} does not fit an input of shape {dims}")
    b = _np(layer.bias) if getattr(layer, "use_bias", True) and getattr(layer, "bias", None) is not None else None
    n_pos = x.width // n_in
    y = g.add(Dense(W, b) if n_pos == 1 else PositionDense(W, b, n_pos), x)
    kind, params = activation_spec(getattr(layer, "activation", None), _keras2(layer), call.where())
    return add_activation(g, y, kind, params, group=W.shape[1])


@_layer("Dense")
def _dense(call, g):
    return dense(call, g, call.layer, call.x(), call.in_dims[0])


@_layer("Activation")
def _activation(call, g):
    kind, params = activation_spec(call.layer.activation, _keras2(call.layer), call.where())
    dims = call.in_dims[0]
    return add_activation(g, call.x(), kind, params, group=dims[-1] if dims else 1)


def softmax(call, g, x: Value, dims, axes, log: bool = False) -> Value:
    """(Log-)softmax over ``axes`` (indices into the batch-dropped ``dims``)."""
    perm, inv = S.to_last(dims, axes)
    n = S.size([dims[a] for a in sorted(set(axes))])
    y = S.permute(g, x, dims, perm)
    y = g.add(Softmax(log=log) if n == x.width else PositionSoftmax(x.width // n, n, log), y)
    return S.permute(g, y, [dims[p] for p in perm], inv)


def _axes(call, axis) -> list[int]:
    if isinstance(axis, (list, tuple)):
        return [call.axis(a) for a in axis]
    return [call.axis(axis)]


@_layer("ReLU")
def _relu(call, g):
    L = call.layer
    mx = getattr(L, "max_value", None)
    mx = None if mx is None else _scalar(mx)
    slope = _scalar(getattr(L, "negative_slope", 0.0) or 0.0)
    th = _scalar(getattr(L, "threshold", 0.0) or 0.0)
    kind, params = _relu_spec(slope, mx, th)
    return add_activation(g, call.x(), kind, params)


@_layer("LeakyReLU")
def _leaky(call, g):
    L = call.layer
    a = getattr(L, "negative_slope", None)
    if a is None:
        a = L.alpha  # Keras 2
    return g.add(Activation("leaky_relu", alpha=_scalar(a)), call.x())


@_layer("PReLU")
def _prelu(call, g):
    x = call.x()
    alpha = S.full(_np(call.layer.alpha), call.in_dims[0], call.where(), "alpha")
    return g.add(PReLU(alpha), x)


@_layer("ELU")
def _elu(call, g):
    return g.add(Activation("elu", alpha=_scalar(getattr(call.layer, "alpha", 1.0))), call.x())


@_layer("Softmax")
def _softmax_layer(call, g):
    return softmax(call, g, call.x(), call.in_dims[0], _axes(call, getattr(call.layer, "axis", -1)))


@_layer("BatchNormalization")
def _batchnorm(call, g):
    L = call.layer
    x, dims = call.x(), call.in_dims[0]
    axis = _axes(call, getattr(L, "axis", -1))
    if len(axis) != 1:
        raise UnsupportedModelError(f"{call.where()}: axis={L.axis} (one axis expected)")
    mean, var = _np(L.moving_mean), _np(L.moving_variance)
    # tf.nn.batch_normalization: inv = rsqrt(var + eps) * gamma; x * inv + (beta - mean * inv)
    inv = 1.0 / np.sqrt(var + float(L.epsilon))
    if getattr(L, "scale", True) and getattr(L, "gamma", None) is not None:
        inv = inv * _np(L.gamma)
    beta = _np(L.beta) if getattr(L, "center", True) and getattr(L, "beta", None) is not None else 0.0
    shift = beta - mean * inv
    return g.add(Affine(x.width, mul=S.along(inv, dims, axis[0]), add=S.along(shift, dims, axis[0])), x)


@_layer("LayerNormalization")
def _layernorm(call, g):
    L = call.layer
    x, dims = call.x(), call.in_dims[0]
    axes = sorted(set(_axes(call, getattr(L, "axis", -1))))
    perm, inv = S.to_last(dims, axes)
    n = S.size([dims[a] for a in axes])
    gamma = _np(L.gamma) if getattr(L, "scale", True) and getattr(L, "gamma", None) is not None else None
    beta = _np(L.beta) if getattr(L, "center", True) and getattr(L, "beta", None) is not None else None
    y = S.permute(g, x, dims, perm)
    y = g.add(LayerNorm(n, float(L.epsilon), gamma, beta, rms=bool(getattr(L, "rms_scaling", False)),
                        n_pos=x.width // n), y)
    return S.permute(g, y, [dims[p] for p in perm], inv)


@_layer("Rescaling")
def _rescaling(call, g):
    x, dims = call.x(), call.in_dims[0]
    scale = S.full(_np(call.layer.scale), dims, call.where(), "scale")
    offset = S.full(_np(call.layer.offset), dims, call.where(), "offset")
    return g.add(Affine(x.width, mul=scale, add=offset), x)


@_layer("Normalization")
def _normalization(call, g):
    L = call.layer
    x, dims = call.x(), call.in_dims[0]
    bshape = getattr(L, "_broadcast_shape", None)
    mean, var = _np(L.mean), _np(L.variance)
    if bshape is not None:
        bshape = [1 if d is None else int(d) for d in bshape]
        mean, var = mean.reshape(bshape), var.reshape(bshape)
    mean = S.full(mean, dims, call.where(), "mean")
    var = S.full(var, dims, call.where(), "variance")
    # Keras: (x - mean) / max(sqrt(var), epsilon); invert: mean + x * max(sqrt(var), epsilon)
    sd = np.maximum(np.sqrt(var.astype(np.float32)).astype(np.float64), 1e-7)
    if getattr(L, "invert", False):
        return g.add(Affine(x.width, mul=sd, add=mean), x)
    return g.add(Affine(x.width, sub=mean, div=sd), x)


_MERGE = {"Add": "add", "Subtract": "sub", "Multiply": "mul", "Average": "avg", "Maximum": "max",
          "Minimum": "min"}


@_layer(*_MERGE)
def _merge(call, g):
    if len(call.vals) == 1:
        return call.vals[0]
    out = call.out_dims
    vals = [S.broadcast(g, v, d, out, call.where()) for v, d in zip(call.vals, call.in_dims, strict=True)]
    return g.add(Binary(_MERGE[type(call.layer).__name__]), *vals)


def concatenate(call, g, vals, dims, axis) -> Value:
    """Concatenation along ``axis`` (Keras numbering, batch = 0): one Concat,
    then the Gather interleaving the parts (none for the first inner axis)."""
    rank = len(dims[0]) + 1
    a = call.axis(axis, rank)
    if len(vals) == 1:
        return vals[0]
    if a == 0 or all(S.size(d[:a]) == 1 for d in dims):
        return g.add(Concat(), *vals)
    idx, off = [], 0
    for d in dims:
        idx.append(off + S.index(d))
        off += S.size(d)
    return S.gather(g, g.add(Concat(), *vals), np.concatenate(idx, axis=a))


@_layer("Concatenate")
def _concatenate(call, g):
    return concatenate(call, g, call.vals, call.in_dims, getattr(call.layer, "axis", -1))


@_layer("Embedding")
def _embedding(call, g):
    L = call.layer
    if getattr(L, "quantization_mode", None):
        raise UnsupportedModelError(f"{call.where()}: quantized ({L.quantization_mode}) Embedding layers "
                                    "are not supported; convert the float model")
    return g.add(Embedding(np.asarray(_np(L.embeddings))), call.x())


@_layer("Permute")
def _permute(call, g):
    perm = [int(d) - 1 for d in call.layer.dims]
    return S.permute(g, call.x(), call.in_dims[0], perm)


@_layer("RepeatVector")
def _repeat_vector(call, g):
    (n,) = call.in_dims[0]
    return S.gather(g, call.x(), np.tile(np.arange(n), int(call.layer.n)))


@_layer("TimeDistributed")
def _time_distributed(call, g):
    """The inner layer at every index of axis 1: a Dense (or a layer acting
    on the last axis only) once on the whole tensor; any other layer converted
    per slice."""
    from .graph import _apply, _Call

    inner = call.layer.layer
    dims = call.in_dims[0]
    if type(inner).__name__ == "Dense":
        return dense(call, g, inner, call.x(), dims)
    x = call.x()
    step = S.size(dims[1:])
    out_dims = call.out_dims
    parts = []
    for t in range(dims[0]):
        xt = S.gather(g, x, np.arange(t * step, (t + 1) * step))
        sub = _Call(inner, None, [xt], [(None, *dims[1:])], (None, *out_dims[1:]), call.model, call.ctx, g,
                    out_shapes=[(None, *out_dims[1:])])
        with g.scope(f"{getattr(inner, 'name', 'inner')}_{t}"):
            prev = call.ctx.layer_call
            try:
                y = _apply(sub, [])
            finally:
                call.ctx.layer_call = prev
        y = y[0] if isinstance(y, list) else y
        if not isinstance(y, Value) or y.width != S.size(out_dims[1:]):
            raise ConversionError(f"{call.where()}: the inner layer gave {getattr(y, 'width', y)} values "
                                  f"for a slice of shape {tuple(out_dims[1:])}")
        parts.append(y)
    return parts[0] if len(parts) == 1 else g.add(Concat(), *parts)


# -- Keras 3 operations (x + y, keras.ops.relu(x), ...) and tf_keras TFOpLambda --


def _operands(call):
    """Tensor operands as Values and constant operands as float arrays, in order."""
    vals = iter(call.vals)
    out = []
    for a in call.args:
        if _is_tensor(a):
            out.append(next(vals))
        elif isinstance(a, (int, float, np.ndarray, np.floating, np.integer)):
            out.append(np.asarray(a, dtype=np.float64))
        else:
            raise UnsupportedModelError(f"{call.where()}: unsupported operand {a!r}")
    return out


def _binary_op(call, g, kind):
    ops = _operands(call)
    if len(ops) != 2:
        raise UnsupportedModelError(f"{call.where()}: expected two operands")
    a, b = ops
    if isinstance(a, Value) and isinstance(b, Value):
        if len({len(s) for s in call.in_shapes}) != 1:
            # numpy rules align the batch axis of one with an inner axis of the other
            raise UnsupportedModelError(f"{call.where()}: broadcasting between tensors of different ranks "
                                        f"{call.in_shapes} is not supported")
        out = call.out_dims
        a, b = (S.broadcast(g, v, d, out, call.where()) for v, d in zip((a, b), call.in_dims, strict=True))
        return g.add(Binary(kind), a, b)
    if isinstance(a, Value) and isinstance(b, np.ndarray):
        x, c, first = a, b, True
    elif isinstance(b, Value) and isinstance(a, np.ndarray):
        x, c, first = b, a, False
    else:
        raise UnsupportedModelError(f"{call.where()}: constant expression")
    if call.out_dims != call.in_dims[0]:
        raise UnsupportedModelError(f"{call.where()}: the constant operand broadcasts the tensor "
                                    f"{call.in_shapes[0]} to {call.out_shape}")
    c = S.full(c, call.in_dims[0], call.where(), "constant operand")
    if kind == "add":
        return g.add(Affine(x.width, add=c), x)
    if kind == "mul":
        return g.add(Affine(x.width, mul=c), x)
    if kind == "sub":
        if first:  # x - c
            return g.add(Affine(x.width, sub=c), x)
        # c - x
        return g.add(Affine(x.width, mul=-1.0, add=c), x)
    if kind == "div" and first:
        return g.add(Affine(x.width, div=c), x)
    if kind == "max":  # NaN passes through, as tf.maximum's
        return g.add(Clip(x.width, c, np.inf), x)
    if kind == "min":
        return g.add(Clip(x.width, -np.inf, c), x)
    raise UnsupportedModelError(f"{call.where()}: {kind} with a constant operand in this position")


for _n, _k in (("Add", "add"), ("Subtract", "sub"), ("Multiply", "mul"), ("Divide", "div"),
               ("TrueDivide", "div"), ("Maximum", "max"), ("Minimum", "min")):
    _op(_n)(functools.partial(lambda call, g, k: _binary_op(call, g, k), k=_k))

_OP_ACTS = {"Relu": "relu", "Relu6": "relu6", "Sigmoid": "sigmoid", "Tanh": "tanh", "Exp": "exp",
            "Softplus": "softplus", "Softsign": "softsign", "Silu": "silu", "Swish": "silu",
            "Mish": "mish", "HardSigmoid": "hard_sigmoid", "HardSilu": "hard_silu",
            "HardSwish": "hard_silu", "Selu": "selu", "Abs": "abs", "Absolute": "abs",
            "Negative": "negative", "Square": "square", "Sqrt": "sqrt", "Log": "log",
            "HardTanh": "hard_tanh", "LogSigmoid": "log_sigmoid"}


def _op_act(call, g):
    name = type(call.layer).__name__
    kind = _OP_ACTS[name]
    return g.add(Activation(kind), call.x())


_op(*_OP_ACTS)(_op_act)


@_op("LeakyRelu")
def _op_leaky(call, g):
    return g.add(Activation("leaky_relu", alpha=float(getattr(call.layer, "negative_slope", 0.2))), call.x())


@_op("Elu", "Celu")
def _op_elu(call, g):
    kind = type(call.layer).__name__.lower()
    return g.add(Activation(kind, alpha=float(getattr(call.layer, "alpha", 1.0))), call.x())


@_op("Gelu")
def _op_gelu(call, g):
    return g.add(Activation("gelu_tanh" if getattr(call.layer, "approximate", True) else "gelu"), call.x())


@_op("Softmax", "LogSoftmax")
def _op_softmax(call, g):
    return softmax(call, g, call.x(), call.in_dims[0], _axes(call, getattr(call.layer, "axis", -1)),
                   log=type(call.layer).__name__ == "LogSoftmax")


@_op("Reshape", "Flatten", "ExpandDims", "Squeeze")
def _op_reshape(call, g):
    return call.x()


@_op("Transpose")
def _op_transpose(call, g):
    axes = getattr(call.layer, "axes", None)
    rank = len(call.in_shapes[0])
    if axes is None:
        axes = list(range(rank))[::-1]
    axes = [int(a) + rank if int(a) < 0 else int(a) for a in axes]
    if axes[0] != 0:
        raise UnsupportedModelError(f"{call.where()}: transposing the batch axis (axes={axes})")
    return S.permute(g, call.x(), call.in_dims[0], [a - 1 for a in axes[1:]])


@_op("Concatenate")
def _op_concat(call, g):
    return concatenate(call, g, call.vals, call.in_dims, getattr(call.layer, "axis", -1))


TF_OPS = {"__operators__.add": "add", "math.add": "add", "math.subtract": "sub", "math.multiply": "mul",
           "math.truediv": "div", "math.divide": "div", "math.maximum": "max", "math.minimum": "min",
           "nn.relu": "relu", "nn.relu6": "relu6", "math.sigmoid": "sigmoid", "nn.sigmoid": "sigmoid",
           "math.tanh": "tanh", "nn.tanh": "tanh", "math.exp": "exp", "nn.softplus": "softplus",
           "math.softplus": "softplus", "nn.silu": "silu", "nn.swish": "silu", "nn.elu": "elu",
           "nn.selu": "selu", "nn.softsign": "softsign", "math.abs": "abs", "math.negative": "negative"}


@_layer("TFOpLambda")
def _tf_op(call, g):
    sym = getattr(call.layer, "symbol", "")
    kind = TF_OPS.get(sym)
    if kind is None:
        raise UnsupportedModelError(
            f"cannot convert {call.where()}: TensorFlow op tf.{sym} is not supported; supported: "
            f"{', '.join('tf.' + s for s in sorted(TF_OPS))}.\n"
            + _HOWTO.format(cls=qualname(type(call.layer)), fn="tfoplambda"))
    if kind in ("add", "sub", "mul", "div", "max", "min"):
        return _binary_op(call, g, kind)
    params = {"alpha": 1.0} if kind == "elu" else {}
    return g.add(Activation(kind, **params), call.x())
