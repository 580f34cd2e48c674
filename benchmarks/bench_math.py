"""scikinc's own math functions (templates/helpers/math.c.j2) vs glibc's libm,
in the loop an activation layer runs (y[i] = f(x[i]) over 256 values).

    python -m benchmarks.bench_math [NAME ...]

Each function is timed in four builds of the same C: the default build (own
implementation where it is the default), ``-DSKC_OWN_MATH`` (own everywhere),
``-DSKC_LIBM_MATH`` (libm calls) and own + reproducible flags, at the
x86-64 baseline and, where the CPU has it, x86-64-v3 (the AVX2 clone scikinc's
hot functions get).  The per-element time decides which functions use their
own implementation by default (``default_own`` in math.c.j2).
"""
from __future__ import annotations

import ctypes
import platform
import subprocess

import numpy as np

from .common import BUILD

N = 256
ONE_ARG = ("exp", "expm1", "log", "log1p", "tanh", "erf", "erfc", "exp2", "log2", "log10", "sinh", "cosh",
           "sin", "cos", "tan", "asin", "acos", "atan", "cbrt", "asinh", "acosh", "atanh", "tgamma", "lgamma")
#: arguments where each function does real work (no saturation)
RANGES = {"exp": (-20, 20), "expm1": (-5, 5), "log": (1e-3, 1e3), "log1p": (-0.5, 10), "tanh": (-5, 5),
          "erf": (-4, 4), "erfc": (-4, 10), "exp2": (-30, 30), "log2": (1e-3, 1e3), "log10": (1e-3, 1e3),
          "sinh": (-20, 20), "cosh": (-20, 20), "pow": (0.1, 10), "sin": (-10, 10), "cos": (-10, 10),
          "tan": (-10, 10), "asin": (-1, 1), "acos": (-1, 1), "atan": (-10, 10), "atan2": (-5, 5),
          "cbrt": (-1e3, 1e3), "asinh": (-10, 10), "acosh": (1, 20), "atanh": (-0.99, 0.99), "tgamma": (0.1, 30),
          "lgamma": (0.1, 100), "hypot": (-5, 5)}

KERNEL = r"""
#include <math.h>
#include <string.h>
#include <time.h>
#include "skc_math.h"
#define LOOPS(name) \
  void loop_##name##f(const float *x, float *y, int n) { for (int i = 0; i < n; i++) y[i] = skc_##name##f(x[i]); } \
  void loop_##name(const double *x, double *y, int n) { for (int i = 0; i < n; i++) y[i] = skc_##name(x[i]); }
LOOPS(exp) LOOPS(expm1) LOOPS(log) LOOPS(log1p) LOOPS(tanh) LOOPS(erf) LOOPS(erfc) LOOPS(exp2) LOOPS(log2)
LOOPS(log10) LOOPS(sinh) LOOPS(cosh) LOOPS(sin) LOOPS(cos) LOOPS(tan) LOOPS(asin) LOOPS(acos) LOOPS(atan)
LOOPS(cbrt) LOOPS(asinh) LOOPS(acosh) LOOPS(atanh) LOOPS(tgamma) LOOPS(lgamma)
void loop_pow(const double *x, double *y, int n) { for (int i = 0; i < n; i++) y[i] = skc_pow(x[i], 1.37); }
void loop_hypotf(const float *x, float *y, int n) { for (int i = 0; i < n; i++) y[i] = skc_hypotf(x[i], x[n - 1 - i]); }
void loop_hypot(const double *x, double *y, int n) { for (int i = 0; i < n; i++) y[i] = skc_hypot(x[i], x[n - 1 - i]); }
void loop_powf(const float *x, float *y, int n) { for (int i = 0; i < n; i++) y[i] = skc_powf(x[i], 1.37f); }
void loop_atan2f(const float *x, float *y, int n) { for (int i = 0; i < n; i++) y[i] = skc_atan2f(x[i], x[n - 1 - i]); }
void loop_atan2(const double *x, double *y, int n) { for (int i = 0; i < n; i++) y[i] = skc_atan2(x[i], x[n - 1 - i]); }
/* best ns per element over `reps` rounds of `calls` loop calls */
double time_loop(void (*f)(const void *, void *, int), const void *x, void *y, int n, int calls, int reps)
{
  double best = 1e30;
  for (int r = 0; r < reps; r++) {
    struct timespec a, b;
    clock_gettime(CLOCK_MONOTONIC, &a);
    for (int c = 0; c < calls; c++) {
      f(x, y, n);
      __asm__ __volatile__("" : : "r"(y) : "memory");
    }
    clock_gettime(CLOCK_MONOTONIC, &b);
    const double ns = ((b.tv_sec - a.tv_sec) * 1e9 + (b.tv_nsec - a.tv_nsec)) / ((double)calls * n);
    if (ns < best)
      best = ns;
  }
  return best;
}
"""


