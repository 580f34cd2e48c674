"""Keras models: ``Sequential`` and functional ``Model`` graphs (Keras 3 and
tf.keras / tf_keras 2).

Nothing here imports Keras or TensorFlow: the converters are registered by
qualified class name and read layers through their attributes, so that
scikit-learn-only users never pay for (or need) TensorFlow.

The layer graph is walked from the model output back to its single input
(``KerasHistory`` -> node -> input tensors); every layer becomes one or a few
IR ops; nested models are walked recursively (flattened).  After the walk,
BatchNormalization-like affine maps are folded into neighbouring Dense
layers and ``Dense -> activation [-> + residual]`` chains are fused into one
:class:`~scikinc.ir.keras.DenseAct` op whose epilogue runs on registers.
"""
from __future__ import annotations

import functools
import inspect
import sys
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np

from ..errors import ConversionError, UnsupportedModelError
from ..ir import Activation, Affine, Binary, Concat, Dense, Graph, Op, Softmax, Value
from ..ir.keras import DenseAct, LayerNorm, PReLU
from ..passes import absorb_affine, fold_affine_into_dense
from ..registry import qualname, register_converter

# ---------------------------------------------------------------------------
# Model classes (by qualified name: importing Keras costs seconds)
# ---------------------------------------------------------------------------

KERAS3_MODELS = (
    "keras.src.models.sequential.Sequential",
    "keras.src.models.functional.Functional",
    "keras.src.models.model.Model",
)
TF_KERAS_MODELS = (
    # tf_keras (pip install tf-keras; what tf.keras is with TF_USE_LEGACY_KERAS=1)
    "tf_keras.src.engine.sequential.Sequential",
    "tf_keras.src.engine.functional.Functional",
    "tf_keras.src.engine.training.Model",
    # Keras 2.13-2.15 (TensorFlow <= 2.15)
    "keras.src.engine.sequential.Sequential",
    "keras.src.engine.functional.Functional",
    "keras.src.engine.training.Model",
    # Keras 2.6-2.12
    "keras.engine.sequential.Sequential",
    "keras.engine.functional.Functional",
    "keras.engine.training.Model",
)
MODEL_CLASSES = KERAS3_MODELS + TF_KERAS_MODELS

_HOWTO = (
    "To convert it anyway, register a converter for its class before converting:\n"
    "    @scikinc.register_converter(\"{cls}\")\n"
    "    def convert_{fn}(layer, g, x, ctx):\n"
    "        # append IR ops (scikinc.ir: Dense, Affine, Activation, ...) reading x\n"
    "        return g.add(scikinc.ir.Activation(\"tanh\"), x)\n"
    "(see 'Custom converters' in the README)."
)


def _is_model(obj) -> bool:
    return any(qualname(c) in MODEL_CLASSES for c in type(obj).__mro__)


def _keras2(obj) -> bool:
    """True for tf_keras / Keras 2 objects (their activations differ a little)."""
    mod = type(obj).__module__
    if mod.startswith("tf_keras"):
        return True
    if mod.startswith("keras."):
        k = sys.modules.get("keras")
        ver = getattr(k, "__version__", "3")
        return ver.split(".")[0] in ("2", "1")
    return False


def _shape(t) -> tuple:
    s = t.shape
    if hasattr(s, "as_list"):
        try:
            s = s.as_list()
        except ValueError:
            return ()
    return tuple(s)


def _width(shape: tuple, what: str) -> int:
    dims = shape[1:]
    if any(d is None for d in dims):
        raise ConversionError(f"{what}: shape {shape} has unknown dimensions; give the Input a fixed shape")
    return int(np.prod(dims)) if dims else 1


def _io(model):
    ins = getattr(model, "inputs", None)
    outs = getattr(model, "outputs", None)
    if not ins or not outs:
        if not getattr(model, "built", True) or ins is None:
            raise ConversionError(
                f"Keras model {getattr(model, 'name', '?')!r} ({qualname(type(model))}) has no input "
                "shape: build it first (keras.Input(shape=...) as first layer, or model.build((None, n)))"
                " -- subclassed models with a custom call() cannot be converted; rebuild them as a "
                "Sequential or functional model")
    if len(ins) != 1:
        raise UnsupportedModelError(
            f"Keras model {model.name!r} has {len(ins)} inputs; scikinc converts models with exactly "
            "one input (concatenate your inputs into one vector)")
    if len(outs) != 1:
        raise UnsupportedModelError(
            f"Keras model {model.name!r} has {len(outs)} outputs; scikinc converts models with exactly "
            "one output (convert one keras.Model(inputs, output) per output, or Concatenate them)")
    return ins[0], outs[0]


