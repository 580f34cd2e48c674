"""Generative deployment: name(out, in, rnd) = post^-1(gen(concat(pre(in), rnd)))."""
import os
import pickle
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from sklearn.preprocessing import MinMaxScaler, StandardScaler
from util import same_bits

import scikinc
from scikinc.ir import Activation, Dense

ROOT = Path(__file__).resolve().parent.parent


class TinyGenerator:
    """A real (numpy) conditional generator: tanh(z W1 + b1) W2 + b2."""

    def __init__(self, n_in, n_out, hidden=16, seed=0):
        rng = np.random.default_rng(seed)
        self.W1, self.b1 = rng.normal(size=(n_in, hidden)) / 3, rng.normal(size=hidden)
        self.W2, self.b2 = rng.normal(size=(hidden, n_out)), rng.normal(size=n_out)
        self.n_features_in_ = n_in

    def predict(self, Z):
        return np.tanh(Z @ self.W1 + self.b1) @ self.W2 + self.b2


@scikinc.register_converter(TinyGenerator)
def _tiny(obj, g, x, ctx):
    return g.add(Dense(obj.W2, obj.b2), g.add(Activation("tanh"), g.add(Dense(obj.W1, obj.b1), x)))


@pytest.fixture(scope="module")
def parts():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(2000, 4)) * [1, 10, 100, 0.1] + [0, 5, 50, 1]
    Y = rng.normal(size=(2000, 3)) * [2, 20, 0.5] + [1, -1, 3]
    return X, StandardScaler().fit(X), TinyGenerator(4 + 6, 3), MinMaxScaler().fit(Y)


def reference(X, R, pre, gen, post, position="after"):
    Z = np.hstack([pre.transform(X), R] if position == "after" else [R, pre.transform(X)])
    return post.inverse_transform(gen.predict(Z))


@pytest.mark.parametrize("float_t,rtol", [("float", 1e-4), ("double", 1e-12)])
def test_generative_matches_python(parts, tmp_path, float_t, rtol):
    X, pre, gen, post = parts
    models = {
        "reso": scikinc.Generative(gen, preprocessing=pre, postprocessing=post, n_random=6),
        "reso_before": scikinc.Generative(gen, preprocessing=pre, postprocessing=post, n_random=6,
                                          noise_position="before"),
        "bare": scikinc.Generative(gen, n_random=6),
    }
    src = scikinc.convert(models, float_t=float_t)
    assert src == scikinc.convert(models, float_t=float_t)
    from util import compile_strict

    compile_strict(src, tmp_path)
    so = scikinc.compile(src, tmp_path / "gen.so")
    f = scikinc.load(so, "reso")
    assert (f.n_inputs, f.n_random, f.n_outputs) == (4, 6, 3)
    R = np.random.default_rng(1).normal(size=(len(X), 6))
    Xt, Rt = (np.asarray(a, dtype=f.dtype).astype(float) for a in (X, R))
    got = f(Xt, Rt)
    np.testing.assert_allclose(got, reference(Xt, Rt, pre, gen, post), rtol=rtol, atol=rtol * 20)
    assert same_bits(got[:50], np.stack([f(x, r) for x, r in zip(Xt[:50], Rt[:50], strict=False)]))  # batch == single
    g2 = scikinc.load(so, "reso_before")
    np.testing.assert_allclose(g2(Xt, Rt), reference(Xt, Rt, pre, gen, post, "before"), rtol=rtol,
                               atol=rtol * 20)
    bare = scikinc.load(so, "bare")
    assert bare.n_inputs == 4
    np.testing.assert_allclose(bare(Xt, Rt), gen.predict(np.hstack([Xt, Rt])), rtol=rtol, atol=rtol * 20)
    with pytest.raises(ValueError, match="generative"):
        f(Xt)
    with pytest.raises(ValueError, match="same number of rows"):
        f(Xt, Rt[:10])


