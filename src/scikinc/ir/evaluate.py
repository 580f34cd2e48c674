"""A numpy evaluator of the IR: run a :class:`~scikinc.ir.core.Graph` on a
batch of rows, op by op, without generating or compiling any C.

``evaluate(graph, X)`` mirrors what the op templates (``templates/ops/*.c.j2``)
compute: the same formulas in the same order of operations, the same
constants rounded to ``FLOAT_T``, the same comparisons and NaN rules.  It is
the fast test tier (``python -m pytest -m ir``): every converter's graph can
be checked against the real library in milliseconds, and the compiled tier
then only has to show that the C agrees with the IR.

``dtype`` plays ``FLOAT_T``: ``np.float64`` (default) for double builds,
``np.float32`` to mimic float builds (weights, inputs and intermediate values
rounded to float; ``SKC_WIDE_T`` parts and tree accumulators in double, as in
the C), ``np.longdouble`` for long double.  Libm calls use numpy's functions
of the same type, which may differ from glibc's in the last ulp.

NaN follows the templates' selects: the relu family and clips keep NaN
(``!(v <= 0) ? v : 0``), ``Binary`` max/min return NaN when any input is NaN
(``np.maximum``/``np.minimum``); a ReLU with a nonzero threshold and no
negative slope maps NaN to 0, as Keras does.  One deliberate difference: the
normal CDF/PPF of the quantile and expression ops are computed with scipy (or
the standard library when scipy is missing) rather than with the C's own
rational approximation: agreement to ~1e-15 relative.

Evaluators are registered per op class with :func:`evaluator`; an op class
without one (e.g. a tree-strategy op) that carries the ensemble it lowers as
``op.ensemble`` is evaluated through that ensemble.
"""
from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np

from ..errors import InputError
from . import boosting as _boosting
from . import core
from . import heads as _heads
from . import keras as _keras
from . import preprocessing as _pre
from . import recurrent as _rnn
from . import trees as _trees
from .core import Graph, Op

__all__ = ["evaluate", "evaluator", "EVALUATORS", "EvalContext"]

#: op class -> fn(op, inputs: list of (n_rows, width) arrays, ctx) -> (n_rows, width) array
EVALUATORS: dict[type, Callable] = {}

_DTYPES = {np.dtype(np.float32): "float", np.dtype(np.float64): "double", np.dtype(np.longdouble): "long double"}


def evaluator(*classes: type | None):
    """Register the decorated function as the evaluator of ``classes``."""
    def deco(fn):
        for cls in classes:
            if cls is not None:
                EVALUATORS[cls] = fn
        return fn
    return deco


class EvalContext:
    """What an evaluator sees: ``T`` (the FLOAT_T numpy type), ``W`` (the wide
    type: double, or long double for long double builds) and ``float_t``."""

    def __init__(self, dtype):
        dt = np.dtype(dtype)
        if dt not in _DTYPES:
            raise InputError(f"evaluate: dtype must be np.float32, np.float64 or np.longdouble; got {dtype!r}")
        self.T = dt.type
        self.float_t = _DTYPES[dt]
        self.W = np.longdouble if self.float_t == "long double" else np.float64
        #: rows of the batch being evaluated (set by evaluate)
        self.n_rows = 0

    def c(self, x):
        """A constant (scalar or array) as FLOAT_T: a table entry or a
        literal cast to FLOAT_T."""
        return np.asarray(x, dtype=np.float64).astype(self.T)[()]

    def lit(self, x) -> np.float64:
        """The value of an uncast C literal ``c.lit(x)``: a double constant,
        whose digits float builds shorten to those of the nearest float.
        Comparing FLOAT_T with it happens in double (or long double)."""
        if self.float_t == "float":
            from ..render import format_floats

            return np.float64(float(format_floats(np.array([x], dtype=np.float64))[0]))
        return np.float64(x)


def _lookup(op: Op) -> Callable:
    for cls in type(op).__mro__:
        fn = EVALUATORS.get(cls)
        if fn is not None:
            return fn
    ens = getattr(op, "ensemble", None)
    if isinstance(ens, _trees.TreeEnsemble):
        return lambda op, xs, ctx: _tree_ensemble(op.ensemble, xs, ctx)
    raise NotImplementedError(
        f"evaluate: no evaluator for IR op {type(op).__module__}.{type(op).__qualname__}; "
        f"register one with @scikinc.ir.evaluate.evaluator({type(op).__name__})")


def evaluate(graph: Graph, X, *, rnd=None, dtype=np.float64) -> np.ndarray:
    """Run ``graph`` on the rows ``X`` (``(n_rows, n_inputs)``, or one row
    ``(n_inputs,)``); ``rnd`` feeds a graph input named ``"rnd"``
    (generative symbols).  Returns ``(n_rows, n_outputs)`` (or
    ``(n_outputs,)``) of ``dtype``."""
    ctx = EvalContext(dtype)
    if not isinstance(graph, Graph):
        raise InputError(f"evaluate: expected a scikinc.ir.Graph, got {type(graph).__name__} "
                        "(pass Entry.graph from scikinc.core.build_entries)")
    if graph.output is None:
        raise InputError("evaluate: the graph has no output (set graph.output)")
    X = np.asarray(X)
    single = X.ndim == 1
    feeds = {"in": X, "rnd": rnd}
    names = [name for name, _ in graph.inputs]
    if rnd is not None and "rnd" not in names:
        raise InputError("evaluate: rnd given but the graph takes no 'rnd' input")
    env: dict[int, np.ndarray] = {}
    n_rows = None
    for name, v in graph.inputs:
        if name not in feeds:
            raise InputError(f"evaluate: graph input {name!r} has no value (evaluate feeds 'in' and 'rnd')")
        a = feeds[name]
        if a is None:
            raise InputError(f"evaluate: the graph takes a {v.width}-wide input {name!r}: pass {name}=")
        a = np.asarray(a)
        if a.ndim != X.ndim or a.ndim not in (1, 2) or a.shape[-1] != v.width:
            raise InputError(f"evaluate: {name} must have shape ({v.width},) or (n_rows, {v.width})"
                             f"{' like X' if name != 'in' else ''}; got {a.shape}")
        if a.dtype.kind not in "fiub":
            raise InputError(f"evaluate: {name} must be numeric, got dtype {a.dtype}")
        a = a.reshape(-1, v.width).astype(ctx.T)
        if n_rows is not None and len(a) != n_rows:
            raise InputError(f"evaluate: X has {n_rows} rows but {name} has {len(a)}")
        n_rows = len(a)
        env[id(v)] = a
    ctx.n_rows = n_rows
    with np.errstate(all="ignore"):
        for op in graph.ops:
            try:
                xs = [env[id(v)] for v in op.inputs]
            except KeyError:
                raise InputError(f"evaluate: {op.describe()} reads a value no earlier op computes "
                                 "(ops out of order?)") from None
            y = np.asarray(_lookup(op)(op, xs, ctx))
            if y.shape != (n_rows, op.output.width):
                raise AssertionError(f"evaluate: {op.describe()} gave shape {y.shape}, "
                                     f"expected {(n_rows, op.output.width)}")
            env[id(op.output)] = y.astype(ctx.T, copy=False)
    try:
        out = env[id(graph.output)]
    except KeyError:
        raise InputError("evaluate: no op computes the graph output") from None
    return out[0] if single else out