def keras_n_inputs(model) -> int:
    inp, _ = _io(model)
    return _width(_shape(inp), f"input of Keras model {model.name!r}")


# ---------------------------------------------------------------------------
# Numbers out of Keras variables
# ---------------------------------------------------------------------------


def _np(v) -> np.ndarray:
    if v is None:
        return None
    if hasattr(v, "numpy"):
        v = v.numpy()
    return np.asarray(v, dtype=np.float64)


def _scalar(v) -> float:
    a = _np(v).reshape(-1)
    if a.size != 1:
        raise ValueError("expected a scalar")
    return float(a[0])


# ---------------------------------------------------------------------------
# Activations
# ---------------------------------------------------------------------------

#: activation-function name -> Activation kind (params filled from defaults)
_ACT_NAMES = {
    "linear": "linear", "identity": "linear",
    "relu": "relu", "relu6": "relu6", "leaky_relu": "leaky_relu",
    "elu": "elu", "selu": "selu", "celu": "celu", "gelu": "gelu",
    "sigmoid": "sigmoid", "hard_sigmoid": "hard_sigmoid",
    "hard_silu": "hard_silu", "hard_swish": "hard_silu",
    "silu": "silu", "swish": "silu", "mish": "mish",
    "softplus": "softplus", "softsign": "softsign", "tanh": "tanh",
    "exponential": "exp", "exp": "exp", "hard_tanh": "hard_tanh", "log_sigmoid": "log_sigmoid",
    "softmax": "softmax", "log_softmax": "log_softmax",
}

#: activations that the dense epilogue computes on registers (cheap, no libm)
FUSABLE = {"linear", "relu", "relu6", "leaky_relu", "hard_sigmoid", "hard_sigmoid_k2", "hard_silu",
           "hard_tanh"}


def _defaults(fn) -> dict:
    try:
        sig = inspect.signature(fn)
    except (TypeError, ValueError):
        return {}
    return {k: p.default for k, p in sig.parameters.items() if p.default is not inspect.Parameter.empty}


def activation_spec(fn, keras2: bool = False, where: str = "activation"):
    """``(kind, params)`` of a Keras activation function (or name)."""
    kw: dict = {}
    if isinstance(fn, str):
        name = fn
    elif fn is None:
        return "linear", {}
    else:
        if isinstance(fn, functools.partial):
            kw = dict(fn.keywords or {})
            fn = fn.func
        name = getattr(fn, "__name__", None)
        mod = getattr(fn, "__module__", "") or ""
        if mod.startswith("tf_keras"):
            keras2 = True
        kw = {**_defaults(fn), **kw}
    if name not in _ACT_NAMES:
        raise UnsupportedModelError(
            f"{where}: activation {name or fn!r} is not supported by scikinc; supported: "
            f"{', '.join(sorted(_ACT_NAMES))} (custom activations need a custom layer with a "
            "registered converter)")
    kind = _ACT_NAMES[name]
    params: dict = {}
    if kind == "relu":
        slope = float(kw.get("negative_slope", kw.get("alpha", 0.0)) or 0.0)
        mx, th = kw.get("max_value"), float(kw.get("threshold", 0.0) or 0.0)
        return _relu_spec(slope, None if mx is None else float(mx), th)
    if kind == "leaky_relu":
        params["alpha"] = float(kw.get("negative_slope", kw.get("alpha", 0.2)))
    elif kind in ("elu", "celu"):
        params["alpha"] = float(kw.get("alpha", 1.0))
    elif kind == "gelu":
        if kw.get("approximate", False):
            kind = "gelu_tanh"
    elif kind == "hard_sigmoid" and keras2:
        kind = "hard_sigmoid_k2"
    elif kind == "hard_silu" and keras2:
        raise UnsupportedModelError(f"{where}: hard_silu of Keras 2 is not supported")
    elif kind in ("softmax", "log_softmax"):
        axis = kw.get("axis", -1)
        if axis not in (-1, 1, (-1,), [-1]):
            raise UnsupportedModelError(f"{where}: {kind} over axis {axis} (only the last axis is supported)")
    return kind, params


