"""Planted bugs for checking that .ci/sanitize really catches them.

Not collected by the normal test run (the file name does not match test_*.py);
tests/test_runtime_sanitize.py runs these through .ci/sanitize and expects the
run to FAIL with a sanitizer report.  Without the sanitizer they pass silently,
which is exactly why the sanitizer run exists.
"""
import numpy as np

import scikinc

META = """#include <limits.h>
#include <stddef.h>
const int {n}_n_inputs = 2, {n}_n_outputs = 1;
const char {n}_float_t[] = "float";
"""

OOB = META.format(n="oob") + """
static const float table[4] = {1, 2, 3, 4};
/* through a pointer, as generated code reads its weights: only ASan sees it */
float *oob(float *out, const float *in) { const float *volatile w = table; out[0] = w[(int)in[0]] + in[1]; return out; }
float *oob_batch(float *out, const float *in, size_t n)
{ for (size_t i = 0; i < n; i++) oob(out + i, in + 2 * i); return out; }
"""

STACK = META.format(n="stk") + """
float *stk(float *out, const float *in)
{ float buf[3] = {in[0], in[1], 0}; float *volatile p = buf; int k = (int)in[1]; out[0] = p[k]; return out; }
float *stk_batch(float *out, const float *in, size_t n)
{ for (size_t i = 0; i < n; i++) stk(out + i, in + 2 * i); return out; }
"""

INDEX = META.format(n="idx") + """
static const float table[4] = {1, 2, 3, 4};
float *idx(float *out, const float *in) { out[0] = table[(int)in[0]] + in[1]; return out; }
float *idx_batch(float *out, const float *in, size_t n)
{ for (size_t i = 0; i < n; i++) idx(out + i, in + 2 * i); return out; }
"""

UB = META.format(n="ub") + """
float *ub(float *out, const float *in)
{ int k = INT_MAX - (int)in[0]; k += (int)in[1]; out[0] = (float)k; return out; }
float *ub_batch(float *out, const float *in, size_t n)
{ for (size_t i = 0; i < n; i++) ub(out + i, in + 2 * i); return out; }
"""


def _call(tmp_path, src, sym, row):
    so = scikinc.compile(src, tmp_path / f"{sym}.so")
    return scikinc.load(so, sym)(np.array(row, dtype=np.float32))


def test_global_out_of_bounds(tmp_path):
    _call(tmp_path, OOB, "oob", [4, 0])  # reads table[4]


def test_stack_out_of_bounds(tmp_path):
    _call(tmp_path, STACK, "stk", [0, 3])  # reads buf[3]


def test_array_index_out_of_bounds(tmp_path):
    _call(tmp_path, INDEX, "idx", [4, 0])  # table[4], bounds known: UBSan


def test_signed_overflow(tmp_path):
    _call(tmp_path, UB, "ub", [0, 5])  # INT_MAX + 5


def test_clean(tmp_path):
    assert _call(tmp_path, OOB, "oob", [3, 1])[0] == 5.0
