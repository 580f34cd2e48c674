"""The seed's worked example, end to end.

A toy detector sees K0 -> pi+ pi- pi0 decays of 180 GeV kaons.  The pi0 is
reconstructed only above 70 GeV in the lab (an efficiency on the Dalitz
plot), and masses are measured with a momentum-dependent resolution.  We

1. generate a toy sample on the Dalitz plane (m(pi+pi-), m(pi+pi0));
2. train a GradientBoostingClassifier efficiency and a MinMaxScaler + 2-layer
   Keras resolution network;
3. convert all three into ONE C file with ``scikinc.convert({...})``, compile
   it, and call it from the C host of the seed (``host.c``: dlopen / dlsym by
   name) and from the C++ pipeline (``scikinc-run`` with ``dalitz.cfg``);
4. print the C results beside the Python ones.

    python examples/dalitz/dalitz.py [--events N] [--out DIR]
"""
from __future__ import annotations

import argparse
import os
import subprocess
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402

import scikinc  # noqa: E402

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
M_K, M_PI, M_PI0 = 0.497611, 0.139570, 0.134977  # GeV
E_BEAM = 180.0  # GeV


def toy_sample(n: int, seed: int = 1):
    """Uniform phase space on the Dalitz plane (rejection sampling), the
    efficiency label and the resolution of the two masses."""
    rng = np.random.default_rng(seed)
    lo12, hi12 = (2 * M_PI) ** 2, (M_K - M_PI0) ** 2
    lo13, hi13 = (M_PI + M_PI0) ** 2, (M_K - M_PI) ** 2
    out = []
    while sum(len(o) for o in out) < n:
        s12 = rng.uniform(lo12, hi12, 4 * n)
        s13 = rng.uniform(lo13, hi13, 4 * n)
        s23 = M_K**2 + 2 * M_PI**2 + M_PI0**2 - s12 - s13
        # s23 = m(pi-pi0)^2 follows from s12 + s13 + s23 = M^2 + sum m_i^2
        ok = s23 >= lo13
        # energies in the kaon frame; physical region: |cos| of the pi+pi0 angle <= 1
        E3 = (M_K**2 + M_PI0**2 - s12) / (2 * M_K)      # pi0 energy
        E1 = (M_K**2 + M_PI**2 - s23) / (2 * M_K)       # pi+ energy
        p1 = np.sqrt(np.clip(E1**2 - M_PI**2, 0, None))
        p3 = np.sqrt(np.clip(E3**2 - M_PI0**2, 0, None))
        cos13 = (E1 * E3 - (s13 - M_PI**2 - M_PI0**2) / 2) / np.maximum(p1 * p3, 1e-12)
        ok &= np.abs(cos13) <= 1  # inside the Dalitz boundary
        out.append(np.column_stack([np.sqrt(s12), np.sqrt(s13), E3, p3])[ok])
    d = np.concatenate(out)[:n]
    m12, m13, E3, p3 = d.T
    # boost to the lab along a random direction: E_lab = gamma (E* + beta p* cos)
    gamma = E_BEAM / M_K
    beta = np.sqrt(1 - 1 / gamma**2)
    cos = rng.uniform(-1, 1, n)
    E_lab = gamma * (E3 + beta * p3 * cos)
    reconstructed = (E_lab > 70.0).astype(int)
    # resolution: delta p / p grows with p, so the mass resolution with the
    # momenta carried by the pions that form each pair
    sigma = np.column_stack([0.002 + 0.02 * (m12 - 2 * M_PI), 0.002 + 0.03 * (M_K - m13)])
    X = np.column_stack([m12, m13])
    return X, reconstructed, sigma


def train(X, y, sigma, seed: int = 0, epochs: int = 30):
    import keras
    from sklearn.ensemble import GradientBoostingClassifier
    from sklearn.preprocessing import MinMaxScaler

    efficiency = GradientBoostingClassifier(n_estimators=60, max_depth=3, random_state=seed).fit(X, y)
    prepr = MinMaxScaler().fit(X)
    keras.utils.set_random_seed(seed)
    resolution = keras.Sequential([keras.Input(shape=(2,)), keras.layers.Dense(32, activation="relu"),
                                   keras.layers.Dense(2)])
    resolution.compile(optimizer=keras.optimizers.Adam(1e-2), loss="mse")
    resolution.fit(prepr.transform(X), sigma * 100, epochs=epochs, batch_size=256, verbose=0)
    return efficiency, prepr, resolution


