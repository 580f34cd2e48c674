/* The C host of the seed's Dalitz example: efficiency and resolution of a
 * toy K0 -> pi+ pi- pi0 detector, three models from one shared object whose
 * path and symbol names are run-time strings.
 *
 *   host converted.so m_pipi m_pipi0
 */
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>

typedef float *(*mlfunc)(float *, const float *);

static mlfunc lookup(void *handle, const char *name)
{
  mlfunc f = (mlfunc)dlsym(handle, name);
  if (!f) {
    fprintf(stderr, "symbol %s not found\n", name);
    exit(1);
  }
  return f;
}

int main(int argc, char *argv[])
{
  if (argc != 4) {
    fprintf(stderr, "usage: %s converted.so m_pipi m_pipi0\n", argv[0]);
    return 2;
  }
  void *handle = dlopen(argv[1], RTLD_LAZY);
  if (!handle) {
    fprintf(stderr, "dlopen: %s\n", dlerror());
    return 1;
  }
  mlfunc efficiency_model = lookup(handle, "efficiency_model");
  mlfunc resolution_prepr = lookup(handle, "resolution_prepr");
  mlfunc resolution_model = lookup(handle, "resolution_model");

  const float input[2] = {(float)atof(argv[2]), (float)atof(argv[3])};
  float efficiency[1], preprocessed[2], resolution[2];

  efficiency_model(efficiency, input);
  resolution_prepr(preprocessed, input);
  resolution_model(resolution, preprocessed);

  printf("efficiency %.9g\n", efficiency[0]);
  printf("resolution %.9g %.9g\n", resolution[0], resolution[1]);
  dlclose(handle);
  return 0;
}
