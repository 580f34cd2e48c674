/* Per-row time of a scikinc symbol's batch entry point, measured from C.
 *   cbatch LIB.so SYMBOL ROWS.bin N_ROWS REPS [float|double [single]]
 * ROWS.bin holds N_ROWS rows of n_inputs values of the symbol's type.  One
 * untimed SYMBOL_batch call over all the rows (page faults, caches, clock
 * ramp), then REPS timed calls over all the rows; prints the best call's ns
 * per row.  With "single", each pass calls SYMBOL once per row instead (the
 * same timing, for comparison).  Timed in this thread's CPU time: on a shared machine the time
 * the thread is descheduled does not count. */
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <time.h>

static double cpu_now(void)
{
  struct timespec t;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
  return t.tv_sec * 1e9 + t.tv_nsec;
}

typedef void *(*batch_fn)(void *, const void *, size_t);
typedef void *(*single_fn)(void *, const void *);

int main(int argc, char **argv)
{
  if (argc < 6) {
    fprintf(stderr, "usage: %s LIB.so SYMBOL ROWS.bin N_ROWS REPS [float|double]\n", argv[0]);
    return 2;
  }
  void *h = dlopen(argv[1], RTLD_NOW);
  if (!h) { fprintf(stderr, "%s\n", dlerror()); return 1; }
  char name[512];
  snprintf(name, sizeof name, "%s_batch", argv[2]);
  batch_fn f = (batch_fn)dlsym(h, name);
  snprintf(name, sizeof name, "%s_n_inputs", argv[2]);
  const int *nin = (const int *)dlsym(h, name);
  snprintf(name, sizeof name, "%s_n_outputs", argv[2]);
  const int *nout = (const int *)dlsym(h, name);
  single_fn f1 = (single_fn)dlsym(h, argv[2]);
  if (!f || !f1 || !nin || !nout) { fprintf(stderr, "symbol %s_batch not found\n", argv[2]); return 1; }
  const size_t sz = argc > 6 && strcmp(argv[6], "double") == 0 ? sizeof(double) : sizeof(float);
  const int single = argc > 7 && strcmp(argv[7], "single") == 0;
  const long rows = atol(argv[4]);
  const int reps = atoi(argv[5]);
  char *data = (char *)malloc((size_t)rows * (size_t)*nin * sz);
  char *out = (char *)malloc((size_t)rows * (size_t)*nout * sz + 64);
  FILE *fp = fopen(argv[3], "rb");
  if (!data || !out || !fp || fread(data, sz * (size_t)*nin, rows, fp) != (size_t)rows) {
    fprintf(stderr, "cannot read rows\n");
    return 1;
  }
  fclose(fp);
  const size_t in_row = (size_t)*nin * sz, out_row = (size_t)*nout * sz;
  double best = 1e300;
  for (int r = -1; r < reps; r++) {  /* r = -1: the warm-up */
    const double t0 = cpu_now();
    if (single)
      for (long k = 0; k < rows; k++) f1(out + (size_t)k * out_row, data + (size_t)k * in_row);
    else
      f(out, data, (size_t)rows);
    __asm__ volatile("" : : "r"(out) : "memory");
    const double dt = (cpu_now() - t0) / rows;
    if (r >= 0 && dt < best) best = dt;
  }
  printf("%.2f\n", best);
  free(data);
  free(out);
  dlclose(h);
  return 0;
}
