"""keras2c's test models re-created in Keras 3 (issue #16), one model per
layer family of its test-suite, smaller sizes, same kinds of configuration:

- core: Dense on rank-3/4 tensors (relu; tanh without bias then the
  exponential activation), Flatten + Dropout + Reshape, Permute((3, 1, 2)),
  RepeatVector + ActivityRegularization + Dense, SpatialDropout1D/2D/3D between
  Reshapes, a Dense shared by two inputs then Add;
- embedding: Embedding after an integer-valued input;
- normalization: BatchNormalization on axis 1, 2, 3 with every scale/center
  combination;
- convolution: Conv1D (strides, dilation, causal padding), Conv2D (strides,
  dilation, same/valid), ZeroPadding1D/2D, Cropping1D/2D, UpSampling1D/2D;
- transposed convolution: Conv1DTranspose / Conv2DTranspose;
- pooling: Max/AveragePooling1D/2D (valid and same, strides), GlobalMax/
  GlobalAveragePooling1D/2D;
- recurrent: SimpleRNN (relu, go_backwards, no bias), LSTM (hard_sigmoid
  gates and relu; sigmoid/tanh swapped; no bias), GRU (softmax/softsign,
  softplus/sigmoid with reset_after, go_backwards, no bias; softmax as the
  GRU activation is refused);
- merge: Add of 3, Subtract, Multiply / Maximum / Minimum / Average of 4,
  Concatenate on every axis;
- advanced activations: LeakyReLU, PReLU, ELU, ReLU(threshold), ReLU with
  max_value, negative_slope and threshold;
- wrappers: Bidirectional (concat, mul, ave) of LSTMs, TimeDistributed of
  Dense, Conv1D and Conv2D;
- whole models: the CIFAR-10 CNN, the Dense+LSTM profile predictor, the
  multi-input Conv1D and Conv2D profile predictors (scaled down).

Each is compiled by scikinc in float (the full contract) and in double, and
compared with Keras' model(x) on >= 1000 rows including zeros, N(0, 30) and
+-1e3 rows; batch rows bitwise equal to single calls.  keras2c's families that
scikinc lacks (Conv3D, ZeroPadding3D, Cropping3D, UpSampling3D,
GlobalMax/AveragePooling3D, Dot, Lambda(tf.split), stateful RNNs, softmax as
a recurrent activation) are refused
with an error naming each layer."""
import os
import warnings

import numpy as np
import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
keras = pytest.importorskip("keras")

from test_keras_tensors import keras_ref, randomize, rows_for  # noqa: E402
from util import build, check_contract, same_bits  # noqa: E402

import scikinc  # noqa: E402
from scikinc.errors import UnsupportedModelError  # noqa: E402

pytestmark = pytest.mark.keras
L = keras.layers


def _model(name, inputs, outputs):
    """Outputs of rank > 2 flattened (the C function writes them row-major anyway)."""
    outs = outputs if isinstance(outputs, list) else [outputs]
    return randomize(keras.Model(inputs, outs, name=name), seed=len(name))


def _core():
    a = keras.Input((5, 3, 4))
    b = keras.Input((6, 5))
    r = keras.Input((7,))
    s = keras.Input((2, 3, 4, 5))
    x1, x2 = keras.Input((4, 3)), keras.Input((4, 3))
    shared = L.Dense(5, activation="relu")
    outs = [
        L.Dense(6, activation="relu")(a),
        L.Activation("exponential")(L.Dense(8, activation="tanh", use_bias=False)(b)),
        L.Reshape((3, 5, 4))(L.Dropout(0.4)(L.Flatten()(a))),
        L.Permute((3, 1, 2))(a),
        L.Dense(4)(L.ActivityRegularization(l1=0.5, l2=0.3)(L.RepeatVector(3)(r))),
        L.Flatten()(L.SpatialDropout1D(0.4)(L.Reshape((6, 20))(
            L.SpatialDropout2D(0.3)(L.Reshape((6, 4, 5))(L.SpatialDropout3D(0.2)(s)))))),
        L.Add()([shared(L.Dense(5, activation="relu")(x1)), shared(L.Dense(5, activation="relu")(x2))]),
    ]
    return _model("core", [a, b, r, s, x1, x2], outs)


