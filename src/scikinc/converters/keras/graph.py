"""Walking a Keras layer graph into IR ops.

The graph is walked from the model output back to its single input
(``KerasHistory`` -> node -> input tensors); every layer call is converted by
the converter registered for it (:mod:`scikinc.registry`); nested models are
walked recursively (flattened).
"""
from __future__ import annotations

import sys
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ... import registry
from ...errors import ConversionError, UnsupportedModelError
from ...ir import Graph, Value
from ...registry import qualname

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


def builtin_key(cls) -> str:
    """Registry key of the built-in converter of a Keras layer or op class:
    ``keras.layers.Dense``, ``keras.ops.Relu`` (the same for Keras 3 and tf_keras)."""
    kind = "ops" if ".ops." in cls.__module__ + "." else "layers"
    return f"keras.{kind}.{cls.__name__}"


def supported_layers(kind: str) -> list[str]:
    """Class names with a built-in converter: ``kind`` is "layers" or "ops"."""
    prefix = f"keras.{kind}."
    return sorted(e.key[len(prefix):] for e in registry.supported(layers=True) if e.key.startswith(prefix))


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
    g: Any = None  # the Graph being built
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
        with g.scope(call.name):
            v = _apply(call)
        if not isinstance(v, Value):
            raise ConversionError(f"{call.where()}: the converter returned {type(v).__name__}, not a scikinc.ir.Value")
        w = _width(call.out_shape, call.where())
        if v.width != w:
            raise ConversionError(f"{call.where()}: produced {v.width} values, Keras says {call.out_shape}")
        memo[k] = v
    return memo[_key(out)]


def _apply(call: _Call) -> Value:
    """Convert one layer call: nested models recursively, then a converter
    registered for the layer's class (a user's), then the built-in converter
    registered under ``keras.layers.NAME`` / ``keras.ops.NAME``."""
    layer = call.layer
    if _is_model(layer):
        return walk(layer, call.g, call.x(), call.ctx)
    cls = type(layer)
    conv = registry.find(layer)
    if conv is None and cls.__module__.split(".")[0] in ("keras", "tf_keras"):
        conv = registry.find_name(builtin_key(cls))
    if conv is not None and conv.forward is not None:
        call.ctx.layer_call = call
        try:
            x = call.vals[0] if len(call.vals) == 1 else list(call.vals)
            return conv.forward(layer, call.g, x, call.ctx)
        finally:
            call.ctx.layer_call = None
    extra = ""
    if cls.__name__ == "Lambda":
        extra = ("Lambda layers run arbitrary Python code; rewrite it with built-in layers, or as a "
                 "Layer subclass with a registered converter.\n")
    elif cls.__name__ == "TFOpLambda":
        from .layers import TF_OPS

        extra = (f"This TensorFlow op ({getattr(layer, 'symbol', '?')}) is not among the supported ones "
                 f"({', '.join(sorted(TF_OPS))}).\n")
    raise UnsupportedModelError(
        f"cannot convert {call.where()}: scikinc has no converter for {cls.__name__} layers.\n{extra}"
        f"Supported layers: {', '.join(n for n in supported_layers('layers') if n != 'TFOpLambda')}; "
        f"Keras ops: {', '.join(supported_layers('ops'))}.\n"
        + _HOWTO.format(cls=qualname(cls), fn=cls.__name__.lower()))

