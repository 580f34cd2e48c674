"""C/C++ runtime (runtime/): scikinc-run vs scikinc.load(), pipelines vs sklearn,
thread safety, floating-point traps, the C header and the example host."""
import os
import subprocess
from pathlib import Path

import numpy as np
import pytest
from sklearn.ensemble import GradientBoostingClassifier, GradientBoostingRegressor
from sklearn.preprocessing import MinMaxScaler, QuantileTransformer, StandardScaler
from util import same_bits

import scikinc
from scikinc.ir import Activation, Binary, Dense, Softmax

ROOT = Path(__file__).resolve().parent.parent
RUNTIME = ROOT / "runtime"
BUILD = RUNTIME / "build"
DTYPES = {"float": np.float32, "double": np.float64}


# ---------------------------------------------------------------------------
# A residual MLP with a numpy reference and a converter (IR ops only), so the
# runtime tests do not depend on Keras.
# ---------------------------------------------------------------------------


class ResNet:
    """x -> leaky(x W0 + b0) -> blocks of h + relu(h W + b) -> h W1 + b1 -> out_act."""

    def __init__(self, n_in, n_out, width=32, blocks=3, out_act=None, seed=0):
        rng = np.random.default_rng(seed)
        self.W0, self.b0 = rng.normal(size=(n_in, width)) / np.sqrt(n_in), rng.normal(size=width) / 4
        self.blocks = [(rng.normal(size=(width, width)) / (2 * np.sqrt(width)), rng.normal(size=width) / 4)
                       for _ in range(blocks)]
        self.W1, self.b1 = rng.normal(size=(width, n_out)) / np.sqrt(width), rng.normal(size=n_out)
        self.out_act = out_act
        self.n_features_in_ = n_in

    def predict(self, X):
        z = X @ self.W0 + self.b0
        h = np.where(z > 0, z, 0.1 * z)
        for W, b in self.blocks:
            h = h + np.maximum(h @ W + b, 0)
        y = h @ self.W1 + self.b1
        if self.out_act == "sigmoid":
            return 1 / (1 + np.exp(-y))
        if self.out_act == "softmax":
            e = np.exp(y - y.max(1, keepdims=True))
            return e / e.sum(1, keepdims=True)
        return y


@scikinc.register_converter(ResNet)
def _resnet(obj, g, x, ctx):
    h = g.add(Activation("leaky_relu", alpha=0.1), g.add(Dense(obj.W0, obj.b0), x))
    for W, b in obj.blocks:
        h = g.add(Binary("add"), h, g.add(Activation("relu"), g.add(Dense(W, b), h)))
    y = g.add(Dense(obj.W1, obj.b1), h)
    if obj.out_act == "sigmoid":
        y = g.add(Activation("sigmoid"), y)
    elif obj.out_act == "softmax":
        y = g.add(Softmax(), y)
    return y


# ---------------------------------------------------------------------------
# fixtures and helpers
# ---------------------------------------------------------------------------


@pytest.fixture(scope="session")
def runtime():
    """Build the runtime with plain make (as a user would)."""
    res = subprocess.run(["make", "-C", str(RUNTIME), "-j2"], capture_output=True, text=True)
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-3000:]
    assert (ROOT / "bin" / "scikinc-run").exists()
    return {name: BUILD / name for name in ("scikinc-run", "host", "threads", "fpe_host")}


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(42)
    X = rng.normal(size=(3000, 6)) * [1, 10, 100, 0.1, 3, 1] + [0, 5, 50, 1, -2, 0]
    Y = rng.normal(size=(3000, 4)) * [2, 20, 0.5, 1] + [1, -1, 3, 0]
    y_cls = (X[:, 0] + 0.1 * X[:, 1] + rng.normal(size=3000) > 0.5).astype(int) + (X[:, 2] > 60)
    return X, Y, y_cls


def write_csv(path, A):
    np.savetxt(path, np.asarray(A, dtype=np.float64), delimiter=",", fmt="%.17g")
    return path


def read_csv(text_or_path):
    if isinstance(text_or_path, Path):
        text_or_path = text_or_path.read_text()
    return np.array([[float(v) for v in line.split(",")] for line in text_or_path.strip().splitlines()])


def run_tool(runtime, *args, check=True, input=None):
    res = subprocess.run([str(runtime["scikinc-run"]), *map(str, args)], capture_output=True, text=True, input=input)
    if check:
        assert res.returncode == 0, res.stderr
    return res


