// scikinc.cpp -- implementation of scikinc::Model and scikinc::Pipeline.
#include "scikinc.hpp"

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <climits>
#include <cmath>
#include <cstdlib>
#include <fstream>
#include <map>
#include <mutex>
#include <sstream>

namespace scikinc {

const char *to_string(FloatType t) { return skc_float_name(static_cast<skc_float_type>(t)); }

// ---------------------------------------------------------------------------
// Library: one dlopen handle per canonical path, shared by all its Models.
// ---------------------------------------------------------------------------

class Library {
 public:
  explicit Library(const std::string &path) : path_(path) {
    char err[1024];
    if (skc_open(path.c_str(), &handle_, err, sizeof err) != SKC_OK) throw Error(err);
  }
  ~Library() { skc_close(handle_); }
  Library(const Library &) = delete;
  Library &operator=(const Library &) = delete;
  void *handle() const { return handle_; }
  const std::string &path() const { return path_; }

 private:
  std::string path_;
  void *handle_ = nullptr;
};

namespace {

std::shared_ptr<Library> open_library(const std::string &path) {
  static std::mutex mu;
  static std::map<std::string, std::weak_ptr<Library>> cache;
  std::string key = path;
  if (char *real = ::realpath(path.c_str(), nullptr)) {
    key = real;
    std::free(real);
  } else if (path.find('/') != std::string::npos) {
    throw Error("cannot open " + path + ": no such file");
  }
  std::lock_guard<std::mutex> lock(mu);
  auto it = cache.find(key);
  if (it != cache.end()) {
    if (auto lib = it->second.lock()) return lib;
  }
  auto lib = std::make_shared<Library>(key);
  cache[key] = lib;
  return lib;
}

}  // namespace

// ---------------------------------------------------------------------------
// Model
// ---------------------------------------------------------------------------

Model::Model(const std::string &path, const std::string &symbol) : path_(path), symbol_(symbol) {
  lib_ = open_library(path);
  char err[1024];
  if (skc_lookup(lib_->handle(), symbol.c_str(), &m_, err, sizeof err) != SKC_OK) throw Error(path + ": " + err);
}

Model::Model(Model &&) noexcept = default;
Model &Model::operator=(Model &&) noexcept = default;
Model::~Model() = default;

bool Model::has_inverse() const {
  if (!lib_) return false;
  return skc_address(lib_->handle(), (symbol_ + "_inverse_n_inputs").c_str()) != nullptr;
}

Model Model::inverse() const {
  if (!lib_) throw Error("inverse() of a moved-from Model");
  return Model(path_, symbol_ + "_inverse");
}

void Model::check(FloatType t, bool gen) const {
  if (!lib_) throw Error("call of a moved-from scikinc::Model");
  if (t != float_type())
    throw Error("model '" + symbol_ + "' computes in " + to_string(float_type()) + ", called with " + to_string(t) +
                " buffers");
  if (gen != generative())
    throw Error("model '" + symbol_ + "' is " +
                (generative() ? "generative: call it with (out, in, rnd)" : "not generative: call it with (out, in)"));
}

float *Model::call(float *out, const float *in) const {
  check(FloatType::Float, false);
  return reinterpret_cast<skc_model_f>(m_.fn)(out, in);
}
double *Model::call(double *out, const double *in) const {
  check(FloatType::Double, false);
  return reinterpret_cast<skc_model_d>(m_.fn)(out, in);
}
float *Model::call(float *out, const float *in, const float *rnd) const {
  check(FloatType::Float, true);
  return reinterpret_cast<skc_gen_f>(m_.fn)(out, in, rnd);
}
double *Model::call(double *out, const double *in, const double *rnd) const {
  check(FloatType::Double, true);
  return reinterpret_cast<skc_gen_d>(m_.fn)(out, in, rnd);
}
float *Model::call_batch(float *out, const float *in, std::size_t n) const {
  check(FloatType::Float, false);
  return reinterpret_cast<skc_batch_f>(m_.batch)(out, in, n);
}
double *Model::call_batch(double *out, const double *in, std::size_t n) const {
  check(FloatType::Double, false);
  return reinterpret_cast<skc_batch_d>(m_.batch)(out, in, n);
}
float *Model::call_batch(float *out, const float *in, const float *rnd, std::size_t n) const {
  check(FloatType::Float, true);
  return reinterpret_cast<skc_gen_batch_f>(m_.batch)(out, in, rnd, n);
}
double *Model::call_batch(double *out, const double *in, const double *rnd, std::size_t n) const {
  check(FloatType::Double, true);
  return reinterpret_cast<skc_gen_batch_d>(m_.batch)(out, in, rnd, n);
}

// deprecated (in, out) order
float *Model::operator()(const float *in, float *out) const { return call(out, in); }
double *Model::operator()(const double *in, double *out) const { return call(out, in); }
float *Model::operator()(const float *in, const float *rnd, float *out) const { return call(out, in, rnd); }
double *Model::operator()(const double *in, const double *rnd, double *out) const { return call(out, in, rnd); }
float *Model::batch(const float *in, float *out, std::size_t n) const { return call_batch(out, in, n); }
double *Model::batch(const double *in, double *out, std::size_t n) const { return call_batch(out, in, n); }
float *Model::batch(const float *in, const float *rnd, float *out, std::size_t n) const {
  return call_batch(out, in, rnd, n);
}
double *Model::batch(const double *in, const double *rnd, double *out, std::size_t n) const {
  return call_batch(out, in, rnd, n);
}

template <class T>
static std::vector<T> call_vec(const Model &m, const std::vector<T> &in) {
  if (in.size() != static_cast<std::size_t>(m.n_inputs()))
    throw Error("model '" + m.symbol() + "' expects " + std::to_string(m.n_inputs()) + " inputs, got " +
                std::to_string(in.size()));
  std::vector<T> out(static_cast<std::size_t>(m.n_outputs()));
  m.call(out.data(), in.data());
  return out;
}
std::vector<float> Model::operator()(const std::vector<float> &in) const { return call_vec(*this, in); }
std::vector<double> Model::operator()(const std::vector<double> &in) const { return call_vec(*this, in); }

// ---------------------------------------------------------------------------
// Normal(0,1): mt19937_64 + Marsaglia polar method (documented in the header)
// ---------------------------------------------------------------------------

double Normal::operator()() {
  if (has_spare_) {
    has_spare_ = false;
    return spare_;
  }
  const double scale = 1.0 / 9007199254740992.0;  // 2^-53
  double v1, v2, s;
  do {
    v1 = 2.0 * (static_cast<double>(gen_() >> 11) * scale) - 1.0;
    v2 = 2.0 * (static_cast<double>(gen_() >> 11) * scale) - 1.0;
    s = v1 * v1 + v2 * v2;
  } while (s >= 1.0 || s == 0.0);
  const double f = std::sqrt(-2.0 * std::log(s) / s);
  spare_ = v2 * f;
  has_spare_ = true;
  return v1 * f;
}

// ---------------------------------------------------------------------------
// Pipeline
// ---------------------------------------------------------------------------

namespace {

/// A column reference as written in the config: name[cols]
struct RefSpec {
  std::string name;
  std::string cols;  // empty: all columns
  std::string text;
};

enum class Kind { Input, Model, Noise, Concat };

struct StageSpec {
  Kind kind;
  std::string name;
  int line = 0;
  std::string lib, symbol;  // model
  std::size_t width = 0;    // input / noise
  std::vector<RefSpec> in, rnd;
};

struct Recipe {
  std::vector<StageSpec> stages;
  std::vector<RefSpec> output;
  int output_line = 0;
  std::uint64_t seed = 0;
  std::string base_dir = ".";
};

struct Col {
  int value;
  int col;
};

struct Stage {
  Kind kind;
  std::string name;
  int value = -1;  // index of the value this stage writes
  std::vector<Col> in, rnd;
  std::unique_ptr<scikinc::Model> model;
  std::size_t draw = 0;  // noise values drawn by this stage per row
};

std::string where(const StageSpec &s) {
  return "pipeline stage '" + s.name + "' (line " + std::to_string(s.line) + ")";
}

std::string trim(const std::string &s) {
  const auto b = s.find_first_not_of(" \t\r\n");
  if (b == std::string::npos) return "";
  const auto e = s.find_last_not_of(" \t\r\n");
  return s.substr(b, e - b + 1);
}

bool valid_name(const std::string &n) {
  if (n.empty() || !(std::isalpha(static_cast<unsigned char>(n[0])) || n[0] == '_')) return false;
  for (char c : n)
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '_')) return false;
  return true;
}