def _relu_spec(slope: float, max_value, threshold: float):
    if max_value is None and threshold == 0:
        return ("relu", {}) if slope == 0 else ("leaky_relu", {"alpha": slope})
    if max_value == 6 and threshold == 0 and slope == 0:
        return "relu6", {}
    return "relu_full", {"max_value": max_value, "negative_slope": slope, "threshold": threshold}


def add_activation(g: Graph, x: Value, kind: str, params: dict) -> Value:
    if kind == "linear":
        return x
    if kind in ("softmax", "log_softmax"):
        return g.add(Softmax(log=kind == "log_softmax"), x)
    return g.add(Activation(kind, **params), x)


# ---------------------------------------------------------------------------
# Walking the layer graph
# ---------------------------------------------------------------------------


@dataclass
class _Call:
    """One layer call: what a layer converter sees."""

    layer: Any
    node: Any
    vals: list  # input Values
    in_shapes: list  # Keras shapes (batch first) of the inputs
    out_shape: tuple
    model: Any  # the (sub-)model being walked
    ctx: Any
    g: Graph = None
    args: tuple = ()
    kwargs: dict = field(default_factory=dict)

    @property
    def name(self) -> str:
        return getattr(self.layer, "name", "?")

    def where(self) -> str:
        return f"layer {self.name!r} ({qualname(type(self.layer))}) of Keras model {getattr(self.model, 'name', '?')!r}"

    def x(self) -> Value:
        if len(self.vals) != 1:
            raise UnsupportedModelError(f"{self.where()}: expected one input, got {len(self.vals)}")
        return self.vals[0]

    def vector(self) -> Value:
        """The single input, which must be a plain vector (batch, n)."""
        x = self.x()
        if len(self.in_shapes[0]) != 2:
            raise UnsupportedModelError(
                f"{self.where()}: input shape {self.in_shapes[0]}: scikinc converts layers acting on "
                "vectors (batch, features) only; Flatten before this layer")
        return x

    def axis_last(self, axis) -> None:
        if isinstance(axis, (list, tuple)):
            if len(axis) != 1:
                raise UnsupportedModelError(f"{self.where()}: axis={axis} (only the last axis is supported)")
            axis = axis[0]
        rank = len(self.in_shapes[0])
        if axis not in (-1, rank - 1):
            raise UnsupportedModelError(f"{self.where()}: axis={axis} (only the last axis is supported)")


def _history(t):
    h = getattr(t, "_keras_history", None)
    if h is None:
        raise ConversionError(f"tensor {t!r} has no Keras history (not produced by a Keras layer)")
    return h[0], h[1], h[2]


def _key(t):
    layer, ni, ti = _history(t)
    return id(layer), ni, ti


def _node_inputs(node) -> list:
    ins = getattr(node, "keras_inputs", None)  # tf_keras
    if ins is None:
        ins = getattr(node, "input_tensors", None)  # Keras 3
    if ins is None:
        ins = []
    if not isinstance(ins, (list, tuple)):
        ins = [ins]
    return list(ins)


def _node_args(node) -> tuple[tuple, dict]:
    a = getattr(node, "arguments", None)  # Keras 3
    if a is not None:
        return tuple(a.args), dict(a.kwargs)
    return tuple(getattr(node, "call_args", ()) or ()), dict(getattr(node, "call_kwargs", {}) or {})


def _is_tensor(a) -> bool:
    return hasattr(a, "_keras_history")


def walk(model, g: Graph, x: Value, ctx) -> Value:
    """Append the ops of Keras ``model`` reading ``x``; return the output Value."""
    inp, out = _io(model)
    n = _width(_shape(inp), f"input of Keras model {model.name!r}")
    if n != x.width:
        raise ConversionError(f"Keras model {model.name!r} expects {n} inputs but receives {x.width}")
    memo: dict = {}
    stack = [out]
    while stack:
        t = stack[-1]
        k = _key(t)
        if k in memo:
            stack.pop()
            continue
        layer, ni, ti = _history(t)
        if type(layer).__name__ == "InputLayer":
            memo[k] = x
            stack.pop()
            continue
        node = layer._inbound_nodes[ni]
        ins = _node_inputs(node)
        missing = [i for i in ins if _key(i) not in memo]
        if missing:
            stack.extend(missing)
            continue
        stack.pop()
        call = _Call(layer, node, [memo[_key(i)] for i in ins], [_shape(i) for i in ins], _shape(t),
                     model, ctx, g)
        call.args, call.kwargs = _node_args(node)
        if ti != 0:
            raise UnsupportedModelError(f"{call.where()}: layers with several outputs are not supported")
        v = _apply(call)
        w = _width(call.out_shape, call.where())
        if v.width != w:
            raise ConversionError(f"{call.where()}: produced {v.width} values, Keras says {call.out_shape}")
        memo[k] = v
    return memo[_key(out)]