def test_header_is_c99_and_cxx_clean(tmp_path):
    src = tmp_path / "use.c"
    src.write_text('#include "scikinc.h"\n'
                   'int probe(const char *p) { char e[64]; void *h; skc_model m;\n'
                   '  if (skc_open(p, &h, e, sizeof e)) return 1;\n'
                   '  int rc = skc_lookup(h, "x", &m, e, sizeof e); skc_close(h); return rc; }\n')
    for cmd in (["gcc", "-std=c99", "-pedantic", "-x", "c"], ["g++", "-std=c++17", "-pedantic", "-x", "c++"]):
        res = subprocess.run(cmd + ["-Wall", "-Wextra", "-Werror", "-I", str(RUNTIME), "-c", str(src),
                                    "-o", str(tmp_path / "use.o")], capture_output=True, text=True)
        assert res.returncode == 0, res.stderr


# ---------------------------------------------------------------------------
# scikinc-run == scikinc.load(), bit for bit
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("float_t", ["float", "double"])
def test_run_matches_load_bitwise(runtime, data, tmp_path, float_t):
    X, Y, y_cls = data
    models = {
        "ss": StandardScaler().fit(X),
        "qt": QuantileTransformer(n_quantiles=50).fit(X),
        "net": ResNet(6, 4, out_act="softmax"),
        "gbdt": GradientBoostingClassifier(n_estimators=20, max_depth=3, random_state=0).fit(X[:1000], y_cls[:1000]),
    }
    so = scikinc.compile(models, tmp_path / f"m_{float_t}.so", float_t=float_t)
    rng = np.random.default_rng(1)
    R = np.concatenate([X[:300], X[:100] * 50, rng.normal(size=(100, 6)) * 1e6])
    inp = write_csv(tmp_path / "in.csv", R)
    for sym in ["ss", "ss_inverse", "qt", "qt_inverse", "net", "gbdt"]:
        f = scikinc.load(so, sym)
        Xin, inp_s = R, inp
        if sym.endswith("_inverse"):  # feed the inverse with forward outputs
            Xin = scikinc.load(so, sym[: -len("_inverse")])(R).astype(np.float64)
            inp_s = write_csv(tmp_path / f"{sym}.csv", Xin)
        expect = f(Xin)
        out = run_tool(runtime, "--so", so, "--symbol", sym, inp_s).stdout
        got = read_csv(out).astype(f.dtype)
        assert same_bits(got, expect), sym


def test_generative_symbol_run_matches_load(runtime, data, tmp_path):
    """name(out, in, rnd): scikinc-run replays the noise given with --rnd and
    records the noise it draws with --dump-noise; both agree with f(X, R)."""
    X, Y, _ = data
    gen = scikinc.Generative(ResNet(6 + 5, 4, seed=3), preprocessing=QuantileTransformer(n_quantiles=50).fit(X),
                             postprocessing=StandardScaler().fit(Y), n_random=5)
    so = scikinc.compile({"gen": gen}, tmp_path / "gen.so")
    f = scikinc.load(so, "gen")
    assert f.n_random == 5
    R = np.random.default_rng(7).normal(size=(200, 5))
    inp = write_csv(tmp_path / "in.csv", X[:200])
    got = read_csv(run_tool(runtime, "--so", so, "--symbol", "gen", "--rnd", write_csv(tmp_path / "r.csv", R),
                            inp).stdout)
    assert same_bits(got.astype(np.float32), f(X[:200], R))
    # drawn noise: reproducible from the seed, recorded exactly
    a = run_tool(runtime, "--so", so, "--symbol", "gen", "--seed", 11, "--dump-noise", tmp_path / "n.csv", inp).stdout
    b = run_tool(runtime, "--so", so, "--symbol", "gen", "--seed", 11, inp).stdout
    c = run_tool(runtime, "--so", so, "--symbol", "gen", "--seed", 12, inp).stdout
    assert a == b and a != c
    noise = read_csv(tmp_path / "n.csv")
    assert noise.shape == (200, 5) and abs(noise.mean()) < 0.2 and abs(noise.std() - 1) < 0.1
    assert same_bits(read_csv(a).astype(np.float32), f(X[:200], noise))
    # the reference: tY^-1(gen(concat(tX(X), R))) with sklearn, float tolerance
    ref = gen.postprocessing.inverse_transform(
        gen.generator.predict(np.hstack([gen.preprocessing.transform(X[:200]), noise])))
    np.testing.assert_allclose(read_csv(a), ref, rtol=1e-4, atol=1e-4 * np.abs(ref).max())


