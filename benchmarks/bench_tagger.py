"""Conv1D+GRU jet-tagger benchmark (issue #16): ns per single-row call of the
scikinc .so (default build, timed from C) against ONNX Runtime (tf2onnx, 1
thread, one row from Python) and Keras ``model(x)``.  The model: 20
constituents x 8 features -> Conv1D 32 (kernel 1, relu) -> Conv1D 32 (kernel 1,
relu) -> GRU 32 -> Dense 32 (relu) -> Dense 3 (softmax), random seeded weights.

    python -m benchmarks.bench_tagger
"""
from __future__ import annotations

import os
import time

import numpy as np

from .common import BUILD, machine, print_rows, time_c, time_py

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

SHAPE = (20, 8)
N_IN = int(np.prod(SHAPE))


def tagger(seed: int = 0):
    import keras

    keras.utils.set_random_seed(seed)
    L = keras.layers
    return keras.Sequential([keras.Input(SHAPE), L.Conv1D(32, 1, activation="relu"),
                             L.Conv1D(32, 1, activation="relu"), L.GRU(32), L.Dense(32, activation="relu"),
                             L.Dense(3, activation="softmax")], name="tagger")


def _unrolled(model):
    """The same model with ``GRU(unroll=True)``: tf2onnx then emits plain ops instead of an ONNX Loop."""
    import keras

    cfg = model.get_config()
    for layer in cfg["layers"]:
        if layer["class_name"] == "GRU":
            layer["config"]["unroll"] = True
    clone = keras.Sequential.from_config(cfg)
    clone.set_weights(model.get_weights())
    return clone


def _native_gru_graph(model):
    """The tagger written directly as an ONNX graph with ONNX's own GRU op (which tf2onnx does not
    emit for Keras 3): kernel-1 Conv1D as MatMul, GRU gates z r h as Keras, ``linear_before_reset``
    for ``reset_after``, time-major input (ONNX Runtime refuses ``layout=1``)."""
    import onnx
    from onnx import TensorProto
    from onnx import helper as h
    from onnx import numpy_helper as nh

    c1, c2, gru, d1, d2 = model.layers
    assert gru.reset_after and c1.kernel_size == (1,) and c2.kernel_size == (1,)

    def w(layer):
        return [np.asarray(a, dtype=np.float32) for a in layer.get_weights()]

    (k1, b1), (k2, b2), (gk, gr, gb), (dk1, db1), (dk2, db2) = map(w, (c1, c2, gru, d1, d2))
    inits = [nh.from_array(a, n) for a, n in [
        (k1[0], "k1"), (b1, "b1"), (k2[0], "k2"), (b2, "b2"), (gk.T[None], "gW"), (gr.T[None], "gR"),
        (gb.reshape(1, -1), "gB"), (dk1, "dk1"), (db1, "db1"), (dk2, "dk2"), (db2, "db2"),
        (np.array([0], dtype=np.int64), "ax")]]
    N = h.make_node
    units = int(gr.shape[0])
    nodes = [N("MatMul", ["x", "k1"], ["a1"]), N("Add", ["a1", "b1"], ["a2"]), N("Relu", ["a2"], ["a3"]),
             N("MatMul", ["a3", "k2"], ["a4"]), N("Add", ["a4", "b2"], ["a5"]), N("Relu", ["a5"], ["a6"]),
             N("Transpose", ["a6"], ["a7"], perm=[1, 0, 2]),
             N("GRU", ["a7", "gW", "gR", "gB"], ["", "hN"], hidden_size=units, linear_before_reset=1),
             N("Squeeze", ["hN", "ax"], ["hs"]),
             N("MatMul", ["hs", "dk1"], ["e1"]), N("Add", ["e1", "db1"], ["e2"]), N("Relu", ["e2"], ["e3"]),
             N("MatMul", ["e3", "dk2"], ["e4"]), N("Add", ["e4", "db2"], ["e5"]), N("Softmax", ["e5"], ["y"], axis=-1)]
    graph = h.make_graph(nodes, "tagger", [h.make_tensor_value_info("x", TensorProto.FLOAT, ["N", *SHAPE])],
                         [h.make_tensor_value_info("y", TensorProto.FLOAT, ["N", int(db2.shape[0])])], inits)
    proto = h.make_model(graph, opset_imports=[h.make_opsetid("", 17)])
    onnx.checker.check_model(proto)
    return proto


