"""m2cgen-generated C for the cases of bench_trees it supports (not
sklearn's GradientBoostingClassifier nor HistGB in m2cgen 0.10), timed from C with the
same harness as scikinc (``ctime.c``).  m2cgen's ``score(double *in, double
*out)`` is wrapped in a scikinc-style entry point (float row in, converted to
double) so that both are called the same way.  emlearn is not installed
(it targets microcontrollers and is not part of the comparison).

    python -m benchmarks.bench_m2cgen
"""
from __future__ import annotations

import subprocess
import sys
import warnings

import numpy as np

from .bench_trees import models
from .common import BUILD, fmt_ns, time_c

WRAPPER = r"""
#include <stddef.h>
const int m2c_n_inputs = %(n_in)d;
const int m2c_n_outputs = %(n_out)d;
float *m2c(float *out, const float *in)
{
  double x[%(n_in)d], y[%(n_out_alloc)d];
  for (int i = 0; i < %(n_in)d; i++) x[i] = in[i];
  %(call)s
  for (int j = 0; j < %(n_out)d; j++) out[j] = (float)y[j + %(skip)d];
  return out;
}
"""


def run(only=None) -> list[dict]:
    import m2cgen

    warnings.filterwarnings("ignore")
    rows = []
    BUILD.mkdir(parents=True, exist_ok=True)
    for label, m, X, y in models():
        if label.startswith("HistGB") or (only and only not in label):
            continue
        m.fit(X, y)
        n_cls = len(m.classes_)
        try:
            code = m2cgen.export_to_c(m)
        except Exception as e:  # noqa: BLE001 - report, keep the other rows
            rows.append(dict(model=label, tool="m2cgen", ns_per_call=float("nan"),
                             notes=f"not supported: {str(e)[:60]}"))
            continue
        # binary: m2cgen's score returns 2 probabilities; scikinc returns P(1)
        call = "score(x, y);"
        wrap = WRAPPER % dict(n_in=X.shape[1], n_out=1 if n_cls == 2 else n_cls, n_out_alloc=max(n_cls, 2),
                              call=call, skip=1 if n_cls == 2 else 0)
        src = BUILD / f"m2cgen_{n_cls}.c"
        src.write_text(code + wrap)
        so = src.with_suffix(".so")
        import time

        t0 = time.perf_counter()
        subprocess.run(["gcc", "-O3", "-fPIC", "-shared", "-o", str(so), str(src), "-lm"], check=True)
        compile_s = time.perf_counter() - t0
        Xt = np.random.default_rng(1).normal(size=(5000, X.shape[1]))
        ns = time_c(so, "m2c", Xt, calls=20000)
        rows.append(dict(model=label, tool="m2cgen (C, -O3)", ns_per_call=ns, c_bytes=src.stat().st_size,
                         compile_s=compile_s))
    return rows


if __name__ == "__main__":
    for r in run(sys.argv[1] if len(sys.argv) > 1 else None):
        print(f"{r['model']:<26} {r['tool']:<18} {fmt_ns(r['ns_per_call']):>10} {r.get('notes', '')}")
