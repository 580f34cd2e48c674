// scikinc-run: run a scikinc model or pipeline over CSV rows.
//
//   scikinc-run --so LIB.so --symbol NAME [options] [INPUT.csv|-]
//   scikinc-run --pipeline CONFIG        [options] [INPUT.csv|-]
//
// Input: one row per line, values separated by ',' (or --delimiter); numbers
// are parsed as double (strtod: nan/inf accepted) and rounded to each model's
// float type.  Output: one CSV row per input row on stdout, %.9g when every
// output column comes from a float model, %.17g otherwise (both round-trip).
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iostream>
#include <sstream>
#include <string>
#include <vector>

#include "scikinc.hpp"

namespace {

const char *USAGE =
    "usage: scikinc-run (--so LIB.so --symbol NAME | --pipeline CONFIG) [options] [INPUT.csv|-]\n"
    "\n"
    "Reads CSV rows (file or stdin), writes the outputs as CSV to stdout.\n"
    "  --so LIB.so --symbol NAME  run one exported model (generative ones get N(0,1) noise)\n"
    "  --pipeline CONFIG          run a pipeline config (format: runtime/README.md)\n"
    "  --seed N                   noise seed (default: the config's 'seed', else 0)\n"
    "  --rnd FILE                 take the noise from FILE (one CSV row of n_noise values per input row)\n"
    "  --dump-noise FILE          write the noise drawn for each row to FILE as CSV (%.17g)\n"
    "  --skip-header              ignore the first input line\n"
    "  --delimiter C              field separator (default ',')\n"
    "  --digits N                 significant digits printed (default 9 for float outputs, 17 otherwise)\n"
    "  --bench N                  time N rows (cycling over the input); print throughput instead of CSV\n"
    "  --describe                 print the stages and their widths, then exit\n";

struct Rows {
  std::vector<double> data;
  std::size_t n = 0;
};

Rows read_csv(std::istream &in, std::size_t width, char delim, bool skip_header, const std::string &what) {
  Rows r;
  std::string line;
  std::size_t lineno = 0;
  while (std::getline(in, line)) {
    lineno++;
    if (skip_header && lineno == 1) continue;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.find_first_not_of(" \t") == std::string::npos) continue;
    std::size_t count = 0;
    const char *p = line.c_str();
    while (true) {
      char *end = nullptr;
      double v = std::strtod(p, &end);
      if (end == p)
        throw scikinc::Error(what + " line " + std::to_string(lineno) + ": cannot parse a number at '" +
                             std::string(p).substr(0, 20) + "'");
      r.data.push_back(v);
      count++;
      p = end;
      while (*p == ' ' || *p == '\t') p++;
      if (*p == '\0') break;
      if (*p != delim)
        throw scikinc::Error(what + " line " + std::to_string(lineno) + ": unexpected character '" +
                             std::string(1, *p) + "'");
      p++;
    }
    if (count != width)
      throw scikinc::Error(what + " line " + std::to_string(lineno) + ": " + std::to_string(count) +
                           " values, expected " + std::to_string(width));
    r.n++;
  }
  return r;
}

void write_row(std::FILE *f, const double *v, std::size_t n, int digits, char delim) {
  char buf[64];
  for (std::size_t i = 0; i < n; i++) {
    int len = std::snprintf(buf, sizeof buf, "%.*g", digits, v[i]);
    if (i) std::fputc(delim, f);
    std::fwrite(buf, 1, static_cast<std::size_t>(len), f);
  }
  std::fputc('\n', f);
}

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

template <class T>
double bench_model(const scikinc::Model &m, const Rows &rows, const Rows &noise, long n) {
  const std::size_t ni = static_cast<std::size_t>(m.n_inputs()), nr = static_cast<std::size_t>(m.n_random());
  std::vector<T> in(rows.data.begin(), rows.data.end()), out(static_cast<std::size_t>(m.n_outputs()));
  std::vector<T> rnd(noise.data.begin(), noise.data.end());
  const auto t0 = std::chrono::steady_clock::now();
  volatile T sink = 0;
  for (long c = 0; c < n; c++) {
    const std::size_t r = static_cast<std::size_t>(c) % rows.n;
    if (nr)
      m.call(out.data(), in.data() + r * ni, rnd.data() + (r % noise.n) * nr);
    else
      m.call(out.data(), in.data() + r * ni);
    sink = out[0];
  }
  (void)sink;
  return seconds_since(t0);
}

}  // namespace

