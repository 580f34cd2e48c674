"""Batched resgen (the Keras generator of bench_keras.py): ns per row of
``resgen_batch`` over 10k rows for the scikinc builds, against ONNX Runtime
(tf2onnx, 1 thread) on the same 10k rows in one ``run`` call, the single-call
loop over the same rows, the opt-in half-size weights (float16 / bfloat16,
single call and batch, against the float32 build), and this core's FMA peak (a register-only FMA loop,
benchmarks/fmapeak.c): resgen's multiply-adds per row / peak FMAs per ns.
Everything is timed in the thread's CPU time in the same run (the machine may
be shared: descheduled time does not count), best of several passes.

    python -m benchmarks.bench_batch
"""
from __future__ import annotations

import os
import subprocess
import time

import numpy as np

from .bench_keras import N_IN, _onnx_session, resgen
from .common import BUILD, HERE, fmt_ns, machine, print_rows

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

N_ROWS = 10000
REPS = 20


def _exe(stem: str, *flags: str) -> str:
    BUILD.mkdir(parents=True, exist_ok=True)
    exe = BUILD / stem
    subprocess.run(["gcc", "-O2", *flags, "-o", str(exe), str(HERE / f"{stem}.c"), "-ldl"], check=True)
    return str(exe)


def fma_peak() -> tuple[float, int]:
    """(float32 FMAs per ns, vector lanes) of this core, best of 3 runs."""
    exe = _exe("fmapeak", "-march=native")
    best = (0.0, 1)
    for _ in range(3):
        rate, lanes = subprocess.run([exe], capture_output=True, text=True, check=True).stdout.split()
        best = max(best, (float(rate), int(lanes)))
    return best


def time_rows(so, symbol: str, X: np.ndarray, *, single: bool = False, reps: int = REPS) -> float:
    """Best ns per row of ``symbol_batch`` over all of X (or of one call per
    row with ``single``), in thread CPU time (benchmarks/cbatch.c)."""
    exe = _exe("cbatch")
    rows = BUILD / f"batch_rows_{os.getpid()}.bin"
    np.ascontiguousarray(X, dtype=np.float32).tofile(rows)
    try:
        args = [exe, str(so), symbol, str(rows), str(len(X)), str(reps), "float"] + (["single"] if single else [])
        return float(subprocess.run(args, capture_output=True, text=True, check=True).stdout)
    finally:
        rows.unlink()


def time_py_rows(fn, X: np.ndarray, reps: int = REPS) -> float:
    """Best ns per row of ``fn(X)`` in thread CPU time."""
    fn(X)
    best = float("inf")
    for _ in range(reps):
        t0 = time.thread_time_ns()
        fn(X)
        best = min(best, (time.thread_time_ns() - t0) / len(X))
    return best


def macs(model) -> int:
    """Multiply-adds per row of a Dense-only Keras model."""
    return sum(int(np.prod(layer.kernel.shape)) for layer in model.layers if hasattr(layer, "kernel"))


def run() -> list[dict]:
    import scikinc

    model = resgen()
    X = np.random.default_rng(0).normal(size=(N_ROWS, N_IN)).astype(np.float32)
    out = BUILD / "batch"
    out.mkdir(parents=True, exist_ok=True)
    src = scikinc.convert(model)
    ref = np.asarray(model(X[:64], training=False), dtype=np.float64)
    rate, lanes = fma_peak()
    n_mac = macs(model)
    peak = n_mac / rate
    rows: list[dict] = []
    builds = {
        "default: -O3, v4/v3/baseline versions": {},
        "-march=native": {"march_native": True},
        "reproducible: -ffp-contract=off": {"reproducible": True},
    }
    sos = {}
    for label, kw in builds.items():
        so = sos[label] = scikinc.compile(src, out / f"resgen_{len(sos)}.so", **kw)
        got = scikinc.load(so, "resgen")(X[:64])
        assert np.allclose(got, ref, rtol=1e-4, atol=1e-4), label
    try:
        sess = _onnx_session(model)
        assert np.allclose(sess(X[:64]), ref, rtol=1e-4, atol=1e-4)
        ort = time_py_rows(sess, X)
    except Exception as e:  # noqa: BLE001 - report, keep the other rows
        sess, ort = None, float("nan")
        ort_note = f"unavailable: {type(e).__name__}: {str(e)[:80]}"
    for label, so in sos.items():
        ns = time_rows(so, "resgen", X)
        one = time_rows(so, "resgen", X, single=True)
        note = f"{one / ns:.2f}x its single-call loop ({fmt_ns(one)}/row), {ns / peak:.2f}x the FMA peak"
        if np.isfinite(ort):
            note += f", {ort / ns:.2f}x faster than ONNX Runtime batched"
        rows.append({"model": "resgen batch 10k rows", "tool": f"scikinc .so ({label})", "ns_per_call": ns,
                     "notes": note})
    base = time_rows(sos["default: -O3, v4/v3/baseline versions"], "resgen", X, single=True)
    for w in ("float16", "bfloat16"):
        so = scikinc.compile(scikinc.convert(model, weights=w), out / f"resgen_{w}.so")
        got = scikinc.load(so, "resgen")(X[:64])
        err = float(np.abs(got - ref).max())
        one = time_rows(so, "resgen", X, single=True)
        ns = time_rows(so, "resgen", X)
        rows.append({"model": "resgen single call", "tool": f"scikinc .so (default, weights={w})", "ns_per_call": one,
                     "notes": f"{base / one:.2f}x the float32 build's single call ({fmt_ns(base)}); max |err| vs "
                              f"Keras {err:.1e} on 64 rows"})
        rows.append({"model": "resgen batch 10k rows", "tool": f"scikinc .so (default, weights={w})",
                     "ns_per_call": ns, "notes": f"{ns / peak:.2f}x the FMA peak"})
    rows.append({"model": "resgen batch 10k rows", "tool": "ONNX Runtime (tf2onnx, 1 thread, one 10k-row run)",
                 "ns_per_call": ort,
                 "notes": ort_note if sess is None else f"{ort / peak:.2f}x the FMA peak"})
    rows.append({"model": "resgen batch 10k rows", "tool": "floor: FMA peak of this core", "ns_per_call": peak,
                 "notes": f"{n_mac} multiply-adds (= {2 * n_mac} FLOPs) per row at {rate:.1f} float FMAs/ns "
                          f"({lanes}-lane register-only FMA loop, benchmarks/fmapeak.c)"})
    return rows


def main() -> None:
    print_rows(f"# resgen batched over {N_ROWS} rows, ns per row; {machine()}", run())


if __name__ == "__main__":
    main()
