"""Keras convolutions beyond Conv1D/2D (issue #16): DepthwiseConv1D/2D,
SeparableConv1D/2D, Conv1D/2DTranspose, UpSampling2D(interpolation=
"bilinear"), in both data formats, and BatchNormalization folded into the
convolution before it.  Every model against Keras' model(x) on >= 1000 rows
including edge values (zeros, +-1e3, N(0, 30)), in float and double (one .so
per float type for all models); the IR tier (marker ``ir``) against float64
Keras; refusals with the layer's name."""
import os
import subprocess
import sys
import warnings

import numpy as np
import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
keras = pytest.importorskip("keras")

from test_keras_tensors import TOL, close, keras_ref, randomize, rows_for  # noqa: E402
from util import build, check_contract, same_bits  # noqa: E402

import scikinc  # noqa: E402
from scikinc.core import build_entries  # noqa: E402
from scikinc.errors import UnsupportedModelError  # noqa: E402
from scikinc.ir import Affine  # noqa: E402
from scikinc.ir.evaluate import evaluate  # noqa: E402
from scikinc.ir.keras import Bilinear, Conv, ConvTranspose  # noqa: E402

pytestmark = pytest.mark.keras
L = keras.layers
CF = {"data_format": "channels_first"}


def _zero_output_padding():
    """An explicit ``output_padding=0`` where Keras takes it (Keras 3.0 wants
    every value > 0: there the default None, the same geometry at stride 1)."""
    try:
        L.Conv1DTranspose(1, 3, output_padding=0)
        return 0
    except ValueError:
        return None



def _bilinear_channels_first_ok():
    """Keras 3.0's channels_first bilinear UpSampling2D resizes the wrong axes
    (its output disagrees with its own output_shape): those models are left
    out there (scikinc follows the documented layer)."""
    m = keras.Sequential([keras.Input((3, 5, 2)), L.UpSampling2D(2, interpolation="bilinear", **CF)])
    return tuple(m(np.zeros((1, 3, 5, 2), dtype="float32")).shape[1:]) == tuple(m.output_shape[1:])


BILINEAR_CF_OK = _bilinear_channels_first_ok()


def _seq(name, shape, *layers, seed=None):
    return randomize(keras.Sequential([keras.Input(shape), *layers], name=name),
                     seed=len(name) if seed is None else seed)


def _multi(name, *branches):
    """One functional model with a branch (input shape, layers) per input,
    each branch's output flattened (few symbols: one compile per file)."""
    ins, outs = [], []
    for shape, layers in branches:
        h = keras.Input(shape)
        ins.append(h)
        for layer in layers:
            h = layer(h)
        outs.append(L.Flatten()(h) if len(h.shape) > 2 else h)
    return randomize(keras.Model(ins, outs, name=name), seed=len(name))


