"""Keras recurrent layers (issue #16): SimpleRNN, LSTM, GRU (reset_after both
ways), RNN over their cells, Bidirectional (every merge mode), against the
real Keras models on >= 1000 rows including zeros and large values that
saturate the gates, float and double (and one long double build); the IR
tier against float64 Keras; unsupported configurations refused naming the
layer.  Models are built once per module."""
import functools
import os
import subprocess
import sys

import numpy as np
import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
keras = pytest.importorskip("keras")

from test_keras_tensors import keras_ref, rows_for  # noqa: E402
from util import build, check_contract, same_bits  # noqa: E402

import scikinc  # noqa: E402
from scikinc.core import build_entries  # noqa: E402
from scikinc.errors import UnsupportedModelError  # noqa: E402
from scikinc.ir.evaluate import evaluate  # noqa: E402

pytestmark = pytest.mark.keras
L = keras.layers


def _randomize(model, seed):
    rng = np.random.default_rng(seed)
    for w in model.weights:
        w.assign((rng.normal(size=tuple(w.shape)) * 0.6).astype(w.dtype))
    return model


def _models(K=keras):
    """Small models covering every layer and option (K: keras, possibly in float64)."""
    L = K.layers
    K.utils.set_random_seed(21)

    def seq(name, shape, *layers):
        return _randomize(K.Sequential([K.Input(shape), *layers], name=name), len(name))

    m = {}
    m["srnn"] = seq("srnn", (7, 3), L.SimpleRNN(5, activation="relu", return_sequences=True),
                    L.SimpleRNN(4, go_backwards=True, return_sequences=True, use_bias=False),
                    L.SimpleRNN(3, activation="sigmoid", unroll=True))
    m["lstm"] = seq("lstm", (6, 4), L.LSTM(5, return_sequences=True, go_backwards=True, dropout=0.3,
                                           recurrent_dropout=0.2),
                    L.LSTM(4, recurrent_activation="hard_sigmoid", activation="softsign", return_sequences=True),
                    L.LSTM(3, use_bias=False, activation="relu"))
    m["gru"] = seq("gru", (6, 3), L.GRU(5, return_sequences=True),
                   L.GRU(4, reset_after=False, go_backwards=True, return_sequences=True),
                   L.GRU(3, recurrent_activation="hard_sigmoid", use_bias=False),
                   L.Dense(2))
    m["gru_k2"] = seq("gru_k2", (5, 2), L.GRU(4, reset_after=False, use_bias=False, return_sequences=True,
                                             activation="linear"),
                      L.GRU(3, reset_after=True, go_backwards=True, activation="elu", return_sequences=True),
                      L.SimpleRNN(2, activation=functools.partial(K.activations.relu, threshold=0.2, max_value=3.0,
                                                                  negative_slope=0.1)))
    m["cells"] = seq("cells", (5, 3), L.RNN(L.LSTMCell(4), return_sequences=True),
                     L.RNN(L.GRUCell(3), go_backwards=True, return_sequences=True),
                     L.RNN(L.SimpleRNNCell(2)))
    m["one_step"] = seq("one_step", (1, 3), L.LSTM(3, return_sequences=True), L.GRU(2))
    i = K.Input((6, 3))
    outs = [L.Bidirectional(L.GRU(3, return_sequences=True))(i),  # concat
            L.Bidirectional(L.LSTM(3, return_sequences=True), merge_mode="sum")(i),
            L.Bidirectional(L.SimpleRNN(3, return_sequences=True), merge_mode="mul")(i),
            L.Bidirectional(L.GRU(3, return_sequences=True, reset_after=False), merge_mode="ave")(i),
            L.Bidirectional(L.SimpleRNN(2, return_sequences=True, go_backwards=True),
                            backward_layer=L.SimpleRNN(2, return_sequences=True))(i)]
    seqs = L.Concatenate()(outs)
    last = [L.Bidirectional(L.LSTM(2))(i), L.Bidirectional(L.GRU(2), merge_mode="ave")(i),
            # forward layer reading backwards, backward layer reading forwards
            L.Bidirectional(L.SimpleRNN(2, go_backwards=True), backward_layer=L.SimpleRNN(2))(i)]
    pair = L.Bidirectional(L.GRU(2, return_sequences=True), merge_mode=None)(i)
    m["bidi"] = _randomize(K.Model(i, [seqs, L.Concatenate()(last), *pair], name="bidi"), 3)
    # a jet-tagger-like model: Conv1D features per constituent, a GRU over them
    i = K.Input((16, 5))
    h = L.Conv1D(8, 3, padding="same", activation="relu")(i)
    h = L.GRU(8, return_sequences=True)(L.MaxPooling1D(2)(h))
    h = L.Bidirectional(L.GRU(6))(h)
    m["tagger"] = _randomize(K.Model(i, L.Dense(3, activation="softmax")(L.Dense(8, activation="relu")(h)),
                                     name="tagger"), 5)
    # every kind in one small model, for the quick tier
    m["mix"] = seq("mix", (5, 3), L.LSTM(4, return_sequences=True, go_backwards=True),
                   L.GRU(4, reset_after=False, recurrent_activation="hard_sigmoid", return_sequences=True),
                   L.RNN(L.GRUCell(3, use_bias=False), go_backwards=True, return_sequences=True),
                   L.SimpleRNN(2, activation="relu"))
    i = K.Input((4, 2))
    m["bidi_mix"] = _randomize(K.Model(i, [
        L.Bidirectional(L.GRU(2, return_sequences=True))(i),
        L.Bidirectional(L.LSTM(2), merge_mode="ave")(i),
        *L.Bidirectional(L.SimpleRNN(2, return_sequences=True), merge_mode=None)(i)], name="bidi_mix"), 4)
    return m