# ---------------------------------------------------------------------------
# helpers
# ---------------------------------------------------------------------------


def _seqsum(cols):
    """Left-to-right sum of a list of arrays (the C loops' order)."""
    s = cols[0]
    for c in cols[1:]:
        s = s + c
    return s


def _ufunc(name, fallback):
    """scipy.special's vectorised function, or the standard library's."""
    try:
        import scipy.special as sp

        return getattr(sp, name)
    except ImportError:  # pragma: no cover - scipy is a test dependency
        vec = np.frompyfunc(fallback, 1, 1)
        return lambda x: vec(np.asarray(x, dtype=np.float64)).astype(np.float64)


def _ppf_fallback(p):  # pragma: no cover
    from statistics import NormalDist

    if p != p or p < 0 or p > 1:
        return math.nan
    if p == 0:
        return -math.inf
    if p == 1:
        return math.inf
    return NormalDist().inv_cdf(p)


def _erf(x):
    return _ufunc("erf", math.erf)(x)


def _erfc(x):
    return _ufunc("erfc", math.erfc)(x)


def _norm_cdf(x):
    return _ufunc("ndtr", lambda v: 0.5 * math.erfc(-v / math.sqrt(2)))(x)


def _norm_ppf(p):
    return _ufunc("ndtri", _ppf_fallback)(p)


def _wide_special(fn, x, ctx):
    """A scipy/stdlib function (double) evaluated in the wide type."""
    return np.asarray(fn(np.asarray(x, dtype=np.float64))).astype(ctx.W)


# ---------------------------------------------------------------------------
# core ops
# ---------------------------------------------------------------------------


@evaluator(core.Affine)
def _affine(op, xs, ctx):
    e = xs[0].astype(ctx.W)
    W = ctx.W
    if op.sub is not None:
        e = e - op.sub.astype(W)
    if op.div is not None:
        e = e / op.div.astype(W)
    if op.mul is not None:
        e = e * op.mul.astype(W)
    if op.add is not None:
        e = e + op.add.astype(W)
    return e.astype(ctx.T)


@evaluator(core.Clip)
def _clip_op(op, xs, ctx):
    v, lo, hi = xs[0], ctx.c(op.lo), ctx.c(op.hi)
    return np.where(v < lo, lo, np.where(v > hi, hi, v))


def _nan_max0(v, ctx):
    """``v > 0 ? v : 0`` with NaN passing through (np.maximum semantics)."""
    return np.where(v <= 0, ctx.T(0), v)


def _nan_min0(v, ctx):
    return np.where(v >= 0, ctx.T(0), v)


def _clip(v, lo, hi):
    """The template's clip macro: ``!(v <= lo) ? (!(v >= hi) ? v : hi) : lo`` (NaN kept)."""
    return np.where(v <= lo, lo, np.where(v >= hi, hi, v))


def _relu6(v, ctx):
    return _clip(v, ctx.T(0), ctx.T(6))


def _hard_sigmoid(v, ctx):
    """clip((v + 3) / 6, 0, 1): relu6(v + 3) / 6 for every v."""
    T = ctx.T
    return _clip((v + T(3)) / T(6), T(0), T(1))


def _sigmoid(v, ctx):
    T = ctx.T
    e = np.exp(np.where(v >= 0, -v, v))  # exp only ever sees -|x|
    return np.where(v >= 0, T(1) / (T(1) + e), e / (T(1) + e))


def _softplus(v, ctx):
    return _nan_max0(v, ctx) + np.log1p(np.exp(-np.abs(v)))