def _norm():
    i3, i4 = keras.Input((4, 5, 6)), keras.Input((3, 4, 2, 3))
    bn = lambda axis, scale, center: L.BatchNormalization(axis=axis, scale=scale, center=center)  # noqa: E731
    return _model("norm", [i3, i4], [bn(3, True, True)(i3), bn(2, False, True)(i3), bn(1, True, False)(i4),
                                     bn(2, False, False)(i3)])


def _conv():
    c1, c2 = keras.Input((12, 5)), keras.Input((9, 10, 2))
    p1, p2 = keras.Input((6, 4)), keras.Input((6, 7, 2))
    u1, u2 = keras.Input((3, 4)), keras.Input((3, 2, 4))
    outs = [L.Conv1D(4, 3, strides=2, activation="relu", use_bias=False)(c1),
            L.Conv1D(5, 4, padding="same", dilation_rate=3, activation="sigmoid")(c1),
            L.Conv1D(3, 4, padding="causal", activation="tanh")(c1),
            L.Conv2D(4, (3, 4), strides=(2, 3), activation="relu", use_bias=False)(c2),
            L.Conv2D(5, 2, padding="same", dilation_rate=(3, 2), activation="sigmoid")(c2),
            L.ZeroPadding1D((3, 1))(p1), L.ZeroPadding2D(((3, 1), (2, 3)))(p2),
            L.Cropping1D((3, 1))(p1), L.Cropping2D(((3, 1), (2, 3)))(p2),
            L.UpSampling1D(3)(u1), L.UpSampling2D((3, 4))(u2)]
    return _model("conv", [c1, c2, p1, p2, u1, u2], outs)


def _transpose():
    t1, t2 = keras.Input((6, 3)), keras.Input((4, 5, 2))
    outs = [L.Conv1DTranspose(4, 3, strides=2, activation="relu")(t1),
            L.Conv1DTranspose(2, 4, padding="same", dilation_rate=2)(t1),
            L.Conv2DTranspose(3, (3, 2), strides=(2, 3), padding="same")(t2),
            L.Conv2DTranspose(2, 3, use_bias=False)(t2)]
    return _model("transpose", [t1, t2], outs)


def _pool():
    a, b = keras.Input((11, 4)), keras.Input((9, 10, 2))
    outs = [L.MaxPooling1D(3, strides=2)(a), L.MaxPooling1D(2, strides=2, padding="same")(a),
            L.AveragePooling1D(2, strides=3)(a), L.AveragePooling1D(3, strides=1, padding="same")(a),
            L.MaxPooling2D((3, 2), strides=(2, 1))(b), L.MaxPooling2D((2, 4), strides=(2, 3), padding="same")(b),
            L.AveragePooling2D((2, 3), strides=2)(b),
            L.AveragePooling2D((2, 4), strides=(3, 1), padding="same")(b),
            L.GlobalAveragePooling1D()(a), L.GlobalMaxPooling1D()(a),
            L.GlobalAveragePooling2D()(b), L.GlobalMaxPooling2D()(b)]
    return _model("pool", [a, b], outs)


def _rnn():
    i = keras.Input((4, 3))
    outs = [L.SimpleRNN(4, activation="relu")(i),
            L.SimpleRNN(3, go_backwards=True, return_sequences=True)(i),
            L.SimpleRNN(3, return_sequences=True, use_bias=False)(i),
            L.LSTM(3, activation="relu", recurrent_activation="hard_sigmoid")(i),
            L.LSTM(3, go_backwards=True, return_sequences=True, activation="sigmoid", recurrent_activation="tanh")(i),
            L.LSTM(3, return_sequences=True, activation="sigmoid", recurrent_activation="tanh", use_bias=False)(i),
            L.GRU(3, recurrent_activation="softsign")(i),  # (keras2c: activation="softmax", refused below)
            L.GRU(3, activation="softplus", recurrent_activation="sigmoid", return_sequences=True,
                  go_backwards=True, reset_after=True)(i),
            L.GRU(3, activation="softplus", return_sequences=True, use_bias=False)(i)]
    return _model("rnn", i, outs)


