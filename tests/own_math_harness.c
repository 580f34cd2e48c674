/* Test harness of scikinc's own math functions (tests/test_own_math.py):
 * skc_math.h holds the helpers as render.math_source emits them.  Built
 * with -DSKC_REPRODUCIBLE (own implementations) or without.
 *   apply_NAME[f](x, y, n)          y[i] = skc_NAME[f](x[i])  (pow: x, x2)
 *   ulp_float_NAME(lo, hi, step, w) max error in float ulp vs double libm over
 *                                   the float bit patterns lo, lo + step, ... <= hi
 *   ulp_double_NAME(x, n, w)        max error in double ulp vs long double libm
 *   fpe_NAME[f](x, n)               overflow/invalid/divide-by-zero raised over x
 * The worst argument goes to *w.  A NaN/inf/zero reference must be matched
 * exactly (zero: with its sign), else the error is 1e30. */
#include <fenv.h>
#include <float.h>
#include <math.h>
#include <string.h>

#include "skc_math.h"

#define ONE_ARG(X) X(exp) X(expm1) X(log) X(log1p) X(tanh) X(erf) X(erfc) X(exp2) X(log2) X(log10) X(sinh) X(cosh) \
  X(cbrt) X(asinh) X(acosh) X(atanh) X(tgamma) X(lgamma)

static double err_float(float y, double r)
{
  if (r != r)
    return y != y ? 0 : 1e30;
  const float rf = (float)r;
  if (isinf(rf) || rf == 0)
    return (y == rf && signbit(y) == signbit(rf)) || (rf == 0 && r != 0 && fabs((double)y) <= 0x1p-149) ? 0 : 1e30;
  int e;
  frexp((double)rf, &e);
  double ulp = ldexp(1.0, e - 24);
  if (ulp < 0x1p-149)
    ulp = 0x1p-149;
  return fabs((double)y - r) / ulp;
}

static double err_double(double y, long double r)
{
  if (r != r)
    return y != y ? 0 : 1e30;
  const double rd = (double)r;
  if (isinf(rd) || rd == 0)
    return (y == rd && signbit(y) == signbit(rd)) || (rd == 0 && r != 0 && fabs(y) <= 0x1p-1074) ? 0 : 1e30;
  int e;
  frexp(rd, &e);
  long double ulp = ldexpl(1.0L, e - 53);
  if (ulp < 0x1p-1074L)
    ulp = 0x1p-1074L;
  return (double)(fabsl((long double)y - r) / ulp);
}