def _activation(kind: str, v: np.ndarray, params: dict, ctx) -> np.ndarray:
    """``templates/ops/activation.c.j2``'s ``expr`` (and ``relu_full``) in T."""
    T, L = ctx.T, ctx.c
    p = params or {}
    if kind == "linear":
        return v
    if kind == "relu":
        y = _nan_max0(v, ctx)
    elif kind == "relu6":
        y = _relu6(v, ctx)
    elif kind == "leaky_relu":
        y = _nan_max0(v, ctx) + L(p["alpha"]) * _nan_min0(v, ctx)
    elif kind == "sigmoid":
        y = _sigmoid(v, ctx)
    elif kind == "tanh":
        y = np.tanh(v)
    elif kind == "exp":
        y = np.exp(v)
    elif kind == "log":
        y = np.log(v)
    elif kind == "sqrt":
        y = np.sqrt(v)
    elif kind == "abs":
        y = np.abs(v)
    elif kind == "square":
        y = v * v
    elif kind == "negative":
        y = -v
    elif kind == "reciprocal":
        y = T(1) / v
    elif kind == "elu":
        neg = np.expm1(v) if p.get("alpha", 1.0) == 1 else L(p["alpha"]) * np.expm1(v)
        y = np.where(v > 0, v, neg)
    elif kind == "selu":
        y = np.where(v > 0, L(1.0507009873554804934193349852946) * v,
                     L(1.7580993408473768599402175208123) * np.expm1(v))
    elif kind == "celu":
        a = L(p["alpha"])
        y = _nan_max0(v, ctx) + a * np.expm1(_nan_min0(v, ctx) / a)
    elif kind == "gelu":
        y = T(0.5) * v * (T(1) + _erf(v / L(1.4142135623730951)).astype(T))
    elif kind == "gelu_tanh":
        big = np.where(v > 0, v, T(0) * v)
        y = np.where(np.abs(v) > T(1e4), big,
                     T(0.5) * v * (T(1) + np.tanh(L(0.7978845608028654) * (v + L(0.044715) * (v * v * v)))))
    elif kind == "hard_sigmoid":
        y = _hard_sigmoid(v, ctx)
    elif kind == "hard_sigmoid_k2":
        y = _clip(L(0.2) * v + T(0.5), T(0), T(1))
    elif kind == "hard_silu":
        y = v * _hard_sigmoid(v, ctx)
    elif kind == "hard_tanh":
        y = _clip(v, T(-1), T(1))
    elif kind == "silu":
        y = v * _sigmoid(v, ctx)
    elif kind == "softplus":
        y = _softplus(v, ctx)
    elif kind == "log_sigmoid":
        y = -_softplus(-v, ctx)
    elif kind == "mish":
        y = v * np.tanh(_softplus(v, ctx))
    elif kind == "softsign":
        y = v / (T(1) + np.abs(v))
    elif kind == "relu_full":
        t = L(p.get("threshold", 0.0))
        # a nonzero threshold sends NaN to 0 (v > t is false), like Keras' x * (x > t)
        a = np.where(v > t, v, T(0)) if p.get("threshold", 0.0) != 0 else _nan_max0(v, ctx)
        if p.get("max_value") is not None:
            a = _clip(a, T(0), L(p["max_value"]))
        if p.get("negative_slope", 0.0) != 0:
            a = a - L(p["negative_slope"]) * _nan_max0(t - v, ctx)
        y = a
    else:
        raise NotImplementedError(f"evaluate: activation kind {kind!r} has no evaluator")
    return np.asarray(y, dtype=T)


@evaluator(core.Activation)
def _activation_op(op, xs, ctx):
    return _activation(op.kind, xs[0], op.params, ctx)


def _dense_acc(W, b, x, ctx):
    """``b + x0 w0 + x1 w1 + ...`` left to right (no reassociation, no FMA)."""
    Wt, acc = W.astype(ctx.T), np.broadcast_to(b.astype(ctx.T), (len(x), W.shape[1]))
    for i in range(W.shape[0]):
        acc = acc + x[:, i:i + 1] * Wt[i]
    return np.array(acc, dtype=ctx.T)


def dense_activation(op) -> tuple[str, dict, bool]:
    """(activation kind, params, residual) of a Dense (fused or not) or DenseAct."""
    kind = getattr(op, "activation", getattr(op, "kind", "linear"))
    return kind or "linear", dict(getattr(op, "params", None) or {}), bool(getattr(op, "residual", False))


@evaluator(core.Dense, getattr(_keras, "DenseAct", None))
def _dense(op, xs, ctx):
    kind, params, residual = dense_activation(op)
    y = _activation(kind, _dense_acc(op.W, op.b, xs[0], ctx), params, ctx)
    return y + xs[1] if residual else y


@evaluator(core.Gather)
def _gather(op, xs, ctx):
    return xs[0][:, op.index]


@evaluator(core.Concat)
def _concat(op, xs, ctx):
    return np.concatenate(xs, axis=1)


@evaluator(core.Constant)
def _constant(op, xs, ctx):
    return np.broadcast_to(ctx.c(op.values), (ctx.n_rows, op.values.size)).copy()


@evaluator(core.Softmax)
def _softmax(op, xs, ctx):
    x = xs[0]
    m = x[:, 0]
    for i in range(1, x.shape[1]):
        m = np.where(x[:, i] > m, x[:, i], m)
    m = m[:, None]
    e = np.exp(x - m)
    s = _seqsum([e[:, i] for i in range(x.shape[1])])[:, None]
    if op.log:
        return x - m - np.log(s)
    return e / s


@evaluator(core.Binary)
def _binary(op, xs, ctx):
    k = op.kind
    if k in ("add", "avg"):
        r = _seqsum(xs)
        return r / ctx.c(len(xs)) if k == "avg" else r
    if k == "sub":
        return xs[0] - xs[1]
    if k == "mul":
        r = xs[0]
        for v in xs[1:]:
            r = r * v
        return r
    r = xs[0]
    for v in xs[1:]:  # NaN propagates (np.maximum / np.minimum)
        r = np.maximum(r, v) if k == "max" else np.minimum(r, v)
    return r


def _copy(op, xs, ctx):
    return xs[0]


def _register_copy():
    from ..render import Copy

    evaluator(Copy)(_copy)


_register_copy()


# ---------------------------------------------------------------------------
# Keras-only ops
# ---------------------------------------------------------------------------


@evaluator(_keras.PReLU)
def _prelu(op, xs, ctx):
    v = xs[0]
    return np.where(v > 0, v, ctx.c(op.alpha) * v)


@evaluator(_keras.PositionDense)
def _dense_pos(op, xs, ctx):
    x = xs[0].reshape(-1, op.n_in)
    return _dense_acc(op.W, op.b, x, ctx).reshape(len(xs[0]), op.n_pos * op.n_out)


