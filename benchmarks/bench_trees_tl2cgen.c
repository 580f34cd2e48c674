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

union Entry {
  int missing;
  double fvalue;
  int qvalue;
};
typedef void (*predict_f)(union Entry *, int, double *);

#define WARMUP_NS 50e6
#define SLICE 1000

static double now(void)
{
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec * 1e9 + t.tv_nsec;
}

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
  const double w0 = now();
  while (c < rows || now() - w0 < WARMUP_NS)
    for (int k = 0; k < 100; k++) CALL();
  /* the 5 x CALLS timed calls go in slices of SLICE calls, best slice:
     on a shared host the core's speed changes over milliseconds (SMT
     siblings, other VMs), and only short windows catch the quiet ones; a
     slice of 1000 calls still averages the cost over many different rows */
  const long slice = calls < SLICE ? calls : SLICE;
  const long n_slices = (5 * calls + slice - 1) / slice;
  double best = 1e300;
  for (long s = 0; s < n_slices; s++) {
    const double t0 = now();
    for (long k = 0; k < slice; k++) CALL();
    const double dt = (now() - t0) / slice;
    if (dt < best) best = dt;
  }
  printf("%.2f\n", best);
  return 0;
}
