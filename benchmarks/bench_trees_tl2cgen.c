/* Per-call latency of a tl2cgen-compiled model, measured from C the same way
 * as benchmarks/ctime.c measures scikinc symbols: one row per call, cycling
 * over the rows, an untimed warm-up, then the best slice of 1000 calls among
 * 5 x CALLS timed calls.  Each call fills tl2cgen's
 * `union Entry` row (NaN -> missing), zeroes the result and calls
 * predict(row, 0, result) (with its post-processing: sigmoid/softmax).
 *   bench_trees_tl2cgen LIB.so ROWS.bin N_ROWS N_FEATURES N_OUTPUTS CALLS */
#include <dlfcn.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ctime.h"

union Entry {
  int missing;
  double fvalue;
  int qvalue;
};
typedef void (*predict_f)(union Entry *, int, double *);

int main(int argc, char **argv)
{
  if (argc < 7) {
    fprintf(stderr, "usage: %s LIB.so ROWS.bin N_ROWS N_FEATURES N_OUTPUTS CALLS\n", argv[0]);
    return 2;
  }
  void *h = dlopen(argv[1], RTLD_NOW);
  if (!h) { fprintf(stderr, "%s\n", dlerror()); return 1; }
  predict_f predict = (predict_f)dlsym(h, "predict");
  if (!predict) { fprintf(stderr, "no predict symbol\n"); return 1; }
  const long rows = atol(argv[3]);
  const int nf = atoi(argv[4]), nout = atoi(argv[5]);
  const long calls = atol(argv[6]);
  double *data = (double *)malloc(sizeof(double) * rows * nf);
  FILE *fp = fopen(argv[2], "rb");
  if (!fp || fread(data, sizeof(double) * nf, rows, fp) != (size_t)rows) { fprintf(stderr, "cannot read rows\n"); return 1; }
  fclose(fp);
  union Entry *e = (union Entry *)malloc(sizeof(union Entry) * nf);
  double *out = (double *)malloc(sizeof(double) * (nout + 8));
  long c = 0;
#define CALL()                                                      \
  do {                                                              \
    const double *row = data + (size_t)(c % rows) * nf;             \
    for (int i = 0; i < nf; i++) {                                  \
      if (isnan(row[i])) e[i].missing = -1;                         \
      else e[i].fvalue = row[i];                                    \
    }                                                               \
    memset(out, 0, sizeof(double) * nout);                          \
    predict(e, 0, out);                                             \
    __asm__ volatile("" : : "r"(out) : "memory");                   \
    c++;                                                            \
  } while (0)
  SKC_BEST_SLICE(CALL, rows, 5 * calls);
  return 0;
}