@evaluator(_keras.PositionSoftmax)
def _softmax_pos(op, xs, ctx):
    x = xs[0].reshape(-1, op.n)
    return _softmax(op, [x], ctx).reshape(len(xs[0]), op.n_pos * op.n)


def _tap_tables(op):
    """Per kernel tap (kh, kw): the flat output positions it reaches and the
    flat input positions it reads (taps outside the input skipped)."""
    out = []
    for kh in range(op.kh):
        for kw in range(op.kw):
            o_pos, i_pos = [], []
            for oh in range(op.oh):
                ih = oh * op.sh - op.ph + kh * op.dh
                if not 0 <= ih < op.h:
                    continue
                for ow in range(op.ow):
                    iw = ow * op.sw - op.pw + kw * op.dw
                    if 0 <= iw < op.w:
                        o_pos.append(oh * op.ow + ow)
                        i_pos.append(ih * op.w + iw)
            out.append((kh, kw, np.array(o_pos, dtype=np.int64), np.array(i_pos, dtype=np.int64)))
    return out


@evaluator(_keras.Conv)
def _conv(op, xs, ctx):
    n = len(xs[0])
    x = xs[0].reshape(n, op.h * op.w, op.cin)
    Wt = op.W.astype(ctx.T)
    acc = np.empty((n, op.oh * op.ow, op.cout), dtype=ctx.T)
    acc[...] = ctx.c(op.b)
    for kh, kw, o_pos, i_pos in _tap_tables(op):
        if not o_pos.size:
            continue
        for gi in range(op.groups):
            cols = slice(gi * op.cout_g, (gi + 1) * op.cout_g)
            for ci in range(op.cin_g):
                xi = x[:, i_pos, gi * op.cin_g + ci][:, :, None]
                acc[:, o_pos, cols] = acc[:, o_pos, cols] + xi * Wt[kh, kw, ci, cols]
    return acc.reshape(n, -1)


@evaluator(_keras.Pool)
def _pool(op, xs, ctx):
    n = len(xs[0])
    x = xs[0].reshape(n, op.h * op.w, op.c)
    T = ctx.T
    acc = np.full((n, op.oh * op.ow, op.c), -np.inf if op.kind == "max" else 0, dtype=T)
    count = np.zeros(op.oh * op.ow, dtype=np.int64)
    for _, _, o_pos, i_pos in _tap_tables(op):
        v = x[:, i_pos, :]
        if op.kind == "max":
            acc[:, o_pos, :] = np.where(v > acc[:, o_pos, :], v, acc[:, o_pos, :])
        else:
            acc[:, o_pos, :] = acc[:, o_pos, :] + v
            count[o_pos] += 1
    if op.kind == "avg":
        acc = acc / count.astype(T)[None, :, None]
    return acc.reshape(n, -1)


def _transpose_tap_tables(op):
    """Per kernel tap (kh, kw) of a ConvTranspose: the flat output positions it
    reaches and the flat input positions it reads (``op.taps``)."""
    rows = [op.taps(o, 0) for o in range(op.oh)]
    cols = [op.taps(o, 1) for o in range(op.ow)]
    out = []
    for kh in range(op.kh):
        for kw in range(op.kw):
            o_pos, i_pos = [], []
            for oh in range(op.oh):
                for jh, ih in rows[oh]:
                    if jh != kh:
                        continue
                    for ow in range(op.ow):
                        for jw, iw in cols[ow]:
                            if jw == kw:
                                o_pos.append(oh * op.ow + ow)
                                i_pos.append(ih * op.w + iw)
            out.append((kh, kw, np.array(o_pos, dtype=np.int64), np.array(i_pos, dtype=np.int64)))
    return out


@evaluator(_keras.ConvTranspose)
def _conv_transpose(op, xs, ctx):
    n = len(xs[0])
    x = xs[0].reshape(n, op.h * op.w, op.cin)
    Wt = op.W.astype(ctx.T)
    acc = np.empty((n, op.oh * op.ow, op.cout), dtype=ctx.T)
    acc[...] = ctx.c(op.b)
    for kh, kw, o_pos, i_pos in _transpose_tap_tables(op):
        if not o_pos.size:
            continue
        for ci in range(op.cin):
            acc[:, o_pos, :] = acc[:, o_pos, :] + x[:, i_pos, ci][:, :, None] * Wt[kh, kw, ci]
    return acc.reshape(n, -1)


@evaluator(_keras.Bilinear)
def _bilinear(op, xs, ctx):
    n = len(xs[0])
    x = xs[0].reshape(n, op.h, op.w, op.c)
    lx = ctx.c(op.lx)[None, None, :, None]
    ly = ctx.c(op.ly)[None, :, None, None]
    r0, r1 = x[:, op.y0], x[:, op.y1]
    top = r0[:, :, op.x0] + (r0[:, :, op.x1] - r0[:, :, op.x0]) * lx
    bottom = r1[:, :, op.x0] + (r1[:, :, op.x1] - r1[:, :, op.x0]) * lx
    return (top + (bottom - top) * ly).reshape(n, -1)


@evaluator(_keras.Embedding)
def _embedding(op, xs, ctx):
    v = xs[0]
    ok = (v > ctx.T(-1)) & (v < ctx.T(op.v))
    k = np.where(ok, np.trunc(np.where(ok, v, 0)), 0).astype(np.int64)
    rows = ctx.c(op.table)[k]
    return np.where(ok[:, :, None], rows, ctx.T(0)).reshape(len(v), -1)


@evaluator(_keras.LayerNorm)
def _layernorm(op, xs, ctx):
    n_pos = getattr(op, "n_pos", 1)
    if n_pos != 1:
        return _layernorm_group(op, xs[0].reshape(-1, op.n), ctx).reshape(len(xs[0]), n_pos * op.n)
    return _layernorm_group(op, xs[0], ctx)


