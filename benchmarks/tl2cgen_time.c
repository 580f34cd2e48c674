/* Per-call latency of a tl2cgen-compiled tree model (sklearn, XGBoost or
 * LightGBM imported by treelite), measured from C like benchmarks/ctime.c:
 * one row per call, cycling over the rows, an untimed warm-up, then the best
 * slice of 1000 calls among 5 x CALLS timed calls.  tl2cgen's `union Entry`
 * and result type follow the model's threshold type (float for XGBoost's
 * float32 thresholds, double for LightGBM and scikit-learn); TYPE says which.
 * Each call fills the Entry row (NaN -> missing), zeroes the result and calls
 * predict(row, 0, result) (with its post-processing: sigmoid/softmax).
 *   tl2cgen_time LIB.so ROWS.bin N_ROWS N_FEATURES N_OUTPUTS CALLS [float|double]
 * ROWS.bin holds doubles either way; TYPE defaults to double. */
#include <math.h>
#include <string.h>

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
/* one timing run for an Entry union U and result type T */
#define TIME_WITH(NAME, U, T)                                                              \
  static void NAME(void *sym, const double *data, long rows, int nf, int nout, long calls) \
  {                                                                                        \
    void (*predict)(union U *, int, T *) = (void (*)(union U *, int, T *))sym;             \
    union U *e = (union U *)malloc(sizeof(union U) * nf);                                  \
    T *out = (T *)malloc(sizeof(T) * (nout + 8));                                          \
    long c = 0;                                                                            \
    SKC_BEST_SLICE(CALL, rows, 5 * calls);                                                 \
    free(e);                                                                               \
    free(out);                                                                             \
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
  if (argc < 7) {
    fprintf(stderr, "usage: %s LIB.so ROWS.bin N_ROWS N_FEATURES N_OUTPUTS CALLS [float|double]\n", argv[0]);
    return 2;
  }
  void *sym = skc_bench_sym(skc_bench_open(argv[1]), "predict");
  const long rows = atol(argv[3]);
  const int nf = atoi(argv[4]), nout = atoi(argv[5]);
  const long calls = atol(argv[6]);
  const double *data = (const double *)skc_bench_rows(argv[2], sizeof(double) * nf, rows);
  if (argc > 7 && strcmp(argv[7], "float") == 0) time_float(sym, data, rows, nf, nout, calls);
  else time_double(sym, data, rows, nf, nout, calls);
  return 0;
}