QUICK = ("mix", "bidi_mix", "tagger")
FLOAT_TS = ("float", "double")


def close(got, want, X, what):
    """Within 2e-5 of Keras (float32) relative to the row's output scale, plus
    1e-8 times its largest input: a projection of inputs ~1e4 cancelling to
    O(1) carries Keras' own float32 rounding (~1e-3), which a gate that is not
    quite saturated passes on (the double build and Keras differ as much; the
    IR tier checks the formulas against float64 Keras to 1e-12)."""
    got, want = np.asarray(got, np.float64), np.asarray(want, np.float64)
    assert got.shape == want.shape, (what, got.shape, want.shape)
    scale = 1 + np.abs(want).max(axis=1, keepdims=True) + 5e-4 * np.abs(X).max(axis=1, keepdims=True)
    bad = ~(np.abs(got - want) <= 2e-5 * scale)
    if bad.any():
        i = tuple(int(v) for v in np.argwhere(bad)[0])
        raise AssertionError(f"{what}: {bad.sum()} mismatches; first at {i}: got {got[i]!r}, want {want[i]!r}")


def check_models(models, tmp_path, float_ts=FLOAT_TS):
    """Every model vs Keras (one .so per float type), batch == single bitwise;
    the full contract (strict C99/C++ compiles, deterministic conversion) for
    the first float type, the others built and compared only."""
    data = {k: rows_saturating(m) for k, m in models.items()}
    want = {k: keras_ref(m, data[k]) for k, m in models.items()}
    for n, ft in enumerate(float_ts):
        d = tmp_path / ft.replace(" ", "_")
        d.mkdir()
        fns = check_contract(models, d, float_t=ft) if n == 0 else build(models, d, float_t=ft)
        for k, f in fns.items():
            X = data[k]
            batch = f(X)
            single = np.stack([f(r) for r in X[:40]])
            assert same_bits(batch[:40], single), f"{k} ({ft}): batch differs from single"
            close(batch, want[k], X, f"{k} ({ft})")


def rows_saturating(model, n=1200, seed=0):
    """rows_for's rows (zeros, N(0, 1), N(0, 30), +-1e3), a sixth of them
    times 1e4: every gate saturates, the state stays finite as in Keras."""
    X = rows_for(model, n, seed)
    X[4::6] *= 1e4
    return X


@pytest.fixture(scope="module")
def models():
    return _models()


def test_recurrent_layers(models, tmp_path):
    check_models({k: models[k] for k in QUICK}, tmp_path)


@pytest.mark.slow
def test_recurrent_layers_all(models, tmp_path):
    check_models({k: m for k, m in models.items() if k not in QUICK}, tmp_path)


def test_long_double(models, tmp_path):
    check_models({"mix": models["mix"]}, tmp_path, float_ts=("long double",))


def test_weights_stored_once(models):
    src = scikinc.convert({"t": models["tagger"]}, float_t="float")
    # the GRU(8) after the pooling: kernel 8x24 (one PositionDense for 8 steps), recurrent kernel 8x24
    assert src.count("_W[192]") == 1 and src.count("_U[192]") == 1
    assert "Recurrent(gru, 8x8)" in src


