/* A C host in the style of the original scikinC Dalitz example: the shared
 * object and the symbol names are run-time strings, so models are swapped
 * without recompiling the host.
 *
 *   host LIB.so SYMBOL [x1 x2 ...]    -> prints SYMBOL(x) and its inverse
 */
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>

typedef float *(*mlfunc)(float *, const float *);

int main(int argc, char *argv[])
{
  if (argc < 3) {
    fprintf(stderr, "usage: %s LIB.so SYMBOL [values...]\n", argv[0]);
    return 2;
  }
  void *handle = dlopen(argv[1], RTLD_LAZY);
  if (!handle) {
    fprintf(stderr, "dlopen: %s\n", dlerror());
    return 1;
  }
  char name[256];
  mlfunc model = (mlfunc)dlsym(handle, argv[2]);
  snprintf(name, sizeof name, "%s_n_inputs", argv[2]);
  const int *n_in = (const int *)dlsym(handle, name);
  snprintf(name, sizeof name, "%s_n_outputs", argv[2]);
  const int *n_out = (const int *)dlsym(handle, name);
  snprintf(name, sizeof name, "%s_inverse", argv[2]);
  mlfunc inverse = (mlfunc)dlsym(handle, name);
  if (!model || !n_in || !n_out) {
    fprintf(stderr, "symbol %s not found: %s\n", argv[2], dlerror());
    return 1;
  }
  if (argc - 3 != *n_in) {
    fprintf(stderr, "%s expects %d inputs, got %d\n", argv[2], *n_in, argc - 3);
    return 1;
  }
  float in[64], out[64], back[64];
  for (int i = 0; i < *n_in; i++)
    in[i] = (float)atof(argv[3 + i]);
  model(out, in);
  printf("%s:", argv[2]);
  for (int j = 0; j < *n_out; j++)
    printf(" %.9g", out[j]);
  printf("\n");
  if (inverse) {
    inverse(back, out);
    printf("%s_inverse:", argv[2]);
    for (int i = 0; i < *n_in; i++)
      printf(" %.9g", back[i]);
    printf("\n");
  }
  dlclose(handle);
  return 0;
}
