/*
 * scikinc.h -- load scikinc-generated models from C or C++ hosts.
 *
 * Header-only, C99 and C++ compatible, needs only <dlfcn.h> (link -ldl on
 * glibc < 2.34).  Every helper returns an skc_status and, on failure, writes a
 * human-readable message into the caller's buffer; nothing here aborts,
 * prints or allocates.
 *
 *   char err[256];
 *   void *lib;
 *   skc_model m;
 *   if (skc_open("models.so", &lib, err, sizeof err) ||
 *       skc_lookup(lib, "pid_muon", &m, err, sizeof err)) {
 *     fprintf(stderr, "%s\n", err); return 1;
 *   }
 *   if (m.float_type == SKC_FLOAT && !m.n_random)
 *     ((skc_model_f)m.fn)(out, in);
 *   ...
 *   skc_close(lib);
 *
 * Generated functions are reentrant (no heap, no mutable global state): one
 * skc_model may be called from any number of threads at once.
 */
#ifndef SCIKINC_H
#define SCIKINC_H

#include <dlfcn.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---- function types of the generated code ------------------------------ */
/* deterministic models: out = f(in); out may alias in; returns out */
typedef float *(*skc_model_f)(float *out, const float *in);
typedef float *(*skc_batch_f)(float *out, const float *in, size_t n);
typedef double *(*skc_model_d)(double *out, const double *in);
typedef double *(*skc_batch_d)(double *out, const double *in, size_t n);
/* generative models (name_n_random exported): out = f(in, rnd) */
typedef float *(*skc_gen_f)(float *out, const float *in, const float *rnd);
typedef float *(*skc_gen_batch_f)(float *out, const float *in, const float *rnd, size_t n);
typedef double *(*skc_gen_d)(double *out, const double *in, const double *rnd);
typedef double *(*skc_gen_batch_d)(double *out, const double *in, const double *rnd, size_t n);
/* untyped function pointer: cast to one of the above after checking the metadata */
typedef void (*skc_fn)(void);

/* ---- status codes ------------------------------------------------------ */
typedef enum {
  SKC_OK = 0,
  SKC_E_ARG = 1,    /* NULL argument or name too long */
  SKC_E_OPEN = 2,   /* dlopen failed (missing file, bad ELF, unresolved symbol) */
  SKC_E_SYMBOL = 3, /* function symbol not found */
  SKC_E_META = 4,   /* metadata symbol (_n_inputs, _float_t, ...) missing or invalid */
  SKC_E_TYPE = 5    /* unknown float type string */
} skc_status;

typedef enum { SKC_FLOAT = 0, SKC_DOUBLE = 1, SKC_LONG_DOUBLE = 2 } skc_float_type;

/* Everything a host needs to call one exported model. */
typedef struct {
  skc_fn fn;    /* name(out, in[, rnd]) */
  skc_fn batch; /* name_batch(out, in[, rnd], n) */
  int n_inputs;
  int n_outputs;
  int n_random; /* 0: deterministic model */
  skc_float_type float_type;
  size_t float_size; /* sizeof(float), sizeof(double), ... */
} skc_model;

/* Longest symbol name accepted (without the metadata suffixes). */
#define SKC_MAX_NAME 200

static inline const char *skc_strerror(int status) {
  switch (status) {
    case SKC_OK: return "success";
    case SKC_E_ARG: return "invalid argument";
    case SKC_E_OPEN: return "cannot open shared object";
    case SKC_E_SYMBOL: return "symbol not found";
    case SKC_E_META: return "model metadata missing or invalid";
    case SKC_E_TYPE: return "unsupported float type";
    default: return "unknown error";
  }
}

static inline const char *skc_float_name(skc_float_type t) {
  return t == SKC_FLOAT ? "float" : t == SKC_DOUBLE ? "double" : "long double";
}

/* internal: formatted error message into a possibly NULL buffer */
#define SKC_SET_ERR(err, errlen, ...)                              \
  do {                                                             \
    if ((err) && (errlen)) snprintf((err), (errlen), __VA_ARGS__); \
  } while (0)

/* dlopen(path, RTLD_NOW | RTLD_LOCAL).  *handle is NULL on failure.
 * A bare file name ("models.so") that exists in the working directory is
 * opened from there, not searched on the library path as dlopen would. */
static inline int skc_open(const char *path, void **handle, char *err, size_t errlen) {
  char local[4096];
  if (!path || !handle) {
    SKC_SET_ERR(err, errlen, "skc_open: NULL argument");
    return SKC_E_ARG;
  }
  if (!strchr(path, '/') && strlen(path) + 3 < sizeof local && access(path, F_OK) == 0) {
    snprintf(local, sizeof local, "./%s", path);
    *handle = dlopen(local, RTLD_NOW | RTLD_LOCAL);
  } else {
    *handle = dlopen(path, RTLD_NOW | RTLD_LOCAL);
  }
  if (!*handle) {
    const char *why = dlerror();
    SKC_SET_ERR(err, errlen, "cannot open %s: %s", path, why ? why : "unknown dlopen error");
    return SKC_E_OPEN;
  }
  return SKC_OK;
}

/* dlclose; NULL is accepted. */
static inline int skc_close(void *handle) { return handle && dlclose(handle) != 0 ? SKC_E_OPEN : SKC_OK; }