def _models():
    keras.utils.set_random_seed(17)
    m = {}
    # depthwise: multiplier, strides, padding, dilation, activation, both formats.  (channels_first: no
    # output whose last spatial size equals its channels -- TF's CPU kernel then adds channel 0's bias to all)
    m["depthwise"] = _multi(
        "depthwise",
        ((9, 8, 3), [L.DepthwiseConv2D(3, padding="same", activation="relu"),
                     L.DepthwiseConv2D((3, 2), depth_multiplier=2, strides=2),
                     L.DepthwiseConv2D(2, dilation_rate=2, padding="same", use_bias=False)]),
        ((16, 3), [L.DepthwiseConv1D(3, depth_multiplier=2, strides=2, padding="same"),
                   L.DepthwiseConv1D(3, dilation_rate=2, activation="tanh")]),
        ((3, 7, 6), [L.DepthwiseConv2D(3, depth_multiplier=2, **CF)]),
        ((3, 9), [L.DepthwiseConv1D(3, strides=2, padding="same", **CF)]))
    # separable: depthwise then pointwise (the bias), the activation last
    m["separable"] = _multi(
        "separable",
        ((8, 7, 3), [L.SeparableConv2D(4, 3, depth_multiplier=2, padding="same", activation="elu"),
                     L.SeparableConv2D(2, (2, 3), strides=2, use_bias=False)]),
        ((12, 2), [L.SeparableConv1D(3, 3, strides=2, activation="softmax"),
                   L.SeparableConv1D(4, 2, dilation_rate=2, padding="same")]),
        ((3, 7, 6), [L.SeparableConv2D(2, 3, **CF)]),
        ((3, 9), [L.SeparableConv1D(2, 2, depth_multiplier=2, **CF)]))
    # transposed: strides, padding, output_padding, dilation, both formats
    m["transpose"] = _multi(
        "transpose",
        ((4, 5, 3), [L.Conv2DTranspose(2, 3, strides=2, activation="relu"),
                     L.Conv2DTranspose(3, (3, 2), strides=(2, 3), padding="same"),
                     L.Conv2DTranspose(2, 3, strides=3, output_padding=1)]),
        ((4, 5, 2), [L.Conv2DTranspose(2, 3, dilation_rate=2),
                     L.Conv2DTranspose(2, 4, strides=2, padding="same", output_padding=1, use_bias=False)]),
        ((6, 3), [L.Conv1DTranspose(2, 4, strides=2, padding="same"), L.Conv1DTranspose(3, 1, strides=3),
                  L.Conv1DTranspose(2, 3, padding="same", output_padding=_zero_output_padding())]),
        ((3, 4, 5), [L.Conv2DTranspose(2, 3, strides=2, **CF), L.Conv2DTranspose(2, 2, padding="same", **CF)]),
        ((3, 6), [L.Conv1DTranspose(2, 3, strides=2, **CF)]))
    # bilinear upsampling (tf.image.resize: half-pixel centres), factors 2 and 3
    m["bilinear"] = _multi(
        "bilinear",
        ((3, 4, 2), [L.UpSampling2D(2, interpolation="bilinear"), L.UpSampling2D((3, 1), interpolation="bilinear")]),
        *([((2, 3, 4), [L.UpSampling2D((2, 3), interpolation="bilinear", **CF)])] if BILINEAR_CF_OK else []))
    # BatchNormalization after a convolution: folded into its kernel and bias
    m["bn"] = _multi(
        "bn",
        ((8, 7, 2), [L.Conv2D(4, 3, padding="same"), L.BatchNormalization(), L.ReLU(), L.DepthwiseConv2D(3),
                     L.BatchNormalization(), L.SeparableConv2D(3, 2), L.BatchNormalization(),
                     L.Conv2DTranspose(2, 2, strides=2), L.BatchNormalization()]),
        ((2, 8, 7), [L.Conv2D(4, 3, **CF), L.BatchNormalization(axis=1), L.Conv2DTranspose(3, 2, strides=2, **CF),
                     L.BatchNormalization(axis=1)]),
        ((10, 3), [L.Conv1D(4, 3), L.BatchNormalization(), L.Activation("tanh"), L.Conv1D(2, 2), L.BatchNormalization(),
                   L.ReLU()]))
    return m


@pytest.fixture(scope="module")
def models():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return _models()


@pytest.fixture(scope="module")
def refs(models):
    data = {k: rows_for(m) for k, m in models.items()}
    return data, {k: keras_ref(m, data[k]) for k, m in models.items()}


@pytest.mark.parametrize("float_t", ["float", "double"])
def test_conv_layers(models, refs, float_t, tmp_path):
    """float: the full contract (strict C99/C++ compiles, deterministic
    conversion); double: the same templates, built and compared only."""
    data, want = refs
    fns = check_contract(models, tmp_path, float_t=float_t) if float_t == "float" else \
        build(models, tmp_path, float_t=float_t)
    for k, f in fns.items():
        X = data[k]
        batch = f(X)
        assert same_bits(batch[:40], np.stack([f(r) for r in X[:40]])), f"{k}: batch differs from single"
        try:
            close(batch, want[k], TOL[float_t])
        except AssertionError as e:
            raise AssertionError(f"{k} ({float_t}): {e}") from None


def _graph(model, optimize=True):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return build_entries({"m": model}, float_t="double", optimize=optimize)[0].graph


def test_ops_and_batchnorm_folds(models):
    kinds = lambda g: [type(op).__name__ for op in g.ops]  # noqa: E731
    # depthwise and separable are Convs (groups = channels), transposed ones ConvTranspose, bilinear one op
    assert kinds(_graph(models["depthwise"])).count("Conv") == 7
    assert kinds(_graph(models["separable"])).count("Conv") == 12
    assert kinds(_graph(models["transpose"])).count("ConvTranspose") == 11
    assert kinds(_graph(models["bilinear"])).count("Bilinear") == (3 if BILINEAR_CF_OK else 2)
    # every BatchNormalization here follows a convolution: none is left in the optimised graph
    assert kinds(_graph(models["bn"], optimize=False)).count("Affine") == 8
    assert "Affine" not in kinds(_graph(models["bn"]))
    # not folded when another layer also reads the convolution's output, or across an activation
    i = keras.Input((6, 3))
    c = L.Conv1D(2, 3)(i)
    two = randomize(keras.Model(i, [L.BatchNormalization()(c), c]))
    act = _seq("act", (6, 3), L.Conv1D(2, 3, activation="relu"), L.BatchNormalization())
    for m in (two, act):
        g = _graph(m)
        assert sum(isinstance(op, Affine) for op in g.ops) == 1
        X = rows_for(m, n=200)
        np.testing.assert_allclose(evaluate(g, X.astype(np.float64)), keras_ref(m, X), rtol=1e-5, atol=1e-4)