def _merge():
    a = [keras.Input((3, 2, 4)) for _ in range(3)]
    s = [keras.Input((3, 2, 2, 3)) for _ in range(2)]
    m = [keras.Input((4, 5)) for _ in range(4)]
    c = [keras.Input((2, 3, k)) for k in (2, 3, 1)]
    d = [keras.Input((2, k, 4)) for k in (3, 2, 1)]
    e = [keras.Input((k, 2, 3, 2)) for k in (2, 1, 3)]
    outs = [L.Add()(a), L.Subtract()(s), L.Multiply()(m), L.Maximum()(m), L.Minimum()(m), L.Average()(m),
            L.Concatenate(axis=3)(c), L.Concatenate(axis=2)(d), L.Concatenate(axis=1)(e)]
    return _model("merge", [*a, *s, *m, *c, *d, *e], outs)


def _act():
    i = keras.Input((3, 4, 2, 3))
    outs = [L.LeakyReLU(negative_slope=0.5)(i), L.PReLU()(i), L.ELU(alpha=1.3)(i), L.ReLU(threshold=0.3)(i),
            L.ReLU(max_value=1.0, negative_slope=1.0, threshold=0.3)(i)]
    return _model("act", i, outs)


def _wrap():
    i = keras.Input((4, 3))
    h = L.Bidirectional(L.LSTM(3, return_sequences=True), merge_mode="concat")(i)
    h = L.Dense(3)(L.Bidirectional(L.LSTM(2, return_sequences=True), merge_mode="mul")(h))
    g = L.Bidirectional(L.LSTM(2, return_sequences=True), merge_mode="ave")(L.Dense(4)(i))
    t = L.Dense(4)(L.TimeDistributed(L.Dense(5))(i))
    i4, i5 = keras.Input((3, 6, 4)), keras.Input((3, 4, 5, 2))
    t1 = L.Dense(3)(L.TimeDistributed(L.Conv1D(4, 2))(L.Dense(5)(i4)))
    t2 = L.Dense(3)(L.TimeDistributed(L.Conv2D(4, 2))(L.Dense(3)(i5)))
    return _model("wrap", [i, i4, i5], [h, g, t, t1, t2])


def _cifar():
    return randomize(keras.Sequential([
        keras.Input((10, 10, 2)), L.Conv2D(4, 3, padding="same"), L.Activation("relu"), L.Conv2D(4, 3),
        L.Activation("relu"), L.MaxPooling2D(2), L.Dropout(0.25), L.Conv2D(4, 3, padding="same"),
        L.Activation("relu"), L.MaxPooling2D(2), L.Flatten(), L.Dense(8), L.Activation("relu"),
        L.Dropout(0.5), L.Dense(5), L.Activation("softmax")], name="cifar"), seed=2)


def _profile():
    i = keras.Input((4, 6))
    h = L.LSTM(6, activation="relu")(L.Dense(5, activation="relu")(L.Dense(5, activation="relu")(i)))
    return _model("profile", i, L.Dense(4)(h))


def _profile_conv1d(n=9):
    profs = [keras.Input((1, n)) for _ in range(3)]
    past = [keras.Input((5,)) for _ in range(3)]
    fut = [keras.Input((4,)) for _ in range(3)]
    cur = L.Reshape((n, 3))(L.Concatenate(axis=-1)([L.Reshape((1, n, 1))(p) for p in profs]))
    fa = L.Concatenate(axis=-1)([L.Reshape((4, 1))(f) for f in fut])
    pa = L.Concatenate(axis=-1)([L.Reshape((5, 1))(p) for p in past])
    eff = L.Reshape((n, 1))(L.LSTM(n, activation="relu")(pa))
    feff = L.Reshape((n, 1))(L.LSTM(n, activation="relu")(fa))
    h0 = L.Concatenate()([cur, eff, feff])
    outs = []
    for _ in range(2):
        h1 = L.Conv1D(4, 2, padding="same", activation="relu")(h0)
        h2 = L.Conv1D(4, 4, padding="same", activation="relu")(h1)
        h3 = L.Conv1D(4, 8, padding="same", activation="relu")(h2)
        h = L.Conv1D(5, 4, padding="same", activation="tanh")(L.Concatenate()([h1, h2, h3]))
        outs.append(L.Reshape((n,))(L.Conv1D(1, 4, padding="same")(h)))
    return _model("profile_conv1d", profs + past + fut, outs)


