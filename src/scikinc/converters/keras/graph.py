"""Walking a Keras layer graph into IR ops.

The graph is walked from the model outputs back to its inputs
(``KerasHistory`` -> node -> input tensors); every layer call is converted by
the converter registered for it (:mod:`scikinc.registry`); nested models are
walked recursively (flattened).  Every Keras tensor is one flat IR Value
holding the tensor row-major (batch dimension dropped, axes in Keras' order);
its shape comes with it (``_Call.in_shapes``/``in_dims``).  The C function
reads the model inputs concatenated in ``model.inputs`` order and writes the
outputs likewise.  Unsupported layers are collected over the whole graph and
reported in one error.
"""
from __future__ import annotations

import sys
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ... import registry
from ...errors import ConversionError, UnsupportedModelError
from ...ir import Concat, Constant, Gather, Graph, Value
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
    return int(np.prod(dims_of(shape, what)))


def dims_of(shape: tuple, what: str) -> tuple[int, ...]:
    """A Keras shape without its batch dimension, every dimension known."""
    dims = tuple(shape[1:])
    if any(d is None for d in dims):
        raise ConversionError(f"{what}: shape {tuple(shape)} has unknown dimensions; give the Input a fixed shape")
    return tuple(int(d) for d in dims)


def _io(model) -> tuple[list, list]:
    ins = getattr(model, "inputs", None)
    outs = getattr(model, "outputs", None)
    if not ins or not outs:
        if not getattr(model, "built", True) or ins is None:
            raise ConversionError(
                f"Keras model {getattr(model, 'name', '?')!r} ({qualname(type(model))}) has no input "
                "shape: build it first (keras.Input(shape=...) as first layer, or model.build((None, n)))"
                " -- subclassed models with a custom call() cannot be converted; rebuild them as a "
                "Sequential or functional model")
    if not isinstance(ins, (list, tuple)):
        ins = [ins]
    if not isinstance(outs, (list, tuple)):
        outs = [outs]
    return list(ins), list(outs)


def io_dims(model) -> tuple[list[tuple[int, ...]], list[tuple[int, ...]]]:
    """The shapes (batch dropped) of a model's inputs and outputs, in order."""
    ins, outs = _io(model)
    name = getattr(model, "name", "?")
    return ([dims_of(_shape(t), f"input {k} of Keras model {name!r}") for k, t in enumerate(ins)],
            [dims_of(_shape(t), f"output {k} of Keras model {name!r}") for k, t in enumerate(outs)])


def keras_n_inputs(model) -> int:
    ins, _ = io_dims(model)
    return int(sum(int(np.prod(d)) for d in ins))


