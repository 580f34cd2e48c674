/* Per-call latency of a tl2cgen-compiled boosted-tree model (XGBoost or
 * LightGBM imported by treelite), measured from C like benchmarks/ctime.c:
 * one row per call, cycling over the rows, an untimed warm-up, then the best
 * slice of 1000 calls among 5 x CALLS timed calls.  tl2cgen's `union Entry`
 * and result type follow the model's threshold type: float for XGBoost
 * (float32 thresholds), double for LightGBM; TYPE says which.  Each call
 * fills the Entry row (NaN -> missing), zeroes the result and calls
 * predict(row, 0, result) (with its post-processing: sigmoid/softmax).
 *   bench_boosting_tl2cgen LIB.so ROWS.bin N_ROWS N_FEATURES N_OUTPUTS CALLS float|double
 * ROWS.bin holds doubles either way. */
#include <dlfcn.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ctime.h"

union EntryF {
  int missing;
  float fvalue;
  int qvalue;
};
union EntryD {
  int missing;
  double fvalue;
  int qvalue;
};
/* one timing run for an Entry union U, result type T and predict type P */
#define TIME_WITH(NAME, U, T)                                                       \
  static void NAME(void *sym, const double *data, long rows, int nf, int nout, long calls) \
  {                                                                                 \
    void (*predict)(union U *, int, T *) = (void (*)(union U *, int, T *))sym;      \
    union U *e = (union U *)malloc(sizeof(union U) * nf);                           \
    T *out = (T *)malloc(sizeof(T) * (nout + 8));                                   \
    long c = 0;                                                                     \
    SKC_BEST_SLICE(CALL, rows, 5 * calls);                                          \
    free(e);                                                                        \
    free(out);                                                                      \
  }
#define CALL()                                                  \
  do {                                                          \
    const double *row = data + (size_t)(c % rows) * nf;         \
    for (int i = 0; i < nf; i++) {                              \
      if (isnan(row[i])) e[i].missing = -1;                     \
      else e[i].fvalue = row[i];                                \
    }                                                           \
    memset(out, 0, sizeof(*out) * nout);                        \
    predict(e, 0, out);                                         \
    __asm__ volatile("" : : "r"(out) : "memory");               \
    c++;                                                        \
  } while (0)

TIME_WITH(time_float, EntryF, float)
TIME_WITH(time_double, EntryD, double)

int main(int argc, char **argv)
{
  if (argc < 8) {
    fprintf(stderr, "usage: %s LIB.so ROWS.bin N_ROWS N_FEATURES N_OUTPUTS CALLS float|double\n", argv[0]);
    return 2;
  }
  void *h = dlopen(argv[1], RTLD_NOW);
  if (!h) { fprintf(stderr, "%s\n", dlerror()); return 1; }
  void *sym = dlsym(h, "predict");
  if (!sym) { fprintf(stderr, "no predict symbol\n"); return 1; }
  const long rows = atol(argv[3]);
  const int nf = atoi(argv[4]), nout = atoi(argv[5]);
  const long calls = atol(argv[6]);
  const int dbl = strcmp(argv[7], "double") == 0;
  double *data = (double *)malloc(sizeof(double) * rows * nf);
  FILE *fp = fopen(argv[2], "rb");
  if (!fp || fread(data, sizeof(double) * nf, rows, fp) != (size_t)rows) { fprintf(stderr, "cannot read rows\n"); return 1; }
  fclose(fp);
  if (dbl) time_double(sym, data, rows, nf, nout, calls);
  else time_float(sym, data, rows, nf, nout, calls);
  return 0;
}