RefSpec parse_ref(const std::string &tok, const std::string &ctx) {
  RefSpec r;
  r.text = tok;
  const auto b = tok.find('[');
  if (b == std::string::npos) {
    r.name = tok;
  } else {
    if (tok.back() != ']') throw Error(ctx + ": bad column reference '" + tok + "' (expected name[cols])");
    r.name = tok.substr(0, b);
    r.cols = tok.substr(b + 1, tok.size() - b - 2);
  }
  if (!valid_name(r.name)) throw Error(ctx + ": bad value name in '" + tok + "'");
  return r;
}

long parse_int(const std::string &s, const std::string &ctx, const std::string &what) {
  if (s.empty()) throw Error(ctx + ": missing " + what);
  char *end = nullptr;
  errno = 0;
  long v = std::strtol(s.c_str(), &end, 10);
  if (*end || errno) throw Error(ctx + ": " + what + " '" + s + "' is not an integer");
  return v;
}

std::uint64_t parse_seed(const std::string &s, const std::string &ctx) {
  char *end = nullptr;
  errno = 0;
  unsigned long long v = std::strtoull(s.c_str(), &end, 0);
  if (s.empty() || *end || errno || s[0] == '-') throw Error(ctx + ": seed '" + s + "' is not an unsigned integer");
  return static_cast<std::uint64_t>(v);
}