def shape_meta(dims: list[tuple[int, ...]], what: str) -> dict[str, int | list[int]]:
    """Exported metadata of the tensors ``dims`` (``what``: "input"/"output"):
    ``n_<what>_tensors``, ``<what>_ranks[]``, ``<what>_sizes[]`` and
    ``<what>_shapes[]`` (every tensor's dimensions, batch dropped, concatenated)."""
    return {f"n_{what}_tensors": len(dims),
            f"{what}_ranks": [len(d) for d in dims],
            f"{what}_sizes": [int(np.prod(d)) for d in dims],
            f"{what}_shapes": [int(v) for d in dims for v in d] or [0]}


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
    vals: list  # input Values (flat, row-major)
    in_shapes: list  # Keras shapes (batch first) of the inputs
    out_shape: tuple  # Keras shape (batch first) of the (first) output
    model: Any  # the (sub-)model being walked
    ctx: Any
    g: Any = None  # the Graph being built
    args: tuple = ()
    kwargs: dict = field(default_factory=dict)
    out_shapes: list = field(default_factory=list)  # Keras shapes of every output

    @property
    def name(self) -> str:
        return getattr(self.layer, "name", "?")

    def where(self) -> str:
        return f"layer {self.name!r} ({qualname(type(self.layer))}) of Keras model {getattr(self.model, 'name', '?')!r}"

    @property
    def in_dims(self) -> list[tuple[int, ...]]:
        """The input shapes without the batch dimension."""
        return [dims_of(s, self.where()) for s in self.in_shapes]

    @property
    def out_dims(self) -> tuple[int, ...]:
        return dims_of(self.out_shape, self.where())

    def x(self) -> Value:
        if len(self.vals) != 1:
            raise UnsupportedModelError(f"{self.where()}: expected one input, got {len(self.vals)}")
        return self.vals[0]

    def vector(self) -> Value:
        """The single input, which must be a plain vector (batch, n)."""
        x = self.x()
        if len(self.in_shapes[0]) != 2:
            raise UnsupportedModelError(
                f"{self.where()}: input shape {self.in_shapes[0]}: scikinc converts this layer on "
                "vectors (batch, features) only; Flatten before this layer")
        return x

    def axis(self, axis, rank: int | None = None) -> int:
        """A Keras axis (batch = 0) as an index into the batch-dropped shape."""
        rank = len(self.in_shapes[0]) if rank is None else rank
        if isinstance(axis, (list, tuple)):
            if len(axis) != 1:
                raise UnsupportedModelError(f"{self.where()}: axis={axis} (one axis expected)")
            axis = axis[0]
        a = int(axis) + rank if int(axis) < 0 else int(axis)
        if not 1 <= a < rank:
            raise UnsupportedModelError(f"{self.where()}: axis={axis} for rank-{rank} inputs")
        return a - 1

    def axis_last(self, axis) -> None:
        rank = len(self.in_shapes[0])
        if self.axis(axis) != rank - 2:
            raise UnsupportedModelError(f"{self.where()}: axis={axis} (only the last axis is supported)")


def _history(t):
    h = getattr(t, "_keras_history", None)
    if h is None:
        raise ConversionError(f"tensor {t!r} has no Keras history (not produced by a Keras layer)")
    return h[0], h[1], h[2]


def _key(t):
    layer, ni, ti = _history(t)
    return id(layer), ni


def _node_inputs(node) -> list:
    ins = getattr(node, "keras_inputs", None)  # tf_keras
    if ins is None:
        ins = getattr(node, "input_tensors", None)  # Keras 3
    if ins is None:
        ins = []
    if not isinstance(ins, (list, tuple)):
        ins = [ins]
    return list(ins)


def _node_outputs(node) -> list:
    outs = getattr(node, "outputs", None)  # Keras 3
    if outs is None:
        outs = getattr(node, "output_tensors", None)  # tf_keras
    if outs is None:
        return []
    if not isinstance(outs, (list, tuple)):
        outs = [outs]
    return list(outs)


def _node_args(node) -> tuple[tuple, dict]:
    a = getattr(node, "arguments", None)  # Keras 3
    if a is not None:
        return tuple(a.args), dict(a.kwargs)
    return tuple(getattr(node, "call_args", ()) or ()), dict(getattr(node, "call_kwargs", {}) or {})


def _is_tensor(a) -> bool:
    return hasattr(a, "_keras_history")


def walk(model, g: Graph, x: Value, ctx) -> Value:
    """Append the ops of Keras ``model`` reading ``x``; return the output Value.

    ``x`` holds the model's inputs flattened row-major and concatenated in
    ``model.inputs`` order; the result holds its outputs likewise.  When ``x``
    is the graph input, the tensors' shapes are recorded in ``g.meta`` (the
    ``name_input_shapes``... symbols of the generated code)."""
    in_dims, out_dims = io_dims(model)
    sizes = [int(np.prod(d)) for d in in_dims]
    n = sum(sizes)
    if n != x.width:
        raise ConversionError(f"Keras model {model.name!r} expects {n} inputs but receives {x.width}")
    xs = split(g, x, sizes, [getattr(_history(t)[0], "name", "input") for t in _io(model)[0]])
    fails: list = []
    ys = _walk(model, g, xs, ctx, fails)
    if fails:
        raise UnsupportedModelError(_failure_message(model, fails))
    if x is g.input and hasattr(g, "meta"):
        g.meta.update(shape_meta(in_dims, "input"))
        g.meta.update(shape_meta(out_dims, "output"))
    return ys[0] if len(ys) == 1 else g.add(Concat(), *ys)


