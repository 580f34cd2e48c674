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
from ...ir import Activation, Affine, Binary, Concat, Dense, Gather, Softmax, Value
from ...ir.keras import LayerNorm, PReLU
from ...registry import qualname, register_converter
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


@_layer("Dense")
def _dense(call, g):
    layer = call.layer
    x = call.vector()
    if getattr(layer, "quantization_mode", None):
        raise UnsupportedModelError(f"{call.where()}: quantized ({layer.quantization_mode}) Dense layers "
                                    "are not supported; convert the float model")
    W = _np(layer.kernel)
    if W.ndim != 2 or W.shape[0] != x.width:
        raise ConversionError(f"{call.where()}: kernel shape {W.shape} does not fit a {x.width}-wide input")
    b = _np(layer.bias) if getattr(layer, "use_bias", True) and getattr(layer, "bias", None) is not None else None
    y = g.add(Dense(W, b), x)
    kind, params = activation_spec(getattr(layer, "activation", None), _keras2(layer), call.where())
    return add_activation(g, y, kind, params)


@_layer("Activation")
def _activation(call, g):
    kind, params = activation_spec(call.layer.activation, _keras2(call.layer), call.where())
    if kind in ("softmax", "log_softmax"):
        call.vector()
    return add_activation(g, call.x(), kind, params)


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
    alpha = _np(call.layer.alpha).reshape(-1)
    if alpha.size == 1:
        alpha = np.full(x.width, alpha[0])
    if alpha.size != x.width:
        raise UnsupportedModelError(f"{call.where()}: {alpha.size} slopes for {x.width} values "
                                    "(shared_axes on non-vector inputs are not supported)")
    return g.add(PReLU(alpha), x)


@_layer("ELU")
def _elu(call, g):
    return g.add(Activation("elu", alpha=_scalar(getattr(call.layer, "alpha", 1.0))), call.x())


@_layer("Softmax")
def _softmax_layer(call, g):
    x = call.vector()
    call.axis_last(getattr(call.layer, "axis", -1))
    return g.add(Softmax(), x)


@_layer("BatchNormalization")
def _batchnorm(call, g):
    L = call.layer
    x = call.vector()
    call.axis_last(getattr(L, "axis", -1))
    mean, var = _np(L.moving_mean), _np(L.moving_variance)
    # tf.nn.batch_normalization: inv = rsqrt(var + eps) * gamma; x * inv + (beta - mean * inv)
    inv = 1.0 / np.sqrt(var + float(L.epsilon))
    if getattr(L, "scale", True) and getattr(L, "gamma", None) is not None:
        inv = inv * _np(L.gamma)
    beta = _np(L.beta) if getattr(L, "center", True) and getattr(L, "beta", None) is not None else 0.0
    return g.add(Affine(x.width, mul=inv, add=beta - mean * inv), x)


@_layer("LayerNormalization")
def _layernorm(call, g):
    L = call.layer
    x = call.vector()
    call.axis_last(getattr(L, "axis", -1))
    gamma = _np(L.gamma) if getattr(L, "scale", True) and getattr(L, "gamma", None) is not None else None
    beta = _np(L.beta) if getattr(L, "center", True) and getattr(L, "beta", None) is not None else None
    return g.add(LayerNorm(x.width, float(L.epsilon), gamma, beta, rms=bool(getattr(L, "rms_scaling", False))), x)


@_layer("Rescaling")
def _rescaling(call, g):
    x = call.x()
    scale, offset = _np(call.layer.scale).reshape(-1), _np(call.layer.offset).reshape(-1)
    for a, nm in ((scale, "scale"), (offset, "offset")):
        if a.size not in (1, x.width):
            raise UnsupportedModelError(f"{call.where()}: {nm} of shape {a.shape} for {x.width} values")
    return g.add(Affine(x.width, mul=scale, add=offset), x)


@_layer("Normalization")
def _normalization(call, g):
    L = call.layer
    x = call.vector()
    call.axis_last(getattr(L, "axis", -1))
    mean, var = _np(L.mean).reshape(-1), _np(L.variance).reshape(-1)
    # Keras: (x - mean) / max(sqrt(var), epsilon); invert: mean + x * max(sqrt(var), epsilon)
    sd = np.maximum(np.sqrt(var.astype(np.float32)).astype(np.float64), 1e-7)
    if getattr(L, "invert", False):
        return g.add(Affine(x.width, mul=sd, add=mean), x)
    return g.add(Affine(x.width, sub=mean, div=sd), x)


_MERGE = {"Add": "add", "Subtract": "sub", "Multiply": "mul", "Average": "avg", "Maximum": "max",
          "Minimum": "min"}


@_layer(*_MERGE)
def _merge(call, g):
    if len({v.width for v in call.vals}) != 1:
        raise UnsupportedModelError(f"{call.where()}: inputs of different widths "
                                    f"{[s for s in call.in_shapes]} (broadcasting is not supported)")
    if len(call.vals) == 1:
        return call.vals[0]
    return g.add(Binary(_MERGE[type(call.layer).__name__]), *call.vals)


@_layer("Concatenate")
def _concatenate(call, g):
    for s in call.in_shapes:
        if len(s) != 2:
            raise UnsupportedModelError(f"{call.where()}: concatenating non-vector inputs {call.in_shapes}")
    ax = getattr(call.layer, "axis", -1)
    if ax not in (-1, 1):
        raise UnsupportedModelError(f"{call.where()}: axis={ax} (only the last axis is supported)")
    return g.add(Concat(), *call.vals)


# -- Keras 3 operations (x + y, keras.ops.relu(x), ...) and tf_keras TFOpLambda --


def _operands(call):
    """Tensor operands as Values and constant operands as float arrays, in order."""
    vals = iter(call.vals)
    out = []
    for a in call.args:
        if _is_tensor(a):
            out.append(next(vals))
        elif isinstance(a, (int, float, np.ndarray, np.floating, np.integer)):
            out.append(np.asarray(a, dtype=np.float64).reshape(-1))
        else:
            raise UnsupportedModelError(f"{call.where()}: unsupported operand {a!r}")
    return out


def _binary_op(call, g, kind):
    ops = _operands(call)
    if len(ops) != 2:
        raise UnsupportedModelError(f"{call.where()}: expected two operands")
    a, b = ops
    if isinstance(a, Value) and isinstance(b, Value):
        if a.width != b.width:
            raise UnsupportedModelError(f"{call.where()}: broadcasting between {call.in_shapes} is not supported")
        return g.add(Binary(kind), a, b)
    if isinstance(a, Value) and isinstance(b, np.ndarray):
        x, c, first = a, b, True
    elif isinstance(b, Value) and isinstance(a, np.ndarray):
        x, c, first = b, a, False
    else:
        raise UnsupportedModelError(f"{call.where()}: constant expression")
    if c.size not in (1, x.width):
        raise UnsupportedModelError(f"{call.where()}: constant of {c.size} values for {x.width}")
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
    x = call.vector()
    call.axis_last(getattr(call.layer, "axis", -1))
    return g.add(Softmax(log=type(call.layer).__name__ == "LogSoftmax"), x)


@_op("Reshape", "Flatten")
def _op_reshape(call, g):
    return call.x()


@_op("Concatenate")
def _op_concat(call, g):
    return _concatenate(call, g)


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