def _layernorm_group(op, x, ctx):
    T = ctx.T
    n = x.shape[1]
    mean = _seqsum([x[:, i] for i in range(n)]) / T(n)
    d = x - mean[:, None]
    var = _seqsum([d[:, i] * d[:, i] for i in range(n)]) / T(n)
    r = (T(1) / np.sqrt(var + ctx.c(op.epsilon)))[:, None]
    inv = r * ctx.c(op.gamma) if op.gamma is not None else r
    if op.rms:
        return x * inv
    beta = ctx.c(op.beta) if op.beta is not None else T(0)
    return x * inv + (beta - mean[:, None] * inv)


# ---------------------------------------------------------------------------
# preprocessing ops
# ---------------------------------------------------------------------------


def _quantile_table(op, ctx):
    """The quantiles as the C reconstructs them, in the wide type."""
    if ctx.float_t == "float":
        hi = op.quantiles.astype(np.float32).astype(np.float64)
        return hi + op.quantiles_lo.astype(np.float32).astype(np.float64)
    return op.quantiles.astype(ctx.W)


def _qt_refs(nq, W):
    step = W(1) / W(nq - 1) if nq > 1 else W(0)
    r = np.arange(nq).astype(W) * step
    if nq > 1:
        r[-1] = W(1)
    return r


def _take(a, i):
    return a[np.clip(i, 0, len(a) - 1)]


def _interp_up(x, q, r):
    """skc_qt_interp_up: numpy.interp(x, q, r) for q[0] <= x <= q[-1]."""
    n = len(q)
    j = np.searchsorted(q, x, side="right") - 1
    j = np.clip(j, 0, n - 1)
    exact = (j == n - 1) | (_take(q, j) == x)
    q0, q1, r0, r1 = _take(q, j), _take(q, j + 1), _take(r, j), _take(r, j + 1)
    slope = (r1 - r0) / (q1 - q0)
    y = slope * (x - q0) + r0
    y2 = slope * (x - q1) + r1
    y = np.where(np.isnan(y), np.where(np.isnan(y2) & (r0 == r1), r0, y2), y)
    return np.where(exact, r0, y)


def _interp_down(x, q, r):
    """skc_qt_interp_down: -numpy.interp(-x, -q[::-1], -r[::-1])."""
    n = len(q)
    m = np.clip(np.searchsorted(q, x, side="left"), 0, n - 1)
    exact = (m == 0) | (_take(q, m) == x)
    q0, q1, r0, r1 = _take(q, m - 1), _take(q, m), _take(r, m - 1), _take(r, m)
    slope = (r1 - r0) / (q1 - q0)
    y = slope * (x - q1) + r1
    y2 = slope * (x - q0) + r0
    y = np.where(np.isnan(y), np.where(np.isnan(y2) & (r0 == r1), r1, y2), y)
    return np.where(exact, r1, y)


def _qt_forward(x, q, r, W):
    mid = W(0.5) * (_interp_up(x, q, r) + _interp_down(x, q, r))
    y = np.where(x < q[0], r[0], np.where(x > q[-1], r[-1], mid))
    return np.where(np.isnan(x), x, y)


def _qt_inverse(p, q, r):
    n = len(q)
    j = np.clip(np.searchsorted(r, p, side="right") - 1, 0, n - 1)
    r0, r1, q0, q1 = _take(r, j), _take(r, j + 1), _take(q, j), _take(q, j + 1)
    slope = (q1 - q0) / (r1 - r0)
    y = slope * (p - r0) + q0
    y2 = slope * (p - r1) + q1
    y = np.where(np.isnan(y), np.where(np.isnan(y2) & (q0 == q1), q0, y2), y)
    y = np.where((j == n - 1) | (r0 == p), q0, y)
    y = np.where(p < 0, q[0], np.where(p > 1, q[-1], y))
    return np.where(np.isnan(p), p, y)


@evaluator(_pre.QuantileTable)
def _quantile(op, xs, ctx):
    W = ctx.W
    Q = _quantile_table(op, ctx)
    r = _qt_refs(op.nq, W)
    thr = ctx.lit(op.threshold)
    cmin, cmax = W(ctx.lit(op.clip_min)), W(ctx.lit(op.clip_max))
    out = np.empty(xs[0].shape, dtype=ctx.T)
    for i in range(op.n):
        q = Q[i]
        v = xs[0][:, i].astype(W)
        if not op.inverse and op.normal:
            # the bound masks in double, like sklearn's float64 arrays
            vd, q0, q1 = v.astype(np.float64), np.float64(q[0]), np.float64(q[-1])
            p = np.where(vd - thr < q0, W(0), np.where(vd + thr > q1, W(1), _qt_forward(v, q, r, W)))
            z = _wide_special(_norm_ppf, p, ctx)
            z = np.where(z < cmin, cmin, np.where(z > cmax, cmax, z))
            y = z
        elif not op.inverse:
            y = np.where(v == q[0], W(0), np.where(v == q[-1], W(1), _qt_forward(v, q, r, W)))
        elif op.normal:
            p = _wide_special(_norm_cdf, v, ctx)
            pd = p.astype(np.float64)
            y = np.where(pd - thr < 0, q[0], np.where(pd + thr > 1, q[-1], _qt_inverse(p, q, r)))
        else:
            y = np.where(v == 0, q[0], np.where(v == 1, q[-1], _qt_inverse(v, q, r)))
        out[:, i] = y.astype(ctx.T)
    return out


def _round_half_away(x):
    t = np.trunc(x)
    return np.where(np.abs(x - t) >= 0.5, t + np.sign(x), t)


def _fdim(a, b):
    return np.where(a > b, a - b, np.where(np.isnan(a) | np.isnan(b), a + b, 0 * a))