def test_long_double(tmp_path):
    keras.utils.set_random_seed(5)
    m = _multi("tiny", ((5, 4, 2), [L.DepthwiseConv2D(2, depth_multiplier=2), L.BatchNormalization(),
                                    L.SeparableConv2D(2, 2, padding="same"), L.Conv2DTranspose(2, 2, strides=2),
                                    L.UpSampling2D(2, interpolation="bilinear")]),
               ((5, 2), [L.Conv1DTranspose(2, 3, strides=2, padding="same", **CF)]))
    f = check_contract({"tiny": m}, tmp_path, float_t="long double")["tiny"]
    X = rows_for(m)
    want = keras_ref(m, X)
    batch = f(X)
    assert same_bits(batch[:40], np.stack([f(r) for r in X[:40]]))
    close(np.asarray(batch, dtype=np.float64), want, TOL["double"])


def _bicubic():
    return _seq("bicubic", (4, 4, 1), L.UpSampling2D(2, interpolation="bicubic", name="up_bicubic"))


def test_refusal():
    with pytest.raises(UnsupportedModelError, match="up_bicubic.*interpolation='bicubic'"):
        scikinc.convert(_bicubic())


@pytest.mark.slow  # (a TensorFlow import in the subprocess: ~40 s on a loaded machine)
def test_cli_refusal(tmp_path):
    m = _bicubic()
    path = tmp_path / "bicubic.keras"
    m.save(path)
    res = subprocess.run([sys.executable, "-m", "scikinc", str(path), "-o", str(tmp_path / "x.C")],
                         capture_output=True, text=True)
    assert res.returncode != 0
    assert "scikinC: error:" in res.stderr and "up_bicubic" in res.stderr and "bicubic" in res.stderr


# ---------------------------------------------------------------------------
# the IR tier: numpy evaluation of the graphs against float64 Keras
# ---------------------------------------------------------------------------

@pytest.fixture(scope="module")
def keras64():
    old, oldx = keras.config.dtype_policy(), keras.config.floatx()
    keras.config.set_floatx("float64")
    keras.config.set_dtype_policy("float64")
    keras.utils.set_random_seed(1)
    yield keras
    keras.config.set_dtype_policy(old)
    keras.config.set_floatx(oldx)


@pytest.mark.ir
def test_ir_against_float64_keras(keras64):
    """channels_last only, no transposed dilation (TensorFlow has neither for float64 on CPU)."""
    K = keras64
    i = K.Input((7, 6, 3))
    d = L.DepthwiseConv2D(3, depth_multiplier=2, padding="same", activation="relu")(i)
    d = L.BatchNormalization()(L.DepthwiseConv2D(2, strides=2, dilation_rate=1)(d))
    s = L.BatchNormalization()(L.SeparableConv2D(4, 3, depth_multiplier=2, strides=2)(i))
    t = L.Conv2DTranspose(2, 3, strides=2, padding="same", output_padding=1)(i)
    t = L.BatchNormalization()(L.Conv2DTranspose(2, (2, 3))(t))
    j = K.Input((9, 2))
    u = L.Conv1DTranspose(3, 3, strides=3)(L.SeparableConv1D(2, 3, padding="same")(L.DepthwiseConv1D(2)(j)))
    model = K.Model([i, j], [L.Flatten()(d), L.Flatten()(s), L.Flatten()(t), L.Flatten()(u)])
    rng = np.random.default_rng(2)
    for w in model.weights:
        shape = tuple(w.shape)
        w.assign(rng.uniform(0.5, 2.0, shape) if "variance" in w.path else rng.normal(size=shape) * 0.5)
    X = rng.normal(size=(1200, 126 + 18)) * np.where(np.arange(1200) % 3 == 0, 30.0, 1.0)[:, None]
    X[0], X[1] = 0.0, 1e3
    ref = np.concatenate([np.asarray(o, dtype=np.float64).reshape(len(X), -1)
                          for o in model([X[:, :126].reshape(-1, 7, 6, 3), X[:, 126:].reshape(-1, 9, 2)])], axis=1)
    for opt in (False, True):
        g = _graph(model, optimize=opt)
        assert {ConvTranspose, Conv} <= {type(op) for op in g.ops}
        got = evaluate(g, X)
        scale = 1 + np.abs(ref).max(axis=1, keepdims=True)
        assert np.all(np.abs(got - ref) <= 1e-10 * scale), f"optimize={opt}: {np.abs(got - ref).max()}"


