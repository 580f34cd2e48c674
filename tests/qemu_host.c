/* Test host for cross-built scikinc shared objects (run under qemu-user by
 * tests/test_aarch64.py).
 *
 *   qemu_host MODEL.so SYMBOL IN.bin OUT.bin [RND.bin]
 *
 * dlopens MODEL.so, reads SYMBOL's metadata (SYMBOL_float_t, SYMBOL_n_inputs,
 * SYMBOL_n_outputs and, for generators f(out, in, rnd), SYMBOL_n_random),
 * reads rows of FLOAT_T from IN.bin (and RND.bin), calls SYMBOL once per row
 * and SYMBOL_batch once on all rows, checks both give the same bytes and
 * writes the outputs to OUT.bin.  float and double only.
 * Exit status: 0 ok, 2 usage, 3 dlopen/dlsym, 4 files, 5 batch != single. */
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void *need(void *lib, const char *symbol, const char *suffix)
{
  char name[512];
  void *p;
  snprintf(name, sizeof name, "%s%s", symbol, suffix);
  p = dlsym(lib, name);
  if (!p) {
    fprintf(stderr, "qemu_host: symbol %s not found\n", name);
    exit(3);
  }
  return p;
}

/* the whole file into a malloc'ed buffer; its size in *size */
static char *slurp(const char *path, size_t *size)
{
  FILE *f = fopen(path, "rb");
  char *buf;
  long n;
  if (!f || fseek(f, 0, SEEK_END) != 0 || (n = ftell(f)) < 0 || fseek(f, 0, SEEK_SET) != 0) {
    fprintf(stderr, "qemu_host: cannot read %s\n", path);
    exit(4);
  }
  buf = (char *)malloc((size_t)n + 1);
  if (!buf || fread(buf, 1, (size_t)n, f) != (size_t)n) {
    fprintf(stderr, "qemu_host: cannot read %s\n", path);
    exit(4);
  }
  fclose(f);
  *size = (size_t)n;
  return buf;
}

/* a function pointer from dlsym's object pointer without a cast between them */
#define FN_FROM(dst, p) memcpy(&(dst), &(p), sizeof(dst))

#define DEFINE_RUN(T, SUFFIX)                                                                          \
  typedef T *(*fn_##SUFFIX)(T *, const T *);                                                           \
  typedef T *(*batch_##SUFFIX)(T *, const T *, size_t);                                                \
  typedef T *(*gen_##SUFFIX)(T *, const T *, const T *);                                               \
  typedef T *(*genbatch_##SUFFIX)(T *, const T *, const T *, size_t);                                  \
  static void run_##SUFFIX(void *lib, const char *symbol, const char *in, const char *rnd, size_t rows, \
                           size_t n_in, size_t n_rnd, size_t n_out, T *out, T *out_batch)              \
  {                                                                                                    \
    void *single = need(lib, symbol, "");                                                              \
    void *batch = need(lib, symbol, "_batch");                                                         \
    const T *x = (const T *)(const void *)in;                                                          \
    const T *z = (const T *)(const void *)rnd;                                                         \
    size_t r;                                                                                          \
    if (rnd) {                                                                                         \
      gen_##SUFFIX f;                                                                                  \
      genbatch_##SUFFIX fb;                                                                            \
      FN_FROM(f, single);                                                                              \
      FN_FROM(fb, batch);                                                                              \
      for (r = 0; r < rows; r++)                                                                       \
        f(out + r * n_out, x + r * n_in, z + r * n_rnd);                                               \
      fb(out_batch, x, z, rows);                                                                       \
    } else {                                                                                           \
      fn_##SUFFIX f;                                                                                   \
      batch_##SUFFIX fb;                                                                               \
      FN_FROM(f, single);                                                                              \
      FN_FROM(fb, batch);                                                                              \
      for (r = 0; r < rows; r++)                                                                       \
        f(out + r * n_out, x + r * n_in);                                                              \
      fb(out_batch, x, rows);                                                                          \
    }                                                                                                  \
  }

DEFINE_RUN(float, f)
DEFINE_RUN(double, d)

int main(int argc, char **argv)
{
  void *lib, *p;
  const char *float_t, *symbol;
  size_t size, n_in, n_out, n_rnd = 0, in_bytes, rnd_bytes = 0, rows, out_bytes;
  char *in, *rnd = NULL, *out, *out_batch;
  FILE *f;

  if (argc != 5 && argc != 6) {
    fprintf(stderr, "usage: qemu_host MODEL.so SYMBOL IN.bin OUT.bin [RND.bin]\n");
    return 2;
  }
  symbol = argv[2];
  lib = dlopen(argv[1], RTLD_NOW | RTLD_LOCAL);
  if (!lib) {
    fprintf(stderr, "qemu_host: %s\n", dlerror());
    return 3;
  }
  float_t = (const char *)need(lib, symbol, "_float_t");
  if (strcmp(float_t, "float") == 0)
    size = sizeof(float);
  else if (strcmp(float_t, "double") == 0)
    size = sizeof(double);
  else {
    fprintf(stderr, "qemu_host: float type %s not supported\n", float_t);
    return 2;
  }
  n_in = (size_t) * (const int *)need(lib, symbol, "_n_inputs");
  n_out = (size_t) * (const int *)need(lib, symbol, "_n_outputs");
  {
    char name[512];
    snprintf(name, sizeof name, "%s_n_random", symbol);
    p = dlsym(lib, name);
  }
  if (p)
    n_rnd = (size_t) * (const int *)p;
  if ((p != NULL) != (argc == 6)) {
    fprintf(stderr, "qemu_host: %s %s noise values (RND.bin)\n", symbol, p ? "needs" : "takes no");
    return 2;
  }
  in = slurp(argv[3], &in_bytes);
  rows = n_in ? in_bytes / (n_in * size) : 0;
  if (n_in == 0 || in_bytes != rows * n_in * size) {
    fprintf(stderr, "qemu_host: %s holds %zu bytes, not rows of %zu %s\n", argv[3], in_bytes, n_in, float_t);
    return 4;
  }
  if (argc == 6) {
    rnd = slurp(argv[5], &rnd_bytes);
    if (rnd_bytes != rows * n_rnd * size) {
      fprintf(stderr, "qemu_host: %s holds %zu bytes, not %zu rows of %zu %s\n", argv[5], rnd_bytes, rows,
              n_rnd, float_t);
      return 4;
    }
  }
  out_bytes = rows * n_out * size;
  out = (char *)malloc(out_bytes + 1);
  out_batch = (char *)malloc(out_bytes + 1);
  if (!out || !out_batch)
    return 4;
  if (size == sizeof(float))
    run_f(lib, symbol, in, rnd, rows, n_in, n_rnd, n_out, (float *)(void *)out, (float *)(void *)out_batch);
  else
    run_d(lib, symbol, in, rnd, rows, n_in, n_rnd, n_out, (double *)(void *)out, (double *)(void *)out_batch);
  if (memcmp(out, out_batch, out_bytes) != 0) {
    fprintf(stderr, "qemu_host: %s_batch differs from single calls\n", symbol);
    return 5;
  }
  f = fopen(argv[4], "wb");
  if (!f || fwrite(out, 1, out_bytes, f) != out_bytes || fclose(f) != 0) {
    fprintf(stderr, "qemu_host: cannot write %s\n", argv[4]);
    return 4;
  }
  printf("%zu rows\n", rows);
  free(in);
  free(rnd);
  free(out);
  free(out_batch);
  dlclose(lib);
  return 0;
}
