"""Opt-in half-size dense weights (``weights="float16"`` / ``"bfloat16"``):
exact widening of every 16-bit pattern, outputs against a numpy evaluation of
the graph with the same rounded weights (tight) and against the library
(loose: the rounding of the weights costs ~1e-3 relative for float16, ~1e-2
for bfloat16), batch == single bitwise in every build, the CLI/API errors and
``scikinC validate --weights``'s report of the error against float32 weights."""
import copy
import os
import subprocess
import sys

import numpy as np
import pytest
from sklearn.neural_network import MLPRegressor
from test_batch import _levels, _resnet, check_batch, close
from util import rows

import scikinc
from scikinc.core import build_entries
from scikinc.errors import OptionError
from scikinc.ir.evaluate import evaluate
from scikinc.render import OpContext, half_bits, half_weights_value

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
HALF_MIN = OpContext(p="", src=[], dst="", num=None).half_min  # type: ignore[arg-type]


def rounded_reference(model, X, weights, float_t="double"):
    """numpy evaluation of the model's graph with the big dense layers'
    weights replaced by their rounded half values."""
    g = copy.deepcopy(build_entries({"m": model}, float_t=float_t)[0].graph)
    n = 0
    for op in g.ops:
        if type(op).__name__ == "Dense" and op.n_in * op.n_out >= HALF_MIN:
            op.W = half_weights_value(half_bits(op.W, weights), weights).reshape(op.W.shape)
            n += 1
    assert n, "no dense layer is big enough for half weights"
    return np.asarray(evaluate(g, X), dtype=np.float64)


def test_rounding_to_nearest_even():
    a = np.array([1.0, 1 + 2 ** -11, 1 + 3 * 2 ** -11, -2.5e-8, 65504.0, 1e-7, 0.1])
    assert np.array_equal(half_bits(a, "float16"), a.astype(np.float16).view(np.uint16))
    # bfloat16: ties to even on the float32 bits
    f = np.array([1 + 2 ** -8, 1 + 3 * 2 ** -8, 1 + 2 ** -8 + 2 ** -20, -3.0e38], np.float32)
    assert half_bits(f, "bfloat16").tolist() == [0x3F80, 0x3F82, 0x3F81, 0xFF62]
    back = half_weights_value(half_bits(f, "bfloat16"), "bfloat16")
    assert np.all(np.abs(back - f) <= np.abs(f) * 2 ** -8)
    assert np.isnan(half_weights_value(half_bits(np.array([np.nan]), "bfloat16"), "bfloat16")).all()


@pytest.mark.keras
@pytest.mark.parametrize("weights", ["float16", "bfloat16"])
def test_every_pattern_widens_exactly(tmp_path, weights):
    """y = 0 + 1 * w for a 1 -> N dense layer holding every finite pattern."""
    keras = pytest.importorskip("keras")
    bits = np.arange(65536, dtype=np.uint16)
    vals = half_weights_value(bits, weights)
    vals = vals[np.isfinite(vals)]
    i = keras.Input((1,))
    d = keras.layers.Dense(len(vals))
    m = keras.Model(i, d(i))
    d.set_weights([vals.reshape(1, -1).astype(np.float32), np.zeros(len(vals), np.float32)])
    src = scikinc.convert({"m": m}, weights=weights)
    assert "unsigned short" in src
    for lvl, kw in _levels().items():
        f = scikinc.load(scikinc.compile(src, tmp_path / f"{lvl}.so", **kw), "m")
        y = f(np.ones((7, 1), np.float32))
        assert np.array_equal(y[0].astype(np.float64), vals), lvl
        assert np.array_equal(f(np.ones(1, np.float32)), y[0]), lvl


@pytest.fixture(scope="module")
def mlp():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(600, 9))
    y = X[:, 0] - X[:, 1] ** 2 + np.sin(X[:, 2])
    return MLPRegressor(hidden_layer_sizes=(70, 80, 65), max_iter=300, random_state=0).fit(X, y), X


