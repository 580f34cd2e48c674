"""IR ops used by the Keras converters only (the shared ones live in ir.py)."""
from __future__ import annotations

import numpy as np

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
            raise ValueError(f"PReLU: {self.n} slopes for a {w[0]}-wide input")
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
            raise ValueError(f"LayerNorm: built for {self.n} values, got {w[0]}")
        return self.n


class DenseAct(Op):
    """``Dense`` followed by an elementwise activation and optionally added to
    a residual input: ``y = f(x W + b) [+ r]`` in one pass (the activation and
    the add run on registers in the dense epilogue).  Created by
    :func:`scikinc.converters.keras.fuse_dense`."""

    template = "ops/dense.c.j2"
    hot = True

    def __init__(self, W, b, kind: str = "linear", params=None, residual: bool = False):
        self.W = np.asarray(W, dtype=np.float64)
        self.n_in, self.n_out = self.W.shape
        self.b = _vec(b, self.n_out, "bias")
        self.kind = kind
        self.params = dict(params or {})
        self.residual = bool(residual)
        from .core import Activation

        self.helpers = Activation.HELPERS.get(kind, ())

    def out_width(self, w):
        assert w[0] == self.n_in, (w, self.n_in)
        if self.residual:
            assert w[1] == self.n_out, (w, self.n_out)
        return self.n_out

    def describe(self):
        return f"Dense+{self.kind}{'+add' if self.residual else ''}"
