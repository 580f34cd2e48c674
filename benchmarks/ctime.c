/* Per-call latency of a scikinc symbol, measured from C.
 *   ctime LIB.so SYMBOL ROWS.bin N_ROWS CALLS [float|double [REPS]]
 * ROWS.bin holds N_ROWS rows of n_inputs (then n_random) values of the
 * symbol's type.  An untimed warm-up (at least one pass over the rows and
 * WARMUP_NS of calls: page faults on the .so's tables and the rows, branch
 * predictors, caches, clock ramp) precedes REPS x CALLS (default REPS 5)
 * timed calls in slices of SLICE calls; the rows keep cycling throughout.
 * Prints the best slice's ns per call. */
#include <string.h>

#include "ctime.h"

typedef float *(*fn_f)(float *, const float *);
typedef float *(*gen_f)(float *, const float *, const float *);
typedef double *(*fn_d)(double *, const double *);
typedef double *(*gen_d)(double *, const double *, const double *);

int main(int argc, char **argv)
{
  if (argc < 6) {
    fprintf(stderr, "usage: %s LIB.so SYMBOL ROWS.bin N_ROWS CALLS [float|double]\n", argv[0]);
    return 2;
  }
  void *h = skc_bench_open(argv[1]);
  char name[512];
  void *f = skc_bench_sym(h, argv[2]);
  snprintf(name, sizeof name, "%s_n_inputs", argv[2]);
  const int *nin = (const int *)skc_bench_sym(h, name);
  snprintf(name, sizeof name, "%s_n_outputs", argv[2]);
  const int *nout = (const int *)skc_bench_sym(h, name);
  snprintf(name, sizeof name, "%s_n_random", argv[2]);
  const int *nrnd = (const int *)dlsym(h, name); /* generative models only */
  const int dbl = argc > 6 && strcmp(argv[6], "double") == 0;
  const size_t sz = dbl ? sizeof(double) : sizeof(float);
  const long rows = atol(argv[4]);
  const long calls = atol(argv[5]);
  const int nr = nrnd ? *nrnd : 0;
  const size_t width = (size_t)(*nin + nr);
  char *data = (char *)skc_bench_rows(argv[3], width * sz, rows);
  char *out = (char *)malloc((size_t)*nout * sz + 64);
  const int reps = argc > 7 ? atoi(argv[7]) : 5;
  long c = 0;
#define SKC_CALL()                                                                              \
  do {                                                                                          \
    const char *row = data + (size_t)(c % rows) * width * sz;                                   \
    if (dbl) {                                                                                  \
      if (nrnd) ((gen_d)f)((double *)out, (const double *)row, (const double *)row + *nin);     \
      else ((fn_d)f)((double *)out, (const double *)row);                                       \
    } else {                                                                                    \
      if (nrnd) ((gen_f)f)((float *)out, (const float *)row, (const float *)row + *nin);        \
      else ((fn_f)f)((float *)out, (const float *)row);                                         \
    }                                                                                           \
    __asm__ volatile("" : : "r"(out) : "memory");                                               \
    c++;                                                                                        \
  } while (0)
  SKC_BEST_SLICE(SKC_CALL, rows, reps * calls);
  free(data);
  free(out);
  dlclose(h);
  return 0;
}
