"""Small 2-D CNN benchmark (issue #16): ns per single-row call of the scikinc
.so (default build) against ONNX Runtime (tf2onnx, 1 thread, one row from
Python) and Keras ``model(x)`` (keras2c: see its row).  The model: 16x16x1 -> Conv2D 8 (3x3, same,
relu) -> MaxPooling 2 -> Conv2D 16 (3x3, same) -> BatchNormalization -> relu
-> MaxPooling 2 -> Flatten -> Dense 10 (softmax).

    python -m benchmarks.bench_cnn
"""
from __future__ import annotations

import os
import time

import numpy as np

from .common import BUILD, machine, print_rows, time_c, time_py

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

SHAPE = (16, 16, 1)
N_IN = int(np.prod(SHAPE))


def cnn(seed: int = 0):
    import keras

    keras.utils.set_random_seed(seed)
    L = keras.layers
    model = keras.Sequential([keras.Input(SHAPE), L.Conv2D(8, 3, padding="same", activation="relu"),
                              L.MaxPooling2D(2), L.Conv2D(16, 3, padding="same"), L.BatchNormalization(), L.ReLU(),
                              L.MaxPooling2D(2), L.Flatten(), L.Dense(10, activation="softmax")], name="cnn")
    rng = np.random.default_rng(seed)
    for w in model.weights:  # non-trivial BatchNormalization statistics
        if "moving_variance" in w.path:
            w.assign(rng.uniform(0.5, 2.0, tuple(w.shape)).astype(np.float32))
        elif "moving_mean" in w.path or "beta" in w.path:
            w.assign(rng.normal(size=tuple(w.shape)).astype(np.float32) * 0.1)
    return model


def _onnx_session(model):
    import onnxruntime as ort
    import tensorflow as tf
    import tf2onnx

    fn = tf.function(lambda x: model(x, training=False))
    spec = [tf.TensorSpec((None, *SHAPE), tf.float32, name="x")]
    proto, _ = tf2onnx.convert.from_function(fn, input_signature=spec, opset=17)
    so = ort.SessionOptions()
    so.intra_op_num_threads = 1
    so.inter_op_num_threads = 1
    sess = ort.InferenceSession(proto.SerializeToString(), so, providers=["CPUExecutionProvider"])
    name = sess.get_inputs()[0].name
    return lambda x: sess.run(None, {name: x.reshape(-1, *SHAPE)})[0]


def run() -> list[dict]:
    import scikinc

    model = cnn()
    X = np.random.default_rng(0).normal(size=(256, N_IN)).astype(np.float32)
    out = BUILD / "cnn"
    out.mkdir(parents=True, exist_ok=True)
    src = scikinc.convert(model)
    t0 = time.perf_counter()
    so = scikinc.compile(src, out / "cnn.so")
    compile_s = time.perf_counter() - t0
    ref = np.asarray(model(X[:8].reshape(-1, *SHAPE)), dtype=np.float64)
    assert np.allclose(scikinc.load(so, "cnn")(X[:8]), ref, rtol=1e-4, atol=1e-5)
    ns = min(time_c(so, "cnn", X) for _ in range(3))
    rows = [{"model": "cnn", "tool": "scikinc .so (default: -O3, target_clones)", "ns_per_call": ns,
             "c_bytes": len(src), "compile_s": compile_s,
             "notes": f"{sum(int(np.prod(w.shape)) for w in model.weights)} weights, BatchNormalization folded"}]
    x1 = X[:1]
    try:
        sess = _onnx_session(model)
        assert np.allclose(sess(x1), ref[:1], rtol=1e-4, atol=1e-5)
        t = time_py(sess, x1)
        rows.append({"model": "cnn", "tool": "ONNX Runtime (tf2onnx, Python, 1 thread, 1 row)", "ns_per_call": t,
                     "notes": f"{t / ns:.1f}x scikinc"})
    except Exception as e:  # noqa: BLE001 - report, keep the other rows
        rows.append({"model": "cnn", "tool": "ONNX Runtime (tf2onnx)", "ns_per_call": float("nan"),
                     "notes": f"unavailable: {type(e).__name__}: {str(e)[:80]}"})
    xk = x1.reshape(1, *SHAPE)
    t = time_py(lambda x: model(x, training=False), xk, min_time=0.5, max_calls=2000)
    rows.append({"model": "cnn", "tool": "Keras model(x) (Python, 1 row)", "ns_per_call": t,
                 "notes": f"{t / ns:.0f}x scikinc"})
    rows.append({"model": "cnn", "tool": "keras2c", "ns_per_call": float("nan"),
                 "notes": "not run: the PyPI package (keras2c 2.0) ships the Python generator without its C "
                          "library (include/k2c_*.c), so its output does not compile"})
    return rows


def main() -> None:
    print_rows(f"# small 2-D CNN (16x16x1 -> conv 8 -> pool -> conv 16 + BN -> pool -> dense 10); {machine()}", run())


if __name__ == "__main__":
    main()
