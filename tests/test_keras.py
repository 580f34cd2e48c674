"""Keras converters vs the real Keras models (float) and vs float64 numpy
re-implementations (double): every layer and activation, residual and nested
graphs, model files, refusals.  Many tiny models share one .so per test."""
import functools
import math
import os
import re
import subprocess
import sys
import textwrap

import numpy as np
import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
keras = pytest.importorskip("keras")

from util import build, check_contract, cpu_flags, same_bits, single_row_code  # noqa: E402

import scikinc  # noqa: E402
from scikinc.errors import UnsupportedModelError  # noqa: E402

pytestmark = pytest.mark.keras
L = keras.layers


def close(got, want, tol=1e-5):
    """|got - want| <= tol * (1 + |want|) (inf == inf of the same sign)."""
    got, want = np.asarray(got, np.float64), np.asarray(want, np.float64)
    assert got.shape == want.shape
    ok = np.isclose(got, want, rtol=tol, atol=tol)
    if not ok.all():
        i = np.argwhere(~ok)[0]
        raise AssertionError(f"{(~ok).sum()} mismatches; first at {tuple(i)}: got {got[tuple(i)]!r}, "
                             f"want {want[tuple(i)]!r}")


def _rows(n_in, n=10000, seed=0):
    """Random rows: mostly N(0, 1) and N(0, 30), some large (|x| ~ 1e3 .. 1e4)."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, n_in))
    X[n // 2:] *= 30
    X[-n // 10:] = rng.uniform(-1e4, 1e4, size=(n // 10, n_in))
    X[0], X[1], X[2] = 0.0, 1e3, -1e3
    return X.astype(np.float32)


def _keras(m, X):
    return np.asarray(m(X, training=False), dtype=np.float64)


# ---------------------------------------------------------------------------
# Activations: one case each, Keras (float) and numpy float64 (double)
# ---------------------------------------------------------------------------

def _sig(x):
    return np.where(x >= 0, 1 / (1 + np.exp(-np.abs(x))), np.exp(-np.abs(x)) / (1 + np.exp(-np.abs(x))))


def _softplus(x):
    return np.logaddexp(0.0, x)


_erf = np.vectorize(math.erf)
_SELU_A, _SELU_S = 1.6732632423543772848170429916717, 1.0507009873554804934193349852946


def _softmax(x, log=False):
    z = x - x.max(1, keepdims=True)
    s = np.exp(z).sum(1, keepdims=True)
    return z - np.log(s) if log else np.exp(z) / s


ACTIVATIONS = {  # name: (keras activation, float64 reference)
    "linear": ("linear", lambda x: x),
    "relu": ("relu", lambda x: np.maximum(x, 0)),
    "relu6": ("relu6", lambda x: np.clip(x, 0, 6)),
    "leaky_relu": ("leaky_relu", lambda x: np.where(x > 0, x, 0.2 * x)),
    "elu": ("elu", lambda x: np.where(x > 0, x, np.expm1(np.minimum(x, 0)))),
    "selu": ("selu", lambda x: _SELU_S * np.where(x > 0, x, _SELU_A * np.expm1(np.minimum(x, 0)))),
    "gelu": ("gelu", lambda x: 0.5 * x * (1 + _erf(x / np.sqrt(2)))),
    "gelu_tanh": (functools.partial(keras.activations.gelu, approximate=True),
                  lambda x: np.where(np.abs(x) > 1e4, np.maximum(x, 0), 0.5 * x * (1 + np.tanh(
                      0.7978845608028654 * (x + 0.044715 * np.clip(x, -1e4, 1e4) ** 3))))),
    "sigmoid": ("sigmoid", _sig),
    "hard_sigmoid": ("hard_sigmoid", lambda x: np.clip(x + 3, 0, 6) / 6),
    "hard_silu": ("hard_silu", lambda x: x * np.clip(x + 3, 0, 6) / 6),
    "silu": ("silu", lambda x: x * _sig(x)),
    "swish": ("swish", lambda x: x * _sig(x)),
    "mish": ("mish", lambda x: x * np.tanh(_softplus(x))),
    "softplus": ("softplus", _softplus),
    "softsign": ("softsign", lambda x: x / (1 + np.abs(x))),
    "tanh": ("tanh", np.tanh),
    "exponential": ("exponential", np.exp),
    "softmax": ("softmax", _softmax),
    "log_softmax": ("log_softmax", functools.partial(_softmax, log=True)),
}


def _act_models():
    models = {}
    for name, (act, _) in ACTIVATIONS.items():
        models["a_" + name] = keras.Sequential([keras.Input((6,)), L.Activation(act)], name="a_" + name)
    # fused into the dense epilogue (and the plain Dense + activation path)
    keras.utils.set_random_seed(1)
    for name in ("relu", "leaky_relu", "relu6", "hard_sigmoid", "hard_silu", "sigmoid", "elu", "tanh"):
        models["d_" + name] = keras.Sequential(
            [keras.Input((6,)), L.Dense(70, activation=ACTIVATIONS[name][0]), L.Dense(3)], name="d_" + name)
    return models


@pytest.fixture(scope="module")
def act_libs(tmp_path_factory):
    models = _act_models()
    tmp = tmp_path_factory.mktemp("acts")
    X = _rows(6)
    fns = {ft: check_contract(models, tmp, float_t=ft, X=X) for ft in ("float", "double")}
    return models, fns, X


@pytest.mark.parametrize("name", list(ACTIVATIONS))
def test_activation(act_libs, name):
    models, fns, X = act_libs
    f32, f64 = fns["float"]["a_" + name], fns["double"]["a_" + name]
    with np.errstate(over="ignore", invalid="ignore"):
        close(f32(X), _keras(models["a_" + name], X))
        close(f64(X.astype(np.float64)), ACTIVATIONS[name][1](X.astype(np.float64)), 1e-10)


@pytest.mark.parametrize("name", ["relu", "leaky_relu", "relu6", "hard_sigmoid", "hard_silu", "sigmoid",
                                  "elu", "tanh"])
def test_dense_with_activation(act_libs, name):
    models, fns, X = act_libs
    m = models["d_" + name]
    Xs = X[:5000]  # moderate inputs: the dense sums keep float rounding near 1e-7 relative
    close(fns["float"]["d_" + name](Xs), _keras(m, Xs))
    (W0, b0), (W1, b1) = [(lyr.kernel.numpy().astype(np.float64), lyr.bias.numpy().astype(np.float64))
                          for lyr in m.layers]
    ref = ACTIVATIONS[name][1](Xs.astype(np.float64) @ W0 + b0) @ W1 + b1
    close(fns["double"]["d_" + name](Xs.astype(np.float64)), ref, 1e-10)


def test_activations_raise_no_fpe(act_libs, tmp_path):
    """Hosts trap FE_OVERFLOW|FE_INVALID|FE_DIVBYZERO: no activation may raise
    one, whatever the (finite) input."""
    models, fns, X = act_libs
    so = fns["float"]["a_relu"].path
    names = ["a_" + n for n in ACTIVATIONS]
    code = textwrap.dedent(f"""
        import ctypes, numpy as np, scikinc
        fs = [scikinc.load({str(so)!r}, n) for n in {names!r}]
        x = np.array([[1e30, -1e30, 3e4, -3e4, 88.5, -104.0], [0.0, -0.0, 1e-40, -1e-40, 700.0, -745.0]],
                     dtype=np.float32)
        libm = ctypes.CDLL("libm.so.6")
        libm.feenableexcept(0x08 | 0x01 | 0x04)  # FE_OVERFLOW | FE_INVALID | FE_DIVBYZERO
        for f in fs:
            for row in x:
                f(row)
        print("ok")
    """)
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert res.returncode == 0 and "ok" in res.stdout, res.stderr[-2000:]


# ---------------------------------------------------------------------------
# Layers: one case each (float vs Keras)
# ---------------------------------------------------------------------------

def _seq(name, *layers, n_in=6):
    return keras.Sequential([keras.Input((n_in,)), *layers], name=name)


def _bn():
    bn = L.BatchNormalization(epsilon=1e-3)
    return bn


def _layer_models():
    keras.utils.set_random_seed(2)
    rng = np.random.default_rng(2)
    M = {}
    M["dense"] = _seq("dense", L.Dense(9), L.Dense(4, use_bias=False))
    M["activation"] = _seq("activation", L.Activation("tanh"))
    M["dropouts"] = _seq("dropouts", L.Dense(8), L.Dropout(0.5), L.GaussianNoise(1.0), L.GaussianDropout(0.3),
                         L.AlphaDropout(0.2), L.ActivityRegularization(0.1), L.Identity(), L.Dense(3))
    M["relu"] = _seq("relu", L.ReLU())
    M["relu_max"] = _seq("relu_max", L.ReLU(max_value=1.5))
    M["relu_slope"] = _seq("relu_slope", L.ReLU(negative_slope=0.3))
    M["relu_threshold"] = _seq("relu_threshold", L.ReLU(threshold=0.7))
    M["relu_all"] = _seq("relu_all", L.ReLU(max_value=2.0, negative_slope=0.1, threshold=0.5))
    M["relu6"] = _seq("relu6", L.ReLU(max_value=6.0))
    M["leaky_relu"] = _seq("leaky_relu", L.LeakyReLU(negative_slope=0.05))
    prelu = L.PReLU()
    M["prelu"] = _seq("prelu", prelu)
    prelu.set_weights([rng.normal(size=(6,)).astype(np.float32)])
    M["elu"] = _seq("elu", L.ELU(alpha=0.7))
    M["softmax"] = _seq("softmax", L.Softmax())
    bn = L.BatchNormalization()
    M["batchnorm"] = _seq("batchnorm", bn)  # alone: an Affine op
    bn.set_weights([rng.uniform(0.5, 2, 6), rng.normal(size=6), rng.normal(size=6), rng.uniform(0.1, 3, 6)])
    bn1, bn2 = L.BatchNormalization(), L.BatchNormalization(center=False)
    M["batchnorm_folded"] = _seq("batchnorm_folded", bn1, L.Dense(7), bn2, L.Activation("relu"), L.Dense(2))
    bn1.set_weights([rng.uniform(0.5, 2, 6), rng.normal(size=6), rng.normal(size=6), rng.uniform(0.1, 3, 6)])
    bn2.set_weights([rng.uniform(0.5, 2, 7), rng.normal(size=7), rng.uniform(0.1, 3, 7)])
    ln = L.LayerNormalization()
    M["layernorm"] = _seq("layernorm", ln)
    ln.set_weights([rng.uniform(0.5, 2, 6), rng.normal(size=6)])
    M["layernorm_plain"] = _seq("layernorm_plain", L.LayerNormalization(center=False, scale=False, epsilon=0.1))
    M["rescaling"] = _seq("rescaling", L.Rescaling(scale=1 / 255.0, offset=-0.5))
    norm = L.Normalization()
    norm.adapt(rng.normal(size=(200, 6)) * [1, 2, 3, 4, 5, 0] + 7)
    M["normalization"] = _seq("normalization", norm)
    inv = L.Normalization(invert=True, mean=[1, 2, 3, 4, 5, 6], variance=[1, 4, 9, 0.25, 2, 3])
    M["normalization_invert"] = _seq("normalization_invert", inv)
    M["flatten_reshape"] = keras.Sequential([keras.Input((3, 2)), L.Flatten(), L.Dense(5), L.Reshape((5, 1)),
                                             L.Flatten(), L.Dense(2)], name="flatten_reshape")
    for cls in (L.Add, L.Subtract, L.Multiply, L.Average, L.Maximum, L.Minimum, L.Concatenate):
        i = keras.Input((6,))
        a, b = L.Dense(5, activation="tanh")(i), L.Dense(5)(i)
        name = "merge_" + cls.__name__.lower()
        M[name] = keras.Model(i, L.Dense(3)(cls()([a, b])), name=name)
    i = keras.Input((6,))
    a, b, c = L.Dense(4)(i), L.Dense(4)(i), L.Dense(4)(i)
    M["merge_add3"] = keras.Model(i, L.Add()([a, b, c]), name="merge_add3")
    # Keras 3 operations on tensors: x + y, x * 0.5, keras.ops.relu
    i = keras.Input((6,))
    h = L.Dense(6)(i)
    y = keras.ops.relu(i + h) * 0.5 - 1.0
    M["keras_ops"] = keras.Model(i, keras.ops.sigmoid(L.Dense(3)(y)), name="keras_ops")
    return M


@pytest.fixture(scope="module")
def layer_libs(tmp_path_factory):
    models = _layer_models()
    fns = check_contract(models, tmp_path_factory.mktemp("layers"), X=_rows(6, 200))
    return models, fns


@pytest.mark.parametrize("name", [
    "dense", "activation", "dropouts", "relu", "relu_max", "relu_slope", "relu_threshold", "relu_all", "relu6",
    "leaky_relu", "prelu", "elu", "softmax", "batchnorm", "batchnorm_folded", "layernorm", "layernorm_plain",
    "rescaling", "normalization", "normalization_invert", "flatten_reshape", "merge_add", "merge_subtract",
    "merge_multiply", "merge_average", "merge_maximum", "merge_minimum", "merge_concatenate", "merge_add3",
    "keras_ops"])
def test_layer(layer_libs, name):
    models, fns = layer_libs
    m = models[name]
    X = _rows(6)
    if name == "flatten_reshape":
        X = X[:5000]
        close(fns[name](X), _keras(m, X.reshape(-1, 3, 2)))
        return
    if name == "keras_ops":
        # rows of |x| ~ 1e4 through two dense layers cancel to O(1): the float32
        # rounding of Keras's own sums reaches 1.3e-5 there (AVX-512 oneDNN), so
        # all rows are checked against exact float64 math, the moderate ones
        # against Keras as well
        W1, b1, W2, b2 = (np.asarray(w, np.float64) for w in m.get_weights())
        x = X.astype(np.float64)
        y = np.maximum(x + x @ W1 + b1, 0) * 0.5 - 1.0
        with np.errstate(over="ignore"):
            exact = 1 / (1 + np.exp(-(y @ W2 + b2)))
        got = fns[name](X)
        # float32 sums of terms ~1e4 that cancel to O(1) carry an absolute error up to
        # ~n eps |x||W| ~ 6 * 6e-8 * 1e4 before the sigmoid: 1e-4 bounds it (without FMA
        # contraction one row of 10000 reaches 9e-5)
        close(got, exact, 1e-4)
        close(got[:5000], _keras(m, X[:5000]))
        return
    if name in ("dense", "dropouts", "batchnorm_folded", "layernorm", "layernorm_plain") or name.startswith("merge"):
        X = X[:5000]  # dense sums: moderate inputs keep the rounding of the sums ~1e-7
    close(fns[name](X), _keras(m, X))


def test_batchnorm_folded_into_dense():
    m = _layer_models()["batchnorm_folded"]
    src = scikinc.convert(m)
    assert "Affine" not in src and src.count("_W[") == 2


# ---------------------------------------------------------------------------
# Graphs: residual functional model, nested models, double vs numpy
# ---------------------------------------------------------------------------

def resgen(n_in=136, width=128, blocks=9, n_out=5, slope=0.1, name="resgen"):
    i = keras.Input((n_in,))
    x = L.LeakyReLU(slope)(L.Dense(width)(i))
    for _ in range(blocks):
        x = L.Add()([x, L.LeakyReLU(slope)(L.Dense(width)(x))])
    return keras.Model(i, L.Dense(n_out)(x), name=name)


def _np_resgen(m, X, slope=0.1):
    dense = [lyr for lyr in m.layers if isinstance(lyr, L.Dense)]
    W = [(d.kernel.numpy().astype(np.float64), d.bias.numpy().astype(np.float64)) for d in dense]
    a = slope

    def lk(z):
        return np.where(z > 0, z, a * z)
    x = lk(X @ W[0][0] + W[0][1])
    for Wk, bk in W[1:-1]:
        x = x + lk(x @ Wk + bk)
    return x @ W[-1][0] + W[-1][1]


def _nested():
    keras.utils.set_random_seed(4)
    inner = keras.Sequential([keras.Input((8,)), L.Dense(8, activation="relu"), L.Dropout(0.1), L.Dense(8)],
                             name="inner")
    i2 = keras.Input((8,))
    block = keras.Model(i2, L.Add()([i2, L.Dense(8, activation="tanh")(i2)]), name="block")
    i = keras.Input((5,))
    h = L.Dense(8, activation="leaky_relu")(i)
    h = L.Add()([h, inner(h)])
    h = block(h)
    h = block(h)  # shared sub-model called twice
    out = L.Dense(3, activation="softmax")(L.Concatenate()([h, i]))
    return keras.Model(i, out, name="nested")


def _np_nested(m, X):
    inner, block = m.get_layer("inner"), m.get_layer("block")

    def dense(lyr, x):
        return x @ lyr.kernel.numpy().astype(np.float64) + lyr.bias.numpy().astype(np.float64)
    d0 = [lyr for lyr in m.layers if isinstance(lyr, L.Dense)]
    h = dense(d0[0], X)
    h = np.where(h > 0, h, 0.2 * h)
    di = [lyr for lyr in inner.layers if isinstance(lyr, L.Dense)]
    h = h + dense(di[1], np.maximum(dense(di[0], h), 0))
    db = [lyr for lyr in block.layers if isinstance(lyr, L.Dense)][0]
    for _ in range(2):
        h = h + np.tanh(dense(db, h))
    return _softmax(dense(d0[1], np.concatenate([h, X], axis=1)))


@pytest.fixture(scope="module")
def graph_libs(tmp_path_factory):
    keras.utils.set_random_seed(3)
    models = {"resgen": resgen(), "small_res": resgen(10, 16, 3, 2, slope=0.3, name="small_res"),
              "nested": _nested()}
    tmp = tmp_path_factory.mktemp("graphs")
    return models, {ft: build(models, tmp, float_t=ft) for ft in ("float", "double")}


def _rel_err(got, want):
    got, want = np.asarray(got, np.float64), np.asarray(want, np.float64)
    return float(np.max(np.abs(got - want) / (1 + np.abs(want))))


def test_residual_functional(graph_libs):
    models, fns = graph_libs
    m = models["resgen"]
    X = _rows(136)[:5000]
    # every build is -ffp-contract=off (batch == single): products are rounded before they are
    # added, in another order than Keras's kernels; compare both with exact float64 arithmetic
    # (see test_residual_without_fma_is_as_accurate_as_keras)
    exact = _np_resgen(m, X.astype(np.float64))
    ours, theirs = _rel_err(fns["float"]["resgen"](X), exact), _rel_err(_keras(m, X), exact)
    assert ours <= max(1.25 * theirs, 1e-6) and ours < 5e-5, (ours, theirs)
    close(fns["double"]["resgen"](X.astype(np.float64)), _np_resgen(m, X.astype(np.float64)), 1e-10)
    m = models["small_res"]
    X = _rows(10)[:5000]
    close(fns["float"]["small_res"](X), _keras(m, X))
    close(fns["double"]["small_res"](X.astype(np.float64)), _np_resgen(m, X.astype(np.float64), 0.3), 1e-10)


@pytest.mark.parametrize("how", ["no_clones", "reproducible"])
def test_residual_without_fma_is_as_accurate_as_keras(graph_libs, tmp_path, how):
    """Without FMA (reproducible mode, or CPUs below x86-64-v3 running the
    baseline clone) every product is rounded before it is added, in a different
    order from Keras's own kernels.  On this 10-layer residual model Keras
    itself is ~1.4e-5 (1+|y|) away from exact arithmetic, so two correct float
    implementations can differ by more than 1e-5 (1+|y|): compare both with a
    float64 re-implementation instead, and require scikinc's error to be no
    larger than Keras's own (plus 25%) and below 5e-5 (1+|y|)."""
    models, _ = graph_libs
    m = models["resgen"]
    src = scikinc.convert(m)
    flags = ["-O3", "-DSKC_NO_CLONES"] if how == "no_clones" else ["-O3"]
    so = scikinc.compile(src, tmp_path / "nofma.so", flags=flags, reproducible=how == "reproducible")
    X = _rows(136)[:5000]
    exact = _np_resgen(m, X.astype(np.float64))
    ours, theirs = _rel_err(scikinc.load(so, "resgen")(X), exact), _rel_err(_keras(m, X), exact)
    assert ours <= max(1.25 * theirs, 1e-6) and ours < 5e-5, (ours, theirs)


