/* Test harness of scikinc's own trigonometric functions (tests/test_own_trig.py):
 * skc_math.h holds the helpers as render.math_source emits them.
 *   apply_NAME[f](x, [x2,] y, n)     y[i] = skc_NAME[f](x[i] [, x2[i]])
 *   ulp_double_NAME(x, [x2,] n, w)   max error in double ulp vs long double libm
 *   ulp_float_NAME(x, [x2,] n, w)    max error in float ulp vs double libm
 *   fpe_NAME[f](x, [x2,] n)          overflow/invalid/divide-by-zero raised over x
 * The index of the worst argument goes to *w.  A NaN/inf/zero reference must
 * be matched exactly (zero: with its sign), else the error is 1e30. */
#include <fenv.h>
#include <float.h>
#include <math.h>
#include <string.h>

#include "skc_math.h"

#define ONE_ARG(X) X(sin) X(cos) X(tan) X(asin) X(acos) X(atan)

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

#define WORST(e, i)                                                            \
  if ((e) > worst || (e) != (e)) {                                             \
    worst = (e);                                                               \
    *w = (i);                                                                  \
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
  double ulp_float_##name(const float *x, long n, long *w)                   \
  {                                                                            \
    double worst = 0;                                                          \
    for (long i = 0; i < n; i++) {                                             \
      const double e = err_float(skc_##name##f(x[i]), name((double)x[i]));     \
      WORST(e, i)                                                              \
    }                                                                          \
    return worst;                                                              \
  }                                                                            \
  double ulp_double_##name(const double *x, long n, long *w)                 \
  {                                                                            \
    double worst = 0;                                                          \
    for (long i = 0; i < n; i++) {                                             \
      const double e = err_double(skc_##name(x[i]), name##l((long double)x[i])); \
      WORST(e, i)                                                              \
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
  }

ONE_ARG(APPLY)

void apply_atan2f(const float *y, const float *x, float *r, long n)
{
  for (long i = 0; i < n; i++)
    r[i] = skc_atan2f(y[i], x[i]);
}

void apply_atan2(const double *y, const double *x, double *r, long n)
{
  for (long i = 0; i < n; i++)
    r[i] = skc_atan2(y[i], x[i]);
}

double ulp_float_atan2(const float *y, const float *x, long n, long *w)
{
  double worst = 0;
  for (long i = 0; i < n; i++) {
    const double e = err_float(skc_atan2f(y[i], x[i]), atan2((double)y[i], (double)x[i]));
    WORST(e, i)
  }
  return worst;
}

double ulp_double_atan2(const double *y, const double *x, long n, long *w)
{
  double worst = 0;
  for (long i = 0; i < n; i++) {
    const double e = err_double(skc_atan2(y[i], x[i]), atan2l((long double)y[i], (long double)x[i]));
    WORST(e, i)
  }
  return worst;
}

int fpe_atan2f(const float *y, const float *x, long n)
{
  volatile float sink = 0;
  feclearexcept(FE_ALL_EXCEPT);
  for (long i = 0; i < n; i++)
    sink = skc_atan2f(y[i], x[i]);
  (void)sink;
  return fetestexcept(FE_OVERFLOW | FE_INVALID | FE_DIVBYZERO);
}

int fpe_atan2(const double *y, const double *x, long n)
{
  volatile double sink = 0;
  feclearexcept(FE_ALL_EXCEPT);
  for (long i = 0; i < n; i++)
    sink = skc_atan2(y[i], x[i]);
  (void)sink;
  return fetestexcept(FE_OVERFLOW | FE_INVALID | FE_DIVBYZERO);
}

#ifdef SKC_HARNESS_MAIN
/* Stand-alone: own_trig_harness IN OUT N reads N floats then N doubles from
 * IN and writes every function's float outputs, then its double outputs, in
 * ONE_ARG order, then atan2f(x[i], x[N-1-i]) and atan2(x[i], x[N-1-i]) (for
 * builds run under qemu). */
#include <stdio.h>
#include <stdlib.h>

int main(int argc, char **argv)
{
  if (argc != 4)
    return 2;
  const long n = atol(argv[3]);
  float *xf = malloc(n * sizeof *xf), *yf = malloc(n * sizeof *yf), *rf = malloc(n * sizeof *rf);
  double *xd = malloc(n * sizeof *xd), *yd = malloc(n * sizeof *yd), *rd = malloc(n * sizeof *rd);
  FILE *in = fopen(argv[1], "rb"), *out = fopen(argv[2], "wb");
  if (!xf || !yf || !rf || !xd || !yd || !rd || !in || !out)
    return 3;
  if (fread(xf, sizeof *xf, n, in) != (size_t)n || fread(xd, sizeof *xd, n, in) != (size_t)n)
    return 4;
#define RUN(name)                                                              \
  apply_##name##f(xf, yf, n);                                                  \
  apply_##name(xd, yd, n);                                                     \
  fwrite(yf, sizeof *yf, n, out);                                              \
  fwrite(yd, sizeof *yd, n, out);
  ONE_ARG(RUN)
  for (long i = 0; i < n; i++) {
    rf[i] = xf[n - 1 - i];
    rd[i] = xd[n - 1 - i];
  }
  apply_atan2f(xf, rf, yf, n);
  apply_atan2(xd, rd, yd, n);
  fwrite(yf, sizeof *yf, n, out);
  fwrite(yd, sizeof *yd, n, out);
  fclose(out);
  fclose(in);
  return 0;
}
#endif