def test_documented_noise_algorithm(runtime, tmp_path):
    """The noise stream is mt19937_64 + Marsaglia's polar method as documented:
    an independent Python implementation reproduces it bit for bit."""
    cfg = tmp_path / "noise.cfg"
    cfg.write_text("input x 1\nnoise z 3\noutput z\nseed 2024\n")
    out = read_csv(run_tool(runtime, "--pipeline", cfg, write_csv(tmp_path / "x.csv", np.zeros((7, 1)))).stdout)
    np.testing.assert_array_equal(out.reshape(-1), _polar_normals(2024, 21))


def _mt19937_64(seed):
    mask = (1 << 64) - 1
    mt = [seed & mask]
    for i in range(1, 312):
        mt.append((6364136223846793005 * (mt[-1] ^ (mt[-1] >> 62)) + i) & mask)
    idx = 312
    while True:
        if idx >= 312:
            for i in range(312):
                x = (mt[i] & 0xFFFFFFFF80000000) | (mt[(i + 1) % 312] & 0x7FFFFFFF)
                xa = (x >> 1) ^ (0xB5026F5AA96619E9 if x & 1 else 0)
                mt[i] = mt[(i + 156) % 312] ^ xa
            idx = 0
        y = mt[idx]
        idx += 1
        y ^= (y >> 29) & 0x5555555555555555
        y ^= (y << 17) & 0x71D67FFFEDA60000
        y ^= (y << 37) & 0xFFF7EEE000000000
        y ^= y >> 43
        yield y & mask


def _polar_normals(seed, n):
    import math

    gen = _mt19937_64(seed)
    out = []
    while len(out) < n:
        while True:
            v1 = 2.0 * ((next(gen) >> 11) * 2.0 ** -53) - 1.0
            v2 = 2.0 * ((next(gen) >> 11) * 2.0 ** -53) - 1.0
            s = v1 * v1 + v2 * v2
            if 0.0 < s < 1.0:
                break
        f = math.sqrt(-2.0 * math.log(s) / s)
        out += [v1 * f, v2 * f]
    return np.array(out[:n])


# ---------------------------------------------------------------------------
# Pipelines vs the same chain in Python
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("float_t", ["float", "double"])
def test_pipeline_matches_sklearn_chain(runtime, data, tmp_path, float_t):
    """StandardScaler -> [x', N(0,1) noise] -> residual net -> MinMaxScaler^-1,
    plus column selection, vs sklearn/numpy (tolerance) and vs chaining
    scikinc.load() calls (bit for bit)."""
    X, Y, _ = data
    tX = StandardScaler().fit(X)
    net = ResNet(4 + 3, 4, seed=5)
    tY = MinMaxScaler().fit(Y)
    scikinc.compile({"tX": tX}, tmp_path / "pre.so", float_t=float_t)
    scikinc.compile({"net": net}, tmp_path / "net.so", float_t=float_t)
    scikinc.compile({"tY": tY}, tmp_path / "post.so", float_t=float_t)
    cfg = tmp_path / "lamarr.cfg"
    cfg.write_text("""\
# Lamarr-like chain: conditions -> scaler -> + noise -> net -> scaler^-1
input  cond   6
model  xs     pre.so   tX            # StandardScaler.transform on the conditions
noise  z      3                      # N(0,1), seeded per pipeline instance
model  h      net.so   net  xs[0:3] xs[5] z
model  y      post.so  tY_inverse    # default input: the previous stage (h)
output y cond[0]
seed   1234
""")
    rows = X[:500]
    inp = write_csv(tmp_path / "in.csv", rows)
    res = run_tool(runtime, "--pipeline", cfg, "--dump-noise", tmp_path / "noise.csv", inp)
    got = read_csv(res.stdout)
    Z = read_csv(tmp_path / "noise.csv")
    assert got.shape == (500, 5) and Z.shape == (500, 3)

    # sklearn + numpy reference
    T = DTYPES[float_t]
    xs = tX.transform(rows.astype(T).astype(np.float64))
    ref = tY.inverse_transform(net.predict(np.hstack([xs[:, [0, 1, 2, 5]], Z])))
    tol = 1e-4 if float_t == "float" else 1e-10
    np.testing.assert_allclose(got[:, :4], ref, rtol=tol, atol=tol * np.abs(ref).max())
    np.testing.assert_array_equal(got[:, 4], rows[:, 0])

    # the same chain through the Python harness: identical bits
    lp = scikinc.load(tmp_path / "pre.so", "tX")
    ln = scikinc.load(tmp_path / "net.so", "net")
    lq = scikinc.load(tmp_path / "post.so", "tY_inverse")
    xs_c = lp(rows)
    chain = lq(ln(np.hstack([xs_c[:, [0, 1, 2, 5]], Z.astype(T)])))
    assert same_bits(got[:, :4].astype(T), chain)

    # same seed -> same output; another seed -> other noise
    assert run_tool(runtime, "--pipeline", cfg, inp).stdout == res.stdout
    assert run_tool(runtime, "--pipeline", cfg, "--seed", 99, inp).stdout != res.stdout
    # replaying the recorded noise gives the same output
    assert run_tool(runtime, "--pipeline", cfg, "--rnd", tmp_path / "noise.csv", inp).stdout == res.stdout


