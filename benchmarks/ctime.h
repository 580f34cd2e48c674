/* The timing loop shared by benchmarks/ctime.c (scikinc symbols) and
 * benchmarks/bench_trees_tl2cgen.c (tl2cgen libraries), so both tools are
 * measured the same way.
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
#include <stdio.h>
#include <time.h>

#define WARMUP_NS 50e6
#define SLICE 1000

static double now(void)
{
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec * 1e9 + t.tv_nsec;
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
