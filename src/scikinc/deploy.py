"""Deployment wrappers: several fitted objects exported as ONE C symbol.

``Generative`` is what flash-simulation hosts load as a "generative" plug-in::

    FLOAT_T *name(FLOAT_T *out, const FLOAT_T *in, const FLOAT_T *rnd);
    /* out = post^-1( generator( concat( pre(in), rnd ) ) ) */

The host owns the random-number generator (per-event seeding, reproducibility)
and passes ``n_random`` normal deviates per call.

``Classifier`` is the deterministic counterpart for efficiency models:
``out = activation( model( pre(in) ) )`` -- useful when the network outputs
logits.  (A ``Pipeline([("tX", scaler), ("dnn", model)])`` converts to one
symbol as well; ``Classifier`` adds the optional output activation.)
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .errors import ConversionError

NOISE_POSITIONS = ("after", "before")
ACTIVATIONS = (None, "sigmoid", "softmax")


def _invertible(obj) -> bool:
    """sklearn's inverse_transform, or an inverse converter scikinc provides
    (e.g. ColumnTransformer whose parts are all invertible)."""
    from . import registry

    if hasattr(obj, "inverse_transform"):
        return True
    try:
        return registry.lookup(obj).inverse is not None
    except ConversionError:
        return False


@dataclass
class Generative:
    """A conditional generator with optional pre- and post-processing.

    * ``generator``: any convertible model whose input is ``concat(pre(in), rnd)``
      (``noise_position="after"``, the default) or ``concat(rnd, pre(in))``.
    * ``preprocessing``: applied with ``transform`` to the conditions (optional).
    * ``postprocessing``: a transformer fitted on the *targets*; its
      ``inverse_transform`` is applied to the generator output (optional).
    * ``n_random``: how many noise values the host passes per row.
    * ``n_inputs``: number of conditions; needed only when neither the
      preprocessing nor the generator tells it.
    """

    generator: Any
    preprocessing: Any = None
    postprocessing: Any = None
    n_random: int = 128
    noise_position: str = "after"
    n_inputs: int | None = None

    def __post_init__(self):
        if isinstance(self.n_random, bool) or not isinstance(self.n_random, int) or self.n_random <= 0:
            raise ConversionError(f"Generative: n_random must be a positive integer, got {self.n_random!r}")
        if self.noise_position not in NOISE_POSITIONS:
            raise ConversionError(
                f"Generative: noise_position must be one of {NOISE_POSITIONS}, got {self.noise_position!r}")
        if self.postprocessing is not None and not _invertible(self.postprocessing):
            raise ConversionError(
                f"Generative: postprocessing {type(self.postprocessing).__name__} has no inverse_transform; "
                "it must be the transformer fitted on the generator's targets")


@dataclass
class Classifier:
    """``out = activation(model(pre(in)))`` as one deterministic symbol."""

    model: Any
    preprocessing: Any = None
    activation: str | None = None

    def __post_init__(self):
        if self.activation not in ACTIVATIONS:
            raise ConversionError(f"Classifier: activation must be one of {ACTIVATIONS}, got {self.activation!r}")