def test_pipeline_with_generative_stage(runtime, data, tmp_path):
    """A generative symbol inside a pipeline gets the pipeline's own noise."""
    X, Y, _ = data
    tX = QuantileTransformer(n_quantiles=100).fit(X)
    gen = scikinc.Generative(ResNet(6 + 8, 4, seed=9), preprocessing=tX,
                             postprocessing=StandardScaler().fit(Y), n_random=8)
    scikinc.compile({"gen": gen, "pre": StandardScaler().fit(X)}, tmp_path / "lamarr.so")
    cfg = tmp_path / "gen.cfg"
    cfg.write_text("input x 6\nmodel y lamarr.so gen   # 8 noise values drawn per row\n"
                   "concat out y[1:] x[0:2]\nseed 5\n")
    inp = write_csv(tmp_path / "in.csv", X[:300])
    got = read_csv(run_tool(runtime, "--pipeline", cfg, "--dump-noise", tmp_path / "n.csv", inp).stdout)
    noise = read_csv(tmp_path / "n.csv")
    f = scikinc.load(tmp_path / "lamarr.so", "gen")
    y = f(X[:300], noise)
    assert same_bits(got[:, :3].astype(np.float32), y[:, 1:])
    np.testing.assert_array_equal(got[:, 3:], X[:300, :2])
    ref = gen.postprocessing.inverse_transform(gen.generator.predict(np.hstack([tX.transform(X[:300]), noise])))
    np.testing.assert_allclose(y, ref, rtol=1e-4, atol=1e-4 * np.abs(ref).max())
    # explicit noise stage fed through rnd=
    cfg2 = tmp_path / "gen2.cfg"
    cfg2.write_text("input x 6\nnoise z 8\nmodel y lamarr.so gen x rnd=z\nseed 5\n")
    got2 = read_csv(run_tool(runtime, "--pipeline", cfg2, "--dump-noise", tmp_path / "n2.csv", inp).stdout)
    assert same_bits(got2.astype(np.float32), f(X[:300], read_csv(tmp_path / "n2.csv")))
    assert np.array_equal(read_csv(tmp_path / "n2.csv"), noise)  # same seed, same draw order


def test_pipeline_errors_name_the_stage(runtime, data, tmp_path):
    X, _, _ = data
    scikinc.compile({"tX": StandardScaler().fit(X)}, tmp_path / "pre.so")
    inp = write_csv(tmp_path / "in.csv", X[:3])
    cases = {
        "input x 6\nmodel a pre.so tX\nmodel b pre.so tX a[0:5]\n": ["stage 'b' (line 3)", "expects 6 inputs but receives 5"],
        "input x 6\nmodel a missing.so tX\n": ["stage 'a' (line 2)", "missing.so"],
        "input x 6\nmodel a pre.so nope\n": ["stage 'a' (line 2)", "'nope' not found"],
        "input x 6\nmodel a pre.so tX y\n": ["stage 'a' (line 2)", "unknown value 'y'"],
        "input x 6\nmodel a pre.so tX x[2:9]\n": ["stage 'a' (line 2)", "out of range"],
        "input x 6\nnoise z 2\nmodel a pre.so tX x rnd=z\n": ["stage 'a' (line 3)", "not generative"],
        "input x 6\nfrobnicate a\n": ["line 2", "unknown keyword 'frobnicate'"],
        "model a pre.so tX\n": ["must start with 'input"],
        "input x 6\nmodel a pre.so tX\noutput a[7]\n": ["output (line 3)", "out of range"],
    }
    for k, (text, needles) in enumerate(cases.items()):
        cfg = tmp_path / f"bad{k}.cfg"
        cfg.write_text(text)
        res = run_tool(runtime, "--pipeline", cfg, inp, check=False)
        assert res.returncode == 1, text
        for n in needles:
            assert n in res.stderr, (text, res.stderr)
    bad = write_csv(tmp_path / "bad.csv", X[:3, :5])
    res = run_tool(runtime, "--so", tmp_path / "pre.so", "--symbol", "tX", bad, check=False)
    assert res.returncode == 1 and "5 values, expected 6" in res.stderr


