// Example C++ host for the scikinc runtime (built with -Wall -Wextra -Werror).
//
//   host LIB.so SYMBOL [x1 x2 ...]      one row through a model (+ its inverse)
//   host --pipeline CONFIG [x1 ...]     one row through a pipeline config
//
// Missing values are taken as 0.  Errors (missing file/symbol, bad config,
// dimension mismatch) arrive as scikinc::Error with a message naming the
// stage or symbol.
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "scikinc.hpp"

static std::vector<double> row_from_args(int argc, char **argv, int first, std::size_t n) {
  std::vector<double> x(n, 0.0);
  for (std::size_t i = 0; i < n && first + static_cast<int>(i) < argc; i++)
    x[i] = std::strtod(argv[first + static_cast<int>(i)], nullptr);
  return x;
}

static void print(const char *what, const std::vector<double> &v) {
  std::printf("%s:", what);
  for (double x : v) std::printf(" %.9g", x);
  std::printf("\n");
}

int main(int argc, char **argv) {
  if (argc < 3) {
    std::fprintf(stderr, "usage: %s LIB.so SYMBOL [x...] | %s --pipeline CONFIG [x...]\n", argv[0], argv[0]);
    return 2;
  }
  try {
    if (std::string(argv[1]) == "--pipeline") {
      scikinc::Pipeline p = scikinc::Pipeline::from_file(argv[2]);
      std::printf("%s\n", p.describe().c_str());
      print("output", p(row_from_args(argc, argv, 3, p.n_inputs())));
      return 0;
    }
    scikinc::Model m(argv[1], argv[2]);
    std::printf("%s: %d -> %d (%s%s)\n", m.symbol().c_str(), m.n_inputs(), m.n_outputs(),
                scikinc::to_string(m.float_type()), m.generative() ? ", generative" : "");
    const std::vector<double> x = row_from_args(argc, argv, 3, static_cast<std::size_t>(m.n_inputs()));
    std::vector<double> y(static_cast<std::size_t>(m.n_outputs()));
    if (m.float_type() == scikinc::FloatType::Float) {
      std::vector<float> xf(x.begin(), x.end()), yf(y.size());
      if (m.generative()) {
        std::vector<float> rnd(static_cast<std::size_t>(m.n_random()), 0.0f);  // the mode of N(0,1)
        // out first, then in and rnd: the order of the C function name(out, in, rnd)
        m.call(yf.data(), xf.data(), rnd.data());
      } else {
        m.call(yf.data(), xf.data());  // out, in
      }
      y.assign(yf.begin(), yf.end());
    } else if (m.float_type() == scikinc::FloatType::Double) {
      if (m.generative()) {
        std::vector<double> rnd(static_cast<std::size_t>(m.n_random()), 0.0);
        m.call(y.data(), x.data(), rnd.data());
      } else {
        m.call(y.data(), x.data());
      }
    } else {
      std::fprintf(stderr, "long double models are not supported by this host\n");
      return 1;
    }
    print("output", y);
    if (m.has_inverse() && !m.generative()) {
      scikinc::Model inv = m.inverse();  // same library handle, refcounted
      if (m.float_type() == scikinc::FloatType::Float) {
        const std::vector<float> yf(y.begin(), y.end());
        const std::vector<float> back = inv(yf);
        print("inverse(output)", std::vector<double>(back.begin(), back.end()));
      } else {
        print("inverse(output)", inv(y));
      }
    }
  } catch (const scikinc::Error &e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return 1;
  }
  return 0;
}