/// Columns of a value of width w selected by spec "a:b,c,..." (python slices, no step)
std::vector<int> select_columns(const std::string &cols, long w, const std::string &ctx, const std::string &text) {
  std::vector<int> out;
  if (cols.empty()) {
    for (long i = 0; i < w; i++) out.push_back(static_cast<int>(i));
    return out;
  }
  std::stringstream ss(cols);
  std::string item;
  while (std::getline(ss, item, ',')) {
    item = trim(item);
    auto fix = [&](long i) { return i < 0 ? i + w : i; };
    const auto c = item.find(':');
    if (c == std::string::npos) {
      long i = fix(parse_int(item, ctx, "column index"));
      if (i < 0 || i >= w)
        throw Error(ctx + ": column " + item + " out of range in '" + text + "' (width " + std::to_string(w) + ")");
      out.push_back(static_cast<int>(i));
    } else {
      std::string a = trim(item.substr(0, c)), b = trim(item.substr(c + 1));
      long lo = a.empty() ? 0 : fix(parse_int(a, ctx, "slice start"));
      long hi = b.empty() ? w : fix(parse_int(b, ctx, "slice end"));
      if (lo < 0 || hi > w || lo > hi)
        throw Error(ctx + ": slice " + item + " out of range in '" + text + "' (width " + std::to_string(w) + ")");
      for (long i = lo; i < hi; i++) out.push_back(static_cast<int>(i));
    }
  }
  if (out.empty()) throw Error(ctx + ": '" + text + "' selects no column");
  return out;
}