def _build(tag: str, flags: list[str]) -> ctypes.CDLL:
    from scikinc.render import MATH_UNITS, math_source

    d = BUILD / "math"
    d.mkdir(parents=True, exist_ok=True)
    (d / "skc_math.h").write_text(math_source(set(MATH_UNITS)) + "\n")
    (d / "kernel.c").write_text(KERNEL)
    so = d / f"kernel_{tag}.so"
    subprocess.run(["gcc", "-O3", *flags, "-fPIC", "-shared", "-I", str(d), "-o", str(so), str(d / "kernel.c"),
                    "-lm"], check=True)
    return ctypes.CDLL(str(so))


def _isa_levels() -> dict[str, list[str]]:
    levels = {"x86-64": []} if platform.machine() == "x86_64" else {"native": []}
    try:
        flags = open("/proc/cpuinfo").read()
    except OSError:
        flags = ""
    if platform.machine() == "x86_64" and all(f" {f}" in flags for f in ("avx2", "fma", "bmi2")):
        levels["x86-64-v3"] = ["-march=x86-64-v3"]
    return levels


def measure(calls: int = 2000, reps: int = 7, names=None) -> list[dict]:
    """[{function, type, isa, own, libm, reproducible, forced}] in ns per element
    (``own``: the default build; ``forced``: -DSKC_OWN_MATH, scikinc's own
    even where the default is libm)."""
    from scikinc.compiler import REPRODUCIBLE_FLAGS

    out = []
    rng = np.random.default_rng(0)
    for isa, fl in _isa_levels().items():
        libs = {"own": _build(f"own_{isa}", fl), "libm": _build(f"libm_{isa}", [*fl, "-DSKC_LIBM_MATH"]),
                "reproducible": _build(f"repro_{isa}", [*fl, *REPRODUCIBLE_FLAGS]),
                "forced": _build(f"forced_{isa}", [*fl, "-DSKC_OWN_MATH"])}
        for name in names or (*ONE_ARG, "pow", "atan2", "hypot"):
            for t, dt, suf in (("float", np.float32, "f"), ("double", np.float64, "")):
                lo, hi = RANGES[name]
                x = np.ascontiguousarray(rng.uniform(lo, hi, N).astype(dt))
                y = np.empty_like(x)
                row = {"function": name, "type": t, "isa": isa}
                for k, lib in libs.items():
                    lib.time_loop.restype = ctypes.c_double
                    lib.time_loop.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_void_p, ctypes.c_int,
                                              ctypes.c_int, ctypes.c_int]
                    fn = ctypes.cast(getattr(lib, f"loop_{name}{suf}"), ctypes.c_void_p)
                    row[k] = lib.time_loop(fn, x.ctypes.data, y.ctypes.data, N, calls, reps)
                out.append(row)
    return out


def run() -> list[dict]:
    rows = []
    for m in measure():
        model = f"math: {m['function']} {m['type']} over {N} values ({m['isa']})"
        rows.append({"model": model, "tool": "scikinc own (default build)", "ns_per_call": m["own"] * N})
        rows.append({"model": model, "tool": "scikinc own, reproducible", "ns_per_call": m["reproducible"] * N})
        rows.append({"model": model, "tool": "scikinc own (-DSKC_OWN_MATH)", "ns_per_call": m["forced"] * N})
        rows.append({"model": model, "tool": "glibc libm (-DSKC_LIBM_MATH)", "ns_per_call": m["libm"] * N})
    return rows


if __name__ == "__main__":
    import sys

    print(f"{'function':8s} {'type':6s} {'isa':10s} {'default':>7s} {'own':>7s} {'repro':>7s} {'libm':>7s}  ns/element")
    for m in measure(names=sys.argv[1:] or None):
        print(f"{m['function']:8s} {m['type']:6s} {m['isa']:10s} {m['own']:7.2f} {m['forced']:7.2f} "
              f"{m['reproducible']:7.2f} {m['libm']:7.2f}")