def _profile_conv2d(n=8, ch=6):
    profs = [keras.Input((1, n)) for _ in range(3)]
    past = [keras.Input((5,)) for _ in range(3)]
    fut = [keras.Input((4,)) for _ in range(3)]
    p = L.Concatenate(axis=-1)([L.Reshape((1, n, 1))(q) for q in profs])
    for f, k in ((2, 2), (3, 2), (ch, 3)):
        p = L.Conv2D(f, (1, k), padding="same", activation="relu")(p)
    p = L.Reshape((n, ch))(p)
    acts = L.Concatenate(axis=-1)([L.Reshape((9, 1))(L.Concatenate(axis=-1)([a, b]))
                                   for a, b in zip(past, fut, strict=True)])
    a = L.Dense(3, activation="relu")(L.Dense(2, activation="relu")(acts))
    a = L.Reshape((ch, 1))(L.LSTM(ch, activation="relu", recurrent_activation="hard_sigmoid")(a))
    a = L.Permute((2, 1))(L.Dense(n)(L.Dense(3, activation="relu")(a)))
    merged = L.Reshape((1, n, ch))(L.Add()([p, a]))
    outs = []
    for _ in range(2):
        h = L.Conv2D(4, (1, 2), padding="same", activation="relu")(merged)
        h = L.Conv2D(2, (1, 3), padding="same", activation="relu")(h)
        outs.append(L.Reshape((n,))(L.Conv2D(1, (1, 2), padding="same")(h)))
    return _model("profile_conv2d", profs + past + fut, outs)


def _embedding():
    i = keras.Input((5,))
    return _model("embedding", i, L.Dense(3)(L.Embedding(7, 4)(L.Activation("relu")(i))))


def _embedding_rows(n=1200, seed=3):
    """Integers 0..6 (Keras casts the float input to int), zeros, negatives (relu'd to 0)."""
    rng = np.random.default_rng(seed)
    X = rng.integers(-2, 7, size=(n, 5)).astype(np.float32)
    X[0], X[1] = 0.0, 6.0
    return X


BUILDERS = {"core": _core, "norm": _norm, "conv": _conv, "transpose": _transpose, "pool": _pool, "rnn": _rnn,
            "merge": _merge, "act": _act, "wrap": _wrap, "cifar": _cifar, "profile": _profile,
            "profile_conv1d": _profile_conv1d, "profile_conv2d": _profile_conv2d, "embedding": _embedding}


@pytest.fixture(scope="module")
def models():
    keras.utils.set_random_seed(11)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return {k: b() for k, b in BUILDERS.items()}


def _rows(k, m):
    return _embedding_rows() if k == "embedding" else rows_for(m)


# Relu chains into a relu LSTM, or into a softmax of ~1e3 logits, on the +-1e3 rows: Keras (float32) is itself
# up to 3.7e-5 (in close's scale) from the double evaluation of the same graph there (the double build agrees
# with that one), the float build as much in another order: 1e-4 for those models, 2e-5 everywhere else.
TOL = {"profile": 1e-4, "profile_conv1d": 1e-4, "cifar": 1e-4}


def close(got, want, X, what, tol):
    """Within tol of Keras relative to the row's output scale plus 5e-4 times
    its largest input (Keras' own float32 rounding of sums of ~1e3 terms)."""
    got, want = np.asarray(got, np.float64), np.asarray(want, np.float64)
    assert got.shape == want.shape, (what, got.shape, want.shape)
    scale = 1 + np.abs(want).max(axis=1, keepdims=True) + 5e-4 * np.abs(X).max(axis=1, keepdims=True)
    bad = ~(np.abs(got - want) <= tol * scale)
    if bad.any():
        i = tuple(int(v) for v in np.argwhere(bad)[0])
        raise AssertionError(f"{what}: {bad.sum()} mismatches; first at {i}: got {got[i]!r}, want {want[i]!r}")


