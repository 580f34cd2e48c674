"""scikinc.validate / scikinC validate: errors per output, worst rows, exit code."""
import os
import pickle
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from sklearn.preprocessing import MinMaxScaler, StandardScaler

import scikinc

ROOT = Path(__file__).resolve().parent.parent


def run(*args):
    env = dict(os.environ, PYTHONPATH=str(ROOT / "src"))
    return subprocess.run([sys.executable, "-m", "scikinc", "validate", *map(str, args)], capture_output=True,
                          text=True, env=env)


@pytest.fixture(scope="module")
def case(tmp_path_factory):
    d = tmp_path_factory.mktemp("val")
    rng = np.random.default_rng(0)
    X = rng.normal(size=(1500, 3)) * [1, 100, 1e-3] + [0, 50, 1]
    m = StandardScaler().fit(X)
    (d / "scaler.pkl").write_bytes(pickle.dumps(m))
    np.save(d / "X.npy", X)
    np.savetxt(d / "X.csv", X, delimiter=",", header="a,b,c", comments="")
    return d, X, m


def test_validate_api_pass_and_report(case, tmp_path):
    d, X, m = case
    rep = scikinc.validate({"s": m}, X, float_t="double", atol=1e-12, rtol=1e-12, plot=tmp_path / "p.png")
    assert rep.ok and rep.n_rows == 1500 and rep.max_abs.shape == (3,)
    assert rep.max_abs.max() < 1e-12
    assert (tmp_path / "p.png").stat().st_size > 1000
    assert "PASS" in str(rep) and "worst rows" in str(rep)


def test_validate_detects_a_wrong_library(case, tmp_path):
    """A .so built from a different model under the same symbol must FAIL."""
    d, X, m = case
    wrong = StandardScaler().fit(X * 1.01)
    so = scikinc.compile({"scaler": wrong}, tmp_path / "wrong.so")
    rep = scikinc.validate({"scaler": m}, X, so=so)
    assert not rep.ok and rep.n_bad > 0 and "FAIL" in str(rep)
    r = run(d / "scaler.pkl", "--data", d / "X.npy", "--so", so)
    assert r.returncode == 1 and "FAIL" in r.stdout


@pytest.mark.parametrize("data", ["X.npy", "X.csv"])
def test_cli_validate(case, data, tmp_path):
    d, X, m = case
    r = run(f"prep={d / 'scaler.pkl'}", "--data", d / data, "--plot", tmp_path / "v.png")
    assert r.returncode == 0, r.stderr + r.stdout
    assert "prep: 1500 rows, 3 outputs" in r.stdout and "PASS" in r.stdout
    assert (tmp_path / "v.png").exists()


def test_cli_validate_errors(case, tmp_path):
    d, X, m = case
    r = run(d / "scaler.pkl", "--data", d / "missing.npy")
    assert r.returncode == 1 and "no such data file" in r.stderr
    (tmp_path / "X.parquet").write_text("x")
    r = run(d / "scaler.pkl", "--data", tmp_path / "X.parquet")
    assert r.returncode == 1 and "data must be .npy or .csv" in r.stderr
    np.save(tmp_path / "narrow.npy", X[:, :2])
    r = run(d / "scaler.pkl", "--data", tmp_path / "narrow.npy")
    assert r.returncode == 1 and "the data has 2 columns but the model takes 3" in r.stderr
    r = run(d / "scaler.pkl")
    assert r.returncode == 2 and "--data" in r.stderr


def test_validate_generative_and_minmax(tmp_path):
    from test_generative import TinyGenerator

    rng = np.random.default_rng(3)
    X, Y = rng.normal(size=(1000, 4)), rng.normal(size=(1000, 3)) * 5
    gen = scikinc.Generative(TinyGenerator(10, 3), StandardScaler().fit(X), MinMaxScaler().fit(Y), n_random=6)
    rep = scikinc.validate({"g": gen}, X, atol=1e-4, rtol=1e-4)
    assert rep.ok, str(rep)