#define APPLY(name)                                                            \
  void apply_##name##f(const float *x, float *y, long n)                     \
  {                                                                            \
    for (long i = 0; i < n; i++)                                               \
      y[i] = skc_##name##f(x[i]);                                              \
  }                                                                            \
  void apply_##name(const double *x, double *y, long n)                      \
  {                                                                            \
    for (long i = 0; i < n; i++)                                               \
      y[i] = skc_##name(x[i]);                                                 \
  }                                                                            \
  double ulp_float_##name(unsigned lo, unsigned hi, unsigned step, float *w) \
  {                                                                            \
    double worst = 0;                                                          \
    for (unsigned long long u = lo; u <= hi; u += step) {                      \
      const unsigned b = (unsigned)u;                                          \
      float x;                                                                 \
      memcpy(&x, &b, sizeof x);                                                \
      const double e = err_float(skc_##name##f(x), name((double)x));           \
      if (e > worst || e != e) {                                               \
        worst = e;                                                             \
        *w = x;                                                                \
      }                                                                        \
    }                                                                          \
    return worst;                                                              \
  }                                                                            \
  int fpe_##name##f(const float *x, long n)                                  \
  {                                                                            \
    volatile float sink = 0;                                                   \
    feclearexcept(FE_ALL_EXCEPT);                                              \
    for (long i = 0; i < n; i++)                                               \
      sink = skc_##name##f(x[i]);                                              \
    (void)sink;                                                                \
    return fetestexcept(FE_OVERFLOW | FE_INVALID | FE_DIVBYZERO);              \
  }                                                                            \
  int fpe_##name(const double *x, long n)                                    \
  {                                                                            \
    volatile double sink = 0;                                                  \
    feclearexcept(FE_ALL_EXCEPT);                                              \
    for (long i = 0; i < n; i++)                                               \
      sink = skc_##name(x[i]);                                                 \
    (void)sink;                                                                \
    return fetestexcept(FE_OVERFLOW | FE_INVALID | FE_DIVBYZERO);              \
  }                                                                            \
  double ulp_double_##name(const double *x, long n, double *w)               \
  {                                                                            \
    double worst = 0;                                                          \
    for (long i = 0; i < n; i++) {                                             \
      const double e = err_double(skc_##name(x[i]), name##l((long double)x[i])); \
      if (e > worst || e != e) {                                               \
        worst = e;                                                             \
        *w = x[i];                                                             \
      }                                                                        \
    }                                                                          \
    return worst;                                                              \
  }

ONE_ARG(APPLY)

void apply_powf(const float *x, const float *x2, float *y, long n)
{
  for (long i = 0; i < n; i++)
    y[i] = skc_powf(x[i], x2[i]);
}

double ulp_float_pow(const float *x, const float *x2, long n, long *w)
{
  double worst = 0;
  for (long i = 0; i < n; i++) {
    const double e = err_float(skc_powf(x[i], x2[i]), pow((double)x[i], (double)x2[i]));
    if (e > worst || e != e) {
      worst = e;
      *w = i;
    }
  }
  return worst;
}

/* two-argument functions: pow, hypot (float and double) */
#define TWO_ARG(X) X(pow) X(hypot)
#define APPLY2(name)                                                           \
  void apply2_##name##f(const float *x, const float *x2, float *y, long n)   \
  {                                                                            \
    for (long i = 0; i < n; i++)                                               \
      y[i] = skc_##name##f(x[i], x2[i]);                                       \
  }                                                                            \
  void apply2_##name(const double *x, const double *x2, double *y, long n)   \
  {                                                                            \
    for (long i = 0; i < n; i++)                                               \
      y[i] = skc_##name(x[i], x2[i]);                                          \
  }                                                                            \
  double ulp2_float_##name(const float *x, const float *x2, long n, long *w) \
  {                                                                            \
    double worst = 0;                                                          \
    for (long i = 0; i < n; i++) {                                             \
      const double e = err_float(skc_##name##f(x[i], x2[i]), name((double)x[i], (double)x2[i])); \
      if (e > worst || e != e) {                                               \
        worst = e;                                                             \
        *w = i;                                                                \
      }                                                                        \
    }                                                                          \
    return worst;                                                              \
  }                                                                            \
  double ulp2_double_##name(const double *x, const double *x2, long n, long *w) \
  {                                                                            \
    double worst = 0;                                                          \
    for (long i = 0; i < n; i++) {                                             \
      const double e = err_double(skc_##name(x[i], x2[i]), name##l((long double)x[i], (long double)x2[i])); \
      if (e > worst || e != e) {                                               \
        worst = e;                                                             \
        *w = i;                                                                \
      }                                                                        \
    }                                                                          \
    return worst;                                                              \
  }                                                                            \
  int fpe2_##name##f(const float *x, const float *x2, long n)                \
  {                                                                            \
    volatile float sink = 0;                                                   \
    feclearexcept(FE_ALL_EXCEPT);                                              \
    for (long i = 0; i < n; i++)                                               \
      sink = skc_##name##f(x[i], x2[i]);                                       \
    (void)sink;                                                                \
    return fetestexcept(FE_OVERFLOW | FE_INVALID | FE_DIVBYZERO);              \
  }                                                                            \
  int fpe2_##name(const double *x, const double *x2, long n)                 \
  {                                                                            \
    volatile double sink = 0;                                                  \
    feclearexcept(FE_ALL_EXCEPT);                                              \
    for (long i = 0; i < n; i++)                                               \
      sink = skc_##name(x[i], x2[i]);                                          \
    (void)sink;                                                                \
    return fetestexcept(FE_OVERFLOW | FE_INVALID | FE_DIVBYZERO);              \
  }

TWO_ARG(APPLY2)

#ifdef SKC_HARNESS_MAIN
/* Stand-alone: own_math_harness IN OUT N reads N floats then N doubles from
 * IN and writes every function's float outputs, then its double outputs, in
 * ONE_ARG order, then powf(x[i], x[N-1-i]), pow(xd[i], x[N-1-i]), hypot(xd[i], xd[N-1-i]),
 * hypotf(x[i], x[N-1-i]) (for builds run under qemu). */
#include <stdio.h>
#include <stdlib.h>

int main(int argc, char **argv)
{
  if (argc != 4)
    return 2;
  const long n = atol(argv[3]);
  float *xf = malloc(n * sizeof *xf), *yf = malloc(n * sizeof *yf);
  double *xd = malloc(n * sizeof *xd), *yd = malloc(n * sizeof *yd);
  FILE *in = fopen(argv[1], "rb"), *out = fopen(argv[2], "wb");
  if (!xf || !yf || !xd || !yd || !in || !out)
    return 3;
  if (fread(xf, sizeof *xf, n, in) != (size_t)n || fread(xd, sizeof *xd, n, in) != (size_t)n)
    return 4;
#define RUN(name)                                                              \
  apply_##name##f(xf, yf, n);                                                  \
  apply_##name(xd, yd, n);                                                     \
  fwrite(yf, sizeof *yf, n, out);                                              \
  fwrite(yd, sizeof *yd, n, out);
  ONE_ARG(RUN)
  for (long i = 0; i < n; i++)
    yf[i] = skc_powf(xf[i], xf[n - 1 - i]);
  fwrite(yf, sizeof *yf, n, out);
  for (long i = 0; i < n; i++)
    yd[i] = skc_pow(xd[i], (double)xf[n - 1 - i]);
  fwrite(yd, sizeof *yd, n, out);
  for (long i = 0; i < n; i++)
    yd[i] = skc_hypot(xd[i], xd[n - 1 - i]);
  fwrite(yd, sizeof *yd, n, out);
  for (long i = 0; i < n; i++)
    yf[i] = skc_hypotf(xf[i], xf[n - 1 - i]);
  fwrite(yf, sizeof *yf, n, out);
  fclose(out);
  fclose(in);
  return 0;
}
#endif