def test_residual_is_fused_and_buffers_are_few():
    keras.utils.set_random_seed(3)
    src = scikinc.convert(resgen())
    assert len(re.findall(r"/\* Dense\+leaky_relu\+add \(\w+\) \*/", single_row_code(src))) == 9  # labelled by layer
    assert "b3[" not in src  # liveness: a handful of stack buffers, not one per layer


def test_nested_models(graph_libs):
    models, fns = graph_libs
    m = models["nested"]
    X = _rows(5)[:5000]
    close(fns["float"]["nested"](X), _keras(m, X))
    close(fns["double"]["nested"](X.astype(np.float64)), _np_nested(m, X.astype(np.float64)), 1e-10)


def test_called_through_ctx_convert(tmp_path):
    """Pipelines hand the Keras converter an arbitrary Value (here 2 * x)."""
    from scikinc.core import Context, finish
    from scikinc.ir import Affine, Graph
    from scikinc.render import Entry, render_file

    keras.utils.set_random_seed(5)
    m = resgen(7, 12, 2, 3, name="sub")
    g = Graph(7)
    a = g.add(Affine(7, mul=2.0), g.input)
    g.output = Context().convert(m, g, a)
    src = render_file([Entry("piped", finish(g))], float_t="float", copyright=None, version="t")
    f = scikinc.load(scikinc.compile(src, tmp_path / "p.so"), "piped")
    X = _rows(7)[:2000]
    close(f(X), _keras(m, 2 * X))


