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


def _pair(v, name: str) -> tuple[int, int]:
    t = tuple(int(a) for a in v)
    if len(t) != 2:
        raise ConversionError(f"{name}: expected 2 values, got {t}")
    return t[0], t[1]


class Conv(Op):
    """2-D convolution, channels last (1-D: height 1): the input is
    ``[H][W][C_in]``, the output ``[OH][OW][C_out]``, the kernel Keras'
    ``[KH][KW][C_in / groups][C_out]``.  Output ``(oh, ow)`` reads input
    ``(oh * stride - pad + k * dilation)`` for each kernel tap ``k``; taps
    outside the input are skipped (zero padding).  Each output is
    ``b + sum over (kh, kw, ci)`` in that order; output channels of group
    ``g`` read input channels ``[g * C_in/groups, (g + 1) * C_in/groups)``."""

    template = "ops/conv.c.j2"
    hot = True

    def __init__(self, W, b, in_hw, out_hw, strides=(1, 1), dilation=(1, 1), pad=(0, 0), groups: int = 1):
        self.W = np.asarray(W, dtype=np.float64)
        if self.W.ndim != 4:
            raise ConversionError(f"Conv kernel must be [KH][KW][C_in/groups][C_out], got shape {self.W.shape}")
        self.kh, self.kw, self.cin_g, self.cout = (int(d) for d in self.W.shape)
        self.groups = int(groups)
        if self.cout % self.groups:
            raise ConversionError(f"Conv: {self.cout} output channels in {self.groups} groups")
        self.cin = self.cin_g * self.groups
        self.cout_g = self.cout // self.groups
        self.b = np.zeros(self.cout) if b is None else _vec(b, self.cout, "bias")
        self.h, self.w = _pair(in_hw, "in_hw")
        self.oh, self.ow = _pair(out_hw, "out_hw")
        self.sh, self.sw = _pair(strides, "strides")
        self.dh, self.dw = _pair(dilation, "dilation")
        self.ph, self.pw = _pair(pad, "pad")

    def taps(self, o: int, axis: int) -> list[tuple[int, int]]:
        """(kernel index, input index) of the taps of output ``o`` along axis 0 (H) or 1 (W) that
        fall inside the input."""
        k, s, d, p, n = ((self.kh, self.sh, self.dh, self.ph, self.h) if axis == 0
                         else (self.kw, self.sw, self.dw, self.pw, self.w))
        return [(j, o * s - p + j * d) for j in range(k) if 0 <= o * s - p + j * d < n]

    def interior_w(self) -> tuple[int, int]:
        """``[lo, hi)``: the output columns all of whose taps along W fall
        inside the input (possibly empty)."""
        lo = -(-self.pw // self.sw)  # first ow with ow * sw - pw >= 0
        last = self.w - 1 + self.pw - (self.kw - 1) * self.dw  # ow * sw must not exceed it
        hi = last // self.sw + 1 if last >= 0 else 0
        lo = min(lo, self.ow)
        return lo, max(lo, min(hi, self.ow))

    def pos_block(self) -> int:
        """Output positions computed together by the template: their running
        sums (``P * C_out`` values) stay within ~128 floats (8 AVX-512
        registers), at most 8 positions, the row's interior cut into equal
        blocks; 1 when blocking cannot help."""
        lo, hi = self.interior_w()
        n, most = hi - lo, max(1, min(8, 128 // max(self.cout, 1)))
        if n < 2 or most < 2:
            return 1
        return -(-n // -(-n // most))  # ceil(n / number of blocks)

    def out_width(self, w):
        self.expect_widths(w, [self.h * self.w * self.cin])
        return self.oh * self.ow * self.cout

    def describe(self):
        return f"Conv({self.kh}x{self.kw}, {self.cin}->{self.cout}" + (
            f", groups={self.groups})" if self.groups > 1 else ")")


class Pool(Op):
    """Max or average pooling, channels last (1-D: height 1): input
    ``[H][W][C]``, output ``[OH][OW][C]``; window ``(ph, pw)``, strides,
    padding ``pad`` before; taps outside the input are skipped (average:
    the sum of the valid taps in (kh, kw) order divided by their count, as
    TensorFlow's pooling)."""

    template = "ops/pool.c.j2"
    KINDS = ("max", "avg")

    def __init__(self, kind: str, c: int, in_hw, out_hw, pool, strides, pad=(0, 0)):
        if kind not in self.KINDS:
            raise ConversionError(f"unknown pooling {kind!r}")
        self.kind = kind
        self.c = int(c)
        self.h, self.w = _pair(in_hw, "in_hw")
        self.oh, self.ow = _pair(out_hw, "out_hw")
        self.kh, self.kw = _pair(pool, "pool")
        self.sh, self.sw = _pair(strides, "strides")
        self.ph, self.pw = _pair(pad, "pad")
        self.dh = self.dw = 1

    taps = Conv.taps

    def out_width(self, w):
        self.expect_widths(w, [self.h * self.w * self.c])
        return self.oh * self.ow * self.c

    def describe(self):
        return f"Pool({self.kind}, {self.kh}x{self.kw})"


class Embedding(Op):
    """Rows of a ``[V][D]`` table looked up by the input values (Keras'
    Embedding: the index is the value truncated toward zero, as its int32
    cast); a value outside ``(-1, V)`` or NaN -- an error in Keras -- gives a
    row of zeros.  Input ``n`` values, output ``[n][D]``."""

    template = "ops/embedding.c.j2"

    def __init__(self, table):
        self.table = np.asarray(table, dtype=np.float64)
        if self.table.ndim != 2:
            raise ConversionError(f"Embedding table must be 2-D, got shape {self.table.shape}")
        self.v, self.d = (int(s) for s in self.table.shape)

    def out_width(self, w):
        return w[0] * self.d


class ConvTranspose(Op):
    """2-D transposed convolution, channels last (1-D: height 1): input
    ``[H][W][C_in]``, output ``[OH][OW][C_out]``; ``W`` is stored
    ``[KH][KW][C_in][C_out]`` (Keras' ``[KH][KW][C_out][C_in]`` transposed by
    the converter).  Input ``i`` reaches output ``o = i * stride - pad + k *
    dilation`` through tap ``k`` (the gradient of :class:`Conv` with these
    numbers); each output gathers its taps: ``b + sum over (kh, kw, ci)`` in
    that order, over the ``(k, i)`` with ``o + pad - k * dilation = i *
    stride``, ``0 <= i < H``."""

    template = "ops/conv_transpose.c.j2"
    hot = True

    def __init__(self, W, b, in_hw, out_hw, strides=(1, 1), dilation=(1, 1), pad=(0, 0)):
        self.W = np.asarray(W, dtype=np.float64)
        if self.W.ndim != 4:
            raise ConversionError(f"ConvTranspose kernel must be [KH][KW][C_in][C_out], got shape {self.W.shape}")
        self.kh, self.kw, self.cin, self.cout = (int(d) for d in self.W.shape)
        self.b = np.zeros(self.cout) if b is None else _vec(b, self.cout, "bias")
        self.h, self.w = _pair(in_hw, "in_hw")
        self.oh, self.ow = _pair(out_hw, "out_hw")
        self.sh, self.sw = _pair(strides, "strides")
        self.dh, self.dw = _pair(dilation, "dilation")
        self.ph, self.pw = _pair(pad, "pad")

    def taps(self, o: int, axis: int) -> list[tuple[int, int]]:
        """(kernel index, input index) of the taps of output ``o`` along axis 0 (H) or 1 (W)."""
        k, s, d, p, n = ((self.kh, self.sh, self.dh, self.ph, self.h) if axis == 0
                         else (self.kw, self.sw, self.dw, self.pw, self.w))
        out = []
        for j in range(k):
            t = o + p - j * d
            if t >= 0 and t % s == 0 and t // s < n:
                out.append((j, t // s))
        return out

    def out_width(self, w):
        self.expect_widths(w, [self.h * self.w * self.cin])
        return self.oh * self.ow * self.cout

    def describe(self):
        return f"ConvTranspose({self.kh}x{self.kw}, {self.cin}->{self.cout})"


class Bilinear(Op):
    """Bilinear resize, channels last: input ``[H][W][C]``, output
    ``[OH][OW][C]``.  Output row ``r`` reads input rows ``y0[r]``, ``y1[r]``
    with weight ``ly[r]`` (columns likewise ``x0``, ``x1``, ``lx``), computed
    as TensorFlow's ResizeBilinear: ``top = tl + (tr - tl) * lx``, ``bottom =
    bl + (br - bl) * lx``, ``y = top + (bottom - top) * ly``."""

    template = "ops/bilinear.c.j2"

    def __init__(self, c: int, in_hw, y0, y1, ly, x0, x1, lx):
        self.c = int(c)
        self.h, self.w = _pair(in_hw, "in_hw")
        self.y0, self.y1 = (np.asarray(v, dtype=np.int64) for v in (y0, y1))
        self.x0, self.x1 = (np.asarray(v, dtype=np.int64) for v in (x0, x1))
        self.ly, self.lx = np.asarray(ly, dtype=np.float64), np.asarray(lx, dtype=np.float64)
        self.oh, self.ow = self.y0.size, self.x0.size
        if not (self.y1.size == self.ly.size == self.oh and self.x1.size == self.lx.size == self.ow):
            raise ConversionError("Bilinear: row/column tables of different lengths")
        if min(self.y0.min(), self.y1.min(), self.x0.min(), self.x1.min()) < 0 or \
                max(self.y0.max(), self.y1.max()) >= self.h or max(self.x0.max(), self.x1.max()) >= self.w:
            raise ConversionError("Bilinear: a source row or column outside the input")
        # flat offsets of the two source rows / columns of each output row / column
        self.row_offsets = np.stack([self.y0, self.y1], axis=1).reshape(-1) * (self.w * self.c)
        self.col_offsets = np.stack([self.x0, self.x1], axis=1).reshape(-1) * self.c

    def out_width(self, w):
        self.expect_widths(w, [self.h * self.w * self.c])
        return self.oh * self.ow * self.c

    def describe(self):
        return f"Bilinear({self.h}x{self.w} -> {self.oh}x{self.ow}, {self.c} channels)"