def build(efficiency, prepr, resolution, out: Path) -> Path:
    converted_code = scikinc.convert({
        "efficiency_model": efficiency,
        "resolution_prepr": prepr,
        "resolution_model": resolution,
    })
    (out / "converted.C").write_text(converted_code)
    return scikinc.compile(converted_code, out / "converted.so")


def run_host(so: Path, points, out: Path):
    exe = out / "host"
    subprocess.run(["gcc", "-std=c99", "-Wall", "-Wextra", "-Werror", "-o", str(exe), str(HERE / "host.c"),
                    "-ldl"], check=True)
    res = []
    for m12, m13 in points:
        text = subprocess.run([str(exe), str(so), repr(float(m12)), repr(float(m13))], capture_output=True,
                              text=True, check=True).stdout
        vals = dict(line.split(" ", 1) for line in text.splitlines())
        res.append([float(vals["efficiency"]), *map(float, vals["resolution"].split())])
    return np.array(res)


def run_pipeline(so: Path, points, out: Path):
    """The same chain through the C++ runtime: scikinc-run with a config."""
    runner = ROOT / "bin" / "scikinc-run"
    if not runner.exists():
        subprocess.run(["make", "-s", "-C", str(ROOT / "runtime")], check=True)
    cfg = out / "dalitz.cfg"
    cfg.write_text(f"""# efficiency and resolution of the toy detector, one row per (m_pipi, m_pipi0)
input  x    2
model  eff  {so.name}  efficiency_model  x
model  pre  {so.name}  resolution_prepr  x
model  res  {so.name}  resolution_model  pre
output eff res
""")
    csv = "\n".join(f"{float(a)!r},{float(b)!r}" for a, b in points) + "\n"
    text = subprocess.run([str(runner), "--pipeline", str(cfg)], input=csv, capture_output=True, text=True,
                          check=True).stdout
    return np.array([[float(v) for v in line.split(",")] for line in text.strip().splitlines()])


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--events", type=int, default=20000)
    ap.add_argument("--epochs", type=int, default=30)
    ap.add_argument("--out", default=str(HERE / "out"))
    ap.add_argument("--no-pipeline", action="store_true", help="skip the C++ runtime part")
    args = ap.parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)

    X, y, sigma = toy_sample(args.events)
    print(f"toy sample: {len(X)} decays, efficiency {y.mean():.3f}")
    efficiency, prepr, resolution = train(X, y, sigma, epochs=args.epochs)
    so = build(efficiency, prepr, resolution, out)
    print(f"converted 3 models into {out / 'converted.C'} -> {so}")

    points = np.float32(X[:8]).astype(np.float64)
    c_host = run_host(so, points, out)
    py = np.column_stack([efficiency.predict_proba(points)[:, 1],
                          np.asarray(resolution(np.float32(prepr.transform(points))))])
    cols = ["m_pipi", "m_pipi0", "eff (C)", "eff (py)", "sigma1 (C)", "sigma1 (py)", "sigma2 (C)",
            "sigma2 (py)"]
    print("".join(f"{c:>12}" for c in cols))
    for p, c, q in zip(points, c_host, py, strict=False):
        print("".join(f"{v:>12.6f}" for v in (*p, c[0], q[0], c[1], q[1], c[2], q[2])))
    print(f"max |C - Python|: efficiency {np.abs(c_host[:, 0] - py[:, 0]).max():.2e}, "
          f"resolution {np.abs(c_host[:, 1:] - py[:, 1:]).max():.2e}")
    result = {"points": points, "c_host": c_host, "python": py}
    if not args.no_pipeline:
        pipe = run_pipeline(so, points, out)
        print(f"C++ pipeline (scikinc-run): max |pipeline - C host| = {np.abs(pipe - c_host).max():.2e}")
        result["pipeline"] = pipe
    return result


if __name__ == "__main__":
    main()