# ---------------------------------------------------------------------------
# Files
# ---------------------------------------------------------------------------

def test_files_keras3(tmp_path):
    keras.utils.set_random_seed(6)
    m = resgen(6, 10, 2, 3, name="filed")
    m.save(tmp_path / "m.keras")
    m.save(tmp_path / "m.h5")
    fns = build({"from_keras": str(tmp_path / "m.keras"), "from_h5": str(tmp_path / "m.h5")}, tmp_path)
    X = _rows(6)[:3000]
    for f in fns.values():
        close(f(X), _keras(m, X))


def test_files_tf_keras(tmp_path):
    tfk = pytest.importorskip("tf_keras")
    tfk.utils.set_random_seed(7)
    K = tfk.layers
    m = tfk.Sequential([K.Dense(10, input_shape=(6,), activation="relu"), K.BatchNormalization(),
                        K.LeakyReLU(alpha=0.2), K.Dense(4, activation="hard_sigmoid")])
    m.layers[1].set_weights([np.full(10, 1.5), np.full(10, 0.1), np.full(10, -0.2), np.full(10, 2.0)])
    m.save(tmp_path / "m2.h5")
    m.save(tmp_path / "saved")  # TensorFlow SavedModel directory
    fns = build({"h5_k2": str(tmp_path / "m2.h5"), "savedmodel": str(tmp_path / "saved"), "mem": m}, tmp_path)
    X = _rows(6)[:3000]
    for f in fns.values():
        close(f(X), _keras(m, X))