# ---------------------------------------------------------------------------
# the IR tier: the numpy evaluator against float64 Keras
# ---------------------------------------------------------------------------

@pytest.fixture(scope="module")
def models64():
    old, oldx = keras.config.dtype_policy(), keras.config.floatx()
    keras.config.set_floatx("float64")
    keras.config.set_dtype_policy("float64")
    try:
        m = _models(keras)  # the layers keep their float64 policy
    finally:
        keras.config.set_dtype_policy(old)
        keras.config.set_floatx(oldx)
    return m


@pytest.mark.ir
@pytest.mark.parametrize("opt", [False, True])
def test_ir_vs_keras64(models64, opt):
    for k, m in models64.items():
        X = rows_saturating(m, n=1000).astype(np.float64)
        (e,) = build_entries({k: m}, float_t="double", optimize=opt)
        got = evaluate(e.graph, X)
        want = keras_ref(m, X)
        scale = 1 + np.abs(want).max(axis=1, keepdims=True)
        err = np.abs(got - want) / scale
        assert err.max() < 1e-12, f"{k}: max relative error {err.max():.3g}"


# ---------------------------------------------------------------------------
# refusals
# ---------------------------------------------------------------------------

def _refused(model, *words):
    with pytest.raises(UnsupportedModelError) as e:
        scikinc.convert(model)
    msg = str(e.value)
    for w in words:
        assert w in msg, msg
    return msg


def test_refusals():
    i = keras.Input((5, 3))
    _refused(keras.Model(i, L.LSTM(2, return_state=True, name="st")(i)), "'st'", "return_state")
    _refused(keras.Model(i, L.Bidirectional(L.GRU(2, return_state=True), name="bst")(i)), "'bst'",
             "return_state")
    s = keras.Sequential([keras.Input((5, 3), batch_size=4), L.GRU(2, stateful=True, name="sf")])
    _refused(s, "'sf'", "stateful")
    _refused(keras.Model(i, L.SimpleRNN(2, name="after_mask")(L.Masking()(i))), "'after_mask'", "mask")
    j = keras.Input((6,))
    _refused(keras.Model(j, L.GRU(2, name="emb_mask")(L.Embedding(9, 3, mask_zero=True)(j))), "'emb_mask'",
             "mask")
    h0 = keras.Input((2,))
    _refused(keras.Model([i, h0], L.GRU(2, name="init")(i, initial_state=h0)), "'init'", "initial state")
    _refused(keras.Model(i, L.SimpleRNN(3, activation="softmax", name="smx")(i)), "'smx'", "softmax")
    _refused(keras.Model(i, L.RNN([L.GRUCell(2), L.GRUCell(2)], name="stk")(i)), "'stk'")


def test_cli_refusal(tmp_path):
    i = keras.Input((5, 3))
    path = tmp_path / "masked.keras"
    keras.Model(i, L.LSTM(2, name="masked_lstm")(L.Masking()(i))).save(path)
    res = subprocess.run([sys.executable, "-m", "scikinc", str(path), "-o", str(tmp_path / "x.C")],
                         capture_output=True, text=True)
    assert res.returncode != 0
    assert "scikinC: error:" in res.stderr and "'masked_lstm'" in res.stderr and "mask" in res.stderr


@pytest.mark.ir
def test_ir_tf_keras():
    """tf_keras (Keras 2) layers: the same weights layout; hard_sigmoid is Keras 2's."""
    tfk = pytest.importorskip("tf_keras")
    TL = tfk.layers
    tfk.utils.set_random_seed(2)
    m = tfk.Sequential([tfk.Input((6, 3)), TL.LSTM(4, return_sequences=True, recurrent_activation="hard_sigmoid"),
                        TL.GRU(3, return_sequences=True, go_backwards=True),
                        TL.Bidirectional(TL.GRU(2, reset_after=False, return_sequences=True), merge_mode="sum"),
                        TL.SimpleRNN(2)])
    X = rows_saturating(m, n=1000)
    want = m.predict(X.reshape(-1, 6, 3), verbose=0).astype(np.float64)
    (e,) = build_entries({"t": m}, float_t="float")
    close(evaluate(e.graph, X, dtype=np.float32), want, X, "tf_keras")
