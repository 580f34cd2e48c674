"""Flatten with data_format="channels_first" (per layer and through the global
image_data_format) against Keras: it moves the channel axis last before
flattening, so it is a permutation, never an identity."""
import os

import numpy as np
import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
keras = pytest.importorskip("keras")

from util import check_contract  # noqa: E402

from scikinc.converters.keras.layers import flatten_order  # noqa: E402

pytestmark = pytest.mark.keras
L = keras.layers


def _rows(shape, n=1500, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, *shape)) * 3
    X[0] = 0.0
    X[1] = 1e4
    X[2:12] = rng.uniform(-1e4, 1e4, size=(10, *shape))
    return X.astype(np.float32)


def _model(shape, fmt, seed):
    keras.utils.set_random_seed(seed)
    inp = keras.Input(shape)
    h = L.Flatten() if fmt is None else L.Flatten(data_format=fmt)
    return keras.Model(inp, L.Dense(7)(h(inp)))


@pytest.mark.parametrize("shape", [(3, 2), (3, 2, 4), (2, 3, 2, 2)])
@pytest.mark.parametrize("fmt", ["channels_first", "channels_last"])
def test_flatten_data_format(tmp_path, shape, fmt):
    m = _model(shape, fmt, seed=len(shape))
    X = _rows(shape)
    f = check_contract({"flat": m}, tmp_path, X=X.reshape(len(X), -1))["flat"]
    got = f(X.reshape(len(X), -1))
    want = np.asarray(m(X, training=False), dtype=np.float64)
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5 * (1 + np.abs(want).max()))
    if fmt == "channels_first":
        # the permutation matters: the same weights read as an identity would differ
        ident = np.asarray(m.layers[-1](X.reshape(len(X), -1)), dtype=np.float64)
        assert np.abs(ident - want).max() > 1e-2


def test_flatten_global_channels_first(tmp_path):
    old = keras.config.image_data_format()
    keras.config.set_image_data_format("channels_first")
    try:
        m = _model((4, 3), None, seed=5)
    finally:
        keras.config.set_image_data_format(old)
    assert m.layers[1].data_format == "channels_first"
    X = _rows((4, 3))
    got = check_contract({"flatg": m}, tmp_path)["flatg"](X.reshape(len(X), -1))
    want = np.asarray(m(X, training=False), dtype=np.float64)
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5 * (1 + np.abs(want).max()))


def test_flatten_order_is_channel_last_permutation():
    order = flatten_order((None, 2, 3), "channels_first")
    x = np.arange(6).reshape(2, 3)
    assert np.array_equal(order, x.T.reshape(-1))
    assert flatten_order((None, 2, 3), "channels_last") is None
    assert flatten_order((None, 5), "channels_first") is None