def test_keras3_export_dir_is_refused(tmp_path):
    keras.utils.set_random_seed(8)
    m = _seq("exp", L.Dense(2))
    m.export(tmp_path / "exported", verbose=False)
    with pytest.raises(scikinc.errors.ModelFileError, match="Keras layer structure"):
        scikinc.convert(str(tmp_path / "exported"))


# ---------------------------------------------------------------------------
# Refusals, custom layers, import hygiene
# ---------------------------------------------------------------------------

class Scale2(keras.layers.Layer):
    def call(self, x):
        return 2 * x


def test_refused_layers():
    m = _seq("with_lambda", L.Dense(3), L.Lambda(lambda x: x * 2, name="doubler"))
    with pytest.raises(UnsupportedModelError) as e:
        scikinc.convert(m)
    msg = str(e.value)
    assert "'doubler'" in msg and "keras.src.layers.core.lambda_layer.Lambda" in msg
    assert "register_converter" in msg
    m = _seq("with_custom", Scale2(name="twice"))
    with pytest.raises(UnsupportedModelError, match=r"'twice'.*Scale2(.|\n)*register_converter"):
        scikinc.convert(m)
    m = _seq("conv", L.Reshape((1, 1, 6, 1)), L.Conv3D(2, (1, 1, 3)))
    with pytest.raises(UnsupportedModelError, match="Conv3D"):
        scikinc.convert(m)


