// scikinc.hpp -- C++17 runtime for scikinc-generated models (libdl only).
//
//   scikinc::Model m("models.so", "pid_muon");          // RAII over dlopen
//   std::vector<float> out(m.n_outputs());
//   m.call(out.data(), in.data());                        // out first, like pid_muon(out, in)
//
//   auto p = scikinc::Pipeline::from_file("lamarr.cfg");  // config: see README.md
//   p.call(out, in);                                      // one row, seeded noise
//
// Argument order: every entry point taking raw buffers is out first, then in
// (then rnd, then n), the order of the generated C functions
// `name(out, in[, rnd])` and `name_batch(out, in[, rnd], n)`.  The older
// (in, out) entry points (operator()(in, out), batch(in, out, n),
// Pipeline::operator()(in, out), Pipeline::run(in, out, n)) still work but are
// [[deprecated]]: the out-first ones have other names (call, call_batch) so
// that an old call never silently changes meaning -- overloading one name on
// (const T *in, T *out) and (T *out, const T *in) would be ambiguous for two
// non-const pointers.
//
// Thread safety: a Model is immutable after construction and may be called
// from any number of threads at once.  A Pipeline owns scratch buffers and a
// random-number generator: use one instance per thread (Pipeline::clone).
#ifndef SCIKINC_HPP
#define SCIKINC_HPP

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <random>
#include <stdexcept>
#include <string>
#include <vector>

#include "scikinc.h"

namespace scikinc {

/// Every error raised by the runtime (missing file, missing symbol, bad
/// config, dimension or type mismatch).  what() names the stage / symbol.
class Error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

enum class FloatType { Float = SKC_FLOAT, Double = SKC_DOUBLE, LongDouble = SKC_LONG_DOUBLE };
const char *to_string(FloatType t);

class Library;  // one dlopen handle, shared (refcounted) by all Models from the same file

/// One exported model of a scikinc shared object.  Move-only.
class Model {
 public:
  /// dlopen `path` (shared with other Models of the same file) and look `symbol` up.
  /// Throws scikinc::Error on a missing file, symbol or metadata.
  Model(const std::string &path, const std::string &symbol);
  Model(Model &&) noexcept;
  Model &operator=(Model &&) noexcept;
  Model(const Model &) = delete;
  Model &operator=(const Model &) = delete;
  ~Model();

  int n_inputs() const { return m_.n_inputs; }
  int n_outputs() const { return m_.n_outputs; }
  int n_random() const { return m_.n_random; }  ///< 0 unless generative
  bool generative() const { return m_.n_random > 0; }
  FloatType float_type() const { return static_cast<FloatType>(m_.float_type); }
  const std::string &symbol() const { return symbol_; }
  const std::string &path() const { return path_; }
  /// true when the library also exports `symbol_inverse`
  bool has_inverse() const;
  /// the `symbol_inverse` model of the same library
  Model inverse() const;
  /// the underlying C description (function pointers + metadata)
  const skc_model &c_model() const { return m_; }

  // One row: out = f(in), or f(in, rnd) for generative models.  `out` may
  // alias `in`; returns `out`.  Throws scikinc::Error when the float type or
  // the (non-)generative signature does not match the model.
  float *call(float *out, const float *in) const;
  double *call(double *out, const double *in) const;
  float *call(float *out, const float *in, const float *rnd) const;
  double *call(double *out, const double *in, const double *rnd) const;
  // n rows, row-major; bitwise equal to n single calls.
  float *call_batch(float *out, const float *in, std::size_t n) const;
  double *call_batch(double *out, const double *in, std::size_t n) const;
  float *call_batch(float *out, const float *in, const float *rnd, std::size_t n) const;
  double *call_batch(double *out, const double *in, const double *rnd, std::size_t n) const;

  // Deprecated (in[, rnd], out[, n]) order: same results as call / call_batch.
  // (clang-format 14 would glue each attribute to its declaration)
  // clang-format off
  [[deprecated("(in, out) order: use call(out, in), the order of the C function name(out, in)")]]
  float *operator()(const float *in, float *out) const;
  [[deprecated("(in, out) order: use call(out, in), the order of the C function name(out, in)")]]
  double *operator()(const double *in, double *out) const;
  [[deprecated("(in, rnd, out) order: use call(out, in, rnd), the order of the C function name(out, in, rnd)")]]
  float *operator()(const float *in, const float *rnd, float *out) const;
  [[deprecated("(in, rnd, out) order: use call(out, in, rnd), the order of the C function name(out, in, rnd)")]]
  double *operator()(const double *in, const double *rnd, double *out) const;
  [[deprecated("(in, out, n) order: use call_batch(out, in, n), the order of the C function name_batch(out, in, n)")]]
  float *batch(const float *in, float *out, std::size_t n) const;
  [[deprecated("(in, out, n) order: use call_batch(out, in, n), the order of the C function name_batch(out, in, n)")]]
  double *batch(const double *in, double *out, std::size_t n) const;
  [[deprecated("(in, rnd, out, n) order: use call_batch(out, in, rnd, n), the order of name_batch(out, in, rnd, n)")]]
  float *batch(const float *in, const float *rnd, float *out, std::size_t n) const;
  [[deprecated("(in, rnd, out, n) order: use call_batch(out, in, rnd, n), the order of name_batch(out, in, rnd, n)")]]
  double *batch(const double *in, const double *rnd, double *out, std::size_t n) const;
  // clang-format on

