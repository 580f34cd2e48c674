"""End-to-end in one screen: fit -> convert -> compile -> call from C and Python.

    python examples/quickstart/demo.py
"""
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
from sklearn.preprocessing import MinMaxScaler, StandardScaler

import scikinc

HERE = Path(__file__).resolve().parent


def main(workdir: Path) -> None:
    rng = np.random.default_rng(42)
    X = rng.normal(size=(1000, 3)) * [1.0, 20.0, 0.1] + [5.0, -3.0, 0.0]
    models = {"std_scaler": StandardScaler().fit(X), "minmax": MinMaxScaler().fit(X)}

    src = scikinc.convert(models)
    (workdir / "models.c").write_text(src)
    print(f"converted {list(models)} -> {len(src.splitlines())} lines of C")
    so = scikinc.compile(src, workdir / "models.so")
    print(f"compiled -> {so}")

    host = workdir / "host"
    subprocess.run(["gcc", "-std=c99", "-Wall", "-Wextra", "-Werror", "-o", str(host),
                    str(HERE / "host.c"), "-ldl"], check=True)
    row = X[0].astype(np.float32)
    for name, model in models.items():
        out = subprocess.run([str(host), str(so), name, *map(repr, row.tolist())], capture_output=True,
                             text=True, check=True).stdout
        print(out, end="")
        print(f"{name} (sklearn):", " ".join(f"{v:.9g}" for v in model.transform(row[None].astype(float))[0]))
        f = scikinc.load(so, name)
        err = np.max(np.abs(f(X) - model.transform(X)))
        print(f"{name}: max |C - sklearn| over {len(X)} rows = {err:.2e}\n")


if __name__ == "__main__":
    if len(sys.argv) > 1:
        d = Path(sys.argv[1])
        d.mkdir(parents=True, exist_ok=True)
        main(d)
    else:
        with tempfile.TemporaryDirectory() as d:
            main(Path(d))