def test_custom_layer_converter(tmp_path):
    from scikinc.ir import Affine
    from scikinc.registry import _REGISTRY, qualname

    key = qualname(Scale2)

    @scikinc.register_converter(Scale2)
    def _scale2(layer, g, x, ctx):
        return g.add(Affine(x.width, mul=2.0), x)
    try:
        keras.utils.set_random_seed(9)
        m = _seq("custom_ok", L.Dense(4), Scale2(), L.Dense(2))
        f = build({"custom_ok": m}, tmp_path)["custom_ok"]
        X = _rows(6)[:2000]
        close(f(X), _keras(m, X))
    finally:
        _REGISTRY.pop(key, None)


def test_sklearn_users_never_import_tensorflow():
    code = ("import sys, numpy as np, scikinc\n"
            "from sklearn.preprocessing import StandardScaler\n"
            "scikinc.convert(StandardScaler().fit(np.eye(3)))\n"
            "assert not any(m.split('.')[0] in ('tensorflow', 'keras', 'tf_keras') for m in sys.modules), "
            "sorted(m for m in sys.modules if 'keras' in m or 'tensorflow' in m)[:5]\n")
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert res.returncode == 0, res.stderr[-2000:]


def test_n_inputs_from_input_shape():
    m = _seq("shape", L.Dense(2), n_in=11)
    from scikinc.core import n_inputs
    assert n_inputs(m) == 11
    unbuilt = keras.Sequential([L.Dense(2)])
    with pytest.raises(scikinc.errors.ConversionError, match="build"):
        scikinc.convert(unbuilt)