def _onnx_session(model, native: bool = False):
    import onnxruntime as ort

    if native:
        proto = _native_gru_graph(model)
    else:
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
    ops = sorted({n.op_type for n in proto.graph.node})
    return (lambda x: sess.run(None, {name: x.reshape(-1, *SHAPE)})[0]), ops


def run() -> list[dict]:
    import scikinc

    model = tagger()
    X = np.random.default_rng(0).normal(size=(1000, N_IN)).astype(np.float32)
    out = BUILD / "tagger"
    out.mkdir(parents=True, exist_ok=True)
    src = scikinc.convert(model)
    t0 = time.perf_counter()
    so = scikinc.compile(src, out / "tagger.so")
    compile_s = time.perf_counter() - t0
    ref = np.asarray(model(X.reshape(-1, *SHAPE), training=False), dtype=np.float64)
    diff = float(np.max(np.abs(np.asarray(scikinc.load(so, "tagger")(X), dtype=np.float64) - ref)))
    assert diff < 1e-5, diff
    ns = min(time_c(so, "tagger", X[:256]) for _ in range(3))
    rows = [{"model": "tagger", "tool": "scikinc .so (default: -O3, target_clones)", "ns_per_call": ns,
             "c_bytes": len(src), "compile_s": compile_s,
             "notes": f"{sum(int(np.prod(w.shape)) for w in model.weights)} weights; "
                      f"max /scikinc - Keras/ {diff:.1e} on 1000 rows; "
                      "tf2onnx.convert.from_keras fails on Keras 3 (KeyError keras_tensor_N)"}]
    x1 = X[:1]
    cases = [("tf2onnx", model, False), ("tf2onnx, GRU unroll=True", _unrolled(model), False),
             ("hand-built graph with the ONNX GRU op", model, True)]
    for label, m, native in cases:
        try:
            sess, ops = _onnx_session(m, native)
            d = float(np.max(np.abs(sess(X) - ref)))
            assert d < 1e-4, d
            t = time_py(sess, x1)
            gru = "an ONNX Loop" if "Loop" in ops else "the ONNX GRU op" if "GRU" in ops else "plain ops"
            rows.append({"model": "tagger", "tool": f"ONNX Runtime ({label}, Python, 1 thread, 1 row)",
                         "ns_per_call": t,
                         "notes": f"{t / ns:.1f}x scikinc; GRU as {gru} "
                                  f"({len(ops)} op types); max /ORT - Keras/ {d:.1e} on 1000 rows"})
        except Exception as e:  # noqa: BLE001 - report, keep the other rows
            rows.append({"model": "tagger", "tool": f"ONNX Runtime ({label})", "ns_per_call": float("nan"),
                         "notes": f"unavailable: {type(e).__name__}: {str(e)[:80]}"})
    xk = x1.reshape(1, *SHAPE)
    t = time_py(lambda x: model(x, training=False), xk, min_time=0.5, max_calls=2000)
    rows.append({"model": "tagger", "tool": "Keras model(x) (Python, 1 row)", "ns_per_call": t,
                 "notes": f"{t / ns:.0f}x scikinc"})
    rows.append({"model": "tagger", "tool": "keras2c", "ns_per_call": float("nan"),
                 "notes": "not run: the PyPI package (keras2c 2.0) ships the Python generator without its C "
                          "library (include/k2c_*.c), so its output does not compile"})
    return rows


def main() -> None:
    print_rows(f"# Conv1D+GRU jet tagger (20x8 -> conv1d 32 -> conv1d 32 -> GRU 32 -> dense 32 -> dense 3); "
               f"{machine()}", run())


if __name__ == "__main__":
    main()