def test_run_reads_stdin_and_benchmarks(runtime, data, tmp_path):
    X, _, _ = data
    so = scikinc.compile({"tX": StandardScaler().fit(X)}, tmp_path / "pre.so")
    text = "\n".join(",".join(repr(v) for v in row) for row in X[:10].tolist()) + "\n"
    got = read_csv(run_tool(runtime, "--so", so, "--symbol", "tX", input=text).stdout)
    assert same_bits(got.astype(np.float32), scikinc.load(so, "tX")(X[:10]))
    res = run_tool(runtime, "--so", so, "--symbol", "tX", "--bench", 20000, input=text)
    assert "rows/s" in res.stdout and "calls/s" in res.stdout


# ---------------------------------------------------------------------------
# Thread safety: 8 threads x 100k calls == serial run, bit for bit
# ---------------------------------------------------------------------------


def _rows_bin(path, A, dtype):
    np.ascontiguousarray(A, dtype=dtype).tofile(path)
    return path


@pytest.mark.parametrize("float_t", ["float", "double"])
def test_threads_bitwise_equal_serial(runtime, data, tmp_path, float_t):
    X, Y, y_cls = data
    models = {
        "gbdt": GradientBoostingClassifier(n_estimators=30, max_depth=3, random_state=0).fit(X[:1500], y_cls[:1500]),
        "resnet": ResNet(6, 4, width=32, blocks=3, out_act="sigmoid"),
        "gen": scikinc.Generative(ResNet(6 + 4, 3, width=16, seed=2), preprocessing=StandardScaler().fit(X),
                                  n_random=4),
    }
    so = scikinc.compile(models, tmp_path / f"t_{float_t}.so", float_t=float_t)
    T = DTYPES[float_t]
    rng = np.random.default_rng(3)
    rows = np.concatenate([X[:1000], X[:24] * 1e3])
    for sym in models:
        A = rows if sym != "gen" else np.hstack([rows, rng.normal(size=(len(rows), 4))])
        rb = _rows_bin(tmp_path / f"{sym}.bin", A, T)
        res = subprocess.run([str(runtime["threads"]), str(so), sym, str(rb), str(len(A)), "8", "100000"],
                             capture_output=True, text=True, timeout=300)
        assert res.returncode == 0, res.stdout + res.stderr
        assert "OK" in res.stdout


