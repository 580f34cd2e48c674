"""Keras activation functions -> IR ``Activation`` kinds (and their parameters)."""
from __future__ import annotations

import functools
import inspect

from ...errors import UnsupportedModelError
from ...ir import Activation, Graph, Softmax, Value
from ...ir.keras import PositionSoftmax

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

def _defaults(fn) -> dict:
    try:
        sig = inspect.signature(fn)
    except (TypeError, ValueError):
        return {}
    return {k: p.default for k, p in sig.parameters.items() if p.default is not inspect.Parameter.empty}


def activation_spec(fn, keras2: bool = False, where: str = "activation"):
    """``(kind, params)`` of a Keras activation function (or name)."""
    kw: dict = {}
    name: str | None
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


def add_activation(g: Graph, x: Value, kind: str, params: dict, group: int | None = None) -> Value:
    """Append activation ``kind``; (log-)softmax runs over each consecutive
    ``group`` of values (the last axis; None: the whole vector)."""
    if kind == "linear":
        return x
    if kind in ("softmax", "log_softmax"):
        if group is not None and group != x.width:
            return g.add(PositionSoftmax(x.width // group, group, log=kind == "log_softmax"), x)
        return g.add(Softmax(log=kind == "log_softmax"), x)
    return g.add(Activation(kind, **params), x)