Recipe parse_config(const std::string &text) {
  Recipe r;
  std::istringstream in(text);
  std::string raw;
  int lineno = 0;
  bool have_output = false;
  while (std::getline(in, raw)) {
    lineno++;
    const auto hash = raw.find('#');
    std::string line = trim(hash == std::string::npos ? raw : raw.substr(0, hash));
    if (line.empty()) continue;
    std::istringstream ls(line);
    std::vector<std::string> tok;
    for (std::string t; ls >> t;) tok.push_back(t);
    const std::string &kw = tok[0];
    const std::string lctx = "pipeline config line " + std::to_string(lineno);
    if (kw == "seed") {
      if (tok.size() != 2) throw Error(lctx + ": expected 'seed N'");
      r.seed = parse_seed(tok[1], lctx);
      continue;
    }
    if (kw == "output") {
      if (have_output) throw Error(lctx + ": 'output' given twice");
      if (tok.size() < 2) throw Error(lctx + ": expected 'output REF...'");
      for (std::size_t i = 1; i < tok.size(); i++) r.output.push_back(parse_ref(tok[i], lctx));
      r.output_line = lineno;
      have_output = true;
      continue;
    }
    if (have_output) throw Error(lctx + ": stages must come before 'output'");
    if (tok.size() < 2) throw Error(lctx + ": '" + kw + "' needs a stage name");
    StageSpec s;
    s.name = tok[1];
    s.line = lineno;
    const std::string ctx = where(s);
    if (!valid_name(s.name)) throw Error(lctx + ": invalid stage name '" + s.name + "' (letters, digits, _)");
    if (kw == "input") {
      if (tok.size() != 3) throw Error(ctx + ": expected 'input NAME WIDTH'");
      if (!r.stages.empty()) throw Error(ctx + ": 'input' must be the first stage");
      s.kind = Kind::Input;
      long w = parse_int(tok[2], ctx, "width");
      if (w <= 0) throw Error(ctx + ": width must be positive");
      s.width = static_cast<std::size_t>(w);
    } else if (kw == "noise") {
      if (tok.size() != 3) throw Error(ctx + ": expected 'noise NAME WIDTH'");
      s.kind = Kind::Noise;
      long w = parse_int(tok[2], ctx, "width");
      if (w <= 0) throw Error(ctx + ": width must be positive");
      s.width = static_cast<std::size_t>(w);
    } else if (kw == "model") {
      if (tok.size() < 4) throw Error(ctx + ": expected 'model NAME LIB.so SYMBOL [REF...] [rnd=REF...]'");
      s.kind = Kind::Model;
      s.lib = tok[2];
      s.symbol = tok[3];
      for (std::size_t i = 4; i < tok.size(); i++) {
        if (tok[i].rfind("rnd=", 0) == 0)
          s.rnd.push_back(parse_ref(tok[i].substr(4), ctx));
        else
          s.in.push_back(parse_ref(tok[i], ctx));
      }
    } else if (kw == "concat") {
      if (tok.size() < 3) throw Error(ctx + ": expected 'concat NAME REF...'");
      s.kind = Kind::Concat;
      for (std::size_t i = 2; i < tok.size(); i++) s.in.push_back(parse_ref(tok[i], ctx));
    } else {
      throw Error(lctx + ": unknown keyword '" + kw + "' (input, model, noise, concat, output, seed)");
    }
    if (s.kind != Kind::Input && r.stages.empty()) throw Error(ctx + ": the config must start with 'input NAME WIDTH'");
    for (const auto &o : r.stages)
      if (o.name == s.name)
        throw Error(ctx + ": name '" + s.name + "' already defined on line " + std::to_string(o.line));
    r.stages.push_back(std::move(s));
  }
  if (r.stages.empty()) throw Error("pipeline config is empty: it must start with 'input NAME WIDTH'");
  return r;
}

std::string join_path(const std::string &dir, const std::string &p) {
  if (p.empty() || p[0] == '/' || dir.empty() || dir == ".") return p;
  return dir + "/" + p;
}

}  // namespace

struct Pipeline::Impl {
  Recipe recipe;
  std::vector<Stage> stages;
  std::vector<std::vector<double>> values;  // one per stage
  std::vector<bool> value_is_float;
  std::vector<Col> output;
  std::size_t n_noise = 0;
  bool float_out = false;
  // per-row state
  Normal normal;
  std::uint64_t seed = 0;
  std::function<void(double *, std::size_t)> source;
  std::vector<double> noise;  // drawn for the last row
  std::vector<float> fin, frnd, fout;
  std::vector<double> din, drnd, dout;
  std::vector<double> row_in, row_out;  // float-row entry point