#: MATH_FUNCTIONS name -> numpy function of FLOAT_T arrays
_LIBM: dict[str, Callable] = {
    "exp": np.exp, "exp2": np.exp2, "expm1": np.expm1, "log": np.log, "log2": np.log2, "log10": np.log10,
    "log1p": np.log1p, "sqrt": np.sqrt, "cbrt": np.cbrt, "sin": np.sin, "cos": np.cos, "tan": np.tan,
    "asin": np.arcsin, "acos": np.arccos, "atan": np.arctan, "sinh": np.sinh, "cosh": np.cosh,
    "tanh": np.tanh, "asinh": np.arcsinh, "acosh": np.arccosh, "atanh": np.arctanh, "fabs": np.abs,
    "floor": np.floor, "ceil": np.ceil, "trunc": np.trunc, "round": _round_half_away, "rint": np.rint,
    "erf": lambda x: _erf(x), "erfc": lambda x: _erfc(x),
    "tgamma": lambda x: _ufunc("gamma", math.gamma)(x),
    "lgamma": lambda x: _ufunc("gammaln", lambda v: math.lgamma(v))(x),
    "pow": np.power, "atan2": np.arctan2, "hypot": np.hypot, "fmin": np.fmin, "fmax": np.fmax,
    "fmod": np.fmod, "copysign": np.copysign, "fdim": _fdim,
}


def _expr(node, v, ctx):
    T, kind = ctx.T, node[0]
    if kind == "x":
        return v
    if kind == "num":
        return ctx.c(node[1])
    if kind == "neg":
        return -_expr(node[1], v, ctx)
    if kind == "bin":
        a, b = _expr(node[2], v, ctx), _expr(node[3], v, ctx)
        return {"+": np.add, "-": np.subtract, "*": np.multiply, "/": np.divide}[node[1]](a, b)
    args = [np.asarray(_expr(a, v, ctx), dtype=T) for a in node[2:]]
    if kind == "call":
        return np.asarray(_LIBM[node[1]](*args)).astype(T)
    if kind == "helper":
        a = args[0]
        if node[1] == "sign":
            return np.where(a > 0, T(1), np.where(a < 0, T(-1), a))
        fn = _norm_cdf if node[1] == "norm_cdf" else _norm_ppf
        return _wide_special(fn, a.astype(ctx.W), ctx).astype(T)
    raise NotImplementedError(f"evaluate: expression node {node!r}")


@evaluator(_pre.Expr)
def _expr_op(op, xs, ctx):
    return np.broadcast_to(_expr(op.tree, xs[0], ctx), xs[0].shape)


@evaluator(_pre.Normalize)
def _normalize(op, xs, ctx):
    x, T = xs[0], ctx.T
    cols = [x[:, i] for i in range(x.shape[1])]
    if op.norm == "l1":
        s = _seqsum([np.abs(c) for c in cols])
    elif op.norm == "l2":
        s = np.sqrt(_seqsum([c * c for c in cols]))
    else:
        s = np.zeros(len(x), dtype=T)
        for c in cols:
            a = np.abs(c)
            s = np.where((a > s) | np.isnan(a), a, s)
    s = np.where(s < ctx.lit(10 * 2.220446049250313e-16), T(1), s)
    return x / s[:, None]


@evaluator(_pre.OneHot)
def _onehot(op, xs, ctx):
    v = xs[0][:, op.feature]
    hit = np.where(op.isnan.astype(bool), np.isnan(v), v == ctx.c(op.value))
    return hit.astype(ctx.T)


@evaluator(_pre.Bins)
def _bins(op, xs, ctx):
    out = np.empty(xs[0].shape, dtype=ctx.T)
    e = ctx.c(op.edges) if op.edges.size else np.zeros(0, ctx.T)
    for i in range(op.n):
        edges = np.atleast_1d(e)[op.offsets[i]:op.offsets[i] + op.counts[i]]
        v = xs[0][:, i]
        k = np.searchsorted(edges, v, side="right")
        out[:, i] = np.where(np.isnan(v), op.counts[i], k)
    return out


@evaluator(_pre.Lookup)
def _lookup_op(op, xs, ctx):
    out = np.empty(xs[0].shape, dtype=ctx.T)
    vals = np.atleast_1d(ctx.c(op.values))
    for i in range(op.n):
        v = xs[0][:, i]
        last = int(op.counts[i]) - 1
        k = np.where(v <= 0, 0, np.where(v >= ctx.T(last), last, np.trunc(np.nan_to_num(v)))).astype(np.int64)
        j = op.offsets[i] + k
        y = np.where(op.isnan[j].astype(bool), ctx.T(np.nan), vals[j])
        out[:, i] = np.where(np.isnan(v), v, y)
    return out


def _missing(v, op, ctx):
    return np.isnan(v) if op.missing_is_nan else v == ctx.lit(op.missing)


@evaluator(_pre.FillNaN)
def _fillnan(op, xs, ctx):
    v = xs[0]
    return np.where(_missing(v, op, ctx), ctx.c(op.fill), v)


@evaluator(_pre.IsNaN)
def _isnan(op, xs, ctx):
    return _missing(xs[0][:, op.index], op, ctx).astype(ctx.T)


@evaluator(_pre.Monomials)
def _monomials(op, xs, ctx):
    x = xs[0]
    out = np.empty((len(x), op.n_out), dtype=ctx.T)
    for k in range(op.n_out):
        f = op.flat[op.offsets[k]:op.offsets[k] + op.counts[k]]
        if len(f) == 0:
            out[:, k] = 1
            continue
        p = x[:, f[0]]
        for j in f[1:]:
            p = p * x[:, j]
        out[:, k] = p
    return out


