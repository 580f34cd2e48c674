/* This core's peak rate of float32 fused multiply-adds: a register-only loop
 * of independent FMAs (no loads, enough accumulators to hide the latency),
 * in the widest vectors the compiler was told about (build with
 * -march=native).  Prints the best rate in FMAs per ns and the vector width.
 * Timed in this thread's CPU time (a shared machine's descheduled time does
 * not count). */
#include <stdio.h>
#include <time.h>

static double cpu_now(void)
{
  struct timespec t;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
  return t.tv_sec * 1e9 + t.tv_nsec;
}

#if defined(__x86_64__) && defined(__AVX512F__)
#define LANES 16
#define NFMA 16
#define F(r) "vfmadd231ps %%zmm30, %%zmm31, %%zmm" #r "\n\t"
#define BODY F(10) F(11) F(12) F(13) F(14) F(15) F(16) F(17) F(20) F(21) F(22) F(23) F(24) F(25) F(26) F(27)
#elif defined(__x86_64__) && defined(__AVX2__) && defined(__FMA__)
#define LANES 8
#define NFMA 12
#define F(r) "vfmadd231ps %%ymm14, %%ymm15, %%ymm" #r "\n\t"
#define BODY F(2) F(3) F(4) F(5) F(6) F(7) F(8) F(9) F(10) F(11) F(12) F(13)
#endif

int main(void)
{
  const long n = 2000000;
  double best = 0;
#ifdef BODY
  for (int rep = 0; rep < 20; rep++) {
    const double t0 = cpu_now();
    for (long i = 0; i < n; i++) __asm__ volatile(BODY ::: "memory");
    const double rate = (double)n * NFMA * LANES / (cpu_now() - t0);
    if (rate > best) best = rate;
  }
  printf("%.3f %d\n", best, LANES);
#else
  /* portable: 8 independent scalar chains, a * b + c each (contracted to an
   * FMA where the target has one) */
  volatile float seed = 0.999f;
  for (int rep = 0; rep < 20; rep++) {
    float a = seed, b = 1e-3f, s[8] = {0, 1, 2, 3, 4, 5, 6, 7};
    const double t0 = cpu_now();
    for (long i = 0; i < n; i++)
      for (int k = 0; k < 8; k++) s[k] = s[k] * a + b;
    const double rate = (double)n * 8 / (cpu_now() - t0);
    seed = s[0] + s[7];
    if (rate > best) best = rate;
  }
  printf("%.3f 1\n", best);
#endif
  return 0;
}