def test_c_host_generative_signature(parts, tmp_path):
    X, pre, gen, post = parts
    so = scikinc.compile({"reso": scikinc.Generative(gen, pre, post, n_random=6)}, tmp_path / "g.so")
    host = tmp_path / "host.c"
    host.write_text(r'''
#include <dlfcn.h>
#include <stdio.h>
typedef float *(*genfunc)(float *, const float *, const float *);
int main(int argc, char **argv) {
  (void)argc;
  void *h = dlopen(argv[1], RTLD_NOW);
  if (!h) return 1;
  genfunc f = (genfunc)dlsym(h, "reso");
  const int *nr = (const int *)dlsym(h, "reso_n_random");
  if (!f || !nr || *nr != 6) return 2;
  float in[4] = {0.5f, 3.f, 40.f, 1.1f}, rnd[6] = {-1.f, 0.f, 1.f, 2.f, -2.f, 0.5f}, out[3];
  float *r = f(out, in, rnd);
  printf("%.9g %.9g %.9g\n", r[0], r[1], r[2]);
  return r == out ? 0 : 3;
}
''')
    exe = tmp_path / "host"
    for cc in (["gcc", "-std=c99"], ["g++", "-x", "c++"]):
        subprocess.run([*cc, "-Wall", "-Wextra", "-Werror", "-o", exe, host, "-ldl"], check=True)
        out = subprocess.run([exe, so], capture_output=True, text=True, check=True).stdout
        got = np.array(out.split(), dtype=np.float32)
        x = np.array([[0.5, 3, 40, 1.1]], np.float32).astype(float)
        r = np.array([[-1, 0, 1, 2, -2, 0.5]], float)
        np.testing.assert_allclose(got, reference(x, r, pre, gen, post)[0], rtol=1e-4, atol=1e-4)


def test_errors(parts):
    X, pre, gen, post = parts
    with pytest.raises(scikinc.ConversionError, match=r"generator takes 10 inputs but concat\(pre\(in\), rnd\) has 9"):
        scikinc.convert({"g": scikinc.Generative(gen, pre, post, n_random=5)})
    for bad in (0, -3, 2.5, True):
        with pytest.raises(scikinc.ConversionError, match="n_random must be a positive integer"):
            scikinc.Generative(gen, pre, post, n_random=bad)

    class NoInverse:
        def transform(self, X):
            return X

    with pytest.raises(scikinc.ConversionError, match="has no inverse_transform"):
        scikinc.Generative(gen, pre, NoInverse(), n_random=6)
    with pytest.raises(scikinc.ConversionError, match="noise_position must be one of"):
        scikinc.Generative(gen, pre, post, n_random=6, noise_position="middle")


def _cli(*args):
    env = dict(os.environ, PYTHONPATH=f"{ROOT / 'src'}:{ROOT / 'tests'}")
    return subprocess.run([sys.executable, "-c", "import test_generative, scikinc.cli as c; "
                           "raise SystemExit(c.main())", *map(str, args)], capture_output=True, text=True,
                          env=env)


def test_cli_generative(parts, tmp_path):
    X, pre, gen, post = parts
    for name, obj in (("tX", pre), ("gen", gen), ("tY", post)):
        (tmp_path / f"{name}.pkl").write_bytes(pickle.dumps(obj))
    so = tmp_path / "cli.so"
    r = _cli("compile", f"resolution={tmp_path / 'gen.pkl'}", "--preprocessing", tmp_path / "tX.pkl",
             "--postprocessing", tmp_path / "tY.pkl", "--n-random", 6, "-o", so)
    assert r.returncode == 0, r.stderr
    f = scikinc.load(so, "resolution")
    R = np.random.default_rng(2).normal(size=(1000, 6))
    Xt = X[:1000].astype(np.float32).astype(float)
    np.testing.assert_allclose(f(Xt, R), reference(Xt, R.astype(np.float32), pre, gen, post), rtol=1e-4,
                               atol=2e-3)
    r = _cli(tmp_path / "gen.pkl", "--n-random", 5, "--preprocessing", tmp_path / "tX.pkl")
    assert r.returncode == 1 and "generator takes 10 inputs" in r.stderr
    r = _cli(tmp_path / "gen.pkl", tmp_path / "tX.pkl", "--n-random", 6)
    assert r.returncode == 1 and "exactly one generator" in r.stderr
    r = _cli(tmp_path / "gen.pkl", "--preprocessing", tmp_path / "tX.pkl")
    assert r.returncode == 1 and "need --n-random" in r.stderr