  int find(const std::string &name) const {
    for (std::size_t i = 0; i < stages.size(); i++)
      if (stages[i].name == name) return static_cast<int>(i);
    return -1;
  }

  std::vector<Col> resolve(const std::vector<RefSpec> &refs, const std::string &ctx) const {
    std::vector<Col> cols;
    for (const auto &r : refs) {
      int v = find(r.name);
      if (v < 0) {
        std::string known;
        for (const auto &s : stages) known += (known.empty() ? "" : ", ") + s.name;
        throw Error(ctx + ": unknown value '" + r.name + "' (defined before it: " + known + ")");
      }
      for (int c : select_columns(r.cols, static_cast<long>(values[v].size()), ctx, r.text)) cols.push_back({v, c});
    }
    return cols;
  }

  std::string refs_text(const std::vector<RefSpec> &refs) const {
    std::string t;
    for (const auto &r : refs) t += (t.empty() ? "" : " ") + r.text;
    return t;
  }

  void build() {
    for (const auto &spec : recipe.stages) {
      const std::string ctx = where(spec);
      Stage st;
      st.kind = spec.kind;
      st.name = spec.name;
      std::size_t width = 0;
      bool is_float = false;
      switch (spec.kind) {
        case Kind::Input:
        case Kind::Noise:
          width = spec.width;
          if (spec.kind == Kind::Noise) st.draw = width;
          break;
        case Kind::Concat:
          st.in = resolve(spec.in, ctx);
          width = st.in.size();
          is_float = true;
          for (const auto &c : st.in) is_float = is_float && value_is_float[c.value];
          break;
        case Kind::Model: {
          const std::string lib = join_path(recipe.base_dir, spec.lib);
          try {
            st.model.reset(new scikinc::Model(lib, spec.symbol));
          } catch (const Error &e) {
            throw Error(ctx + ": " + e.what());
          }
          const auto &m = *st.model;
          if (m.float_type() == FloatType::LongDouble)
            throw Error(ctx + ": model '" + spec.symbol + "' uses long double, which the C++ runtime does not support");
          std::vector<RefSpec> in = spec.in;
          if (in.empty()) in.push_back(RefSpec{stages.back().name, "", stages.back().name});
          st.in = resolve(in, ctx);
          if (st.in.size() != static_cast<std::size_t>(m.n_inputs()))
            throw Error(ctx + ": model " + spec.lib + ":" + spec.symbol + " expects " + std::to_string(m.n_inputs()) +
                        " inputs but receives " + std::to_string(st.in.size()) + " (from '" + refs_text(in) + "')");
          if (!spec.rnd.empty() && !m.generative())
            throw Error(ctx + ": rnd= given but model " + spec.symbol + " is not generative");
          if (m.generative()) {
            if (spec.rnd.empty()) {
              st.draw = static_cast<std::size_t>(m.n_random());
            } else {
              st.rnd = resolve(spec.rnd, ctx);
              if (st.rnd.size() != static_cast<std::size_t>(m.n_random()))
                throw Error(ctx + ": model " + spec.symbol + " expects " + std::to_string(m.n_random()) +
                            " noise values but rnd= gives " + std::to_string(st.rnd.size()) + " (from '" +
                            refs_text(spec.rnd) + "')");
            }
          }
          width = static_cast<std::size_t>(m.n_outputs());
          is_float = m.float_type() == FloatType::Float;
          break;
        }
      }
      st.value = static_cast<int>(stages.size());
      n_noise += st.draw;
      values.emplace_back(width, 0.0);
      value_is_float.push_back(is_float);
      stages.push_back(std::move(st));
    }
    if (recipe.output.empty()) {
      output = resolve({RefSpec{stages.back().name, "", stages.back().name}}, "pipeline output");
    } else {
      output = resolve(recipe.output, "pipeline output (line " + std::to_string(recipe.output_line) + ")");
    }
    float_out = true;
    for (const auto &c : output) float_out = float_out && value_is_float[c.value];
    std::size_t big = 1;
    for (const auto &st : stages) {
      big = std::max(big, st.in.size());
      big = std::max(big, st.rnd.size() + st.draw);
      if (st.model) big = std::max(big, static_cast<std::size_t>(st.model->n_outputs()));
    }
    fin.resize(big);
    frnd.resize(big);
    fout.resize(big);
    din.resize(big);
    drnd.resize(big);
    dout.resize(big);
    noise.assign(n_noise, 0.0);
    row_in.resize(values[0].size());
    row_out.resize(output.size());
    seed = recipe.seed;
    normal.reseed(seed);
  }