def _apply(call: _Call) -> Value:
    layer = call.layer
    if _is_model(layer):
        return walk(layer, call.g, call.x(), call.ctx)
    cls = type(layer)
    # user-registered converters win (custom layers, or overriding a built-in one)
    from .. import registry

    try:
        conv = registry.lookup(layer)
    except UnsupportedModelError:
        conv = None
    if conv is not None and not conv.builtin:
        return conv.forward(layer, call.g, call.x(), call.ctx)
    mod = cls.__module__
    root = mod.split(".")[0]
    if root in ("keras", "tf_keras"):
        if ".ops." in mod + ".":
            fn = _OPS.get(cls.__name__)
        else:
            fn = _LAYERS.get(cls.__name__)
        if fn is not None:
            return fn(call, call.g)
    extra = ""
    if cls.__name__ == "Lambda":
        extra = ("Lambda layers run arbitrary Python code; rewrite it with built-in layers, or as a "
                 "Layer subclass with a registered converter.\n")
    elif cls.__name__ == "TFOpLambda":
        extra = (f"This TensorFlow op ({getattr(layer, 'symbol', '?')}) is not among the supported ones "
                 f"({', '.join(sorted(_TF_OPS))}).\n")
    raise UnsupportedModelError(
        f"cannot convert {call.where()}: scikinc has no converter for {cls.__name__} layers.\n{extra}"
        f"Supported layers: {', '.join(sorted(set(_LAYERS) - {'TFOpLambda'}))}; Keras ops: "
        f"{', '.join(sorted(_OPS))}.\n" + _HOWTO.format(cls=qualname(cls), fn=cls.__name__.lower()))


# ---------------------------------------------------------------------------
# Layer converters: fn(call, g) -> Value
# ---------------------------------------------------------------------------

_LAYERS: dict[str, Callable] = {}
_OPS: dict[str, Callable] = {}


def _layer(*names):
    def deco(fn):
        for n in names:
            _LAYERS[n] = fn
        return fn
    return deco


def _op(*names):
    def deco(fn):
        for n in names:
            _OPS[n] = fn
        return fn
    return deco


@_layer("InputLayer", "Dropout", "SpatialDropout1D", "SpatialDropout2D", "SpatialDropout3D",
        "GaussianNoise", "GaussianDropout", "AlphaDropout", "ActivityRegularization", "Identity",
        "Flatten", "Reshape")
def _identity(call, g):
    return call.x()


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
        a = getattr(L, "alpha")  # Keras 2
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
    _OPS[_n] = functools.partial(lambda call, g, k: _binary_op(call, g, k), k=_k)

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


for _n in _OP_ACTS:
    _OPS[_n] = _op_act


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


_TF_OPS = {"__operators__.add": "add", "math.add": "add", "math.subtract": "sub", "math.multiply": "mul",
           "math.truediv": "div", "math.divide": "div", "math.maximum": "max", "math.minimum": "min",
           "nn.relu": "relu", "nn.relu6": "relu6", "math.sigmoid": "sigmoid", "nn.sigmoid": "sigmoid",
           "math.tanh": "tanh", "nn.tanh": "tanh", "math.exp": "exp", "nn.softplus": "softplus",
           "math.softplus": "softplus", "nn.silu": "silu", "nn.swish": "silu", "nn.elu": "elu",
           "nn.selu": "selu", "nn.softsign": "softsign", "math.abs": "abs", "math.negative": "negative"}