/* Raw symbol address (data or function), NULL when absent. */
static inline void *skc_address(void *handle, const char *name) {
  if (!handle || !name) return NULL;
  (void)dlerror();
  return dlsym(handle, name);
}

/* Function symbol `name` as an untyped function pointer. */
static inline int skc_function(void *handle, const char *name, skc_fn *fn, char *err, size_t errlen) {
  if (!handle || !name || !fn) {
    SKC_SET_ERR(err, errlen, "skc_function: NULL argument");
    return SKC_E_ARG;
  }
  void *p = skc_address(handle, name);
  if (!p) {
    SKC_SET_ERR(err, errlen, "symbol '%s' not found in the shared object", name);
    *fn = NULL;
    return SKC_E_SYMBOL;
  }
  /* POSIX guarantees data and function pointers have the same
   * representation; memcpy keeps ISO C compilers quiet. */
  memcpy(fn, &p, sizeof *fn);
  return SKC_OK;
}

/* Value of the exported `const int symbol_suffix` (e.g. "n_inputs").
 * Returns SKC_E_META (and leaves *value untouched) when absent. */
static inline int skc_int_meta(void *handle, const char *symbol, const char *suffix, int *value, char *err,
                               size_t errlen) {
  char name[SKC_MAX_NAME + 32];
  if (!handle || !symbol || !suffix || !value || strlen(symbol) > SKC_MAX_NAME || strlen(suffix) > 24) {
    SKC_SET_ERR(err, errlen, "skc_int_meta: invalid argument");
    return SKC_E_ARG;
  }
  snprintf(name, sizeof name, "%s_%s", symbol, suffix);
  const int *p = (const int *)skc_address(handle, name);
  if (!p) {
    SKC_SET_ERR(err, errlen, "metadata symbol '%s' not found: is '%s' a scikinc model?", name, symbol);
    return SKC_E_META;
  }
  *value = *p;
  return SKC_OK;
}

/* Float type from the exported `const char symbol_float_t[]`. */
static inline int skc_float_meta(void *handle, const char *symbol, skc_float_type *type, char *err, size_t errlen) {
  char name[SKC_MAX_NAME + 32];
  if (!handle || !symbol || !type || strlen(symbol) > SKC_MAX_NAME) {
    SKC_SET_ERR(err, errlen, "skc_float_meta: invalid argument");
    return SKC_E_ARG;
  }
  snprintf(name, sizeof name, "%s_float_t", symbol);
  const char *s = (const char *)skc_address(handle, name);
  if (!s) {
    SKC_SET_ERR(err, errlen, "metadata symbol '%s' not found: is '%s' a scikinc model?", name, symbol);
    return SKC_E_META;
  }
  if (strcmp(s, "float") == 0)
    *type = SKC_FLOAT;
  else if (strcmp(s, "double") == 0)
    *type = SKC_DOUBLE;
  else if (strcmp(s, "long double") == 0)
    *type = SKC_LONG_DOUBLE;
  else {
    SKC_SET_ERR(err, errlen, "'%s' has unknown float type '%.40s'", symbol, s);
    return SKC_E_TYPE;
  }
  return SKC_OK;
}

/* Look up model `symbol`: its two functions and all metadata. */
static inline int skc_lookup(void *handle, const char *symbol, skc_model *m, char *err, size_t errlen) {
  char name[SKC_MAX_NAME + 32];
  int rc;
  if (!handle || !symbol || !m) {
    SKC_SET_ERR(err, errlen, "skc_lookup: NULL argument");
    return SKC_E_ARG;
  }
  if (strlen(symbol) == 0 || strlen(symbol) > SKC_MAX_NAME) {
    SKC_SET_ERR(err, errlen, "skc_lookup: invalid symbol name");
    return SKC_E_ARG;
  }
  memset(m, 0, sizeof *m);
  if ((rc = skc_function(handle, symbol, &m->fn, err, errlen)) != SKC_OK) return rc;
  snprintf(name, sizeof name, "%s_batch", symbol);
  if ((rc = skc_function(handle, name, &m->batch, err, errlen)) != SKC_OK) return rc;
  if ((rc = skc_int_meta(handle, symbol, "n_inputs", &m->n_inputs, err, errlen)) != SKC_OK) return rc;
  if ((rc = skc_int_meta(handle, symbol, "n_outputs", &m->n_outputs, err, errlen)) != SKC_OK) return rc;
  if (skc_int_meta(handle, symbol, "n_random", &m->n_random, NULL, 0) != SKC_OK) m->n_random = 0;
  if ((rc = skc_float_meta(handle, symbol, &m->float_type, err, errlen)) != SKC_OK) return rc;
  if (m->n_inputs <= 0 || m->n_outputs <= 0 || m->n_random < 0) {
    SKC_SET_ERR(err, errlen, "'%s' has invalid dimensions (n_inputs=%d, n_outputs=%d, n_random=%d)", symbol,
                m->n_inputs, m->n_outputs, m->n_random);
    return SKC_E_META;
  }
  m->float_size = m->float_type == SKC_FLOAT    ? sizeof(float)
                  : m->float_type == SKC_DOUBLE ? sizeof(double)
                                                : sizeof(long double);
  return SKC_OK;
}

#ifdef __cplusplus
} /* extern "C" */
#endif

#endif /* SCIKINC_H */