  void draw(double *dst, std::size_t k) {
    if (source)
      source(dst, k);
    else
      for (std::size_t i = 0; i < k; i++) dst[i] = normal();
  }

  template <class T>
  void gather(const std::vector<Col> &cols, T *dst) const {
    for (std::size_t i = 0; i < cols.size(); i++) dst[i] = static_cast<T>(values[cols[i].value][cols[i].col]);
  }

  void row(double *out, const double *in) {
    std::size_t drawn = 0;
    for (auto &st : stages) {
      auto &v = values[st.value];
      switch (st.kind) {
        case Kind::Input: std::copy(in, in + v.size(), v.begin()); break;
        case Kind::Noise:
          draw(v.data(), v.size());
          std::copy(v.begin(), v.end(), noise.begin() + drawn);
          drawn += v.size();
          break;
        case Kind::Concat: gather(st.in, v.data()); break;
        case Kind::Model: {
          const auto &m = *st.model;
          const double *rnd = nullptr;
          if (st.draw) {
            draw(noise.data() + drawn, st.draw);
            rnd = noise.data() + drawn;
            drawn += st.draw;
          } else if (!st.rnd.empty()) {
            gather(st.rnd, drnd.data());
            rnd = drnd.data();
          }
          if (m.float_type() == FloatType::Float) {
            gather(st.in, fin.data());
            if (rnd) {
              for (int i = 0; i < m.n_random(); i++) frnd[i] = static_cast<float>(rnd[i]);
              m.call(fout.data(), fin.data(), frnd.data());
            } else {
              m.call(fout.data(), fin.data());
            }
            std::copy(fout.begin(), fout.begin() + m.n_outputs(), v.begin());
          } else {
            gather(st.in, din.data());
            if (rnd)
              m.call(v.data(), din.data(), rnd);
            else
              m.call(v.data(), din.data());
          }
          break;
        }
      }
    }
    for (std::size_t i = 0; i < output.size(); i++) out[i] = values[output[i].value][output[i].col];
  }

  std::string describe() const {
    std::ostringstream os;
    for (std::size_t i = 0; i < stages.size(); i++) {
      const auto &st = stages[i];
      const auto &spec = recipe.stages[i];
      os << spec.name << ": ";
      switch (st.kind) {
        case Kind::Input: os << "input"; break;
        case Kind::Noise: os << "noise N(0,1)"; break;
        case Kind::Concat: os << "concat " << refs_text(spec.in); break;
        case Kind::Model:
          os << "model " << spec.lib << ":" << spec.symbol << " (" << to_string(st.model->float_type()) << ") <- "
             << st.in.size() << " columns";
          if (st.model->generative()) os << " + " << st.model->n_random() << " noise";
          break;
      }
      os << " -> " << values[st.value].size() << " columns\n";
    }
    os << "output: " << output.size() << " columns";
    return os.str();
  }
};

