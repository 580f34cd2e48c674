"""IR ops used by the Keras converters only (the shared ones live in core.py)."""
from __future__ import annotations

import numpy as np

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
    """Normalise each of ``n_pos`` consecutive groups of ``n`` values:
    ``(x - mean) / sqrt(var + eps) * gamma + beta`` (Keras order:
    ``inv = rsqrt(var + eps) * gamma; y = x * inv + (beta - mean * inv)``;
    ``gamma``/``beta`` have ``n`` values, shared by the groups).
    ``rms=True`` is Keras' deprecated ``rms_scaling``: ``y = x * rsqrt(var + eps) * gamma``."""

    template = "ops/layernorm.c.j2"

    def __init__(self, n: int, epsilon: float, gamma=None, beta=None, rms: bool = False, n_pos: int = 1):
        self.n = int(n)
        self.n_pos = int(n_pos)
        self.epsilon = float(epsilon)
        self.gamma = None if gamma is None else _vec(gamma, self.n, "gamma")
        self.beta = None if beta is None else _vec(beta, self.n, "beta")
        self.rms = bool(rms)

    def out_width(self, w):
        if w != [self.n * self.n_pos]:
            raise ConversionError(f"LayerNorm: built for {self.n_pos}x{self.n} values, got {w[0]}")
        return self.n * self.n_pos


class PositionDense(Op):
    """The same Dense layer applied at each of ``n_pos`` positions: the input
    is ``[n_pos][n_in]`` row-major, the output ``[n_pos][n_out]``;
    ``y[p] = x[p] @ W + b`` summed ``b + x0 w0 + x1 w1 + ...`` left to right
    (Keras' Dense on a tensor of rank >= 3, TimeDistributed(Dense))."""

    template = "ops/dense_pos.c.j2"
    hot = True

    def __init__(self, W, b=None, n_pos: int = 1):
        self.W = np.asarray(W, dtype=np.float64)
        if self.W.ndim != 2:
            raise ConversionError(f"PositionDense weights must be 2-D, got shape {self.W.shape}")
        self.n_in, self.n_out = self.W.shape
        self.b = np.zeros(self.n_out) if b is None else _vec(b, self.n_out, "bias")
        self.n_pos = int(n_pos)

    def out_width(self, w):
        self.expect_widths(w, [self.n_pos * self.n_in])
        return self.n_pos * self.n_out

    def describe(self):
        return f"PositionDense({self.n_pos}x{self.n_in}->{self.n_out})"


class PositionSoftmax(Op):
    """Max-subtracted (log-)softmax over each of ``n_pos`` consecutive groups
    of ``n`` values (softmax over the last axis of a rank >= 3 tensor)."""

    template = "ops/softmax_pos.c.j2"

    def __init__(self, n_pos: int, n: int, log: bool = False):
        self.n_pos, self.n, self.log = int(n_pos), int(n), bool(log)

    def out_width(self, w):
        self.expect_widths(w, [self.n_pos * self.n])
        return self.n_pos * self.n
