// Argument-order driver: runs one model through every raw-buffer entry point,
// the out-first ones (Model::call / call_batch, Pipeline::call / call_batch)
// and the deprecated (in, out) ones (Model::operator() / batch,
// Pipeline::operator() / run), and writes all outputs for the test to compare.
// It uses the deprecated API on purpose: build it with
// -Wno-error=deprecated-declarations (tests/test_runtime.py does; the Makefile
// does not build it).
//
//   arg_order LIB.so SYMBOL ROWS.bin N_ROWS PREFIX
//
// ROWS.bin: N_ROWS rows of n_inputs (then n_random) values of the model's type.
// Writes (all row-major, N_ROWS x n_outputs per block):
//   PREFIX.model.bin  model type:  call, call_batch, operator(), batch
//   PREFIX.pipe.bin   double:      Pipeline::single call, call_batch, operator(), run
//                                  (noise reseeded to 0 before each block)
//   PREFIX.pipef.bin  float:       Pipeline float call, float operator()
//   PREFIX.noise.bin  double:      noise the pipeline drew in its first block
//                                  (n_random per row; empty for deterministic models)
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "scikinc.hpp"

namespace {

template <class T>
bool write(const std::string &path, const std::vector<T> &v) {
  std::FILE *f = std::fopen(path.c_str(), "wb");
  if (!f) return false;
  const bool ok = std::fwrite(v.data(), sizeof(T), v.size(), f) == v.size();
  return std::fclose(f) == 0 && ok;
}

template <class T>
int run(const char *so, const char *symbol, const char *rows_path, std::size_t n, const std::string &prefix) {
  const scikinc::Model m(so, symbol);
  const std::size_t ni = static_cast<std::size_t>(m.n_inputs()), nr = static_cast<std::size_t>(m.n_random()),
                    no = static_cast<std::size_t>(m.n_outputs()), w = ni + nr;
  std::vector<T> rows(n * w);
  std::FILE *f = std::fopen(rows_path, "rb");
  if (!f || std::fread(rows.data(), sizeof(T) * w, n, f) != n) {
    std::fprintf(stderr, "cannot read %zu rows from %s\n", n, rows_path);
    return 2;
  }
  std::fclose(f);
  // split into contiguous in / rnd blocks for the batch calls
  std::vector<T> in(n * ni), rnd(n * nr + 1);
  for (std::size_t r = 0; r < n; r++) {
    for (std::size_t j = 0; j < ni; j++) in[r * ni + j] = rows[r * w + j];
    for (std::size_t j = 0; j < nr; j++) rnd[r * nr + j] = rows[r * w + ni + j];
  }

  // Model: 4 blocks
  std::vector<T> mo(4 * n * no);
  T *b0 = mo.data(), *b1 = b0 + n * no, *b2 = b1 + n * no, *b3 = b2 + n * no;
  for (std::size_t r = 0; r < n; r++) {
    if (nr) {
      m.call(b0 + r * no, in.data() + r * ni, rnd.data() + r * nr);
      m(in.data() + r * ni, rnd.data() + r * nr, b2 + r * no);  // deprecated
    } else {
      m.call(b0 + r * no, in.data() + r * ni);
      m(in.data() + r * ni, b2 + r * no);  // deprecated
    }
  }
  if (nr) {
    m.call_batch(b1, in.data(), rnd.data(), n);
    m.batch(in.data(), rnd.data(), b3, n);  // deprecated
  } else {
    m.call_batch(b1, in.data(), n);
    m.batch(in.data(), b3, n);  // deprecated
  }

  // Pipeline::single: deterministic, or noise drawn from the seed
  scikinc::Pipeline p = scikinc::Pipeline::single(so, symbol);
  const std::vector<double> din(in.begin(), in.end());
  const std::vector<float> fin(in.begin(), in.end());
  std::vector<double> po(4 * n * no), noise;
  double *q0 = po.data(), *q1 = q0 + n * no, *q2 = q1 + n * no, *q3 = q2 + n * no;
  p.seed(0);
  for (std::size_t r = 0; r < n; r++) {
    p.call(q0 + r * no, din.data() + r * ni);
    noise.insert(noise.end(), p.last_noise().begin(), p.last_noise().end());
  }
  p.seed(0);
  p.call_batch(q1, din.data(), n);
  p.seed(0);
  for (std::size_t r = 0; r < n; r++) p(din.data() + r * ni, q2 + r * no);  // deprecated
  p.seed(0);
  p.run(din.data(), q3, n);  // deprecated

  std::vector<float> pf(2 * n * no);
  p.seed(0);
  for (std::size_t r = 0; r < n; r++) p.call(pf.data() + r * no, fin.data() + r * ni);
  p.seed(0);
  for (std::size_t r = 0; r < n; r++) p(fin.data() + r * ni, pf.data() + (n + r) * no);  // deprecated

  if (!write(prefix + ".model.bin", mo) || !write(prefix + ".pipe.bin", po) || !write(prefix + ".pipef.bin", pf) ||
      !write(prefix + ".noise.bin", noise)) {
    std::fprintf(stderr, "cannot write %s.*.bin\n", prefix.c_str());
    return 2;
  }
  std::printf("OK %s: %zu rows\n", symbol, n);
  return 0;
}

}  // namespace

int main(int argc, char **argv) {
  if (argc != 6) {
    std::fprintf(stderr, "usage: %s LIB.so SYMBOL ROWS.bin N_ROWS PREFIX\n", argv[0]);
    return 2;
  }
  const std::size_t n = std::strtoul(argv[4], nullptr, 10);
  if (!n) return 2;
  try {
    switch (scikinc::Model(argv[1], argv[2]).float_type()) {
      case scikinc::FloatType::Float: return run<float>(argv[1], argv[2], argv[3], n, argv[5]);
      case scikinc::FloatType::Double: return run<double>(argv[1], argv[2], argv[3], n, argv[5]);
      default: std::fprintf(stderr, "long double not supported\n"); return 2;
    }
  } catch (const scikinc::Error &e) {
    std::fprintf(stderr, "%s\n", e.what());
    return 2;
  }
}