Pipeline::Pipeline(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Pipeline::Pipeline(Pipeline &&) noexcept = default;
Pipeline &Pipeline::operator=(Pipeline &&) noexcept = default;
Pipeline::~Pipeline() = default;

static std::unique_ptr<Pipeline::Impl> build_impl(Recipe r) {
  auto impl = std::make_unique<Pipeline::Impl>();
  impl->recipe = std::move(r);
  impl->build();
  return impl;
}

Pipeline Pipeline::from_string(const std::string &text, const std::string &base_dir) {
  Recipe r = parse_config(text);
  r.base_dir = base_dir;
  return Pipeline(build_impl(std::move(r)));
}

Pipeline Pipeline::from_file(const std::string &path) {
  std::ifstream f(path);
  if (!f) throw Error("cannot read pipeline config " + path);
  std::stringstream ss;
  ss << f.rdbuf();
  const auto slash = path.rfind('/');
  const std::string dir = slash == std::string::npos ? "." : path.substr(0, slash == 0 ? 1 : slash);
  try {
    return from_string(ss.str(), dir);
  } catch (const Error &e) {
    throw Error(path + ": " + e.what());
  }
}

Pipeline Pipeline::single(const std::string &path, const std::string &symbol) {
  Model m(path, symbol);  // fails early with the model's own message
  Recipe r;
  StageSpec in;
  in.kind = Kind::Input;
  in.name = "in";
  in.line = 1;
  in.width = static_cast<std::size_t>(m.n_inputs());
  StageSpec st;
  st.kind = Kind::Model;
  st.name = "out";
  st.line = 2;
  st.lib = path;
  st.symbol = symbol;
  r.stages.push_back(in);
  r.stages.push_back(st);
  r.base_dir = "";
  return Pipeline(build_impl(std::move(r)));
}

Pipeline Pipeline::clone(std::uint64_t seed) const {
  Recipe r = impl_->recipe;
  r.seed = seed;
  return Pipeline(build_impl(std::move(r)));
}

std::size_t Pipeline::n_inputs() const { return impl_->values[0].size(); }
std::size_t Pipeline::n_outputs() const { return impl_->output.size(); }
std::size_t Pipeline::n_noise() const { return impl_->n_noise; }
bool Pipeline::float_output() const { return impl_->float_out; }
std::string Pipeline::describe() const { return impl_->describe(); }

void Pipeline::seed(std::uint64_t s) {
  impl_->seed = s;
  impl_->normal.reseed(s);
}
std::uint64_t Pipeline::current_seed() const { return impl_->seed; }

void Pipeline::call(double *out, const double *in) { impl_->row(out, in); }

void Pipeline::call(float *out, const float *in) {
  auto &im = *impl_;
  std::copy(in, in + im.row_in.size(), im.row_in.begin());
  im.row(im.row_out.data(), im.row_in.data());
  for (std::size_t i = 0; i < im.row_out.size(); i++) out[i] = static_cast<float>(im.row_out[i]);
}

void Pipeline::call_batch(double *out, const double *in, std::size_t n) {
  const std::size_t ni = n_inputs(), no = n_outputs();
  for (std::size_t r = 0; r < n; r++) impl_->row(out + r * no, in + r * ni);
}

void Pipeline::call_batch(float *out, const float *in, std::size_t n) {
  const std::size_t ni = n_inputs(), no = n_outputs();
  for (std::size_t r = 0; r < n; r++) call(out + r * no, in + r * ni);
}

// deprecated (in, out) order
void Pipeline::operator()(const double *in, double *out) { call(out, in); }
void Pipeline::operator()(const float *in, float *out) { call(out, in); }
void Pipeline::run(const double *in, double *out, std::size_t n) { call_batch(out, in, n); }

std::vector<double> Pipeline::operator()(const std::vector<double> &in) {
  if (in.size() != n_inputs())
    throw Error("pipeline expects " + std::to_string(n_inputs()) + " inputs, got " + std::to_string(in.size()));
  std::vector<double> out(n_outputs());
  impl_->row(out.data(), in.data());
  return out;
}

const std::vector<double> &Pipeline::last_noise() const { return impl_->noise; }

void Pipeline::set_noise_source(std::function<void(double *, std::size_t)> fn) { impl_->source = std::move(fn); }

}  // namespace scikinc