@_layer("TFOpLambda")
def _tf_op(call, g):
    sym = getattr(call.layer, "symbol", "")
    kind = _TF_OPS.get(sym)
    if kind is None:
        raise UnsupportedModelError(
            f"cannot convert {call.where()}: TensorFlow op tf.{sym} is not supported; supported: "
            f"{', '.join('tf.' + s for s in sorted(_TF_OPS))}.\n"
            + _HOWTO.format(cls=qualname(type(call.layer)), fn="tfoplambda"))
    if kind in ("add", "sub", "mul", "div", "max", "min"):
        return _binary_op(call, g, kind)
    params = {"alpha": 1.0} if kind == "elu" else {}
    return g.add(Activation(kind, **params), call.x())


# ---------------------------------------------------------------------------
# Folding and fusion over the ops appended by one model conversion
# ---------------------------------------------------------------------------


def _users(g: Graph) -> dict:
    return g.consumers()


def fuse_dense(g: Graph, start: int, out: Value, *, fuse: bool = True) -> Value:
    """Fold affine maps into neighbouring Dense ops and fuse
    ``Dense -> cheap activation [-> Add]`` into DenseAct, for ops ``g.ops[start:]``.
    Returns the (possibly new) Value holding the model output."""
    changed = True
    while changed:
        changed = False
        mine = g.ops[start:]
        uses = _users(g)
        for op in mine:
            if isinstance(op, Affine) and op.inputs[0].producer is not None:
                d = op.inputs[0].producer
                if (type(d) is Dense and d in mine and d.output is not out
                        and len(uses.get(d.output, [])) == 1):
                    absorb_affine(g, d, op)
                    if out is op.output:
                        out = d.output
                    changed = True
                    break
            if isinstance(op, Affine) and op.output is not out:
                us = uses.get(op.output, [])
                if len(us) == 1 and type(us[0]) is Dense and us[0] in mine and us[0].inputs[0] is op.output:
                    fold_affine_into_dense(g, op, us[0])
                    changed = True
                    break
            if not fuse:
                continue
            # Dense -> activation
            if type(op) is Dense and op.output is not out:
                us = uses.get(op.output, [])
                if len(us) == 1 and us[0] in mine:
                    u = us[0]
                    if isinstance(u, Activation) and u.kind in FUSABLE:
                        f = DenseAct(op.W, op.b, u.kind, u.params)
                    elif isinstance(u, Binary) and u.kind == "add" and len(u.inputs) == 2 and u.inputs[0] is not u.inputs[1]:
                        r = u.inputs[1] if u.inputs[0] is op.output else u.inputs[0]
                        f = DenseAct(op.W, op.b, "linear", {}, residual=True)
                        f.inputs = [op.inputs[0], r]
                    else:
                        continue
                    if not f.residual:
                        f.inputs = [op.inputs[0]]
                    f.output = u.output
                    u.output.producer = f
                    g.ops[g.ops.index(u)] = f
                    g.ops.remove(op)
                    changed = True
                    break
            # DenseAct (no residual) -> Add
            if isinstance(op, DenseAct) and not op.residual and op.output is not out:
                us = uses.get(op.output, [])
                if len(us) == 1 and us[0] in mine:
                    u = us[0]
                    if (isinstance(u, Binary) and u.kind == "add" and len(u.inputs) == 2
                            and u.inputs[0] is not u.inputs[1]):
                        r = u.inputs[1] if u.inputs[0] is op.output else u.inputs[0]
                        op.residual = True
                        op.inputs = [op.inputs[0], r]
                        op.output = u.output
                        i_op, i_u = g.ops.index(op), g.ops.index(u)
                        g.ops[i_u] = op  # run where the add ran: r is ready there
                        del g.ops[i_op]
                        changed = True
                        break
    for op in g.ops[start:]:
        op.output.producer = op
    return out


# ---------------------------------------------------------------------------
# The registered converter
# ---------------------------------------------------------------------------

_NOTES = ("Sequential and functional graphs (one input, one output; Add/Concatenate/... DAGs, nested "
          "models flattened); Keras 3 and tf.keras; see the Keras layer table. Options: "
          "keras_fuse (default True)")


def convert_keras(model, g: Graph, x: Value, ctx) -> Value:
    start = len(g.ops)
    out = walk(model, g, x, ctx)
    return fuse_dense(g, start, out, fuse=bool(ctx.option("keras_fuse", True)))


for _cls in MODEL_CLASSES:
    register_converter(_cls, n_inputs=keras_n_inputs, notes=_NOTES)(convert_keras)