@pytest.mark.ir
def test_ir_bilinear():
    """tf.image.resize computes in float32 whatever the input: the IR in
    double against Keras in float32."""
    keras.utils.set_random_seed(4)
    m = _seq("bil_ir", (3, 5, 2), L.UpSampling2D((3, 2), interpolation="bilinear"),
             *([L.UpSampling2D((2, 2), interpolation="bilinear", **CF)] if BILINEAR_CF_OK else []), L.Flatten())
    X = rows_for(m)
    g = _graph(m)
    assert sum(isinstance(op, Bilinear) for op in g.ops) == (2 if BILINEAR_CF_OK else 1)
    got, want = evaluate(g, X.astype(np.float64)), keras_ref(m, X)
    assert np.all(np.abs(got - want) <= 2e-6 * (1 + np.abs(want).max(axis=1, keepdims=True)))


# ---------------------------------------------------------------------------
# Output positions blocked together (conv.c.j2): the same sums, bit for bit
# ---------------------------------------------------------------------------

def _conv_only_models():
    """Convolutions alone (no activation), so that the C is the Conv op only:
    widths with and without an interior, strides, dilation, groups, depthwise,
    1-D causal, and output channel counts giving blocks of 8, 4, 2 and 1
    positions."""
    keras.utils.set_random_seed(5)
    specs = {
        "same3_c8": ((16, 16, 1), L.Conv2D(8, 3, padding="same")),
        "same3_c16": ((8, 8, 8), L.Conv2D(16, 3, padding="same")),
        "valid_c3": ((9, 13, 2), L.Conv2D(3, (2, 3), padding="valid")),
        "stride2": ((11, 17, 3), L.Conv2D(12, 3, strides=2, padding="same")),
        "dil2": ((10, 19, 4), L.Conv2D(32, 3, dilation_rate=2, padding="same")),
        "c64": ((6, 12, 5), L.Conv2D(64, 3, padding="same")),
        "c200": ((4, 9, 2), L.Conv2D(200, 3, padding="same")),
        "groups": ((7, 14, 8), L.Conv2D(12, 3, padding="same", groups=4)),
        "depthwise": ((8, 15, 6), L.DepthwiseConv2D(3, padding="same")),
        "causal1d": ((23, 5), L.Conv1D(16, 4, padding="causal", dilation_rate=2)),
        "narrow": ((5, 2, 3), L.Conv2D(16, 3, padding="same")),
    }
    return {k: randomize(keras.Sequential([keras.Input(shape), layer], name=k), seed=len(k))
            for k, (shape, layer) in specs.items()}


def test_position_blocks_sum_as_one_position_at_a_time(tmp_path):
    """Each output is b + the taps in (kh, kw, ci) order, unfused: the numpy
    evaluation of the graph in float32 (which sums in that order) and the C
    agree bit for bit, blocked interior positions included; the blocked path
    is taken where the row has an interior."""
    models = _conv_only_models()
    fns = build(models, tmp_path)
    blocked = set()
    for k, m in models.items():
        (entry,) = build_entries({k: m})
        convs = [op for op in entry.graph.ops if isinstance(op, Conv)]
        assert len(convs) == 1 and len(entry.graph.ops) == 1, (k, entry.graph.ops)
        op = convs[0]
        lo, hi = op.interior_w()
        assert 0 <= lo <= hi <= op.ow
        if op.pos_block() > 1:
            blocked.add(k)
            assert hi - lo >= op.pos_block() and op.pos_block() * op.cout <= 128
        X = rows_for(m)
        want = np.asarray(evaluate(entry.graph, X, dtype=np.float32), np.float32)
        assert same_bits(fns[k](X), want), k
    assert blocked >= {"same3_c8", "same3_c16", "stride2", "dil2", "c64", "groups", "depthwise", "causal1d"}
    assert "c200" not in blocked and "narrow" not in blocked
    assert "yp[q][k] = " in scikinc.convert(models["same3_c16"])
    assert "yp[q]" not in scikinc.convert(models["narrow"])
