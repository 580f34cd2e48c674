// Thread-safety driver: T threads each make CALLS calls of the same model
// (through scikinc::Model, one shared instance) and compare every output
// bitwise with a serial run.
//
//   threads LIB.so SYMBOL ROWS.bin N_ROWS [THREADS=8] [CALLS=100000]
//
// ROWS.bin: N_ROWS rows of n_inputs (then n_random) values of the model's type.
// Exit status 0 and "OK" when all outputs agree, 1 otherwise.
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <thread>
#include <vector>

#include "scikinc.hpp"

template <class T>
static int run(const scikinc::Model &m, const char *rows_path, std::size_t nrows, int nthreads, std::size_t calls) {
  const std::size_t ni = static_cast<std::size_t>(m.n_inputs()), nr = static_cast<std::size_t>(m.n_random()),
                    no = static_cast<std::size_t>(m.n_outputs()), w = ni + nr;
  std::vector<T> rows(nrows * w);
  std::FILE *f = std::fopen(rows_path, "rb");
  if (!f || std::fread(rows.data(), sizeof(T) * w, nrows, f) != nrows) {
    std::fprintf(stderr, "cannot read %zu rows from %s\n", nrows, rows_path);
    return 2;
  }
  std::fclose(f);
  auto call = [&](std::size_t c, T *out) {
    const T *row = rows.data() + (c % nrows) * w;
    if (nr)
      m.call(out, row, row + ni);
    else
      m.call(out, row);
  };
  std::vector<T> serial(calls * no);
  for (std::size_t c = 0; c < calls; c++) call(c, serial.data() + c * no);

  std::vector<std::vector<T>> results(static_cast<std::size_t>(nthreads), std::vector<T>(calls * no));
  std::atomic<int> ready{0};
  std::vector<std::thread> pool;
  for (int t = 0; t < nthreads; t++) {
    pool.emplace_back([&, t]() {
      ready++;
      while (ready.load() < nthreads) std::this_thread::yield();  // start together
      T *res = results[static_cast<std::size_t>(t)].data();
      const std::size_t phase = static_cast<std::size_t>(t) * (calls / static_cast<std::size_t>(nthreads));
      for (std::size_t k = 0; k < calls; k++) {  // each thread walks the rows from its own offset
        const std::size_t c = (k + phase) % calls;
        call(c, res + c * no);
      }
    });
  }
  for (auto &th : pool) th.join();
  std::size_t bad = 0;
  for (int t = 0; t < nthreads; t++)
    if (std::memcmp(results[static_cast<std::size_t>(t)].data(), serial.data(), serial.size() * sizeof(T)) != 0) {
      std::fprintf(stderr, "thread %d: outputs differ from the serial run\n", t);
      bad++;
    }
  if (bad) return 1;
  std::printf("OK %s: %d threads x %zu calls (%s) bitwise equal to the serial run\n", m.symbol().c_str(), nthreads,
              calls, scikinc::to_string(m.float_type()));
  return 0;
}

int main(int argc, char **argv) {
  if (argc < 5) {
    std::fprintf(stderr, "usage: %s LIB.so SYMBOL ROWS.bin N_ROWS [THREADS=8] [CALLS=100000]\n", argv[0]);
    return 2;
  }
  const std::size_t nrows = std::strtoul(argv[4], nullptr, 10);
  const int nthreads = argc > 5 ? std::atoi(argv[5]) : 8;
  const std::size_t calls = argc > 6 ? std::strtoul(argv[6], nullptr, 10) : 100000;
  if (!nrows || nthreads <= 0 || !calls) return 2;
  try {
    scikinc::Model m(argv[1], argv[2]);
    switch (m.float_type()) {
      case scikinc::FloatType::Float: return run<float>(m, argv[3], nrows, nthreads, calls);
      case scikinc::FloatType::Double: return run<double>(m, argv[3], nrows, nthreads, calls);
      default: std::fprintf(stderr, "long double not supported\n"); return 2;
    }
  } catch (const scikinc::Error &e) {
    std::fprintf(stderr, "%s\n", e.what());
    return 2;
  }
}