# ---------------------------------------------------------------------------
# Reproducible mode: bitwise identical on every clone / ISA level
# ---------------------------------------------------------------------------

@pytest.mark.parametrize("float_t", ["float", "double"])
def test_reproducible_mode_is_bitwise_identical_across_isa_levels(tmp_path, float_t):
    keras.utils.set_random_seed(10)
    m = resgen(20, 40, 3, 4, name="repro")
    src = scikinc.convert(m, float_t=float_t)
    flags = cpu_flags()
    levels = {"no_clones": ["-DSKC_NO_CLONES"], "clones": [], "baseline": ['-DSKC_TARGET="arch=x86-64"'],
              "v2": ['-DSKC_TARGET="arch=x86-64-v2"']}
    if {"avx2", "fma", "bmi2"} <= flags:
        levels["v3"] = ['-DSKC_TARGET="arch=x86-64-v3"']
    if {"avx512f", "avx512bw", "avx512vl", "avx512dq"} <= flags:
        levels["v4"] = ['-DSKC_TARGET="arch=x86-64-v4"']
    else:
        print("x86-64-v4 skipped: this CPU has no AVX-512 (no avx512f/bw/vl/dq in /proc/cpuinfo)")
    X = _rows(20, 2000).astype(np.float64 if float_t == "double" else np.float32)[:1000]
    outs = {}
    for lvl, extra in levels.items():
        so = scikinc.compile(src, tmp_path / f"r_{lvl}.so", flags=["-O3", *extra], reproducible=True)
        outs[lvl] = scikinc.load(so, "repro")(X)
    ref = outs.pop("no_clones")
    for lvl, y in outs.items():
        assert same_bits(y, ref), f"{lvl} differs from the no-clones build"