int main(int argc, char **argv) {
  std::string so, symbol, config, input = "-", rnd_file, dump_file;
  bool have_seed = false, skip_header = false, describe = false;
  std::uint64_t seed = 0;
  char delim = ',';
  long bench = 0;
  int digits = 0;
  try {
    for (int i = 1; i < argc; i++) {
      std::string a = argv[i];
      auto value = [&]() -> std::string {
        if (i + 1 >= argc) throw scikinc::Error("option " + a + " needs a value");
        return argv[++i];
      };
      if (a == "--so") {
        so = value();
      } else if (a == "--symbol") {
        symbol = value();
      } else if (a == "--pipeline") {
        config = value();
      } else if (a == "--seed") {
        seed = std::strtoull(value().c_str(), nullptr, 0);
        have_seed = true;
      } else if (a == "--rnd") {
        rnd_file = value();
      } else if (a == "--dump-noise") {
        dump_file = value();
      } else if (a == "--skip-header") {
        skip_header = true;
      } else if (a == "--delimiter") {
        std::string d = value();
        if (d.size() != 1) throw scikinc::Error("--delimiter takes one character");
        delim = d[0];
      } else if (a == "--digits") {
        digits = std::atoi(value().c_str());
      } else if (a == "--bench") {
        bench = std::atol(value().c_str());
        if (bench <= 0) throw scikinc::Error("--bench needs a positive count");
      } else if (a == "--describe") {
        describe = true;
      } else if (a == "-h" || a == "--help") {
        std::fputs(USAGE, stdout);
        return 0;
      } else if (a.size() > 1 && a[0] == '-') {
        throw scikinc::Error("unknown option " + a);
      } else {
        input = a;
      }
    }
    if (config.empty() == (so.empty() && symbol.empty()))
      throw scikinc::Error("give either --pipeline CONFIG or --so LIB.so --symbol NAME");
    if (config.empty() && (so.empty() || symbol.empty())) throw scikinc::Error("--so and --symbol go together");

    scikinc::Pipeline p = config.empty() ? scikinc::Pipeline::single(so, symbol) : scikinc::Pipeline::from_file(config);
    if (have_seed) p.seed(seed);
    if (describe) {
      std::printf("%s\n", p.describe().c_str());
      std::printf("inputs %zu, outputs %zu, noise per row %zu, seed %llu\n", p.n_inputs(), p.n_outputs(), p.n_noise(),
                  static_cast<unsigned long long>(p.current_seed()));
      return 0;
    }

    Rows rows;
    if (input == "-") {
      rows = read_csv(std::cin, p.n_inputs(), delim, skip_header, "stdin");
    } else {
      std::ifstream f(input);
      if (!f) throw scikinc::Error("cannot read " + input);
      rows = read_csv(f, p.n_inputs(), delim, skip_header, input);
    }

    Rows noise;
    std::size_t noise_pos = 0;
    if (!rnd_file.empty()) {
      std::ifstream f(rnd_file);
      if (!f) throw scikinc::Error("cannot read " + rnd_file);
      if (p.n_noise() == 0) throw scikinc::Error("--rnd given but the pipeline draws no noise");
      noise = read_csv(f, p.n_noise(), delim, false, rnd_file);
      if (!bench && noise.n != rows.n)
        throw scikinc::Error(rnd_file + ": " + std::to_string(noise.n) + " noise rows for " + std::to_string(rows.n) +
                             " input rows");
      p.set_noise_source([&](double *dst, std::size_t k) {
        if (noise_pos + k > noise.data.size()) noise_pos = 0;  // bench: cycle
        std::copy(noise.data.begin() + static_cast<long>(noise_pos),
                  noise.data.begin() + static_cast<long>(noise_pos + k), dst);
        noise_pos += k;
      });
    }

    std::vector<double> out(p.n_outputs());
    if (bench) {
      if (rows.n == 0) throw scikinc::Error("--bench needs at least one input row");
      const auto t0 = std::chrono::steady_clock::now();
      for (long c = 0; c < bench; c++)
        p.call(out.data(), rows.data.data() + (static_cast<std::size_t>(c) % rows.n) * p.n_inputs());
      const double dt = seconds_since(t0);
      std::printf("pipeline: %ld rows in %.3f s: %.1f ns/row, %.4g rows/s\n", bench, dt, 1e9 * dt / bench, bench / dt);
      if (config.empty()) {
        scikinc::Model m(so, symbol);
        Rows r2 = noise;
        if (m.generative() && r2.n == 0) {  // fixed noise for the raw timing
          scikinc::Normal g(seed);
          r2.n = 256;
          r2.data.resize(256 * static_cast<std::size_t>(m.n_random()));
          for (auto &x : r2.data) x = g();
        }
        double t = m.float_type() == scikinc::FloatType::Float ? bench_model<float>(m, rows, r2, bench)
                                                               : bench_model<double>(m, rows, r2, bench);
        std::printf("model %s (%s, direct calls): %.1f ns/call, %.4g calls/s\n", symbol.c_str(),
                    scikinc::to_string(m.float_type()), 1e9 * t / bench, bench / t);
      }
      return 0;
    }

    std::FILE *dump = nullptr;
    if (!dump_file.empty()) {
      dump = std::fopen(dump_file.c_str(), "w");
      if (!dump) throw scikinc::Error("cannot write " + dump_file);
    }
    const int d = digits > 0 ? digits : (p.float_output() ? 9 : 17);
    for (std::size_t r = 0; r < rows.n; r++) {
      p.call(out.data(), rows.data.data() + r * p.n_inputs());
      write_row(stdout, out.data(), out.size(), d, delim);
      if (dump && p.n_noise()) write_row(dump, p.last_noise().data(), p.n_noise(), 17, delim);
    }
    if (dump) std::fclose(dump);
    if (std::fflush(stdout) != 0) throw scikinc::Error("write error on stdout");
  } catch (const std::exception &e) {
    std::fprintf(stderr, "scikinc-run: %s\n", e.what());
    return 1;
  }
  return 0;
}
