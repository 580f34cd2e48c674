"""Keras models: ``Sequential`` and functional ``Model`` graphs (Keras 3 and
tf.keras / tf_keras 2).

Nothing here imports Keras or TensorFlow: the converters are registered by
qualified class name and read layers through their attributes, so that
scikit-learn-only users never pay for (or need) TensorFlow.

* :mod:`.graph` walks the layer graph and dispatches every layer call to the
  converter registered for it;
* :mod:`.layers` holds the built-in layer and op converters;
* :mod:`.activations` maps Keras activation functions to IR kinds.

The converters emit plain ops; the pass pipeline (:mod:`scikinc.passes`)
folds BatchNormalization-like affine maps into neighbouring Dense layers and
fuses ``Dense -> activation [-> + residual]`` chains.
"""
from __future__ import annotations

from ...ir import Graph, Value
from ...registry import register_converter
from . import conv, layers, recurrent  # noqa: F401  (register the built-in layer converters)
from .activations import activation_spec
from .graph import MODEL_CLASSES, keras_n_inputs, supported_layers, walk

__all__ = ["activation_spec", "convert_keras", "supported_layers", "walk"]

_NOTES = ("Sequential and functional graphs (several inputs/outputs: concatenated row-major in model "
          "order, shapes exported as name_input_shapes...; Add/Concatenate/... DAGs, nested models "
          "flattened); Keras 3 and tf.keras; see the Keras layer table. Options: fuse (default True; old "
          "name keras_fuse)")


def convert_keras(model, g: Graph, x: Value, ctx) -> Value:
    return walk(model, g, x, ctx)


for _cls in MODEL_CLASSES:
    register_converter(_cls, n_inputs=keras_n_inputs, notes=_NOTES)(convert_keras)
