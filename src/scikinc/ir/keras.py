"""IR ops used by the Keras converters only (the shared ones live in core.py)."""
from __future__ import annotations

from ..errors import ConversionError
from .core import Op, _vec


class PReLU(Op):
    """``y = x > 0 ? x : alpha[i] * x`` with one learned slope per element."""

    template = "ops/prelu.c.j2"
    elementwise = True

    def __init__(self, alpha):
        self.alpha = _vec(alpha)
        self.n = self.alpha.size

    def out_width(self, w):
        if w != [self.n]:
            raise ConversionError(f"PReLU: {self.n} slopes for a {w[0]}-wide input")
        return self.n


class LayerNorm(Op):
    """Normalise the whole vector: ``(x - mean) / sqrt(var + eps) * gamma + beta``
    (Keras order: ``inv = rsqrt(var + eps) * gamma; y = x * inv + (beta - mean * inv)``).
    ``rms=True`` is Keras' deprecated ``rms_scaling``: ``y = x * rsqrt(var + eps) * gamma``."""

    template = "ops/layernorm.c.j2"

    def __init__(self, n: int, epsilon: float, gamma=None, beta=None, rms: bool = False):
        self.n = int(n)
        self.epsilon = float(epsilon)
        self.gamma = None if gamma is None else _vec(gamma, self.n, "gamma")
        self.beta = None if beta is None else _vec(beta, self.n, "beta")
        self.rms = bool(rms)

    def out_width(self, w):
        if w != [self.n]:
            raise ConversionError(f"LayerNorm: built for {self.n} values, got {w[0]}")
        return self.n
