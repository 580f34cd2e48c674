"""Issue-7 acceptance: a Lamarr-shaped residual generator (12 conditions +
128 noise -> 9 outputs, 10 x 128 LeakyReLU blocks joined by Add) between a
QuantileTransformer on the conditions and a ColumnTransformer of
QuantileTransformers on the targets, exported as ONE generative symbol."""
import numpy as np
import pytest
from sklearn.compose import ColumnTransformer
from sklearn.preprocessing import QuantileTransformer, StandardScaler

import scikinc
from scikinc.reference import _inverse as sklearn_inverse  # per-block inverse_transform (ColumnTransformer has none)

pytestmark = pytest.mark.keras
keras = pytest.importorskip("keras")


def residual_generator(n_in=140, n_out=9, width=128, blocks=10, seed=0):
    keras.utils.set_random_seed(seed)
    inp = keras.Input(shape=(n_in,))
    x = keras.layers.Dense(width)(inp)
    x = keras.layers.LeakyReLU(negative_slope=0.1)(x)
    for _ in range(blocks - 1):
        h = keras.layers.Dense(width)(x)
        h = keras.layers.LeakyReLU(negative_slope=0.1)(h)
        h = keras.layers.Dropout(0.1)(h)
        x = keras.layers.Add()([x, h])
    out = keras.layers.Dense(n_out)(x)
    return keras.Model(inp, out)


@pytest.fixture(scope="module")
def deployment():
    rng = np.random.default_rng(0)
    X = np.column_stack([rng.lognormal(size=3000) * 10, rng.normal(size=(3000, 10)),
                         rng.integers(0, 3, 3000)])  # 12 conditions, one discrete
    Y = np.column_stack([rng.normal(size=(3000, 5)) * 0.01, rng.exponential(size=(3000, 4))])
    tX = QuantileTransformer(n_quantiles=100, output_distribution="normal").fit(X)
    tY = ColumnTransformer([("a", QuantileTransformer(n_quantiles=50), [0, 1, 2, 3, 4]),
                            ("b", StandardScaler(), [5, 6, 7, 8])]).fit(Y)
    return X, tX, residual_generator(), tY


def test_lamarr_generator_matches_python(deployment, tmp_path):
    X, tX, gen, tY = deployment
    so = scikinc.compile({"resolution": scikinc.Generative(gen, preprocessing=tX, postprocessing=tY,
                                                           n_random=128)}, tmp_path / "lamarr.so")
    f = scikinc.load(so, "resolution")
    assert (f.n_inputs, f.n_random, f.n_outputs) == (12, 128, 9)
    Xs = X[:1000].astype(np.float32).astype(float)
    R = np.random.default_rng(1).normal(size=(1000, 128)).astype(np.float32)
    Z = np.hstack([tX.transform(Xs), R]).astype(np.float32)
    expect = sklearn_inverse(tY, np.asarray(gen(Z)).astype(np.float64))
    got = f(Xs, R).astype(np.float64)
    # float build: <= 1e-4 relative to each output's scale
    scale = 1 + np.abs(expect).max(0)
    err = np.abs(got - expect) / scale
    assert err.max() <= 1e-4, f"max relative error {err.max():.2e} per column {err.max(0)}"