# ---------------------------------------------------------------------------
# Size: a 2M-parameter MLP
# ---------------------------------------------------------------------------

def test_two_million_parameter_mlp(tmp_path):
    import resource
    import time

    keras.utils.set_random_seed(11)
    m = keras.Sequential([keras.Input((256,)), L.Dense(1024, activation="relu"), L.Dense(1024, activation="relu"),
                          L.Dense(768, activation="relu"), L.Dense(10)], name="big")
    assert m.count_params() > 2_000_000
    t0 = time.perf_counter()
    src = scikinc.convert(m)
    t_convert = time.perf_counter() - t0
    t0 = time.perf_counter()
    so = scikinc.compile(src, tmp_path / "big.so")
    t_compile = time.perf_counter() - t0
    rss_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    print(f"2M MLP: convert {t_convert:.1f} s, gcc -O3 {t_compile:.1f} s, max child RSS {rss_mb:.0f} MB")
    assert t_convert < 30 and t_compile < 60 and rss_mb < 2048
    X = _rows(256, 300)
    close(scikinc.load(so, "big")(X[:200] / 30), _keras(m, X[:200] / 30), 2e-5)


def test_pipeline_scaler_then_keras(tmp_path):
    """The physicists' deployment: Pipeline([("tX", StandardScaler()), ("dnn", keras_model)])."""
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import StandardScaler

    keras.utils.set_random_seed(12)
    rng = np.random.default_rng(12)
    Xfit = rng.normal(size=(500, 8)) * [1, 10, 100, 0.1, 1, 2, 3, 4] + 5
    sc = StandardScaler().fit(Xfit)
    m = resgen(8, 16, 2, 3, name="dnn")
    pipe = Pipeline([("tX", sc), ("dnn", m)])
    f = build({"piped": pipe}, tmp_path)["piped"]
    X = (rng.normal(size=(3000, 8)) * [1, 10, 100, 0.1, 1, 2, 3, 4] + 5).astype(np.float32)
    close(f(X), _keras(m, sc.transform(X.astype(np.float64)).astype(np.float32)))


def test_tf_keras_functional_with_tf_ops(tmp_path):
    """tf.keras (Keras 2) functional graph: TFOpLambda ops (x + y, x * 0.5,
    tf.nn.relu), nested Sequential, PReLU, Keras-2 LeakyReLU(alpha)."""
    tfk = pytest.importorskip("tf_keras")
    import tensorflow as tf

    tfk.utils.set_random_seed(13)
    K = tfk.layers
    i = tfk.Input((6,))
    h = K.Dense(8, activation="swish")(i)
    h = h + K.LeakyReLU(alpha=0.3)(K.Dense(8)(h))
    h = tf.nn.relu(h * 0.5)
    inner = tfk.Sequential([K.Dense(8, input_shape=(8,), activation="elu"), K.PReLU()])
    h = K.Add()([h, inner(h)])
    m = tfk.Model(i, K.Dense(3, activation="softmax")(K.Concatenate()([h, i])))
    f = build({"k2graph": m}, tmp_path)["k2graph"]
    X = _rows(6)[:5000]
    close(f(X), _keras(m, X))