# ---------------------------------------------------------------------------
# Floating-point exceptions: no trap on finite inputs including +-1e30
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("float_t", ["float", "double"])
def test_no_fpe_traps(runtime, data, tmp_path, float_t):
    X, Y, y_cls = data
    models = {
        "ss": StandardScaler().fit(X),
        "mm": MinMaxScaler().fit(X),
        "qt": QuantileTransformer(n_quantiles=100).fit(X),
        "qtn": QuantileTransformer(n_quantiles=100, output_distribution="normal").fit(X),
        "net_sigmoid": ResNet(6, 3, out_act="sigmoid"),
        "net_softmax": ResNet(6, 5, out_act="softmax"),
        "gbc": GradientBoostingClassifier(n_estimators=20, max_depth=3, random_state=0).fit(X[:1000], y_cls[:1000]),
        "gbc2": GradientBoostingClassifier(n_estimators=20, max_depth=3, random_state=0).fit(
            X[:1000], (y_cls[:1000] > 0).astype(int)),
        "gbr": GradientBoostingRegressor(n_estimators=20, max_depth=3, random_state=0).fit(X[:1000], Y[:1000, 0]),
        "gen": scikinc.Generative(ResNet(6 + 4, 4, seed=4), preprocessing=QuantileTransformer(n_quantiles=50).fit(X),
                                  postprocessing=StandardScaler().fit(Y), n_random=4),
    }
    so = scikinc.compile(models, tmp_path / f"fpe_{float_t}.so", float_t=float_t)
    syms = list(models) + ["ss_inverse", "mm_inverse", "qt_inverse", "qtn_inverse"]
    res = subprocess.run([str(runtime["fpe_host"]), str(so), *syms], capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stdout + res.stderr
    assert res.stdout.count("OK") == len(syms)


def test_fpe_host_catches_a_planted_trap(runtime, tmp_path):
    src = """#include <stddef.h>
const int bad_n_inputs = 1, bad_n_outputs = 1;
const char bad_float_t[] = "float";
float *bad(float *out, const float *in) { out[0] = 1.0f / (in[0] - in[0]); return out; }
float *bad_batch(float *out, const float *in, size_t n) { for (size_t i = 0; i < n; i++) bad(out + i, in + i); return out; }
"""
    so = scikinc.compile(src, tmp_path / "bad.so")
    res = subprocess.run([str(runtime["fpe_host"]), str(so), "bad"], capture_output=True, text=True, timeout=60)
    assert res.returncode == 3 and "SIGFPE" in res.stderr and "bad" in res.stderr


# ---------------------------------------------------------------------------
# Example host, C++ API details
# ---------------------------------------------------------------------------


def test_example_host(runtime, data, tmp_path):
    X, _, _ = data
    m = StandardScaler().fit(X)
    so = scikinc.compile({"tX": m}, tmp_path / "pre.so")
    res = subprocess.run([str(runtime["host"]), str(so), "tX", "1", "2", "3", "4", "5", "6"],
                         capture_output=True, text=True)
    assert res.returncode == 0, res.stderr
    lines = dict(line.split(":", 1) for line in res.stdout.splitlines() if ":" in line)
    y = np.array(lines["output"].split(), dtype=np.float64)
    np.testing.assert_allclose(y, m.transform([[1, 2, 3, 4, 5, 6]])[0], rtol=1e-6)
    np.testing.assert_allclose(np.array(lines["inverse(output)"].split(), dtype=float), [1, 2, 3, 4, 5, 6], rtol=1e-5)
    res = subprocess.run([str(runtime["host"]), str(so), "nope"], capture_output=True, text=True)
    assert res.returncode == 1 and "'nope' not found" in res.stderr


CPP_API = r"""
#include <cassert>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <thread>
#include <utility>
#include <vector>
#include "scikinc.hpp"

int main(int argc, char **argv) {
  (void)argc;
  const char *so = argv[1];
  scikinc::Model a(so, "tX"), b(so, "tY");                 // one .so, two models
  scikinc::Model inv = a.inverse();
  assert(a.n_inputs() == 6 && a.n_outputs() == 6 && b.n_inputs() == 4 && !a.generative());
  assert(a.has_inverse() && a.float_type() == scikinc::FloatType::Float);
  scikinc::Model moved = std::move(a);                     // move-only
  std::vector<float> x = {1, 2, 3, 4, 5, 6}, y(6), back(6);
  moved.call(y.data(), x.data());                          // out, in: like tX(out, in)
  inv.call(back.data(), y.data());
  for (int i = 0; i < 6; i++) assert(std::fabs(back[i] - x[i]) < 1e-4f);
  bool threw = false;
  try { std::vector<double> xd(6), yd(6); moved.call(yd.data(), xd.data()); } catch (const scikinc::Error &) { threw = true; }
  assert(threw);                                           // float model called with doubles
  threw = false;
  try { scikinc::Model g(so, "gen"); g.call(y.data(), x.data()); }
  catch (const scikinc::Error &e) { threw = std::strstr(e.what(), "generative: call it with (out, in, rnd)") != nullptr; }
  assert(threw);
  scikinc::Model g(so, "gen");
  assert(g.generative() && g.n_random() == 3);
  std::vector<float> r = {0.5f, -1.f, 2.f}, o(static_cast<size_t>(g.n_outputs()));
  g.call(o.data(), x.data(), r.data());
  // pipelines: clone() gives independent instances; same seed -> same stream
  auto p = scikinc::Pipeline::from_string("input x 6\nmodel y s.so gen\n", argv[2]);
  auto q = p.clone(p.current_seed());
  std::vector<double> xd(x.begin(), x.end()), o1(p.n_outputs()), o2(p.n_outputs());
  std::thread t([&] { for (int k = 0; k < 1000; k++) q.call(o2.data(), xd.data()); });
  for (int k = 0; k < 1000; k++) p.call(o1.data(), xd.data());
  t.join();
  assert(o1 == o2);
  p.seed(3); p.call(o1.data(), xd.data()); p.seed(3); p.call(o2.data(), xd.data());
  assert(o1 == o2 && p.last_noise().size() == 3);
  std::vector<float> of(p.n_outputs());                    // float rows: same numbers, rounded
  p.seed(3); p.call(of.data(), x.data());
  for (size_t i = 0; i < of.size(); i++) assert(of[i] == static_cast<float>(o2[i]));
  std::printf("OK\n");
  return 0;
}
"""


def test_cpp_api(runtime, data, tmp_path):
    X, Y, _ = data
    models = {"tX": StandardScaler().fit(X), "tY": MinMaxScaler().fit(Y),
              "gen": scikinc.Generative(ResNet(6 + 3, 2, width=8), n_random=3)}
    so = scikinc.compile(models, tmp_path / "s.so")
    src = tmp_path / "api.cpp"
    src.write_text(CPP_API)
    exe = tmp_path / "api"
    res = subprocess.run(["g++", "-std=c++17", "-Wall", "-Wextra", "-Werror", "-pthread", "-I", str(RUNTIME),
                          str(src), str(BUILD / "libscikinc.a"), "-ldl", "-o", str(exe)], capture_output=True, text=True)
    assert res.returncode == 0, res.stderr
    res = subprocess.run([str(exe), str(so), str(tmp_path)], capture_output=True, text=True)
    assert res.returncode == 0 and res.stdout.strip() == "OK", res.stdout + res.stderr


def _build_arg_order(tmp_path):
    """Build runtime/tests/arg_order.cpp (it calls the deprecated API on purpose);
    return the executable and {source line: deprecated signature} of the warnings."""
    import re

    exe = tmp_path / "arg_order"
    cmd = ["g++", "-std=c++17", "-Wall", "-Wextra", "-Werror", "-I", str(RUNTIME),
           str(RUNTIME / "tests" / "arg_order.cpp"), str(BUILD / "libscikinc.a"), "-ldl", "-o", str(exe)]
    env = {**os.environ, "LC_ALL": "C"}
    # with -Werror the deprecated calls are errors: the warning is real and on by default
    res = subprocess.run(cmd, capture_output=True, text=True, env=env)
    assert res.returncode != 0 and "-Werror=deprecated-declarations" in res.stderr, res.stderr[-3000:]
    res = subprocess.run(cmd[:5] + ["-Wno-error=deprecated-declarations"] + cmd[5:], capture_output=True, text=True,
                         env=env)
    assert res.returncode == 0, res.stderr[-3000:]
    warned = {}
    for m in re.finditer(r"arg_order\.cpp:(\d+):\d+: warning: '(.+?)' is deprecated: (.+?) \[-Wdeprecated-declarations\]",
                         res.stderr):
        assert "use call" in m.group(3) and "(out, in" in m.group(3), m.group(0)
        warned.setdefault(int(m.group(1)), set()).add(m.group(2))
    return exe, warned


@pytest.mark.slow
def test_deprecated_in_out_order_warns_and_matches(runtime, data, tmp_path):
    """Model::call/call_batch and Pipeline::call/call_batch (out first, like
    name(out, in) and name_batch(out, in, n)) and the deprecated (in, out)
    operator()/batch/run give the same bits on 2000 rows (in range, far out of
    range, fitted edges) of real fitted models, equal to scikinc.load() and close
    to sklearn.  Every deprecated call, and only those, warns with
    -Wdeprecated-declarations naming its out-first replacement."""
    from util import rows

    exe, warned = _build_arg_order(tmp_path)
    src = (RUNTIME / "tests" / "arg_order.cpp").read_text().splitlines()
    deprecated_lines = {i + 1 for i, line in enumerate(src) if "// deprecated" in line}
    assert len(deprecated_lines) == 7 and set(warned) == deprecated_lines
    sigs = set().union(*warned.values())
    for T in ("float", "double"):
        for sig in [f"{T}* scikinc::Model::operator()(const {T}*, {T}*) const",
                    f"{T}* scikinc::Model::operator()(const {T}*, const {T}*, {T}*) const",
                    f"{T}* scikinc::Model::batch(const {T}*, {T}*, std::size_t) const",
                    f"{T}* scikinc::Model::batch(const {T}*, const {T}*, {T}*, std::size_t) const",
                    f"void scikinc::Pipeline::operator()(const {T}*, {T}*)"]:
            assert sig in sigs, (sig, sigs)
    assert "void scikinc::Pipeline::run(const double*, double*, std::size_t)" in sigs

    X, Y, y_cls = data
    gbdt = GradientBoostingClassifier(n_estimators=30, max_depth=3, random_state=0).fit(X[:1500], y_cls[:1500])
    ss = StandardScaler().fit(X)
    gen = scikinc.Generative(ResNet(6 + 4, 3, width=16, seed=6), preprocessing=QuantileTransformer(n_quantiles=50).fit(X),
                             postprocessing=StandardScaler().fit(Y[:, :3]), n_random=4)
    R = rows(X, n=2000, seed=5)
    noise_in = np.random.default_rng(8).normal(size=(len(R), 4))
    for float_t in ("float", "double"):
        so = scikinc.compile({"gbdt": gbdt, "ss": ss, "gen": gen}, tmp_path / f"o_{float_t}.so", float_t=float_t)
        T = DTYPES[float_t]
        for sym in ("gbdt", "ss", "ss_inverse", "gen"):
            f = scikinc.load(so, sym)
            Xin = scikinc.load(so, "ss")(R).astype(np.float64) if sym == "ss_inverse" else R
            A = np.hstack([Xin, noise_in]) if sym == "gen" else Xin
            rb = tmp_path / f"{sym}_{float_t}.bin"
            np.ascontiguousarray(A, dtype=T).tofile(rb)
            prefix = tmp_path / f"{sym}_{float_t}"
            res = subprocess.run([str(exe), str(so), sym, str(rb), str(len(A)), str(prefix)], capture_output=True,
                                 text=True, timeout=120)
            assert res.returncode == 0, res.stdout + res.stderr
            no, n = f.n_outputs, len(A)
            blocks = np.fromfile(f"{prefix}.model.bin", dtype=T).reshape(4, n, no)
            pipe = np.fromfile(f"{prefix}.pipe.bin", dtype=np.float64).reshape(4, n, no)
            pipef = np.fromfile(f"{prefix}.pipef.bin", dtype=np.float32).reshape(2, n, no)
            expect = f(Xin, noise_in) if sym == "gen" else f(Xin)
            # new order == deprecated order == Python harness, single and batch
            for k, what in enumerate(["call", "call_batch", "operator()", "batch"]):
                assert same_bits(blocks[k], expect), (sym, float_t, what)
            # the Python harness takes arrays (X[, rnd]) and an optional out= keyword
            buf = np.empty_like(expect)
            assert (f(Xin, noise_in, out=buf) if sym == "gen" else f(Xin, out=buf)) is buf
            assert same_bits(buf, expect)
            drawn = np.fromfile(f"{prefix}.noise.bin", dtype=np.float64)
            if sym == "gen":
                drawn = drawn.reshape(n, 4)
                assert abs(drawn.mean()) < 0.1 and abs(drawn.std() - 1) < 0.1
                expect_p = f(Xin, drawn).astype(np.float64)
            else:
                assert drawn.size == 0
                expect_p = expect.astype(np.float64)
            for k, what in enumerate(["call", "call_batch", "operator()", "run"]):
                assert same_bits(pipe[k], expect_p), (sym, float_t, "Pipeline", what)
            # float buffers: inputs rounded to float first (a no-op for float models), outputs to float
            X32 = Xin.astype(np.float32).astype(np.float64)
            expect_pf = (f(X32, drawn) if sym == "gen" else f(X32)).astype(np.float32)
            for k, what in enumerate(["call", "operator()"]):
                assert same_bits(pipef[k], expect_pf), (sym, float_t, "Pipeline float", what)
        # the deprecated order against the real library (inputs rounded to the C type)
        Xt = R.astype(T).astype(np.float64)
        got = np.fromfile(tmp_path / f"gbdt_{float_t}.model.bin", dtype=T).reshape(4, len(R), -1)
        assert gbdt.n_classes_ == 3 and got.shape[2] == 3
        np.testing.assert_allclose(got[2], gbdt.predict_proba(Xt), rtol=0, atol=1e-6)
        got = np.fromfile(tmp_path / f"ss_{float_t}.model.bin", dtype=T).reshape(4, len(R), -1)
        ref = ss.transform(Xt)
        tol = 1e-6 if float_t == "float" else 1e-13
        np.testing.assert_allclose(got[2], ref, rtol=tol, atol=tol * np.abs(ref).max())


def test_cmake_build(runtime, tmp_path):
    if subprocess.run(["cmake", "--version"], capture_output=True).returncode != 0:
        pytest.skip("cmake not installed")
    b = tmp_path / "cmake-build"
    res = subprocess.run(["cmake", "-S", str(RUNTIME), "-B", str(b), "-DCMAKE_BUILD_TYPE=Release"],
                         capture_output=True, text=True)
    assert res.returncode == 0, res.stdout + res.stderr
    res = subprocess.run(["cmake", "--build", str(b), "-j2"], capture_output=True, text=True)
    assert res.returncode == 0, res.stdout + res.stderr
    assert (b / "scikinc-run").exists()
