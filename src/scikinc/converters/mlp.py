"""MLPClassifier / MLPRegressor: the shared ``Dense`` and ``Activation`` ops,
``Softmax`` for multiclass outputs."""
from __future__ import annotations

from sklearn.neural_network import MLPClassifier, MLPRegressor

from ..errors import ConversionError
from ..ir import Activation, Dense, Softmax
from ..ir.heads import ArgMax
from ..registry import register_converter
from .heads import binary_full

_ACT = {"identity": "linear", "relu": "relu", "tanh": "tanh", "logistic": "sigmoid"}


def _layers(obj, g, x, *, last_activation: bool):
    n = len(obj.coefs_)
    if obj.activation not in _ACT:
        raise ConversionError(f"{type(obj).__name__}: unsupported activation {obj.activation!r}")
    for i, (W, b) in enumerate(zip(obj.coefs_, obj.intercepts_, strict=False)):
        x = g.add(Dense(W, b), x)  # coefs_[i] is [n_in][n_out], Dense's layout
        if i < n - 1 and obj.activation != "identity":
            x = g.add(Activation(_ACT[obj.activation]), x)
    if last_activation:
        out_act = obj.out_activation_
        if out_act == "softmax":
            x = g.add(Softmax(), x)
        elif out_act == "logistic":
            x = g.add(Activation("sigmoid"), x)
        elif out_act != "identity":
            raise ConversionError(f"{type(obj).__name__}: unsupported output activation {out_act!r}")
    return x


@register_converter(MLPClassifier, notes=(
    "relu/tanh/logistic/identity; binary → P(class 1), multiclass → softmax, multilabel → sigmoids; "
    "output=proba|proba_full|decision_function (pre-activation)|class"))
def mlp_classifier(obj, g, x, ctx):
    out = ctx.option("output", "proba", choices=("proba", "proba_full", "decision_function", "class"))
    if out == "decision_function":
        return _layers(obj, g, x, last_activation=False)
    p = _layers(obj, g, x, last_activation=True)
    binary = obj.out_activation_ == "logistic" and p.width == 1
    if out == "class":
        if obj.out_activation_ == "logistic" and not binary:
            raise ConversionError("MLPClassifier: output='class' is not available for multilabel models")
        # LabelBinarizer: p > 0.5 for binary, argmax otherwise
        return g.add(ArgMax(0.5, inclusive=False), p)
    if out == "proba_full" and binary:
        return binary_full(g, p)
    return p


@register_converter(MLPRegressor, notes="relu/tanh/logistic/identity hidden layers, identity output")
def mlp_regressor(obj, g, x, ctx):
    ctx.option("output", "predict", choices=("predict",))
    return _layers(obj, g, x, last_activation=True)