@pytest.mark.parametrize("weights", ["float16", "bfloat16"])
@pytest.mark.parametrize("float_t", ["float", "double", "long double"])
def test_mlp_vs_rounded_reference(tmp_path, mlp, weights, float_t):
    m, X = mlp
    R = rows(X, 1500, far=2.0)
    f = scikinc.load(scikinc.compile({"m": m}, tmp_path / "m.so", float_t=float_t, weights=weights), "m")
    Rt = np.asarray(R, dtype=f.dtype).astype(np.float64)
    got = check_batch(f, Rt)
    want = rounded_reference(m, Rt, weights, float_t)
    close(got, want, 2e-4 if float_t == "float" else 1e-11)
    # against sklearn (float64 weights): what the rounding costs
    close(got[:, 0], m.predict(Rt), 2e-2 if weights == "float16" else 1e-1)


@pytest.mark.keras
@pytest.mark.parametrize("weights", ["float16", "bfloat16"])
def test_keras_residual_half(tmp_path, weights):
    keras = pytest.importorskip("keras")
    m = _resnet(keras, 13, 70, 3, 5, 0)
    X = np.random.default_rng(0).normal(size=(1100, 13)).astype(np.float32)
    src = scikinc.convert({"res": m}, weights=weights)
    assert src.count("unsigned short") >= 4  # the 13x70 and 70x5 layers are small: float32
    for lvl, kw in _levels().items():
        f = scikinc.load(scikinc.compile(src, tmp_path / f"{lvl}.so", **kw), "res")
        got = check_batch(f, X, n_big=1100)
        if lvl == "clones":
            close(got, rounded_reference(m, X, weights, "float"), 1e-4)
            close(got, np.asarray(m(X, training=False)), 5e-2 if weights == "float16" else 2e-1)


def test_bad_weights(tmp_path, mlp):
    m, X = mlp
    with pytest.raises(OptionError, match=r"weights must be one of float32, float16, bfloat16; got 'float8'"):
        scikinc.convert({"m": m}, weights="float8")
    big = copy.deepcopy(m)
    big.coefs_[1][0, 0] = 1e5
    with pytest.raises(OptionError, match=r"beyond the float16 range.*use weights='bfloat16'"):
        scikinc.convert({"m": big}, weights="float16")
    assert "unsigned short" in scikinc.convert({"m": big}, weights="bfloat16")
    with pytest.raises(OptionError, match="cannot be given with so="):
        scikinc.validate({"m": m}, X, so=tmp_path / "x.so", weights="float16")


def test_cli_weights(tmp_path, mlp):
    import pickle

    m, X = mlp
    (tmp_path / "m.pkl").write_bytes(pickle.dumps(m))
    np.save(tmp_path / "x.npy", X[:300])
    cli = [sys.executable, "-m", "scikinc"]
    res = subprocess.run(cli + [f"m={tmp_path / 'm.pkl'}", "--weights", "float8"], capture_output=True, text=True)
    assert res.returncode != 0 and "--weights" in res.stderr and "invalid choice" in res.stderr
    res = subprocess.run(cli + [f"m={tmp_path / 'm.pkl'}", "--weights", "bfloat16", "-o", str(tmp_path / "m.c")],
                         capture_output=True, text=True)
    assert res.returncode == 0, res.stderr
    assert "unsigned short" in (tmp_path / "m.c").read_text()
    res = subprocess.run(cli + ["validate", f"m={tmp_path / 'm.pkl'}", "--data", str(tmp_path / "x.npy"),
                                "--weights", "float16", "--atol", "1e-1", "--rtol", "1e-1"],
                         capture_output=True, text=True)
    assert res.returncode == 0, res.stdout + res.stderr
    assert "float16 weights vs the float32 build" in res.stdout
    rep = scikinc.validate({"m": m}, X[:300], weights="float16", atol=1e-1, rtol=1e-1)
    assert rep.half_abs is not None and 0 < rep.half_abs.max() < 1e-1