  /// convenience: checks the size and returns a new vector
  std::vector<float> operator()(const std::vector<float> &in) const;
  std::vector<double> operator()(const std::vector<double> &in) const;

 private:
  void check(FloatType t, bool gen) const;
  std::shared_ptr<Library> lib_;
  std::string path_, symbol_;
  skc_model m_{};
};

/// A chain of models described by a text config (format in README.md).
/// Values flow between stages as double; each model sees its inputs rounded to
/// its own float type (exactly what numpy's astype does), so a chain of float
/// models gives the same bits as calling them one after the other.
class Pipeline {
 public:
  /// Parse a config file; relative library paths are resolved against its directory.
  static Pipeline from_file(const std::string &path);
  /// Parse a config held in a string; relative paths are resolved against `base_dir`.
  static Pipeline from_string(const std::string &text, const std::string &base_dir = ".");
  /// The one-stage pipeline `input -> model`, noise drawn for generative models.
  static Pipeline single(const std::string &path, const std::string &symbol);

  Pipeline(Pipeline &&) noexcept;
  Pipeline &operator=(Pipeline &&) noexcept;
  ~Pipeline();

  /// A fresh, independent instance (own buffers and RNG) sharing the loaded libraries.
  Pipeline clone(std::uint64_t seed) const;

  std::size_t n_inputs() const;
  std::size_t n_outputs() const;
  /// noise values drawn per row (noise stages + generative models fed automatically)
  std::size_t n_noise() const;
  /// true when every output column comes from a float model (print with %.9g)
  bool float_output() const;
  /// human-readable description of the stages and their widths
  std::string describe() const;

  /// Restart the noise stream: the same seed gives the same noise sequence.
  void seed(std::uint64_t s);
  std::uint64_t current_seed() const;

  /// One row: `out` receives n_outputs() values, `in` has n_inputs() values.
  void call(double *out, const double *in);
  void call(float *out, const float *in);
  /// n rows, row-major (rows are processed in order; the noise stream continues).
  void call_batch(double *out, const double *in, std::size_t n);
  void call_batch(float *out, const float *in, std::size_t n);
  /// convenience: checks the size and returns a new vector
  std::vector<double> operator()(const std::vector<double> &in);

  // Deprecated (in, out[, n]) order: same results as call / call_batch.
  // clang-format off
  [[deprecated("(in, out) order: use call(out, in), the order of the C functions")]]
  void operator()(const double *in, double *out);
  [[deprecated("(in, out) order: use call(out, in), the order of the C functions")]]
  void operator()(const float *in, float *out);
  [[deprecated("(in, out, n) order: use call_batch(out, in, n), the order of the C functions")]]
  void run(const double *in, double *out, std::size_t n);
  // clang-format on

  /// Noise values drawn for the last row, in draw order (n_noise() values).
  const std::vector<double> &last_noise() const;
  /// Replace the internal N(0,1) generator (e.g. replay recorded noise):
  /// fn(dst, k) must write k values.  Pass nullptr to restore the generator.
  void set_noise_source(std::function<void(double *, std::size_t)> fn);

  struct Impl;

 private:
  explicit Pipeline(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

/// The documented N(0,1) source of Pipeline: std::mt19937_64 seeded with the
/// seed; uniforms u = (x >> 11) * 2^-53; Marsaglia's polar method (pairs
/// v1 = 2u1-1, v2 = 2u2-1 until 0 < s = v1^2+v2^2 < 1; returns
/// v1*sqrt(-2 log s / s), then v2*sqrt(-2 log s / s)).  Independent of the
/// C++ standard library's std::normal_distribution.
class Normal {
 public:
  explicit Normal(std::uint64_t seed = 0) { reseed(seed); }
  void reseed(std::uint64_t seed) {
    gen_.seed(seed);
    has_spare_ = false;
  }
  double operator()();

 private:
  std::mt19937_64 gen_;
  double spare_ = 0;
  bool has_spare_ = false;
};

}  // namespace scikinc

#endif  // SCIKINC_HPP
