"""Keras beyond vectors (issue #16) against the real Keras models: several
inputs and outputs (concatenated row-major in model order, shape metadata
exported), tensors of rank >= 3 through per-position layers, merges with
broadcasting, shape layers, convolutions and pooling.  Each model runs on
>= 1000 rows including edge values, in float and in double; many models share
one .so per test."""
import ctypes
import os
import subprocess
import sys

import numpy as np
import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
keras = pytest.importorskip("keras")

from util import check_contract, compile_strict  # noqa: E402

import scikinc  # noqa: E402
from scikinc.errors import UnsupportedModelError  # noqa: E402

pytestmark = pytest.mark.keras
L = keras.layers
FLOAT_TS = ("float", "double")
TOL = {"float": 2e-5, "double": 2e-5}  # Keras computes in float32 either way


def dims(t) -> tuple:
    return tuple(int(d) for d in t.shape[1:])


def rows_for(model, n=1200, seed=0):
    """Flat rows (inputs concatenated row-major): N(0, 1), N(0, 30), a few
    large values, exact zeros and rows of +-1e3..2e3."""
    width = sum(int(np.prod(dims(t))) for t in model.inputs)
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, width))
    X[n // 2:] *= 30
    X[-n // 10:] = rng.uniform(-1e3, 1e3, size=(n // 10, width))
    X[0] = 0.0
    X[1] = 1e3 * (1 + np.arange(width) / width)  # large, not constant (a constant row is
    X[2] = -X[1]  # pure rounding noise after a LayerNormalization, in Keras too)
    X[3, ::2] = 0.0
    return X.astype(np.float32)


def keras_ref(model, X):
    """Keras on the flat rows: split into the model's inputs, outputs
    flattened and concatenated in order."""
    parts, off = [], 0
    for t in model.inputs:
        d = dims(t)
        w = int(np.prod(d))
        parts.append(X[:, off:off + w].reshape((len(X), *d)))
        off += w
    out = model(parts if len(parts) > 1 else parts[0], training=False)
    outs = out if isinstance(out, (list, tuple)) else [out]
    return np.concatenate([np.asarray(o, dtype=np.float64).reshape(len(X), -1) for o in outs], axis=1)


def close(got, want, tol):
    got, want = np.asarray(got, np.float64), np.asarray(want, np.float64)
    assert got.shape == want.shape, (got.shape, want.shape)
    scale = 1 + np.abs(want).max(axis=1, keepdims=True)  # per-row scale: sums of large terms
    bad = ~(np.abs(got - want) <= tol * scale)
    if bad.any():
        i = tuple(np.argwhere(bad)[0])
        raise AssertionError(f"{bad.sum()} mismatches; first at {i}: got {got[i]!r}, want {want[i]!r}")


def check_models(models, tmp_path, X_for=rows_for):
    """Every model vs Keras, float and double builds; returns the .so paths."""
    data = {k: X_for(m) for k, m in models.items()}
    want = {k: keras_ref(m, data[k]) for k, m in models.items()}
    for ft in FLOAT_TS:
        d = tmp_path / ft.replace(" ", "_")
        d.mkdir()
        fns = check_contract(models, d, float_t=ft)
        for k, f in fns.items():
            X = data[k]
            batch = f(X)
            single = np.stack([f(r) for r in X[:40]])
            assert batch[:40].tobytes() == single.tobytes(), f"{k}: batch differs from single"
            try:
                close(batch, want[k], TOL[ft])
            except AssertionError as e:
                raise AssertionError(f"{k} ({ft}): {e}") from None


def meta(so, name, key, n=None):
    lib = ctypes.CDLL(str(so))
    if n is None:
        return ctypes.c_int.in_dll(lib, f"{name}_{key}").value
    return list((ctypes.c_int * n).in_dll(lib, f"{name}_{key}"))


# ---------------------------------------------------------------------------
# 1. several inputs and outputs
# ---------------------------------------------------------------------------

def _multi_io():
    keras.utils.set_random_seed(3)
    a, b, c = keras.Input((3,), name="a"), keras.Input((2,), name="b"), keras.Input((4,), name="c")
    h = L.Concatenate()([L.Dense(5, activation="relu")(a), b])
    y1 = L.Dense(2, name="y1")(h)
    y2 = L.Dense(3, activation="tanh", name="y2")(L.Add()([L.Dense(3)(c), L.Dense(3)(h)]))
    m = {"mio": keras.Model([a, b, c], [y2, y1, b], name="mio")}  # outputs in a different order, one input passed
    # inputs listed in another order than they are used; one unused input
    p, q, r = keras.Input((2,)), keras.Input((3,)), keras.Input((1,))
    m["order"] = keras.Model([q, p, r], L.Dense(2)(L.Concatenate()([p, q])), name="order")
    # a nested two-input two-output model called inside another
    i1, i2 = keras.Input((3,)), keras.Input((3,))
    inner = keras.Model([i1, i2], [L.Multiply()([i1, i2]), L.Subtract()([i1, i2])], name="inner")
    o1, o2 = keras.Input((3,)), keras.Input((3,))
    u, v = inner([o2, o1])
    m["nested"] = keras.Model([o1, o2], L.Dense(2)(L.Concatenate()([v, L.Dense(3)(u)])), name="nested")
    return m


def test_multi_input_output(tmp_path):
    check_models(_multi_io(), tmp_path)


def test_multi_io_metadata(tmp_path):
    m = _multi_io()["mio"]
    so = scikinc.compile({"mio": m}, tmp_path / "mio.so", float_t="double")
    assert meta(so, "mio", "n_inputs") == 9 and meta(so, "mio", "n_outputs") == 7
    assert meta(so, "mio", "n_input_tensors") == 3 and meta(so, "mio", "n_output_tensors") == 3
    assert meta(so, "mio", "input_ranks", 3) == [1, 1, 1]
    assert meta(so, "mio", "input_sizes", 3) == [3, 2, 4]
    assert meta(so, "mio", "input_shapes", 3) == [3, 2, 4]
    assert meta(so, "mio", "output_sizes", 3) == [3, 2, 2]
    header = scikinc.header({"mio": m}, float_t="double")
    assert "mio_input_shapes[3];" in header and "mio_n_output_tensors;" in header
    # a host including the header sees the arrays
    host = header + ("int host(void);\nint host(void) { return mio_input_shapes[2] + mio_output_ranks[0]"
                     " + mio_n_input_tensors; }\n")
    compile_strict(host, tmp_path, "host")


def test_refusals_name_every_layer():
    a, b = keras.Input((6,)), keras.Input((4,))
    h = L.Lambda(lambda t: t * 2, name="doubler")(a)
    h = L.Dense(3)(h)
    k = L.Lambda(lambda t: t + 1, name="plus_one")(b)
    m = keras.Model([a, b], [h, L.Dense(2)(k)])
    with pytest.raises(UnsupportedModelError) as e:
        scikinc.convert(m)
    msg = str(e.value)
    assert "cannot convert 2 layers" in msg
    assert "'doubler'" in msg and "'plus_one'" in msg
    assert msg.count("Supported layers:") == 1 and "register_converter" in msg


def test_cli_refusal_names_every_layer(tmp_path):
    a = keras.Input((6,))
    h = L.UnitNormalization(name="unit_a")(L.Dense(4)(a))
    m = keras.Model(a, L.UnitNormalization(name="unit_b")(L.Dense(3)(h)))
    path = tmp_path / "units.keras"
    m.save(path)
    res = subprocess.run([sys.executable, "-m", "scikinc", str(path), "-o", str(tmp_path / "x.C")],
                         capture_output=True, text=True)
    assert res.returncode != 0
    assert "scikinC: error:" in res.stderr and "'unit_a'" in res.stderr and "'unit_b'" in res.stderr


# ---------------------------------------------------------------------------
# 2. rank >= 3: per-position layers, merges with broadcasting, shape layers
# ---------------------------------------------------------------------------

def randomize(model, seed=0):
    """Non-trivial weights everywhere (BatchNormalization statistics too)."""
    rng = np.random.default_rng(seed)
    for w in model.weights:
        shape = tuple(w.shape)
        if "variance" in w.path:
            w.assign(rng.uniform(0.5, 2.0, shape).astype(np.float32))
        elif w.dtype in ("float32", "float64"):
            w.assign((rng.normal(size=shape) * 0.5).astype(np.float32))
    return model


def _seq(name, shape, *layers):
    return randomize(keras.Sequential([keras.Input(shape), *layers], name=name), seed=len(name))


def _fn(name, inputs, output):
    return randomize(keras.Model(inputs, output, name=name), seed=len(name))


def _rank3_models():
    keras.utils.set_random_seed(7)
    ops = keras.ops
    m = {}
    m["pos_dense"] = _seq("pos_dense", (5, 4), L.Dense(6, activation="relu"), L.Dense(3, activation="softmax"),
                          L.Flatten(), L.Dense(2))
    m["pos_dense4"] = _seq("pos_dense4", (2, 3, 4), L.Dense(5, activation="tanh"), L.Dense(1))
    m["timedist"] = _seq("timedist", (4, 2, 3), L.TimeDistributed(L.Flatten()), L.TimeDistributed(L.Dense(3)),
                         L.TimeDistributed(L.Dense(2, activation="sigmoid")))
    a, b, c = keras.Input((4, 3)), keras.Input((1, 3)), keras.Input((4, 1))
    outs = [L.Add()([a, b]), L.Multiply()([a, c]), L.Maximum()([a, b, c]), L.Subtract()([c, b]),
            L.Average()([a, c]), L.Minimum()([b, c])]
    m["merge_bcast"] = _fn("merge_bcast", [a, b, c], L.Concatenate(axis=1)(outs))
    a, b = keras.Input((2, 3)), keras.Input((4, 3))
    v = keras.Input((3,))
    cat1 = L.Concatenate(axis=1)([a, b])
    cat2 = L.Concatenate(axis=-1)([b, L.Permute((2, 1))(L.Dense(4)(L.Permute((2, 1))(a)))])
    rep = L.RepeatVector(4)(v)
    m["concat_axes"] = _fn("concat_axes", [a, b, v], [L.Flatten()(cat1), cat2, L.Add()([rep, b])])
    m["permute3"] = _seq("permute3", (2, 3, 4), L.Permute((3, 1, 2)), L.Dense(2), L.Reshape((8, 2)), L.Dense(3))
    m["norms"] = _seq("norms", (3, 4), L.BatchNormalization(axis=1), L.BatchNormalization(),
                      L.LayerNormalization(axis=1), L.LayerNormalization(axis=-1), L.Dense(3))
    m["norms4"] = _seq("norms4", (2, 3, 4), L.LayerNormalization(axis=[1, 3]), L.BatchNormalization(axis=2),
                       L.LayerNormalization(axis=[1, 2, 3], center=False))
    m["softmaxes"] = _seq("softmaxes", (3, 4), L.Dense(4), L.Softmax(axis=1), L.Dense(4), L.Activation("softmax"),
                          L.PReLU(shared_axes=[1]), L.Dense(5), L.Softmax(axis=(1, 2)))
    m["rescale"] = _seq("rescale", (3, 4), L.Rescaling(scale=0.5, offset=-1.0),
                        L.Normalization(axis=-1, mean=np.arange(4.0), variance=np.arange(1.0, 5.0)),
                        L.Normalization(axis=(1, 2), mean=np.arange(12.0).reshape(3, 4),
                                        variance=np.full((3, 4), 2.0)))
    x, y = keras.Input((4, 3)), keras.Input((1, 3))
    h = ops.add(x, y) * np.array([1.0, -2.0, 0.5], dtype=np.float32) - 1.0
    h = ops.transpose(ops.softmax(h, axis=1), (0, 2, 1))
    m["ops"] = _fn("ops", [x, y], ops.concatenate([h, ops.maximum(ops.transpose(x, (0, 2, 1)), 0.0)], axis=2))
    return m


def test_rank3_layers(tmp_path):
    check_models(_rank3_models(), tmp_path)


def test_position_dense_stores_weights_once():
    m = _seq("pd", (40, 8), L.Dense(16))
    src = scikinc.convert(m)
    assert src.count("_W[128]") == 1  # one 8x16 table for the 40 positions
    assert "PositionDense" in src


# ---------------------------------------------------------------------------
# 3. convolutions, pooling, padding / cropping / upsampling (1-D and 2-D)
# ---------------------------------------------------------------------------

def _conv_models():
    keras.utils.set_random_seed(11)
    cf = {"data_format": "channels_first"}
    m = {}
    m["conv1d"] = _seq("conv1d", (20, 3), L.Conv1D(4, 3, activation="relu"),
                       L.Conv1D(4, 3, strides=2, padding="same"),
                       L.Conv1D(6, 3, dilation_rate=2, padding="causal", groups=2, activation="tanh"),
                       L.MaxPooling1D(2), L.AveragePooling1D(3, strides=2, padding="same"),
                       L.Conv1D(3, 2, strides=2, padding="same", use_bias=False, activation="softmax"),
                       L.GlobalAveragePooling1D(), L.Dense(2))
    m["conv1d_cf"] = _seq("conv1d_cf", (3, 17), L.Conv1D(4, 4, strides=3, padding="same", **cf),
                          L.MaxPooling1D(2, padding="same", **cf), L.AveragePooling1D(2, **cf),
                          L.Conv1D(2, 1, **cf), L.Flatten())
    m["gpool1d"] = _fn("gpool1d", (i := keras.Input((6, 5))),
                       [L.GlobalMaxPooling1D()(i), L.GlobalMaxPooling1D(data_format="channels_first")(i),
                        L.GlobalAveragePooling1D(data_format="channels_first", keepdims=True)(i)])
    m["pad1d"] = _seq("pad1d", (7, 2), L.ZeroPadding1D((1, 2)), L.Cropping1D((2, 1)), L.UpSampling1D(3),
                      L.Conv1D(2, 3), L.ZeroPadding1D(1), L.Flatten(), L.Dense(3))
    m["conv2d"] = _seq("conv2d", (10, 9, 2), L.Conv2D(3, (3, 2), strides=(2, 1), padding="same", activation="elu"),
                       L.Conv2D(4, 2, dilation_rate=2), L.MaxPooling2D((2, 2), padding="same"),
                       L.AveragePooling2D(2, strides=1, padding="same"), L.Conv2D(4, 1, groups=2),
                       L.GlobalMaxPooling2D(), L.Dense(2))
    m["conv2d_cf"] = _seq("conv2d_cf", (2, 8, 7), L.Conv2D(4, 3, padding="same", **cf),
                          L.Conv2D(4, (2, 3), strides=2, groups=2, **cf), L.MaxPooling2D(2, padding="same", **cf),
                          L.AveragePooling2D((1, 2), **cf), L.Flatten(), L.Dense(3))
    i = keras.Input((5, 4, 3))
    j = keras.Input((3, 5, 4))
    m["pad2d"] = _fn("pad2d", [i, j], [
        L.Flatten()(L.UpSampling2D((2, 1))(L.Cropping2D(((1, 1), (0, 2)))(L.ZeroPadding2D(((1, 0), (2, 1)))(i)))),
        L.GlobalAveragePooling2D(**cf)(L.UpSampling2D(2, **cf)(L.Cropping2D(1, **cf)(L.ZeroPadding2D(1, **cf)(j)))),
        L.GlobalAveragePooling2D()(i)])
    return m


def test_conv_pool(tmp_path):
    check_models(_conv_models(), tmp_path)


def test_conv_weights_stored_once_and_refusals():
    m = _seq("cw", (50, 4), L.Conv1D(8, 3))
    src = scikinc.convert(m)
    assert src.count("_W[96]") == 1  # one 3x4x8 kernel for the 48 output positions
    m = _seq("bicubic", (4, 4, 1), L.UpSampling2D(2, interpolation="bicubic"))
    with pytest.raises(UnsupportedModelError, match="bicubic"):
        scikinc.convert(m)


# ---------------------------------------------------------------------------
# 4. Embedding (integer inputs passed as floats)
# ---------------------------------------------------------------------------

def _embedding_rows(model, n=1200, seed=1):
    rng = np.random.default_rng(seed)
    X = rng.integers(0, 7, size=(n, 5)) + rng.uniform(0, 0.999, size=(n, 5)) * (np.arange(n) % 2)[:, None]
    X[0], X[1] = 0.0, 6.0
    X[2] = [0.0, 0.5, 6.999, 6.0, 3.0]
    return X.astype(np.float32)


def test_embedding(tmp_path):
    keras.utils.set_random_seed(13)
    i = keras.Input((5,))
    e = L.Embedding(7, 3)(i)
    m = {"emb": _fn("emb", i, [L.Dense(2)(L.Flatten()(e)), L.GlobalAveragePooling1D()(L.Dense(4)(e))])}
    check_models(m, tmp_path, X_for=_embedding_rows)
    # outside (-1, 7) and NaN: a row of zeros (Keras raises on such indices); -0.5 truncates to row 0
    layer = L.Embedding(7, 3)
    emb = keras.Sequential([keras.Input((5,)), layer])
    f = scikinc.load(scikinc.compile({"e": emb}, tmp_path / "e.so", float_t="double"), "e")
    got = f(np.array([[-1.0, 7.0, np.nan, 1e9, -0.5]])).reshape(5, 3)
    assert np.array_equal(got[:4], np.zeros((4, 3)))
    assert np.array_equal(got[4], np.asarray(layer.embeddings, dtype=np.float64)[0])
