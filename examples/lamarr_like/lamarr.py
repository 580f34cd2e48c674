"""A Lamarr-like generative deployment run by the C++ runtime.

conditions (12) -> QuantileTransformer -> concat N(0,1) noise (128)
  -> residual generator (10 x 128 LeakyReLU(0.1) + Dropout blocks joined by Add)
  -> QuantileTransformer^-1 -> 9 reconstructed quantities

The generator has the real model's shape but is not trained (GAN training is
beyond an example): what matters here is that C and Python agree and how fast
the C runs.  We

1. fit the pre/post-processing on a toy sample and build the generator;
2. compile tX, generator, tY (with inverse) and the one-symbol generative
   deployment ``resolution(out, in, rnd)`` into ``lamarr.so``;
3. run ``scikinc-run`` with ``lamarr.cfg`` over N particles (default 10^5),
   dumping the noise it drew, and time it with ``--bench``;
4. recompute the same chain in Python with sklearn + Keras on the same noise,
   print the agreement and save ``lamarr.png`` (C vs Python distributions).

    python examples/lamarr_like/lamarr.py [--particles N] [--out DIR]
"""
from __future__ import annotations

import argparse
import os
import subprocess
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402

import scikinc  # noqa: E402

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
N_COND, N_RND, N_OUT = 12, 128, 9


def toy_data(n: int, seed: int = 0):
    rng = np.random.default_rng(seed)
    p = rng.lognormal(2.5, 0.8, n)                       # momentum-like
    eta = rng.uniform(1.8, 5.5, n)
    cond = np.column_stack([p, eta, rng.normal(size=(n, 8)), rng.integers(-1, 2, n), rng.integers(0, 3, n)])
    y = np.column_stack([rng.normal(size=(n, 4)) * 0.01 / np.sqrt(p)[:, None],
                         rng.exponential(size=(n, 3)), rng.beta(0.5, 5, size=(n, 2))])
    return cond.astype(np.float64), y


def generator(seed: int = 0):
    import keras

    keras.utils.set_random_seed(seed)
    inp = keras.Input(shape=(N_COND + N_RND,))
    x = keras.layers.LeakyReLU(negative_slope=0.1)(keras.layers.Dense(128)(inp))
    for _ in range(9):
        h = keras.layers.Dense(128, kernel_initializer=keras.initializers.HeNormal())(x)
        h = keras.layers.Dropout(0.1)(keras.layers.LeakyReLU(negative_slope=0.1)(h))
        x = keras.layers.Add()([x, h])
    return keras.Model(inp, keras.layers.Dense(N_OUT)(x), name="generator")


def calibrate(gen, conditions, seed: int = 3):
    """Rescale the last Dense so that outputs are ~N(0,1), as a trained
    generator's are in the space of the normal QuantileTransformer."""
    Z = np.hstack([conditions, np.random.default_rng(seed).normal(size=(len(conditions), N_RND))])
    Y = np.asarray(gen.predict(Z.astype(np.float32), batch_size=4096, verbose=0), dtype=np.float64)
    mu, sd = Y.mean(0), Y.std(0)
    last = gen.layers[-1]
    W, b = last.get_weights()
    last.set_weights([(W / sd).astype(np.float32), ((b - mu) / sd).astype(np.float32)])
    return gen


def build(out: Path):
    from sklearn.preprocessing import QuantileTransformer

    cond, y = toy_data(20000)
    tX = QuantileTransformer(n_quantiles=200, output_distribution="normal").fit(cond)
    tY = QuantileTransformer(n_quantiles=200, output_distribution="normal").fit(y)
    gen = calibrate(generator(), tX.transform(cond))
    so = scikinc.compile({
        "tX": tX, "generator": gen, "tY": tY,
        "resolution": scikinc.Generative(gen, preprocessing=tX, postprocessing=tY, n_random=N_RND),
    }, out / "lamarr.so")
    (out / "lamarr.cfg").write_text(f"""# Lamarr pattern (see runtime/README.md for the format)
input  cond  {N_COND}
model  tx    lamarr.so  tX
noise  z     {N_RND}
model  g     lamarr.so  generator  tx z
model  y     lamarr.so  tY_inverse
seed   42
""")
    return so, tX, gen, tY


def runner() -> Path:
    exe = ROOT / "bin" / "scikinc-run"
    if not exe.exists():
        subprocess.run(["make", "-s", "-C", str(ROOT / "runtime")], check=True)
    return exe


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--particles", type=int, default=100000)
    ap.add_argument("--out", default=str(HERE / "out"))
    ap.add_argument("--no-plot", action="store_true")
    args = ap.parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    so, tX, gen, tY = build(out)

    cond, _ = toy_data(args.particles, seed=7)
    cond32 = cond.astype(np.float32)
    np.savetxt(out / "conditions.csv", cond32, delimiter=",", fmt="%.9g")
    exe = runner()
    t0 = time.perf_counter()
    res = subprocess.run([str(exe), "--pipeline", str(out / "lamarr.cfg"), "--dump-noise", str(out / "noise.csv"),
                          str(out / "conditions.csv")], capture_output=True, text=True, check=True)
    wall = time.perf_counter() - t0
    c_out = np.loadtxt(res.stdout.splitlines(), delimiter=",", ndmin=2)
    noise = np.loadtxt(out / "noise.csv", delimiter=",", ndmin=2)
    bench = subprocess.run([str(exe), "--pipeline", str(out / "lamarr.cfg"), "--bench",
                            str(max(args.particles, 10000)), str(out / "conditions.csv")], capture_output=True,
                           text=True, check=True).stdout.strip()
    print(f"scikinc-run: {args.particles} particles through {out / 'lamarr.cfg'} in {wall:.2f} s "
          f"(including CSV I/O)")
    print(f"scikinc-run --bench: {bench}")

    # the same chain in Python, same noise (rounded to float as the models see it)
    X = cond32.astype(np.float64)
    Z = np.hstack([tX.transform(X), noise]).astype(np.float32)
    py_out = tY.inverse_transform(np.asarray(gen.predict(Z, batch_size=4096, verbose=0), dtype=np.float64))
    scale = 1 + np.abs(py_out).max(0)
    err = np.abs(c_out - py_out) / scale
    print("max |C - Python| / (1 + max|y|) per output: " + " ".join(f"{e:.1e}" for e in err.max(0)))

    # the one-symbol generative deployment gives the same numbers
    f = scikinc.load(so, "resolution")
    one = f(X, noise)
    print(f"resolution(out, in, rnd) vs pipeline: max abs difference {np.abs(one - c_out).max():.2e}")

    if not args.no_plot:
        plot(c_out, py_out, out / "lamarr.png")
        print(f"comparison plot: {out / 'lamarr.png'}")
    return {"c": c_out, "py": py_out, "err": err, "generative": one}


def plot(c_out, py_out, path: Path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(3, 3, figsize=(11, 9))
    for j, a in enumerate(axes.flat):
        lo, hi = np.percentile(py_out[:, j], [0.5, 99.5])
        bins = np.linspace(lo, hi, 60)
        a.hist(py_out[:, j], bins=bins, alpha=0.4, label="Python (sklearn + Keras)")
        a.hist(c_out[:, j], bins=bins, histtype="step", color="k", label="C (scikinc-run)")
        a.set_title(f"output {j}")
    axes[0][0].legend(fontsize=7)
    fig.suptitle(f"Lamarr-like generator: {len(c_out)} particles, C vs Python")
    fig.tight_layout()
    fig.savefig(path, dpi=80)
    plt.close(fig)


if __name__ == "__main__":
    main()