def _check(fns, models, what):
    for k, f in fns.items():
        X = _rows(k, models[k])
        want = keras_ref(models[k], X)
        batch = f(X)
        assert same_bits(batch[:40], np.stack([f(r) for r in X[:40]])), f"{k}: batch differs from single"
        close(batch, want, X, f"{k} ({what})", TOL.get(k, 2e-5))


# two halves of the families, one .so each (they build in parallel under -n 2)
HALVES = (("core", "norm", "conv", "transpose", "pool", "embedding", "act", "rnn"),
          ("merge", "wrap", "cifar", "profile", "profile_conv1d", "profile_conv2d"))


def test_halves_cover_every_family():
    assert sorted(HALVES[0] + HALVES[1]) == sorted(BUILDERS)


@pytest.mark.parametrize("half", [0, 1])
def test_keras2c_families_float(models, half, tmp_path):
    """Every family in float, with the full contract (strict C99/C++, deterministic conversion)."""
    fns = check_contract({k: models[k] for k in HALVES[half]}, tmp_path, float_t="float")
    _check(fns, models, "float")


@pytest.mark.parametrize("half", [0, 1])
def test_keras2c_families_double(models, half, tmp_path):
    """Every family in double too (built and compared; the contract's strict compiles ran for float)."""
    _check(build({k: models[k] for k in HALVES[half]}, tmp_path, float_t="double"), models, "double")


# ---------------------------------------------------------------------------
# keras2c families scikinc lacks: refused, every layer named at once
# ---------------------------------------------------------------------------

def test_refused_families():
    import tensorflow as tf

    v = keras.Input((4, 5, 3, 2))
    p, q = keras.Input((3, 4)), keras.Input((4, 5))
    f = keras.Input((9,))
    outs = [L.Conv3D(2, 2, name="k2c_conv3d")(v), L.ZeroPadding3D(1, name="k2c_zeropad3d")(v),
            L.Cropping3D(1, name="k2c_crop3d")(v), L.UpSampling3D(2, name="k2c_up3d")(v),
            L.GlobalAveragePooling3D(name="k2c_gap3d")(v), L.GlobalMaxPooling3D(name="k2c_gmp3d")(v),
            L.Dot((2, 1), name="k2c_dot")([p, q]),
            *L.Lambda(lambda x: tf.split(x, [2, 3, 4], axis=1), name="k2c_split")(f)]
    m = keras.Model([v, p, q, f], outs)
    with pytest.raises(UnsupportedModelError) as e:
        scikinc.convert(m)
    msg = str(e.value)
    for name, cls in (("k2c_conv3d", "Conv3D"), ("k2c_zeropad3d", "ZeroPadding3D"), ("k2c_crop3d", "Cropping3D"),
                      ("k2c_up3d", "UpSampling3D"), ("k2c_gap3d", "GlobalAveragePooling3D"),
                      ("k2c_gmp3d", "GlobalMaxPooling3D"), ("k2c_dot", "Dot"), ("k2c_split", "Lambda")):
        assert name in msg and cls in msg, f"{name} ({cls}) not named in: {msg}"


@pytest.mark.parametrize("rnn", ["SimpleRNN", "LSTM", "GRU"])
def test_refused_stateful(rnn):
    i = keras.Input(batch_shape=(3, 4, 5))
    m = keras.Model(i, getattr(L, rnn)(3, stateful=True, name="k2c_stateful")(i))
    with pytest.raises(UnsupportedModelError, match=r"k2c_stateful.*stateful"):
        scikinc.convert(m)


def test_refused_softmax_recurrent_activation():
    i = keras.Input((4, 5))
    m = keras.Model(i, L.GRU(3, activation="softmax", recurrent_activation="softsign", name="k2c_gru_softmax")(i))
    with pytest.raises(UnsupportedModelError, match=r"k2c_gru_softmax.*softmax as a recurrent cell activation"):
        scikinc.convert(m)
