"""The renderer on hand-built graphs: buffer reuse, in-place ops, aliasing
(out == in), identity graphs, shared ops — checked against numpy."""
import cffi
import numpy as np
import pytest
from util import compile_strict, same_bits

import scikinc
from scikinc.core import finish
from scikinc.ir import Activation, Binary, Concat, Dense, Gather, Graph, Softmax
from scikinc.render import Entry, render_file


def _so(entries, tmp_path, float_t="float"):
    src = render_file(entries, float_t=float_t, copyright=None, version="test")
    compile_strict(src, tmp_path)
    return scikinc.compile(src, tmp_path / "ir.so")


def _residual_graph(rng, n_in=7, width=16, blocks=3, n_out=4):
    g = Graph(n_in)
    ref = []
    W0, b0 = rng.normal(size=(n_in, width)), rng.normal(size=width)
    x = g.add(Activation("leaky_relu", alpha=0.1), g.add(Dense(W0, b0), g.input))
    ref.append(("dense_leaky", W0, b0))
    for _ in range(blocks):
        W, b = rng.normal(size=(width, width)) / 4, rng.normal(size=width)
        h = g.add(Activation("relu"), g.add(Dense(W, b), x))
        x = g.add(Binary("add"), x, h)
        ref.append(("block", W, b))
    W1, b1 = rng.normal(size=(width, n_out)), rng.normal(size=n_out)
    skip = g.add(Gather([0, 2, 4, 6]), g.input)
    y = g.add(Binary("add"), g.add(Dense(W1, b1), x), skip)
    g.output = g.add(Softmax(), y)
    ref.append(("out", W1, b1))

    def numpy_ref(X):
        h = None
        for kind, W, b in ref:
            if kind == "dense_leaky":
                z = X @ W + b
                h = np.where(z > 0, z, 0.1 * z)
            elif kind == "block":
                h = h + np.maximum(h @ W + b, 0)
            else:
                z = h @ W + b + X[:, [0, 2, 4, 6]]
                z = np.exp(z - z.max(1, keepdims=True))
                return z / z.sum(1, keepdims=True)
    return g, numpy_ref


@pytest.mark.parametrize("float_t,tol", [("float", 1e-5), ("double", 1e-12)])
def test_residual_graph_matches_numpy(tmp_path, float_t, tol):
    rng = np.random.default_rng(0)
    g, ref = _residual_graph(rng)
    so = _so([Entry("net", finish(g))], tmp_path, float_t)
    f = scikinc.load(so, "net")
    X = rng.normal(size=(1000, 7)) * 3
    np.testing.assert_allclose(f(X), ref(X), rtol=tol, atol=tol)
    # liveness: three buffers at most despite ~15 values
    src = (tmp_path / "ir.c").read_text()
    assert "b3[" not in src


def test_out_may_alias_in(tmp_path):
    """A host calling f(buf, buf) gets the same answer as with two buffers."""
    rng = np.random.default_rng(1)
    entries = []
    g = Graph(6)  # non-elementwise op reading `in` last: needs a final copy
    g.output = g.add(Gather([5, 4, 3, 2, 1, 0]), g.input)
    entries.append(Entry("rev", finish(g)))
    g = Graph(6)
    g.output = g.add(Dense(rng.normal(size=(6, 6))), g.input)
    entries.append(Entry("lin", finish(g)))
    g = Graph(6)
    g.output = g.add(Concat(), g.add(Activation("tanh"), g.input), g.input)
    entries.append(Entry("cat", finish(g)))
    g = Graph(6)
    g.output = g.input  # identity
    entries.append(Entry("ident", finish(g)))
    so = _so(entries, tmp_path)
    ffi = cffi.FFI()
    ffi.cdef("float *rev(float *, const float *); float *lin(float *, const float *);"
             "float *ident(float *, const float *);")
    lib = ffi.dlopen(str(so))
    for name in ("rev", "lin", "ident"):
        x = rng.normal(size=6).astype(np.float32)
        expect = scikinc.load(so, name)(x)
        buf = x.copy()
        p = ffi.from_buffer("float[]", buf)
        getattr(lib, name)(p, p)
        assert same_bits(buf, expect), name
    f = scikinc.load(so, "cat")
    x = rng.normal(size=6)
    np.testing.assert_allclose(f(x), np.concatenate([np.tanh(x), x]), rtol=1e-6)


def test_activations_and_binary_ops(tmp_path):
    rng = np.random.default_rng(2)
    kinds = {
        "relu": lambda x: np.maximum(x, 0),
        "sigmoid": lambda x: 1 / (1 + np.exp(-x)),
        "tanh": np.tanh,
        "square": np.square,
        "negative": np.negative,
        "abs": np.abs,
    }
    entries = []
    for k in kinds:
        g = Graph(5)
        g.output = g.add(Activation(k), g.input)
        entries.append(Entry("a_" + k, finish(g)))
    combos = {"add": lambda a, b: a + b, "sub": lambda a, b: a - b, "mul": lambda a, b: a * b,
              "max": np.maximum, "min": np.minimum, "avg": lambda a, b: (a + b) / 2}
    for k in combos:
        g = Graph(5)
        t = g.add(Activation("tanh"), g.input)
        g.output = g.add(Binary(k), g.input, t)
        entries.append(Entry("b_" + k, finish(g)))
    so = _so(entries, tmp_path, "double")
    X = rng.normal(size=(1000, 5)) * 20
    X[0] = [-1e300, 1e300, 0, -0.0, 745.5]  # sigmoid must not overflow
    with np.errstate(over="ignore"):
        for k, fn in kinds.items():
            np.testing.assert_allclose(scikinc.load(so, "a_" + k)(X), fn(X), rtol=1e-14, err_msg=k)
    for k, fn in combos.items():
        np.testing.assert_allclose(scikinc.load(so, "b_" + k)(X), fn(X, np.tanh(X)), rtol=1e-14, atol=1e-15, err_msg=k)


@pytest.mark.parametrize("float_t", ["float", "double", "long double"])
def test_special_and_extreme_literals_round_trip(tmp_path, float_t):
    """NaN, infinities, signed zero, subnormals and extremes survive the
    number formatting exactly (shortest literals, no %.20f)."""
    from scikinc.ir import Constant

    vals = np.array([np.nan, np.inf, -np.inf, -0.0, 0.0, 1e-45, 1.4e-45, 3.4028234663852886e38, 0.1,
                     1 / 3, -2.5e-310, 5e-324, 1.7976931348623157e308, 123456789.0, 1e22])
    g = Graph(1)
    g.output = g.add(Constant(vals), g.input)
    so = _so([Entry("lits", finish(g))], tmp_path, float_t)
    got = scikinc.load(so, "lits")(np.zeros(1))
    dt = {"float": np.float32, "double": np.float64, "long double": np.longdouble}[float_t]
    with np.errstate(over="ignore"):
        expect = vals.astype(dt)
    assert same_bits(got, expect), (got, expect)
