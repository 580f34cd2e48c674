"""Runtime guarantees on Keras residual models: thread safety, FP traps and a
Lamarr-shaped generative pipeline (scikinc-run vs Keras + sklearn)."""
import subprocess

import numpy as np
import pytest
from sklearn.preprocessing import QuantileTransformer, StandardScaler
from test_runtime import DTYPES, read_csv, run_tool, runtime, write_csv  # noqa: F401  (fixture)
from util import same_bits

import scikinc

pytestmark = pytest.mark.keras
keras = pytest.importorskip("keras")


def _keras_supported():
    return any("keras" in c.key.lower() for c in scikinc.supported())


needs_keras_converters = pytest.mark.skipif(not _keras_supported(), reason="Keras converters not available")


def residual(n_in, n_out, width=32, blocks=3, out_act=None, seed=0):
    keras.utils.set_random_seed(seed)
    inp = keras.Input(shape=(n_in,))
    x = keras.layers.Dense(width, activation="tanh")(inp)
    for _ in range(blocks):
        h = keras.layers.Dense(width)(x)
        h = keras.layers.LeakyReLU(negative_slope=0.1)(h)
        x = keras.layers.Add()([x, h])
    out = keras.layers.Dense(n_out, activation=out_act)(x)
    return keras.Model(inp, out)


@pytest.fixture(scope="module")
def nets():
    return {"k_sigmoid": residual(6, 3, out_act="sigmoid", seed=1),
            "k_softmax": residual(6, 5, out_act="softmax", seed=2)}


@needs_keras_converters
@pytest.mark.parametrize("float_t", ["float", "double"])
def test_keras_threads_and_fpe(runtime, nets, tmp_path, float_t):  # noqa: F811
    so = scikinc.compile(nets, tmp_path / f"k_{float_t}.so", float_t=float_t)
    rows = np.random.default_rng(0).normal(size=(1000, 6)) * [1, 10, 100, 1, 1, 1e3]
    rb = tmp_path / "rows.bin"
    np.ascontiguousarray(rows, dtype=DTYPES[float_t]).tofile(rb)
    for sym in nets:
        res = subprocess.run([str(runtime["threads"]), str(so), sym, str(rb), "1000", "8", "100000"],
                             capture_output=True, text=True, timeout=300)
        assert res.returncode == 0, res.stdout + res.stderr
    res = subprocess.run([str(runtime["fpe_host"]), str(so), *nets], capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stdout + res.stderr


@needs_keras_converters
def test_keras_generative_pipeline(runtime, tmp_path):  # noqa: F811
    """input -> [QuantileTransformer, N(0,1)] -> Keras residual generator ->
    StandardScaler^-1, as one generative symbol fed by the pipeline's noise."""
    rng = np.random.default_rng(3)
    X = np.column_stack([rng.lognormal(size=2000), rng.normal(size=(2000, 3))])
    Y = rng.normal(size=(2000, 2)) * [3, 0.1] + [1, 2]
    tX = QuantileTransformer(n_quantiles=100, output_distribution="normal").fit(X)
    tY = StandardScaler().fit(Y)
    gen = residual(4 + 8, 2, width=16, seed=4)
    scikinc.compile({"gen": scikinc.Generative(gen, preprocessing=tX, postprocessing=tY, n_random=8)},
                    tmp_path / "gen.so")
    cfg = tmp_path / "gen.cfg"
    cfg.write_text("input cond 4\nmodel y gen.so gen\noutput y cond[0]\nseed 77\n")
    inp = write_csv(tmp_path / "in.csv", X[:400])
    got = read_csv(run_tool(runtime, "--pipeline", cfg, "--dump-noise", tmp_path / "n.csv", inp).stdout)
    R = read_csv(tmp_path / "n.csv")
    f = scikinc.load(tmp_path / "gen.so", "gen")
    assert same_bits(got[:, :2].astype(np.float32), f(X[:400], R))
    Xs = X[:400].astype(np.float32).astype(np.float64)
    ref = tY.inverse_transform(gen.predict(np.hstack([tX.transform(Xs), R]).astype(np.float32), verbose=0))
    np.testing.assert_allclose(got[:, :2], ref, rtol=1e-4, atol=1e-4 * np.abs(ref).max())


KERAS_ACTIVATIONS = ["relu", "relu6", "elu", "selu", "gelu", "sigmoid", "hard_sigmoid", "silu", "hard_silu", "mish",
                     "softplus", "softsign", "tanh", "log_sigmoid", "leaky_relu", "celu", "hard_tanh", "linear",
                     "softmax", "log_softmax"]


@needs_keras_converters
@pytest.mark.parametrize("float_t", ["float", "double"])
def test_keras_activations_do_not_trap(runtime, tmp_path, float_t):  # noqa: F811
    """Every Keras activation on Dense outputs of +-1e30 inputs: no FP trap."""
    models = {}
    for a in KERAS_ACTIVATIONS:
        keras.utils.set_random_seed(0)
        inp = keras.Input(shape=(4,))
        models["k_" + a] = keras.Model(inp, keras.layers.Dense(4, activation=a)(inp))
    so = scikinc.compile(models, tmp_path / f"acts_{float_t}.so", float_t=float_t)
    res = subprocess.run([str(runtime["fpe_host"]), str(so), *models], capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stdout + res.stderr
    assert res.stdout.count("OK") == len(models)
