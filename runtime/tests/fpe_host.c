/* Floating-point-exception host: enables FE_OVERFLOW|FE_INVALID|FE_DIVBYZERO
 * traps, then calls each model (single and batch) on finite inputs including
 * +-1e30.  A trap kills the run with SIGFPE; the handler names the model and
 * the row.
 *
 *   fpe_host LIB.so SYMBOL [SYMBOL...]
 *
 * Exit status 0 and "OK" per symbol when nothing trapped, 3 on a trap,
 * 1 on a load error.  C99 + glibc (feenableexcept is a GNU extension). */
#define _GNU_SOURCE
#include <fenv.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "scikinc.h"

#define N_ROWS 256
static const double VALUES[] = {0.0,   -0.0,  1.0,    -1.0, 0.5,  -2.5,  123.456, -7e3,   1e30,
                                -1e30, 1e-30, -1e-30, 1e6,  -1e6, 1e-45, 3.0e20,  -3.0e20};
#define N_VALUES (sizeof VALUES / sizeof VALUES[0])

static volatile const char *g_symbol = "";
static volatile int g_row = -1;
static volatile const char *g_mode = "";

static void on_fpe(int sig) {
  char msg[512];
  (void)sig;
  int n = snprintf(msg, sizeof msg, "SIGFPE: floating-point exception in %s (%s call, row %d)\n",
                   (const char *)g_symbol, (const char *)g_mode, g_row);
  if (n > 0) {
    ssize_t w = write(2, msg, (size_t)n);
    (void)w;
  }
  _exit(3);
}

static unsigned long g_lcg = 12345;
static size_t pick(void) {
  g_lcg = g_lcg * 6364136223846793005UL + 1442695040888963407UL;
  return (size_t)((g_lcg >> 33) % N_VALUES);
}

/* row r: rows 0..N_VALUES-1 are constant rows (every column = VALUES[r]),
 * the others mix the values at random (fixed LCG). */
static double value_at(int r, int col) {
  (void)col;
  return r < (int)N_VALUES ? VALUES[r] : VALUES[pick()];
}

#define DEFINE_RUN(T, SUF)                                                                     \
  static void run_##SUF(const char *symbol, const skc_model *m) {                              \
    size_t ni = (size_t)m->n_inputs, nr = (size_t)m->n_random, no = (size_t)m->n_outputs;      \
    T *in = (T *)malloc(N_ROWS * ni * sizeof(T));                                              \
    T *rnd = (T *)malloc(N_ROWS * (nr ? nr : 1) * sizeof(T));                                  \
    T *out = (T *)malloc(N_ROWS * no * sizeof(T));                                             \
    if (!in || !rnd || !out) exit(1);                                                          \
    for (int r = 0; r < N_ROWS; r++) {                                                         \
      for (size_t j = 0; j < ni; j++) in[r * ni + j] = (T)value_at(r, (int)j);                 \
      for (size_t j = 0; j < nr; j++) rnd[r * nr + j] = (T)value_at(r, (int)j);                \
    }                                                                                          \
    g_symbol = symbol;                                                                         \
    feclearexcept(FE_ALL_EXCEPT);                                                              \
    feenableexcept(FE_OVERFLOW | FE_INVALID | FE_DIVBYZERO);                                   \
    g_mode = "single";                                                                         \
    for (int r = 0; r < N_ROWS; r++) {                                                         \
      g_row = r;                                                                               \
      if (nr)                                                                                  \
        ((T * (*)(T *, const T *, const T *)) m->fn)(out + r * no, in + r * ni, rnd + r * nr); \
      else                                                                                     \
        ((T * (*)(T *, const T *)) m->fn)(out + r * no, in + r * ni);                          \
    }                                                                                          \
    g_mode = "batch";                                                                          \
    g_row = -1;                                                                                \
    if (nr)                                                                                    \
      ((T * (*)(T *, const T *, const T *, size_t)) m->batch)(out, in, rnd, N_ROWS);           \
    else                                                                                       \
      ((T * (*)(T *, const T *, size_t)) m->batch)(out, in, N_ROWS);                           \
    fedisableexcept(FE_ALL_EXCEPT);                                                            \
    free(in);                                                                                  \
    free(rnd);                                                                                 \
    free(out);                                                                                 \
  }

DEFINE_RUN(float, f)
DEFINE_RUN(double, d)
DEFINE_RUN(long double, ld)

int main(int argc, char **argv) {
  char err[512];
  void *lib;
  if (argc < 3) {
    fprintf(stderr, "usage: %s LIB.so SYMBOL [SYMBOL...]\n", argv[0]);
    return 2;
  }
  signal(SIGFPE, on_fpe);
  if (skc_open(argv[1], &lib, err, sizeof err) != SKC_OK) {
    fprintf(stderr, "%s\n", err);
    return 1;
  }
  for (int i = 2; i < argc; i++) {
    skc_model m;
    if (skc_lookup(lib, argv[i], &m, err, sizeof err) != SKC_OK) {
      fprintf(stderr, "%s\n", err);
      return 1;
    }
    g_lcg = 12345;
    if (m.float_type == SKC_FLOAT)
      run_f(argv[i], &m);
    else if (m.float_type == SKC_DOUBLE)
      run_d(argv[i], &m);
    else
      run_ld(argv[i], &m);
    printf("OK %s (%s): %d rows with +-1e30, no floating-point trap\n", argv[i], skc_float_name(m.float_type), N_ROWS);
  }
  skc_close(lib);
  return 0;
}