@evaluator(_pre.PowerMap)
def _power(op, xs, ctx):
    T = ctx.T
    out = np.empty(xs[0].shape, dtype=T)
    for i in range(op.n):
        v, lam = xs[0][:, i], ctx.c(op.lambdas[i])
        z, two = bool(op.zero[i]), bool(op.two[i])
        one, two_l = T(1), T(2) - lam
        if op.kind == "yeo-johnson" and not op.inverse:
            pos = np.log1p(v) if z else np.expm1(lam * np.log1p(v)) / lam
            neg = -np.log1p(-v) if two else -np.expm1(two_l * np.log1p(-v)) / two_l
            y = np.where(v >= 0, pos, neg)
        elif op.kind == "yeo-johnson":
            pos = np.exp(v) - one if z else np.power(v * lam + one, one / lam) - one
            neg = one - np.exp(-v) if two else one - np.power(-two_l * v + one, one / two_l)
            y = np.where(v >= 0, pos, neg)
        elif not op.inverse:
            y = np.log(v) if z else np.expm1(lam * np.log(v)) / lam
        else:
            y = np.exp(v) if z else np.exp(np.log1p(lam * v) / lam)
        out[:, i] = y
    return out


@evaluator(_pre.OneHotInverse)
def _onehot_inverse(op, xs, ctx):
    x, T = xs[0], ctx.T
    out = np.empty((len(x), op.n), dtype=T)
    vals = np.where(op.isnan.astype(bool), np.nan, op.values).astype(T) if op.values.size else np.zeros(1, T)
    for i in range(op.n):
        off, n = int(op.offsets[i]), int(op.counts[i])
        zero = T(np.nan) if op.zero_isnan[i] else ctx.c(op.zero[i])
        if n == 0:
            out[:, i] = zero
            continue
        b = x[:, off:off + n]
        m, s, best = b[:, 0], b[:, 0], np.zeros(len(x), np.int64)
        for k in range(1, n):
            s = s + b[:, k]
            take = ~np.isnan(m) & ((b[:, k] > m) | np.isnan(b[:, k]))
            m = np.where(take, b[:, k], m)
            best = np.where(take, k, best)
        out[:, i] = np.where(s == 0, zero, vals[off + best])
    return out


@evaluator(_pre.RestoreMissing)
def _restore_missing(op, xs, ctx):
    x, T = xs[0], ctx.T
    miss = T(np.nan) if op.missing_is_nan else ctx.c(op.missing)
    out = np.empty((len(x), op.n), dtype=T)
    for j in range(op.n):
        s, k = int(op.src[j]), int(op.ind[j])
        if s < 0:
            out[:, j] = miss
            continue
        flag = x[:, k] != 0 if k >= 0 else np.zeros(len(x), bool)
        out[:, j] = np.where(flag, miss, x[:, s])
    return out


@evaluator(_pre.Binarize)
def _binarize(op, xs, ctx):
    return (xs[0] > ctx.lit(op.threshold)).astype(ctx.T)


@evaluator(_pre.CategoryIndex)
def _category_index(op, xs, ctx):
    x, T = xs[0], ctx.T
    out = np.empty(x.shape, dtype=T)
    cats = np.atleast_1d(ctx.c(op.values)) if op.values.size else np.zeros(0, T)
    unknown = T(np.nan) if op.unknown_isnan else ctx.c(op.unknown)
    for i in range(op.n):
        t = cats[op.offsets[i]:op.offsets[i] + op.counts[i]]
        v = x[:, i]
        r = np.full(len(x), unknown, dtype=T)
        for k in range(len(t) - 1, -1, -1):  # the first match wins
            r = np.where(v == t[k], T(k), r)
        nanv = T(np.nan) if op.nan_isnan[i] else ctx.c(op.nan_value[i])
        out[:, i] = np.where(np.isnan(v), nanv, r)
    return out


# ---------------------------------------------------------------------------
# tree ops
# ---------------------------------------------------------------------------


def _leaves(tree: _trees.Tree, float_cmp: bool, xf, xc):
    """Node id of the leaf every row reaches in ``tree`` (explicit traversal;
    ``float_cmp``: compare in float against the largest float <= threshold)."""
    n = len(xf)
    node = np.zeros(n, np.int64)
    thr = _trees.float32_floor(tree.threshold) if float_cmp else tree.threshold
    is_cat = tree.is_cat if tree.is_cat is not None else np.zeros(tree.n_nodes, bool)
    rows = np.arange(n)
    table = np.zeros((tree.n_nodes, 8), np.uint32)  # each categorical node's bitset
    for i, b in tree.bitset.items():
        table[int(i)] = np.asarray(b, np.uint32).reshape(8)
    while True:
        active = tree.left[node] >= 0
        if not active.any():
            return node
        r, nd = rows[active], node[active]
        feat, nanl = tree.feature[nd], tree.nan_left[nd]
        v = xf[r, np.where(is_cat[nd], 0, feat)]  # a categorical node's feature is its xc slot
        t = thr[nd]
        go_left = np.where(nanl, ~(v > t), v <= t)
        cat = is_cat[nd]
        if cat.any():
            code = xc[r[cat], feat[cat]]
            words = table[nd[cat]]
            safe = np.maximum(code, 0)
            bit = (words[np.arange(len(safe)), safe >> 5] >> (safe & 31).astype(np.uint32)) & np.uint32(1)
            go_left[cat] = np.where(code < 0, nanl[cat], bit.astype(bool))
        node[active] = np.where(go_left, tree.left[nd], tree.right[nd])


def _category_codes(ens, x):
    """xc[]: the index of each categorical input among its sorted categories,
    -1 when unknown or NaN (the template's catidx, in double)."""
    xc = np.full((len(x), max(len(ens.categorical), 1)), -1, np.int64)
    for s, (col, cats) in enumerate(ens.categorical):
        v = x[:, col].astype(np.float64)
        if len(cats) == 0:
            continue
        i = np.clip(np.searchsorted(cats, v), 0, len(cats) - 1)
        xc[:, s] = np.where(cats[i] == v, i, -1)
    return xc


