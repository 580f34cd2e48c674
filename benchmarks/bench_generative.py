"""The full generative symbol of a Lamarr-like deployment:
``resolution(out, in, rnd) = tY^-1(generator(concat(tX(in), rnd)))`` with
QuantileTransformer pre/post-processing and the residual 10 x 128 generator.

    python -m benchmarks.bench_generative
"""
from __future__ import annotations

import os
import time
from pathlib import Path

import numpy as np

from .common import BUILD, fmt_ns, time_c, time_py

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


def _deployment():
    import sys

    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "examples" / "lamarr_like"))
    import lamarr
    from sklearn.preprocessing import QuantileTransformer

    cond, y = lamarr.toy_data(20000)
    tX = QuantileTransformer(n_quantiles=200, output_distribution="normal").fit(cond)
    tY = QuantileTransformer(n_quantiles=200, output_distribution="normal").fit(y)
    gen = lamarr.calibrate(lamarr.generator(), tX.transform(cond))
    return cond, tX, gen, tY


def run() -> list[dict]:
    import scikinc

    cond, tX, gen, tY = _deployment()
    model = "generative: QT + 10×128 residual + QT⁻¹"
    BUILD.mkdir(parents=True, exist_ok=True)
    rows = []
    rng = np.random.default_rng(0)
    X, R = cond[:4096], rng.normal(size=(4096, 128))
    obj = {"resolution": scikinc.Generative(gen, preprocessing=tX, postprocessing=tY, n_random=128)}
    for label, kw in (("scikinc (portable default)", {}), ("scikinc (reproducible)", {"reproducible": True}),
                      ("scikinc (-march=native)", {"march_native": True})):
        t0 = time.perf_counter()
        so = scikinc.compile(obj, BUILD / f"gen_{len(rows)}.so", **kw)
        dt = time.perf_counter() - t0
        rows.append(dict(model=model, tool=label, ns_per_call=time_c(so, "resolution", X, rnd=R, calls=20000),
                         c_bytes=so.with_suffix(".c").stat().st_size, compile_s=dt))
    f = scikinc.load(BUILD / "gen_0.so", "resolution")
    x32, r32 = X[0].astype(np.float32), R[0].astype(np.float32)
    rows.append(dict(model=model, tool="scikinc from Python (cffi)", ns_per_call=time_py(f, x32, r32)))

    def python_chain(x, r):
        z = np.hstack([tX.transform(x[None]), r[None]]).astype(np.float32)
        return tY.inverse_transform(np.asarray(gen(z), dtype=np.float64))

    rows.append(dict(model=model, tool="sklearn + Keras model(x)", ns_per_call=time_py(python_chain, X[0], R[0],
                                                                                      max_calls=300)))
    return rows


if __name__ == "__main__":
    for r in run():
        print(f"{r['tool']:<32} {fmt_ns(r['ns_per_call']):>12}")