def split(g: Graph, x: Value, sizes: list[int], names: list[str]) -> list[Value]:
    """``x`` cut into consecutive parts of ``sizes`` values."""
    if len(sizes) == 1:
        return [x]
    out, off = [], 0
    for w, nm in zip(sizes, names, strict=True):
        with g.scope(nm):
            out.append(g.add(Gather(np.arange(off, off + w)), x))
        off += w
    return out


def _failure_message(model, fails: list[str]) -> str:
    if len(fails) == 1:
        return fails[0]
    heads, tail = [], ""
    for msg in fails:
        head, sep, rest = msg.partition("\nSupported layers:")
        heads.append("- " + head.replace("\n", "\n  ").strip())
        if sep and not tail:
            tail = "Supported layers:" + rest
    return (f"cannot convert {len(fails)} layers of Keras model {getattr(model, 'name', '?')!r}:\n"
            + "\n".join(heads) + ("\n" + tail if tail else ""))


def _walk(model, g: Graph, xs: list[Value], ctx, fails: list) -> list[Value]:
    """The output Values of ``model`` reading the input Values ``xs``;
    unsupported layers are recorded in ``fails`` (and stood in for by zeros)."""
    ins, outs = _io(model)
    if len(ins) != len(xs):
        raise ConversionError(f"Keras model {getattr(model, 'name', '?')!r} takes {len(ins)} inputs, "
                              f"got {len(xs)}")
    memo: dict = {}
    for t, v in zip(ins, xs, strict=True):
        memo[_key(t)] = [v]
    stack = list(outs)
    while stack:
        t = stack[-1]
        k = _key(t)
        if k in memo:
            stack.pop()
            continue
        layer, ni, ti = _history(t)
        if type(layer).__name__ == "InputLayer":
            raise UnsupportedModelError(
                f"Keras model {getattr(model, 'name', '?')!r} reads input {layer.name!r}, which is not "
                "one of its inputs")
        node = layer._inbound_nodes[ni]
        node_ins = _node_inputs(node)
        missing = [i for i in node_ins if _key(i) not in memo]
        if missing:
            stack.extend(missing)
            continue
        stack.pop()
        node_outs = _node_outputs(node) or [t]
        vals = [memo[_key(i)][_history(i)[2]] for i in node_ins]
        out_shapes = [_shape(o) for o in node_outs]
        call = _Call(layer, node, vals, [_shape(i) for i in node_ins], out_shapes[0],
                     model, ctx, g, out_shapes=out_shapes)
        call.args, call.kwargs = _node_args(node)
        with g.scope(call.name):
            failed = False
            try:
                res = _apply(call, fails)
            except UnsupportedModelError as e:
                failed = True
                fails.append(str(e))
                res = [g.add(Constant(np.zeros(_width(s, call.where()))), ) for s in out_shapes]
        lists_ok = len(out_shapes) > 1 or failed or _is_model(layer)  # a layer's single output is a Value
        if isinstance(res, Value):
            res = [res]
        elif not (lists_ok and isinstance(res, (list, tuple)) and all(isinstance(v, Value) for v in res)):
            raise ConversionError(f"{call.where()}: the converter returned {type(res).__name__}, "
                                  "not a scikinc.ir.Value" + (" (or a list of them, one per output)"
                                                              if len(out_shapes) > 1 else ""))
        if len(res) != len(out_shapes):
            raise ConversionError(f"{call.where()}: produced {len(res)} tensors, Keras says {len(out_shapes)}")
        for v, s in zip(res, out_shapes, strict=True):
            w = _width(s, call.where())
            if v.width != w:
                raise ConversionError(f"{call.where()}: produced {v.width} values, Keras says {s}")
        memo[k] = list(res)
    return [memo[_key(t)][_history(t)[2]] for t in outs]


def _apply(call: _Call, fails: list):
    """Convert one layer call: nested models recursively, then a converter
    registered for the layer's class (a user's), then the built-in converter
    registered under ``keras.layers.NAME`` / ``keras.ops.NAME``."""
    layer = call.layer
    if _is_model(layer):
        return _walk(layer, call.g, call.vals, call.ctx, fails)
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

