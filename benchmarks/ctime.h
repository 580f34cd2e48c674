/* What the C timers share: benchmarks/ctime.c (scikinc symbols) and
 * benchmarks/tl2cgen_time.c (tl2cgen libraries) open the library, read the
 * rows and time the calls with the same code, so both are measured the same way.
 *
 * SKC_BEST_SLICE(CALL, ROWS, N_TIMED) runs CALL() (which must advance the
 * row counter `c`) untimed until every row was seen once and WARMUP_NS have
 * passed (page faults on the tables and the rows, branch predictors, caches,
 * clock ramp), then N_TIMED timed calls in slices of SLICE calls, and prints
 * the best slice's ns per call.  On a shared host the core's speed changes
 * over milliseconds (SMT siblings, other VMs); only short windows catch the
 * quiet ones, and a slice of 1000 calls still averages over many rows. */
#ifndef SKC_BENCH_CTIME_H
#define SKC_BENCH_CTIME_H
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#define WARMUP_NS 50e6
#define SLICE 1000

static double now(void)
{
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec * 1e9 + t.tv_nsec;
}

/* dlopen(path) or exit(1) with dlerror(). */
static void *skc_bench_open(const char *path)
{
  void *h = dlopen(path, RTLD_NOW);
  if (!h) {
    fprintf(stderr, "%s\n", dlerror());
    exit(1);
  }
  return h;
}

/* The symbol or exit(1) naming it. */
static void *skc_bench_sym(void *h, const char *name)
{
  void *s = dlsym(h, name);
  if (!s) {
    fprintf(stderr, "symbol %s not found\n", name);
    exit(1);
  }
  return s;
}

/* N_ROWS rows of ROW_BYTES bytes from the file PATH (malloc'ed), or exit(1). */
static void *skc_bench_rows(const char *path, size_t row_bytes, long n_rows)
{
  void *data = malloc(row_bytes * (size_t)n_rows);
  FILE *fp = fopen(path, "rb");
  if (!data || !fp || fread(data, row_bytes, (size_t)n_rows, fp) != (size_t)n_rows) {
    fprintf(stderr, "cannot read %ld rows of %zu bytes from %s\n", n_rows, row_bytes, path);
    exit(1);
  }
  fclose(fp);
  return data;
}

#define SKC_BEST_SLICE(CALL, ROWS, N_TIMED)                                  \
  do {                                                                       \
    const double w0_ = now();                                                \
    while (c < (ROWS) || now() - w0_ < WARMUP_NS)                            \
      for (int k_ = 0; k_ < 100; k_++) CALL();                               \
    const long slice_ = (N_TIMED) < SLICE ? (N_TIMED) : SLICE;               \
    const long n_slices_ = ((N_TIMED) + slice_ - 1) / slice_;                \
    double best_ = 1e300;                                                    \
    for (long s_ = 0; s_ < n_slices_; s_++) {                                \
      const double t0_ = now();                                              \
      for (long k_ = 0; k_ < slice_; k_++) CALL();                           \
      const double dt_ = (now() - t0_) / slice_;                             \
      if (dt_ < best_) best_ = dt_;                                          \
    }                                                                        \
    printf("%.2f\n", best_);                                                 \
  } while (0)

#endif