def _tree_ensemble(ens, xs, ctx):
    x = xs[0]
    float_cmp = ens.compare == "float32" or ctx.float_t == "float"
    xf = x.astype(np.float32) if float_cmp else x.astype(np.float64)
    xc = _category_codes(ens, x)
    n = len(x)
    acc = np.broadcast_to(ens.base.astype(np.float64), (n, ens.n_out)).copy()
    for k, t in enumerate(ens.trees):
        leaf = _leaves(t, float_cmp, xf, xc)
        off = ens.tree_offset(k)
        if ens.leaf_ids:
            acc[:, off] += t.leaf_id[leaf].astype(np.float64)
        else:
            acc[:, off:off + ens.width] += t.value[leaf]
    final = ens.final
    if final and final[0] == "threshold":
        hit = acc[:, 0] >= 0.0 if final[1] else acc[:, 0] > 0.0
        return hit.astype(ctx.T)[:, None]
    if ens.divisor is not None:
        acc = acc / np.float64(ens.divisor)
    if final:
        best = np.zeros(n, np.int64)
        for j in range(1, ens.n_out):
            best = np.where(acc[:, j] > acc[np.arange(n), best], j, best)
        return best.astype(ctx.T)[:, None]
    return acc.astype(ctx.T)


@evaluator(_trees.TreeEnsemble)
def _tree_ensemble_op(op, xs, ctx):
    return _tree_ensemble(op, xs, ctx)


@evaluator(_boosting.LightGBMInput)
def _lightgbm_input(op, xs, ctx):
    v = xs[0][:, op.src].astype(np.float64)
    kz = op.zero_threshold
    zero = (v >= -kz) & (v <= kz)
    nan = np.isnan(v)
    out = v.copy()
    for mode, (a, b) in op.ranges.items():
        s = slice(a, b)
        if mode == "none":
            out[:, s] = np.where(nan[:, s] | zero[:, s], 0.0, v[:, s])
        elif mode == "zero":
            out[:, s] = np.where(nan[:, s] | zero[:, s], np.nan, v[:, s])
        elif mode == "nan":
            out[:, s] = np.where(zero[:, s], 0.0, v[:, s])
        else:
            ok = (v[:, s] > -1.0) & (v[:, s] < 2147483648.0)
            out[:, s] = np.where(ok, np.trunc(np.where(ok, v[:, s], 0.0)) + 0.0, np.nan)  # (int)v: no -0
    return out.astype(ctx.T)


@evaluator(_boosting.XGBoostInput)
def _xgboost_input(op, xs, ctx):
    x = xs[0]
    with np.errstate(over="ignore", invalid="ignore"):
        f = x.astype(np.float32)
    nan = ctx.T(np.nan)
    miss = np.isnan(f) if op.missing_is_nan else (np.isnan(f) | (f == np.float32(op.missing)))
    y = x if op.missing_is_nan else np.where(f == np.float32(op.missing), nan, x)
    ok = (f >= 0) & (f < op.max_cat)
    code = np.trunc(np.where(ok, f, 0)).astype(np.int64)
    cat = np.where(miss, op.cat_missing, np.where(ok, code, op.cat_invalid))[:, op.cat_src]
    member = np.zeros((len(x), len(op.member_src)))
    for k, (s, o, m) in enumerate(zip(op.member_src, op.member_off, op.member_n, strict=False)):
        hit = ok[:, s] & np.isin(code[:, s], op.member_codes[o:o + m])
        member[:, k] = np.where(miss[:, s], np.nan, hit.astype(np.float64))
    return np.concatenate([y, cat.astype(ctx.T), member.astype(ctx.T)], axis=1).astype(ctx.T)


@evaluator(_heads.ArgMax)
def _argmax(op, xs, ctx):
    x = xs[0]
    if x.shape[1] == 1:
        t = ctx.lit(op.threshold)
        hit = x[:, 0] >= t if op.inclusive else x[:, 0] > t
        return hit.astype(ctx.T)[:, None]
    n = len(x)
    best = np.zeros(n, np.int64)
    for i in range(1, x.shape[1]):
        best = np.where(x[:, i] > x[np.arange(n), best], i, best)
    return best.astype(ctx.T)[:, None]


@evaluator(_heads.Normalize)
def _tree_normalize(op, xs, ctx):
    x, T = xs[0], ctx.T
    n = x.shape[1]
    s = _seqsum([x[:, i] for i in range(n)])[:, None]
    return np.where(s == 0, T(1) / T(n), x / s)


@evaluator(_rnn.Recurrent)
def _recurrent(op, xs, ctx):
    """``templates/ops/recurrent.c.j2``: the state of every row, step by step."""
    T, u, n_t = ctx.T, op.units, op.n_steps
    n = len(xs[0])
    x = xs[0].reshape(n, n_t, op.n_gates * u)
    h = np.zeros((n, u), dtype=T)
    cs = np.zeros((n, u), dtype=T)
    rb = op.rb if op.rb is not None else np.zeros(op.m)
    out = np.zeros((n, n_t, u), dtype=T)

    def a(v):
        return _activation(op.act, v, op.act_params, ctx)

    def ra(v):
        return _activation(op.ract, v, op.ract_params, ctx)

    for s in range(n_t):
        xt = x[:, n_t - 1 - s if op.backwards else s]
        z = _dense_acc(op.U_main, rb, h, ctx)
        if op.kind == "simple":
            h = a(xt + z)
        elif op.kind == "lstm":
            g = [xt[:, k * u:(k + 1) * u] + z[:, k * u:(k + 1) * u] for k in range(4)]
            cs = ra(g[1]) * cs + ra(g[0]) * a(g[2])
            h = ra(g[3]) * a(cs)
        else:
            gz = ra(xt[:, :u] + z[:, :u])
            gr = ra(xt[:, u:2 * u] + z[:, u:2 * u])
            if op.reset_after:
                hh = a(xt[:, 2 * u:] + gr * z[:, 2 * u:])
            else:
                hh = a(xt[:, 2 * u:] + _dense_acc(op.U_h, np.zeros(u), gr * h, ctx))
            h = gz * h + (T(1) - gz) * hh
        out[:, n_t - 1 - s if op.reverse_out else s] = h
    return out.reshape(n, -1) if op.sequences else h
